"""Element sizes of the dtypes costgraph counts bytes for.

>>> dtype_bytes("fp16"), dtype_bytes("float32")
(2, 4)
"""

from __future__ import annotations

from .errors import CostGraphError

__all__ = ["DTYPE_BYTES", "dtype_bytes"]

DTYPE_BYTES = {
    "fp64": 8, "float64": 8, "double": 8,
    "fp32": 4, "float32": 4, "float": 4,
    "tf32": 4,
    "fp16": 2, "float16": 2, "half": 2,
    "bf16": 2, "bfloat16": 2,
    "fp8": 1, "float8": 1,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1,
}  # fmt: skip


def dtype_bytes(dtype: str | int) -> int:
    """Bytes per element of `dtype` (a name such as "fp32", or a positive int of bytes).

    Raises
    ------
    CostGraphError
        If the name is unknown.
    """
    if isinstance(dtype, int) and not isinstance(dtype, bool) and dtype > 0:
        return dtype
    try:
        return DTYPE_BYTES[str(dtype).lower()]
    except KeyError:
        raise CostGraphError(
            f"unknown dtype {dtype!r}; known: {', '.join(sorted(DTYPE_BYTES))}", value=dtype
        ) from None
