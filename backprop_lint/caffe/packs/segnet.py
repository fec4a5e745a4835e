"""SegNet: Alex Kendall's Caffe fork (``caffe-segnet``).

Its ``BN`` is not BVLC's ``BatchNorm``: two learnable blobs (scale, shift)
whose diffs Backward always writes, and a bottom diff written whatever
``propagate_down`` says. Its ``Upsample`` takes the pooling mask as a second
bottom (the SSD lineage has another ``Upsample``; with this pack on, this one wins).
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import (
    ONE,
    TWO,
    ZERO,
    Backward,
    Count,
    Pack,
    params_always_written,
    per_bottom,
    preloaded_or,
    row,
    same,
    sub_value,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple


def bn_counts(layer_param: Message) -> Tuple[Count, Count]:
    """MaxTopBlobs is 3 in LEARN mode (the default), else 1."""
    learn = sub_value(layer_param, "bn_param", "bn_mode", "LEARN") == "LEARN"
    return ONE, Count(min=1, max=3 if learn else 1)


PACK = Pack(
    name="segnet",
    fork="SegNet (caffe-segnet)",
    repository="alexgkendall/caffe-segnet",
    commit="344c113bf1832886f1cbe9f33ffe28a3beeaf412",
    root="",
    summary="SegNet's BN, Upsample (with the pooling mask) and DenseImageData",
    rows=(
        row("BN", ONE, Count(min=1, max=3), preloaded_or(2), same(Backward.IGNORES_PD),
            "include/caffe/common_layers.hpp:80-97; src/caffe/layers/bn_layer.cpp:52-80,233-244,357-399,406; "
            "src/caffe/layers/bn_layer.cu:146-183",
            counts_of=bn_counts, param_diff_ignores_propagate_down=params_always_written((0, 1)),
            notes="Backward writes the scale and shift diffs and the bottom diff in both modes, "
                  "whatever propagate_down and param_propagate_down say"),
        row("Upsample", TWO, ONE, preloaded_or(0), per_bottom({1: Backward.NEVER}, Backward.RESPECTS_PD),
            "include/caffe/vision_layers.hpp:523-535; src/caffe/layers/upsample_layer.cpp:110-139,147",
            notes="bottom 1 is the pooling mask: it never gets a diff"),
        row("DenseImageData", ZERO, TWO, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/data_layers.hpp:42-45,103-113; src/caffe/layers/dense_image_data_layer.cpp:222-223"),
    ),
)
