"""SSD: Wei Liu's Caffe fork (``weiliu89/caffe``, branch ``ssd``), on top of any flavour.

``--flavor ssd`` is a whole other Caffe (the brocolli-caffe lineage the oracle
builds); this pack adds the SSD fork's own layers to a BVLC Caffe, which is how
most SSD ports (MobileNet-SSD, the SSD examples) are built, with OpenCV on.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import (
    ANY,
    ONE,
    ZERO,
    Backward,
    Count,
    Pack,
    label_bottom,
    loss_row,
    per_bottom,
    preloaded_or,
    row,
    same,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def permute_is_identity(layer_param: Message, n_bottoms: int, n_tops: int) -> bool:
    """``need_permute_`` is false: the given orders (the rest are appended in order) are 0, 1, ..."""
    sub = layer_param.fields.get("permute_param")
    order = list(sub.repeated("order")) if sub is not None else []
    return order == list(range(len(order)))


def multibox_num_classes_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    sub = layer_param.fields.get("multibox_loss_param")
    if sub is None or "num_classes" not in sub.fields:
        return "Must provide num_classes."
    return None


PACK = Pack(
    name="ssd",
    fork="SSD (weiliu89/caffe)",
    repository="weiliu89/caffe",
    commit="4817bf8b4200b35ada8ed0dc378dceaf38c539e4",
    root="",
    summary="SSD's AnnotatedData, Normalize, Permute, PriorBox, MultiBoxLoss, DetectionOutput, DetectionEvaluate",
    rows=(
        row("AnnotatedData", ZERO, Count(min=1), preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/annotated_data_layer.hpp:19-29; include/caffe/layers/base_data_layer.hpp:37-40; "
            "src/caffe/layers/annotated_data_layer.cpp:1-3,311",
            notes="registered in every build (USE_OPENCV guards an include only); reads LMDB at run time"),
        row("Normalize", ONE, ONE, preloaded_or(1), same(Backward.RESPECTS_PD),
            "include/caffe/layers/normalize_layer.hpp:27-29; src/caffe/layers/normalize_layer.cpp:9-60,137-180,232",
            notes="one learnable scale blob; its diff follows param_propagate_down"),
        row("Permute", ONE, ONE, preloaded_or(0), same(Backward.IGNORES_PD),
            "include/caffe/layers/permute_layer.hpp:34-36; src/caffe/layers/permute_layer.cpp:117-133,140",
            aliases_diff=permute_is_identity, alias_needs_backward=True,
            notes="Backward never reads propagate_down; an identity order shares the diff instead of copying it"),
        row("PriorBox", ANY, ONE, preloaded_or(0), same(Backward.NEVER),
            "include/caffe/layers/prior_box_layer.hpp:40-42,61-64 (ExactBottomBlobs is misspelt, so no bottom "
            "count is checked); src/caffe/layers/prior_box_layer.cpp:222"),
        loss_row("MultiBoxLoss", Count(exact=4), ONE,
                 per_bottom({2: Backward.ABORTS_IF_PD, 3: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
                 "include/caffe/layers/multibox_loss_layer.hpp:35-46; include/caffe/layers/loss_layer.hpp:42-57; "
                 "src/caffe/layers/multibox_loss_layer.cpp:12-30,256-320,373",
                 no_force_backward=label_bottom, check=multibox_num_classes_check,
                 notes="LOG(FATAL) when asked for the priors' or the ground truth's gradient; LossLayer's "
                       "AllowForceBackward keeps force_backward off bottom 1"),
        row("DetectionOutput", Count(min=3, max=4), ONE, preloaded_or(0), same(Backward.ABORTS),
            "include/caffe/layers/detection_output_layer.hpp:41-44,67-74; src/caffe/layers/detection_output_layer.cpp:475",
            notes="Backward is NOT_IMPLEMENTED"),
        row("DetectionEvaluate", ANY, ONE, preloaded_or(0), same(Backward.ABORTS),
            "include/caffe/layers/detection_evaluate_layer.hpp:31-33,52-55 (ExactBottomBlobs is misspelt); "
            "src/caffe/layers/detection_evaluate_layer.cpp:248",
            notes="Backward is NOT_IMPLEMENTED"),
    ),
)
