"""Helpers shared by the tests (not a test module)."""

from __future__ import annotations

import importlib
import os

import pytest


def require(module_name: str):
    """Import an optional dependency for a differential test.

    Locally a missing module skips the test; under CI (``CI=true``) it fails,
    because CI installs every optional dependency the tests use and a skipped
    differential test would hide a broken install.  It may be called at a
    test module's top level (the whole module is then skipped, or fails to
    collect under CI) as well as inside a test.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{module_name} is required under CI=true but cannot be imported")
        pytest.skip(f"{module_name} is not installed", allow_module_level=True)


def require_torch():
    """`require("torch")`, with deterministic single-threaded CPU settings."""
    torch = require("torch")
    torch.manual_seed(0)
    return torch
