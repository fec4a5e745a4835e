"""BVLC/caffe pull request #3376: ``Unpooling`` for Zeiler-Fergus style visualisation.

The PR was never merged. Its ``Unpooling`` reads ``pooling_param`` (no new
caffe.proto fields) and takes exactly two bottoms: the pooled blob and the max
pooling mask. Only a forward pass exists: ``Backward_cpu`` is
``NOT_IMPLEMENTED`` and no GPU version overrides it, so Caffe aborts as soon as
Backward reaches the layer (a net that trains through it, or ``force_backward``).
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, TWO, Backward, Pack, preloaded_or, row, same

PACK = Pack(
    name="unpooling-pr3376",
    fork="BVLC/caffe PR #3376 (unpooling)",
    repository="BVLC/caffe",
    commit="64a36706b2ddfe3ba9773f1c49d1a40a421f10c9",
    root="",
    summary="PR #3376's Unpooling (pooled blob + mask; forward only)",
    rows=(
        row("Unpooling", TWO, ONE, preloaded_or(0), same(Backward.ABORTS),
            "include/caffe/vision_layers.hpp:665-687; src/caffe/layers/unpooling_layer.cpp:22-23,110-153",
            notes="reads pooling_param; Backward_cpu is NOT_IMPLEMENTED and there is no Forward_gpu or "
                  "Backward_gpu, so every build aborts when Backward runs the layer"),
    ),
)
