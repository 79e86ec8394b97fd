"""pytest: skip the importers' doctests where torch or onnx is missing, except under CI.

CI installs both (``costgraph[torch,onnx]``), so there a missing one fails
the collection instead of hiding the examples.
"""

import importlib.util
import os

collect_ignore = []
if os.environ.get("CI") != "true":
    if importlib.util.find_spec("torch") is None:
        collect_ignore.append("aten")
    if importlib.util.find_spec("onnx") is None:
        collect_ignore.append("onnx.py")
