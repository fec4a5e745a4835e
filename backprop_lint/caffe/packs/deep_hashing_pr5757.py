"""Deep Hashing Network (DHN): BVLC/caffe pull request #5757, never merged.

Cited at the PR's commit that adds the NUS-WIDE example (``models/DHN``).
Both losses' CPU Forward and Backward have empty bodies (they compute and
write nothing); the rows describe the GPU Backward, the build DHN is trained with.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
    ONE,
    TWO,
    ZERO,
    Backward,
    Pack,
    label_bottom,
    loss_row,
    per_bottom,
    preloaded_or,
    row,
    same,
)

PACK = Pack(
    name="deep-hashing-pr5757",
    fork="Deep Hashing Network (BVLC/caffe PR #5757)",
    repository="BVLC/caffe",
    commit="56f70e81e45df59551c7ab8c95ca88136f536262",
    root="",
    summary="DHN's MultiLabelData, PairwiseLoss and QuantizationLoss",
    rows=(
        row("MultiLabelData", ZERO, TWO, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/multi_label_data_layer.hpp:23-33; include/caffe/layers/base_data_layer.hpp:37-40; "
            "src/caffe/layers/multi_label_data_layer.cpp:26,174",
            notes="a BasePrefetchingDataLayer (image + multi-hot label); Backward is empty"),
        loss_row("PairwiseLoss", TWO, LOSS_TOPS, per_bottom({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
                 "include/caffe/layers/pairwise_loss_layer.hpp:15-26; include/caffe/layers/loss_layer.hpp:40-47; "
                 "src/caffe/layers/loss_layer.cpp:11-12; src/caffe/layers/pairwise_loss_layer.cpp:31-39,46; "
                 "src/caffe/layers/pairwise_loss_layer.cu:68-97",
                 no_force_backward=label_bottom,
                 notes="GPU Backward: LOG(FATAL) when asked for the label's gradient, writes bottom 0 when "
                       "asked; scales by loss_weight(0) read in LayerSetUp; CPU Forward and Backward are empty"),
        loss_row("QuantizationLoss", ONE, LOSS_TOPS, same(Backward.RESPECTS_PD),
                 "include/caffe/layers/quantization_loss_layer.hpp:15-26; include/caffe/layers/loss_layer.hpp:40-47; "
                 "src/caffe/layers/loss_layer.cpp:11-12; src/caffe/layers/quantization_loss_layer.cpp:28-36,43; "
                 "src/caffe/layers/quantization_loss_layer.cu:52-69",
                 no_force_backward=label_bottom,
                 notes="one bottom (ExactNumBottomBlobs 1); GPU Backward writes it when asked (it also reads "
                       "propagate_down[1], past the end of a one-element vector: undefined, not a CHECK); "
                       "CPU Forward and Backward are empty"),
    ),
)
