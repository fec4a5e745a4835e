"""The simulation on small hand-written nets, each stating one Caffe behaviour.

The same behaviours are checked against real Caffe by the golden and live
differential suites; these tests pin them with readable expectations and run
without the oracle.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from backprop_lint.caffe.model import NetRefused, SimulatedNet
from backprop_lint.caffe.pipeline import run_simulate

INPUT = 'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }\n'
LABEL = 'layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 dim: 4 } } }\n'


def sim(text: str, **options: Any) -> Dict[str, Any]:
    options.setdefault("flavor", "ssd")
    return run_simulate(text, **options)


def layer(result: Dict[str, Any], name: str) -> Dict[str, Any]:
    return next(entry for entry in result["layers"] if entry["name"] == name)


def ip(name: str, bottom: str, top: str, extra: str = "") -> str:
    return (f'layer {{ name: "{name}" type: "InnerProduct" bottom: "{bottom}" top: "{top}" {extra} '
            'inner_product_param { num_output: 4 } }\n')


def test_classifier_trains_everything_below_the_loss() -> None:
    net = INPUT + LABEL + ip("fc", "data", "fc") + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "label" top: "loss" }\n'
    result = sim(net)
    assert layer(result, "fc")["need_backward"] is True
    assert layer(result, "fc")["param_propagate_down"] == [True, True]
    assert layer(result, "data")["need_backward"] is False
    assert layer(result, "loss")["bottom_need_backward"] == [True, False]
    assert layer(result, "loss")["loss"] == [1.0]
    assert result["outputs"] == ["loss"]
    assert result["param_diff_nonzero"]["fc"] == [True, True]
    assert result["blob_diff_nonzero"]["data"] is False


def test_deploy_net_without_loss_runs_no_backward() -> None:
    result = sim(INPUT + ip("fc", "data", "fc") + 'layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }\n')
    assert all(entry["need_backward"] is False for entry in result["layers"])
    assert result["blob_diff_nonzero"]["prob"] is True  # the seeded output
    assert result["blob_diff_nonzero"]["fc"] is False
    assert result["blob_diff_nonzero"]["data"] is False


def test_force_backward_reaches_the_input_of_a_deploy_net() -> None:
    result = sim("force_backward: true\n" + INPUT + ip("fc", "data", "fc"))
    assert layer(result, "fc")["bottom_need_backward"] == [True]
    assert result["blob_diff_nonzero"]["data"] is True


def test_split_naming_and_placement() -> None:
    net = INPUT + ip("a", "data", "a") + ip("b", "data", "b")
    result = sim(net)
    names = [entry["name"] for entry in result["layers"]]
    assert names == ["data", "data_data_0_split", "a", "b"]
    assert layer(result, "a")["bottoms"] == ["data_data_0_split_0"]
    assert layer(result, "b")["bottoms"] == ["data_data_0_split_1"]


def test_explicit_loss_weight_moves_to_the_split() -> None:
    net = INPUT + ip("ip1", "data", "ip1", 'loss_weight: 2.5') + ip("ip2", "ip1", "ip2")
    result = sim(net)
    split = layer(result, "ip1_ip1_0_split")
    assert split["loss"] == [2.5, 0.0]
    assert layer(result, "ip1")["loss"] == [0.0]
    assert layer(result, "ip2")["bottoms"] == ["ip1_ip1_0_split_1"]


def test_in_place_after_a_split_is_refused() -> None:
    net = INPUT + ip("ip1", "data", "x") + ip("ip2", "x", "y") + \
        'layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }\n'
    error = sim(net)["error"]
    assert error["message"] == "Top blob 'x' produced by multiple sources."
    assert error["kind"] == "multiple-sources-split"
    assert error["layer"] == "relu"


def test_propagate_down_false_in_place_prunes_the_producer() -> None:
    net = INPUT + LABEL + ip("ip1", "data", "x") + \
        'layer { name: "relu" type: "ReLU" bottom: "x" top: "x" propagate_down: false }\n' + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "x" bottom: "label" top: "loss" }\n'
    result = sim(net)
    assert layer(result, "ip1")["need_backward"] is False
    assert layer(result, "relu")["need_backward"] is True
    assert result["param_diff_nonzero"]["ip1"] == [False, False]


def test_loss_layer_pruned_by_a_silence_consumer() -> None:
    net = INPUT + LABEL + ip("fc", "data", "fc") + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "label" top: "loss" }\n' + \
        'layer { name: "silence" type: "Silence" bottom: "loss" }\n'
    result = sim(net)
    assert layer(result, "loss")["need_backward"] is False
    assert result["param_diff_nonzero"]["fc"] == [False, False]


def test_outputs_are_in_byte_order_and_skip_automatic_tops() -> None:
    net = INPUT + LABEL + ip("z", "data", "zeta") + ip("B", "zeta", "Beta") + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "Beta" bottom: "label" }\n' + ip("a", "data_unused", "x")
    # data_unused does not exist: the last layer makes Caffe refuse
    assert sim(net)["error"]["kind"] == "unknown-bottom"
    result = sim(INPUT + LABEL + ip("z", "data", "zeta") + ip("B", "data", "Beta") + ip("c", "label", "alpha"))
    assert result["outputs"] == ["Beta", "alpha", "zeta"]
    auto = sim(INPUT + LABEL + 'layer { name: "loss" type: "EuclideanLoss" bottom: "data" bottom: "label" }\n')
    assert layer(auto, "loss")["tops"] == ["(automatic)"]
    assert auto["outputs"] == []


def test_a_cycle_of_names_is_an_unknown_bottom() -> None:
    net = ip("a", "y", "x") + ip("b", "x", "y")
    error = sim(net)["error"]
    assert error["message"] == "Unknown bottom blob 'y' (layer 'a', bottom index 0)"
    assert (error["line"], error["column"]) == (1, 1)


@pytest.mark.parametrize("body, kind", [
    (INPUT + ip("fc", "data", "fc", "propagate_down: true propagate_down: false"), "propagate-down-count"),
    (INPUT + ip("fc", "data", "fc", "loss_weight: 1 loss_weight: 1"), "loss-weight-count"),
    (INPUT + ip("fc", "data", "fc", "param {} param {} param {}"), "too-many-params"),
    (INPUT + ip("fc", "data", "fc", "include { phase: TRAIN } exclude { phase: TEST }"), "include-and-exclude"),
    (INPUT + 'layer { name: "x" type: "NoSuchLayer" bottom: "data" top: "x" }\n', "unknown-layer-type"),
    (INPUT + 'layer { name: "s" type: "Softmax" bottom: "data" bottom: "data" top: "s" }\n', "bottom-count"),
    (INPUT + 'layer { name: "f" type: "Flatten" bottom: "data" top: "data" }\n', "in-place-forbidden"),
    (INPUT + LABEL + 'layer { name: "l" type: "SoftmaxWithLoss" bottom: "data" bottom: "label" top: "l" top: "p" }\n',
     "softmax-loss-two-tops"),
])
def test_refusals_carry_their_kind(body: str, kind: str) -> None:
    assert sim(body)["error"]["kind"] == kind


def test_batchnorm_statistics_lr_is_refused_by_bvlc_only() -> None:
    net = INPUT + 'layer { name: "bn" type: "BatchNorm" bottom: "data" top: "bn" param { lr_mult: 1 } }\n'
    assert sim(net, flavor="bvlc")["error"]["kind"] == "batchnorm-stats-lr"
    assert "error" not in sim(net, flavor="ssd")


def test_phase_filtering() -> None:
    net = INPUT + ip("train_only", "data", "t", "include { phase: TRAIN }") + \
        ip("deploy_only", "data", "d", 'include { stage: "deploy" }')
    assert [entry["name"] for entry in sim(net, phase="TEST")["layers"]] == ["data"]
    assert "train_only" in [entry["name"] for entry in sim(net, phase="TRAIN")["layers"]]
    assert "deploy_only" in [entry["name"] for entry in sim(net, phase="TEST", stages=["deploy"])["layers"]]


def test_python_layer_results_are_unknown_until_declared() -> None:
    net = INPUT + 'layer { name: "py" type: "Python" bottom: "data" top: "p" ' \
        'python_param { module: "m" layer: "L" } }\n' + ip("fc", "p", "fc") + LABEL + \
        'layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "label" }\n'
    unknown = sim(net)
    assert layer(unknown, "py")["param_propagate_down"] is None
    assert layer(unknown, "py")["need_backward"] is None
    declared = run_simulate(net, flavor="ssd", declared_layers={"m.L": {"params": 0, "backward": "respects-pd"}})
    assert layer(declared, "py")["need_backward"] is False
    assert layer(declared, "py")["param_propagate_down"] == []


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_lint", "simulate", *args],
                          capture_output=True, text=True, timeout=60)


def test_cli_exit_status_and_json(tmp_path: Path) -> None:
    good = tmp_path / "good.prototxt"
    good.write_text(INPUT + ip("fc", "data", "fc"))
    done = run_cli(str(good), "--phase", "TEST")
    assert done.returncode == 0
    assert set(json.loads(done.stdout)) == {"layers", "blobs", "inputs", "outputs", "blob_diff_nonzero",
                                            "param_diff_nonzero", "backward_aborts"}
    bad = tmp_path / "bad.prototxt"
    bad.write_text(ip("fc", "nothing", "fc"))
    refused = run_cli(str(bad))
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["error"]["line"] == 1
    assert run_cli(str(good), "--phase", "VALIDATE").returncode == 2
    garbage = tmp_path / "garbage.prototxt"
    garbage.write_bytes(b"layer { name: \xff\xfe }")
    broken = run_cli(str(garbage))
    assert broken.returncode == 1 and "Traceback" not in broken.stderr


def test_cli_reads_declared_layers_from_a_config(tmp_path: Path) -> None:
    net = tmp_path / "roi.prototxt"
    net.write_text(INPUT + 'layer { name: "pool" type: "ROIPooling" bottom: "data" top: "pool" }\n')
    assert json.loads(run_cli(str(net)).stdout)["error"]["kind"] == "unknown-layer-type"
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.backprop-lint.layers.ROIPooling]\nparams = 0\nbackward = "respects-pd"\n')
    declared = run_cli(str(net), "--config", str(config))
    assert declared.returncode == 0
    assert [entry["type"] for entry in json.loads(declared.stdout)["layers"]] == ["Input", "ROIPooling"]
    config.write_text('[tool.backprop-lint.layers.ROIPooling]\nparams = "many"\n')
    broken = run_cli(str(net), "--config", str(config))
    assert broken.returncode == 2 and "pyproject.toml" in broken.stderr and "Traceback" not in broken.stderr


def _nets_with_and_without_a_loss() -> List[Path]:
    from shared_data import corpus_nets

    return [path for path in corpus_nets() if "resnet" in path.name.lower() or "lenet" in path.name.lower()][:6]


@pytest.mark.parametrize("seed", range(30))
def test_a_reused_forward_build_simulates_as_a_fresh_one(seed: int) -> None:
    """`check` re-simulates with force_backward from the first run's build_layers:
    the later stages must leave that build as it was, whatever order the runs take."""
    import randnet

    from backprop_lint.caffe.pipeline import prepare
    from backprop_lint.caffe.simulate import build_layers, simulate

    try:
        net = randnet.generate(seed)
        prepared = prepare(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor="ssd")
        built = build_layers(prepared, {})
    except NetRefused:
        pytest.skip("this random net is refused before the backward stages")
    for force in (False, True, True, False, True):
        variant = prepared.replace(force_backward=force)
        assert simulate(variant, built=built) == simulate(variant)


def test_check_reuses_one_build_for_the_force_backward_run_on_corpus_nets() -> None:
    from shared_data import MISSING_REASON

    from backprop_lint.caffe.load import load
    from backprop_lint.caffe.pipeline import NetStates, simulate

    paths = _nets_with_and_without_a_loss()
    if not paths:
        pytest.skip(MISSING_REASON)
    for path in paths:
        states = NetStates(load(path, flavor="ssd"), "ssd")
        for phase in ("TRAIN", "TEST"):
            try:
                prepared = states.prepare(phase=phase)
                first = states.simulate(prepared)
            except NetRefused:
                continue
            forced = prepared.replace(force_backward=True)
            assert states.simulate(forced) == simulate(forced), path.name
            assert first == simulate(prepared), path.name


def _json_of(sim: SimulatedNet) -> Dict[str, Any]:
    """The ``simulate`` JSON as the rules' ``SimulatedNet`` states it."""
    from backprop_lint.caffe.pipeline import caffe_float

    return {
        "layers": [
            {
                "name": layer.name,
                "type": layer.type,
                "bottoms": layer.bottoms,
                "tops": layer.tops,
                "need_backward": layer.need_backward,
                "bottom_need_backward": layer.bottom_need_backward,
                "param_propagate_down": layer.param_propagate_down,
                "loss": [w if w == 0 else caffe_float(w) for w in layer.loss],
            }
            for layer in sim.layers
        ],
        "blobs": sim.blobs,
        "inputs": sim.inputs,
        "outputs": sim.outputs,
        "blob_diff_nonzero": sim.blob_diff_nonzero,
        "param_diff_nonzero": sim.param_diff_nonzero,
        "backward_aborts": sim.backward_aborts,
    }


def _json_paths_agree(source: Any, **options: Any) -> None:
    from backprop_lint.caffe.model import InputError
    from backprop_lint.caffe.pipeline import prepare, simulate

    try:
        expected = _json_of(simulate(prepare(source, **options)))
    except (NetRefused, InputError):
        return
    assert run_simulate(source, **options) == expected


@pytest.mark.parametrize("seed", range(40))
def test_run_simulate_writes_the_json_of_the_simulated_net_on_random_nets(seed: int) -> None:
    """run_simulate writes its JSON straight from the simulation, without the SimulatedNet:
    it must say what the ``SimulatedNet`` of the same net says."""
    import randnet

    net = randnet.generate(seed)
    for flavor in ("ssd", "bvlc"):
        _json_paths_agree(net.text, phase=net.phase, level=net.level, stages=net.stages, flavor=flavor)


def test_run_simulate_writes_the_json_of_the_simulated_net_on_corpus_nets() -> None:
    from shared_data import MISSING_REASON, corpus_nets

    paths = corpus_nets()
    if not paths:
        pytest.skip(MISSING_REASON)
    for path in paths:
        for phase in ("TRAIN", "TEST"):
            _json_paths_agree(path, phase=phase, flavor="ssd")
