"""The library API: lint() and check_before_training()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backprop_lint.caffe import schema
from backprop_lint.linting.linter import GradientCheckError, LintReport, check_before_training, lint
from example_nets import NO_LOSS_ONE_LINE_LAYERS as NO_LOSS, UNKNOWN_BOTTOM_ONE_LINE_LAYERS as UNKNOWN_BOTTOM

CLEAN = """name: "clean"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def codes(report: LintReport) -> list:
    return [(f.code, f.state) for f in report.all_findings]


def test_lint_text() -> None:
    report = lint(UNKNOWN_BOTTOM)
    assert codes(report) == [("BL001", "TRAIN, TEST")]
    assert report.all_findings[0].location.file == "<string>"
    assert [s.state for s in report.states] == ["TRAIN", "TEST"]
    assert not report.ok


def test_lint_path_and_phase(tmp_path: Path) -> None:
    (tmp_path / "net.prototxt").write_text(UNKNOWN_BOTTOM)
    assert codes(lint(tmp_path / "net.prototxt", phase="test")) == [("BL001", "TEST")]
    assert codes(lint("net.prototxt", phase="TRAIN")) == [("BL001", "TRAIN")]


def test_lint_config_dict_and_need_diff() -> None:
    assert lint(NO_LOSS, config={"ignore": ["BL2"]}).ok
    assert "BL201" in [code for code, _ in codes(lint(NO_LOSS))]


def test_lint_protobuf_messages_ours_and_a_foreign_pool() -> None:
    ours = schema.net_parameter_class()()
    _fill(ours)
    assert codes(lint(ours)) == [("BL001", "TRAIN, TEST")]
    foreign = _foreign_net_parameter_class()()  # stands in for pycaffe's caffe_pb2.NetParameter
    _fill(foreign)
    report = lint(foreign)
    assert codes(report) == [("BL001", "TRAIN, TEST")]
    assert report.all_findings[0].location.file == "<NetParameter>"


def test_lint_unreadable_text_is_an_error_not_an_exception() -> None:
    report = lint('layer { name: "x" type: \n')
    assert [f.code for f in report.errors] == ["BL000"]


def test_check_before_training_raises_with_the_errors() -> None:
    with pytest.raises(GradientCheckError) as caught:
        check_before_training(UNKNOWN_BOTTOM)
    message = str(caught.value)
    assert message.splitlines()[0] == "backprop-lint found 1 error(s) in the net:"
    assert "BL001" in message and "missing" in message
    assert caught.value.errors[0].code == "BL001"


def test_check_before_training_passes_a_clean_net() -> None:
    report = check_before_training(CLEAN)
    assert [f for f in report.all_findings if f.severity == "error"] == []


def _fill(net: Any) -> None:
    net.name = "broken"
    data = net.layer.add(name="data", type="Input")
    data.top.append("data")
    data.input_param.shape.add().dim.extend([1, 3])
    ip = net.layer.add(name="ip", type="InnerProduct")
    ip.bottom.append("missing")
    ip.top.append("ip")
    ip.inner_product_param.num_output = 4


def _foreign_net_parameter_class() -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    for file_proto in descriptor_pb2.FileDescriptorSet.FromString(schema.FDS_PATH.read_bytes()).file:
        pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))
