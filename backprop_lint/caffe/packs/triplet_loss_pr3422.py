"""BVLC/caffe pull request #3422: a three-bottom ``TripletLoss`` (anchor, positive, negative).

The PR was never merged. Its ``TripletLoss`` is a ``LossLayer`` (loss weight 1
by default) with exactly three bottoms; Backward writes each bottom's diff only
when ``propagate_down`` asks. ``AllowForceBackward`` is false for bottom 2 (the
negative), not for bottom 1 as in other losses: ``force_backward`` never
forces a gradient into the negative branch (it still gets one when it needs it).

PR #2603's four-bottom ``TripletLoss`` has no pack: at the commit its example
net comes from (e98d8e5b), ``include/caffe/loss_layers.hpp`` and
``src/caffe/proto/caffe.proto`` hold unresolved merge-conflict markers, so that
tree does not build. With this pack on, a four-bottom TripletLoss is refused.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, Backward, Count, Pack, preloaded_or, row, same


def negative_bottom(j: int, n: int) -> bool:
    """TripletLossLayer::AllowForceBackward: bottom 2 (the negative) is never forced."""
    return j == 2


PACK = Pack(
    name="triplet-loss-pr3422",
    fork="BVLC/caffe PR #3422 (triplet loss)",
    repository="BVLC/caffe",
    commit="95b75eff15d7410236d8d0d0b7ffe01d2e08e76a",
    root="",
    summary="PR #3422's TripletLoss (anchor, positive, negative)",
    rows=(
        row("TripletLoss", Count(exact=3), ONE, preloaded_or(0), same(Backward.RESPECTS_PD),
            "include/caffe/loss_layers.hpp:123-124,220-249; src/caffe/layers/triplet_loss_layer.cpp:11-13,71-105,112; "
            "src/caffe/layers/triplet_loss_layer.cu:81-108",
            is_loss=True, no_force_backward=negative_bottom,
            notes="a LossLayer with three bottoms; Backward (CPU and GPU) writes bottom i only when "
                  "propagate_down[i]; AllowForceBackward is false for bottom 2"),
    ),
)
