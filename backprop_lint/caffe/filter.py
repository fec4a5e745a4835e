"""Stage 3: ``Net::FilterNet`` and ``Net::StateMeetsRule`` (U:src/caffe/net.cpp:260-354).

Turns the upgraded NetParameter into the list of ``LayerDef`` that the net
state includes, in file order.
"""
from __future__ import annotations

from backprop_lint.caffe.model import LayerDef, Location, Message, NetRefused, NetState, ParamSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple


def net_state_for(net: Message, phase: str, level: int, stages: Sequence[str]) -> NetState:
    """The state ``caffe.Net(file, phase, level, stages)`` gives a net read from a file.

    The phase and level override the file's ``state``; the given stages are
    appended to the file's own (U:src/caffe/net.cpp:29-43).
    """
    file_stages: Tuple[str, ...] = ()
    if net.has("state"):
        file_stages = tuple(net.fields["state"].repeated("stage"))
    return NetState(phase=phase, level=level, stages=file_stages + tuple(stages))


def state_meets_rule(state: NetState, rule: Message) -> Tuple[bool, str]:
    """Whether ``state`` meets one NetStateRule, and if not, why (in words)."""
    if rule.has("phase") and rule.fields["phase"] != state.phase:
        return False, f"phase {rule.fields['phase']} required, the net is in {state.phase}"
    if rule.has("min_level") and state.level < rule.fields["min_level"]:
        return False, f"min_level {rule.fields['min_level']} required, the net level is {state.level}"
    if rule.has("max_level") and state.level > rule.fields["max_level"]:
        return False, f"max_level {rule.fields['max_level']} required, the net level is {state.level}"
    for stage in rule.repeated("stage"):
        if stage not in state.stages:
            return False, f"stage '{stage}' required, the net state has no such stage"
    for stage in rule.repeated("not_stage"):
        if stage in state.stages:
            return False, f"not_stage '{stage}' forbids a stage the net state has"
    return True, ""


def layer_included(layer: Message, state: NetState) -> Tuple[bool, str]:
    """FilterNet's decision for one layer, with the reason when it is left out."""
    includes = layer.repeated("include")
    excludes = layer.repeated("exclude")
    if not includes:
        for rule in excludes:
            met, _ = state_meets_rule(state, rule)
            if met:
                return False, "an exclude rule matches the net state"
        return True, ""
    reasons = []
    for rule in includes:
        met, why = state_meets_rule(state, rule)
        if met:
            return True, ""
        reasons.append(why)
    return False, "no include rule matches: " + "; ".join(reasons)


def layer_def_from(layer: Message, file: str, source_index: int, location: Optional[Location] = None) -> LayerDef:
    """The fields of a LayerParameter that the net-building stages read.

    ``location`` is where the layer starts, when the caller has it already.
    """
    fields = layer.fields
    specs = fields.get("param")
    params = [
        ParamSpec(spec.get("name"), float(spec.get("lr_mult")), float(spec.get("decay_mult")),
                  spec.fields.get("share_mode"), True)
        for spec in specs
    ] if specs else []
    loss_weights = fields.get("loss_weight")
    propagate_down = fields.get("propagate_down")
    bottoms = list(fields.get("bottom") or ())
    return LayerDef(  # positional: it runs once per layer (see LayerDef)
        fields["name"] if "name" in fields else layer.get("name"),
        fields["type"] if "type" in fields else layer.get("type"),
        bottoms,
        list(fields.get("top") or ()),  # tops
        [float(w) for w in loss_weights] if loss_weights else [],
        [bool(p) for p in propagate_down] if propagate_down else [],
        params,
        fields.get("phase"),
        location if location is not None else (layer if layer.read_from(file) else _layer_location(layer, file)),
        layer,  # param: the whole LayerParameter
        list(layer.comments),
        source_index,
        None,  # split_of
        bottoms,  # original_bottoms: as written (InsertSplits' renaming makes a copy of the layer)
    )


def _layer_location(layer: Message, file: str) -> Location:
    line, col = layer.line_col()
    return Location(file, line, col) if line else Location(file)


def filter_net(
    net: Message, state: NetState, file: str
) -> Tuple[List[LayerDef], List[Tuple[str, Optional[Location], str]]]:
    """The layers ``state`` includes, and those it leaves out (name, location, reason)."""
    kept_indexes, dropped = select_layers(net, state, file)
    return layer_defs(net, kept_indexes, file), dropped


def select_layers(
    net: Message, state: NetState, file: str
) -> Tuple[List[int], List[Tuple[str, Optional[Location], str]]]:
    """``Net::FilterNet``'s decisions: indexes of the layers ``state`` keeps, and those it leaves out."""
    kept: List[int] = []
    dropped: List[Tuple[str, Optional[Location], str]] = []
    for index, layer in enumerate(net.repeated("layer")):
        fields = layer.fields
        if "include" not in fields and "exclude" not in fields:
            kept.append(index)  # no rule: every state keeps it
            continue
        if layer.repeated("include") and layer.repeated("exclude"):
            raise NetRefused(
                "Specify either include rules or exclude rules; not both.",
                layer=layer.get("name"),
                location=_layer_location(layer, file),
                kind="include-and-exclude",
            )
        included, why = layer_included(layer, state)
        if included:
            kept.append(index)
        else:
            dropped.append((layer.get("name"), _layer_location(layer, file), why))
    return kept, dropped


def layer_defs(net: Message, indexes: Sequence[int], file: str) -> List[LayerDef]:
    """The LayerDefs of the layers at ``indexes`` (they do not depend on the net state)."""
    layers = net.repeated("layer")
    return [layer_def_from(layers[index], file, index) for index in indexes]
