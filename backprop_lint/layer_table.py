"""Everything backprop-lint knows about Caffe layer types, in one table.

One row per layer type and flavour. Each row cites the Caffe source it comes
from: ``U:`` is BVLC/caffe at 9b89154 (the last upstream commit), ``L:`` is
the SSD-lineage tree of the PyPI sdist brocolli-caffe 9.0.2 (the oracle).

The simulation asks this table, and nothing else, about a layer type.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Dict, FrozenSet, Optional, Tuple

from .model import Message

BVLC = "bvlc"
SSD = "ssd"
FLAVORS: Tuple[str, ...] = (BVLC, SSD)


class Backward(Enum):
    """What a layer's Backward does to one bottom's diff."""

    #: writes the bottom diff only when propagate_down[j] (bottom_need_backward) is set
    RESPECTS_PD = "respects propagate_down"
    #: writes the bottom diff whenever the layer runs backward, whatever propagate_down says
    IGNORES_PD = "writes the bottom diff whatever propagate_down says"
    #: never writes this bottom's diff
    NEVER = "never writes this bottom's diff"
    #: aborts (CHECK / NOT_IMPLEMENTED) when propagate_down[j] is set
    ABORTS_IF_PD = "aborts when asked for this bottom's gradient"
    #: aborts whenever Backward is called
    ABORTS = "aborts whenever Backward runs"
    #: writes zeros into the bottom diff when propagate_down[j] (Silence)
    ZEROES = "zeroes the bottom diff"


@dataclass(frozen=True)
class Count:
    """A blob-count constraint as CheckBlobCounts applies it (-1: none)."""

    exact: int = -1
    min: int = -1
    max: int = -1

    def allows(self, n: int) -> bool:
        if self.exact >= 0 and n != self.exact:
            return False
        if self.min >= 0 and n < self.min:
            return False
        if self.max >= 0 and n > self.max:
            return False
        return True


ANY = Count()

#: params(layer_param, n_bottoms) -> number of learnable blobs, None when unknowable
ParamCount = Callable[[Message, int], Optional[int]]
#: backward(j, n_bottoms, layer_param) -> what Backward does to bottom j
BottomBackward = Callable[[int, int, Message], Backward]


@dataclass(frozen=True)
class LayerInfo:
    type: str
    flavors: FrozenSet[str]
    bottoms: Count
    tops: Count
    #: number of learnable parameter blobs for a fresh prototxt
    params: ParamCount
    #: how Backward treats bottom j
    backward: BottomBackward
    citation: str
    #: a LossLayer subclass: AutoTopBlobs, default loss_weight 1 on top 0
    is_loss: bool = False
    #: bottoms j where AllowForceBackward(j) is False
    no_force_backward: Callable[[int, int], bool] = lambda j, n: False
    in_place_allowed: bool = True
    #: CheckBlobCounts' EqualNumBottomTopBlobs
    equal_bottom_top: bool = False
    #: top diff IS the bottom diff (Reshape; Concat with one bottom; Slice with one top; Flatten)
    aliases_diff: Callable[[Message, int, int], bool] = lambda p, nb, nt: False
    #: the top shares data and diff with the parameter blob (Parameter)
    top_aliases_param: bool = False
    #: Backward never writes parameter diffs even though the layer owns blobs (BatchNorm)
    writes_param_diff: bool = True
    #: the layer's type exists but its Backward is not implemented on CPU for some
    #: configuration (e.g. STOCHASTIC pooling); checked in aborts()
    notes: str = ""
    #: extra per-type load-time checks: check(layer_param, n_bottoms, n_tops, flavor)
    #: -> None, or Caffe's refusal message
    check: Optional[Callable[[Message, int, int], Optional[str]]] = None


def layer_info(type_name: str, flavor: str) -> Optional[LayerInfo]:
    """The row for ``type_name`` in ``flavor``; None when that Caffe does not register it."""
    return _BY_FLAVOR[flavor].get(type_name)


_ROWS: Tuple[LayerInfo, ...] = ()  # filled below

_BY_FLAVOR: Dict[str, Dict[str, LayerInfo]] = {f: {} for f in FLAVORS}
