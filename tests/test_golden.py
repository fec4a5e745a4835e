"""Golden tests: our simulation against real Caffe's recorded decisions.

Each ``fixtures/golden/*.json`` was recorded by ``tools/record_goldens.py``
from the real-Caffe oracle (the SSD-lineage build, hence ``flavor="ssd"``).
These run always, with or without the oracle on the machine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from backprop_lint.caffe.pipeline import run_simulate

REPO = Path(__file__).resolve().parent.parent
GOLDEN_FILES = sorted((REPO / "fixtures" / "golden").glob("*.json"))

STRUCTURE_KEYS = ("blobs", "inputs", "outputs")
LAYER_KEYS = ("name", "type", "bottoms", "tops", "need_backward", "bottom_need_backward",
              "param_propagate_down", "loss")


def structure_differences(ours: Dict[str, Any], caffe: Dict[str, Any]) -> List[str]:
    """Every field where our simulation and Caffe disagree, in words."""
    problems: List[str] = []
    if len(ours["layers"]) != len(caffe["layers"]):
        problems.append(f"{len(ours['layers'])} layers, Caffe has {len(caffe['layers'])}")
    for mine, theirs in zip(ours["layers"], caffe["layers"]):
        for key in LAYER_KEYS:
            if mine[key] != theirs[key]:
                problems.append(f"layer {theirs['name']!r} {key}: ours {mine[key]!r}, Caffe {theirs[key]!r}")
    for key in STRUCTURE_KEYS:
        if ours[key] != caffe[key]:
            problems.append(f"{key}: ours {ours[key]!r}, Caffe {caffe[key]!r}")
    return problems


def run_differences(ours: Dict[str, Any], measured: Dict[str, Any]) -> List[str]:
    """Zero-diff claims of ours that the measurement contradicts."""
    problems = []
    for blob, nonzero in measured["blob_diff_nonzero"].items():
        if ours["blob_diff_nonzero"].get(blob) is False and nonzero:
            problems.append(f"blob {blob!r}: we claim its diff stays zero, Caffe measured non-zero")
    for layer, flags in measured["param_diff_nonzero"].items():
        claims = ours["param_diff_nonzero"].get(layer)
        for p, nonzero in enumerate(flags):
            if claims is not None and p < len(claims) and claims[p] is False and nonzero:
                problems.append(f"param {layer!r}[{p}]: we claim zero, Caffe measured non-zero")
    return problems


#: Refusals that depend on blob shapes, which only running Reshape reveals. The
#: issue scopes the simulation to refusals "that can be known without shapes";
#: a golden whose refusal matches one of these is compared on nothing else.
SHAPE_DEPENDENT_REFUSALS = (
    "shape mismatch.  Owner layer param shape is",  # Net::AppendParam, shared params (net.cpp)
)


def compare_with_golden(golden: Dict[str, Any]) -> List[str]:
    net = REPO / golden["net"]
    ours = run_simulate(str(net), phase=golden["phase"], level=golden.get("level", 0),
                        stages=golden.get("stages", ()), flavor=golden.get("flavor", "ssd"),
                        seeds=golden.get("seeds"), strict=True)
    if golden.get("refusal") is not None:
        if any(pattern in golden["refusal"] for pattern in SHAPE_DEPENDENT_REFUSALS):
            pytest.skip(f"Caffe's refusal depends on blob shapes: {golden['refusal']}")
        if "error" not in ours:
            return [f"Caffe refuses the net ({golden['refusal']}), we accept it"]
        return []
    if "error" in ours:
        return [f"we refuse the net ({ours['error']['message']}), Caffe accepts it"]
    problems = structure_differences(ours, golden["structure"])
    if golden.get("crash_in_run"):
        if not ours["backward_aborts"] and not golden.get("crash_in_forward"):
            problems.append(f"Caffe's Backward aborted ({golden['crash_in_run']}), we predict no abort")
    elif golden.get("run"):
        if ours["backward_aborts"]:
            problems.append(f"we predict Backward aborts in {ours['backward_aborts']}, Caffe ran it")
        problems += run_differences(ours, golden["run"])
    return problems


@pytest.mark.skipif(not GOLDEN_FILES, reason="no golden files recorded (tools/record_goldens.py)")
@pytest.mark.parametrize("golden_path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_agrees_with_real_caffe(golden_path: Path, differential_tally: Any) -> None:
    golden = json.loads(golden_path.read_text())
    problems = compare_with_golden(golden)
    differential_tally.record("golden (recorded real Caffe)", not problems)
    assert not problems, "\n".join(problems[:20])
