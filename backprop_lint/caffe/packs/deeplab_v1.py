"""DeepLab v1 (deeplab-public, 2014-2015): the fork behind DeepLab-LargeFOV and its V1 nets.

This fork predates Caffe's V2 layer format: its ``LayerParameter`` is what
BVLC later renamed ``V1LayerParameter`` (``layers { type: INTERP }``), and its
caffe.proto adds the enum values ``IMAGE_SEG_DATA = 39``, ``SEG_ACCURACY = 40``
and ``INTERP = 41`` (``caffe/schema/packs.py``). It has no V1 -> V2 upgrade
(include/caffe/util/upgrade_proto.hpp declares only the V0 one): its layer
factory builds a class straight from the enum value
(``REGISTER_LAYER_CLASS(INTERP, InterpLayer)``). backprop-lint simulates in
the V2 format, so with the pack on those values upgrade to the names DeepLab v2
gave the same classes (``Interp``, ``ImageSegData``, ``SegAccuracy``), and the
fork's own V1 fields (``interp_param``, ``seg_accuracy_param``,
``softmaxloss_param``) are carried over. Its ``hole`` (what BVLC calls
``dilation``) parses and does not change the gradient flow.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import ONE, TWO, ZERO, Backward, Count, Pack, preloaded_or, row, same

PACK = Pack(
    name="deeplab-v1",
    fork="DeepLab v1 (deeplab-public, V1 layer format)",
    repository="corenel/deeplab-public",
    commit="ad566e9a4d3b1c4ea8a23cf8f2f4430c57f65e43",
    root="",
    summary="V1 enum types IMAGE_SEG_DATA, INTERP and SEG_ACCURACY of DeepLab v1 (LargeFOV)",
    rows=(
        row("Interp", ONE, ONE, preloaded_or(0), same(Backward.RESPECTS_PD),
            "include/caffe/vision_layers.hpp:211-224; src/caffe/layers/interp_layer.cpp:71-73,90-92,105; "
            "src/caffe/proto/caffe.proto:267",
            notes="V1 type INTERP; Backward writes the bottom only when asked"),
        row("ImageSegData", ZERO, Count(exact=3), preloaded_or(0), same(Backward.NEVER),
            "include/caffe/data_layers.hpp:370-383,43-46; src/caffe/layers/image_seg_data_layer.cpp:110,235; "
            "src/caffe/proto/caffe.proto:264",
            auto_top_blobs=True,
            notes="V1 type IMAGE_SEG_DATA; AutoTopBlobs: with fewer than 3 tops (data, label, data_dim), "
                  "Caffe creates the missing ones"),
        row("SegAccuracy", TWO, ONE, preloaded_or(0), same(Backward.ABORTS_IF_PD),
            "include/caffe/loss_layers.hpp:816,837-838,870-874; src/caffe/layers/seg_accuracy_layer.cpp:128; "
            "src/caffe/proto/caffe.proto:280",
            notes="V1 type SEG_ACCURACY; Backward is NOT_IMPLEMENTED for any bottom asked for a gradient"),
    ),
)
