"""Which net states a net can be built in: the states in which its data arrives.

Caffe builds a net in whatever state it is asked for (``caffe.Net(file, phase,
level, stages)``, a solver's ``train_state`` / ``test_state``). Every blob of a
net starts at a layer with no bottoms (a data layer, ``Input``, ``DummyData``,
a Python data layer; net-level ``input`` fields are upgraded into an ``Input``
layer) and ``Net::Init`` wires bottoms only to tops of earlier layers
(U:src/caffe/net.cpp:398-405, ``AppendBottom``: "Unknown bottom blob"). So in
a state where ``FilterNet`` (U:src/caffe/net.cpp:261-292) keeps none of the
net's data-providing layers, the first layer that reads a blob stops the
build: the net is not meant to be built in that state.

``survey_states`` lists the candidate states (both phases, with no stage and
with each stage set the net's ``include`` rules ask for) and, for each, the
data-providing layers that survive the filter. It is plain data about the
net; what to lint is the linter's decision.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from backprop_lint.caffe.filter import layer_included, net_state_for
from backprop_lint.caffe.model import Message, NetState

PHASES: Tuple[str, ...] = ("TRAIN", "TEST")


@dataclass(frozen=True)
class DataLayer:
    """A layer with no bottoms: where some of the net's blobs come from."""

    name: str
    type: str
    line: int
    #: the include rules it carries, as written (``phase: TRAIN stage: "x"``); empty when unrestricted
    restricted_to: Tuple[str, ...]


@dataclass(frozen=True)
class StateSurvey:
    """For each candidate state (asked-for phase, level and stages), the data layers it keeps."""

    data_layers: Tuple[DataLayer, ...]
    #: candidate state -> names of the data layers FilterNet keeps in it, in file order
    providers: Dict[NetState, Tuple[str, ...]]

    def buildable(self) -> List[NetState]:
        """Candidate states in which some data layer survives, in candidate order."""
        return [state for state, names in self.providers.items() if names]

    def without_data(self) -> List[NetState]:
        return [state for state, names in self.providers.items() if not names]


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


def stage_sets(net: Message, phase: str) -> List[Tuple[str, ...]]:
    """The stage sets of the include rules that can match ``phase``, in file order, without repeats."""
    found: List[Tuple[str, ...]] = []
    for layer in net.repeated("layer"):
        for rule in layer.repeated("include"):
            if rule.has("phase") and rule.fields["phase"] != phase:
                continue
            stages = tuple(rule.repeated("stage"))
            if stages and stages not in found:
                found.append(stages)
    return found


def candidate_states(net: Message, level: int = 0, phases: Sequence[str] = PHASES) -> List[NetState]:
    """Each phase with no stage, then with each stage set the include rules name for it."""
    states: List[NetState] = []
    for phase in phases:
        states.append(NetState(phase=phase, level=level))
        states.extend(NetState(phase=phase, level=level, stages=stages) for stages in stage_sets(net, phase))
    return states


def survey_states(net: Message, level: int = 0, phases: Sequence[str] = PHASES) -> StateSurvey:
    """Which data layers survive FilterNet in each candidate state of an upgraded NetParameter.

    The states are those a user asks for; the net file's own ``state { stage }``
    is added to them as ``Net::Init`` adds it (``net_state_for``).
    """
    layers = data_layers(net)
    described = tuple(
        DataLayer(
            name=str(layer.get("name")),
            type=str(layer.get("type")),
            line=layer.line,
            restricted_to=tuple(describe_rule(rule) for rule in layer.repeated("include")),
        )
        for layer in layers
    )
    providers: Dict[NetState, Tuple[str, ...]] = {}
    for asked in candidate_states(net, level, phases):
        effective = net_state_for(net, asked.phase, asked.level, asked.stages)
        providers[asked] = tuple(str(layer.get("name")) for layer in layers if layer_included(layer, effective)[0])
    return StateSurvey(data_layers=described, providers=providers)
