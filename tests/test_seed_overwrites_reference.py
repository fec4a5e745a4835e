"""``plan.seed_overwrites`` names, for every seed, the same layer and message as the former search,
which went through every layer that ran once per seed (quadratic on a fan that seeds every output)."""
from __future__ import annotations

import random
from typing import List, Tuple

from randnet import generate

from backprop_lint.backward.plan import (
    SimulatedCall,
    layer_names_of,
    prepare_source,
    producer_index,
    seed_overwrites,
    simulate_call,
)
from backprop_lint.caffe.model import InputError, NetRefused
from backprop_lint.caffe.pipeline import declared_layer_infos
from backprop_lint.caffe.simulate import build_layers, init_net


def reference_overwrites(run: SimulatedCall) -> List[Tuple[str, str, str]]:
    """(seed, overwriting layer, start hint) per seed: the first layer that ran, reads the seed (not
    in place) and is asked for its gradient."""
    net = run.net
    found = []
    for seed in run.seed_ids:
        for i in run.result.ran:
            layer = net.layers[i]
            if seed not in layer.bottom_ids or seed in layer.top_ids:
                continue
            if layer.bottom_need_backward[layer.bottom_ids.index(seed)] is False:
                continue
            producer = producer_index(net, seed)
            hint = "" if producer is None else f"start='{layer_names_of(net)[producer]}'."
            found.append((net.blob_names[seed], layer.definition.name, hint))
            break
    return found


def test_same_seed_overwrites_on_random_nets() -> None:
    declared = declared_layer_infos(None, ())
    compared = notes = 0
    for seed in range(300):
        generated = generate(seed, invalid_rate=0.0)
        if not generated.valid:
            continue
        try:
            prepared = prepare_source(generated.text, phase=generated.phase, level=generated.level,
                                      stages=generated.stages, flavor="ssd")
            built = build_layers(prepared, declared)
            nets = [init_net(prepared, declared, built),
                    init_net(prepared.replace(force_backward=True), declared, built)]
        except (InputError, NetRefused):
            continue
        rng = random.Random(seed)
        for net in nets:
            if not net.layers:
                continue
            for _ in range(4):
                blobs = range(len(net.blob_names))
                seeds = rng.sample(blobs, k=min(len(blobs), rng.choice((1, 3, 8))))
                start = rng.randrange(len(net.layers))
                run = simulate_call(net, [*seeds, *seeds[:1]], start, rng.randrange(start + 1))
                got = seed_overwrites(run)
                expected = reference_overwrites(run)
                assert [(note.blob, note.overwritten_by) for note in got] == [(s, layer) for s, layer, _ in expected]
                assert all(note.message.endswith(hint or ".") for note, (_, _, hint) in zip(got, expected))
                compared += 1
                notes += len(got)
    assert compared > 1000 and notes > 500
