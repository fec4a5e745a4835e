"""caffe-mobilenet: the depthwise convolution layer MobileNet ports use (``ConvolutionDepthwise``).

Distributed as loose files to drop into a Caffe tree (from BVLC/caffe PR #5665).
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, Backward, Pack, row, same, weights_and_bias

PACK = Pack(
    name="caffe-mobilenet",
    fork="caffe-mobilenet (depthwise convolution)",
    repository="farmingyard/caffe-mobilenet",
    commit="f7d7d130761727560f201c1ff5c274e938888b5f",
    root="",
    summary="ConvolutionDepthwise, a depthwise convolution with its own kernels",
    rows=(
        row("ConvolutionDepthwise", ONE, ONE, weights_and_bias("convolution_param"), same(Backward.RESPECTS_PD),
            "conv_dw_layer.hpp:12-22; conv_dw_layer.cpp:85-100,208-238,272,313",
            notes="reads convolution_param; weight (and bias, with bias_term) diffs follow param_propagate_down"),
    ),
)
