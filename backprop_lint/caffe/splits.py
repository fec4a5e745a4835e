"""Stage 4: Caffe's ``InsertSplits`` (U:src/caffe/util/insert_splits.cpp:12-124).

When a top blob is read by two or more bottoms (an explicit non-zero
``loss_weight`` counts as one more reader), Caffe puts a ``Split`` layer right
after its producer and renames every reader's bottom to one of the split's
tops. This runs on the filtered layers, before any layer is constructed, so a
loss layer's implicit ``loss_weight: 1`` is invisible here.
"""
from __future__ import annotations

from backprop_lint.caffe.model import LayerDef, Message, NetRefused
from backprop_lint.caffe.textproto import to_float32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

    TopIndex = Tuple[int, int]  # (layer index, top index)


def split_layer_name(layer_name: str, blob_name: str, top_index: int) -> str:
    return f"{blob_name}_{layer_name}_{top_index}_split"


def split_blob_name(layer_name: str, blob_name: str, top_index: int, split_index: int) -> str:
    return f"{blob_name}_{layer_name}_{top_index}_split_{split_index}"


def insert_splits(layers: List[LayerDef]) -> List[LayerDef]:
    """The layer list with Split layers inserted and bottoms renamed, as Caffe does.

    ``layers`` are left as they are; a layer whose bottoms or loss weights change
    is a copy in the result, the others are the same objects.
    """
    # Every top of every layer is a "slot", numbered in order: who produces it and how many read it.
    slot_layers: List[int] = []
    readers: List[int] = []
    last_producer: Dict[str, int] = {}  # blob name -> slot
    # every bottom of every layer, in order: the slot it reads and its layer
    sources: List[int] = []
    source_layers: List[int] = []
    first_sources: List[int] = []  # per layer: where its bottoms start in ``sources``
    first_slots: List[int] = []  # per layer: its first top's slot
    loss_weight_of: Dict[int, float] = {}

    for i, layer in enumerate(layers):
        first_sources.append(len(sources))
        first_slots.append(len(readers))
        for blob in layer.bottoms:
            slot = last_producer.get(blob)
            if slot is None:
                raise NetRefused(
                    f"Unknown bottom blob '{blob}' (layer '{layer.name}', bottom index {layer.bottoms.index(blob)})",
                    layer=layer.name,
                    location=layer.location,
                    kind="unknown-bottom",
                )
            sources.append(slot)
            source_layers.append(i)
            readers[slot] += 1
        for blob in layer.tops:
            last_producer[blob] = len(readers)
            slot_layers.append(i)
            readers.append(0)
        for j in range(min(len(layer.loss_weights), len(layer.tops)) if layer.loss_weights else 0):
            slot = last_producer[layer.tops[j]]
            # Caffe keeps the weight in a float map: a tiny double may round to 0.
            weight = to_float32(layer.loss_weights[j])
            loss_weight_of[slot] = weight
            if weight != 0:
                readers[slot] += 1

    # Only the layers that read a split blob or produce one change; the others are copied over in runs.
    changed = sorted({source_layers[k] for k, slot in enumerate(sources) if readers[slot] > 1}
                     | {slot_layers[slot] for slot, count in enumerate(readers) if count > 1})
    result: List[LayerDef] = []
    next_split_index: Dict[int, int] = {}
    unchanged_from = 0
    for i in changed:
        result.extend(layers[unchanged_from:i])
        unchanged_from = i + 1
        layer = layers[i]
        bottoms = list(layer.bottoms)
        for j in range(len(bottoms)):
            slot = sources[first_sources[i] + j]
            if readers[slot] > 1:
                k = next_split_index.get(slot, 0)
                next_split_index[slot] = k + 1
                producer = slot_layers[slot]
                bottoms[j] = split_blob_name(layers[producer].name, bottoms[j], slot - first_slots[producer], k)
        splits: List[LayerDef] = []
        clear_loss_weights = False
        for j, blob in enumerate(layer.tops):
            slot = first_slots[i] + j
            count = readers[slot]
            if count <= 1:
                continue
            weight = loss_weight_of.get(slot, 0.0)
            splits.append(_split_layer(layer, blob, j, count, weight))
            if weight != 0:
                clear_loss_weights = True  # clear_loss_weight(): all of the producer's tops
                next_split_index[slot] = next_split_index.get(slot, 0) + 1
        if bottoms != layer.bottoms or clear_loss_weights:
            layer = _with_bottoms(layer, bottoms, [] if clear_loss_weights else layer.loss_weights)
        result.append(layer)
        result.extend(splits)
    result.extend(layers[unchanged_from:])
    return result


def _with_bottoms(layer: LayerDef, bottoms: List[str], loss_weights: List[float]) -> LayerDef:
    """A copy of ``layer`` reading ``bottoms``, with ``loss_weights``; its bottoms as written
    stay in ``original_bottoms``. (``layer.replace(...)`` with its field names spelled out; the
    location as the field holds it, so one still to be made stays so.)"""
    return LayerDef(
        layer.name, layer.type, bottoms, layer.tops, loss_weights, layer.propagate_down,
        layer.params, layer.phase, layer._location, layer.param, layer.comments, layer.source_index,
        layer.split_of, layer.original_bottoms,
    )


def _split_layer(producer: LayerDef, blob: str, top_index: int, count: int, loss_weight: float) -> LayerDef:
    name = split_layer_name(producer.name, blob, top_index)
    tops = [split_blob_name(producer.name, blob, top_index, k) for k in range(count)]
    loss_weights = [loss_weight] + [0.0] * (count - 1) if loss_weight != 0 else []
    fields = {"name": name, "type": "Split", "bottom": [blob], "top": tops}
    if loss_weights:
        fields["loss_weight"] = loss_weights
    return LayerDef(  # positional, as _with_bottoms
        name, "Split", [blob], tops, loss_weights, [], [], None, producer._location,  # made when first read
        Message("LayerParameter", fields), None, None, producer.name,
    )
