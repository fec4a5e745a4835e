"""Layer packs: the layer types that widely used Caffe forks register, as data.

A pack is one fork at one pinned commit: rows in the layer table's own types
(``LayerInfo``: blob counts, learnable blob count, what Backward does to each
bottom, loss default) and, in ``caffe/schema/packs.py``, the fields the fork
adds to caffe.proto so that its ``*_param`` blocks parse. Every row cites the
fork's source (``path:line`` at the pack's commit).

No fork build runs here, so a pack is checked against its source, not against
a real Caffe. Where a fork's CPU path is ``NOT_IMPLEMENTED`` and only the GPU
path exists (py-faster-rcnn, R-FCN), a row describes ``Backward_gpu``: that is
the build those forks are used with. The row's ``notes`` say so.

A pack is off until the user enables it (``packs = [...]`` in the
configuration, ``--pack NAME``); with it on, its rows win over the flavour's
rows of the same type name (SegNet's ``BN``, the forks' ``Upsample``), and a
user's own ``[tool.backprop-lint.layers.TYPE]`` declaration wins over both.
"""
from __future__ import annotations

from difflib import get_close_matches

from backprop_lint.caffe.layer_table import LayerInfo
from backprop_lint.caffe.model import InputError
from backprop_lint.caffe.packs.base import Pack

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Sequence, Tuple


def _all_packs() -> Tuple[Pack, ...]:
    from backprop_lint.caffe.packs import (
        caffe_face,
        caffe_mobilenet,
        caffe_priv,
        cifar_gan_pr6660,
        crf_rnn_pr5630,
        deep_hashing_pr5757,
        deeplab_v1,
        deeplab_v2,
        detectnet_pr4780,
        hed,
        intel_caffe,
        iqa_cnn_pr5779,
        py_faster_rcnn,
        r_fcn,
        r_fcn_matlab,
        rbm_pr3568,
        saliency_pooling_pr6194,
        segnet,
        ssd,
        triplet_loss_pr3422,
        unpooling_pr3376,
        warpctc_crnn_pr6354,
        xcov_loss_pr2126,
        yolo_pr5906,
    )

    return (
        py_faster_rcnn.PACK,
        r_fcn.PACK,
        r_fcn_matlab.PACK,
        ssd.PACK,
        deeplab_v2.PACK,
        deeplab_v1.PACK,
        segnet.PACK,
        hed.PACK,
        caffe_mobilenet.PACK,
        caffe_priv.PACK,
        caffe_face.PACK,
        intel_caffe.PACK,
        deep_hashing_pr5757.PACK,
        cifar_gan_pr6660.PACK,
        warpctc_crnn_pr6354.PACK,
        xcov_loss_pr2126.PACK,
        detectnet_pr4780.PACK,
        triplet_loss_pr3422.PACK,
        unpooling_pr3376.PACK,
        saliency_pooling_pr6194.PACK,
        yolo_pr5906.PACK,
        crf_rnn_pr5630.PACK,
        iqa_cnn_pr5779.PACK,
        rbm_pr3568.PACK,
    )


PACKS: Tuple[Pack, ...] = _all_packs()
_BY_NAME: Dict[str, Pack] = {pack.name: pack for pack in PACKS}


def pack_names() -> List[str]:
    return [pack.name for pack in PACKS]


def get_pack(name: str) -> Pack:
    """The pack called ``name``; an InputError naming the packs there are otherwise."""
    pack = _BY_NAME.get(name)
    if pack is None:
        close = get_close_matches(name, pack_names(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"unknown layer pack '{name}'{hint}; packs: {', '.join(pack_names())}")
    return pack


def checked_pack_names(names: Iterable[str]) -> Tuple[str, ...]:
    """``names`` validated, duplicates dropped, order kept (the first pack listed wins a type)."""
    seen: List[str] = []
    for name in names:
        get_pack(name)
        if name not in seen:
            seen.append(name)
    return tuple(seen)


def pack_rows(names: Sequence[str]) -> Dict[str, LayerInfo]:
    """Type name -> row for the enabled packs; for a type two packs define, the first listed wins."""
    rows: Dict[str, LayerInfo] = {}
    for name in names:
        for row in get_pack(name).rows:
            rows.setdefault(row.type, row)
    return rows


def packs_providing(type_name: str) -> List[str]:
    """Names of the packs that define ``type_name``."""
    return [pack.name for pack in PACKS if type_name in pack.types]
