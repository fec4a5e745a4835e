"""NVIDIA DetectNet: BVLC/caffe pull request #4780 (from NVIDIA's Caffe), never merged.

Cited at the PR's commit the corpus DetectNet net comes from. Neither layer
has a GPU path of its own: Layer's default Backward_gpu calls the CPU one.
DetectNet's clustering and mAP layers are Python layers (never imported here).
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import (
    LOSS_TOPS,
    TWO,
    Backward,
    Pack,
    loss_row,
    never,
    preloaded_or,
    row,
    same,
)

PACK = Pack(
    name="detectnet-pr4780",
    fork="NVIDIA DetectNet (BVLC/caffe PR #4780)",
    repository="BVLC/caffe",
    commit="aff10a010299caf2b7535abd827ad8b72d35a4f4",
    root="",
    summary="DetectNetTransformation (augmentation + coverage maps) and L1Loss",
    rows=(
        row("DetectNetTransformation", TWO, TWO, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/detectnet_transform_layer.hpp:31-66; include/caffe/layer.hpp:359-364; "
            "src/caffe/layers/detectnet_transform_layer.cpp:54-67,798",
            notes="images + bounding-box labels in, augmented images + coverage/bbox maps out; Backward is empty"),
        loss_row("L1Loss", TWO, LOSS_TOPS, same(Backward.RESPECTS_PD),
                 "include/caffe/layers/l1_loss_layer.hpp:18-32; include/caffe/layers/loss_layer.hpp:32,40-41; "
                 "src/caffe/layers/loss_layer.cpp:11-12; src/caffe/layers/l1_loss_layer.cpp:11-19,39-53,57",
                 no_force_backward=never,
                 notes="both bottoms get a gradient when asked (the second with the opposite sign); "
                       "AllowForceBackward is true for both, unlike most losses"),
    ),
)
