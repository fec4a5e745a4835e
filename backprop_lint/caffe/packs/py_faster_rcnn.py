"""py-faster-rcnn: Ross Girshick's Caffe fork (the ``caffe-fast-rcnn`` submodule).

Cited at the commit py-faster-rcnn pins (branch ``faster-rcnn-upstream-33f2445``).
Both layers' CPU paths abort (``NOT_IMPLEMENTED``); the rows describe the GPU
Backward, the build this fork is used with.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
    Backward,
    Count,
    Pack,
    first_bottoms,
    loss_row,
    never,
    rois_pooling_row,
    smooth_l1_weights_check,
)


PACK = Pack(
    name="py-faster-rcnn",
    fork="py-faster-rcnn (Fast/Faster R-CNN)",
    repository="rbgirshick/caffe-fast-rcnn",
    commit="0dcd397b29507b8314e252e850518c5695efbb83",
    root="",
    summary="ROIPooling and SmoothL1Loss of Fast/Faster R-CNN",
    rows=(
        rois_pooling_row("ROIPooling",
            "include/caffe/fast_rcnn_layers.hpp:25-39; src/caffe/layers/roi_pooling_layer.cpp:128-131,139; "
            "src/caffe/layers/roi_pooling_layer.cu:168-184",
            notes="GPU Backward: `if (!propagate_down[0]) return`, the rois (bottom 1) never get a diff; "
                  "CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SmoothL1Loss", Count(min=2, max=4), LOSS_TOPS,
                 first_bottoms(2, Backward.RESPECTS_PD, Backward.NEVER),
                 "include/caffe/fast_rcnn_layers.hpp:61-93; include/caffe/layers/loss_layer.hpp:32,40-41; "
                 "src/caffe/layers/loss_layer.cpp:11-12; src/caffe/layers/smooth_L1_loss_layer.cpp:12-22,51-61,68; "
                 "src/caffe/layers/smooth_L1_loss_layer.cu:80-113",
                 no_force_backward=never, check=smooth_l1_weights_check,
                 notes="ExactNumBottomBlobs is -1 (2 to 4 bottoms); AllowForceBackward is true for every "
                       "bottom; GPU Backward writes bottoms 0 and 1 when asked, never the weights; "
                       "CPU Forward and Backward are NOT_IMPLEMENTED"),
    ),
)
