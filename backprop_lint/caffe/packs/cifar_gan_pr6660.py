"""BVLC/caffe pull request #6660 (a DCGAN on CIFAR-10): its ``RandVec`` noise source.

The PR was never merged; its generator net draws its input from ``RandVec``,
a layer with no bottoms whose Backward is empty.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, ZERO, Backward, Pack, preloaded_or, row, same

PACK = Pack(
    name="cifar-gan-pr6660",
    fork="BVLC/caffe PR #6660 (CIFAR-10 GAN)",
    repository="BVLC/caffe",
    commit="5c2e37c5781b04b6b48de267ed9429e2514e50c0",
    root="",
    summary="PR #6660's RandVec (uniform noise, no bottoms)",
    rows=(
        row("RandVec", ZERO, ONE, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/randvec_layer.hpp:23-24,30-31; src/caffe/layers/randvec_layer.cpp:21-55",
            notes="a noise source: no bottoms, no learnable blobs, an empty Backward_cpu"),
    ),
)
