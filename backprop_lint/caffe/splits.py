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
    """The layer list with Split layers inserted and bottoms renamed, as Caffe does."""
    last_producer: Dict[str, TopIndex] = {}
    # per layer, per bottom: the (layer, top) producing it; per layer, per top: its readers
    sources: List[List[TopIndex]] = []
    reader_counts: List[List[int]] = []
    loss_weight_of: Dict[TopIndex, float] = {}

    for i, layer in enumerate(layers):
        layer_sources: List[TopIndex] = []
        for j, blob in enumerate(layer.bottoms):
            producer = last_producer.get(blob)
            if producer is None:
                raise NetRefused(
                    f"Unknown bottom blob '{blob}' (layer '{layer.name}', bottom index {j})",
                    layer=layer.name,
                    location=layer.location,
                    kind="unknown-bottom",
                )
            layer_sources.append(producer)
            reader_counts[producer[0]][producer[1]] += 1
        sources.append(layer_sources)
        reader_counts.append([0] * len(layer.tops))
        for j, blob in enumerate(layer.tops):
            last_producer[blob] = (i, j)
        for j in range(min(len(layer.loss_weights), len(layer.tops)) if layer.loss_weights else 0):
            producer = last_producer[layer.tops[j]]
            # Caffe keeps the weight in a float map: a tiny double may round to 0.
            weight = to_float32(layer.loss_weights[j])
            loss_weight_of[producer] = weight
            if weight != 0:
                reader_counts[producer[0]][producer[1]] += 1

    result: List[LayerDef] = []
    next_split_index: Dict[TopIndex, int] = {}
    for i, layer in enumerate(layers):
        bottoms = list(layer.bottoms)
        for j, (producer_index, top_index) in enumerate(sources[i]):
            if reader_counts[producer_index][top_index] > 1:
                producer = (producer_index, top_index)
                k = next_split_index.get(producer, 0)
                next_split_index[producer] = k + 1
                bottoms[j] = split_blob_name(layers[producer_index].name, bottoms[j], top_index, k)
        copy = _with_bottoms(layer, bottoms)
        result.append(copy)
        counts = reader_counts[i]
        if max(counts, default=0) <= 1:  # no top read twice: no Split layer after this one
            continue
        for j, count in enumerate(counts):
            if count <= 1:
                continue
            blob = layer.tops[j]
            weight = loss_weight_of.get((i, j), 0.0)
            result.append(_split_layer(layer, blob, j, count, weight))
            if weight != 0:
                copy.loss_weights = []  # clear_loss_weight(): all of the producer's tops
                next_split_index[(i, j)] = next_split_index.get((i, j), 0) + 1
    return result


def _with_bottoms(layer: LayerDef, bottoms: List[str]) -> LayerDef:
    """A copy of ``layer`` reading ``bottoms``, its bottoms as written kept in ``original_bottoms``.

    ``layer.replace(...)`` with its field names spelled out, positional: it runs once per layer.
    """
    return LayerDef(
        layer.name, layer.type, bottoms, layer.tops, list(layer.loss_weights), layer.propagate_down,
        layer.params, layer.phase, layer.location, layer.param, layer.comments, layer.source_index,
        layer.split_of, list(layer.bottoms),
    )


def _split_layer(producer: LayerDef, blob: str, top_index: int, count: int, loss_weight: float) -> LayerDef:
    name = split_layer_name(producer.name, blob, top_index)
    tops = [split_blob_name(producer.name, blob, top_index, k) for k in range(count)]
    loss_weights = [loss_weight] + [0.0] * (count - 1) if loss_weight != 0 else []
    fields = {"name": name, "type": "Split", "bottom": [blob], "top": tops}
    if loss_weights:
        fields["loss_weight"] = loss_weights
    return LayerDef(
        name=name,
        type="Split",
        bottoms=[blob],
        tops=tops,
        loss_weights=loss_weights,
        propagate_down=[],
        params=[],
        phase=None,
        location=producer.location,
        param=Message("LayerParameter", fields),
        split_of=producer.name,
    )
