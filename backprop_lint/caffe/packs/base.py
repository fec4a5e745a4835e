"""What every pack module builds on: the ``Pack`` record and small row builders."""
from __future__ import annotations

from backprop_lint.caffe.layer_table import FLAVORS, Backward, Count, LayerInfo
from backprop_lint.caffe.model import Message
from backprop_lint.caffe.records import FrozenRecord
from backprop_lint.caffe.schema import packs as pack_schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

    from backprop_lint.caffe.layer_table import BottomBackward, ParamCount

ANY = Count()
ZERO = Count(exact=0)
ONE = Count(exact=1)
TWO = Count(exact=2)
#: LossLayer::ExactNumTopBlobs (1), unless a row says otherwise
LOSS_TOPS = ONE


class Pack(FrozenRecord):
    """A fork's layer pack: its rows, and where their citations point."""

    __slots__ = ("name", "fork", "repository", "commit", "root", "summary", "rows")
    name: str
    #: what users call the fork
    fork: str
    #: owner/name on GitHub
    repository: str
    #: the 40-hex commit every citation refers to
    commit: str
    #: folder of the Caffe tree inside the repository ("" at its root)
    root: str
    summary: str
    rows: Tuple[LayerInfo, ...]

    def __init__(self, name: str, fork: str, repository: str, commit: str, root: str, summary: str,
                 rows: Tuple[LayerInfo, ...]) -> None:
        self._set(name, fork, repository, commit, root, summary, rows)

    @property
    def types(self) -> List[str]:
        return [row.type for row in self.rows]

    def source(self) -> str:
        """Where the citations point: repository@commit, and the Caffe tree's folder."""
        where = f"{self.repository}@{self.commit}"
        return f"{where} ({self.root})" if self.root else where

    def schema_fields(self) -> Dict[str, List[str]]:
        """The fork's caffe.proto additions this pack knows: message -> field names."""
        return {message: sorted(fields) for message, fields in pack_schema.FIELDS.get(self.name, {}).items()}

    def enum_values(self) -> Dict[str, List[str]]:
        """The values the fork adds to enums of Caffe's caffe.proto: enum -> value names."""
        return {enum: list(values) for enum, values in pack_schema.ENUM_VALUES.get(self.name, {}).items()}

    def v1_layer_types(self) -> Dict[str, str]:
        """The fork's own V1 layer-type enum values -> the type names they upgrade to with the pack on."""
        return dict(pack_schema.V1_LAYER_TYPES.get(self.name, {}))



def row(type_name: str, bottoms: Count, tops: Count, params: ParamCount, backward: BottomBackward,
        citation: str, **extra: Any) -> LayerInfo:
    """A pack row: it applies whichever flavour the net is read as."""
    return LayerInfo(type=type_name, flavors=frozenset(FLAVORS), bottoms=bottoms, tops=tops,
                     params=params, backward=backward, citation=citation, **extra)


def loss_row(type_name: str, bottoms: Count, tops: Count, backward: BottomBackward, citation: str,
             **extra: Any) -> LayerInfo:
    """A LossLayer subclass: AutoTopBlobs, loss_weight 1 on top 0 by default, no learnable blobs."""
    return row(type_name, bottoms, tops, preloaded_or(0), backward, citation, is_loss=True, **extra)


def preloaded_or(n: int) -> ParamCount:
    """``n`` learnable blobs, unless the LayerParameter embeds blobs (LayerSetUp keeps those)."""

    def count(layer_param: Message, n_bottoms: int) -> Optional[int]:
        return len(layer_param.repeated("blobs")) or n

    return count


def weights_and_bias(sub: str, bias_default: bool = True) -> ParamCount:
    """A weight blob, plus a bias blob when ``<sub>.bias_term`` is true."""

    def count(layer_param: Message, n_bottoms: int) -> Optional[int]:
        sub_message = layer_param.fields.get(sub)
        bias = sub_message.fields.get("bias_term", bias_default) if sub_message is not None else bias_default
        return len(layer_param.repeated("blobs")) or 1 + (1 if bias else 0)

    return count


def rois_pooling_row(type_name: str, citation: str, notes: str) -> LayerInfo:
    """Fast R-CNN's ROIPooling contract, which every fork copying it (and R-FCN's PSROIPooling) keeps.

    Features and rois in (exactly two bottoms), one top, no learnable blobs;
    Backward writes the features' gradient when asked and never the rois'.
    What a fork's CPU and GPU paths do differently goes in ``notes``.
    """
    return row(type_name, Count(min=2, max=2), Count(min=1, max=1), preloaded_or(0),
               per_bottom({1: Backward.NEVER}, Backward.RESPECTS_PD), citation, notes=notes)


def same(behaviour: Backward) -> BottomBackward:
    return lambda j, n, p: behaviour


def per_bottom(cases: Mapping[int, Backward], default: Backward) -> BottomBackward:
    return lambda j, n, p: cases.get(j, default)


def first_bottoms(k: int, behaviour: Backward, rest: Backward) -> BottomBackward:
    """Bottoms 0..k-1 behave as ``behaviour``, the others as ``rest``."""
    return lambda j, n, p: behaviour if j < k else rest


def always(j: int, n: int) -> bool:
    return True


def never(j: int, n: int) -> bool:
    return False


def label_bottom(j: int, n: int) -> bool:
    """LossLayer::AllowForceBackward: bottom 1 (the label) is never forced."""
    return j == 1


def params_always_written(indexes: Iterable[int]) -> Any:
    fixed: FrozenSet[int] = frozenset(indexes)
    return lambda layer_param: fixed


def smooth_l1_weights_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    """SmoothL1Loss's setup CHECK in py-faster-rcnn and the forks that copied it (R-FCN, caffe-priv):
    with weights, both inside and outside weights (4 bottoms); each pack's row cites its own copy."""
    if n_bottoms >= 3 and n_bottoms != 4:
        return (f"Check failed: bottom.size() == 4 ({n_bottoms} vs. 4) "
                "If weights are used, must specify both inside and outside weights")
    return None


def sub_value(layer_param: Message, sub: str, field: str, default: Any) -> Any:
    """``layer_param.<sub>.<field>`` as set in the file, else the fork's default."""
    sub_message = layer_param.fields.get(sub)
    if sub_message is None:
        return default
    return sub_message.fields.get(field, default)
