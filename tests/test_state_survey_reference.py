"""``caffe.states`` answers from one index of the net's layers (``LayerIndex``) what it used to find
by a pass over every layer per state asked; the reference below is that pass, kept to check that
every answer is the same: on every corpus net and on random nets, in plain TRAIN and TEST and in
the states their stages give, at levels 0 and 1."""
from __future__ import annotations

import itertools
from typing import Dict, List, Optional, Tuple

import pytest
import randnet
from shared_data import MISSING_REASON, corpus_nets

from backprop_lint.caffe import states
from backprop_lint.caffe.filter import layer_included, net_state_for
from backprop_lint.caffe.load import load, load_text
from backprop_lint.caffe.model import InputError, Message, NetRefused, NetState
from backprop_lint.caffe.pipeline import NetStates

RANDOM_SEEDS = range(600)


def reference_unproduced_blobs(net: Message, asked: NetState) -> List[states.Unproduced]:
    """One pass over every layer: blobs kept layers read that only earlier left-out layers produce."""
    state = net_state_for(net, asked.phase, asked.level, asked.stages)
    produced = set()
    left_out: Dict[str, List[Message]] = {}
    found: List[states.Unproduced] = []
    for layer in net.repeated("layer"):
        tops = layer.repeated("top")
        ruled = "include" in layer.fields or "exclude" in layer.fields
        if ruled and not layer_included(layer, state)[0]:
            for top in tops:
                left_out.setdefault(top, []).append(layer)
            continue
        for bottom in layer.repeated("bottom"):
            if bottom not in produced and bottom in left_out and all(u.blob != bottom for u in found):
                producers = tuple(
                    (str(p.get("name")), tuple(states.describe_rule(r) for r in p.repeated("include")))
                    for p in left_out[bottom]
                )
                found.append(states.Unproduced(str(bottom), str(layer.get("name")), producers))
        produced.update(tops)
    return found


def reference_stage_options(net: Message, missing: states.Unproduced, state: NetState) -> List[Tuple[str, ...]]:
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


def reference_complete_state(net: Message, asked: NetState) -> Optional[NetState]:
    state = asked
    for _ in range(states.MAX_STAGES_ADDED + 1):
        missing = reference_unproduced_blobs(net, state)
        if not missing:
            return state
        options = reference_stage_options(net, missing[0], state)
        if not options:
            return None
        state = NetState(phase=state.phase, level=state.level, stages=state.stages + options[0])
    return None


def assert_same_answers(net: Message, name: str) -> None:
    stages = sorted({stage for layer in net.repeated("layer")
                     for rule in layer.repeated("include") + layer.repeated("exclude")
                     for stage in rule.repeated("stage") + rule.repeated("not_stage")})[:4]
    index = states.LayerIndex(net)
    for phase, level in itertools.product(("TRAIN", "TEST"), (0, 1)):
        for count in range(len(stages) + 1):
            for chosen in itertools.combinations(stages, count):
                state = NetState(phase=phase, level=level, stages=chosen)
                expected = reference_unproduced_blobs(net, state)
                assert states.unproduced_blobs(net, state, index) == expected, (name, state)
                assert states.unproduced_blobs(net, state) == expected, (name, state)
                if expected:
                    assert states.stage_options(net, expected[0], state, index) == reference_stage_options(
                        net, expected[0], state), (name, state)
                assert states.complete_state(net, state, index) == reference_complete_state(net, state), (name, state)


def upgraded(loaded_net: Message, file: str) -> Optional[Message]:
    try:
        return NetStates(load_text(loaded_net, flavor="ssd", file=file), "ssd").upgraded()[0]
    except (InputError, NetRefused):
        return None


def test_corpus_nets() -> None:
    paths = corpus_nets()
    if not paths:
        pytest.skip(MISSING_REASON)
    for path in paths:
        try:
            net = NetStates(load(path, flavor="ssd"), "ssd").upgraded()[0]
        except (InputError, NetRefused):
            continue
        assert_same_answers(net, path.name)


def test_random_nets() -> None:
    for seed in RANDOM_SEEDS:
        net = upgraded(randnet.generate(seed).text, f"randnet_{seed}.prototxt")
        if net is not None:
            assert_same_answers(net, f"seed {seed}")


def test_staged_nets_have_unproduced_blobs_to_compare() -> None:
    """The comparison above is not vacuous: corpus nets with stages give unproduced blobs."""
    paths = [path for path in corpus_nets() if "lrcn" in path.name or "LRCN" in path.name]
    if not paths:
        pytest.skip(MISSING_REASON)
    net = NetStates(load(paths[0], flavor="ssd"), "ssd").upgraded()[0]
    assert any(reference_unproduced_blobs(net, NetState(phase=phase)) for phase in ("TRAIN", "TEST"))
