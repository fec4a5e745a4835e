"""End to end with real pycaffe: the planner's prediction, the measured diffs, and its fix applied.

Skipped (with the reason printed) when pycaffe cannot be imported: it is
looked for as installed or in $CAFFE_ORACLE_HOME/python (tools/oracle/build.sh
builds it; it needs numpy, protobuf, six, scipy and scikit-image).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import pytest

from backprop_lint.backward.plan import BackwardPlan, plan_backward, prepare_source
from backprop_lint.cli.verify import main as verify_main
from backprop_lint.caffe.simulate import init_net
from backprop_lint.backward.pycaffe import (
    Measured,
    explain_backward,
    import_caffe,
    measure_backward,
    pycaffe_status,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "backward"
FCN = FIXTURES / "fcn_deploy.prototxt"
SALIENCY = FIXTURES / "saliency_deploy.prototxt"
TWO_BRANCH = FIXTURES / "two_branch.prototxt"

_READY, _REASON = pycaffe_status()


@pytest.fixture(autouse=True)
def _require_pycaffe() -> None:
    if not _READY:
        print(f"SKIPPED (real pycaffe not available): {_REASON}")
        pytest.skip(_REASON)


def _measure(text: str, start: Optional[str], end: Optional[str], seeds: Sequence[str]) -> Dict[str, bool]:
    measured: Measured = measure_backward(text, start=start, end=end, seeds=list(seeds))
    assert measured.ok, measured.error
    return dict(zip(measured.blob_names, measured.blob_diff_nonzero))


def _fixed(text: str, plan: BackwardPlan) -> str:
    assert plan.fix is not None and plan.fix.possible
    return ("force_backward: true\n" + text) if plan.fix.add_force_backward else text


def test_fcn_hand_seeded_range_is_all_zero_and_the_fix_works() -> None:
    text = FCN.read_text()
    plan = plan_backward(text, start="score", end="conv1_a", seeds=["score"], reads=["data"])
    assert plan.reads[0].nonzero is False
    reasons = "\n".join(plan.reads[0].reasons)
    assert "Split" in reasons and "no loss" in reasons  # both causes named

    measured = _measure(text, "score", "conv1_a", ["score"])
    assert {blob for blob, nonzero in measured.items() if nonzero} == {"score"}  # only the seed: all zeros

    assert plan.fix is not None
    fixed = _fixed(text, plan)
    after = _measure(fixed, plan.fix.start, plan.fix.end, ["score"])
    assert after["data"] is True
    assert plan_backward(fixed, start=plan.fix.start, end=plan.fix.end, seeds=["score"], reads=["data"]).ok


def test_saliency_on_a_deploy_classifier() -> None:
    text = SALIENCY.read_text()
    plan = plan_backward(text)  # net.backward(**{'prob': one_hot}), read diffs['data']
    assert plan.reads[0].blob == "data" and plan.reads[0].nonzero is False
    measured = _measure(text, None, None, plan.seeds)
    assert measured["data"] is False

    assert plan.fix is not None and plan.fix.add_force_backward
    assert plan.fix.call == "diffs = net.backward(**{'prob': grad_prob})"
    after = _measure(_fixed(text, plan), None, None, plan.seeds)
    assert after["data"] is True


def test_data_feeding_two_branches_lands_in_the_split_blob() -> None:
    text = TWO_BRANCH.read_text()
    plan = plan_backward(text, start="fuse", end="conv_a", reads=["data"])
    read = plan.reads[0]
    assert read.nonzero is False and read.read_instead == "data_input_0_split_0"
    measured = _measure(text, "fuse", "conv_a", plan.seeds)
    assert measured["data"] is False
    assert measured["data_input_0_split_0"] is True

    assert plan.fix is not None and not plan.fix.add_force_backward
    after = _measure(text, plan.fix.start, plan.fix.end, plan.seeds)
    assert after["data"] is True


def test_prediction_equals_measurement_blob_by_blob() -> None:
    for path, start, end in ((FCN, "score", "conv1_a"), (SALIENCY, None, None), (TWO_BRANCH, "fuse", "conv_a")):
        text = path.read_text()
        for forced in (False, True):
            source = ("force_backward: true\n" + text) if forced and "force_backward" not in text else text
            plan = plan_backward(source, start=start, end=end, reads=_all_blobs(source))
            measured = _measure(source, start, end, plan.seeds)
            predicted = {read.blob: read.nonzero for read in plan.reads}
            assert predicted == measured, (path.name, forced)


def _all_blobs(text: str) -> Sequence[str]:
    return init_net(prepare_source(text, phase="TEST")).blob_names


def test_explain_backward_on_a_live_net() -> None:
    caffe = import_caffe()
    caffe.set_mode_cpu()
    net = caffe.Net(str(FCN), caffe.TEST)
    with_file = explain_backward(net, start="score", end="conv1_a", seed=["score"], read=["data"], prototxt=str(FCN))
    rebuilt = explain_backward(net, start="score", end="conv1_a", seed=["score"], read=["data"])
    for plan in (with_file, rebuilt):
        assert plan.layer_names == [str(name) for name in net._layer_names]
        assert plan.reads[0].nonzero is False
        assert plan.fix is not None and plan.fix.end == "data_input_0_split" and plan.fix.add_force_backward


def test_explain_backward_refuses_a_prototxt_of_another_net() -> None:
    from backprop_lint.caffe.model import InputError

    caffe = import_caffe()
    net = caffe.Net(str(FCN), caffe.TEST)
    with pytest.raises(InputError, match="does not describe this net"):
        explain_backward(net, prototxt=str(SALIENCY))


def test_verify_command_agrees_on_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert verify_main(["verify", str(FCN), "--start", "score", "--end", "conv1_a", "--seed", "score"]) == 0
    assert "agreement" in capsys.readouterr().out
    assert verify_main(["verify", str(TWO_BRANCH), "--start", "fuse", "--end", "conv_a"]) == 0


def test_verify_replaces_missing_data_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = tmp_path / "train.prototxt"
    net.write_text(
        'layer { name: "mnist" type: "Data" top: "data" top: "label"\n'
        '  data_param { source: "no_such_lmdb" batch_size: 2 backend: LMDB } transform_param { crop_size: 6 } }\n'
        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"\n'
        '  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }\n'
    )
    assert verify_main(["verify", str(net), "--phase", "TRAIN"]) == 0
    out = capsys.readouterr().out
    assert "Data layer 'mnist' (source 'no_such_lmdb' absent) replaced by an Input layer: data [2, 3, 6, 6], label [2]" in out


def test_verify_refuses_python_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = tmp_path / "py.prototxt"
    marker = tmp_path / "imported"
    module = tmp_path / "evil_layer.py"
    module.write_text(f"open({str(marker)!r}, 'w').close()\n")
    net.write_text(
        'layer { name: "d" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n'
        'layer { name: "p" type: "Python" bottom: "data" top: "o" python_param { module: "evil_layer" layer: "L" } }\n'
    )
    assert verify_main(["verify", str(net)]) == 1
    assert "Python layer (evil_layer.L)" in capsys.readouterr().err
    assert not marker.exists()


def test_verify_with_weights_file(tmp_path: Path) -> None:
    caffe = import_caffe()
    caffe.set_mode_cpu()
    net = caffe.Net(str(SALIENCY), caffe.TEST)
    weights = tmp_path / "saliency.caffemodel"
    net.save(str(weights))
    assert verify_main(["verify", str(SALIENCY), "--weights", str(weights)]) == 0
