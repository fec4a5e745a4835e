"""The fuzzing harness (tools/fuzz/fuzz_cli.py): a bounded campaign, the recorded regressions, and the harness itself.

``BACKPROP_LINT_FUZZ_INPUTS=N`` changes the campaign's size (default 100
inputs, 11 runs each, seed 0: the same inputs on every machine); longer
campaigns run outside pytest (``python3 tools/fuzz/fuzz_cli.py --minutes N``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List

import pytest

from shared_data import CORPUS_DIR, MISSING_REASON

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "fuzz"))

import fuzz_cli  # noqa: E402  (tools/fuzz/fuzz_cli.py)

CAMPAIGN_INPUTS = int(os.environ.get("BACKPROP_LINT_FUZZ_INPUTS", "100"))
#: small nets keep the CI campaign within a minute or two; long campaigns mutate every net
CAMPAIGN_MAX_NET_BYTES = 30_000


def describe(failures: List[fuzz_cli.Failure]) -> str:
    return "\n".join(f"{f.label}: backprop-lint {' '.join(f.argv)}: {f.reason}" for f in failures)


def test_bounded_campaign_finds_nothing(capsys: pytest.CaptureFixture) -> None:
    corpus = fuzz_cli.corpus_nets(CORPUS_DIR, CAMPAIGN_MAX_NET_BYTES)
    if not corpus:
        pytest.skip(MISSING_REASON)
    result = fuzz_cli.campaign(fuzz_cli.generated_inputs(corpus, seed=0), count=CAMPAIGN_INPUTS)
    with capsys.disabled():
        print(f"\nfuzz: {result.inputs} mutated corpus nets, {result.runs} runs, {len(result.failures)} failures")
    assert result.inputs == CAMPAIGN_INPUTS
    assert not result.failures, describe(result.failures)


def test_every_recorded_regression_passes_every_command() -> None:
    items = list(fuzz_cli.replay_inputs(fuzz_cli.REGRESSIONS))
    assert items, f"no regression inputs in {fuzz_cli.REGRESSIONS}"
    result = fuzz_cli.campaign(iter(items))
    assert result.inputs == len(items)
    assert not result.failures, describe(result.failures)


def test_inputs_depend_only_on_the_seed(tmp_path: Path) -> None:
    nets = []
    for index in range(3):
        net = tmp_path / f"n{index}.prototxt"
        net.write_text(f'name: "n{index}"\nlayer {{ name: "a" type: "Input" top: "a" }}\n' * (index + 1))
        nets.append(net)
    first = [item.data for _, item in zip(range(30), fuzz_cli.generated_inputs(nets, seed=5))]
    again = [item.data for _, item in zip(range(30), fuzz_cli.generated_inputs(nets, seed=5))]
    other = [item.data for _, item in zip(range(30), fuzz_cli.generated_inputs(nets, seed=6))]
    assert first == again and first != other
    assert len(set(first)) > 20  # the mutations really change the inputs


FAKE_CLI = '''
import sys, time

def main(argv):
    word = argv[-1]
    if word == "sleep":
        time.sleep(60)
    if word == "hog":
        hog = bytearray(2 ** 31)
    if word == "crash":
        raise RuntimeError("boom")
    if word == "internal":
        print("backprop-lint: internal error: KeyError: 'x' (this is a bug)", file=sys.stderr)
        return 2
    if word == "status":
        return 3
    if word == "badjson":
        print("{not json")
        return 0
    if word == "die":
        import os
        os._exit(9)
    print("{}")
    return 0
'''


@pytest.fixture
def fake_package(tmp_path: Path) -> Path:
    """A stand-in backprop_lint whose `main` misbehaves as its last argument asks."""
    package = tmp_path / "fake" / "backprop_lint" / "cli"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text(FAKE_CLI)
    return tmp_path / "fake"


@pytest.mark.parametrize(
    "word, reason",
    [
        ("fine", None),
        ("sleep", "ran longer than 2 s"),
        ("hog", "ran out of memory"),
        ("crash", "RuntimeError escaped main: boom"),
        ("internal", "printed 'internal error'"),
        ("status", "exit status 3, expected one of (0, 1)"),
        ("badjson", "stdout is not JSON"),
        ("die", "the worker died during the run"),
    ],
)
def test_the_harness_catches_each_kind_of_failure(fake_package: Path, tmp_path: Path, word: str, reason: str) -> None:
    worker = fuzz_cli.Worker(fake_package, memory_mb=512, timeout_s=2)
    try:
        outcome = worker.run(["simulate", word], tmp_path)
        verdict = fuzz_cli.judge(fuzz_cli.Run(("simulate", word), (0, 1), "json"), outcome, tmp_path)
        if reason is None:
            assert verdict is None
        else:
            assert verdict is not None and verdict.startswith(reason), verdict
        assert worker.run(["simulate", "fine"], tmp_path).exit_code == 0  # the worker goes on (or restarts)
    finally:
        worker.close()


def test_the_harness_flags_leftover_temporary_files(tmp_path: Path) -> None:
    (tmp_path / ".net.prototxt.abc.tmp").write_text("")
    verdict = fuzz_cli.judge(fuzz_cli.Run(("check",), (0, 1)), fuzz_cli.Outcome(0), tmp_path)
    assert verdict is not None and "left temporary files behind" in verdict
