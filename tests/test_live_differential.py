"""The simulation against real Caffe on random nets (tests/randnet.py).

Two judges, one per flavour: for each net, real Caffe (the SSD-lineage oracle
for ``flavor="ssd"``, real BVLC Caffe for ``flavor="bvlc"``, tools/oracle/)
loads it and runs one Forward/Backward; backprop-lint simulates it with that
flavour and that oracle's build options.
They must agree: refusal for refusal, every structure field, Backward aborts,
and every diff we claim stays zero must be zero in the measurement. Nets
without a loss are compared a second time with a random subset of their
outputs seeded (``--seed`` / ``seeds=``).

``BACKPROP_LINT_LIVE_NETS`` sets how many nets (default 1000: 1-2 minutes on
2 busy cores, two oracle processes at a time; 3000 nets took 4.3 minutes). Skipped, with the reason,
when the oracle is not built. Disagreeing nets are saved under pytest's
temporary directory, and ``python tools/fuzz_differential.py --flavor F --start-seed S
--count 1`` replays one.
"""
from __future__ import annotations

import os
import sys
from typing import Any, List

import pytest

from oracle_support import oracle_status  # also puts tools/ and tools/oracle/ on sys.path

import fuzz_differential as fuzz  # noqa: E402  (tools/fuzz_differential.py)

DEFAULT_NETS = 1000
JUDGE_NAMES = {"ssd": "SSD-lineage Caffe", "bvlc": "BVLC Caffe"}
SHOWN_FAILURES = 3


def _net_count() -> int:
    configured = os.environ.get("BACKPROP_LINT_LIVE_NETS", "")
    try:
        return int(configured) if configured.strip() else DEFAULT_NETS
    except ValueError:
        raise pytest.UsageError(f"BACKPROP_LINT_LIVE_NETS must be a whole number, not {configured!r}") from None


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """Show ``line`` on the terminal whether or not pytest captures output (-s or not)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line, file=sys.__stdout__, flush=True)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(line)


@pytest.fixture(scope="module", params=["ssd", "bvlc"])
def live_outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  differential_tally: Any) -> List["fuzz.Outcome"]:
    flavor: str = request.param
    ready, reason = oracle_status(flavor)
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)
    from backprop_lint.caffe.pipeline import run_simulate

    workdir = tmp_path_factory.mktemp("live_differential")
    failures_dir = tmp_path_factory.mktemp("live_differential_failures")
    summary = fuzz.Summary()
    outcomes = list(fuzz.compare_seeds(range(_net_count()), workdir, jobs=2, simulate=run_simulate, flavor=flavor))
    suite = f"live differential (random nets), --flavor {flavor} judged by real {JUDGE_NAMES[flavor]}"
    for outcome in outcomes:
        summary.add(outcome)
        differential_tally.record(suite, outcome.agreed)
        if not outcome.agreed or outcome.generator_problem:
            fuzz.save(outcome, failures_dir)
    _report(request, f"[{flavor} judge] {summary.line()}")
    if summary.agreed != summary.compared or summary.generator_problems:
        _report(request, f"live differential: disagreeing nets saved in {failures_dir}")
    return outcomes


def _explain(failures: List["fuzz.Outcome"], what: str, generator: bool = False) -> str:
    shown = "\n\n".join(
        fuzz.describe(outcome, difference=f"generator: {outcome.generator_problem}" if generator else None)
        for outcome in failures[:SHOWN_FAILURES])
    seeds = ", ".join(str(outcome.seed) for outcome in failures[:50])
    return (f"{len(failures)} random nets where {what} (seeds {seeds}); replay one with "
            f"`python tools/fuzz_differential.py --flavor FLAVOR --start-seed SEED --count 1 --show-text`. First ones:\n\n{shown}")


def test_simulation_agrees_with_real_caffe(live_outcomes: List["fuzz.Outcome"]) -> None:
    failures = [outcome for outcome in live_outcomes if outcome.disagreement is not None]
    assert not failures, _explain(failures, "the simulation and real Caffe disagree")


def test_seeded_backward_agrees_on_nets_without_loss(live_outcomes: List["fuzz.Outcome"]) -> None:
    seeded = [outcome for outcome in live_outcomes if outcome.seeded_run is not None]
    if len(live_outcomes) >= 100:
        assert seeded, "no net without a loss reached the --seed comparison"
    failures = [outcome for outcome in seeded if not outcome.agreed]
    assert not failures, _explain(failures, "seeding some outputs gives different gradients")


def test_generator_intent_matches_real_caffe(live_outcomes: List["fuzz.Outcome"]) -> None:
    """Nets meant valid load in real Caffe; nets meant invalid die for the intended reason."""
    surprises = [outcome for outcome in live_outcomes if outcome.generator_problem is not None]
    assert not surprises, _explain(surprises, "tests/randnet.py's intent and real Caffe differ", generator=True)
