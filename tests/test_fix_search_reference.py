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

``BackwardSweeps``, which stops a sweep where no lower end can change, must
also give ``sweep_backward``'s entry for every start and end on those nets.
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
    build_layers,
    init_net,
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


def _same_sweeps(prepared: PreparedNet, rng: random.Random, calls: int, starts: int) -> int:
    """``BackwardSweeps`` against ``sweep_backward`` (``run_backward`` where it is None): every end of
    ``starts`` random starts (all when the net is smaller) of random calls; below an aborted entry only
    the abort is compared."""
    nets = _built(prepared)
    if nets is None:
        return 0
    forced = init_net(prepared.replace(force_backward=True), declared_layer_infos(None, ()), nets[0])
    compared = 0
    for net in (nets[1], forced):
        n = len(net.layers)
        for seeds, reads, _, _ in _calls(net, rng, calls):
            sweeps = BackwardSweeps(net, seeds, reads)
            # a call that runs no layer
            assert sweeps.before == [run_backward(net, seeds, -1, 0).blob_diff_nonzero[r] for r in reads]
            for start in sorted(rng.sample(range(n), min(n, starts))):
                expected = _reference_sweep(net, seeds, start, reads)
                entries = sweeps.sweep(start)
                assert 1 <= len(entries) <= len(expected)
                lowest = start - len(entries) + 1
                values, aborted = entries[-1]
                below = [(values, aborted or end <= sweeps.aborting_below(lowest)) for end in range(lowest - 1, -1, -1)]
                for k, ((got_values, got_aborted), (want_values, want_aborted)) in enumerate(
                        zip([*entries, *below], expected)):
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
