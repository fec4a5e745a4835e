"""The backward planner: pycaffe's net.backward(start, end) predicted from the prototxt."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_lint.backward.plan import DEFAULT_PHASE, plan_backward
from backprop_lint.cli.backward import main as backward_main
from backprop_lint.caffe.model import NetRefused

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "backward"
FCN = FIXTURES / "fcn_deploy.prototxt"
SALIENCY = FIXTURES / "saliency_deploy.prototxt"
TWO_BRANCH = FIXTURES / "two_branch.prototxt"

CONV = 'convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "gaussian" std: 0.5 } }'
INPUT = 'layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }'


def _conv(name: str, bottom: str, top: str) -> str:
    return f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" top: "{top}" {CONV} }}'


SEED_FEEDS_SPLIT = "\n".join([
    "force_backward: true",
    INPUT,
    _conv("conv0", "data", "feat"),
    _conv("conv_a", "feat", "conv_a"),
    _conv("conv_b", "feat", "conv_b"),
    'layer { name: "fuse" type: "Eltwise" bottom: "conv_a" bottom: "conv_b" top: "fuse" }',
])


def test_default_phase_is_test_as_pycaffe_deploy_users_load_nets() -> None:
    assert DEFAULT_PHASE == "TEST"
    assert plan_backward(str(SALIENCY)).phase == "TEST"


def test_fcn_hand_seeded_range_gives_zero_and_names_both_causes() -> None:
    plan = plan_backward(str(FCN), start="score", end="conv1_a", seeds=["score"], reads=["data"])
    assert (plan.start_index, plan.end_index) == (7, 2)
    assert [step.name for step in plan.steps] == ["score", "relu2", "conv2", "concat1", "conv1_b", "conv1_a"]
    assert all(step.runs is False for step in plan.steps)
    assert all("no loss" in step.why for step in plan.steps)
    (read,) = plan.reads
    assert read.nonzero is False
    text = "\n".join(read.reasons)
    assert "'data_input_0_split' (#1, Split) reads 'data' but is before --end" in text
    assert "does not run backward: no loss is below it" in text
    assert read.include_layer == "data_input_0_split"
    assert not plan.ok
    assert plan.fix is not None and plan.fix.possible
    assert plan.fix.add_force_backward
    assert (plan.fix.start, plan.fix.end) == ("score", "data_input_0_split")
    assert "end='data_input_0_split'" in plan.fix.call


def test_saliency_classifier_needs_force_backward_and_uses_kwargs() -> None:
    plan = plan_backward(str(SALIENCY))
    assert plan.seeds_assumed and plan.seeds == ["prob"]
    assert plan.returned_keys == ["data"]
    (read,) = plan.reads
    assert read.blob == "data" and read.nonzero is False
    assert "'conv1' (#1, Convolution) reads 'data' but does not run backward" in read.reasons[0]
    assert plan.fix is not None and plan.fix.add_force_backward
    assert plan.fix.call == "diffs = net.backward(**{'prob': grad_prob})"
    assert any("exactly the net outputs 'prob'" in note for note in plan.notes)
    assert any("clear_param_diffs" in note for note in plan.notes)


def test_split_outside_range_names_the_renamed_blob_to_read() -> None:
    plan = plan_backward(str(TWO_BRANCH), start="fuse", end="conv_a", reads=["data", "data_input_0_split_0"])
    data, renamed = plan.reads
    assert data.nonzero is False
    assert data.read_instead == "data_input_0_split_0"
    assert data.include_layer == "data_input_0_split"
    assert renamed.nonzero is True
    assert plan.returned_keys == ["data_input_0_split_0"]
    assert plan.fix is not None and not plan.fix.add_force_backward
    assert plan.fix.end == "data_input_0_split"


def test_seed_overwritten_by_split_inside_range() -> None:
    plan = plan_backward(SEED_FEEDS_SPLIT, seeds=["feat"], reads=["data"])
    (note,) = plan.seed_notes
    assert note.blob == "feat" and note.overwritten_by == "feat_conv0_0_split"
    assert "sum of its tops' diffs" in note.message
    assert plan.reads[0].nonzero is False
    assert "'feat_conv0_0_split' ran inside the range and overwrote its diff" in "\n".join(plan.reads[0].reasons)
    assert plan.fix is not None and plan.fix.start == "conv0" and not plan.fix.add_force_backward
    assert plan.fix.call == "net.blobs['feat'].diff[...] = grad_feat\ndiffs = net.backward(start='conv0')"


def test_seed_at_the_producer_reaches_data() -> None:
    plan = plan_backward(SEED_FEEDS_SPLIT, start="conv0", seeds=["feat"], reads=["data"])
    assert plan.ok and plan.fix is None and not plan.seed_notes


def test_blob_names_given_for_layers_are_corrected() -> None:
    plan = plan_backward(str(TWO_BRANCH), start="fuse", end="data", reads=["data"])
    (issue,) = plan.name_issues
    assert issue.option == "end" and issue.fatal
    assert "'data' is a blob, not a layer" in issue.problem
    assert issue.suggestion == "data_input_0_split"
    assert plan.end == "data_input_0_split"  # analysed as if the suggestion was used
    assert plan.reads[0].nonzero is True


def test_layer_names_given_for_blobs_and_typos_are_corrected() -> None:
    plan = plan_backward(str(FCN), start="scor", seeds=["concat1"], reads=["input"])
    options = {issue.option: issue for issue in plan.name_issues}
    assert options["start"].suggestion == "score" and "no layer is named 'scor'" in options["start"].problem
    assert options["read"].suggestion == "data" and "'input' is a layer, not a blob" in options["read"].problem
    plan = plan_backward(str(TWO_BRANCH), seeds=["fuse"], reads=["conv_a"])
    assert not plan.name_issues  # conv_a is both a layer and a blob name
    renamed = plan_backward(SEED_FEEDS_SPLIT.replace('top: "feat"', 'top: "feat_out"').replace('bottom: "feat"', 'bottom: "feat_out"'),
                            seeds=["conv0"], reads=["data"])
    (issue,) = renamed.name_issues
    assert issue.option == "seed" and issue.suggestion == "feat_out"
    assert "is a layer, not a blob" in issue.problem


def test_start_before_end_runs_nothing() -> None:
    plan = plan_backward(str(TWO_BRANCH), start="conv_a", end="fuse", reads=["conv_a"])
    assert plan.steps == []
    assert any("BackwardFromTo runs nothing" in note for note in plan.notes)


def test_duplicate_layer_names_take_the_first_like_list_index() -> None:
    net = "\n".join([INPUT, _conv("c", "data", "x"), _conv("c", "x", "y")])
    plan = plan_backward(net, start="c", seeds=["x"], reads=["data"])
    assert plan.start_index == 1
    (issue,) = plan.name_issues
    assert not issue.fatal and "takes the first (#1)" in issue.problem


def test_no_range_can_reach_a_blob_off_the_seeded_path() -> None:
    net = "\n".join([
        INPUT,
        _conv("left", "data", "left"),
        'layer { name: "d2" type: "Input" top: "other" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }',
        _conv("right", "other", "right"),
    ])
    plan = plan_backward(net, seeds=["left"], reads=["other"])
    assert plan.reads[0].nonzero is False
    assert plan.fix is not None and not plan.fix.possible
    assert "even with `force_backward: true`" in plan.fix.explanation[0]


def test_loss_net_counts_loss_tops_as_sources() -> None:
    net = "\n".join([
        INPUT,
        'layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 1 } } }',
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }',
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }',
    ])
    plan = plan_backward(net, reads=["ip", "data"])
    assert plan.loss_blobs == ["loss"] and not plan.seeds_assumed
    assert [r.nonzero for r in plan.reads] == [True, False]
    assert "needs no gradient" in plan.reads[1].reasons[0]


def test_refused_net_raises() -> None:
    with pytest.raises(NetRefused):
        plan_backward('layer { name: "a" type: "ReLU" bottom: "nothing" top: "a" }')


def test_cli_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    status = backward_main(["backward", str(FCN), "--start", "score", "--end", "conv1_a",
                            "--seed", "score", "--read", "data", "--format", "json"])
    assert status == 1
    data = json.loads(capsys.readouterr().out)
    assert data["reads"][0]["nonzero"] is False
    assert data["fix"]["add_force_backward"] is True and data["fix"]["end"] == "data_input_0_split"
    status = backward_main(["backward", str(FCN), "--start", "score", "--end", "conv1_a", "--seed", "score", "--read", "data"])
    out = capsys.readouterr().out
    assert status == 1
    assert "data: ZERO" in out and "force_backward: true" in out and "end='data_input_0_split'" in out
    assert backward_main(["backward", str(TWO_BRANCH), "--end", "data_input_0_split", "--read", "data"]) == 0


def test_cli_refusal_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.prototxt"
    bad.write_text('layer { name: "a" type: "ReLU" bottom: "nothing" top: "a" }\n')
    assert backward_main(["backward", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Unknown bottom blob 'nothing'" in err and "Traceback" not in err


def test_a_label_never_gets_a_gradient_whatever_the_range() -> None:
    net = "\n".join([
        INPUT,
        'layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 1 } } }',
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 3 } }',
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }',
    ])
    plan = plan_backward(net, reads=["label"])
    assert plan.fix is not None and not plan.fix.possible
    assert "AllowForceBackward is false" in "\n".join(plan.fix.explanation)


def test_cli_reads_declared_layers_from_a_config(tmp_path: Path) -> None:
    net = tmp_path / "roi.prototxt"
    net.write_text(
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }\n'
        'layer { name: "pool" type: "ROIPooling" bottom: "data" top: "pool" }\n'
    )
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.backprop-lint.layers.ROIPooling]\nparams = 0\nbackward = "respects-pd"\n')
    command = [sys.executable, "-m", "backprop_lint", "backward", str(net), "--format", "json"]
    undeclared = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert "Unknown layer type: ROIPooling" in undeclared.stdout
    declared = subprocess.run(command + ["--config", str(config)], capture_output=True, text=True, timeout=60)
    assert "Unknown layer type" not in declared.stdout and "Traceback" not in declared.stderr
    config.write_text('[tool.backprop-lint.layers.ROIPooling]\nparams = -1\n')
    broken = subprocess.run(command + ["--config", str(config)], capture_output=True, text=True, timeout=60)
    assert broken.returncode == 2 and "pyproject.toml" in broken.stderr
