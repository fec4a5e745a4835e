"""Golden tests: our simulation against real Caffe's recorded decisions.

Two judges: each ``fixtures/golden/*.json`` was recorded by
``tools/record_goldens.py`` / ``tools/record_layer_goldens.py`` from the
SSD-lineage oracle (``"flavor": "ssd"``), each ``fixtures/golden/bvlc/*.json``
from real BVLC Caffe (``"flavor": "bvlc"``). A golden is compared with our
simulation of its own flavour, with the build options of the Caffe that
recorded it (``build_options.ORACLE_BUILDS``). These run always, with or
without the oracles on the machine.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from backprop_lint.caffe.build_options import ORACLE_BUILDS, build_setting_of
from backprop_lint.caffe.pipeline import run_simulate

REPO = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO / "fixtures" / "golden"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.json")) + sorted((GOLDEN_DIR / "bvlc").glob("*.json"))

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
JUDGE_NAMES = {"ssd": "SSD-lineage Caffe", "bvlc": "BVLC Caffe"}

SHAPE_DEPENDENT_REFUSALS = (
    "shape mismatch.  Owner layer param shape is",  # Net::AppendParam, shared params (net.cpp)
)


def compare_with_golden(golden: Dict[str, Any]) -> List[str]:
    net = REPO / golden["net"]
    flavor = golden.get("flavor", "ssd")
    ours = run_simulate(str(net), phase=golden["phase"], level=golden.get("level", 0),
                        stages=golden.get("stages", ()), flavor=flavor,
                        seeds=golden.get("seeds"), strict=True, build=build_setting_of(ORACLE_BUILDS[flavor]))
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
@pytest.mark.parametrize("golden_path", GOLDEN_FILES,
                         ids=[p.relative_to(GOLDEN_DIR).with_suffix("").as_posix() for p in GOLDEN_FILES])
def test_agrees_with_real_caffe(golden_path: Path, differential_tally: Any) -> None:
    golden = json.loads(golden_path.read_text())
    problems = compare_with_golden(golden)
    flavor = golden.get("flavor", "ssd")
    differential_tally.record(f"golden, --flavor {flavor} judged by real {JUDGE_NAMES[flavor]} (recorded)", not problems)
    assert not problems, "\n".join(problems[:20])
