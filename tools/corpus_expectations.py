#!/usr/bin/env python3
"""Run the pre-commit hook as shipped on every corpus net; write or check fixtures/corpus_expectations.tsv.

    python3 tools/corpus_expectations.py            # print the table (current behaviour)
    python3 tools/corpus_expectations.py --write    # rewrite fixtures/corpus_expectations.tsv
    python3 tools/corpus_expectations.py --summary  # pass/fail counts, as in the README

Columns: ``file``; ``verdict`` (pass / fail: the hook's exit status);
``codes`` (every finding shown, ``CODE:severity-letter``); ``caffe``: what
real BVLC Caffe does with the net in the states it is linted in, from data
recorded independently of backprop-lint: ``refuses`` when the corpus
manifest says stock BVLC's caffe.proto cannot parse it or it uses layer
types BVLC does not register, or when a golden recorded from real Caffe
(fixtures/golden/) refuses it in a linted state; ``unverified`` when real
Caffe was never run on it (Python or HDF5 data layers, see
fixtures/golden/SKIPPED.md); ``loads`` otherwise. ``reason``: one line for
every file with a finding. Reasons of failing nets that real Caffe loads
start with ``defect:`` and are written by hand in ``DEFECTS`` below; the
others are built from the manifest and the codes.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

EXPECTATIONS = REPO / "fixtures" / "corpus_expectations.tsv"
GOLDEN_DIR = REPO / "fixtures" / "golden"
COLUMNS = ("file", "verdict", "codes", "caffe", "reason")

#: failing nets that real Caffe loads: what is wrong with them (checked by hand)
DEFECTS: Dict[str, str] = {
    "BVLC__caffe__examples__coco_caption__lrcn.prototxt": (
        "defect: in TRAIN stages=factored (the stage that gives `lstm1` a producer) `predict` reads `lstm1`, "
        "so conv1-fc8 and lstm2 never learn (BL202); the factored model is meant with stage 2-layer too, "
        "which backprop-lint does not infer"
    ),
}

#: nets that no Caffe whose source we have reads (tests/test_packs.py REFUSED_BY_EVERY_CAFFE says how that
#: was checked): why, followed in the reason by the refusal both oracles recorded (fixtures/golden/)
NO_CAFFE_READS: Dict[str, str] = {
    "BVLC__caffe__examples__deepface__deepface_train.prototxt":
        "no Caffe reads it: no BVLC branch or pull request registers the V0 type locally_connected",
    "rbgirshick__py-faster-rcnn__model-defs__vgg16.prototxt":
        "no Caffe reads it: no caffe-fast-rcnn commit has the V1 type ROI_POOLING",
    "rbgirshick__py-faster-rcnn__models__caffenet_bbox_reg.prototxt":
        "no Caffe reads it: no caffe-fast-rcnn commit has the V1 type ROI_POOLING (nor reads V1 SMOOTH_L1_LOSS)",
}

#: what an info- or warning-only code says about a net real Caffe loads
CODE_REASONS: Dict[str, str] = {
    "BL201": "no loss: an inference net (BL201 info)",
    "BL404": "deprecated format, upgraded cleanly at load (BL404 info)",
    "BL902": "linted only in the states it can be built in (BL902 info)",
    "BL306": "force_backward beside a loss computes gradients for frozen params (BL306 info)",
    "BL401": "undeclared Python layer: gradients through it unknown until declared (BL401 warning)",
    "BL901": "unused suppression (BL901 info)",
}


class Row(NamedTuple):
    file: str
    verdict: str
    codes: str
    caffe: str
    reason: str


def hook_args() -> List[str]:
    import yaml

    hook = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))[0]
    return [str(arg) for arg in hook.get("args", [])]


def lint_as_the_hook(path: Path, args: Sequence[str]) -> Tuple[bool, List[str], Set[str]]:
    """(fails, sorted CODE:s codes, labels of the states linted), as `backprop-lint check ARGS PATH`."""
    from backprop_lint.cli.commands import build_parser, overrides_from
    from backprop_lint.linting.config import ConfigFinder
    from backprop_lint.linting.linter import Linter

    parsed = build_parser().parse_args(["check", *args, str(path)])
    report = Linter(ConfigFinder(parsed.config), overrides_from(parsed)).lint_paths([path])
    codes = sorted({f"{f.code}:{f.severity[0]}" for f in report.all_findings})
    return report.fails or bool(report.internal_errors), codes, {state.state for state in report.states}


def manifest() -> Dict[str, Dict[str, str]]:
    from shared_data import SHARED

    with open(SHARED / "corpus" / "manifest.tsv", encoding="utf-8", newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def skipped_by_goldens() -> Set[str]:
    text = (GOLDEN_DIR / "SKIPPED.md").read_text(encoding="utf-8")
    return {line.split("`")[1].rsplit("/", 1)[-1] for line in text.splitlines() if line.startswith("| `corpus/")}


def golden_refusal(file: str, states: Set[str]) -> Optional[str]:
    for state in sorted(states):
        path = GOLDEN_DIR / f"{Path(file).stem}.{state}.json"
        if path.is_file():
            refusal = json.loads(path.read_text(encoding="utf-8")).get("refusal")
            if refusal:
                return f"real Caffe refuses it in {state}: {refusal}"
    return None


def golden_refusal_detail(file: str, state: str) -> str:
    """The refusal both oracles recorded for ``file`` in ``state`` (its first error line too), the same in both."""
    details = []
    for folder in (GOLDEN_DIR, GOLDEN_DIR / "bvlc"):
        golden = json.loads((folder / f"{Path(file).stem}.{state}.json").read_text(encoding="utf-8"))
        detail = golden["refusal"]
        if golden.get("refusal_errors"):
            detail = golden["refusal_errors"][0]
        details.append(detail)
    if details[0] != details[1]:
        raise ValueError(f"{file}: the two oracles refuse it differently: {details}")
    return details[0]


def caffe_verdict(file: str, notes: str, states: Set[str], skipped: Set[str]) -> Tuple[str, str]:
    if file in NO_CAFFE_READS:
        return "refuses", f"{NO_CAFFE_READS[file]}; BVLC and SSD-lineage Caffe refuse it: " + \
            golden_refusal_detail(file, "TRAIN")
    parts = [part.strip() for part in notes.split(" | ")]
    for part in parts:
        if part.startswith("stock BVLC caffe.proto text parse: FAIL"):
            return "refuses", "stock BVLC caffe.proto cannot parse it " + part.split("FAIL", 1)[1].strip()
    for part in parts:
        if part.startswith("non-BVLC layer types"):
            return "refuses", "BVLC Caffe does not register its " + part
    refusal = golden_refusal(file, states)
    if refusal:
        return "refuses", refusal
    if file in skipped:
        return "unverified", ""
    return "loads", ""


def expected_rows(corpus: Sequence[Path]) -> List[Row]:
    args = hook_args()
    notes = manifest()
    skipped = skipped_by_goldens()
    rows: List[Row] = []
    for path in corpus:
        fails, codes, states = lint_as_the_hook(path, args)
        caffe, why = caffe_verdict(path.name, notes.get(path.name, {}).get("notes", ""), states, skipped)
        if not codes:
            reason = ""
        elif path.name in DEFECTS:
            reason = DEFECTS[path.name]
        elif caffe == "refuses":
            reason = why
        else:
            reason = "; ".join(dict.fromkeys(CODE_REASONS.get(code.split(":")[0], code) for code in codes))
        rows.append(Row(path.name, "fail" if fails else "pass", " ".join(codes), caffe, reason))
    return rows


def read_expectations(path: Path = EXPECTATIONS) -> List[Row]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [Row(*(row[column] for column in COLUMNS)) for row in csv.DictReader(handle, delimiter="\t")]


def write_rows(rows: Sequence[Row], stream) -> None:  # type: ignore[no-untyped-def]
    writer = csv.writer(stream, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {EXPECTATIONS.relative_to(REPO)}")
    parser.add_argument("--summary", action="store_true", help="print pass/fail counts only")
    options = parser.parse_args()
    from shared_data import CORPUS_DIR, MISSING_REASON, corpus_nets

    if not CORPUS_DIR.is_dir():
        print(MISSING_REASON, file=sys.stderr)
        return 2
    rows = expected_rows(corpus_nets())
    if options.summary:
        for caffe in ("loads", "unverified", "refuses"):
            group = [row for row in rows if row.caffe == caffe]
            passed = sum(row.verdict == "pass" for row in group)
            print(f"real Caffe {caffe}: {len(group)} nets, hook passes {passed}, fails {len(group) - passed}")
        return 0
    if options.write:
        with open(EXPECTATIONS, "w", encoding="utf-8", newline="") as handle:
            write_rows(rows, handle)
    else:
        write_rows(rows, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
