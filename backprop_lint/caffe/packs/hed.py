"""HED (holistically-nested edge detection): Saining Xie's Caffe fork."""
from __future__ import annotations

from backprop_lint.caffe.packs.base import TWO, ZERO, Backward, Pack, preloaded_or, row, same

PACK = Pack(
    name="hed",
    fork="HED (s9xie/hed)",
    repository="s9xie/hed",
    commit="912632b986acc6dd6cc33b95603b2f279d7bd9f2",
    root="",
    summary="HED's ImageLabelmapData (image + edge map pairs)",
    rows=(
        row("ImageLabelmapData", ZERO, TWO, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/data_layers.hpp:45-48,303-313; src/caffe/layers/image_labelmap_data_layer.cpp:240-241",
            notes="reads image_data_param; a data layer: Backward is empty"),
    ),
)
