"""Random nets, random net.backward(start, end) calls: the plan's prediction equals real pycaffe.

Nets come from ``tests/randnet.py`` (valid ones only). For each, a random
range (sometimes reversed), random seed blobs and every blob as a read; the
planner's non-zero prediction for every blob diff, and the simulation's for
every parameter diff, must equal what real pycaffe measures. Where the plan
proposes a fix, the fix is applied and pycaffe must then give a non-zero diff
for every requested read. Deterministic (fixed seeds); set
BACKPROP_LINT_PLAN_SEED to explore other nets. About a minute.

Nets where values rather than structure can decide a diff (see ``_known_gap``)
are left out and counted; so are the patterns the simulation does not model
yet, each reported to the simulation's owner.
"""
from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Set, Tuple

import pytest

from backprop_lint.backward.plan import BackwardPlan, CallFix, plan_backward, prepare_source
from backprop_lint.caffe.model import NetRefused
from backprop_lint.backward.pycaffe import MeasureRequest, Measured, measure_many, pycaffe_status
from backprop_lint.caffe.simulate import AUTOMATIC_TOP, BuiltLayer, BuiltNet, init_net, run_backward
from randnet import generate

NETS = 3000
#: the oracle's pycaffe is the SSD-lineage (brocolli) tree: e.g. it discards BatchNorm's 3 param {}
FLAVOR = "ssd"
BASE_SEED = int(os.environ.get("BACKPROP_LINT_PLAN_SEED", "20261126"))


@dataclass
class Case:
    net_seed: int
    text: str
    phase: str
    level: int
    stages: Tuple[str, ...]
    start: Optional[str]
    end: Optional[str]
    seeds: List[str]
    reads: List[str]  # every uniquely named blob
    plan: BackwardPlan
    #: a plan for the same call reading only a few blobs: its fix is applied and measured
    fix_plan: Optional[BackwardPlan] = None
    predicted_params: dict = field(default_factory=dict)
    predicted_abort: bool = False
    known_gap: Optional[str] = None


def _case(net_seed: int, rng: random.Random) -> Optional[Case]:
    net = generate(net_seed, invalid_rate=0.0)
    if not net.valid:
        return None
    try:
        prepared = prepare_source(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor=FLAVOR)
        built = init_net(prepared)
    except NetRefused:
        return None
    names = [layer.definition.name for layer in built.layers]
    if not names:
        return None
    start = rng.choice([None] + names)
    end = rng.choice([None] + names)
    blobs = [b for b in dict.fromkeys(built.blob_names) if b != AUTOMATIC_TOP]
    seeds = rng.sample(blobs, k=min(len(blobs), rng.choice((0, 1, 1, 2))))
    plan = plan_backward(net.text, start=start, end=end, seeds=seeds, reads=blobs,
                         phase=net.phase, level=net.level, stages=net.stages, flavor=FLAVOR)
    result = run_backward(built, [built.name_to_id[s] for s in plan.seeds], plan.start_index, plan.end_index)
    few = rng.sample(blobs, k=min(len(blobs), rng.choice((1, 2))))
    fix_plan = plan_backward(net.text, start=start, end=end, seeds=seeds, reads=few,
                             phase=net.phase, level=net.level, stages=net.stages, flavor=FLAVOR)
    return Case(net_seed, net.text, net.phase, net.level, net.stages, start, end, plan.seeds, blobs, plan, fix_plan,
                predicted_params=result.param_diff_nonzero,
                predicted_abort=any(v is True for v in result.aborts.values()),
                known_gap=_known_gap(built, prepared.state.phase))


# ---------------------------------------------------------------------------
# Known gaps: value-dependent zeros the simulation cannot see, and simulation
# bugs reported to the simulation's owner. Each pattern is matched on the net's
# structure, so any other disagreement fails the test.
# ---------------------------------------------------------------------------

#: losses of a difference (a - b): zero when a == b, and the two gradients cancel where a and b meet
_ZERO_ON_EQUAL_INPUTS = ("EuclideanLoss", "SmoothL1Loss")

#: layers whose gradients depend on values or shapes the simulation does not track
_DATA_DEPENDENT = {
    "ArgMax": "ArgMax outputs indices (often all 0), which zero the gradients of what reads them",
    "HingeLoss": "HingeLoss's Forward scratch diff is zero when every margin is met",
    "MVN": "MVN gives a zero gradient when a normalization group has one element",
    "ContrastiveLoss": "ContrastiveLoss gives no gradient to dissimilar pairs beyond the margin",
    "MultinomialLogisticLoss": "MultinomialLogisticLoss's gradient is non-zero at the label's class only",
    "Softmax": "Softmax over an axis of one element has a zero gradient",
    "PReLU": "PReLU learns its slope only from negative inputs",
    "InfogainLoss": "InfogainLoss's gradient is zero where its infogain matrix (often a DummyData) is zero",
}


def _producer(built: BuiltNet, blob_id: int, before: Optional[int] = None) -> Optional[BuiltLayer]:
    """The last layer (before index ``before``) that writes ``blob_id``."""
    found = None
    for layer in built.layers[:before]:
        if blob_id in layer.top_ids:
            found = layer
    return found


def _ancestors(built: BuiltNet, blob_id: int, before: int) -> Set[int]:
    """``blob_id`` and every blob its value is computed from (producers before layer ``before``)."""
    found = {blob_id}
    layer = _producer(built, blob_id, before)
    if layer is None:
        return found
    index = built.layers.index(layer)
    for bottom in layer.bottom_ids:
        found |= _ancestors(built, bottom, index)
    return found


def _constant_loss_diff(built: BuiltNet, blob_id: int) -> bool:
    """The blob's diff is the loss weight, the same in every element (directly or as split output 0)."""
    if built.blob_loss_weights[blob_id] != 0:
        return True
    return any(layer.definition.type == "Split" and blob_id in layer.bottom_ids and layer.loss[0] != 0
               for layer in built.layers)


def _batch_statistics(layer: BuiltLayer, net_phase: str) -> bool:
    """BatchNorm normalizing with batch statistics (use_global_stats defaults to phase == TEST)."""
    param = layer.definition.param.get("batch_norm_param")
    if param.has("use_global_stats"):
        return not param.get("use_global_stats")
    return _phase(layer, net_phase) == "TRAIN"


def _phase(layer: BuiltLayer, net_phase: str) -> str:
    """The layer's own phase, else the net's (Net::Init gives every layer without one the net's phase)."""
    return layer.definition.phase or net_phase


def _known_gap(built: BuiltNet, net_phase: str) -> Optional[str]:
    """Why values, not structure, may decide a diff here."""
    for layer in built.layers:
        definition = layer.definition
        kind = definition.type
        if kind in _ZERO_ON_EQUAL_INPUTS and len(layer.bottom_ids) >= 2:
            index = built.layers.index(layer)
            if _ancestors(built, layer.bottom_ids[0], index) & _ancestors(built, layer.bottom_ids[1], index):
                return f"{definition.name}: {kind} of two functions of the same data: equal values or cancelling gradients"
        if kind == "BatchNorm" and _batch_statistics(layer, net_phase):
            return f"{definition.name}: BatchNorm on batch statistics of 2 samples (randnet's batch) has a zero gradient"
        if kind in _DATA_DEPENDENT:
            return f"{definition.name}: {_DATA_DEPENDENT[kind]}"
        if kind == "Dropout" and _phase(layer, net_phase) == "TRAIN":
            return f"{definition.name}: Dropout in TRAIN may drop every element of randnet's tiny blobs"
        if kind == "Eltwise" and definition.param.get("eltwise_param").get("operation") == "MAX":
            return f"{definition.name}: Eltwise MAX sends each element's gradient to the winning bottom only"
        if kind in ("BatchNorm", "Normalize") and any(_constant_loss_diff(built, t) for t in layer.top_ids):
            return f"{definition.name}: {kind} under a constant (loss weight) diff has a zero gradient"
    return None


def _request(case: Case, text: str, start: Optional[str], end: Optional[str], random_seed: int) -> MeasureRequest:
    return MeasureRequest(text, case.phase, case.level, case.stages, start, end, case.seeds, random_seed=random_seed)


#: Each call is measured with these data seeds. A diff counts as non-zero when it is non-zero
#: in any run: on randnet's tiny blobs one draw of values can zero a gradient that flows
#: (a ReLU whose 8 inputs all come out negative), while a diff that no gradient reaches
#: stays zero in every run.
DATA_SEEDS = (1701, 2718)


def measure_over_data(build: Callable[[int], List[MeasureRequest]]) -> List[Measured]:
    runs = [measure_many(build(seed)) for seed in DATA_SEEDS]
    return [_any_nonzero(list(measured)) for measured in zip(*runs)]


def _any_nonzero(runs: List[Measured]) -> Measured:
    first = runs[0]
    if not all(run.ok for run in runs):
        return next(run for run in runs if not run.ok)
    combined = first.replace()
    combined.blob_diff_nonzero = [any(values) for values in zip(*(run.blob_diff_nonzero for run in runs))]
    combined.param_diff_nonzero = {
        layer: [any(run.param_diff_nonzero[layer][p] for run in runs) for p in range(len(cells))]
        for layer, cells in first.param_diff_nonzero.items()
    }
    return combined


def _disagreements(case: Case, measured: Measured) -> List[str]:
    where = f"randnet seed {case.net_seed} ({case.phase}) start={case.start!r} end={case.end!r} seeds={case.seeds}"
    if not measured.ok:
        if measured.stage == "backward" and case.predicted_abort:
            return []
        return [f"{where}: pycaffe failed in {measured.stage}: {measured.error}"]
    if case.predicted_abort:
        return [f"{where}: predicted an abort in backward, pycaffe ran"]
    problems = []
    for read in case.plan.reads:
        measured_value = measured.diff_of(read.blob)
        if read.nonzero is not None and read.nonzero != measured_value:
            problems.append(f"{where}: blob {read.blob}: predicted {read.nonzero}, pycaffe {measured_value}")
    for index, cells in measured.param_diff_nonzero.items():
        predicted = case.predicted_params.get(index, [])
        for p, value in enumerate(cells):
            guess = predicted[p] if p < len(predicted) else None
            if guess is not None and guess != value:
                problems.append(f"{where}: param {measured.layer_names[index]}[{p}]: predicted {guess}, pycaffe {value}")
    return problems


def test_plan_equals_pycaffe_on_random_nets(differential_tally) -> None:  # type: ignore[no-untyped-def]
    ready, reason = pycaffe_status()
    if not ready:
        print(f"SKIPPED (real pycaffe not available): {reason}")
        pytest.skip(reason)
    rng = random.Random(BASE_SEED)
    generated = [case for case in (_case(BASE_SEED + i, rng) for i in range(NETS)) if case is not None]
    gaps = Counter(case.known_gap.split(": ", 1)[1] for case in generated if case.known_gap)
    cases = [case for case in generated if not case.known_gap]
    measurements = measure_over_data(lambda seed: [_request(case, case.text, case.start, case.end, seed)
                                                   for case in cases])

    problems: List[str] = []
    for case, measured in zip(cases, measurements):
        found = _disagreements(case, measured)
        differential_tally.record("plan_randomized", not found)
        problems.extend(found)

    fixes = [(case, case.fix_plan.fix) for case in cases
             if case.fix_plan is not None and case.fix_plan.fix is not None and case.fix_plan.fix.possible]
    fixed_runs = measure_over_data(lambda seed: [_request(case, _with_fix(case.text, fix), fix.start, fix.end, seed)
                                                 for case, fix in fixes])
    for (case, fix), measured in zip(fixes, fixed_runs):
        reads = [read.blob for read in case.fix_plan.reads]  # type: ignore[union-attr]
        zero = [b for b in reads if measured.ok and not measured.diff_of(b)]
        ok = measured.ok and not zero
        differential_tally.record("plan_randomized_fixes", ok)
        if not ok:
            problems.append(f"randnet seed {case.net_seed}: fix {fix} leaves {zero or measured.error}")
    print(f"plan vs pycaffe: {len(cases)} random calls, {len(fixes)} fixes applied, {len(problems)} disagreements; "
          f"{sum(gaps.values())} nets left out for known gaps:\n" + "\n".join(f"  {n:4} {why}" for why, n in gaps.most_common()))
    assert not problems, "\n".join(problems[:20])
    assert len(cases) >= NETS // 5  # enough nets free of known gaps to mean something


def _with_fix(text: str, fix: CallFix) -> str:
    return ("force_backward: true\n" + text) if fix.add_force_backward else text
