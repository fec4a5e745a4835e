"""Findings that match what the user means to do with a net (issue 8): the states linted, severities
that follow intent, show vs fail, and the bugs found by trying the hook on a model zoo."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

import pytest

from backprop_lint.caffe.load import load_text
from backprop_lint.caffe.model import NetState
from backprop_lint.caffe.pipeline import upgrade
from backprop_lint.caffe.flavors import get_flavor
from backprop_lint.caffe.states import survey_states
from backprop_lint.cli.commands import main
from backprop_lint.linting.linter import lint


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(directory: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def check(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, List[dict]]:
    code = main(["check", "--no-progress", "--format", "json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)["findings"]


def codes(findings: List[dict]) -> List[Tuple[str, str]]:
    return [(f["code"], f["state"]) for f in findings]


# mnist_autoencoder's layout: TRAIN data, and TEST data only with a stage
STAGED = """name: "staged"
layer { name: "data" type: "DummyData" top: "data" include { phase: TRAIN }
  dummy_data_param { shape { dim: 2 dim: 3 } } }
layer { name: "data" type: "DummyData" top: "data" include { phase: TEST stage: "test-on-train" }
  dummy_data_param { shape { dim: 2 dim: 3 } } }
layer { name: "data" type: "DummyData" top: "data" include { phase: TEST stage: "test-on-test" }
  dummy_data_param { shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "data" top: "loss" }
"""

TRAIN_ONLY = """name: "train_only"
layer { name: "data" type: "DummyData" top: "data" top: "label" include { phase: TRAIN }
  dummy_data_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }
"""

DEPLOY = """name: "deploy"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
  param { lr_mult: 0 } param { lr_mult: 0 } inner_product_param { num_output: 2 } }
"""


# ---------------------------------------------------------------------------
# 1. the states a net is meant for
# ---------------------------------------------------------------------------


def test_survey_says_which_stages_complete_each_phase() -> None:
    net, _, _ = upgrade(load_text(STAGED, file="s.prototxt").net, get_flavor("bvlc"), "s.prototxt")
    survey = survey_states(net)
    assert survey.buildable_as == {
        NetState("TRAIN"): (NetState("TRAIN"),),
        NetState("TEST"): (NetState("TEST", stages=("test-on-train",)), NetState("TEST", stages=("test-on-test",))),
    }
    (missing,) = survey.unproduced[NetState("TEST")]
    assert (missing.blob, missing.reader) == ("data", "ip")
    assert missing.producers[1] == ("data", ('phase: TEST stage: "test-on-train"',))


def test_a_stage_needed_by_a_non_data_layer_is_found() -> None:
    text = TRAIN_ONLY.replace(
        'layer { name: "ip" type: "InnerProduct"', 'layer { name: "ip" include { stage: "wide" } type: "InnerProduct"'
    )
    net, _, _ = upgrade(load_text(text, file="s.prototxt").net, get_flavor("bvlc"), "s.prototxt")
    assert survey_states(net).buildable_as == {
        NetState("TRAIN"): (NetState("TRAIN", stages=("wide",)),), NetState("TEST"): ()
    }


def test_a_staged_net_is_linted_with_its_stages_and_the_note_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "staged.prototxt", STAGED)
    code, findings = check(capsys, "staged.prototxt")
    assert code == 0
    assert codes(findings) == [("BL902", "")]
    note = findings[0]
    assert note["severity"] == "info"
    assert note["message"] == (
        "linted in TRAIN, TEST stages=test-on-train, TEST stages=test-on-test: the states this net can be built in"
    )
    assert any('`stage: "test-on-train"` or `stage: "test-on-test"`' in reason for reason in note["reasons"])


def test_a_train_only_net_is_not_refused_in_test(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "train.prototxt", TRAIN_ONLY)
    code, findings = check(capsys, "train.prototxt")
    assert code == 0 and codes(findings) == [("BL902", "")]
    assert "meant for TRAIN only" in " ".join(findings[0]["reasons"])
    # asked for explicitly, TEST is linted, and Caffe would refuse it there
    code, findings = check(capsys, "train.prototxt", "--phase", "TEST")
    assert code == 1 and codes(findings) == [("BL001", "TEST")]


def test_a_net_whose_data_is_unrestricted_gets_both_phases_and_no_note(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "deploy.prototxt", DEPLOY)
    _, findings = check(capsys, "deploy.prototxt")
    assert codes(findings) == [("BL201", "TRAIN, TEST")]


SOLVER = """net: "nets/staged.prototxt"
test_iter: 1
test_state { stage: "test-on-test" }
test_interval: 10
base_lr: 0.01
"""


def test_a_directory_with_a_solver_lints_its_net_in_the_solver_states_only(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "nets/staged.prototxt", STAGED)
    write(tmp_path, "solver.prototxt", SOLVER)
    _, alone = check(capsys, "nets/staged.prototxt")
    assert codes(alone) == [("BL902", "")]
    for order in (["."], ["nets/staged.prototxt", "solver.prototxt"], ["solver.prototxt", "nets"]):
        code, findings = check(capsys, *order)
        assert code == 0 and findings == [], order  # the solver's states: no note, no contradiction
    report = lint(tmp_path)
    assert sorted({state.state for state in report.states}) == ["TEST stages=test-on-test", "TRAIN"]


# ---------------------------------------------------------------------------
# 2. severity follows intent
# ---------------------------------------------------------------------------


def test_a_deploy_net_is_info_unless_a_gradient_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "deploy.prototxt", DEPLOY)
    code, findings = check(capsys, "deploy.prototxt")
    assert code == 0 and [(f["code"], f["severity"]) for f in findings] == [("BL201", "info")]
    code, findings = check(capsys, "deploy.prototxt", "--need-diff", "data")
    assert code == 1 and ("BL203", "error") in [(f["code"], f["severity"]) for f in findings]


INPUT_FIELDS = """name: "old"
input: "data"
input_shape { dim: 1 dim: 3 }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }
"""

BATCHNORM = """name: "bn"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "bn1" type: "BatchNorm" bottom: "data" top: "bn1" param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 1 } }
layer { name: "bn2" type: "BatchNorm" bottom: "bn1" top: "bn2" param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 1 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "bn2" bottom: "data" top: "loss" }
"""


def test_format_notes_are_info_and_the_batchnorm_rewrite_a_warning_with_its_consequence(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "old.prototxt", INPUT_FIELDS)
    code, findings = check(capsys, "old.prototxt")
    assert code == 0
    assert sorted((f["code"], f["severity"], f["state"]) for f in findings) == [
        ("BL201", "info", "TRAIN, TEST"), ("BL404", "info", "")
    ]
    write(tmp_path, "bn.prototxt", BATCHNORM)
    for flavor, consequence in (("bvlc", "is never used"), ("ssd", "shrinks the running mean and variance")):
        code, findings = check(capsys, "bn.prototxt", "--flavor", flavor)
        assert code == 1
        (warning,) = findings
        assert (warning["code"], warning["severity"], warning["state"]) == ("BL402", "warning", "")
        assert "(and 1 more, at line 4)" in warning["message"]
        assert consequence in warning["reasons"][0] and warning["fix"] is not None


PYTHON_DATA = """name: "py"
layer { name: "data" type: "Python" top: "data" top: "label" python_param { module: "my_data" layer: "Reader" } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }
layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "label" top: "loss" }
layer { name: "norm" type: "Python" bottom: "ip" top: "norm" python_param { module: "my_norm" layer: "Norm" } }
"""


def test_no_unknown_gradient_finding_on_a_python_layer_without_bottoms(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "py.prototxt", PYTHON_DATA)
    _, findings = check(capsys, "py.prototxt")
    assert [(f["code"], f["layer"]) for f in findings] == [("BL401", "norm")]


def test_unknown_type_names_the_closest_known_types(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "typo.prototxt", DEPLOY.replace('"InnerProduct"', '"InnerProdcut"'))
    _, findings = check(capsys, "typo.prototxt")
    (refusal,) = [f for f in findings if f["code"] == "BL008"]
    assert refusal["message"] == 'Caffe refuses this net in `fc`: "Unknown layer type: InnerProdcut"'
    assert refusal["reasons"][1] == "closest types this Caffe knows: `InnerProduct`"


def test_unreadable_fields_are_grouped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    net = DEPLOY.replace("inner_product_param {", "inner_product_param { bias_fill: 1").replace(
        "input_param {", "input_param { mean: 0")
    write(tmp_path, "fields.prototxt", net + net.replace('"data"', '"data2"').replace('"fc"', '"fc2"').split("\n", 1)[1])
    _, findings = check(capsys, "fields.prototxt")
    unreadable = [f for f in findings if f["code"] == "BL403"]
    assert len(unreadable) == 2 and all("(and 1 more, at line" in f["message"] for f in unreadable)


# ---------------------------------------------------------------------------
# 3. show vs fail; --fix leaves a file that passes
# ---------------------------------------------------------------------------


def test_after_fix_the_fixed_file_passes_and_bl306_does_not_undo_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = write(tmp_path, "deploy.prototxt", DEPLOY)
    code = main(["check", "--no-progress", "--fix", "--fail-on", "info", "deploy.prototxt"])
    capsys.readouterr()
    assert "force_backward: true" in path.read_text()
    assert code == 0
    code, findings = check(capsys, "deploy.prototxt", "--fail-on", "info")
    assert (code, findings) == (0, [])


def test_bl306_still_reports_force_backward_beside_a_loss(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    net = "force_backward: true\n" + DEPLOY + (
        'layer { name: "loss" type: "EuclideanLoss" bottom: "fc" bottom: "fc2" top: "loss" }\n'
    ).replace('bottom: "fc2"', 'bottom: "data"')
    write(tmp_path, "frozen.prototxt", net.replace("dim: 1 dim: 3", "dim: 1 dim: 2"))
    _, findings = check(capsys, "frozen.prototxt")
    assert "BL306" in [f["code"] for f in findings]
    _, findings = check(capsys, "frozen.prototxt", "--need-diff", "data")
    assert "BL306" not in [f["code"] for f in findings]


# ---------------------------------------------------------------------------
# 4. bugs
# ---------------------------------------------------------------------------

PARSE_THEN_TYPE = """name: "n"
layer { name: "d" type: "Input" top: "d" input_param { shape { dim: 1 dim: 3 } } bogus_field: 1 }
layer { name: "c" type: "Convolutoin" bottom: "d" top: "c" }
"""


def test_a_parse_error_is_reported_before_a_later_refusal_and_without_a_state(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write(tmp_path, "net.prototxt", PARSE_THEN_TYPE)
    code, findings = check(capsys, "net.prototxt")
    assert code == 1
    assert [(f["code"], f["line"], f["state"]) for f in findings] == [
        ("BL403", 2, ""), ("BL008", 3, "TRAIN, TEST")
    ]


def test_real_caffe_stops_at_the_parse_error(tmp_path: Path) -> None:
    from oracle_support import require_oracle, run_oracle

    require_oracle()
    path = write(tmp_path, "net.prototxt", PARSE_THEN_TYPE)
    real = run_oracle(path, "TRAIN")
    assert real.refusal and "Failed to parse NetParameter file" in real.refusal
    assert any('no field named "bogus_field"' in error for error in real.errors)
    assert not any("Unknown layer type" in error for error in real.errors)


def test_fix_on_a_crlf_file_inserts_crlf_lines(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path, "deploy.prototxt", DEPLOY, newline="\r\n")
    main(["check", "--no-progress", "--fix", "deploy.prototxt"])
    capsys.readouterr()
    data = path.read_bytes()
    assert b"force_backward: true\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_the_library_lints_text_in_the_states_it_is_meant_for() -> None:
    report = lint(TRAIN_ONLY)
    assert [state.state for state in report.states] == ["TRAIN"]
    assert [finding.code for finding in report.findings] == ["BL902"]
    assert [state.state for state in lint(TRAIN_ONLY, phase="TEST").states] == ["TEST"]
