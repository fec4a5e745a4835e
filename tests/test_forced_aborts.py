"""``aborting_layers`` / ``NetStates.aborts_when_forced`` against the whole simulation.

The linter checks a ``force_backward: true`` fix with the abort verdicts of
``init_net`` alone (no diff propagated); they must name exactly the layers a
whole ``simulate`` reports in ``backward_aborts``, with and without
``force_backward``, on every net we have: the hand-made fixtures (which hold
the aborting layers), the corpus, and random nets.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from backprop_lint.caffe.load import load_text
from backprop_lint.caffe.model import BackpropLintError, PreparedNet
from backprop_lint.caffe.pipeline import NetStates
from backprop_lint.caffe.simulate import aborting_layers, init_net, simulate
from tests import randnet
from tests.shared_data import CORPUS_DIR, corpus_nets

REPO = Path(__file__).resolve().parent.parent
FIXTURE_NETS = sorted((REPO / "fixtures").rglob("*.prototxt"))
RANDOM_SEEDS = range(300)


def prepared_states(text: str, file: str, flavor: str = "ssd") -> Iterator[Tuple[NetStates, PreparedNet]]:
    """Each phase of the net that Caffe would build (refused ones left out)."""
    try:
        shared = NetStates(load_text(text, flavor=flavor, file=file), flavor)
    except BackpropLintError:
        return
    for phase in ("TRAIN", "TEST"):
        try:
            prepared = shared.prepare(phase=phase)
            simulate(prepared)
        except BackpropLintError:
            continue
        yield shared, prepared


def check_agrees(text: str, file: str) -> int:
    """Asserts the cheap verdicts match; returns how many aborting layers were compared."""
    compared = 0
    for shared, prepared in prepared_states(text, file):
        for force in (False, True):
            variant = prepared.replace(force_backward=force)
            expected = simulate(variant).backward_aborts
            assert aborting_layers(init_net(variant)) == expected, (file, prepared.state, force)
            compared += len(expected)
        forced = simulate(prepared.replace(force_backward=True)).backward_aborts
        assert NetStates(shared.loaded, "ssd").aborts_when_forced(prepared) == forced, (file, prepared.state)
        assert shared.aborts_when_forced(prepared) == forced, (file, prepared.state)  # after its own simulate
    return compared


def test_fixture_nets_agree_and_some_abort() -> None:
    aborting = sum(check_agrees(path.read_text(errors="surrogateescape"), str(path)) for path in FIXTURE_NETS)
    assert aborting > 0, "no fixture net has an aborting layer: the comparison would prove nothing"


@pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=f"the shared corpus is not at {CORPUS_DIR}")
def test_corpus_nets_agree() -> None:
    for path in corpus_nets():
        check_agrees(path.read_text(errors="surrogateescape"), str(path))


def test_random_nets_agree() -> None:
    nets: List[randnet.RandomNet] = [randnet.generate(seed, invalid_rate=0.0) for seed in RANDOM_SEEDS]
    for net in nets:
        check_agrees(net.text, f"<random {net.seed}>")


def test_rules_give_the_same_findings_with_the_cheap_rerun() -> None:
    """BL201's fix (safe or not, and why) is the same whichever way force_backward is re-run."""
    from backprop_lint.linting.rules import RuleContext, run_rules

    compared = 0
    for path in FIXTURE_NETS:
        text = path.read_text(errors="surrogateescape")
        for shared, prepared in prepared_states(text, str(path)):
            net = shared.simulate(prepared)
            whole = run_rules(RuleContext.for_net(net, text=text, resimulate=shared.simulate))
            cheap = run_rules(RuleContext.for_net(net, text=text, resimulate=shared.simulate,
                                                  aborts_when_forced=shared.aborts_when_forced))
            assert cheap == whole, (path, prepared.state)
            compared += sum(1 for finding in whole if finding.code == "BL201" and finding.fix is not None)
    assert compared > 0, "no fixture net has a BL201 fix: the comparison would prove nothing"
