"""What NetStates shares between the states of one net (the upgrade, each layer's LayerDef, the
split-inserted list of states that keep the same layers, the simulation of such states) is exactly
what preparing and simulating each state on its own gives: on every corpus net, in the states
`check` lints it in and in plain TRAIN and TEST, and on random nets in several states."""
from __future__ import annotations

from typing import List, Optional, Sequence

import pytest
import randnet
from shared_data import MISSING_REASON, corpus_nets

from backprop_lint.caffe.load import load, load_text
from backprop_lint.caffe.model import InputError, LoadedNet, NetRefused, NetState, PreparedNet, SimulatedNet
from backprop_lint.caffe.pipeline import NetStates, prepare_loaded, simulate
from backprop_lint.linting.config import Config
from backprop_lint.linting.linter import intended_states

RANDOM_SEEDS = range(300)


def alone(loaded: LoadedNet, state: NetState) -> Optional[PreparedNet]:
    try:
        return prepare_loaded(loaded, phase=state.phase, level=state.level, stages=state.stages, flavor="ssd")
    except NetRefused:
        return None


def simulated_alone(prepared: PreparedNet) -> Optional[SimulatedNet]:
    try:
        return simulate(prepared)
    except NetRefused:
        return None


def assert_shared_work_is_exact(loaded: LoadedNet, states: Sequence[NetState], name: str) -> None:
    """One NetStates through ``states`` in order, each result compared with the state's own run."""
    shared = NetStates(loaded, "ssd")
    for state in states:
        expected = alone(loaded, state)
        try:
            prepared = shared.prepare(phase=state.phase, level=state.level, stages=state.stages)
        except NetRefused:
            assert expected is None, (name, state)
            continue
        assert prepared == expected, (name, state)
        expected_simulation = simulated_alone(expected)
        try:
            assert shared.simulate(prepared) == expected_simulation, (name, state)
        except NetRefused:
            assert expected_simulation is None, (name, state)


def states_of(loaded: LoadedNet) -> List[NetState]:
    linted, _ = intended_states(loaded, Config(flavor="ssd"))
    extra = [NetState(phase="TRAIN"), NetState(phase="TEST"), NetState(phase="TEST", level=1)]
    return linted + [state for state in extra if state not in linted]


def test_corpus_nets() -> None:
    paths = corpus_nets()
    if not paths:
        pytest.skip(MISSING_REASON)
    for path in paths:
        try:
            loaded = load(path, flavor="ssd")
        except (InputError, NetRefused):
            continue
        states = states_of(loaded)
        assert_shared_work_is_exact(loaded, states, path.name)
        assert_shared_work_is_exact(loaded, list(reversed(states)), path.name)


def test_random_nets() -> None:
    for seed in RANDOM_SEEDS:
        net = randnet.generate(seed)
        try:
            loaded = load_text(net.text, flavor="ssd", file=f"randnet_{seed}.prototxt")
        except (InputError, NetRefused):
            continue
        own = NetState(phase=net.phase, level=net.level, stages=net.stages)
        states = [own] + [state for state in states_of(loaded) if state != own]
        assert_shared_work_is_exact(loaded, states, f"seed {seed}")
