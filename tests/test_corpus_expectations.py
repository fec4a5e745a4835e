"""The pre-commit hook as shipped, on every corpus net: fixtures/corpus_expectations.tsv holds the
expected verdict and codes per file, with what real Caffe does with it and a one-line reason.

The acceptance of issue 8: the hook passes every net real Caffe loads (in the states it is linted
in) unless the row names a defect, and fails every net real Caffe refuses. Regenerate the table
with ``python3 tools/corpus_expectations.py --write`` after a deliberate change, and read the diff.
With real Caffe built, the states linted for nets with restricted data layers are checked against
it: real Caffe builds the net in each, and refuses it in the plain states left out.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import pytest

from shared_data import CORPUS_DIR, MISSING_REASON, corpus_nets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import corpus_expectations as expectations  # noqa: E402  (tools/corpus_expectations.py)

pytestmark = pytest.mark.skipif(not CORPUS_DIR.is_dir(), reason=MISSING_REASON)

ROWS: Dict[str, expectations.Row] = {row.file: row for row in expectations.read_expectations()}
ORACLE_INPUTS = REPO / "fixtures" / "oracle_inputs" / "nets"


def test_the_table_covers_the_corpus_exactly() -> None:
    assert sorted(ROWS) == [path.name for path in corpus_nets()]


def test_every_row_is_consistent_with_the_acceptance() -> None:
    for row in ROWS.values():
        assert row.verdict in ("pass", "fail") and row.caffe in ("loads", "refuses", "unverified"), row
        assert bool(row.codes) == bool(row.reason), f"{row.file}: a reason exactly when there is a finding"
        if row.caffe == "refuses":
            assert row.verdict == "fail", f"{row.file}: real Caffe refuses it, the hook must fail"
        if row.caffe == "loads" and row.verdict == "fail":
            assert row.reason.startswith("defect:"), f"{row.file}: fails though real Caffe loads it"
        if row.verdict == "fail":
            assert any(code.endswith((":w", ":e")) for code in row.codes.split()), row


def test_nets_no_caffe_reads_are_recorded_with_both_oracles_refusal() -> None:
    from test_packs import REFUSED_BY_EVERY_CAFFE

    # the DeepLab template is refused by every Caffe too, but only until it is filled in
    assert set(expectations.NO_CAFFE_READS) == {name for name in REFUSED_BY_EVERY_CAFFE if "deeplab" not in name}
    for file in expectations.NO_CAFFE_READS:
        row = ROWS[file]
        assert row.caffe == "refuses" and row.verdict == "fail", row
        assert "BVLC and SSD-lineage Caffe refuse it: " in row.reason, row


@pytest.mark.parametrize("path", corpus_nets(), ids=lambda path: path.stem)
def test_the_hook_gives_the_expected_verdict_and_codes(path: Path) -> None:
    row = ROWS[path.name]
    fails, codes, _ = expectations.lint_as_the_hook(path, expectations.hook_args())
    assert ("fail" if fails else "pass", " ".join(codes)) == (row.verdict, row.codes), row.reason


def intended_state_cases() -> List[Path]:
    """Corpus nets linted in states other than TRAIN and TEST that the oracle can run."""
    return [row.file for row in ROWS.values() if "BL902" in row.codes and (ORACLE_INPUTS / row.file).is_file()]


@pytest.mark.parametrize("file", intended_state_cases())
def test_the_states_linted_are_the_states_real_caffe_builds(file: str) -> None:
    from oracle_support import require_oracle, run_oracle

    from backprop_lint.caffe.load import load_file
    from backprop_lint.caffe.model import NetState
    from backprop_lint.linting.config import Config
    from backprop_lint.linting.linter import intended_states

    require_oracle()
    states, note = intended_states(load_file(CORPUS_DIR / file), Config())
    assert note is not None and note.code == "BL902"
    for state in states:
        real = run_oracle(ORACLE_INPUTS / file, state.phase, stages=list(state.stages))
        if "Failed to parse NetParameter file" in (real.refusal or ""):
            pytest.skip(f"the oracle's Caffe cannot parse {file}: {real.errors[:1]}")
        assert "Unknown bottom blob" not in (real.refusal or ""), (state, real.refusal)
    for phase in ("TRAIN", "TEST"):
        if NetState(phase) not in states:
            real = run_oracle(ORACLE_INPUTS / file, phase)
            assert "Unknown bottom blob" in (real.refusal or ""), (phase, real.refusal)
