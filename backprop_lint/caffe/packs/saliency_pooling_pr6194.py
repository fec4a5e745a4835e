"""BVLC/caffe pull request #6194: ``SaliencyPooling`` (pooling guided by a saliency map).

The PR was never merged. The layer takes the image features and a saliency
map (exactly two bottoms) and one or more tops; it reads ``pooling_param``
(the PR also adds a ``saliency_pooling_param`` message that the layer does
not read). Backward, on CPU and GPU, writes only bottom 0's diff and only when
``propagate_down[0]``: the saliency map never gets a gradient.
"""
from __future__ import annotations

from backprop_lint.caffe.packs.base import TWO, Backward, Count, Pack, per_bottom, preloaded_or, row

PACK = Pack(
    name="saliency-pooling-pr6194",
    fork="BVLC/caffe PR #6194 (saliency pooling)",
    repository="BVLC/caffe",
    commit="86f5cc0fd0497cbf347aa08bcd304be8e7014d6d",
    root="",
    summary="PR #6194's SaliencyPooling (features + saliency map; the map gets no gradient)",
    rows=(
        row("SaliencyPooling", TWO, Count(min=1), preloaded_or(0),
            per_bottom({0: Backward.RESPECTS_PD}, Backward.NEVER),
            "include/caffe/layers/saliency_pooling_layer.hpp:18-39; src/caffe/layers/saliency_pooling_layer.cpp:14-16,"
            "166-205,212; src/caffe/layers/saliency_pooling_layer.cu:107-125; src/caffe/layer_factory.cpp:119-147",
            notes="registered through layer_factory.cpp (always the Caffe engine); Backward_cpu and Backward_gpu "
                  "write bottom 0 only, when propagate_down[0]; bottom 1 (the saliency map) is never written"),
    ),
)
