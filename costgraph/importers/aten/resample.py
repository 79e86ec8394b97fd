"""Converters: interpolation (``upsample_nearest2d``, ``upsample_bilinear2d``, ... from ``F.interpolate``)."""

from __future__ import annotations

from ...kinds.resample import Upsample
from .table import aten_converter

#: ATen op -> (costgraph mode, whether it takes align_corners)
_MODES = {
    "upsample_nearest1d": ("nearest", False), "upsample_nearest2d": ("nearest", False), "upsample_nearest3d": ("nearest", False),
    "_upsample_nearest_exact1d": ("nearest-exact", False), "_upsample_nearest_exact2d": ("nearest-exact", False),
    "_upsample_nearest_exact3d": ("nearest-exact", False), "upsample_linear1d": ("linear", True),
    "upsample_bilinear2d": ("bilinear", True), "upsample_bicubic2d": ("bicubic", True), "upsample_trilinear3d": ("trilinear", True),
}  # fmt: skip


@aten_converter(*(f"aten::{name}" for name in _MODES))
def upsample(call):
    """``upsample_*(input, output_size, [align_corners,] scale_factors)`` (``.vec``) or per-axis scales (``.default``)."""
    name, overload = call.op.partition("::")[2].split(".")
    mode, aligned = _MODES[name]
    x = call.args[0]
    size = call.arg(1, "output_size")
    align = bool(call.arg(2, "align_corners")) if aligned else None
    scales = call.arg(3 if aligned else 2, "scale_factors") if overload == "vec" else None
    if scales is not None and size is None:
        return call.add(Upsample(scale_factor=tuple(float(s) for s in scales), mode=mode, align_corners=align), x)
    # a size, or .default's per-axis scales beside the size: the size export wrote
    return call.add(Upsample(size=tuple(call.out[2:]), mode=mode, align_corners=align), x)
