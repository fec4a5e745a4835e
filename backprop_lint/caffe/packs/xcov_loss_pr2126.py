"""BVLC/caffe pull request #2126: the cross-covariance loss ``XCovLoss``.

The PR was never merged. ``XCovLoss`` is a ``LossLayer`` subclass, but its
``LayerSetUp`` replaces ``LossLayer::LayerSetUp`` without calling it, so the
default ``loss_weight: 1`` is never added: the layer contributes nothing (and
its bottoms get no gradient from it) unless the net gives a ``loss_weight``.
Its Backward writes both bottom diffs whatever ``propagate_down`` says.
The PR adds no caffe.proto fields.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, TWO, Backward, Pack, label_bottom, preloaded_or, row, same

PACK = Pack(
    name="xcov-loss-pr2126",
    fork="BVLC/caffe PR #2126 (cross-covariance loss)",
    repository="BVLC/caffe",
    commit="4e074f554544a3e8f85594291499b1a71fdee3de",
    root="",
    summary="PR #2126's XCovLoss (no default loss weight; writes both bottom diffs)",
    rows=(
        row("XCovLoss", TWO, ONE, preloaded_or(0), same(Backward.IGNORES_PD),
            "include/caffe/loss_layers.hpp:117-125,774-796; src/caffe/layers/xcov_loss_layer.cpp:12-22,91-117,125; "
            "src/caffe/layers/xcov_loss_layer.cu:56-80; src/caffe/layers/loss_layer.cpp:14-20",
            auto_top_blobs=True, no_force_backward=label_bottom,
            notes="a LossLayer whose LayerSetUp skips LossLayer::LayerSetUp: no default loss_weight 1, so it "
                  "needs an explicit loss_weight; Backward writes bottom 0 and bottom 1 whatever propagate_down says"),
    ),
)
