"""The fix search picks the same call as the brute-force search it replaced.

``reference_search`` is the former ``search_fix``: every (start, end) pair of
the candidate starts (the start asked for, the default, every seed's
producer) and every end below, one ``sweep_backward`` per start, the cheapest
by (force_backward switched on, how many of start/end change, width), ties to
the first in (start, end) order. ``search_fix`` must return the same
(start, end, force_backward) on fixture nets, corpus nets, random nets (many
outputs and seeds, Parameter layers, aborting layers, start/end given or not)
and fan nets (one Input read by many ReLUs, no loss), including fans and
chains where no call can pass: the read an unread Input, or read below the
fan or chain by a layer that passes no gradient (propagate_down: false), zeroes
it (Silence) or aborts (ArgMax), or a Parameter's top.

``BackwardSweeps``, which runs only the relevant layers and lists only the
layers where an entry changes, must give, expanded end by end,
``sweep_backward``'s entry for every start and end on those nets, on the
shapes of ``bench/bench_fix_search.py``, on random busy fans (relevant layers
many and interleaved with the fan), on layers that abort or may abort in the
middle of a fan without writing anything read, and under a lowest writer that
ignores what reaches it; the search with several reads, one of which may
never pass, must pick the same fix.

``simulate.diff_bounds``, which lets the search give up at once when no call
can pass, must bound every diff of every call (start, end) on those nets, and
``no_call_can_pass`` must never say so of a net where the reference finds a
passing call.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import pytest
from randnet import generate
from shared_data import CORPUS_DIR, corpus_nets

from backprop_lint.backward.plan import prepare_source, search_fix, simulate_call
from backprop_lint.caffe.model import InputError, NetRefused, PreparedNet
from backprop_lint.caffe.pipeline import declared_layer_infos
from backprop_lint.caffe.simulate import (
    AUTOMATIC_TOP,
    BackwardSweeps,
    BuiltNet,
    _DiffClasses,
    build_layers,
    diff_bounds,
    init_net,
    no_call_can_pass,
    outputs_of,
    run_backward,
    sweep_backward,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURE_NETS = sorted((REPO / "fixtures").rglob("*.prototxt"))
Choice = Tuple[int, int, bool]


def _producer(net: BuiltNet, blob_id: int) -> Optional[int]:
    found = None
    for i, layer in enumerate(net.layers):
        if blob_id in layer.top_ids:
            found = i
    return found


def _candidate_ranges(net: BuiltNet, seed_ids: Sequence[int], want_start: int) -> List[Tuple[int, int]]:
    n = len(net.layers)
    starts = {want_start, n - 1}
    for seed in seed_ids:
        producer = _producer(net, seed)
        if producer is not None:
            starts.add(producer)
    first_index: dict = {}
    for i, layer in enumerate(net.layers):
        first_index.setdefault(layer.definition.name, i)

    def addressable(index: int, default: int) -> bool:
        return index == default or first_index[net.layers[index].definition.name] == index

    return [(s, e) for s in sorted(starts) if addressable(s, n - 1) for e in range(s + 1) if addressable(e, 0)]


def _passing_ranges(net: BuiltNet, seed_ids: Sequence[int], read_ids: Sequence[int],
                    want_start: int) -> Iterator[Tuple[int, int]]:
    by_start: dict = {}
    for start, end in _candidate_ranges(net, seed_ids, want_start):
        by_start.setdefault(start, []).append(end)
    for start, ends in by_start.items():
        sweep = sweep_backward(net, seed_ids, start, read_ids)
        for end in ends:
            if sweep is None:
                run = simulate_call(net, seed_ids, start, end)
                values = [run.value(r) for r in read_ids]
                aborted = any(v is not False for v in run.result.aborts.values())
            else:
                values, aborted = sweep[start - end]
            if not aborted and all(v is True for v in values):
                yield start, end


def reference_search(prepared: PreparedNet, net: BuiltNet, seed_ids: Sequence[int], read_ids: Sequence[int],
                     user_start: Optional[int], user_end: Optional[int], declared: object,
                     built: BuiltNet) -> Optional[Choice]:
    configurations = [(prepared.force_backward, net)]
    if not prepared.force_backward:
        configurations.append((True, init_net(prepared.replace(force_backward=True), declared, built)))
    n = len(net.layers)
    want_start = n - 1 if user_start is None else user_start
    want_end = 0 if user_end is None else user_end
    for forced_flag, candidate_net in configurations:
        best = None
        for start, end in _passing_ranges(candidate_net, seed_ids, read_ids, want_start):
            changed = int(start != want_start) + int(end != want_end)
            cost = (int(forced_flag != prepared.force_backward), changed, start - end)
            if best is None or cost < best[0]:
                best = (cost, (start, end, forced_flag))
        if best is not None:
            return best[1]
    return None


def _calls(net: BuiltNet, rng: random.Random, count: int) -> Iterator[Tuple[List[int], List[int], Optional[int],
                                                                             Optional[int]]]:
    """(seeds, reads, start, end) calls: outputs or random seeds, random reads, start/end given or not."""
    n = len(net.layers)
    blobs = [b for b, name in enumerate(net.blob_names) if name != AUTOMATIC_TOP]
    outputs = [net.name_to_id[name] for name in outputs_of(net)]
    no_loss = not any(w != 0 for w in net.blob_loss_weights)
    for k in range(count):
        if k == 0 or rng.random() < 0.4:
            seeds = outputs if no_loss else []
        else:
            seeds = rng.sample(blobs, k=min(len(blobs), rng.choice((1, 2, 3, 8))))
        if not seeds and no_loss:
            continue
        reads = rng.sample(blobs, k=min(len(blobs), rng.choice((1, 1, 2, 3))))
        start = None if k == 0 or rng.random() < 0.4 else rng.randrange(n)
        end = None if k == 0 or rng.random() < 0.4 else rng.randrange(n)
        yield seeds, reads, start, end


def _built(prepared: PreparedNet) -> Optional[Tuple[BuiltNet, BuiltNet]]:
    """(build_layers, init_net) of ``prepared``; None when Caffe refuses it or it has no layer."""
    declared = declared_layer_infos(None, ())
    try:
        built = build_layers(prepared, declared)
        net = init_net(prepared, declared, built)
    except NetRefused:
        return None
    return (built, net) if net.layers else None


def _net_and_forced(prepared: PreparedNet) -> Optional[Tuple[BuiltNet, BuiltNet]]:
    """``init_net`` of ``prepared`` and of its force_backward variant; None as ``_built``."""
    nets = _built(prepared)
    if nets is None:
        return None
    return nets[1], init_net(prepared.replace(force_backward=True), declared_layer_infos(None, ()), nets[0])


def _compare(prepared: PreparedNet, rng: random.Random, calls: int,
             fixed: Sequence[Tuple[List[str], List[str]]] = ()) -> int:
    """Compare the searches on ``calls`` random calls, and on ``fixed`` (seed names, read names) calls
    with start and end left out."""
    declared = declared_layer_infos(None, ())
    nets = _built(prepared)
    if nets is None:
        return 0
    built, net = nets
    compared = 0
    named = [([net.name_to_id[s] for s in seeds], [net.name_to_id[r] for r in reads], None, None)
             for seeds, reads in fixed]
    for seeds, reads, start, end in [*named, *_calls(net, rng, calls)]:
        if start is not None:  # a range end pycaffe can address, as plan_for_net resolves it
            start = next(i for i, layer in enumerate(net.layers)
                         if layer.definition.name == net.layers[start].definition.name)
        if end is not None:
            end = next(i for i, layer in enumerate(net.layers)
                       if layer.definition.name == net.layers[end].definition.name)
        expected = reference_search(prepared, net, seeds, reads, start, end, declared, built)
        found, _ = search_fix(prepared, net, seeds, reads, start, end, declared, built)
        got = None if found is None else (found.start, found.end, found.forced)
        assert got == expected, (prepared.name, seeds, reads, start, end)
        if expected is not None:  # a call passes on that configuration's net: the proof must allow it
            passing_net = (net if expected[2] == prepared.force_backward
                           else init_net(prepared.replace(force_backward=True), declared, built))
            assert not no_call_can_pass(passing_net, seeds, reads), (prepared.name, seeds, reads)
        compared += 1
    return compared


def _prepared(text_or_path: object, **options: object) -> Optional[PreparedNet]:
    try:
        return prepare_source(text_or_path, **options)  # type: ignore[arg-type]
    except (InputError, NetRefused):
        return None


def fan(n: int) -> str:
    lines = ['name: "fan"', 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }']
    lines += [f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "r{i}" }}' for i in range(n)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", FIXTURE_NETS, ids=lambda p: str(p.relative_to(REPO)))
def test_same_fix_on_fixture_nets(path: Path) -> None:
    prepared = _prepared(path.read_text(errors="replace"))
    if prepared is None:
        pytest.skip("Caffe refuses this net")
    _compare(prepared, random.Random(str(path.name)), 6)


def test_same_fix_on_corpus_nets() -> None:
    nets = corpus_nets()
    if not nets:
        pytest.skip(f"the shared corpus is not at {CORPUS_DIR}")
    compared = 0
    for path in nets:
        for phase in ("TEST", "TRAIN"):
            prepared = _prepared(path, phase=phase)
            if prepared is not None:
                compared += _compare(prepared, random.Random(f"{path.name}{phase}"), 3)
    assert compared > 100


def test_same_fix_on_random_nets() -> None:
    compared = 0
    for seed in range(400):
        net = generate(seed, invalid_rate=0.0)
        if not net.valid:
            continue
        prepared = _prepared(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor="ssd")
        if prepared is not None:
            compared += _compare(prepared, random.Random(seed), 8)
    assert compared > 1000


@pytest.mark.parametrize("n", [1, 2, 7, 40, 120])
def test_same_fix_on_fan_nets(n: int) -> None:
    prepared = _prepared(fan(n))
    assert prepared is not None
    assert _compare(prepared, random.Random(n), 12) > 0



_BELOW = {  # the layers that make (and read) ``other``, below the fan or chain
    "input": 'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }',
    "no-gradient": 'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }\n'
                   'layer { name: "keep" type: "ReLU" bottom: "other" top: "kept" propagate_down: false }',
    "zeroes": 'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }\n'
              'layer { name: "silence" type: "Silence" bottom: "other" }',
    "aborts": 'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }\n'
              'layer { name: "argmax" type: "ArgMax" bottom: "other" top: "arg" }',
    "parameter": 'layer { name: "other" type: "Parameter" top: "other" parameter_param { shape { dim: 1 dim: 3 } } }',
}


def hopeless(body: str, below: str, n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): ``n`` ReLUs reading one Input ``data`` (``body`` "fan") or a chain of
    ``n`` ReLUs above it ("chain"), with the layers ``below`` that make ``other`` under them."""
    lines = ['name: "hopeless"', _BELOW[below],
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }']
    tops = [f"r{i}" for i in range(n)]
    for i, top in enumerate(tops):
        bottom = "data" if body == "fan" or i == 0 else tops[i - 1]
        lines.append(f'layer {{ name: "{top}" type: "ReLU" bottom: "{bottom}" top: "{top}" }}')
    return "\n".join(lines) + "\n", tops


HOPELESS = [(body, below) for body in ("fan", "chain") for below in _BELOW]


@pytest.mark.parametrize("body, below", HOPELESS)
@pytest.mark.parametrize("n", [1, 3, 30, 100])
def test_same_fix_when_no_call_can_pass(body: str, below: str, n: int) -> None:
    text, tops = hopeless(body, below, n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["other"]), (tops, ["data"]), (tops, ["other", "data"]), (tops[-1:], ["data"])]
    assert _compare(prepared, random.Random(f"{body}{below}{n}"), 8, fixed) >= len(fixed)


def _reference_sweep(net: BuiltNet, seeds: Sequence[int], start: int,
                     reads: Sequence[int]) -> List[Tuple[List[object], bool]]:
    """``sweep_backward``'s entries, or ``run_backward`` per end where it is None (a Parameter's top)."""
    expected = sweep_backward(net, seeds, start, reads)
    if expected is not None:
        return expected  # type: ignore[return-value]
    entries = []
    for end in range(start, -1, -1):
        run = run_backward(net, seeds, start, end)
        entries.append(([run.blob_diff_nonzero[r] for r in reads], any(v is not False for v in run.aborts.values())))
    return entries


def _expanded(sweeps: BackwardSweeps, start: int) -> List[Tuple[List[object], bool]]:
    """``sweeps.sweep(start)`` as ``sweep_backward``'s entries, one per end from ``start`` down to 0:
    the entry of the lowest listed layer at or above the end (below them all: the last one's), or
    ``before``, not aborting, when none is."""
    entries = sweeps.sweep(start)
    layers = [layer for layer, _, _ in entries]
    assert layers == sorted(layers, reverse=True) and all(layer <= start for layer in layers)
    assert set(layers) <= set(sweeps.relevant)
    assert all(not aborted for _, _, aborted in entries[:-1])  # a sweep stops at its first abort
    assert all(layer <= sweeps.relevant_at_or_below(start) for layer in layers)
    expanded: List[Tuple[List[object], bool]] = []
    k = -1  # the lowest listed entry at or above the end
    for end in range(start, -1, -1):
        while k + 1 < len(entries) and entries[k + 1][0] >= end:
            k += 1
        expanded.append((sweeps.before, False) if k < 0 else (entries[k][1], entries[k][2]))
    return expanded


def _same_sweeps(prepared: PreparedNet, rng: random.Random, calls: int, starts: int,
                 fixed: Sequence[Tuple[List[str], List[str]]] = ()) -> int:
    """``BackwardSweeps`` against ``sweep_backward`` (``run_backward`` where it is None): every end of
    ``starts`` random starts (all when the net is smaller) of ``calls`` random calls and of the
    ``fixed`` (seed names, read names) calls; below an aborted entry only the abort is compared."""
    both = _net_and_forced(prepared)
    if both is None:
        return 0
    compared = 0
    for net in both:
        n = len(net.layers)
        named = [([net.name_to_id[s] for s in seeds], [net.name_to_id[r] for r in reads], None, None)
                 for seeds, reads in fixed]
        for seeds, reads, _, _ in [*named, *_calls(net, rng, calls)]:
            sweeps = BackwardSweeps(net, seeds, reads)
            # a call that runs no layer
            assert sweeps.before == [run_backward(net, seeds, -1, 0).blob_diff_nonzero[r] for r in reads]
            for start in sorted(rng.sample(range(n), min(n, starts))):
                expected = _reference_sweep(net, seeds, start, reads)
                got = _expanded(sweeps, start)
                assert len(got) == len(expected)
                for k, ((got_values, got_aborted), (want_values, want_aborted)) in enumerate(zip(got, expected)):
                    assert got_aborted == want_aborted, (prepared.name, seeds, reads, start, start - k)
                    assert got_aborted or got_values == want_values, (prepared.name, seeds, reads, start, start - k)
                compared += 1
    return compared


@pytest.mark.parametrize("body, below", HOPELESS)
def test_sweeps_stop_early_and_exactly_on_hopeless_nets(body: str, below: str) -> None:
    prepared = _prepared(hopeless(body, below, 12)[0])
    assert prepared is not None
    assert _same_sweeps(prepared, random.Random(f"{body}{below}"), 12, 40) > 0


def test_sweeps_stop_early_and_exactly_on_fixture_and_random_nets() -> None:
    compared = 0
    for path in FIXTURE_NETS:
        prepared = _prepared(path.read_text(errors="replace"))
        if prepared is not None:
            compared += _same_sweeps(prepared, random.Random(path.name), 4, 12)
    for seed in range(300):
        net = generate(seed, invalid_rate=0.0)
        if not net.valid:
            continue
        prepared = _prepared(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor="ssd")
        if prepared is not None:
            compared += _same_sweeps(prepared, random.Random(seed), 4, 12)
    assert compared > 3000


def test_sweeps_stop_early_and_exactly_on_corpus_nets() -> None:
    nets = corpus_nets()
    if not nets:
        pytest.skip(f"the shared corpus is not at {CORPUS_DIR}")
    compared = 0
    for path in nets:
        prepared = _prepared(path)
        if prepared is not None:
            compared += _same_sweeps(prepared, random.Random(path.name), 2, 3)
    assert compared > 300


def shared_parameter(kind: str, n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): a Parameter ``p`` read through a Flatten as ``q`` (the same diff), whose
    param (name "w") an InnerProduct under it ("ip-below") or over it ("ip-above") shares, or another
    Parameter under it read by a ReLU ("two-parameters"); then ``n`` ReLUs of the Input ``data``."""
    parameter = ['layer { name: "p" type: "Parameter" top: "p" param { name: "w" } '
                 'parameter_param { shape { dim: 4 dim: 3 } } }',
                 'layer { name: "flat" type: "Flatten" bottom: "p" top: "q" }']
    if kind == "two-parameters":
        other = ['layer { name: "p2" type: "Parameter" top: "p2" param { name: "w" } '
                 'parameter_param { shape { dim: 4 dim: 3 } } }',
                 'layer { name: "relu_p2" type: "ReLU" bottom: "p2" top: "y" }']
    else:
        other = ['layer { name: "ip" type: "InnerProduct" bottom: "data" top: "y" param { name: "w" } '
                 'inner_product_param { num_output: 4 bias_term: false } }']
    relus = [f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "r{i}" }}' for i in range(n)]
    body = [*parameter, *other] if kind == "ip-above" else [*other, *parameter]
    text = "\n".join(['name: "shared"',
                      'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }',
                      *body, *relus]) + "\n"
    return text, ["y"] + [f"r{i}" for i in range(n)]


@pytest.mark.parametrize("kind", ["ip-below", "ip-above", "two-parameters"])
@pytest.mark.parametrize("n", [0, 1, 5])
def test_reads_that_settle_into_a_shared_parameter(kind: str, n: int) -> None:
    text, tops = shared_parameter(kind, n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["q"]), (tops, ["p"]), (tops[-1:], ["q", "data"]), (["q"], ["p"])]
    assert _compare(prepared, random.Random(f"{kind}{n}"), 8, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 12, 40) > 0


def bench_shape(below: str, n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): ``bench/bench_fix_search.py``'s nets, an Input ``data`` first, then the layers
    ``below`` that make (and read) ``other``, then ``n`` ReLUs of ``data``."""
    lines = ['name: "bench"', 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             _BELOW[below]]
    lines += [f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "r{i}" }}' for i in range(n)]
    return "\n".join(lines) + "\n", [f"r{i}" for i in range(n)]


@pytest.mark.parametrize("below", ["no-gradient", "zeroes", "aborts", "input", "parameter"])
@pytest.mark.parametrize("n", [2, 25, 150])
def test_same_fix_and_sweeps_on_the_bench_shapes(below: str, n: int) -> None:
    text, tops = bench_shape(below, n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["other"]), (tops, ["data"]), (tops, ["other", "data"])]
    assert _compare(prepared, random.Random(f"{below}{n}"), 4, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 12, fixed) > 0


#: one layer of a busy net: its text from (name, a random earlier blob, another, the new top)
_BUSY_LAYERS = {
    "fan": 'layer {{ name: "{0}" type: "ReLU" bottom: "data" top: "{3}" }}',
    "chain": 'layer {{ name: "{0}" type: "ReLU" bottom: "{1}" top: "{3}" }}',
    "in-place": 'layer {{ name: "{0}" type: "ReLU" bottom: "{1}" top: "{1}" }}',
    "no-gradient": 'layer {{ name: "{0}" type: "ReLU" bottom: "{1}" top: "{3}" propagate_down: false }}',
    "flatten": 'layer {{ name: "{0}" type: "Flatten" bottom: "{1}" top: "{3}" }}',
    "reshape": 'layer {{ name: "{0}" type: "Reshape" bottom: "{1}" top: "{3}" reshape_param {{ shape {{ dim: 0 dim: -1 }} }} }}',
    "concat": 'layer {{ name: "{0}" type: "Concat" bottom: "{1}" bottom: "{2}" top: "{3}" }}',
    "sum": 'layer {{ name: "{0}" type: "Eltwise" bottom: "{1}" bottom: "{2}" top: "{3}" }}',
    "shared-ip": 'layer {{ name: "{0}" type: "InnerProduct" bottom: "{1}" top: "{3}" param {{ name: "w" }} '
                 'inner_product_param {{ num_output: 3 bias_term: false }} }}',
    "parameter": 'layer {{ name: "{0}" type: "Parameter" top: "{3}" param {{ name: "w" }} '
                 'parameter_param {{ shape {{ dim: 3 dim: 3 }} }} }}',
    "aborts": 'layer {{ name: "{0}" type: "ArgMax" bottom: "{1}" top: "{3}" }}',
    "zeroes": 'layer {{ name: "{0}" type: "Silence" bottom: "{1}" }}',
    "scaled-to-zero": 'layer {{ name: "{0}" type: "Power" bottom: "{1}" top: "{3}" power_param {{ scale: 0 }} }}',
    "python": 'layer {{ name: "{0}" type: "Python" bottom: "{1}" top: "{3}" python_param {{ module: "m" layer: "L" }} }}',
    "loss": 'layer {{ name: "{0}" type: "EuclideanLoss" bottom: "{1}" bottom: "{2}" top: "{3}" }}',
    "scratch": 'layer {{ name: "{0}" type: "Scale" bottom: "{1}" top: "{3}" }}',
    "learns-only": 'layer {{ name: "{0}" type: "InnerProduct" bottom: "{1}" top: "{3}" propagate_down: false '
                   'inner_product_param {{ num_output: 3 }} }}',
}


def busy_fan(seed: int, n: int) -> Tuple[str, List[str], List[str]]:
    """(net, tops, blobs): Inputs ``data`` and ``other``, then ``n`` random layers: mostly ReLUs of ``data``
    (a fan), among chains, in-place layers, aliases (ShareDiff), shared params and Parameters, layers
    that abort, zero a diff or pass none, losses (so that Caffe prunes without force_backward),
    layers that write a bottom's diff they are not asked for (Scale's scratch) or only learn, and
    undeclared Python layers (whose unknown backward makes the flags around them None)."""
    rng = random.Random(seed)
    kinds = list(_BUSY_LAYERS)
    weights = [{"fan": 12, "python": 3, "loss": 2, "chain": 2}.get(kind, 1) for kind in kinds]
    lines = ['name: "busy"',
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }']
    blobs = ["data", "other"]
    unread = set(blobs)  # in place only on a blob no layer has read yet, else Caffe refuses the net
    tops: List[str] = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        if kind == "in-place" and not unread:
            kind = "chain"
        top = f"t{i}"
        recent = blobs[-3:] if rng.random() < 0.5 else blobs  # chains through the layers just added
        first = rng.choice(sorted(unread)) if kind == "in-place" else rng.choice(recent)
        second = rng.choice(blobs)
        template = _BUSY_LAYERS[kind]
        lines.append(template.format(f"l{i}", first, second, top))
        if kind != "in-place":
            unread -= {"data"} if kind == "fan" else {blob for blob, mark in ((first, "{1}"), (second, "{2}"))
                                                      if mark in template}
            if "{3}" in template:
                blobs.append(top)
                tops.append(top)
                unread.add(top)
    return "\n".join(lines) + "\n", tops, blobs


@pytest.mark.parametrize("seed", range(40))
def test_same_fix_and_sweeps_on_busy_fans(seed: int) -> None:
    """Relevant layers many and interleaved with the fan: the fix and every sweep are the same."""
    text, tops, blobs = busy_fan(seed, 12 + seed)
    prepared = _prepared(text)
    assert prepared is not None
    rng = random.Random(seed)
    fixed = [(tops, ["other"]), (tops, ["data"]), (tops, ["other", "data"]), (tops, rng.sample(blobs, 2))]
    assert _compare(prepared, rng, 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, rng, 3, 60, fixed) > 0


def aborting_in_the_fan(kind: str, n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): a fan of ``2n`` ReLUs of ``data``, with in its middle a layer that writes no
    diff a read of ``other`` or ``data`` depends on but aborts ("aborts": an ArgMax of its own Input) or
    may abort ("may-abort": an ArgMax over an undeclared Python layer, both feeding a loss through a
    Softmax, so that whether they run is unknown): every sweep through it must stop there."""
    fan = [f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "r{i}" }}' for i in range(2 * n)]
    if kind == "aborts":
        middle = ['layer { name: "third" type: "Input" top: "third" input_param { shape { dim: 1 dim: 3 } } }',
                  'layer { name: "am" type: "ArgMax" bottom: "third" top: "a" }']
    else:
        middle = ['layer { name: "py" type: "Python" bottom: "data" top: "p" python_param { module: "m" layer: "L" } }',
                  'layer { name: "am" type: "ArgMax" bottom: "p" top: "a" }',
                  'layer { name: "sm" type: "Softmax" bottom: "a" top: "s" }',
                  'layer { name: "loss" type: "EuclideanLoss" bottom: "s" bottom: "other" top: "l" }']
    lines = ['name: "aborting"',
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }',
             *fan[:n], *middle, *fan[n:]]
    return "\n".join(lines) + "\n", [f"r{i}" for i in range(2 * n)]


@pytest.mark.parametrize("kind", ["aborts", "may-abort"])
@pytest.mark.parametrize("n", [1, 4, 20])
def test_a_layer_that_aborts_stops_the_sweep_though_it_writes_nothing_read(kind: str, n: int) -> None:
    text, tops = aborting_in_the_fan(kind, n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["other"]), (tops, ["data"]), (tops, ["other", "data"]), (tops[:1], ["data"])]
    assert _compare(prepared, random.Random(f"{kind}{n}"), 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 80, fixed) > 0


def fan_over_a_lowest_writer(kind: str, n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): ``n`` ReLUs of ``p``, the top of a layer over ``data`` that writes ``data``'s
    diff whatever reaches it: an undeclared Python layer ("unknown", bench_fix_search's
    ``unknown-bottom``) or a Power layer of scale 0 ("zeroes")."""
    pre = ('layer { name: "pre" type: "Python" bottom: "data" top: "p" python_param { module: "m" layer: "L" } }'
           if kind == "unknown" else
           'layer { name: "pre" type: "Power" bottom: "data" top: "p" power_param { scale: 0 } }')
    lines = ['name: "lowest"', 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             pre, *(f'layer {{ name: "r{i}" type: "ReLU" bottom: "p" top: "r{i}" }}' for i in range(n))]
    return "\n".join(lines) + "\n", [f"r{i}" for i in range(n)]


@pytest.mark.parametrize("kind", ["unknown", "zeroes"])
@pytest.mark.parametrize("n", [1, 6, 40])
def test_same_fix_and_sweeps_when_the_lowest_writer_ignores_what_reaches_it(kind: str, n: int) -> None:
    text, tops = fan_over_a_lowest_writer(kind, n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["data"]), (tops, ["data", "p"]), (tops[:1], ["p"])]
    assert _compare(prepared, random.Random(f"{kind}{n}"), 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 50, fixed) > 0


MIDDLE_LAYERS = {
    "relu": 'layer {{ name: "m" type: "ReLU" bottom: "{b}" top: "{t}" }}',  # passes the top's gradient on
    "zeroes": 'layer {{ name: "m" type: "Power" bottom: "{b}" top: "{t}" power_param {{ scale: 0 }} }}',
    "unknown": 'layer {{ name: "m" type: "Python" bottom: "{b}" top: "{t}" python_param {{ module: "m" layer: "L" }} }}',
    "alias": 'layer {{ name: "m" type: "Flatten" bottom: "{b}" top: "{t}" }}',  # its bottom's diff is its top's
    "scratch": 'layer {{ name: "m" type: "Scale" bottom: "{b}" bottom: "{b}x" top: "{t}" }}',
    "params": 'layer {{ name: "m" type: "InnerProduct" bottom: "{b}" top: "{t}" '
              'inner_product_param {{ num_output: 3 }} }}',
}


def chain_seeded_at_the_top(middle: str, n: int) -> str:
    """``data`` -> ReLUs ``c0`` .. ``c{n-1}`` with a ``middle`` layer halfway: only the top of the
    chain is seeded, so whether a read low in the chain gets a gradient depends on the layers above
    it reading their tops' diffs (``_reads_top_diffs``)."""
    lines = ['name: "chain"', 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }']
    below = "data"
    for i in range(n):
        if i == n // 2:
            if middle == "scratch":  # Scale's second bottom: the factor, whose diff it writes as scratch
                lines.append(f'layer {{ name: "f" type: "ReLU" bottom: "{below}" top: "{below}x" }}')
            lines.append(MIDDLE_LAYERS[middle].format(b=below, t="mid"))
            below = "mid"
        lines.append(f'layer {{ name: "c{i}" type: "ReLU" bottom: "{below}" top: "c{i}" }}')
        below = f"c{i}"
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("middle", sorted(MIDDLE_LAYERS))
@pytest.mark.parametrize("n", [2, 5, 12])
def test_same_fix_and_sweeps_on_a_chain_seeded_only_at_its_top(middle: str, n: int) -> None:
    prepared = _prepared(chain_seeded_at_the_top(middle, n))
    assert prepared is not None
    top = f"c{n - 1}"
    fixed = [([top], ["data"]), ([top], ["mid"]), ([top], ["c0"]), ([top], ["data", "c0"])]
    assert _compare(prepared, random.Random(f"{middle}{n}"), 10, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 4, 40, fixed) > 0


def unknown_fan(n: int, variant: str) -> Tuple[str, List[str]]:
    """(net, tops to seed): bench_fix_search's ``unknown-fan``: ``n`` ReLUs ``r<i>`` of ``data``, each
    read by its own undeclared Python layer ``p<i>`` (after its ReLU, or after all the ReLUs:
    "grouped"), seeds the ``p<i>``; "forced" adds ``force_backward: true``, "relu-seed" seeds ``r0``
    too, and "one-relu" makes the last ``p<i>`` a ReLU, so that a call can make ``data`` non-zero."""
    relus = [f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "r{i}" }}' for i in range(n)]
    tops = [f"p{i}" for i in range(n)]
    pythons = [f'layer {{ name: "p{i}" type: "Python" bottom: "r{i}" top: "p{i}" '
               f'python_param {{ module: "m" layer: "L" }} }}' for i in range(n)]
    if variant == "one-relu":
        pythons[-1] = f'layer {{ name: "p{n - 1}" type: "ReLU" bottom: "r{n - 1}" top: "p{n - 1}" }}'
    body = ([*relus, *pythons] if variant == "grouped"
            else [line for pair in zip(relus, pythons) for line in pair])
    lines = ['name: "unknown"', *(["force_backward: true"] if variant == "forced" else []),
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }', *body]
    return "\n".join(lines) + "\n", (["r0", *tops] if variant == "relu-seed" else tops)


UNKNOWN_FANS = ["interleaved", "grouped", "forced", "relu-seed", "one-relu"]


@pytest.mark.parametrize("variant", UNKNOWN_FANS)
@pytest.mark.parametrize("n", [1, 3, 20, 60])
def test_same_fix_on_unknown_fans(variant: str, n: int) -> None:
    text, tops = unknown_fan(n, variant)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["data"]), (tops, ["data", "r0"]), (tops[:1], ["data"]), (tops, ["r0"])]
    assert _compare(prepared, random.Random(f"{variant}{n}"), 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 30, fixed) > 0


@pytest.mark.parametrize("variant", UNKNOWN_FANS)
def test_the_proof_gives_up_early_on_unknown_fans_only_when_no_call_passes(variant: str) -> None:
    """The unknown fans where ``data``'s diff is never non-zero are proved so in one pass."""
    text, tops = unknown_fan(30, variant)
    prepared = _prepared(text)
    assert prepared is not None
    nets = _built(prepared)
    assert nets is not None
    net = nets[1] if prepared.force_backward else init_net(prepared.replace(force_backward=True),
                                                           declared_layer_infos(None, ()), nets[0])
    seeds = [net.name_to_id[top] for top in tops]
    read = [net.name_to_id["data"]]
    # a seeded ReLU, or a ReLU in place of a Python layer, passes data a gradient from a call of its own
    assert no_call_can_pass(net, seeds, read) is (variant not in ("relu-seed", "one-relu"))
    assert next(_passing_ranges(net, seeds, read, len(net.layers) - 1), None) is None \
        or not no_call_can_pass(net, seeds, read)


_RANK = {False: 0, None: 1, True: 2}


def _bounded(prepared: PreparedNet, rng: random.Random, calls: int,
             fixed: Sequence[Tuple[List[str], List[str]]] = (), starts: int = 24) -> int:
    """Every diff ``sweep_backward`` gives, for every end of ``starts`` random starts (all when the net is
    smaller) of ``calls`` random seedings and the ``fixed`` ones, on the net and its force_backward
    variant, is at most ``diff_bounds``' (False < None < True) for the segment it starts in, but those
    of the Parameter tops' classes, until the call aborts."""
    both = _net_and_forced(prepared)
    if both is None:
        return 0
    compared = 0
    for net in both:
        named = [[net.name_to_id[s] for s in seeds] for seeds, _ in fixed]
        for seeds in [*named, *(call[0] for call in _calls(net, rng, calls))]:
            parameter_classes = diff_bounds(net, seeds, [])[1]
            roots = _DiffClasses(net).roots(len(net.blob_names))
            watched = [b for b in range(len(net.blob_names)) if roots[b] not in parameter_classes]
            segments = diff_bounds(net, seeds, watched)[0]
            n = len(net.layers)
            for start in sorted(rng.sample(range(n), min(n, starts))):
                bounds = next(values for low, values in segments if low <= start)
                sweep = sweep_backward(net, seeds, start, watched)
                assert sweep is not None
                for k, (values, aborted) in enumerate(sweep):
                    if aborted:
                        break
                    for blob_id, value, bound in zip(watched, values, bounds):
                        assert _RANK[value] <= _RANK[bound], \
                            (prepared.name, seeds, start, start - k, net.blob_names[blob_id])
                compared += 1
    return compared


def test_diff_bounds_bound_every_call() -> None:
    """The claim ``no_call_can_pass`` rests on, blob by blob and call by call, on the nets above: this
    fails for a bound that keeps only the last write, that ranks None above True, or that starts again
    below every layer."""
    compared = 0
    for path in FIXTURE_NETS:
        prepared = _prepared(path.read_text(errors="replace"))
        if prepared is not None and len(prepared.layers) <= 200:
            compared += _bounded(prepared, random.Random(path.name), 2)
    for seed in range(300):
        net = generate(seed, invalid_rate=0.0)
        if net.valid:
            prepared = _prepared(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor="ssd")
            if prepared is not None:
                compared += _bounded(prepared, random.Random(seed), 3)
    for seed in range(40):
        text, tops, _ = busy_fan(seed, 12 + seed)
        prepared = _prepared(text)
        if prepared is not None:
            compared += _bounded(prepared, random.Random(seed), 3, [(tops, [])])
    for variant in UNKNOWN_FANS:
        text, tops = unknown_fan(6, variant)
        prepared = _prepared(text)
        assert prepared is not None
        compared += _bounded(prepared, random.Random(variant), 2, [(tops, [])])
    for middle in MIDDLE_LAYERS:
        prepared = _prepared(chain_seeded_at_the_top(middle, 8))
        assert prepared is not None
        compared += _bounded(prepared, random.Random(middle), 2, [(["c7"], [])])
    for kind in ("aborts", "may-abort"):
        text, tops = aborting_in_the_fan(kind, 4)
        prepared = _prepared(text)
        assert prepared is not None
        compared += _bounded(prepared, random.Random(kind), 2, [(tops, [])])
    assert compared > 5000


def joint_reads(n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): bench_fix_search's ``joint``: ``n`` ReLUs of ``x``, a ReLU of ``data``, over
    a ReLU ``w`` of ``other``, seeded too; read ``data`` and ``other`` together, no call passes (a call
    that gives ``data`` a gradient runs ``w``, which overwrites ``other``'s), though each alone may."""
    lines = ['name: "joint"',
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
             'layer { name: "w" type: "ReLU" bottom: "other" top: "o2" }',
             *(f'layer {{ name: "r{i}" type: "ReLU" bottom: "x" top: "r{i}" }}' for i in range(n))]
    return "\n".join(lines) + "\n", ["other", *(f"r{i}" for i in range(n))]


@pytest.mark.parametrize("n", [1, 4, 30])
def test_same_fix_when_the_reads_pass_only_apart(n: int) -> None:
    text, tops = joint_reads(n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["data", "other"]), (tops, ["data"]), (tops, ["other"]), (tops[1:], ["data", "other"])]
    assert _compare(prepared, random.Random(n), 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 30, fixed) > 0


def joint_reads_with_w_at(n: int, place: int, third: bool) -> Tuple[str, List[str]]:
    """``joint_reads`` with ``w`` at ``place`` among the layers under the inputs (0: under ``x``, so
    that a call from a ReLU of the fan to ``x`` leaves both reads non-zero; past them all: above the
    fan), and with ``third`` a second seeded read ``more`` that a ReLU ``v`` at the top overwrites."""
    under = ['layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
             *(f'layer {{ name: "r{i}" type: "ReLU" bottom: "x" top: "r{i}" }}' for i in range(n))]
    under.insert(place, 'layer { name: "w" type: "ReLU" bottom: "other" top: "o2" }')
    lines = ['name: "joint"',
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }',
             *(['layer { name: "more" type: "Input" top: "more" input_param { shape { dim: 1 dim: 3 } } }']
               if third else []),
             *under,
             *(['layer { name: "v" type: "ReLU" bottom: "more" top: "m2" }'] if third else [])]
    seeds = ["other", *(["more"] if third else []), *(f"r{i}" for i in range(n))]
    return "\n".join(lines) + "\n", seeds


@pytest.mark.parametrize("place", [0, 1, 2, 5, 9])
@pytest.mark.parametrize("third", [False, True])
def test_same_fix_whichever_layer_overwrites_a_seeded_read(place: int, third: bool) -> None:
    """``_RangeTests._ceiling``: a read not non-zero before Backward keeps its value above its last
    writer, so the other reads are tried alone below it; the reference decides every placement."""
    text, tops = joint_reads_with_w_at(8, place, third)
    prepared = _prepared(text)
    assert prepared is not None
    reads = ["data", "other", *(["more"] if third else [])]
    fixed = [(tops, reads), (tops, reads[::-1]), (tops, ["data", "other"]), (tops[1:], reads)]
    assert _compare(prepared, random.Random(place), 6, fixed) >= len(fixed)


@pytest.mark.parametrize("n", [20, 40])
def test_same_fix_with_more_reads_than_are_tried_alone(n: int) -> None:
    """``_ReadsAlone``: past ``TRIED`` reads only the reads with the fewest writers are swept alone;
    the ceiling and the sweeps' incremental values must still give the reference's fix."""
    text, tops = joint_reads(n)
    prepared = _prepared(text)
    assert prepared is not None
    every = [f"r{i}" for i in range(n)]
    fixed = [(tops, ["data", "other", *every]), (tops, [*every, "other", "data"]), (tops, [*every, "data"]),
             (tops[1:], ["other", *every])]
    assert _compare(prepared, random.Random(n), 4, fixed) >= len(fixed)
    chain = ['name: "c"', 'layer { name: "data" type: "Input" top: "b0" input_param { shape { dim: 1 } } }',
             *(f'layer {{ name: "l{i}" type: "ReLU" bottom: "b{i - 1}" top: "b{i}" }}' for i in range(1, n))]
    prepared = _prepared("\n".join(chain) + "\n")
    assert prepared is not None
    blobs = [f"b{i}" for i in range(n)]
    fixed = [([blobs[-1]], blobs), ([blobs[n // 2]], blobs), ([blobs[-1], blobs[1]], blobs[::-1])]
    assert _compare(prepared, random.Random(n), 4, fixed) >= len(fixed)


def abort_between(n: int) -> Tuple[str, List[str]]:
    """(net, tops to seed): ``n`` ReLUs of ``x``, a ReLU of ``data``, and between ``x`` and them an
    ArgMax of ``x``: with force_backward every call that gives ``data`` a gradient runs the ArgMax,
    which aborts; the proof starts again below it, so it finds that no call passes."""
    lines = ['name: "between"',
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             'layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
             'layer { name: "am" type: "ArgMax" bottom: "x" top: "a" }',
             *(f'layer {{ name: "r{i}" type: "ReLU" bottom: "x" top: "r{i}" }}' for i in range(n))]
    return "\n".join(lines) + "\n", [f"r{i}" for i in range(n)]


@pytest.mark.parametrize("n", [1, 4, 30])
def test_same_fix_when_every_passing_range_would_abort(n: int) -> None:
    text, tops = abort_between(n)
    prepared = _prepared(text)
    assert prepared is not None
    fixed = [(tops, ["data"]), (tops, ["x"]), (tops[:1], ["data"]), (tops, ["data", "a"])]
    assert _compare(prepared, random.Random(n), 6, fixed) >= len(fixed)
    assert _same_sweeps(prepared, random.Random(n), 2, 30, fixed) > 0
    built, _ = _built(prepared) or (None, None)
    forced = init_net(prepared.replace(force_backward=True), declared_layer_infos(None, ()), built)
    assert no_call_can_pass(forced, [forced.name_to_id[top] for top in tops], [forced.name_to_id["data"]])
