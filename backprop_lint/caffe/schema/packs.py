"""The caffe.proto additions of the forks that layer packs describe, as plain data.

Written by hand from each fork's ``src/caffe/proto/caffe.proto`` at the commit
its pack pins (``backprop_lint/caffe/packs/``); the comment on each entry gives
the line. Like ``tables``, this module imports nothing of the model.

Layout, per pack:

* ``FIELDS[pack][message][field]``: a field the fork adds to (or redefines in)
  a message while the pack is on, as ``tables.FieldInfo``
  (number, kind, repeated, type name, explicit default, packed). ``message``
  is a base message (``LayerParameter``) or one of the pack's own.
* The pack's own messages and enums are named ``<pack>.<Name>`` so that two
  forks' ``ROIPoolingParameter`` (or SegNet's ``BNParameter`` and the SSD
  fork's) never meet: with the pack off, the base schema is untouched.
* ``ENUMS[pack][enum]``: value name -> number.
* ``ENUM_VALUES[pack][enum]``: values the fork adds to an enum of the base
  schema (IQA-CNN's ``pool: MIN``, DeepLab v1's V1 layer types). In text, a
  number the base enum already uses keeps its base meaning.
* ``V1_LAYER_TYPES[pack]``: for a fork whose V1 ``layers`` enum has its own
  values, the type name each upgrades to (the name the pack's rows use), and
  ``V1_CARRIED_FIELDS[pack]``: the fork's own V1 layer fields, which the V1 ->
  V2 step keeps instead of dropping.
* ``NEVER_PUBLISHED``: enum values that nets use but no published Caffe ever
  had, with what to write instead (the parser's error says it).

Forks reuse field numbers differently (py-faster-rcnn's ``roi_pooling_param``
is 8266711, R-FCN's is 147), which matters only for binary files: the text
parser goes by name, and binary nets are read with the base schema.
"""
# fmt: off
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    FieldInfo = Tuple[int, str, bool, Optional[str], Any, bool]

_FILLER = "FillerParameter"

#: messages that forks copied field for field from one another; each fork's entry below keeps its own lines
_ROI_POOLING: Dict[str, FieldInfo] = {
    "pooled_h": (1, "uint32", False, None, 0, False),
    "pooled_w": (2, "uint32", False, None, 0, False),
    "spatial_scale": (3, "float", False, None, 1.0, False),
}
_SMOOTH_L1_LOSS: Dict[str, FieldInfo] = {
    "sigma": (1, "float", False, None, 1.0, False),
}
_BOX_ANNOTATOR_OHEM: Dict[str, FieldInfo] = {
    "roi_per_img": (1, "uint32", False, None, None, False),
    "ignore_label": (2, "int32", False, None, -1, False),
}
_PSROI_POOLING: Dict[str, FieldInfo] = {
    "spatial_scale": (1, "float", False, None, None, False),
    "output_dim": (2, "int32", False, None, None, False),
    "group_size": (3, "int32", False, None, None, False),
}
#: DeepLab v1's and v2's (caffe-priv's adds use_blob_size)
_DEEPLAB_INTERP: Dict[str, FieldInfo] = {
    "height": (1, "int32", False, None, 0, False),
    "width": (2, "int32", False, None, 0, False),
    "zoom_factor": (3, "int32", False, None, 1, False),
    "shrink_factor": (4, "int32", False, None, 1, False),
    "pad_beg": (5, "int32", False, None, 0, False),
    "pad_end": (6, "int32", False, None, 0, False),
}

FIELDS: Dict[str, Dict[str, Dict[str, FieldInfo]]] = {
    # rbgirshick/caffe-fast-rcnn @ 0dcd397b29507b8314e252e850518c5695efbb83, src/caffe/proto/caffe.proto
    "py-faster-rcnn": {
        "LayerParameter": {
            "roi_pooling_param": (8266711, "message", False, "py-faster-rcnn.ROIPoolingParameter", None, False),  # :388
            "smooth_l1_loss_param": (8266712, "message", False, "py-faster-rcnn.SmoothL1LossParameter", None, False),  # :391
        },
        "py-faster-rcnn.ROIPoolingParameter": _ROI_POOLING,  # :1001-1009
        "py-faster-rcnn.SmoothL1LossParameter": _SMOOTH_L1_LOSS,  # :1057-1062
    },
    # Microsoft/caffe @ ed05614cb020f782bad5cf31131c55a73697f374, src/caffe/proto/caffe.proto
    "r-fcn": {
        "LayerParameter": {
            "box_annotator_ohem_param": (150, "message", False, "r-fcn.BoxAnnotatorOHEMParameter", None, False),  # :364
            "psroi_pooling_param": (149, "message", False, "r-fcn.PSROIPoolingParameter", None, False),  # :393
            "roi_pooling_param": (147, "message", False, "r-fcn.ROIPoolingParameter", None, False),  # :399
            "smooth_l1_loss_param": (148, "message", False, "r-fcn.SmoothL1LossParameter", None, False),  # :402
        },
        "LossParameter": {  # :438-466 (PRE_FIXED is 3 here, NONE moves to 4)
            "normalization": (3, "enum", False, "r-fcn.NormalizationMode", "VALID", False),  # :459
            "pre_fixed_normalizer": (4, "float", False, None, 1.0, False),  # :465
        },
        "r-fcn.BoxAnnotatorOHEMParameter": _BOX_ANNOTATOR_OHEM,  # :522-525 (roi_per_img is `required`)
        "r-fcn.PSROIPoolingParameter": _PSROI_POOLING,  # :934-938 (all three `required`)
        "r-fcn.ROIPoolingParameter": _ROI_POOLING,  # :1083-1091
        "r-fcn.SmoothL1LossParameter": _SMOOTH_L1_LOSS,  # :1150-1155
    },
    # daijifeng001/caffe-rfcn @ 543f8f6a4b7c88256ea1445ae951a12d1ad9cffd, src/caffe/proto/caffe.proto
    "r-fcn-matlab": {
        "LayerParameter": {
            "box_annotator_ohem_param": (10000, "message", False, "r-fcn-matlab.BoxAnnotatorOHEMParameter", None, False),  # :364
            "psroi_pooling_param": (10001, "message", False, "r-fcn-matlab.PSROIPoolingParameter", None, False),  # :393
            "roi_pooling_param": (8266711, "message", False, "r-fcn-matlab.ROIPoolingParameter", None, False),  # :398
            "smooth_l1_loss_param": (8266712, "message", False, "r-fcn-matlab.SmoothL1LossParameter", None, False),  # :401
        },
        "LossParameter": {  # :435-463 (PRE_FIXED is 3 here, NONE moves to 4)
            "normalization": (3, "enum", False, "r-fcn-matlab.NormalizationMode", "VALID", False),  # :456
            "pre_fixed_normalizer": (4, "float", False, None, 1.0, False),  # :462
        },
        "r-fcn-matlab.BoxAnnotatorOHEMParameter": _BOX_ANNOTATOR_OHEM,  # :519-522 (roi_per_img is `required`)
        "r-fcn-matlab.PSROIPoolingParameter": _PSROI_POOLING,  # :931-935 (all three `required`)
        "r-fcn-matlab.ROIPoolingParameter": _ROI_POOLING,  # :1097-1105
        "r-fcn-matlab.SmoothL1LossParameter": _SMOOTH_L1_LOSS,  # :1116-1121
    },
    # soeaver/py-RFCN-priv @ ec89b8656c750454c0cbfc64b630fcb4a95d2129, caffe-priv/src/caffe/proto/caffe.proto
    "caffe-priv": {
        "LayerParameter": {
            "interp_param": (20001, "message", False, "caffe-priv.InterpParameter", None, False),  # :390
            "roi_pooling_param": (147, "message", False, "caffe-priv.ROIPoolingParameter", None, False),  # :422
            "smooth_l1_loss_param": (150, "message", False, "caffe-priv.SmoothL1LossParameter", None, False),  # :426
        },
        "PoolingParameter": {
            "ceil_mode": (13, "bool", False, None, True, False),  # :1185
        },
        "caffe-priv.InterpParameter": {  # :965-973
            "height": (1, "int32", False, None, 0, False),
            "width": (2, "int32", False, None, 0, False),
            "zoom_factor": (3, "int32", False, None, 1, False),
            "shrink_factor": (4, "int32", False, None, 1, False),
            "pad_beg": (5, "int32", False, None, 0, False),
            "pad_end": (6, "int32", False, None, 0, False),
            "use_blob_size": (7, "bool", False, None, False, False),
        },
        "caffe-priv.SmoothL1LossParameter": _SMOOTH_L1_LOSS,  # :1447-1452
        "caffe-priv.ROIPoolingParameter": _ROI_POOLING,  # :987-995
    },
    # alexgkendall/caffe-segnet @ 344c113bf1832886f1cbe9f33ffe28a3beeaf412, src/caffe/proto/caffe.proto
    "segnet": {
        "LayerParameter": {
            "bn_param": (45, "message", False, "segnet.BNParameter", None, False),  # :321
            "dense_image_data_param": (138, "message", False, "segnet.DenseImageDataParameter", None, False),  # :326
            "upsample_param": (137, "message", False, "segnet.UpsampleParameter", None, False),  # :355
        },
        "LossParameter": {  # :383-392 (field 3 is BVLC's `normalization`, which this fork lacks)
            "weight_by_label_freqs": (3, "bool", False, None, False, False),  # :390
            "class_weighting": (4, "float", True, None, None, False),  # :391
        },
        "segnet.BNParameter": {  # :426-434
            "bn_mode": (3, "enum", False, "segnet.BNMode", "LEARN", False),
            "scale_filler": (1, "message", False, _FILLER, None, False),
            "shift_filler": (2, "message", False, _FILLER, None, False),
        },
        "segnet.DenseImageDataParameter": {  # :514-536
            "source": (1, "string", False, None, None, False),
            "batch_size": (2, "uint32", False, None, None, False),
            "rand_skip": (3, "uint32", False, None, 0, False),
            "shuffle": (4, "bool", False, None, False, False),
            "new_height": (5, "uint32", False, None, 0, False),
            "new_width": (6, "uint32", False, None, 0, False),
            "is_color": (7, "bool", False, None, True, False),
            "mean_file": (8, "string", False, None, None, False),
            "root_folder": (9, "string", False, None, "", False),
            "mirror": (10, "bool", False, None, False, False),
            "crop_width": (11, "uint32", False, None, 0, False),
            "crop_height": (12, "uint32", False, None, 0, False),
        },
        "segnet.UpsampleParameter": {  # :911-929
            "scale": (1, "uint32", False, None, 2, False),
            "scale_h": (2, "uint32", False, None, None, False),
            "scale_w": (3, "uint32", False, None, None, False),
            "pad_out_h": (4, "bool", False, None, False, False),
            "pad_out_w": (5, "bool", False, None, False, False),
            "upsample_h": (6, "uint32", False, None, None, False),
            "upsample_w": (7, "uint32", False, None, None, False),
        },
    },
    # xmojiao/deeplab_v2 @ da09c8b2700e8a7fd278d53c01604957983e2876,
    # deeplab-public-ver2/src/caffe/proto/caffe.proto
    "deeplab-v2": {
        "LayerParameter": {
            "interp_param": (143, "message", False, "deeplab-v2.InterpParameter", None, False),  # :381
            "seg_accuracy_param": (144, "message", False, "deeplab-v2.SegAccuracyParameter", None, False),  # :396
        },
        "ImageDataParameter": {
            "ignore_label": (15, "int32", False, None, 255, False),  # :828
            "label_type": (16, "enum", False, "deeplab-v2.LabelType", "IMAGE", False),  # :829-834
        },
        "deeplab-v2.InterpParameter": _DEEPLAB_INTERP,  # :872-879
        "deeplab-v2.SegAccuracyParameter": {  # :1138-1148
            "metric": (1, "enum", False, "deeplab-v2.AccuracyMetric", "PixelAccuracy", False),
            "ignore_label": (2, "int32", True, None, None, False),
            "reset": (3, "bool", False, None, True, False),
        },
    },
    # weiliu89/caffe @ 4817bf8b4200b35ada8ed0dc378dceaf38c539e4, src/caffe/proto/caffe.proto; the
    # messages the base schema already has from the SSD lineage (ssd-only there) are reused as they are
    "ssd": {
        "LayerParameter": {
            "annotated_data_param": (200, "message", False, "AnnotatedDataParameter", None, False),  # :493
            "detection_evaluate_param": (205, "message", False, "DetectionEvaluateParameter", None, False),  # :502
            "detection_output_param": (204, "message", False, "DetectionOutputParameter", None, False),  # :503
            "multibox_loss_param": (201, "message", False, "MultiBoxLossParameter", None, False),  # :521
            "norm_param": (206, "message", False, "NormalizeParameter", None, False),  # :523
            "permute_param": (202, "message", False, "PermuteParameter", None, False),  # :525
            "prior_box_param": (203, "message", False, "PriorBoxParameter", None, False),  # :529
        },
        "TransformationParameter": {  # :549-581
            "resize_param": (8, "message", False, "ssd.ResizeParameter", None, False),  # :572
            "noise_param": (9, "message", False, "NoiseParameter", None, False),  # :574
            "distort_param": (13, "message", False, "ssd.DistortionParameter", None, False),  # :576
            "expand_param": (14, "message", False, "ssd.ExpansionParameter", None, False),  # :578
            "emit_constraint": (10, "message", False, "EmitConstraint", None, False),  # :580
        },
        "AnnotatedDataParameter": {
            "anno_type": (3, "enum", False, "AnnotationType", None, False),  # :764
        },
        "DetectionEvaluateParameter": {
            "resize_param": (6, "message", False, "ssd.ResizeParameter", None, False),  # :969
        },
        "SaveOutputParameter": {
            "resize_param": (7, "message", False, "ssd.ResizeParameter", None, False),  # :1004
        },
        "ssd.ResizeParameter": {  # :584-621 (the enums are the base schema's, same values)
            "prob": (1, "float", False, None, 1.0, False),
            "resize_mode": (2, "enum", False, "Resize_mode", "WARP", False),
            "height": (3, "uint32", False, None, 0, False),
            "width": (4, "uint32", False, None, 0, False),
            "height_scale": (8, "uint32", False, None, 0, False),
            "width_scale": (9, "uint32", False, None, 0, False),
            "pad_mode": (5, "enum", False, "Pad_mode", "CONSTANT", False),
            "pad_value": (6, "float", True, None, None, False),
            "interp_mode": (7, "enum", True, "Interp_mode", None, False),
        },
        "ssd.DistortionParameter": {  # :668-697
            "brightness_prob": (1, "float", False, None, 0.0, False),
            "brightness_delta": (2, "float", False, None, 0.0, False),
            "contrast_prob": (3, "float", False, None, 0.0, False),
            "contrast_lower": (4, "float", False, None, 0.0, False),
            "contrast_upper": (5, "float", False, None, 0.0, False),
            "hue_prob": (6, "float", False, None, 0.0, False),
            "hue_delta": (7, "float", False, None, 0.0, False),
            "saturation_prob": (8, "float", False, None, 0.0, False),
            "saturation_lower": (9, "float", False, None, 0.0, False),
            "saturation_upper": (10, "float", False, None, 0.0, False),
            "random_order_prob": (11, "float", False, None, 0.0, False),
        },
        "ssd.ExpansionParameter": {  # :700-706
            "prob": (1, "float", False, None, 1.0, False),
            "max_expand_ratio": (2, "float", False, None, 1.0, False),
        },
    },
    # ydwen/caffe-face @ 48ff38e30dd303511ac6b5f9455474453fef2644, src/caffe/proto/caffe.proto
    "caffe-face": {
        "LayerParameter": {
            "center_loss_param": (147, "message", False, "caffe-face.CenterLossParameter", None, False),  # :365
        },
        "caffe-face.CenterLossParameter": {  # :1402-1409
            "num_output": (1, "uint32", False, None, None, False),
            "center_filler": (2, "message", False, _FILLER, None, False),
            "axis": (3, "int32", False, None, 1, False),
        },
    },
    # BVLC/caffe (PR #5757) @ 56f70e81e45df59551c7ab8c95ca88136f536262, src/caffe/proto/caffe.proto
    "deep-hashing-pr5757": {
        "LayerParameter": {
            "multi_label_data_param": (147, "message", False, "deep-hashing-pr5757.MultiLabelDataParameter", None, False),  # :387
            "pairwise_param": (148, "message", False, "deep-hashing-pr5757.PairwiseParameter", None, False),  # :389
            "quantization_param": (149, "message", False, "deep-hashing-pr5757.QuantizationParameter", None, False),  # :395
        },
        "deep-hashing-pr5757.MultiLabelDataParameter": {  # :870-900
            "source": (1, "string", False, None, None, False),
            "batch_size": (4, "uint32", False, None, 1, False),
            "rand_skip": (7, "uint32", False, None, 0, False),
            "shuffle": (8, "bool", False, None, False, False),
            "new_height": (9, "uint32", False, None, 0, False),
            "new_width": (10, "uint32", False, None, 0, False),
            "is_color": (11, "bool", False, None, True, False),
            "scale": (2, "float", False, None, 1.0, False),
            "mean_file": (3, "string", False, None, None, False),
            "crop_size": (5, "uint32", False, None, 0, False),
            "mirror": (6, "bool", False, None, False, False),
            "root_folder": (12, "string", False, None, "", False),
            "label_num": (13, "uint32", False, None, 1, False),
        },
        "deep-hashing-pr5757.PairwiseParameter": {  # :914-916
            "threshold": (1, "float", False, None, -1.0, False),
        },
        "deep-hashing-pr5757.QuantizationParameter": {  # :973-975
            "threshold": (1, "float", False, None, -1.0, False),
        },
    },
    # BVLC/caffe (PR #6354) @ 45b564edcb062049f8bc66ef70e09c65c60ff7d5, src/caffe/proto/caffe.proto
    "warpctc-crnn-pr6354": {
        "LayerParameter": {
            "ctc_loss_param": (157, "message", False, "warpctc-crnn-pr6354.CtcLossParameter", None, False),  # :566
            "continuation_indicator_param": (158, "message", False, "warpctc-crnn-pr6354.ContinuationIndicatorParameter", None, False),  # :567
            "labelsequence_accuracy_param": (159, "message", False, "warpctc-crnn-pr6354.LabelsequenceAccuracyParameter", None, False),  # :568
        },
        "warpctc-crnn-pr6354.CtcLossParameter": {  # :2083-2087
            "alphabet_size": (1, "uint32", False, None, 0, False),
            "time_step": (3, "uint32", False, None, 0, False),
            "blank_label": (4, "int32", False, None, 0, False),
        },
        "warpctc-crnn-pr6354.ContinuationIndicatorParameter": {  # :2089-2092
            "time_step": (1, "uint32", False, None, 0, False),
            "axis": (2, "int32", False, None, 0, False),
        },
        "warpctc-crnn-pr6354.LabelsequenceAccuracyParameter": {  # :2094-2096
            "blank_label": (1, "int32", False, None, 0, False),
        },
    },
    # BVLC/caffe (PR #4780, NVIDIA's Caffe) @ aff10a010299caf2b7535abd827ad8b72d35a4f4, src/caffe/proto/caffe.proto
    "detectnet-pr4780": {
        "LayerParameter": {
            "detectnet_groundtruth_param": (6801, "message", False, "detectnet-pr4780.DetectNetGroundTruthParameter", None, False),  # :418
            "detectnet_augmentation_param": (6802, "message", False, "detectnet-pr4780.DetectNetAugmentationParameter", None, False),  # :419
        },
        "detectnet-pr4780.DetectNetGroundTruthParameter": {  # :445-482
            "stride": (1, "uint32", False, None, 4, False),
            "scale_cvg": (2, "float", False, None, 0.5, False),
            "gridbox_type": (3, "enum", False, "detectnet-pr4780.GridboxType", "GRIDBOX_MAX", False),
            "max_cvg_len": (4, "uint32", False, None, 50, False),
            "min_cvg_len": (5, "uint32", False, None, 50, False),
            "coverage_type": (7, "enum", False, "detectnet-pr4780.CoverageType", "RECTANGULAR", False),
            "image_size_x": (8, "uint32", False, None, 1248, False),
            "image_size_y": (9, "uint32", False, None, 384, False),
            "obj_norm": (11, "bool", False, None, False, False),
            "crop_bboxes": (12, "bool", False, None, True, False),
            "object_class": (13, "message", True, "detectnet-pr4780.ClassMapping", None, False),
        },
        "detectnet-pr4780.ClassMapping": {  # :477-480 (both fields are `required`)
            "src": (1, "uint32", False, None, None, False),
            "dst": (2, "uint32", False, None, None, False),
        },
        "detectnet-pr4780.DetectNetAugmentationParameter": {  # :486-516
            "crop_prob": (1, "float", False, None, 1.0, False),
            "shift_x": (2, "uint32", False, None, 0, False),
            "shift_y": (3, "uint32", False, None, 0, False),
            "scale_prob": (4, "float", False, None, 0.33, False),
            "scale_min": (5, "float", False, None, 0.7, False),
            "scale_max": (6, "float", False, None, 1.0, False),
            "flip_prob": (7, "float", False, None, 0.33, False),
            "rotation_prob": (8, "float", False, None, 0.33, False),
            "max_rotate_degree": (9, "float", False, None, 1.0, False),
            "hue_rotation_prob": (10, "float", False, None, 0.33, False),
            "hue_rotation": (11, "float", False, None, 15.0, False),
            "desaturation_prob": (12, "float", False, None, 0.33, False),
            "desaturation_max": (13, "float", False, None, 0.5, False),
        },
    },
    # intel/caffe @ 44d536385dc41804a673c527b4c2df2675770dff, src/caffe/proto/caffe.proto
    "intel-caffe": {
        "LayerParameter": {
            "reorg_param": (159, "message", False, "intel-caffe.ReorgParameter", None, False),  # :624
            "region_loss_param": (209, "message", False, "intel-caffe.RegionLossParameter", None, False),  # :625
        },
        "NetParameter": {
            "bn_stats_batch_size": (11, "uint32", False, None, 0, False),  # :213
        },
        "DataParameter": {
            "shuffle": (11, "bool", False, None, False, False),  # :1207
        },
        "intel-caffe.ReorgParameter": {  # :1085-1088
            "stride": (1, "uint32", False, None, None, False),
            "reverse": (2, "bool", False, None, False, False),
        },
        "intel-caffe.RegionLossParameter": {  # :630-651
            "side": (1, "uint32", False, None, 13, False),
            "num_class": (2, "uint32", False, None, 20, False),
            "bias_match": (3, "uint32", False, None, 1, False),
            "coords": (4, "uint32", False, None, 4, False),
            "num": (5, "uint32", False, None, 5, False),
            "softmax": (6, "uint32", False, None, 1, False),
            "jitter": (7, "float", False, None, 0.2, False),
            "rescore": (8, "uint32", False, None, 1, False),
            "object_scale": (9, "float", False, None, 1.0, False),
            "class_scale": (10, "float", False, None, 1.0, False),
            "noobject_scale": (11, "float", False, None, 0.5, False),
            "coord_scale": (12, "float", False, None, 5.0, False),
            "absolute": (13, "uint32", False, None, 1, False),
            "thresh": (14, "float", False, None, 0.2, False),
            "random": (15, "uint32", False, None, 1, False),
            "biases": (16, "float", True, None, None, False),
            "softmax_tree": (17, "string", False, None, None, False),
            "class_map": (18, "string", False, None, None, False),
        },
    },
    # BVLC/caffe @ 5c2e37c5781b04b6b48de267ed9429e2514e50c0 (PR #6660), src/caffe/proto/caffe.proto
    "cifar-gan-pr6660": {
        "LayerParameter": {
            "randvec_param": (150, "message", False, "cifar-gan-pr6660.RandVecParameter", None, False),  # :424
        },
        "cifar-gan-pr6660.RandVecParameter": {  # :427-434
            "batch_size": (1, "uint32", False, None, 1, False),
            "dim": (2, "uint32", False, None, 128, False),
            "lower": (3, "float", False, None, -1.0, False),
            "upper": (4, "float", False, None, 1.0, False),
            "height": (6, "uint32", False, None, 1, False),
            "width": (7, "uint32", False, None, 1, False),
        },
    },
    # BVLC/caffe @ 95b75eff15d7410236d8d0d0b7ffe01d2e08e76a (PR #3422), src/caffe/proto/caffe.proto
    "triplet-loss-pr3422": {
        "LayerParameter": {
            "triplet_loss_param": (140, "message", False, "triplet-loss-pr3422.TripletLossParameter",
                                   None, False),  # :393
        },
        "triplet-loss-pr3422.TripletLossParameter": {  # :495-498
            "margin": (1, "float", False, None, 0.2, False),
        },
    },
    # BVLC/caffe @ 86f5cc0fd0497cbf347aa08bcd304be8e7014d6d (PR #6194), src/caffe/proto/caffe.proto
    "saliency-pooling-pr6194": {
        "LayerParameter": {
            "saliency_pooling_param": (147, "message", False, "saliency-pooling-pr6194.SaliencyPoolingParameter",
                                       None, False),  # :399
        },
        "saliency-pooling-pr6194.SaliencyPoolingParameter": {  # :1420-1441
            "engine": (1, "enum", False, "saliency-pooling-pr6194.Engine", "DEFAULT", False),
            "kernel_size": (2, "uint32", False, None, None, False),
            "stride": (3, "uint32", False, None, 1, False),
            "pad": (4, "uint32", False, None, 0, False),
            "kernel_h": (5, "uint32", False, None, None, False),
            "kernel_w": (6, "uint32", False, None, None, False),
            "stride_h": (7, "uint32", False, None, None, False),
            "stride_w": (8, "uint32", False, None, None, False),
            "pad_h": (9, "uint32", False, None, 0, False),
            "pad_w": (10, "uint32", False, None, 0, False),
            "global_pooling": (12, "bool", False, None, False, False),
        },
    },
    # BVLC/caffe @ 27d3a38ed99861474443202f63abbb6717693854 (PR #5906), src/caffe/proto/caffe.proto
    "yolo-pr5906": {
        "LayerParameter": {
            "yolo_detection_output_param": (204, "message", False, "yolo-pr5906.YoloDetectionOutputParameter",
                                            None, False),  # :491
        },
        "yolo-pr5906.YoloDetectionOutputParameter": {  # :862-875
            "side": (1, "uint32", False, None, 13, False),
            "num_classes": (2, "uint32", False, None, 20, False),
            "num_box": (3, "uint32", False, None, 5, False),
            "coords": (4, "uint32", False, None, 4, False),
            "confidence_threshold": (5, "float", False, None, 0.01, False),
            "nms_threshold": (6, "float", False, None, 0.45, False),
            "biases": (7, "float", True, None, None, False),
            "label_map_file": (8, "string", False, None, None, False),
            "visualize": (9, "bool", False, None, False, False),
            "visualize_threshold": (10, "float", False, None, 0.4, False),
            "save_file": (11, "string", False, None, None, False),
        },
    },
    # BVLC/caffe @ 5ab03d3d1f80be6657e457a7ebfb917e32161944 (PR #5630), src/caffe/proto/caffe.proto
    "crf-rnn-pr5630": {
        "LayerParameter": {
            "multi_stage_meanfield_param": (1000, "message", False, "crf-rnn-pr5630.MultiStageMeanfieldParameter",
                                            None, False),  # :408
        },
        "crf-rnn-pr5630.MultiStageMeanfieldParameter": {  # :464-481 (theta_* and num_iterations are `required`)
            "compatibility_mode": (1, "enum", False, "crf-rnn-pr5630.Mode", "POTTS", False),
            "threshold": (2, "float", False, None, None, False),
            "theta_alpha": (3, "float", False, None, 10.0, False),
            "theta_beta": (4, "float", False, None, 10.0, False),
            "theta_gamma": (5, "float", False, None, 10.0, False),
            "num_iterations": (6, "uint32", False, None, 1, False),
            "spatial_filter_weights_str": (19, "string", False, None, "", False),
            "bilateral_filter_weights_str": (20, "string", False, None, "", False),
            "force_cpu": (29, "bool", False, None, False, False),
        },
    },
    # BVLC/caffe (PR #5779) @ 3c47898f7263c35385d7f0c153fda8f3352d5a02, src/caffe/proto/caffe.proto
    "iqa-cnn-pr5779": {
        "DropoutParameter": {
            "scale_test": (2, "bool", False, None, False, False),  # :671
        },
    },
    # corenel/deeplab-public @ ad566e9a4d3b1c4ea8a23cf8f2f4430c57f65e43, src/caffe/proto/caffe.proto. The fork's
    # LayerParameter is V1-shaped (`layers`, enum types); its own sub-messages are kept under both names
    "deeplab-v1": {
        "V1LayerParameter": {
            "interp_param": (43, "message", False, "deeplab-v1.InterpParameter", None, False),  # :348
            "seg_accuracy_param": (42, "message", False, "deeplab-v1.SegAccuracyParameter", None, False),  # :359
            "softmaxloss_param": (44, "message", False, "deeplab-v1.SoftmaxLossParameter", None, False),  # :362
            "strict_dim": (1003, "bool", False, None, True, False),  # :310
        },
        "LayerParameter": {
            "interp_param": (43, "message", False, "deeplab-v1.InterpParameter", None, False),
            "seg_accuracy_param": (42, "message", False, "deeplab-v1.SegAccuracyParameter", None, False),
            "softmaxloss_param": (44, "message", False, "deeplab-v1.SoftmaxLossParameter", None, False),
            "strict_dim": (1003, "bool", False, None, True, False),
        },
        "ConvolutionParameter": {  # :520-522 (what BVLC later called dilation)
            "hole": (17, "uint32", False, None, 1, False),
            "hole_h": (18, "uint32", False, None, 1, False),
            "hole_w": (19, "uint32", False, None, 1, False),
        },
        "ImageDataParameter": {  # :683-689,702-703
            "has_label": (13, "bool", False, None, True, False),
            "max_labels": (14, "int32", False, None, 1, False),
            "ignore_label": (15, "int32", False, None, 255, False),
            "label_type": (16, "enum", False, "deeplab-v1.LabelType", "IMAGE", False),
        },
        "deeplab-v1.InterpParameter": _DEEPLAB_INTERP,  # :713-720
        "deeplab-v1.SegAccuracyParameter": {  # :405-414
            "metric": (1, "enum", False, "deeplab-v1.AccuracyMetric", "PixelAccuracy", False),
            "ignore_label": (2, "int32", True, None, None, False),
            "reset": (3, "bool", False, None, True, False),
        },
        "deeplab-v1.SoftmaxLossParameter": {  # :418-423
            "weight_source": (16, "string", False, None, None, False),
            "ignore_label": (2, "int32", True, None, None, False),
        },
    },
    # BVLC/caffe @ 8676239736d6079c48a75d08771e7b1f6197ee4b (PR #3568), src/caffe/proto/caffe.proto
    "rbm-pr3568": {
        "LayerParameter": {
            "rbm_inner_product_param": (145, "message", False, "rbm-pr3568.RBMInnerProductParameter",
                                        None, False),  # :392
        },
        "rbm-pr3568.RBMInnerProductParameter": {  # :927-958
            "forward_is_update": (1, "bool", False, None, True, False),
            "connection_layer_param": (2, "message", False, "LayerParameter", None, False),
            "hidden_activation_layer_param": (3, "message", False, "LayerParameter", None, False),
            "hidden_sampling_layer_param": (4, "message", False, "LayerParameter", None, False),
            "visible_activation_layer_param": (5, "message", False, "LayerParameter", None, False),
            "visible_sampling_layer_param": (6, "message", False, "LayerParameter", None, False),
            "visible_bias_term": (7, "bool", False, None, True, False),
            "sample_steps_in_update": (8, "uint32", False, None, 1, False),
            "visible_bias_filler": (9, "message", False, _FILLER, None, False),
            "loss_measure": (10, "enum", True, "rbm-pr3568.LossMeasure", None, False),
        },
    },
}

ENUMS: Dict[str, Dict[str, Dict[str, int]]] = {
    "r-fcn": {
        "r-fcn.NormalizationMode": {"FULL": 0, "VALID": 1, "BATCH_SIZE": 2, "PRE_FIXED": 3, "NONE": 4},  # :444-458
    },
    "r-fcn-matlab": {
        "r-fcn-matlab.NormalizationMode": {"FULL": 0, "VALID": 1, "BATCH_SIZE": 2, "PRE_FIXED": 3, "NONE": 4},  # :441-455
    },
    "segnet": {
        "segnet.BNMode": {"LEARN": 0, "INFERENCE": 1},  # :427-430
    },
    "detectnet-pr4780": {
        "detectnet-pr4780.GridboxType": {"GRIDBOX_MAX": 0, "GRIDBOX_MIN": 1},  # :450-453
        "detectnet-pr4780.CoverageType": {"RECTANGULAR": 0},  # :462-464
    },
    "deeplab-v2": {
        "deeplab-v2.LabelType": {"NONE": 0, "IMAGE": 1, "PIXEL": 2},  # :829-833
        "deeplab-v2.AccuracyMetric": {"PixelAccuracy": 0, "ClassAccuracy": 1, "PixelIOU": 2},  # :1139-1143
    },
    "saliency-pooling-pr6194": {
        "saliency-pooling-pr6194.Engine": {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2},  # :1432-1436
    },
    "crf-rnn-pr5630": {
        "crf-rnn-pr5630.Mode": {"POTTS": 0},  # :465-467
    },
    "deeplab-v1": {
        "deeplab-v1.LabelType": {"NONE": 0, "IMAGE": 1, "PIXEL": 2},  # :684-688
        "deeplab-v1.AccuracyMetric": {"PixelAccuracy": 0, "ClassAccuracy": 1, "PixelIOU": 2},  # :406-410
    },
    "rbm-pr3568": {
        "rbm-pr3568.LossMeasure": {"RECONSTRUCTION": 0, "FREE_ENERGY": 1},  # :952-955
    },
}

ENUM_VALUES: Dict[str, Dict[str, Dict[str, int]]] = {
    # BVLC/caffe (PR #5779) @ 3c47898f7263c35385d7f0c153fda8f3352d5a02, src/caffe/proto/caffe.proto:896
    "iqa-cnn-pr5779": {
        "PoolingParameter.PoolMethod": {"MIN": 3},
    },
    # corenel/deeplab-public @ ad566e9a4d3b1c4ea8a23cf8f2f4430c57f65e43, src/caffe/proto/caffe.proto:264,267,280
    # (39 is BVLC's DECONVOLUTION, which this fork lacks: by number, text keeps BVLC's meaning)
    "deeplab-v1": {
        "LayerType": {"IMAGE_SEG_DATA": 39, "INTERP": 41, "SEG_ACCURACY": 40},
    },
}

#: The fork has no V1 -> V2 upgrade (V1 is its native format: its layer factory maps each enum value to a
#: class, REGISTER_LAYER_CLASS(INTERP, InterpLayer)); we upgrade to the names DeepLab v2 gave the same classes.
V1_LAYER_TYPES: Dict[str, Dict[str, str]] = {
    "deeplab-v1": {"IMAGE_SEG_DATA": "ImageSegData", "INTERP": "Interp", "SEG_ACCURACY": "SegAccuracy"},
}

V1_CARRIED_FIELDS: Dict[str, Tuple[str, ...]] = {
    "deeplab-v1": ("interp_param", "seg_accuracy_param", "softmaxloss_param", "strict_dim"),
}

_FRCNN = "rbgirshick/caffe-fast-rcnn"
#: (enum, value) -> why no Caffe reads it and what to write instead; one line each
NEVER_PUBLISHED: Dict[Tuple[str, str], str] = {
    # `git log --all -S ROI_POOLING` over all 4,114 commits of the fork finds nothing
    ("LayerType", "ROI_POOLING"): (
        f"no published caffe-fast-rcnn ({_FRCNN}, all branches) ever had the V1 layer type ROI_POOLING: "
        "ROI pooling came as the string type \"ROIPooling\" (512ea33457a7552ed60ec13bc31b2b6543f6e880, "
        "2015-03-09), so no Caffe reads this V1 layer; rewrite it in the `layer {}` format as "
        "type: \"ROIPooling\" with roi_pooling_param { pooled_h pooled_w spatial_scale } "
        "(and --pack py-faster-rcnn)"
    ),
    # cae9aaced2228b12f0ca17b27537d6ab2e7622e7 src/caffe/proto/caffe.proto:812 adds it, its
    # src/caffe/util/upgrade_proto.cpp:920-921 has no case for it (LOG(FATAL)); 512ea334 removes it
    ("LayerType", "SMOOTH_L1_LOSS"): (
        f"the V1 layer type SMOOTH_L1_LOSS existed only in {_FRCNN}@cae9aace, whose V1 upgrade has no "
        "case for it (\"Unknown V1LayerParameter layer type\"), and was removed the same day by 512ea334, "
        "so no Caffe reads this V1 layer; rewrite it in the `layer {}` format as type: \"SmoothL1Loss\" "
        "(and --pack py-faster-rcnn)"
    ),
}


def pack_message(name: str) -> Optional[Dict[str, FieldInfo]]:
    """The fields of a pack's own message (``<pack>.<Name>``), or None."""
    pack = name.split(".", 1)[0]
    return FIELDS.get(pack, {}).get(name) if "." in name else None


def enum_values_added(packs: Tuple[str, ...]) -> Dict[str, Dict[str, int]]:
    """Base enum -> the values ``packs`` add to it (the first pack listed wins a name)."""
    added: Dict[str, Dict[str, int]] = {}
    for pack in packs:
        for enum, values in ENUM_VALUES.get(pack, {}).items():
            for name, number in values.items():
                added.setdefault(enum, {}).setdefault(name, number)
    return added


def packs_adding_value(enum: str, value: str) -> List[str]:
    """The packs that add ``value`` to the base enum ``enum``."""
    return [pack for pack, enums in ENUM_VALUES.items() if value in enums.get(enum, {})]


def pack_enum(name: str) -> Optional[Dict[str, int]]:
    """The values of a pack's own enum (``<pack>.<Name>``), or None."""
    pack = name.split(".", 1)[0]
    return ENUMS.get(pack, {}).get(name) if "." in name else None
