"""Reading a SimulatedNet the way a user thinks of it: layers, their readers, their names.

Nothing here decides anything about backward: it only finds which layer reads
which blob (looking through the Split layers Caffe inserted) so that messages
can name the user's own layers and blobs.
"""
from __future__ import annotations

from backprop_lint.caffe.layer_table import layer_info
from backprop_lint.caffe.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

    from backprop_lint.caffe.layer_table import LayerInfo
    from backprop_lint.caffe.model import ParamSpec, SimLayer, SimulatedNet
    from backprop_lint.linting.rules.base import RuleContext


class Reader(FrozenRecord):
    """Layer ``index`` reads the blob as its bottom ``bottom``."""

    __slots__ = ("index", "bottom")
    index: int
    bottom: int

    def __init__(self, index: int, bottom: int) -> None:
        self._set(index, bottom)


def row_of(net: SimulatedNet, layer: SimLayer) -> Optional[LayerInfo]:
    """The layer-table row the simulation used for ``layer`` (a pack's or a declaration
    included), or the flavour's row for its type."""
    if layer.row is not None:
        return layer.row  # type: ignore[no-any-return]
    return layer_info(layer.type, net.prepared.flavor)


def params_written_by_forward(net: SimulatedNet, layer: SimLayer) -> FrozenSet[int]:
    """Parameter blobs whose diff the layer's own Forward writes (RBMInnerProduct's update pass):
    non-zero whatever lr_mult, force_backward or the backward pass say."""
    info = row_of(net, layer)
    if info is None or layer.definition is None:
        return frozenset()
    return info.forward_writes_param_diff(layer.definition.param)


def index_of(net: SimulatedNet, layer: SimLayer) -> int:
    for i, candidate in enumerate(net.layers):
        if candidate is layer:
            return i
    raise ValueError(f"layer {layer.name!r} is not in this net")


def direct_readers(net: SimulatedNet, producer: int, blob: str) -> List[Reader]:
    """Layers reading ``blob`` as ``producer`` left it, up to the next in-place rewrite."""
    readers: List[Reader] = []
    for k in range(producer + 1, len(net.layers)):
        layer = net.layers[k]
        for j, bottom in enumerate(layer.bottoms):
            if bottom == blob:
                readers.append(Reader(k, j))
        if blob in layer.tops:
            break
    return readers


def user_readers(net: SimulatedNet, producer: int, blob: str) -> List[Reader]:
    """As ``direct_readers``, but through Split layers: the layers the user wrote."""
    readers: List[Reader] = []
    for reader in direct_readers(net, producer, blob):
        layer = net.layers[reader.index]
        if layer.is_split:
            for top in layer.tops:
                readers.extend(user_readers(net, reader.index, top))
        else:
            readers.append(reader)
    return readers


def producer_of(net: SimulatedNet, reader: int, blob: str) -> Optional[int]:
    """The layer whose top ``blob`` layer ``reader`` reads (the last writer before it)."""
    for k in range(reader - 1, -1, -1):
        if blob in net.layers[k].tops:
            return k
    return None


def user_blob_name(net: SimulatedNet, blob: str, reader: Optional[int] = None) -> str:
    """The name the user wrote for ``blob``: a split copy ``x_P_0_split_1`` is ``x``."""
    start = len(net.layers) if reader is None else reader
    for k in range(start - 1, -1, -1):
        layer = net.layers[k]
        if blob in layer.tops:
            if layer.is_split and layer.bottoms:
                return user_blob_name(net, layer.bottoms[0], k)
            return blob
    return blob


def user_bottoms(net: SimulatedNet, index: int) -> List[str]:
    """Layer ``index``'s bottoms as written in the file."""
    layer = net.layers[index]
    if layer.definition is not None and layer.definition.original_bottoms:
        return list(layer.definition.original_bottoms)
    return [user_blob_name(net, b, index) for b in layer.bottoms]


def last_writer(net: SimulatedNet, blob: str) -> Optional[int]:
    """The last layer that writes ``blob`` (the end of an in-place chain)."""
    for k in range(len(net.layers) - 1, -1, -1):
        if blob in net.layers[k].tops:
            return k
    return None


def user_layers(net: SimulatedNet) -> List[Tuple[int, SimLayer]]:
    """The layers the user wrote (Split layers left out), with their index."""
    return [(i, layer) for i, layer in enumerate(net.layers) if not layer.is_split]


def user_layers_of(ctx: RuleContext) -> List[Tuple[int, SimLayer]]:
    """``user_layers(ctx.net)``, found once per context (``ctx.memo``): every rule walks them."""
    found: Optional[List[Tuple[int, SimLayer]]] = ctx.memo.get("user_layers")
    if found is None:
        assert ctx.net is not None
        found = ctx.memo["user_layers"] = user_layers(ctx.net)
    return found


def has_loss(net: SimulatedNet) -> bool:
    return any(any(layer.loss) for layer in net.layers)  # a weight is a float: true when non-zero


def gradient_flows(net: SimulatedNet) -> bool:
    """Whether one Backward() can write any diff: a loss, or force_backward."""
    return has_loss(net) or net.prepared.force_backward


def explicit_propagate_down(layer: SimLayer, j: int) -> Optional[bool]:
    """The ``propagate_down`` the user wrote for bottom ``j``, or None."""
    definition = layer.definition
    if definition is None or j >= len(definition.propagate_down):
        return None
    return definition.propagate_down[j]


def param_specs(layer: SimLayer) -> List[ParamSpec]:
    """One ParamSpec per parameter blob, as the simulation read them."""
    return list(layer.params)


_BLOB_ROLES: Dict[str, Tuple[str, ...]] = {
    "Convolution": ("weights", "bias"),
    "Deconvolution": ("weights", "bias"),
    "InnerProduct": ("weights", "bias"),
    "Embed": ("weights", "bias"),
    "PReLU": ("slopes",),
    "Scale": ("scale", "bias"),
    "Bias": ("bias",),
    "BatchNorm": ("mean", "variance", "moving-average factor"),
}


def param_role(layer: SimLayer, p: int) -> str:
    """A readable name for parameter blob ``p``: ``weights``, ``bias``, or ``param 2``."""
    roles = _BLOB_ROLES.get(layer.type, ())
    if layer.type == "Scale" and len(layer.bottoms) == 2:
        roles = ("bias",)
    return roles[p] if p < len(roles) else f"param {p}"


def quote(name: str) -> str:
    return f"`{name}`"


#: names listed in one message at most, the rest counted: a generated net can give one blob
#: 250,000 readers, or leave as many outputs, and a message is one line
MAX_NAMES_LISTED = 20


def quoted_names(names: Sequence[str]) -> List[str]:
    """``names`` quoted for a message: the first ``MAX_NAMES_LISTED``, then how many more."""
    quoted = [quote(name) for name in names[:MAX_NAMES_LISTED]]
    if len(names) > MAX_NAMES_LISTED:
        quoted.append(f"{len(names) - MAX_NAMES_LISTED:,} more")
    return quoted


def format_number(value: float) -> str:
    """``1`` for 1.0, ``0.5`` for 0.5: numbers as the user wrote them."""
    return f"{value:g}"
