"""BVLC/caffe pull request #5906 (YOLOv2 on the OpenCL branch): ``YoloDetectionOutput``.

The PR was never merged. ``YoloDetectionOutput`` turns the region predictions
into detections: one or more bottoms, exactly one top, ``num_classes`` must be
set, and Backward is ``NOT_IMPLEMENTED`` (there is no GPU Backward either), so
a net that sends a gradient through it aborts. The PR's ``Reorg`` is not
described here.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import ONE, Backward, Count, Pack, preloaded_or, row, same

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def num_classes_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    sub = layer_param.fields.get("yolo_detection_output_param")
    if sub is None or "num_classes" not in sub.fields:
        return "Check failed: yolo_detection_output_param.has_num_classes() Must specify num_classes"
    return None


PACK = Pack(
    name="yolo-pr5906",
    fork="BVLC/caffe PR #5906 (YOLOv2, OpenCL branch)",
    repository="BVLC/caffe",
    commit="27d3a38ed99861474443202f63abbb6717693854",
    root="",
    summary="PR #5906's YoloDetectionOutput (inference only: Backward aborts)",
    rows=(
        row("YoloDetectionOutput", Count(min=1), ONE, preloaded_or(0), same(Backward.ABORTS),
            "include/caffe/layers/yolo_detection_output_layer.hpp:37-49,71-74; "
            "src/caffe/layers/yolo_detection_output_layer.cpp:19-23,175-179",
            check=num_classes_check,
            notes="an inference layer: Backward_cpu is NOT_IMPLEMENTED and Backward_gpu is not overridden; "
                  "LayerSetUp CHECKs that num_classes is set"),
    ),
)
