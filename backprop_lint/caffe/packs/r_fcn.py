"""R-FCN (py-R-FCN): Microsoft's Caffe fork with R-FCN's and OHEM's layers.

Cited at Microsoft/caffe master, the tree py-R-FCN builds. PSROIPooling, the
OHEM layers and SmoothL1Loss have only a GPU Backward (the CPU one is
``NOT_IMPLEMENTED``); the rows describe the GPU path. The fork renumbers
``LossParameter.NormalizationMode`` (``PRE_FIXED = 3``, ``NONE = 4``).
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
    Backward,
    Count,
    Pack,
    first_bottoms,
    label_bottom,
    loss_row,
    never,
    per_bottom,
    preloaded_or,
    rois_pooling_row,
    row,
    same,
    smooth_l1_weights_check,
)


PACK = Pack(
    name="r-fcn",
    fork="R-FCN / py-R-FCN (with OHEM)",
    repository="Microsoft/caffe",
    commit="ed05614cb020f782bad5cf31131c55a73697f374",
    root="",
    summary="PSROIPooling, ROIPooling, SmoothL1Loss and the OHEM layers of R-FCN",
    rows=(
        rois_pooling_row("PSROIPooling",
            "include/caffe/layers/psroi_pooling_layer.hpp:35-49; src/caffe/layers/psroi_pooling_layer.cpp:60-63,69; "
            "src/caffe/layers/psroi_pooling_layer.cu:181-202",
            notes="GPU Backward writes bottom 0 when asked and zeroes the rois' diff; "
                  "CPU Backward is NOT_IMPLEMENTED"),
        rois_pooling_row("ROIPooling",
            "include/caffe/layers/roi_pooling_layer.hpp:47-61; src/caffe/layers/roi_pooling_layer.cpp:123-158,166; "
            "src/caffe/layers/roi_pooling_layer.cu:164-180",
            notes="GPU Backward writes bottom 0 when asked, never the rois; the CPU Backward "
                  "LOG(FATAL)s when asked for the rois' gradient"),
        row("BoxAnnotatorOHEM", Count(exact=4), Count(exact=2), preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/box_annotator_ohem_layer.hpp:21-40; src/caffe/layers/box_annotator_ohem_layer.cpp:73-77,85; "
            "src/caffe/layers/box_annotator_ohem_layer.cu:74-78",
            notes="GPU Backward returns at once; CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SmoothL1Loss", Count(min=2, max=4), LOSS_TOPS,
                 first_bottoms(2, Backward.RESPECTS_PD, Backward.NEVER),
                 "include/caffe/layers/smooth_l1_loss_layer.hpp:22-51; include/caffe/layers/loss_layer.hpp:32,40-41; "
                 "src/caffe/layers/loss_layer.cpp:11-12; src/caffe/layers/smooth_l1_loss_layer.cpp:8-16,53-56,63; "
                 "src/caffe/layers/smooth_l1_loss_layer.cu:77-112",
                 no_force_backward=never, check=smooth_l1_weights_check,
                 notes="2 to 4 bottoms; AllowForceBackward is true for every bottom; CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SmoothL1LossOHEM", Count(min=2, max=3), Count(min=1, max=2),
                 first_bottoms(2, Backward.RESPECTS_PD, Backward.NEVER),
                 "include/caffe/layers/smooth_l1_loss_ohem_layer.hpp:22-54; src/caffe/layers/smooth_L1_loss_ohem_layer.cpp:17-19,96-100,107; "
                 "src/caffe/layers/smooth_L1_loss_ohem_layer.cu:101-127",
                 no_force_backward=never,
                 notes="top 1 (per-roi losses) has loss weight 0 unless given; AllowForceBackward is true for "
                       "every bottom; CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SoftmaxWithLossOHEM", Count(exact=2), Count(min=1, max=3),
                 per_bottom({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
                 "include/caffe/layers/softmax_loss_ohem_layer.hpp:46-66,100; include/caffe/layers/loss_layer.hpp:32,46-47; "
                 "src/caffe/layers/softmax_loss_ohem_layer.cpp:11-23,102-106,113; "
                 "src/caffe/layers/softmax_loss_ohem_layer.cu:99-133",
                 no_force_backward=label_bottom,
                 notes="LOG(FATAL) when asked for the label's gradient; the inner Softmax gets a copy without "
                       "loss weights, so extra tops are allowed; CPU Backward is NOT_IMPLEMENTED"),
    ),
)
