"""Build options (opencv, hdf5, python, cudnn) as a user setting, and each oracle's real registry.

The registry comparison runs each oracle's ``caffe-layer-types`` (skipped, with
the reason, when that oracle is not built): the types our table says a build
with the oracle's options registers must be exactly the ones it registers.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from oracle_support import oracle  # also puts tools/oracle on sys.path

from backprop_lint.caffe.build_options import (
    ORACLE_BUILDS,
    USUAL_BUILD,
    build_setting_of,
    parse_build_flag,
    resolve_build,
)
from backprop_lint.caffe.layer_table import USE_CUDNN, USE_OPENCV, available_types
from backprop_lint.caffe.model import InputError
from backprop_lint.caffe.pipeline import run_simulate
from backprop_lint.cli import main as cli_main
from backprop_lint.linting.config import ConfigError, parse_table
from backprop_lint.linting.linter import lint

# Caffe's own V0 upgrade test net starts like this (U:src/caffe/test/test_upgrade_proto.cpp,
# "images" data layer): an ImageData layer, which only an OpenCV build registers.
V0_IMAGES_NET = """
name: 'CaffeNet'
layers {
  layer { name: 'data' type: 'images' source: '/home/jiayq/Data/ILSVRC12/train-images'
          meanfile: '/home/jiayq/Data/ILSVRC12/image_mean.binaryproto' batchsize: 256
          cropsize: 227 mirror: true }
  top: 'data' top: 'label'
}
layers {
  layer { name: 'fc' type: 'innerproduct' num_output: 10 }
  bottom: 'data' top: 'fc'
}
layers {
  layer { name: 'loss' type: 'softmax_loss' }
  bottom: 'fc' bottom: 'label'
}
"""

DILATED_CUDNN = """
layer { name: "input" type: "Input" top: "x" input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }
layer { name: "deconv5" type: "Convolution" bottom: "x" top: "y"
        convolution_param { num_output: 1 kernel_size: 3 dilation: 2 engine: CUDNN } }
"""


def _net(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.prototxt"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_flag_turns_options_on_and_off() -> None:
    assert parse_build_flag("opencv, no-python,cudnn") == {"opencv": True, "python": False, "cudnn": True}
    with pytest.raises(InputError, match="unknown build option 'gpu'"):
        parse_build_flag("gpu")


def test_options_not_named_keep_the_flavours_usual_build() -> None:
    assert resolve_build("ssd") == USUAL_BUILD["ssd"]
    assert USE_OPENCV in resolve_build("bvlc") and USE_CUDNN not in resolve_build("bvlc")
    assert resolve_build("bvlc", {"cudnn": True}) == USUAL_BUILD["bvlc"] | {USE_CUDNN}
    assert resolve_build("ssd", "no-opencv") == USUAL_BUILD["ssd"] - {USE_OPENCV}
    assert resolve_build("ssd", build_setting_of(ORACLE_BUILDS["ssd"])) == ORACLE_BUILDS["ssd"]


def test_caffes_own_v0_upgrade_net_loads_with_the_usual_ssd_build(tmp_path: Path) -> None:
    net = _net(tmp_path, V0_IMAGES_NET)
    accepted = run_simulate(net, flavor="ssd", phase="TRAIN")
    assert "error" not in accepted and accepted["layers"][0]["type"] == "ImageData"
    refused = run_simulate(net, flavor="ssd", phase="TRAIN", build="no-opencv")
    assert refused["error"]["kind"] == "unknown-layer-type"
    assert refused["error"]["message"].startswith("Unknown layer type: ImageData")


def test_cudnn_engine_is_refused_by_a_build_without_cudnn(tmp_path: Path) -> None:
    net = _net(tmp_path, DILATED_CUDNN.replace(" dilation: 2", ""))
    refused = run_simulate(net, flavor="bvlc")
    assert refused["error"] == {"message": "Layer deconv5 has unknown engine.", "layer": "deconv5",
                                "line": 3, "column": 1, "kind": "unknown-engine"}
    assert "error" not in run_simulate(net, flavor="bvlc", build={"cudnn": True})


def test_cudnn_build_refuses_a_dilated_cudnn_convolution(tmp_path: Path) -> None:
    result = run_simulate(_net(tmp_path, DILATED_CUDNN), flavor="bvlc", build="cudnn")
    assert result["error"]["message"] == "CuDNN doesn't support the dilated convolution at Layer deconv5"


def test_configuration_key_and_check_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_table({"build": {"cudnn": True}}).build == {"cudnn": True}
    with pytest.raises(ConfigError, match="build"):
        parse_table({"build": {"cuda": True}})
    with pytest.raises(ConfigError, match="build"):
        parse_table({"build": {"opencv": "yes"}})
    net = _net(tmp_path, DILATED_CUDNN.replace(" dilation: 2", ""))
    codes = [finding.code for finding in lint(net, phase="TEST").findings]
    assert codes == ["BL017"]
    assert "BL017" not in [finding.code for finding in lint(net, phase="TEST", build="cudnn").findings]
    (tmp_path / "backprop-lint.toml").write_text("build = {cudnn = true}\n", encoding="utf-8")
    assert cli_main(["check", net, "--phase", "TEST", "--format", "json", "--select", "BL0"]) == 0
    capsys.readouterr()
    assert cli_main(["check", net, "--phase", "TEST", "--format", "json", "--select", "BL0", "--build", "no-cudnn"]) == 1
    document: Dict[str, Any] = json.loads(capsys.readouterr().out)
    assert [finding["code"] for finding in document["findings"]] == ["BL017"]


@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
def test_our_table_registers_what_the_oracle_build_registers(flavor: str) -> None:
    ready, reason = oracle.oracle_available(flavor)
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)
    assert available_types(flavor, ORACLE_BUILDS[flavor]) == oracle.registered_types(flavor)


def test_unknown_type_that_the_build_leaves_out_names_the_option(tmp_path: Path) -> None:
    net = _net(tmp_path, V0_IMAGES_NET)
    (finding,) = [f for f in lint(net, phase="TRAIN", flavor="ssd", build="no-opencv").findings if f.code == "BL008"]
    assert "registered only by a Caffe built with opencv" in finding.message
    assert finding.fix is not None and "`--build opencv`" in finding.fix.description
    video = _net(tmp_path, 'layer { name: "v" type: "VideoData" top: "data" top: "label" }\n')
    (unknown,) = [f for f in lint(video, phase="TRAIN", flavor="bvlc").findings if f.code == "BL008"]
    assert "built with" not in unknown.message  # BVLC has no VideoData in any build
