"""caffe-face: Yandong Wen's Caffe fork with the center loss (ECCV 2016)."""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    ANY,
    TWO,
    Backward,
    Pack,
    label_bottom,
    per_bottom,
    preloaded_or,
    row,
)

PACK = Pack(
    name="caffe-face",
    fork="caffe-face (center loss)",
    repository="ydwen/caffe-face",
    commit="48ff38e30dd303511ac6b5f9455474453fef2644",
    root="",
    summary="CenterLoss, a loss with one learnable blob (the class centres)",
    rows=(
        row("CenterLoss", TWO, ANY, preloaded_or(1), per_bottom({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
            "include/caffe/layers/center_loss_layer.hpp:15-26; src/caffe/layers/center_loss_layer.cpp:20-36,73-106,113",
            is_loss=True, no_force_backward=label_bottom,
            notes="a LossLayer (loss_weight 1 on top 0 by default) with ExactNumTopBlobs -1; the centres' diff "
                  "follows param_propagate_down; LOG(FATAL) when asked for the label's gradient"),
    ),
)
