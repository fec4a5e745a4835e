"""The random net generator itself (tests/randnet.py), without real Caffe."""
from __future__ import annotations

import re
from collections import Counter
from typing import Dict, List, Set

import pytest

import randnet

SEEDS = range(200)

#: what the differential suite must exercise (spec caffe-backward-semantics.md §2-§5)
REQUIRED_FEATURES: Set[str] = {
    "branch", "same-bottom-twice", "inplace", "propagate_down-true", "propagate_down-false", "lr_mult-0",
    "param-specs", "loss-explicit-weight", "loss-implicit-weight", "loss_weight-nonloss", "loss-top-consumed",
    "automatic-top", "silence", "accuracy", "argmax", "threshold", "reshape", "flatten", "concat-1", "slice-1",
    "concat", "slice", "eltwise", "split-explicit", "parameter", "batchnorm-0", "batchnorm-1", "batchnorm-3",
    "scale-1", "scale-2", "bias-1", "bias-2", "embed", "force_backward", "include", "exclude", "phase-TEST",
    "no-loss", "input", "legacy-input", "dummydata", "duplicate-layer-names",
    "EuclideanLoss", "SoftmaxWithLoss", "SigmoidCrossEntropyLoss", "MultinomialLogisticLoss", "HingeLoss",
    "ContrastiveLoss", "InfogainLoss", "SmoothL1Loss", "pooling-mask-top", "shared-params", "v1-format",
    "MVN", "LRN", "Im2col", "Exp", "Tile", "Reduction", "Deconvolution", "Crop", "Normalize", "Permute",
}
MUTATIONS: Set[str] = {
    "unknown-bottom", "duplicate-top", "inplace-on-split-blob", "propagate_down-count", "loss_weight-count",
    "too-many-params", "include-and-exclude", "unknown-type", "bottom-count", "top-count",
    "softmaxwithloss-two-tops", "forbidden-in-place", "shared-lr-mismatch", "layer-and-layers",
}
LAYER = re.compile(r"^layers? \{\n(.*?)\n\}\n", re.S | re.M)  # V2 `layer` or V1 `layers`


@pytest.fixture(scope="module")
def nets() -> List[randnet.RandomNet]:
    return [randnet.generate(seed) for seed in SEEDS]


def _layers(text: str) -> List[Dict[str, List[str]]]:
    """Each layer's bottoms, tops and rule keywords, read back from the text."""
    layers = []
    for body in LAYER.findall(text):
        layers.append({
            "bottom": re.findall(r'^  bottom: "([^"]*)"', body, re.M),
            "top": re.findall(r'^  top: "([^"]*)"', body, re.M),
            "rules": re.findall(r"^  (include|exclude) \{", body, re.M),
            "type": re.findall(r'^  type: "?(\w+)"?', body, re.M),
        })
    return layers


def test_same_seed_same_net() -> None:
    for seed in range(30):
        assert randnet.generate(seed) == randnet.generate(seed)


def test_different_seeds_different_nets(nets: List[randnet.RandomNet]) -> None:
    assert len({net.text for net in nets}) == len(nets)


def test_every_net_parses_into_our_schema(nets: List[randnet.RandomNet]) -> None:
    from google.protobuf import text_format

    from backprop_lint.caffe.schema import net_parameter_class

    net_class = net_parameter_class()
    for net in nets:
        parsed = text_format.Parse(net.text, net_class())
        assert parsed.name == f"randnet_{net.seed}"
        assert len(parsed.layer) + len(parsed.layers) == len(_layers(net.text)), net.seed


def test_every_feature_and_mutation_appears(nets: List[randnet.RandomNet]) -> None:
    seen = Counter(feature for net in nets for feature in net.features)
    assert not REQUIRED_FEATURES - set(seen), f"never generated in {len(SEEDS)} seeds: {REQUIRED_FEATURES - set(seen)}"
    mutations = {net.mutation for net in nets if net.mutation}
    assert mutations == MUTATIONS


def test_about_one_net_in_five_is_invalid(nets: List[randnet.RandomNet]) -> None:
    invalid = [net for net in nets if not net.valid]
    assert 0.1 * len(nets) <= len(invalid) <= 0.3 * len(nets)
    for net in invalid:
        assert net.mutation and net.refusal and f"invalid:{net.mutation}" in net.features
    for net in nets:
        if net.valid:
            assert net.mutation is None and net.refusal == ()


def test_valid_nets_read_only_blobs_that_exist(nets: List[randnet.RandomNet]) -> None:
    """Every bottom of a valid net was produced earlier by a layer without include/exclude rules."""
    for net in (net for net in nets if net.valid):
        available = set(re.findall(r'^input: "([^"]*)"', net.text, re.M))
        for layer in _layers(net.text):
            missing = [b for b in layer["bottom"] if b not in available]
            assert not missing, f"seed {net.seed}: {layer['type']} reads {missing}"
            if not layer["rules"]:
                available.update(layer["top"])


def test_valid_nets_have_one_producer_per_blob(nets: List[randnet.RandomNet]) -> None:
    """A blob is written again only in place (top j equal to bottom j)."""
    for net in (net for net in nets if net.valid):
        produced = set(re.findall(r'^input: "([^"]*)"', net.text, re.M))
        for layer in _layers(net.text):
            for index, top in enumerate(layer["top"]):
                in_place = index < len(layer["bottom"]) and layer["bottom"][index] == top
                assert in_place or top not in produced, f"seed {net.seed}: {top} written twice"
                produced.add(top)


def test_nets_need_no_data_files_and_stay_small(nets: List[randnet.RandomNet]) -> None:
    sources = {"Input", "DummyData", "Parameter", "DUMMY_DATA"}
    for net in nets:
        types = {t for layer in _layers(net.text) for t in layer["type"]}
        sources_used = types & sources or ({"Input"} if "input:" in net.text else set())
        assert sources_used, net.seed
        assert not types & {"Data", "ImageData", "HDF5Data", "WindowData", "Python", "MemoryData", "DATA",
                            "IMAGE_DATA", "HDF5_DATA", "WINDOW_DATA", "MEMORY_DATA"}, net.seed
        assert "STOCHASTIC" not in net.text and "CUDNN" not in net.text
        for shape in re.findall(r"shape \{ ([^}]*) \}", net.text):
            dims = [int(d) for d in re.findall(r"dim: (-?\d+)", shape)]
            elements = 1
            for dim in dims:
                elements *= max(dim, 1)
            assert dims[0] in (0, 1, randnet.BATCH) and elements <= 256, (net.seed, dims)  # 1: a loss matrix


def test_v1_nets_use_only_v1_layers(nets: List[randnet.RandomNet]) -> None:
    v1_nets = [net for net in nets if "v1-format" in net.features]
    assert v1_nets
    for net in v1_nets:
        assert "\nlayer {" not in net.text and "propagate_down" not in net.text and "lr_mult" not in net.text
        assert {t for layer in _layers(net.text) for t in layer["type"]} <= set(randnet._V1_TYPES.values())


def test_states_are_well_formed(nets: List[randnet.RandomNet]) -> None:
    assert {net.phase for net in nets} == {"TRAIN", "TEST"}
    assert {net.level for net in nets} == {0, 1, 2}
    for net in nets:
        assert set(net.stages) <= set(randnet.STAGES)
