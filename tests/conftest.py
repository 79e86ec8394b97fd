"""Shared test configuration.

Hypothesis runs the "ci" profile under CI (CI=true) and "dev" otherwise; both
without a deadline, since sympy's first-call caches make timings noisy.
Tests that need PyTorch call `require_torch()` from `tests/support.py`: it
skips when torch is missing on a developer's machine, and fails under CI.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev"))
