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

from backprop_lint.caffe.filter import net_state_for
from backprop_lint.caffe.model import Message, NetState
from backprop_lint.caffe.records import FrozenRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

    #: a NetStateRule as plain values: phase, min_level, max_level (None when not set), stages, not_stages
    RuleValues = Tuple[Optional[str], Optional[int], Optional[int], FrozenSet[str], FrozenSet[str]]

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


class LayerIndex:
    """What the survey asks of a net's layers in every state, from one pass over them: the layers
    with include or exclude rules (only they can be left out), and where the blobs those produce
    are produced and read (a state's unproduced blobs are among them).
    """

    __slots__ = ("layers", "ruled", "producers", "readers", "bottomless")

    def __init__(self, net: Message) -> None:
        layers = net.repeated("layer")
        self.layers = layers
        #: (position, its rules) of the layers with include or exclude rules, in file order
        self.ruled = [(position, _rules_of(layer)) for position, layer in enumerate(layers)
                      if "include" in layer.fields or "exclude" in layer.fields]
        ruled_tops = {top for position, _ in self.ruled for top in layers[position].fields.get("top") or ()}
        #: blob a ruled layer produces -> positions of every layer producing it / reading it, in file order
        self.producers: Dict[str, List[int]] = {blob: [] for blob in ruled_tops}
        self.readers: Dict[str, List[int]] = {blob: [] for blob in ruled_tops}
        #: the layers that read no blob (where the data comes from)
        self.bottomless: List[Message] = []
        producers, readers = self.producers, self.readers
        for position, layer in enumerate(layers):
            fields = layer.fields  # read directly: this runs over every layer of every net linted
            bottoms = fields.get("bottom")
            if not bottoms:
                self.bottomless.append(layer)
            elif readers:
                for bottom in bottoms:
                    if bottom in readers:
                        readers[bottom].append(position)
            if producers:
                for top in fields.get("top") or ():
                    if top in producers:
                        producers[top].append(position)


def _rules_of(layer: Message) -> Tuple[bool, Tuple[RuleValues, ...]]:
    """(whether they are include rules, the rules) of a layer with include or exclude rules."""
    includes = layer.repeated("include")
    return bool(includes), tuple(
        (rule.fields.get("phase"), rule.fields.get("min_level"), rule.fields.get("max_level"),
         frozenset(rule.repeated("stage")), frozenset(rule.repeated("not_stage")))
        for rule in includes or layer.repeated("exclude")
    )


def _included(rules: Tuple[bool, Tuple[RuleValues, ...]], phase: str, level: int, stages: FrozenSet[str]) -> bool:
    """``filter.layer_included(layer, state)[0]`` from ``_rules_of(layer)``, for a state of ``phase``,
    ``level`` and ``stages``: the survey asks it of every ruled layer in every state it tries."""
    is_include, values = rules
    for rule_phase, min_level, max_level, needed, forbidden in values:
        if (rule_phase is None or rule_phase == phase) and (min_level is None or level >= min_level) \
                and (max_level is None or level <= max_level) and needed <= stages and not forbidden & stages:
            return is_include  # a rule is met: an include rule keeps the layer, an exclude rule drops it
    return not is_include


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


def unproduced_blobs(net: Message, asked: NetState, index: Optional[LayerIndex] = None) -> List[Unproduced]:
    """Blobs that kept layers read, in file order, that no earlier kept layer produces but a left-out
    layer would (a blob no layer produces at all is a real "Unknown bottom blob", not a state matter).

    Each is reported at its first kept reader after a left-out producer, when no kept layer
    produces it before that reader. ``index``: ``LayerIndex(net)``, when the caller has it.
    """
    index = LayerIndex(net) if index is None else index
    state = net_state_for(net, asked.phase, asked.level, asked.stages)
    phase, level, stages = state.phase, state.level, frozenset(state.stages)
    left_out = {position for position, rules in index.ruled if not _included(rules, phase, level, stages)}
    if not left_out:
        return []
    found: List[Tuple[int, int, Unproduced]] = []
    for blob, producers in index.producers.items():
        # unproduced when its first producer is left out (were it kept, any reader after a left-out producer
        # would have a producer), reported at the first kept reader after that one, unless a kept producer
        # comes before that reader
        first = producers[0] if producers else -1
        if first not in left_out:
            continue
        reader = -1
        for position in index.readers[blob]:
            if position > first and position not in left_out:
                reader = position
                break
        if reader < 0 or not left_out.issuperset([p for p in producers if p < reader]):
            continue
        described = tuple(
            (str(layer.get("name")), tuple(describe_rule(rule) for rule in layer.repeated("include")))
            for layer in (index.layers[p] for p in producers if p < reader)
        )
        reading = index.layers[reader]
        found.append((reader, reading.fields["bottom"].index(blob),
                      Unproduced(str(blob), str(reading.get("name")), described)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [unproduced for _, _, unproduced in found]


MAX_STAGES_ADDED = 4


def complete_state(net: Message, asked: NetState, index: Optional[LayerIndex] = None) -> Optional[NetState]:
    """``asked`` with the stages that give every unproduced blob a producer, or None.

    For the first unproduced blob, the first include rule of its left-out producers that the phase
    allows and that names stages gives the stages to add; repeated until nothing is unproduced.
    """
    index = LayerIndex(net) if index is None else index
    state = asked
    for _ in range(MAX_STAGES_ADDED + 1):
        missing = unproduced_blobs(net, state, index)
        if not missing:
            return state
        options = stage_options(net, missing[0], state, index)
        if not options:
            return None
        state = NetState(phase=state.phase, level=state.level, stages=state.stages + options[0])
    return None


def stage_options(
    net: Message, missing: Unproduced, state: NetState, index: Optional[LayerIndex] = None
) -> List[Tuple[str, ...]]:
    """The stages each include rule of ``missing``'s producers would add to ``state``, in file order."""
    index = LayerIndex(net) if index is None else index
    names = {name for name, _ in missing.producers}
    options: List[Tuple[str, ...]] = []
    for position in dict.fromkeys(index.producers.get(missing.blob, ())):
        layer = index.layers[position]
        if str(layer.get("name")) not in names:
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
    index = LayerIndex(net)
    described = tuple(
        DataLayer(
            name=str(layer.get("name")),
            type=str(layer.get("type")),
            line=layer.line,
            restricted_to=tuple(describe_rule(rule) for rule in layer.repeated("include")),
        )
        for layer in index.bottomless
    )
    unproduced: Dict[NetState, Tuple[Unproduced, ...]] = {}
    buildable_as: Dict[NetState, Tuple[NetState, ...]] = {}
    for phase in phases:
        plain = NetState(phase=phase, level=level)
        unproduced[plain] = tuple(unproduced_blobs(net, plain, index))
        if not unproduced[plain]:
            buildable_as[plain] = (plain,)
            continue
        found: List[NetState] = []
        for stages in stage_options(net, unproduced[plain][0], plain, index):
            completed = complete_state(net, NetState(phase=phase, level=level, stages=stages), index)
            if completed is not None and completed not in found:
                found.append(completed)
        buildable_as[plain] = tuple(found)
    return StateSurvey(data_layers=described, unproduced=unproduced, buildable_as=buildable_as)
