"""Which layer packs define a layer type, answered without importing the packs.

BL008 names the pack that describes a type Caffe does not know. ``caffe.packs``
knows it too (``packs_providing``), but importing it loads every pack's module
(27 modules, about 16 M instructions: a tenth of a small net's `check`); this table is
what it answers, for every type of every pack, in the packs' order.
``tests/test_packs.py`` checks that the two agree: a new pack's types go here too.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Tuple

#: layer type -> names of the packs that define it (``caffe.packs.packs_providing``)
PACKS_PROVIDING: Dict[str, Tuple[str, ...]] = {
    "AnnotatedData": ("ssd",),
    "BN": ("segnet",),
    "BernoulliSample": ("rbm-pr3568",),
    "BoxAnnotatorOHEM": ("r-fcn", "r-fcn-matlab"),
    "CenterLoss": ("caffe-face",),
    "ContinuationIndicator": ("warpctc-crnn-pr6354",),
    "ConvolutionDepthwise": ("caffe-mobilenet", "caffe-priv"),
    "CtcLoss": ("warpctc-crnn-pr6354",),
    "DenseImageData": ("segnet",),
    "DetectNetTransformation": ("detectnet-pr4780",),
    "DetectionEvaluate": ("ssd",),
    "DetectionOutput": ("ssd",),
    "ImageLabelmapData": ("hed",),
    "ImageSegData": ("deeplab-v2", "deeplab-v1"),
    "Interp": ("deeplab-v2", "deeplab-v1", "caffe-priv"),
    "L1Loss": ("detectnet-pr4780",),
    "LabelsequenceAccuracy": ("warpctc-crnn-pr6354",),
    "MultiBoxLoss": ("ssd",),
    "MultiLabelData": ("deep-hashing-pr5757",),
    "MultiStageMeanfield": ("crf-rnn-pr5630",),
    "Normalize": ("ssd",),
    "PSROIPooling": ("r-fcn", "r-fcn-matlab"),
    "PairwiseLoss": ("deep-hashing-pr5757",),
    "Permute": ("ssd",),
    "Pooling": ("iqa-cnn-pr5779",),
    "PriorBox": ("ssd",),
    "QuantizationLoss": ("deep-hashing-pr5757",),
    "RBMInnerProduct": ("rbm-pr3568",),
    "ROIPooling": ("py-faster-rcnn", "r-fcn", "r-fcn-matlab", "caffe-priv"),
    "RandVec": ("cifar-gan-pr6660",),
    "RegionLoss": ("intel-caffe",),
    "Reorg": ("intel-caffe",),
    "SVRLoss": ("iqa-cnn-pr5779",),
    "SaliencyPooling": ("saliency-pooling-pr6194",),
    "SegAccuracy": ("deeplab-v2", "deeplab-v1"),
    "SmoothL1Loss": ("py-faster-rcnn", "r-fcn", "r-fcn-matlab", "caffe-priv"),
    "SmoothL1LossOHEM": ("r-fcn",),
    "SoftmaxWithLoss": ("r-fcn-matlab",),
    "SoftmaxWithLossOHEM": ("r-fcn",),
    "TripletLoss": ("triplet-loss-pr3422",),
    "Unpooling": ("unpooling-pr3376",),
    "Upsample": ("segnet",),
    "XCovLoss": ("xcov-loss-pr2126",),
    "YoloDetectionOutput": ("yolo-pr5906",),
}
