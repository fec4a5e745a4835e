"""BVLC/caffe PR #5779: the image-quality CNN (IQA-CNN) with MIN pooling and an SVR loss.

The PR adds ``MIN = 3`` to ``PoolingParameter.PoolMethod`` (an enum value,
``caffe/schema/packs.py`` ``ENUM_VALUES``), so its Pooling row replaces Caffe's
while the pack is on: MIN pooling keeps an argmin mask like MAX keeps its argmax
(``min_idx_``, or the optional second top) and Backward routes each top diff to
that one bottom element.
"""
from __future__ import annotations

from backprop_lint.caffe.layer_table import FLAVORS, Count, layer_info
from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import LOSS_TOPS, TWO, Backward, Pack, label_bottom, loss_row, per_bottom

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple


def _pooling_counts(layer_param: Message) -> Tuple[Count, Count]:
    """MaxTopBlobs: 2 (the mask) for MAX and MIN, 1 otherwise."""
    masked = layer_param.get("pooling_param").get("pool") in ("MAX", "MIN")
    return Count(exact=1), Count(min=1, max=2 if masked else 1)


_CAFFE_POOLING = layer_info("Pooling", "bvlc")
assert _CAFFE_POOLING is not None

PACK = Pack(
    name="iqa-cnn-pr5779",
    fork="BVLC/caffe PR #5779 (IQA-CNN)",
    repository="BVLC/caffe",
    commit="3c47898f7263c35385d7f0c153fda8f3352d5a02",
    root="",
    summary="MIN pooling (Pooling with pool: MIN) and SVRLoss of the image-quality CNN",
    rows=(
        # Caffe's Pooling row (checks, engine, STOCHASTIC aborting, Backward) with the PR's top counts
        _CAFFE_POOLING._replace(
            flavors=frozenset(FLAVORS),
            counts_of=_pooling_counts,
            citation="include/caffe/layers/pooling_layer.hpp:28-37; src/caffe/layers/pooling_layer.cpp:17-75,"
                     "108-123,194-241,284-290,326-352,382-387",
            notes="MIN works as MAX with the comparison reversed: an argmin mask (min_idx_ or top 1), "
                  "Backward adds each top diff to the one bottom element the mask names; padding is refused "
                  "for MIN as for STOCHASTIC; the mask top's diff is never read. Not modelled: with cuDNN, a "
                  "one-top MIN pooling goes to CuDNNPoolingLayer, whose descriptor knows only MAX and AVE "
                  "(src/caffe/layer_factory.cpp:87-103; include/caffe/util/cudnn.hpp:120-128)",
        ),
        loss_row("SVRLoss", TWO, LOSS_TOPS, per_bottom({1: Backward.NEVER}, Backward.RESPECTS_PD),
                 "include/caffe/layers/svr_loss_layer.hpp:25-32; include/caffe/layers/loss_layer.hpp:32,40-48; "
                 "src/caffe/layers/svr_loss_layer.cpp:52-75,82; src/caffe/layers/svr_loss_layer.cu:53-63",
                 no_force_backward=label_bottom,
                 notes="L1 regression loss; Backward writes the prediction (bottom 0) when asked and never "
                       "the ground-truth scores (bottom 1); AllowForceBackward is false for bottom 1"),
    ),
)
