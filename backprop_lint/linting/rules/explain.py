"""Chains of reasons, in the user's own layer names, for what the simulation decided.

Each function reads the flags the simulation set (need_backward,
contributes_to_loss, skip_pruned, bottom_need_backward, blob diffs) and turns
them into sentences; none of them decides anything itself.
"""
from __future__ import annotations

from backprop_lint.caffe.layer_table import Backward
from backprop_lint.caffe.model import SimLayer, SimulatedNet
from backprop_lint.linting.rules.graph import (
    row_of,
    Reader,
    direct_readers,
    explicit_propagate_down,
    quote,
    quoted_names,
    user_blob_name,
    user_readers,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

MAX_DEPTH = 4


def describe(layer: SimLayer) -> str:
    """```relu1` (ReLU)``: a layer named for a message."""
    return f"{quote(layer.name)} ({layer.type})"


def names(items: List[str]) -> str:
    quoted = quoted_names(items)
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def why_no_backward(net: SimulatedNet, index: int, depth: int = 0) -> List[str]:
    """Why layer ``index`` does not run Backward; empty when it does (or it is unknown)."""
    layer = net.layers[index]
    if layer.need_backward is not False or depth > MAX_DEPTH:
        return []
    if layer.need_backward_before_pruning is False:
        return [_nothing_to_learn(net, index)]
    if not layer.contributes_to_loss:
        return [_no_loss_below(net, index)]
    if layer.skip_pruned:
        return _skipped_tops(net, index, depth) + [
            f"so Caffe prunes {quote(layer.name)} in the backward sweep"
        ]
    return []


def _nothing_to_learn(net: SimulatedNet, index: int) -> str:
    layer = net.layers[index]
    if layer.param_propagate_down:
        params = "all its parameters have `lr_mult: 0`"
    else:
        params = "it has no parameters"
    if not layer.bottoms:
        return f"{quote(layer.name)} needs no gradient: {params} and it has no bottoms"
    inputs = names([user_blob_name(net, b, index) for b in layer.bottoms])
    return (
        f"{quote(layer.name)} needs no gradient: {params}, and nothing upstream of {inputs} learns, "
        f"so Caffe marks it as not needing backward"
    )


def _no_loss_below(net: SimulatedNet, index: int) -> str:
    layer = net.layers[index]
    parts: List[str] = []
    for top in layer.tops:
        readers = user_readers(net, index, top)
        if not readers:
            parts.append(f"its top {quote(top)} has no loss weight and no layer reads it")
        else:
            who = ", ".join(describe(net.layers[r.index]) for r in readers)
            verb = "leads" if len(readers) == 1 else "lead"
            parts.append(f"its top {quote(top)} is read only by {who}, which {verb} to no loss")
    if not parts:
        parts.append("it has no tops")
    return f"no loss depends on {quote(layer.name)}: " + "; ".join(parts)


def _skipped_tops(net: SimulatedNet, index: int, depth: int) -> List[str]:
    layer = net.layers[index]
    lines: List[str] = []
    for top in layer.tops:
        for reader in direct_readers(net, index, top):
            lines.extend(_why_reader_wants_no_gradient(net, reader, depth))
    return _unique(lines)


def _why_reader_wants_no_gradient(net: SimulatedNet, reader: Reader, depth: int) -> List[str]:
    layer = net.layers[reader.index]
    if layer.bottom_need_backward[reader.bottom] is not False:
        return []
    blob = user_blob_name(net, layer.bottoms[reader.bottom], reader.index)
    if layer.is_split:
        lines: List[str] = []
        for top in layer.tops:
            for inner in direct_readers(net, reader.index, top):
                lines.extend(_why_reader_wants_no_gradient(net, inner, depth))
        return lines
    if explicit_propagate_down(layer, reader.bottom) is False:
        in_place = " (in place)" if layer.bottoms[reader.bottom] in layer.tops else ""
        return [f"{quote(layer.name)}{in_place} sets `propagate_down: false` on its bottom {quote(blob)}"]
    if layer.need_backward is False:
        return [f"{quote(layer.name)} reads {quote(blob)} but does not run Backward"] + why_no_backward(
            net, reader.index, depth + 1
        )
    return [f"{quote(layer.name)} does not ask for the gradient of {quote(blob)}"]


def why_no_gradient_reaches(net: SimulatedNet, index: int, depth: int = 0) -> List[str]:
    """Why layer ``index`` runs Backward yet receives only zero top diffs."""
    layer = net.layers[index]
    lines: List[str] = [] if depth else [f"{quote(layer.name)} runs Backward, but its top diffs stay zero"]
    if depth > MAX_DEPTH:
        return lines
    for j, top in enumerate(layer.tops):
        if net.blob_diff_nonzero.get(top) is not False:
            continue
        readers = direct_readers(net, index, top)
        zeroing = [r for r in readers if zeroes_its_bottom(net, r)]
        if zeroing:
            who = names([net.layers[r.index].name for r in zeroing])
            verb = "overwrites" if len(zeroing) == 1 else "overwrite"
            lines.append(f"{who} {verb} the diff of {quote(top)} with zeros in Backward")
            continue
        users = user_readers(net, index, top)
        if not users and layer.loss[j] == 0:
            lines.append(f"its top {quote(top)} has no loss weight and no layer reads it")
            continue
        before = len(lines)
        for reader in users:
            other = net.layers[reader.index]
            if other.need_backward is False:
                lines.append(f"{quote(other.name)} reads {quote(top)} but does not run Backward")
                lines.extend(why_no_backward(net, reader.index, depth + 1))
            elif other.need_backward is True:
                lines.extend(why_no_gradient_reaches(net, reader.index, depth + 1))
        if len(lines) == before:
            lines.append(f"no gradient reaches its top {quote(top)}")
    return _unique(lines)


def zeroes_its_bottom(net: SimulatedNet, reader: Reader) -> bool:
    """Whether ``reader``'s layer runs Backward and writes zeros into that bottom's diff (Silence)."""
    layer = net.layers[reader.index]
    info = row_of(net, layer)
    if info is None or layer.definition is None or layer.need_backward is not True:
        return False
    behaviour = info.backward(reader.bottom, len(layer.bottoms), layer.definition.param)
    return behaviour is Backward.ZEROES and layer.bottom_need_backward[reader.bottom] is True


def _unique(lines: List[str]) -> List[str]:
    seen = set()
    kept: List[str] = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            kept.append(line)
    return kept
