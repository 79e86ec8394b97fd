"""Operators whose output size or cost depends on the data: refused with a clear reason, never counted as zero."""

from __future__ import annotations

from .table import aten_converter

_DATA_DEPENDENT = ("nonzero", "nonzero_static", "masked_select", "unique", "_unique", "_unique2", "unique_consecutive",
                   "unique_dim", "item", "_local_scalar_dense", "argwhere", "bincount",
                   "repeat_interleave.Tensor", "repeat_interleave.self_Tensor")  # fmt: skip


@aten_converter(*(f"aten::{name}" for name in _DATA_DEPENDENT), "torchvision::nms", "torchvision::roi_align", "torchvision::roi_pool")
def data_dependent(call):
    """Refuse the call: how many elements it makes, or how long it runs, depends on the values."""
    name = call.op.partition("::")[2].split(".")[0]
    call.unsupported(f"{name} makes as many elements as the data says: its cost depends on the data", data_dependent=True)
