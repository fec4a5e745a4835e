"""Intel Caffe (intel/caffe): its YOLOv2 layers, Reorg and RegionLoss.

Only these two rows: Intel Caffe's other changes (MKL engines, a BatchNorm with
its own scale and bias blobs) are not described by this pack.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import (
    ONE,
    TWO,
    Backward,
    Pack,
    label_bottom,
    loss_row,
    per_bottom,
    preloaded_or,
    row,
    same,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def reorg_stride_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    sub = layer_param.fields.get("reorg_param")
    if sub is None or "stride" not in sub.fields:
        return "Check failed: reorg_param.has_stride() == true (0 vs. 1) Reorg Layer needs stride param."
    return None


PACK = Pack(
    name="intel-caffe",
    fork="Intel Caffe (YOLOv2 layers)",
    repository="intel/caffe",
    commit="44d536385dc41804a673c527b4c2df2675770dff",
    root="",
    summary="Reorg (space-to-depth) and RegionLoss of Intel Caffe's YOLOv2",
    rows=(
        row("Reorg", ONE, ONE, preloaded_or(0), same(Backward.RESPECTS_PD),
            "include/caffe/layers/reorg_layer.hpp:19-34; src/caffe/layers/reorg_layer.cpp:7-14,50-60,66",
            in_place_allowed=False, check=reorg_stride_check),
        loss_row("RegionLoss", TWO, ONE, per_bottom({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
                 "include/caffe/layers/region_loss_layer.hpp:46-64; include/caffe/layers/loss_layer.hpp:79-94; "
                 "src/caffe/layers/region_loss_layer.cpp:592-612,619",
                 no_force_backward=label_bottom,
                 notes="LOG(FATAL) when asked for the label's gradient; CPU only (no GPU Backward)"),
    ),
)
