"""DeepLab v2 (deeplab-public-ver2), also the base of PSPNet's Caffe.

Cited at a GitHub copy of the Bitbucket original, whose Caffe tree is in the
``deeplab-public-ver2`` folder.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, TWO, ZERO, Backward, Count, Pack, preloaded_or, row, same

PACK = Pack(
    name="deeplab-v2",
    fork="DeepLab v2 / PSPNet",
    repository="xmojiao/deeplab_v2",
    commit="da09c8b2700e8a7fd278d53c01604957983e2876",
    root="deeplab-public-ver2",
    summary="Interp, ImageSegData and SegAccuracy of DeepLab v2 (and PSPNet)",
    rows=(
        row("Interp", ONE, ONE, preloaded_or(0), same(Backward.RESPECTS_PD),
            "include/caffe/layers/interp_layer.hpp:27-29; src/caffe/layers/interp_layer.cpp:74-81,93-100,108"),
        row("ImageSegData", ZERO, Count(exact=3), preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/image_seg_data_layer.hpp:27-30; include/caffe/layers/base_data_layer.hpp:37-40,85; "
            "src/caffe/layers/image_seg_data_layer.cpp:259-260",
            auto_top_blobs=True,
            notes="AutoTopBlobs: with fewer than 3 tops, Caffe creates the missing ones"),
        row("SegAccuracy", TWO, ONE, preloaded_or(0), same(Backward.ABORTS_IF_PD),
            "include/caffe/layers/seg_accuracy_layer.hpp:24-27,58-63; src/caffe/layers/seg_accuracy_layer.cpp:108",
            notes="Backward is NOT_IMPLEMENTED for any bottom asked for a gradient"),
    ),
)
