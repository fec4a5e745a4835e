"""Which net states a net can be built in, and the stages a state needs.

Caffe builds a net in whatever state it is asked for (``caffe.Net(file, phase,
level, stages)``, a solver's ``train_state`` / ``test_state``). ``FilterNet``
(U:src/caffe/net.cpp:261-292) keeps the layers whose include/exclude rules
the state meets, and ``Net::Init`` wires each bottom to a top of an earlier
kept layer or stops (U:src/caffe/net.cpp:398-405, ``AppendBottom``: "Unknown
bottom blob"). So a state in which a kept layer reads a blob that only
left-out layers produce (a TRAIN-only data layer, a layer included only with
``stage: "factored"``) cannot be built: the net is not meant for that state,
or is meant for it with more stages.

``survey_states`` says, for each phase with no stage, which blobs lack a
producer and, if some do, the states completed with the stages their
producers' include rules ask for (one per alternative producer rule; none
when only another phase's layers produce them). It is plain data about the net; what to lint is the linter's
decision. A blob that no layer produces in any state is not a state matter:
it is the net's own "Unknown bottom blob".
"""
from __future__ import annotations

from backprop_lint.caffe.filter import layer_included, net_state_for
from backprop_lint.caffe.model import Message, NetState
from backprop_lint.caffe.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

PHASES: Tuple[str, ...] = ("TRAIN", "TEST")


class DataLayer(FrozenRecord):
    """A layer with no bottoms: where some of the net's blobs come from."""

    __slots__ = ("name", "type", "line", "restricted_to")
    name: str
    type: str
    line: int
    #: the include rules it carries, as written (``phase: TRAIN stage: "x"``); empty when unrestricted
    restricted_to: Tuple[str, ...]

    def __init__(self, name: str, type: str, line: int, restricted_to: Tuple[str, ...]) -> None:
        self._set(name, type, line, restricted_to)


class Unproduced(FrozenRecord):
    """A blob a kept layer reads that only layers FilterNet left out produce."""

    __slots__ = ("blob", "reader", "producers")
    blob: str
    reader: str
    #: the left-out producers: (name, their include rules as written)
    producers: Tuple[Tuple[str, Tuple[str, ...]], ...]

    def __init__(self, blob: str, reader: str, producers: Tuple[Tuple[str, Tuple[str, ...]], ...]) -> None:
        self._set(blob, reader, producers)


class StateSurvey(FrozenRecord):
    """Per phase: what the state with no stage lacks, and the states with stages that can be built."""

    __slots__ = ("data_layers", "unproduced", "buildable_as")
    data_layers: Tuple[DataLayer, ...]
    #: the phase's state with no stage -> blobs its kept layers read that only left-out layers produce
    unproduced: Dict[NetState, Tuple[Unproduced, ...]]
    #: the phase's state with no stage -> itself when it can be built; else the states completed from
    #: each include rule of the first unproduced blob's producers (empty: no stage helps)
    buildable_as: Dict[NetState, Tuple[NetState, ...]]

    def __init__(self, data_layers: Tuple[DataLayer, ...], unproduced: Dict[NetState, Tuple[Unproduced, ...]],
                 buildable_as: Dict[NetState, Tuple[NetState, ...]]) -> None:
        self._set(data_layers, unproduced, buildable_as)


def data_layers(net: Message) -> List[Message]:
    """The layers of an upgraded NetParameter that read no blob."""
    return [layer for layer in net.repeated("layer") if not layer.repeated("bottom")]


def describe_rule(rule: Message) -> str:
    parts = []
    if rule.has("phase"):
        parts.append(f"phase: {rule.fields['phase']}")
    parts.extend(f'stage: "{stage}"' for stage in rule.repeated("stage"))
    parts.extend(f'not_stage: "{stage}"' for stage in rule.repeated("not_stage"))
    for bound in ("min_level", "max_level"):
        if rule.has(bound):
            parts.append(f"{bound}: {rule.fields[bound]}")
    return " ".join(parts) or "(any state)"


def unproduced_blobs(net: Message, asked: NetState) -> List[Unproduced]:
    """Blobs that kept layers read, in file order, that no earlier kept layer produces but a left-out
    layer would (a blob no layer produces at all is a real "Unknown bottom blob", not a state matter)."""
    state = net_state_for(net, asked.phase, asked.level, asked.stages)
    produced = set()
    left_out: Dict[str, List[Message]] = {}
    found: List[Unproduced] = []
    for layer in net.repeated("layer"):
        fields = layer.fields  # read directly: this runs over every layer of every net linted
        tops = fields.get("top") or ()
        ruled = "include" in fields or "exclude" in fields
        if ruled and not layer_included(layer, state)[0]:
            for top in tops:
                left_out.setdefault(top, []).append(layer)
            continue
        for bottom in fields.get("bottom") or ():
            if bottom not in produced and bottom in left_out and all(u.blob != bottom for u in found):
                producers = tuple(
                    (str(p.get("name")), tuple(describe_rule(r) for r in p.repeated("include")))
                    for p in left_out[bottom]
                )
                found.append(Unproduced(str(bottom), str(layer.get("name")), producers))
        produced.update(tops)
    return found


MAX_STAGES_ADDED = 4


def complete_state(net: Message, asked: NetState) -> Optional[NetState]:
    """``asked`` with the stages that give every unproduced blob a producer, or None.

    For the first unproduced blob, the first include rule of its left-out producers that the phase
    allows and that names stages gives the stages to add; repeated until nothing is unproduced.
    """
    state = asked
    for _ in range(MAX_STAGES_ADDED + 1):
        missing = unproduced_blobs(net, state)
        if not missing:
            return state
        needed = _stages_for(net, missing[0], state)
        if needed is None:
            return None
        state = NetState(phase=state.phase, level=state.level, stages=state.stages + needed)
    return None


def _stages_for(net: Message, missing: Unproduced, state: NetState) -> Optional[Tuple[str, ...]]:
    options = stage_options(net, missing, state)
    return options[0] if options else None


def stage_options(net: Message, missing: Unproduced, state: NetState) -> List[Tuple[str, ...]]:
    """The stages each include rule of ``missing``'s producers would add to ``state``, in file order."""
    names = {name for name, _ in missing.producers}
    options: List[Tuple[str, ...]] = []
    for layer in net.repeated("layer"):
        if str(layer.get("name")) not in names or missing.blob not in layer.repeated("top"):
            continue
        for rule in layer.repeated("include"):
            if rule.has("phase") and rule.fields["phase"] != state.phase:
                continue
            added = tuple(stage for stage in rule.repeated("stage") if stage not in state.stages)
            if added and not set(added) & set(rule.repeated("not_stage")) and added not in options:
                options.append(added)
    return options


def survey_states(net: Message, level: int = 0, phases: Sequence[str] = PHASES) -> StateSurvey:
    """For each phase, whether the net builds with no stage, and if not, with which stages.

    The states are those a user asks for; the net file's own ``state { stage }``
    is added to them as ``Net::Init`` adds it (``net_state_for``).
    """
    described = tuple(
        DataLayer(
            name=str(layer.get("name")),
            type=str(layer.get("type")),
            line=layer.line,
            restricted_to=tuple(describe_rule(rule) for rule in layer.repeated("include")),
        )
        for layer in data_layers(net)
    )
    unproduced: Dict[NetState, Tuple[Unproduced, ...]] = {}
    buildable_as: Dict[NetState, Tuple[NetState, ...]] = {}
    for phase in phases:
        plain = NetState(phase=phase, level=level)
        unproduced[plain] = tuple(unproduced_blobs(net, plain))
        if not unproduced[plain]:
            buildable_as[plain] = (plain,)
            continue
        found: List[NetState] = []
        for stages in stage_options(net, unproduced[plain][0], plain):
            completed = complete_state(net, NetState(phase=phase, level=level, stages=stages))
            if completed is not None and completed not in found:
                found.append(completed)
        buildable_as[plain] = tuple(found)
    return StateSurvey(data_layers=described, unproduced=unproduced, buildable_as=buildable_as)
