"""warp-ctc CRNN: BVLC/caffe pull request #6354 (CTC loss via Baidu's warp-ctc), never merged.

Cited at the PR's commit the corpus CRNN captcha net comes from. CPU and GPU
Backward agree for all three layers (the GPU one of LabelsequenceAccuracy is
Layer's default, which calls the CPU one).
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
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

PACK = Pack(
    name="warpctc-crnn-pr6354",
    fork="warp-ctc CRNN (BVLC/caffe PR #6354)",
    repository="BVLC/caffe",
    commit="45b564edcb062049f8bc66ef70e09c65c60ff7d5",
    root="",
    summary="CtcLoss, ContinuationIndicator (LSTM sequence markers) and LabelsequenceAccuracy",
    rows=(
        loss_row("CtcLoss", TWO, LOSS_TOPS, per_bottom({1: Backward.NEVER}, Backward.RESPECTS_PD),
                 "include/caffe/layers/ctc_loss_layer.hpp:21-30; include/caffe/layers/loss_layer.hpp:42,50-57; "
                 "src/caffe/layers/loss_layer.cpp:12-13; src/caffe/layers/ctc_loss_layer.cpp:61-104,111; "
                 "src/caffe/layers/ctc_loss_layer.cu:51-60",
                 no_force_backward=label_bottom,
                 notes="Backward scales bottom 0's diff when asked and never touches the label (no abort); "
                       "Forward already writes the unscaled CTC gradient into bottom 0's diff, whether or not "
                       "a gradient is wanted; float only (double is NOT_IMPLEMENTED)"),
        row("ContinuationIndicator", ONE, ONE, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/continuation_indicator_layer.hpp:9-28; "
            "src/caffe/layers/continuation_indicator_layer.cpp:5-13,40; "
            "src/caffe/layers/continuation_indicator_layer.cu:14-18",
            notes="reads only bottom 0's shape (batch size on continuation_indicator_param.axis); "
                  "CPU and GPU Backward are empty"),
        row("LabelsequenceAccuracy", TWO, ONE, preloaded_or(0), same(Backward.ABORTS_IF_PD),
            "include/caffe/layers/labelsequence_accuracy_layer.hpp:19-44; include/caffe/layer.hpp:361-366; "
            "src/caffe/layers/labelsequence_accuracy_layer.cpp:88",
            notes="like Accuracy: NOT_IMPLEMENTED when asked for either bottom's gradient; not a LossLayer, "
                  "so its top has no loss weight unless one is set"),
    ),
)
