"""R-FCN (the original MATLAB release): Jifeng Dai's Caffe fork, ``caffe-rfcn``.

Not the same code as py-R-FCN's Caffe (the ``r-fcn`` pack): here SmoothL1Loss
takes 2 or 3 bottoms and may have a second top, and ``SoftmaxWithLoss`` itself
is changed to allow up to 3 tops (probabilities and per-roi losses, for OHEM),
its inner Softmax getting a copy without loss weights. Only GPU Backwards
exist for these layers (the CPU ones are ``NOT_IMPLEMENTED``); the rows
describe the GPU path.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
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
)

PACK = Pack(
    name="r-fcn-matlab",
    fork="R-FCN, MATLAB release (caffe-rfcn)",
    repository="daijifeng001/caffe-rfcn",
    commit="543f8f6a4b7c88256ea1445ae951a12d1ad9cffd",
    root="",
    summary="PSROIPooling, BoxAnnotatorOHEM, ROIPooling, SmoothL1Loss and the 3-top SoftmaxWithLoss of R-FCN",
    rows=(
        rois_pooling_row("PSROIPooling",
            "include/caffe/rfcn_layers.hpp:26-40; src/caffe/layers/psroi_pooling_layer.cpp:59-61,68; "
            "src/caffe/layers/psroi_pooling_layer.cu:170-190",
            notes="GPU Backward writes bottom 0 when asked and zeroes the rois' diff; "
                  "CPU Backward is NOT_IMPLEMENTED"),
        row("BoxAnnotatorOHEM", Count(exact=4), Count(exact=2), preloaded_or(0), same(Backward.NEVER),
            "include/caffe/rfcn_layers.hpp:70-82; src/caffe/layers/box_annotator_ohem_layer.cpp:72-74,83; "
            "src/caffe/layers/box_annotator_ohem_layer.cu:72-74",
            notes="GPU Backward returns at once; CPU Backward is NOT_IMPLEMENTED"),
        rois_pooling_row("ROIPooling",
            "include/caffe/fast_rcnn_layers.hpp:25-39; src/caffe/layers/roi_pooling_layer.cpp:128-130,139; "
            "src/caffe/layers/roi_pooling_layer.cu:168-184",
            notes="GPU Backward writes bottom 0 when asked, never the rois; CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SmoothL1Loss", Count(min=2, max=3), Count(min=1, max=2),
                 first_bottoms(2, Backward.RESPECTS_PD, Backward.NEVER),
                 "include/caffe/fast_rcnn_layers.hpp:61-84; src/caffe/layers/smooth_L1_loss_layer.cpp:19-22,98-100,108; "
                 "src/caffe/layers/smooth_L1_loss_layer.cu:104-127",
                 no_force_backward=never,
                 notes="bottom 2 (weights) never gets a diff; AllowForceBackward is true for every bottom; "
                       "CPU Backward is NOT_IMPLEMENTED"),
        loss_row("SoftmaxWithLoss", Count(exact=2), Count(min=1, max=3),
                 per_bottom({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
                 "include/caffe/layers/softmax_loss_layer.hpp:44,61-64; include/caffe/layers/loss_layer.hpp:32,40-47; "
                 "src/caffe/layers/softmax_loss_layer.cpp:11-18,102-104,112; src/caffe/layers/softmax_loss_layer.cu:98-132",
                 no_force_backward=label_bottom,
                 notes="replaces Caffe's SoftmaxWithLoss while the pack is on: up to 3 tops, and the inner Softmax "
                       "gets no loss weights; LOG(FATAL) when asked for the label's gradient"),
    ),
)
