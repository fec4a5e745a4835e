"""The layer table against Caffe's own registrations and the spec's measurements."""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict

import pytest

from backprop_lint.caffe.build_options import ORACLE_BUILDS
from backprop_lint.caffe.layer_table import (

    BVLC,

    FLAVORS,

    MAX_DECLARED_COUNT,


    SSD,

    Backward,

    Count,

    LayerInfo,

    ScratchContext,

    available_types,

    declared_layer,

    known_types,

    layer_info,

)
from backprop_lint.caffe.model import InputError, Message

# grep REGISTER_LAYER_ in U:src/caffe at 9b89154 (spec §5: 52 CLASS + 9 CREATOR)
BVLC_REGISTERED = """AbsVal Accuracy ArgMax BNLL BatchNorm BatchReindex Bias Clip Concat ContrastiveLoss
Convolution Crop Data Deconvolution Dropout DummyData ELU Eltwise Embed EuclideanLoss Exp Filter
Flatten HDF5Data HDF5Output HingeLoss Im2col ImageData InfogainLoss InnerProduct Input LRN LSTM
LSTMUnit Log MVN MemoryData MultinomialLogisticLoss PReLU Parameter Pooling Power Python RNN ReLU
Reduction Reshape SPP Scale Sigmoid SigmoidCrossEntropyLoss Silence Slice Softmax SoftmaxWithLoss
Split Swish TanH Threshold Tile WindowData""".split()

# grep REGISTER_LAYER_ in L:src/caffe (brocolli-caffe 9.0.2), commented-out Inception excluded
SSD_REGISTERED = sorted(set(BVLC_REGISTERED) - {"Clip", "Swish"} | set(
    """AnnotatedData BatchNormKyle BilinearInterpolate DetectionEvaluate DetectionOutput HardSigmoid
    HardSwish MaxUnPool MultiBoxLoss Normalize PSROIPooling Pad Permute PixelShuffle PriorBox Proposal
    ReLU6 Resize SmoothL1Loss Unsqueeze Upsample VideoData""".split()))

SDIST = Path("/tmp/brocolli_lt/brocolli-caffe-9.0.2/src/caffe")
ORACLE = Path(os.environ.get("CAFFE_ORACLE_HOME", Path.home() / ".cache/caffe-oracle")) / "bin/caffe-oracle"


def layer(type_name: str, n_blobs: int = 0, **sub: Dict[str, Any]) -> Message:
    fields: Dict[str, Any] = {"type": type_name}
    for name, values in sub.items():
        fields[name] = Message(name_to_type(name), dict(values))
    if n_blobs:
        fields["blobs"] = [Message("BlobProto", {}) for _ in range(n_blobs)]
    return Message("LayerParameter", fields)


def name_to_type(field: str) -> str:
    from backprop_lint.caffe.schema.tables import MESSAGES
    return MESSAGES["LayerParameter"][field][3]


def test_bvlc_types_are_the_61_registered_upstream() -> None:
    assert len(BVLC_REGISTERED) == 61
    assert known_types(BVLC) == sorted(BVLC_REGISTERED)


def test_ssd_types_are_those_registered_in_the_sdist() -> None:
    expected = SSD_REGISTERED
    if SDIST.is_dir():
        found = set()
        for path in SDIST.rglob("*.cpp"):
            for line in path.read_text(errors="replace").splitlines():
                m = re.match(r"\s*REGISTER_LAYER_(?:CLASS|CREATOR)\((\w+)", line)
                if m:
                    found.add(m.group(1))
        expected = sorted(found)
    else:
        print("sdist not unpacked in /tmp/brocolli_lt: comparing with the committed list")
    assert known_types(SSD) == expected


def test_every_row_cites_source() -> None:
    for flavor in FLAVORS:
        for t in known_types(flavor):
            row = layer_info(t, flavor)
            assert row is not None and re.search(r"\b[UL]:[\w/.]+:\d", row.citation), t
            if flavor == SSD and BVLC not in row.flavors:
                assert "L:" in row.citation, t


def test_every_row_is_the_named_tuple_its_fields_build() -> None:
    # the table fills each row's tuple directly rather than through LayerInfo(...)
    for flavor in FLAVORS:
        for t in known_types(flavor):
            row = layer_info(t, flavor)
            assert type(row) is LayerInfo and row == LayerInfo(**row._asdict()), t


def test_oracle_builds_lack_opencv_and_python_types() -> None:
    ssd = available_types(SSD, ORACLE_BUILDS[SSD])
    bvlc = available_types(BVLC, ORACLE_BUILDS[BVLC])
    assert "HDF5Data" in ssd and "Data" in ssd and "HDF5Data" in bvlc
    for t in ("ImageData", "WindowData", "VideoData", "Python"):
        assert t not in ssd and t not in bvlc
    assert "HDF5Data" not in available_types(BVLC, frozenset())


E28_PARAM_COUNTS = [
    (layer("Convolution"), 1, 2),
    (layer("Convolution", convolution_param={"bias_term": False}), 1, 1),
    (layer("Deconvolution"), 1, 2),
    (layer("InnerProduct"), 1, 2),
    (layer("Embed"), 1, 2),
    (layer("PReLU"), 1, 1),
    (layer("Scale"), 1, 1),
    (layer("Scale", scale_param={"bias_term": True}), 1, 2),
    (layer("Scale"), 2, 0),
    (layer("Scale", scale_param={"bias_term": True}), 2, 1),
    (layer("Bias"), 1, 1),
    (layer("Bias"), 2, 0),
    (layer("BatchNorm"), 1, 3),
    (layer("RNN"), 2, 5),
    (layer("RNN"), 3, 6),
    (layer("LSTM"), 2, 3),
    (layer("LSTM"), 3, 4),
    (layer("Parameter"), 0, 1),
    (layer("ReLU"), 1, 0),
]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("param,n_bottoms,expected", E28_PARAM_COUNTS)
def test_param_counts_e28(flavor: str, param: Message, n_bottoms: int, expected: int) -> None:
    row = layer_info(param.get("type"), flavor)
    assert row is not None
    assert row.params(param, n_bottoms) == expected


def test_preloaded_blobs() -> None:
    assert layer_info("InnerProduct", BVLC).params(layer("InnerProduct", n_blobs=1), 1) == 1
    assert layer_info("ReLU", BVLC).params(layer("ReLU", n_blobs=2), 1) == 2
    assert layer_info("LSTM", BVLC).params(layer("LSTM", n_blobs=7), 2) == 3
    scale_with_bias = layer("Scale", n_blobs=2, scale_param={"bias_term": True})
    assert layer_info("Scale", BVLC).params(scale_with_bias, 1) == 2
    assert layer_info("Scale", SSD).params(scale_with_bias, 1) == 3
    conv = layer_info("Convolution", BVLC)
    assert conv.check(layer("Convolution", n_blobs=1), 1, 1) == "Incorrect number of weight blobs."
    assert conv.check(layer("Convolution", n_blobs=2), 1, 1) is None


def test_python_is_unknown() -> None:
    row = layer_info("Python", SSD)
    assert row.params(layer("Python"), 1) is None
    assert not row.backward_known and row.backward(0, 1, layer("Python")) is Backward.UNKNOWN


def test_backward_spot_checks() -> None:
    def bw(t: str, j: int = 0, n: int = 1, flavor: str = BVLC, **sub: Dict[str, Any]) -> Backward:
        return layer_info(t, flavor).backward(j, n, layer(t, **sub))

    assert bw("Pooling", pooling_param={"pool": "STOCHASTIC"}) is Backward.ABORTS
    assert bw("Pooling") is Backward.RESPECTS_PD
    assert bw("LRN") is Backward.IGNORES_PD
    assert bw("LRN", lrn_param={"norm_region": "WITHIN_CHANNEL"}) is Backward.RESPECTS_PD
    assert bw("Softmax") is Backward.IGNORES_PD
    assert bw("Accuracy", 0, 2) is Backward.ABORTS_IF_PD and bw("Accuracy", 1, 2) is Backward.ABORTS_IF_PD
    assert bw("Embed") is Backward.ABORTS_IF_PD
    assert bw("Threshold") is Backward.ABORTS and bw("ArgMax") is Backward.ABORTS
    assert bw("Power", power_param={"power": 0.0}) is Backward.ZEROES
    assert bw("Power") is Backward.RESPECTS_PD
    assert bw("Crop", 1, 2) is Backward.NEVER
    assert bw("Silence") is Backward.ZEROES
    assert bw("LSTM", 1, 2) is Backward.ABORTS_IF_PD and bw("LSTM", 0, 2) is Backward.IGNORES_PD
    assert bw("MultiBoxLoss", 2, 4, SSD) is Backward.ABORTS_IF_PD
    assert layer_info("LSTMUnit", BVLC).written_together == frozenset({0, 1})
    assert layer_info("HingeLoss", BVLC).forward_writes_diff(Message("LayerParameter")) == frozenset({0})
    assert not layer_info("BatchNorm", SSD).writes_param_diff


def test_scale_scratch() -> None:
    scratch = layer_info("Scale", BVLC).scratch
    assert scratch(0, ScratchContext(1, [False], [True], in_place=False))
    assert not scratch(0, ScratchContext(1, [False], [True], in_place=True))
    assert not scratch(0, ScratchContext(1, [False], [False], in_place=False))
    assert scratch(0, ScratchContext(2, [False, True], [], in_place=False))


def test_structure_flags() -> None:
    for t in ("AbsVal", "Flatten", "Reshape", "Split"):
        assert not layer_info(t, BVLC).in_place_allowed, t
    assert layer_info("ReLU", BVLC).in_place_allowed
    assert layer_info("Concat", BVLC).aliases_diff(layer("Concat"), 1, 1)
    assert not layer_info("Concat", BVLC).aliases_diff(layer("Concat"), 2, 1)
    assert layer_info("Slice", BVLC).aliases_diff(layer("Slice"), 1, 1)
    assert layer_info("Parameter", BVLC).top_aliases_param
    sm = layer_info("SoftmaxWithLoss", BVLC)
    assert sm.is_loss and sm.no_force_backward(1, 2) and not sm.no_force_backward(0, 2)
    assert not layer_info("EuclideanLoss", BVLC).no_force_backward(1, 2)
    assert layer_info("Accuracy", BVLC).tops == Count(min=1)
    bottoms, tops = layer_info("Pooling", BVLC).blob_counts(layer("Pooling", pooling_param={"pool": "AVE"}))
    assert not tops.allows(2)


def test_load_checks() -> None:
    bn_bvlc, bn_ssd = layer_info("BatchNorm", BVLC), layer_info("BatchNorm", SSD)
    spec_without_lr = Message("LayerParameter", {"type": "BatchNorm", "param": [Message("ParamSpec", {})]})
    assert bn_bvlc.check(spec_without_lr, 1, 1) == \
        "Cannot configure batch normalization statistics as layer parameters."
    assert bn_ssd.check is None
    assert layer_info("SoftmaxWithLoss", SSD).check(layer("SoftmaxWithLoss"), 2, 2) is not None
    elt = layer_info("Eltwise", BVLC)
    assert elt.check(layer("Eltwise", eltwise_param={"coeff": [1.0]}), 2, 1) == \
        "Eltwise Layer takes one coefficient per bottom blob."
    pool = layer_info("Pooling", BVLC)
    assert pool.check(layer("Pooling", pooling_param={"kernel_size": 2}), 1, 1) is None
    assert pool.check(layer("Pooling"), 1, 1) == "For non-square filters both kernel_h and kernel_w are required."


def test_declared_layer() -> None:
    row = declared_layer("ROIPooling", {"params": 0, "backward": "ignores-pd"})
    assert row.params(layer("ROIPooling"), 2) == 0
    assert row.backward(0, 2, layer("ROIPooling")) is Backward.IGNORES_PD
    for bad in ({}, {"params": -1}, {"params": 0, "backward": "sometimes"}, {"params": 0, "colour": 1},
                {"params": 0, "loss": "yes"}, {"params": True}, {"params": 100000000},
                {"params": 0, "tops": 10**9}):
        with pytest.raises(InputError):
            declared_layer("X", bad)
    assert declared_layer("X", {"params": MAX_DECLARED_COUNT}).params(layer("X"), 1) == MAX_DECLARED_COUNT


ORACLE_CASES = [
    ("Convolution", 1, 1, "convolution_param { num_output: 2 kernel_size: 1 }", {}),
    ("Convolution", 1, 1, "convolution_param { num_output: 2 kernel_size: 1 bias_term: false }",
     {"convolution_param": {"bias_term": False}}),
    ("InnerProduct", 1, 1, "inner_product_param { num_output: 2 }", {}),
    ("Scale", 1, 1, "scale_param { bias_term: true }", {"scale_param": {"bias_term": True}}),
    ("Bias", 1, 1, "", {}),
    ("BatchNorm", 1, 1, "", {}),
    ("PReLU", 1, 1, "", {}),
    ("Normalize", 1, 1, "", {}),
    ("Embed", 1, 1, "embed_param { num_output: 2 input_dim: 4 }", {}),
]


def _oracle_net(t: str, n_bottoms: int, n_tops: int, extra: str) -> str:
    inputs = "".join(f' top: "in{i}"' for i in range(n_bottoms))
    shape = " shape { dim: 2 dim: 3 dim: 4 dim: 4 }" * n_bottoms
    bottoms = "".join(f' bottom: "in{i}"' for i in range(n_bottoms))
    tops = "".join(f' top: "out{i}"' for i in range(n_tops))
    return (f'layer {{ name: "in" type: "Input"{inputs} input_param {{{shape} }} }}\n'
            f'layer {{ name: "l" type: "{t}"{bottoms}{tops} {extra} }}\n')


@pytest.mark.skipif(not ORACLE.exists(), reason=f"oracle not built at {ORACLE}")
def test_against_oracle() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for t, nb, nt, extra, sub in ORACLE_CASES:
            net = Path(tmp, f"{t}.prototxt")
            net.write_text(_oracle_net(t, nb, nt, extra))
            run = subprocess.run([str(ORACLE), str(net), "TRAIN"], capture_output=True, text=True, timeout=20)
            assert run.returncode == 0, (t, run.stderr[-400:])
            caffe_layer = [l for l in json.loads(run.stdout)["layers"] if l["name"] == "l"][0]
            param = layer(t, **sub)
            assert layer_info(t, SSD).params(param, nb) == len(caffe_layer["param_propagate_down"]), t
        # a bottom-count refusal: Softmax takes exactly one bottom
        net = Path(tmp, "refuse.prototxt")
        net.write_text(_oracle_net("Softmax", 2, 1, ""))
        run = subprocess.run([str(ORACLE), str(net), "TRAIN"], capture_output=True, text=True, timeout=20)
        assert run.returncode != 0 and not layer_info("Softmax", SSD).bottoms.allows(2)


def test_every_engine_field_a_row_reads_defaults_to_default() -> None:
    """engine_refusal takes an unset ``engine`` as DEFAULT without looking the default up."""
    from backprop_lint.caffe.layer_table import _ROWS
    from backprop_lint.caffe.model import default_of
    from backprop_lint.caffe.packs import PACKS
    from backprop_lint.caffe.schema.tables import MESSAGES

    rows = list(_ROWS) + [row for pack in PACKS for row in pack.rows]
    fields = {name for row in rows for name in (row.engine_param, row.setup_engine_param) if name is not None}
    assert fields  # Convolution, Pooling, ReLU... read one
    for name in sorted(fields):
        sub_message = MESSAGES["LayerParameter"][name][3]
        assert default_of(sub_message, "engine") == "DEFAULT", name
