"""caffe-priv: the Caffe of soeaver's py-RFCN-priv (also behind soeaver/caffe-model's nets).

Its ``Interp`` differs from DeepLab v2's: a second bottom may give the output
size (``use_blob_size``), as FPN-style nets use it. Its ``ROIPooling`` and
``SmoothL1Loss`` and ``ConvolutionDepthwise`` are described too, so that one pack covers those nets.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
    ONE,
    Backward,
    Count,
    Pack,
    first_bottoms,
    loss_row,
    never,
    per_bottom,
    preloaded_or,
    rois_pooling_row,
    row,
    same,
    smooth_l1_weights_check,
    sub_value,
    weights_and_bias,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def interp_size_blob_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    if sub_value(layer_param, "interp_param", "use_blob_size", False) and n_bottoms <= 1:
        return (f"Check failed: bottom.size() > 1 ({n_bottoms} vs. 1) "
                "use blob size should have another blob to supply size")
    return None


PACK = Pack(
    name="caffe-priv",
    fork="caffe-priv (soeaver/py-RFCN-priv)",
    repository="soeaver/py-RFCN-priv",
    commit="ec89b8656c750454c0cbfc64b630fcb4a95d2129",
    root="caffe-priv",
    summary="Interp with a size bottom, ROIPooling, SmoothL1Loss and ConvolutionDepthwise of soeaver's Caffe",
    rows=(
        row("Interp", Count(min=1), ONE, preloaded_or(0), per_bottom({0: Backward.RESPECTS_PD}, Backward.NEVER),
            "include/caffe/layers/interp_layer.hpp:27-29; src/caffe/layers/interp_layer.cpp:29-33,79-86,113",
            check=interp_size_blob_check,
            notes="bottoms after the first only give a size (use_blob_size): they never get a diff"),
        rois_pooling_row("ROIPooling",
            "include/caffe/layers/roi_pooling_layer.hpp:47-61; src/caffe/layers/roi_pooling_layer.cpp:123-131,166; "
            "src/caffe/layers/roi_pooling_layer.cu:164-168",
            notes="GPU Backward writes bottom 0 when asked, never the rois; the CPU Backward "
                  "LOG(FATAL)s when asked for the rois' gradient"),
        loss_row("SmoothL1Loss", Count(min=2, max=4), LOSS_TOPS,
                 first_bottoms(2, Backward.RESPECTS_PD, Backward.NEVER),
                 "include/caffe/layers/smooth_l1_loss_layer.hpp:22-42; include/caffe/layers/loss_layer.hpp:32,40-41; "
                 "src/caffe/layers/loss_layer.cpp:12; src/caffe/layers/smooth_l1_loss_layer.cpp:12-15,49,53-55,63; "
                 "src/caffe/layers/smooth_l1_loss_layer.cu:77-112",
                 no_force_backward=never, check=smooth_l1_weights_check,
                 notes="2 to 4 bottoms; AllowForceBackward is true for every bottom; GPU Backward writes bottoms 0 "
                       "and 1 when asked; CPU Forward and Backward are NOT_IMPLEMENTED"),
        row("ConvolutionDepthwise", ONE, ONE, weights_and_bias("convolution_param"), same(Backward.RESPECTS_PD),
            "include/caffe/layers/conv_dw_layer.hpp:12-22; src/caffe/layers/conv_dw_layer.cpp:85-100,209-238,272,313"),
    ),
)
