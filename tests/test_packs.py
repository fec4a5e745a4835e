"""Layer packs: each row's gradient flow through a small net, the packs' schema fields,
enabling packs (configuration, --pack), BL008 naming the pack, and corpus coverage.

No fork build is available as an oracle: these tests check that the simulation
does what each row (read from the fork's cited source) says, and that a pack
changes nothing while it is off.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from backprop_lint import lint
from backprop_lint.caffe.flavors import get_flavor
from backprop_lint.caffe.build_options import resolve_build
from backprop_lint.caffe.layer_table import Backward, LayerInfo, available_types
from backprop_lint.caffe.load import load
from backprop_lint.caffe.model import BackpropLintError, InputError, Message
from backprop_lint.caffe.packs import PACKS, checked_pack_names, get_pack, pack_names, pack_rows, packs_providing
from backprop_lint.caffe.pipeline import run_simulate, upgrade
from backprop_lint.caffe.schema import packs as pack_schema
from backprop_lint.caffe.textproto import parse

from shared_data import MISSING_REASON, corpus_nets

REPO = Path(__file__).resolve().parent.parent

ALL_ROWS: List[Tuple[str, LayerInfo]] = [(pack.name, row) for pack in PACKS for row in pack.rows]


def _row_id(item: Tuple[str, LayerInfo]) -> str:
    return f"{item[0]}:{item[1].type}"


# ---------------------------------------------------------------------------
# The rows themselves
# ---------------------------------------------------------------------------


def test_every_pack_pins_a_commit_and_cites_every_row() -> None:
    for pack in PACKS:
        assert len(pack.commit) == 40 and all(c in "0123456789abcdef" for c in pack.commit), pack.name
        assert "/" in pack.repository and "." not in pack.name
        for row in pack.rows:
            assert row.citation, (pack.name, row.type)
            for part in row.citation.split("; "):
                path, _, lines = part.partition(":")
                assert path and lines and lines.split(",")[0].split("-")[0].split(" ")[0].isdigit(), part


def test_pack_names_and_lookup() -> None:
    assert pack_names() == [pack.name for pack in PACKS]
    assert packs_providing("ROIPooling") == ["py-faster-rcnn", "r-fcn", "r-fcn-matlab", "caffe-priv"]
    assert packs_providing("Convolution") == []
    assert packs_providing("SmoothL1Loss") == ["py-faster-rcnn", "r-fcn", "r-fcn-matlab", "caffe-priv"]
    with pytest.raises(InputError, match="did you mean 'segnet'"):
        get_pack("segnt")
    assert checked_pack_names(["hed", "segnet", "hed"]) == ("hed", "segnet")


def test_pack_index_is_packs_providing() -> None:
    """BL008's table of which packs define a type (read without importing the packs) is
    ``packs_providing`` for every type of every pack, and names no other type."""
    from backprop_lint.linting.rules.pack_index import PACKS_PROVIDING

    types = {row.type for pack in PACKS for row in pack.rows}
    assert set(PACKS_PROVIDING) == types
    assert {name: list(names) for name, names in PACKS_PROVIDING.items()} == {
        name: packs_providing(name) for name in types
    }


def test_first_listed_pack_wins_a_shared_type() -> None:
    assert pack_rows(["py-faster-rcnn", "r-fcn"])["ROIPooling"] is get_pack("py-faster-rcnn").rows[0]
    assert pack_rows(["r-fcn", "py-faster-rcnn"])["ROIPooling"].citation.startswith("include/caffe/layers/")


#: parameters a row's load-time check requires
_REQUIRED_PARAMS: Dict[str, str] = {
    "MultiBoxLoss": " multibox_loss_param { num_classes: 2 }",
    "Reorg": " reorg_param { stride: 2 }",
    "MultiStageMeanfield": " multi_stage_meanfield_param { num_iterations: 5 }",
    # no update in Forward, no visible bias: the bottom diff comes from Backward and top 0 alone
    "RBMInnerProduct": ' rbm_inner_product_param { forward_is_update: false visible_bias_term: false '
                       'connection_layer_param { type: "InnerProduct" inner_product_param { num_output: 2 } } }',
    "YoloDetectionOutput": " yolo_detection_output_param { num_classes: 2 }",
    "Pooling": " pooling_param { pool: MIN kernel_size: 2 }",
}


def _net_for(row: LayerInfo, fed: Set[int]) -> Tuple[str, int, int]:
    """A net with one ``row`` layer. Bottoms in ``fed`` come from a learnable Convolution
    (so they need a gradient); the others straight from an Input. Top 0 is the loss."""
    bottoms, tops = row.blob_counts(Message("LayerParameter"))
    n_bottoms = max(bottoms.exact, bottoms.min, 0)
    n_tops = max(tops.exact, tops.min, 1) if tops.exact != 0 else 0
    lines = []
    for j in range(n_bottoms):
        lines.append(f'layer {{ name: "in{j}" type: "Input" top: "in{j}" '
                     f'input_param {{ shape {{ dim: 2 dim: 3 dim: 4 dim: 4 }} }} }}')
        if j in fed:
            lines.append(f'layer {{ name: "conv{j}" type: "Convolution" bottom: "in{j}" top: "b{j}" '
                         f'convolution_param {{ num_output: 3 kernel_size: 1 }} }}')
        else:
            lines.append(f'layer {{ name: "pass{j}" type: "Input" top: "b{j}" '
                         f'input_param {{ shape {{ dim: 2 dim: 3 dim: 4 dim: 4 }} }} }}')
    bottom_text = " ".join(f'bottom: "b{j}"' for j in range(n_bottoms))
    top_text = " ".join(f'top: "t{k}"' for k in range(n_tops))
    loss = "" if row.is_loss or n_tops == 0 else " loss_weight: 1" + " loss_weight: 0" * (n_tops - 1)
    params = _REQUIRED_PARAMS.get(row.type, "")
    lines.append(f'layer {{ name: "under_test" type: "{row.type}" {bottom_text} {top_text}{loss}{params} }}')
    return "\n".join(lines), n_bottoms, n_tops


@pytest.mark.parametrize("item", ALL_ROWS, ids=_row_id)
def test_gradient_flow_matches_the_row(item: Tuple[str, LayerInfo]) -> None:
    pack, row = item
    probe, n_bottoms, _ = _net_for(row, set())
    behaviours = [row.backward(j, n_bottoms, Message("LayerParameter")) for j in range(n_bottoms)]
    # every bottom that can be asked for a gradient without aborting is fed by a learnable layer
    fed = {j for j, b in enumerate(behaviours) if b not in (Backward.ABORTS_IF_PD, Backward.ABORTS)}
    text, n_bottoms, n_tops = _net_for(row, fed)
    result = run_simulate(text, packs=[pack])
    assert "error" not in result, result
    layer = next(layer for layer in result["layers"] if layer["name"] == "under_test")
    assert layer["type"] == row.type
    assert len(layer["tops"]) == n_tops
    if row.is_loss:
        assert layer["loss"][0] == 1.0  # LossLayer's default loss_weight on top 0
    for j, behaviour in enumerate(behaviours):
        nonzero = result["blob_diff_nonzero"][f"b{j}"]
        expected = j in fed and behaviour in (Backward.RESPECTS_PD, Backward.IGNORES_PD)
        assert nonzero is expected, (row.type, j, behaviour, nonzero)
    assert result["backward_aborts"] == []
    for j, behaviour in enumerate(behaviours):
        if behaviour is Backward.ABORTS_IF_PD:
            aborting, _, _ = _net_for(row, fed | {j})
            assert run_simulate(aborting, packs=[pack])["backward_aborts"] == ["under_test"], (row.type, j)


def test_pack_off_the_type_is_unknown_and_on_it_is_known() -> None:
    text, _, _ = _net_for(get_pack("py-faster-rcnn").rows[0], {0})
    assert run_simulate(text)["error"]["kind"] == "unknown-layer-type"
    assert "error" not in run_simulate(text, packs=["py-faster-rcnn"])


def test_smooth_l1_loss_with_three_bottoms_is_refused_as_the_fork_does() -> None:
    row = pack_rows(["py-faster-rcnn"])["SmoothL1Loss"]
    text, _, _ = _net_for(row, {0, 1})
    text = text.replace('bottom: "b1"', 'bottom: "b1" bottom: "b0x"').replace(
        'layer { name: "under_test"',
        'layer { name: "in2" type: "Input" top: "b0x" input_param { shape { dim: 2 } } }\nlayer { name: "under_test"')
    error = run_simulate(text, packs=["py-faster-rcnn"])["error"]
    assert "must specify both inside and outside weights" in error["message"]


def test_segnet_bn_top_count_follows_bn_mode_and_params_are_always_written() -> None:
    base = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }\n'
            'layer { name: "conv" type: "Convolution" bottom: "x" top: "c" '
            'convolution_param { num_output: 3 kernel_size: 1 } }\n'
            # lr_mult 0: only the bottom's need makes BN run Backward, which then writes both diffs
            'layer { name: "bn" type: "BN" bottom: "c" top: "y" top: "m" top: "v" %s param { lr_mult: 0 } '
            'param { lr_mult: 0 } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "x" top: "l" }\n')
    learn = run_simulate(base % "", packs=["segnet"])
    assert "error" not in learn
    assert learn["param_diff_nonzero"]["bn"] == [True, True]  # written whatever lr_mult says
    inference = run_simulate(base % "bn_param { bn_mode: INFERENCE }", packs=["segnet"])
    assert inference["error"]["kind"] == "top-count"


def test_segnet_upsample_wins_over_the_ssd_lineage_row_only_when_enabled() -> None:
    text = ('layer { name: "in" type: "Input" top: "x" top: "mask" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "conv" type: "Convolution" bottom: "x" top: "c" convolution_param { num_output: 3 kernel_size: 1 } }\n'
            'layer { name: "up" type: "Upsample" bottom: "c" bottom: "mask" top: "u" loss_weight: 1 '
            'upsample_param { upsample_h: 8 upsample_w: 8 } }\n')
    with_pack = run_simulate(text, flavor="ssd", packs=["segnet"])
    assert with_pack["blob_diff_nonzero"]["c"] is True  # SegNet's Upsample has a Backward
    without = run_simulate(text, flavor="ssd")
    assert without["blob_diff_nonzero"]["c"] is False  # the SSD lineage's Upsample has an empty one


def test_rfcn_matlab_softmax_with_loss_takes_three_tops_only_with_the_pack() -> None:
    text = ('layer { name: "in" type: "Input" top: "x" top: "label" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "score" inner_product_param { num_output: 3 } }\n'
            'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "score" bottom: "label" '
            'top: "loss" top: "prob" top: "per_roi" loss_weight: 1 loss_weight: 0 loss_weight: 0 }\n')
    assert run_simulate(text)["error"]["kind"] == "top-count"
    result = run_simulate(text, packs=["r-fcn-matlab"])
    assert result["blob_diff_nonzero"]["score"] is True and result["layers"][-1]["loss"] == [1.0, 0.0, 0.0]


def test_caffe_priv_interp_takes_a_size_bottom_that_gets_no_gradient() -> None:
    text = ('layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }\n'
            'layer { name: "ca" type: "Convolution" bottom: "a" top: "ca" convolution_param { num_output: 3 kernel_size: 1 } }\n'
            'layer { name: "cb" type: "Convolution" bottom: "b" top: "cb" convolution_param { num_output: 3 kernel_size: 1 } }\n'
            'layer { name: "up" type: "Interp" bottom: "ca" bottom: "cb" top: "up" loss_weight: 1 %s }\n')
    result = run_simulate(text % "interp_param { use_blob_size: true }", packs=["caffe-priv"])
    assert result["blob_diff_nonzero"]["ca"] is True and result["blob_diff_nonzero"]["cb"] is False
    assert run_simulate(text % "", packs=["deeplab-v2"])["error"]["kind"] == "bottom-count"
    one_bottom = text.replace(' bottom: "cb" top: "up"', ' top: "up"') % "interp_param { use_blob_size: true }"
    assert "another blob to supply size" in run_simulate(one_bottom, packs=["caffe-priv"])["error"]["message"]


def test_l1_loss_lets_force_backward_reach_both_bottoms_unlike_a_label_loss() -> None:
    text = ('force_backward: true\n'
            'layer { name: "in" type: "Input" top: "a" top: "b" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "loss" type: "%s" bottom: "a" bottom: "b" top: "loss" }\n')
    l1 = run_simulate(text % "L1Loss", packs=["detectnet-pr4780"])
    assert l1["blob_diff_nonzero"]["a"] is True and l1["blob_diff_nonzero"]["b"] is True
    pairwise = run_simulate(text % "PairwiseLoss", packs=["deep-hashing-pr5757"])
    assert pairwise["blob_diff_nonzero"]["a"] is True and pairwise["blob_diff_nonzero"]["b"] is False
    assert pairwise["backward_aborts"] == []  # force_backward never asks for the label, so no LOG(FATAL)


def test_continuation_indicator_on_a_learned_blob_makes_the_lstm_abort() -> None:
    """The CRNN pattern: the indicator's bottom needs a gradient, so its top does too (its empty
    Backward does not matter to Net::Init), and LSTM's CHECK on the indicator bottom fires."""
    text = ('layer { name: "lab" type: "Input" top: "labels" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 8 dim: 2 dim: 5 } } }\n'
            'layer { name: "proj" type: "InnerProduct" bottom: "x" top: "seq" '
            'inner_product_param { num_output: 6 axis: 2 } }\n'
            'layer { name: "indicator" type: "ContinuationIndicator" bottom: "%s" top: "cont" '
            'continuation_indicator_param { time_step: 8 axis: 1 } }\n'
            'layer { name: "lstm" type: "LSTM" bottom: "seq" bottom: "cont" top: "h" '
            'recurrent_param { num_output: 4 } }\n'
            'layer { name: "loss" type: "CtcLoss" bottom: "h" bottom: "labels" top: "loss" '
            'ctc_loss_param { alphabet_size: 4 time_step: 8 } }\n')
    assert run_simulate(text % "seq", packs=["warpctc-crnn-pr6354"])["backward_aborts"] == ["lstm"]
    from_input = run_simulate(text % "x", packs=["warpctc-crnn-pr6354"])
    assert from_input["backward_aborts"] == [] and from_input["blob_diff_nonzero"]["seq"] is True


def test_image_seg_data_creates_its_missing_top() -> None:
    text = 'layer { name: "data" type: "ImageSegData" top: "data" top: "label" }\n'
    result = run_simulate(text, packs=["deeplab-v2"])
    assert result["layers"][0]["tops"] == ["data", "label", "(automatic)"]


def test_randvec_is_a_noise_source_without_bottoms() -> None:
    text = ('layer { name: "in" type: "Input" top: "t" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "z" type: "RandVec" top: "z" randvec_param { batch_size: 2 dim: 4 } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "z" top: "g" inner_product_param { num_output: 3 } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "g" bottom: "t" top: "l" }\n')
    assert run_simulate(text)["error"]["kind"] in {"unknown-type", "unknown-layer-type"}
    result = run_simulate(text, packs=["cifar-gan-pr6660"])
    assert result["blob_diff_nonzero"]["g"] is True and result["blob_diff_nonzero"]["z"] is False
    with_bottom = text.replace('top: "z" randvec_param', 'bottom: "t" top: "z" randvec_param', 1)
    assert run_simulate(with_bottom, packs=["cifar-gan-pr6660"])["error"]["kind"] == "bottom-count"


def test_xcov_loss_has_no_default_loss_weight_and_writes_both_bottoms() -> None:
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 4 dim: 3 } } }\n'
            'layer { name: "a" type: "InnerProduct" bottom: "x" top: "a" inner_product_param { num_output: 2 } }\n'
            'layer { name: "b" type: "InnerProduct" bottom: "x" top: "b" inner_product_param { num_output: 2 } }\n'
            'layer { name: "xcov" type: "XCovLoss" bottom: "a" bottom: "b" %s }\n')
    unweighted = run_simulate(text % 'top: "l"', packs=["xcov-loss-pr2126"])
    assert unweighted["layers"][-1]["loss"] == [0.0]
    assert unweighted["blob_diff_nonzero"]["a"] is False and unweighted["blob_diff_nonzero"]["b"] is False
    weighted = run_simulate(text % 'top: "l" loss_weight: 1 propagate_down: true propagate_down: false',
                            packs=["xcov-loss-pr2126"])
    assert weighted["blob_diff_nonzero"]["a"] is True
    assert weighted["blob_diff_nonzero"]["b"] is True  # Backward ignores propagate_down
    # a LossLayer: the missing top is created (AutoTopBlobs)
    assert run_simulate(text % "loss_weight: 1", packs=["xcov-loss-pr2126"])["layers"][-1]["tops"] == ["(automatic)"]


def test_triplet_loss_pr3422_takes_three_bottoms_and_never_forces_the_negative() -> None:
    text = ('%slayer { name: "in" type: "Input" top: "x" top: "y" top: "z" top: "w" '
            'input_param { shape { dim: 4 dim: 3 } } }\n'
            'layer { name: "loss" type: "TripletLoss" bottom: "x" bottom: "y" bottom: "z" %s top: "l" '
            'triplet_loss_param { margin: 1 } }\n')
    forced = run_simulate(text % ("force_backward: true\n", ""), packs=["triplet-loss-pr3422"])
    assert forced["layers"][-1]["loss"] == [1.0]
    assert forced["blob_diff_nonzero"]["x"] is True and forced["blob_diff_nonzero"]["y"] is True
    assert forced["blob_diff_nonzero"]["z"] is False  # AllowForceBackward(2) is false
    four = run_simulate(text % ("", 'bottom: "w"'), packs=["triplet-loss-pr3422"])
    assert four["error"]["kind"] == "bottom-count"  # PR #2603's four-bottom form is not this layer


def test_unpooling_pr3376_runs_forward_only() -> None:
    text = ('%slayer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
            'layer { name: "pool" type: "Pooling" bottom: "x" top: "p" top: "mask" '
            'pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n'
            'layer { name: "unpool" type: "Unpooling" bottom: "p" bottom: "mask" top: "u" '
            'pooling_param { pool: MAX kernel_size: 2 stride: 2 } }\n')
    deploy = run_simulate(text % "", packs=["unpooling-pr3376"])
    assert "error" not in deploy and deploy["backward_aborts"] == []
    assert run_simulate(text % "force_backward: true\n", packs=["unpooling-pr3376"])["backward_aborts"] == ["unpool"]
    one_bottom = (text % "").replace(' bottom: "mask" top: "u"', ' top: "u"')
    assert run_simulate(one_bottom, packs=["unpooling-pr3376"])["error"]["kind"] == "bottom-count"


def test_saliency_pooling_gives_the_saliency_map_no_gradient() -> None:
    conv = 'convolution_param { num_output: 2 kernel_size: 1 }'
    text = ('layer { name: "in" type: "Input" top: "x" top: "s" input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
            f'layer {{ name: "cx" type: "Convolution" bottom: "x" top: "cx" {conv} }}\n'
            f'layer {{ name: "cs" type: "Convolution" bottom: "s" top: "cs" {conv} }}\n'
            'layer { name: "sal" type: "SaliencyPooling" bottom: "cx" bottom: "cs" top: "p" loss_weight: 1 '
            'pooling_param { kernel_size: 2 stride: 2 } }\n')
    result = run_simulate(text, packs=["saliency-pooling-pr6194"])
    assert result["blob_diff_nonzero"]["cx"] is True and result["blob_diff_nonzero"]["cs"] is False
    no_top = text.replace(' top: "p" loss_weight: 1', '')
    assert run_simulate(no_top, packs=["saliency-pooling-pr6194"])["error"]["kind"] == "top-count"


def test_yolo_detection_output_is_inference_only_and_needs_num_classes() -> None:
    text = ('%slayer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 dim: 125 dim: 13 dim: 13 } } }\n'
            'layer { name: "conv" type: "Convolution" bottom: "x" top: "region" '
            'convolution_param { num_output: 125 kernel_size: 1 } }\n'
            'layer { name: "det" type: "YoloDetectionOutput" bottom: "region" top: "det" %s }\n')
    param = "yolo_detection_output_param { num_classes: 20 biases: 1.08 biases: 1.19 }"
    deploy = run_simulate(text % ("", param), packs=["yolo-pr5906"])
    assert "error" not in deploy and deploy["backward_aborts"] == []
    assert run_simulate(text % ("force_backward: true\n", param), packs=["yolo-pr5906"])["backward_aborts"] == ["det"]
    missing = run_simulate(text % ("", "yolo_detection_output_param { side: 13 }"), packs=["yolo-pr5906"])
    assert "Must specify num_classes" in missing["error"]["message"]


def test_multi_stage_meanfield_writes_unaries_and_q_but_not_the_image() -> None:
    conv = 'convolution_param { num_output: 3 kernel_size: 1 }'
    text = ('layer { name: "in" type: "Input" top: "x" top: "rgb" '
            'input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }\n'
            f'layer {{ name: "score" type: "Convolution" bottom: "x" top: "score" {conv} }}\n'
            f'layer {{ name: "img" type: "Convolution" bottom: "rgb" top: "img" {conv} }}\n'
            'layer { name: "split" type: "Split" bottom: "score" top: "u" top: "q" }\n'
            'layer { name: "crf" type: "MultiStageMeanfield" bottom: "u" bottom: "q" bottom: "img" top: "out" '
            'loss_weight: 1 propagate_down: true propagate_down: false propagate_down: true %s }\n')
    result = run_simulate(text % "multi_stage_meanfield_param { num_iterations: 5 }", packs=["crf-rnn-pr5630"])
    assert result["blob_diff_nonzero"]["u"] is True
    assert result["blob_diff_nonzero"]["q"] is True  # written though propagate_down is false
    assert result["blob_diff_nonzero"]["img"] is False
    assert len(result["layers"][-1]["param_propagate_down"]) == 3
    default = run_simulate(text % "", packs=["crf-rnn-pr5630"])
    assert "Number of iterations must be greater than 1" in default["error"]["message"]


def _pooling_net(pool: str, tops: str = 'top: "p"', extra: str = "") -> str:
    return ('layer { name: "in" type: "Input" top: "x" top: "t" '
            'input_param { shape { dim: 1 dim: 2 dim: 4 dim: 4 } } }\n'
            'layer { name: "conv" type: "Convolution" bottom: "x" top: "c" '
            'convolution_param { num_output: 2 kernel_size: 1 } }\n'
            f'layer {{ name: "pool" type: "Pooling" bottom: "c" {tops} '
            f'pooling_param {{ pool: {pool} kernel_size: 2 stride: 2 {extra}}} }}\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "t" top: "l" }\n')


def test_min_pooling_needs_the_pack_and_then_routes_the_gradient_like_max() -> None:
    with pytest.raises(InputError, match=r"has no value named MIN .*--pack iqa-cnn-pr5779"):
        parse(_pooling_net("MIN"))
    for pool in ("MIN", "MAX"):
        result = run_simulate(_pooling_net(pool), packs=["iqa-cnn-pr5779"])
        assert result["blob_diff_nonzero"]["c"] is True, pool
        masked = run_simulate(_pooling_net(pool, 'top: "p" top: "mask"'), packs=["iqa-cnn-pr5779"])
        assert "error" not in masked and masked["layers"][2]["tops"] == ["p", "mask"], pool
    ave_mask = run_simulate(_pooling_net("AVE", 'top: "p" top: "mask"'), packs=["iqa-cnn-pr5779"])
    assert ave_mask["error"]["kind"] == "top-count"
    padded = run_simulate(_pooling_net("MIN", extra="pad: 1 "), packs=["iqa-cnn-pr5779"])
    assert "Padding implemented only for average and max pooling" in padded["error"]["message"]
    # the base schema is untouched by having parsed with the pack
    with pytest.raises(InputError, match="has no value named MIN"):
        parse(_pooling_net("MIN"))


def test_svr_loss_never_gives_the_scores_a_gradient() -> None:
    text = ('force_backward: true\n'
            'layer { name: "in" type: "Input" top: "x" top: "score" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "fc" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 1 } }\n'
            'layer { name: "loss" type: "SVRLoss" bottom: "y" bottom: "score" %s }\n')
    result = run_simulate(text % 'top: "loss"', packs=["iqa-cnn-pr5779"])
    assert result["layers"][-1]["loss"] == [1.0]
    assert result["blob_diff_nonzero"]["y"] is True and result["blob_diff_nonzero"]["score"] is False
    assert run_simulate(text % "", packs=["iqa-cnn-pr5779"])["layers"][-1]["tops"] == ["(automatic)"]


_DEEPLAB_V1_NET = (
    'layers { name: "data" type: IMAGE_SEG_DATA top: "data" top: "label" '
    'image_data_param { source: "list.txt" label_type: PIXEL batch_size: 2 } }\n'
    'layers { name: "conv" type: CONVOLUTION bottom: "data" top: "score" blobs_lr: 1 blobs_lr: 2 '
    'convolution_param { num_output: 21 kernel_size: 3 pad: 2 hole: 2 } }\n'
    'layers { name: "shrink" type: INTERP bottom: "label" top: "label_shrink" interp_param { shrink_factor: 8 } }\n'
    'layers { name: "loss" type: SOFTMAX_LOSS bottom: "score" bottom: "label_shrink" '
    'softmaxloss_param { ignore_label: 255 } }\n'
    'layers { name: "accuracy" type: SEG_ACCURACY bottom: "score" bottom: "label_shrink" top: "accuracy" '
    'seg_accuracy_param { ignore_label: 255 } }\n')


def test_deeplab_v1_enum_types_upgrade_to_the_packs_rows() -> None:
    with pytest.raises(InputError, match=r"has no value named IMAGE_SEG_DATA .*--pack deeplab-v1"):
        parse(_DEEPLAB_V1_NET)
    loaded = load(_DEEPLAB_V1_NET, packs=("deeplab-v1",))
    net, warnings, upgraded_from = upgrade(loaded.net, get_flavor("bvlc"), loaded.file, ("deeplab-v1",))
    assert upgraded_from == "V1"
    assert [layer.get("type") for layer in net.repeated("layer")] == [
        "ImageSegData", "Convolution", "Interp", "SoftmaxWithLoss", "SegAccuracy"]
    assert net.repeated("layer")[2].get("interp_param").get("shrink_factor") == 8  # carried over, not dropped
    assert not [w for w in warnings if "does not carry" in w.message], warnings
    # without the pack the upgrade does not know the fork's values (as BVLC's UpgradeV1LayerType)
    with pytest.raises(BackpropLintError, match="Unknown V1LayerParameter layer type: IMAGE_SEG_DATA"):
        upgrade(loaded.net, get_flavor("bvlc"), loaded.file)
    result = run_simulate(_DEEPLAB_V1_NET, packs=["deeplab-v1"])
    assert result["layers"][0]["tops"] == ["data", "label", "(automatic)"]
    assert result["blob_diff_nonzero"]["score"] is True and result["blob_diff_nonzero"]["label_shrink"] is False
    assert result["backward_aborts"] == []


def test_deeplab_v1_enum_numbers_keep_their_base_meaning_in_text() -> None:
    net, _ = parse("layers { type: 39 } layers { type: 41 }", packs=("deeplab-v1",))
    assert [layer.get("type") for layer in net.repeated("layers")] == ["DECONVOLUTION", "INTERP"]
    with pytest.raises(InputError, match="has no value with number 41"):
        parse("layers { type: 41 }")


DEEPLAB_TEMPLATE = "corenel__deeplab-public__exper__voc12__config__deeplab_largeFOV__train.prototxt"
DEEPLAB_SUBSTITUTED = REPO / "fixtures" / "packs" / "deeplab_largeFOV_train.substituted.prototxt"


@pytest.mark.skipif(not corpus_nets(), reason=MISSING_REASON)
def test_deeplab_largefov_template_is_refused_where_the_forks_parser_stops() -> None:
    path = next(path for path in corpus_nets() if path.name == DEEPLAB_TEMPLATE)
    result = _cli("check", str(path), "--pack", "deeplab-v1", "--format", "concise")
    assert result.returncode == 1
    line, = result.stdout.strip().splitlines()
    # '${NET_ID}' and the paths are quoted strings (legal); `num_output: ${NUM_LABELS}` is not
    assert line.startswith(f"{path}:473:17: BL000 [error] unsubstituted template variable '${{NUM_LABELS}}'")
    assert "shell variable" in line and "envsubst" in line


def test_deeplab_largefov_filled_in_loads_and_simulates_with_the_pack() -> None:
    result = _cli("simulate", str(DEEPLAB_SUBSTITUTED), "--pack", "deeplab-v1")
    assert result.returncode == 0, result.stderr
    simulated = json.loads(result.stdout)
    types = {layer["name"]: layer["type"] for layer in simulated["layers"]}
    assert (types["data"], types["label_shrink"], types["accuracy"]) == ("ImageSegData", "Interp", "SegAccuracy")
    assert simulated["blob_diff_nonzero"]["fc6"] is True and simulated["blob_diff_nonzero"]["label_shrink"] is False
    assert simulated["backward_aborts"] == []
    checked = _cli("check", str(DEEPLAB_SUBSTITUTED), "--pack", "deeplab-v1", "--format", "json")
    assert checked.returncode == 0, checked.stdout
    assert {f["code"] for f in json.loads(checked.stdout)["findings"]} <= {"BL902", "BL404"}
    assert _cli("simulate", str(DEEPLAB_SUBSTITUTED)).returncode != 0


@pytest.mark.parametrize("packs", [[], ["--pack", "py-faster-rcnn"]])
def test_a_v1_roi_pooling_layer_is_refused_with_what_to_write_instead(tmp_path: Path, packs: List[str]) -> None:
    net = tmp_path / "old.prototxt"
    net.write_text('input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
                   'layers {\n  name: "roi_pool5"\n  type: ROI_POOLING\n  bottom: "data"\n}\n'
                   'layers { name: "loss" type: SMOOTH_L1_LOSS }\n', encoding="utf-8")
    result = _cli("check", str(net), *packs, "--format", "concise")
    assert result.returncode == 1
    line, = result.stdout.strip().splitlines()
    assert line.startswith(f"{net}:8:9: BL000 [error] ")
    assert "no published caffe-fast-rcnn" in line and "512ea33457a7552ed60ec13bc31b2b6543f6e880" in line
    assert 'type: "ROIPooling" with roi_pooling_param' in line
    smooth = net.read_text(encoding="utf-8").replace("type: ROI_POOLING", "type: POOLING")
    net.write_text(smooth, encoding="utf-8")
    line, = _cli("check", str(net), *packs, "--format", "concise").stdout.strip().splitlines()
    assert ":11:" in line and "SMOOTH_L1_LOSS existed only in rbgirshick/caffe-fast-rcnn@cae9aace" in line
    assert 'type: "SmoothL1Loss"' in line


def test_the_deepface_locally_connected_refusal_says_no_caffe_has_it() -> None:
    text = ('layers { layer { name: "data" type: "data" source: "x" batchsize: 1 } top: "data" }\n'
            'layers { layer { name: "lc" type: "locally_connected" num_output: 4 kernelsize: 3 } '
            'bottom: "data" top: "lc" }\n')
    finding = next(f for f in lint(text, phase="TRAIN").findings if f.code == "BL015")
    assert finding.message.startswith('Caffe refuses this net in `lc`: "Unknown layer name: locally_connected". ')
    assert "PR #216 (c95fc4d)" in finding.message and "\n" not in finding.message
    assert "`LocalConvolution`" in finding.fix.description and "no layer pack" in finding.fix.description
    simulated = run_simulate(text)["error"]
    assert simulated["message"] == "Unknown layer name: locally_connected" and "PR #216" in simulated["explanation"]
    other = next(f for f in lint(text.replace("locally_connected", "lolcat"), phase="TRAIN").findings
                 if f.code == "BL015")
    assert other.message == 'Caffe refuses this net in `lc`: "Unknown layer name: lolcat"'


_RBM_CORPUS_NET = "BVLC__caffe__examples__mnist__mnist_rbm.prototxt"


@pytest.mark.skipif(not corpus_nets(), reason=MISSING_REASON)
def test_rbm_corpus_net_learns_in_forward_and_its_loss_reaches_no_parameter() -> None:
    """PR #3568's own example, mnist_rbm.prototxt, in TRAIN, decided by hand from the PR's C++
    (BVLC/caffe@8676239, src/caffe/layers/rbm_inner_product_layer.cpp):

    * `fc_rbm_1_layer` has 3 blobs: its connection InnerProduct's weights and hidden bias
      (bias_term: true), then the visible bias (visible_bias_term: true; cpp:163-181). No `param`
      specs: lr_mult 1, so param_propagate_down is true for all three and the layer needs backward.
    * Its bottom is Split top 0 of `flat_data`, which comes from Data through Flatten: nothing
      below needs a gradient, so propagate_down[0] is false and Backward_cpu (cpp:312-331) does
      nothing at all: it never writes a parameter diff.
    * The EuclideanLoss on `reconstruction` keeps the RBM in the backward pass and writes the
      `reconstruction` diff, but the RBM's Backward reads only top 0 (`fc_rbm_1`, cpp:322), and
      Silence leads to no loss: the loss gives no parameter a gradient.
    * forward_is_update (the default) makes Forward (cpp:287-305) run contrastive divergence:
      update_diffs (cpp:356-406) writes the weight, hidden and visible bias diffs, so all three are
      non-zero; its Gibbs step writes the visible pre-activation into the diff of the RBM's bottom
      (`pre_activation_v1_blob_->ShareDiff(*bottom[0])`, cpp:119; cpp:467-477), Split top 0.
    """
    path = next(net for net in corpus_nets() if net.name == _RBM_CORPUS_NET)
    result = run_simulate(path, phase="TRAIN", packs=["rbm-pr3568"])
    assert "error" not in result, result
    layers = {layer["name"]: layer for layer in result["layers"]}
    rbm = layers["fc_rbm_1_layer"]
    assert rbm["param_propagate_down"] == [True, True, True]
    assert rbm["need_backward"] is True and rbm["bottom_need_backward"] == [False]
    assert layers["reconstruction error"]["bottom_need_backward"] == [False, True]
    running = [name for name, layer in layers.items() if layer["need_backward"]]
    assert running == ["fc_rbm_1_layer", "reconstruction error"]
    assert result["param_diff_nonzero"] == {"fc_rbm_1_layer": [True, True, True]}
    assert result["blob_diff_nonzero"] == {
        "data": False, "label": False, "flat_data": False,
        "flat_data_flatten_layer_0_split_0": True,  # the update's Gibbs step, in Forward
        "flat_data_flatten_layer_0_split_1": False,
        "fc_rbm_1": False, "reconstruction": True, "(automatic)": True,
    }
    assert result["backward_aborts"] == []
    # the same net without the update in Forward: nothing writes a parameter diff any more
    text = path.read_text(encoding="utf-8").replace("forward_is_update: true", "forward_is_update: false")
    sampling = run_simulate(text, phase="TRAIN", packs=["rbm-pr3568"])
    assert sampling["param_diff_nonzero"] == {"fc_rbm_1_layer": [False, False, False]}
    assert sampling["blob_diff_nonzero"]["flat_data_flatten_layer_0_split_0"] is False
    report = lint(path, packs=["rbm-pr3568"])
    assert [f.code for f in report.findings] == []


_RBM_NET = ('layer { name: "in" type: "Input" top: "x" top: "t" '
            'input_param { shape { dim: 2 dim: 6 } shape { dim: 2 dim: 6 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "v" inner_product_param { num_output: 6 } }\n'
            'layer { name: "rbm" type: "RBMInnerProduct" bottom: "v" top: "h" top: "recon" %s '
            'rbm_inner_product_param { loss_measure: RECONSTRUCTION %s '
            'connection_layer_param { type: "%s" inner_product_param { num_output: 3 %s } } } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "recon" bottom: "t" }\n'
            'layer { name: "quiet" type: "Silence" bottom: "h" }\n')


def _rbm(options: str = "", specs: str = "", connection: str = "InnerProduct", inner: str = "",
         prefix: str = "") -> Dict[str, object]:
    return run_simulate(prefix + _RBM_NET % (specs, options, connection, inner), packs=["rbm-pr3568"])


def test_rbm_backward_reads_top_0_only_and_adds_the_visible_bias() -> None:
    # propagate_down[0] is set (v comes from a learned layer); top 0 `h` only reaches a Silence, so
    # its diff is zero; the loss is on `recon`, which Backward never reads (cpp:316-331)
    plain = _rbm("forward_is_update: false visible_bias_term: false")
    assert plain["blob_diff_nonzero"]["v"] is False
    assert plain["param_diff_nonzero"] == {"ip": [False, False], "rbm": [False, False]}
    # with the visible bias, sample_v_given_h adds it to the bottom diff: non-zero from a zero top diff
    biased = _rbm("forward_is_update: false")
    assert biased["blob_diff_nonzero"]["v"] is True
    assert biased["param_diff_nonzero"] == {"ip": [True, True], "rbm": [False, False, False]}


def test_rbm_update_writes_param_diffs_whatever_lr_mult_says() -> None:
    frozen = "param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }"
    result = _rbm(specs=frozen)
    rbm = next(layer for layer in result["layers"] if layer["name"] == "rbm")
    assert rbm["param_propagate_down"] == [False, False, False]
    assert result["param_diff_nonzero"]["rbm"] == [True, True, True]
    no_hidden_bias = _rbm(specs="param { lr_mult: 0 } param { lr_mult: 0 }", inner="bias_term: false")
    assert no_hidden_bias["param_diff_nonzero"]["rbm"] == [True, True]  # weights, visible bias
    # BL306 blames force_backward for frozen diffs; here Forward writes them with or without it
    report = lint("force_backward: true\n" + _RBM_NET % (frozen, "", "InnerProduct", ""), packs=["rbm-pr3568"])
    assert "BL306" not in {f.code for f in report.findings}
    # a frozen InnerProduct beside it is still BL306's: only the RBM's own update is exempt
    frozen_ip = (_RBM_NET % (frozen, "", "InnerProduct", "")).replace(
        'top: "v" inner_product_param', 'top: "v" param { lr_mult: 0 } inner_product_param')
    report = lint("force_backward: true\n" + frozen_ip, packs=["rbm-pr3568"])
    assert [f.layer for f in report.findings if f.code == "BL306"] == ["ip"]


def test_rbm_refusals_and_what_stays_unknown() -> None:
    missing = run_simulate(_RBM_NET.replace("connection_layer_param", "hidden_activation_layer_param")
                           % ("", "", "Sigmoid", ""), packs=["rbm-pr3568"])
    assert "a connection layer must be specified" in missing["error"]["message"]
    too_few = _rbm("loss_measure: RECONSTRUCTION loss_measure: RECONSTRUCTION")  # 3 measures, 2 tops
    assert "top.size() >= num_error_ (2 vs. 3)" in too_few["error"]["message"]
    embedded = _rbm(specs="blobs { shape { dim: 1 } }")
    assert "segmentation fault" in embedded["error"]["message"]
    # only an InnerProduct connection is read: another makes the blob count and Backward unknown
    other = _rbm(connection="Convolution")
    assert "error" not in other and "rbm" not in other["param_diff_nonzero"]
    assert other["blob_diff_nonzero"]["v"] is None
    # with a FREE_ENERGY measure the update's Forward stops (LOG(FATAL), cpp:435-436)
    assert _rbm("loss_measure: FREE_ENERGY")["backward_aborts"] == ["rbm"]
    assert _rbm("loss_measure: FREE_ENERGY forward_is_update: false")["backward_aborts"] == []


def test_bernoulli_sample_backward_aborts() -> None:
    text = ('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 6 } } }\n'
            'layer { name: "ip" type: "InnerProduct" bottom: "x" top: "p" inner_product_param { num_output: 6 } }\n'
            'layer { name: "sample" type: "BernoulliSample" bottom: "p" top: "s" loss_weight: 1 %s }\n')
    assert run_simulate(text % "", packs=["rbm-pr3568"])["backward_aborts"] == ["sample"]
    # even when it is not asked for a gradient: its loop runs past propagate_down (cpp:40-44)
    assert run_simulate(text % "propagate_down: false", packs=["rbm-pr3568"])["backward_aborts"] == ["sample"]


# ---------------------------------------------------------------------------
# Schema: the fork's fields parse with the pack on, and only then
# ---------------------------------------------------------------------------

_SAMPLES: Dict[str, str] = {
    "py-faster-rcnn": 'roi_pooling_param { pooled_w: 7 pooled_h: 7 spatial_scale: 0.0625 } '
                      'smooth_l1_loss_param { sigma: 3 }',
    "r-fcn": 'psroi_pooling_param { spatial_scale: 0.0625 output_dim: 21 group_size: 7 } '
             'box_annotator_ohem_param { roi_per_img: 128 ignore_label: -1 } '
             'loss_param { pre_fixed_normalizer: 128 }',
    "deeplab-v2": 'interp_param { zoom_factor: 8 } seg_accuracy_param { metric: PixelIOU ignore_label: 255 } '
                  'image_data_param { label_type: PIXEL ignore_label: 255 }',
    "deep-hashing-pr5757": 'multi_label_data_param { source: "x" batch_size: 64 label_num: 81 new_width: 256 } '
                           'pairwise_param { threshold: 15 } quantization_param { threshold: 15 }',
    "cifar-gan-pr6660": 'randvec_param { batch_size: 64 dim: 100 lower: -1 upper: 1 height: 1 width: 1 }',
    "warpctc-crnn-pr6354": 'ctc_loss_param { alphabet_size: 11 time_step: 24 blank_label: 10 } '
                           'continuation_indicator_param { time_step: 24 axis: 1 } '
                           'labelsequence_accuracy_param { blank_label: 10 }',
    "detectnet-pr4780": 'detectnet_groundtruth_param { stride: 16 gridbox_type: GRIDBOX_MIN '
                        'coverage_type: RECTANGULAR object_class { src: 1 dst: 0 } } '
                        'detectnet_augmentation_param { crop_prob: 1 shift_x: 32 hue_rotation: 30 }',
    "triplet-loss-pr3422": 'triplet_loss_param { margin: 0.5 }',
    "saliency-pooling-pr6194": 'saliency_pooling_param { engine: CAFFE kernel_size: 3 stride: 2 '
                               'global_pooling: false }',
    "yolo-pr5906": 'yolo_detection_output_param { side: 13 num_classes: 20 biases: 1.08 biases: 1.19 '
                   'confidence_threshold: 0.24 visualize: false }',
    "crf-rnn-pr5630": 'multi_stage_meanfield_param { num_iterations: 10 compatibility_mode: POTTS '
                      'theta_alpha: 160 theta_beta: 3 theta_gamma: 3 spatial_filter_weights_str: "3 3" }',
    "iqa-cnn-pr5779": 'dropout_param { scale_test: true }',
    "deeplab-v1": 'interp_param { shrink_factor: 8 pad_beg: 0 } seg_accuracy_param { ignore_label: 255 } '
                  'softmaxloss_param { ignore_label: 255 weight_source: "w.txt" } convolution_param { hole: 2 } '
                  'image_data_param { label_type: PIXEL has_label: true }',
    "rbm-pr3568": 'rbm_inner_product_param { forward_is_update: true loss_measure: RECONSTRUCTION '
                  'sample_steps_in_update: 1 visible_bias_term: true visible_bias_filler { type: "constant" } '
                  'connection_layer_param { type: "InnerProduct" inner_product_param { num_output: 100 } } '
                  'hidden_activation_layer_param { type: "Sigmoid" } '
                  'visible_sampling_layer_param { type: "BernoulliSample" } }',
    "segnet": 'bn_param { bn_mode: INFERENCE scale_filler { type: "constant" value: 1 } } '
              'upsample_param { scale: 2 upsample_h: 45 } dense_image_data_param { source: "x" crop_width: 3 } '
              'loss_param { weight_by_label_freqs: true class_weighting: 0.2 class_weighting: 0.8 }',
}


@pytest.mark.parametrize("pack", sorted(_SAMPLES))
def test_pack_fields_parse_only_with_the_pack(pack: str) -> None:
    text = f'layer {{ name: "l" type: "X" {_SAMPLES[pack]} }}'
    net, warnings = parse(text, packs=(pack,))
    assert warnings == []
    layer = net.repeated("layer")[0]
    assert layer.fields.keys() >= {"name", "type"} and len(layer.fields) > 2
    _, off = parse(text)
    assert off, "without the pack, the fork's fields are unknown (BL403) as before"
    with pytest.raises(InputError):
        parse(text, strict=True)


def test_rfcn_pre_fixed_normalization_needs_the_pack() -> None:
    text = 'layer { name: "l" loss_param { normalization: PRE_FIXED } }'
    with pytest.raises(InputError, match="has no value named PRE_FIXED"):
        parse(text)
    net, warnings = parse(text, packs=("r-fcn",))
    assert warnings == [] and net.repeated("layer")[0].get("loss_param").get("normalization") == "PRE_FIXED"
    # the fork renumbers NONE: 4 here, 3 in BVLC
    assert parse('layer { loss_param { normalization: 4 } }', packs=("r-fcn",))[0].repeated(
        "layer")[0].get("loss_param").get("normalization") == "NONE"


def test_pack_fields_have_the_forks_defaults() -> None:
    net, _ = parse('layer { name: "l" roi_pooling_param { pooled_w: 7 } loss_param { } }', packs=("r-fcn",))
    layer = net.repeated("layer")[0]
    assert layer.get("roi_pooling_param").get("spatial_scale") == 1.0
    assert layer.get("loss_param").get("pre_fixed_normalizer") == 1.0
    bn = parse('layer { bn_param { } }', packs=("segnet",))[0].repeated("layer")[0].get("bn_param")
    assert bn.get("bn_mode") == "LEARN"


def test_pack_enum_values_are_checked() -> None:
    with pytest.raises(InputError, match="BNMode"):
        parse('layer { bn_param { bn_mode: TRAIN } }', packs=("segnet",), strict=True)


def test_schema_overlay_names_its_own_messages_by_pack() -> None:
    for pack, enums in pack_schema.ENUM_VALUES.items():
        assert pack in pack_names()
        for enum, values in enums.items():
            assert "." not in enum.split(".")[0] and values, (pack, enum)
    for pack, messages in pack_schema.FIELDS.items():
        assert pack in pack_names()
        for message, fields in messages.items():
            for name, (number, kind, _repeated, type_name, _default, _packed) in fields.items():
                assert number > 0
                if type_name and "." in type_name:
                    assert type_name.startswith(pack + "."), (pack, message, name)
                    lookup = pack_schema.pack_enum if kind == "enum" else pack_schema.pack_message
                    assert lookup(type_name) is not None, type_name


# ---------------------------------------------------------------------------
# Enabling packs, and BL008 naming them
# ---------------------------------------------------------------------------

_FRCNN_NET = ('layer { name: "data" type: "Input" top: "data" top: "rois" top: "pool_target" '
              'input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }\n'
              'layer { name: "conv" type: "Convolution" bottom: "data" top: "conv" '
              'convolution_param { num_output: 4 kernel_size: 1 } }\n'
              'layer { name: "roi_pool" type: "ROIPooling" bottom: "conv" bottom: "rois" top: "pool" '
              'roi_pooling_param { pooled_w: 2 pooled_h: 2 } }\n'
              'layer { name: "loss" type: "EuclideanLoss" bottom: "pool" bottom: "pool_target" top: "l" }\n')


def test_bl008_names_the_pack() -> None:
    report = lint(_FRCNN_NET, phase="TRAIN")
    finding = next(f for f in report.findings if f.code == "BL008")
    assert "`py-faster-rcnn` layer pack" in finding.message
    assert "--pack py-faster-rcnn" in finding.fix.description


def test_bl008_for_a_type_no_pack_has_keeps_caffes_words() -> None:
    report = lint('layer { name: "x" type: "NoSuchLayer" top: "x" }', phase="TRAIN")
    finding = next(f for f in report.findings if f.code == "BL008")
    assert "NoSuchLayer" in finding.message and "pack" not in finding.message
    assert "pack" not in finding.fix.description


def test_configured_pack_is_used_by_check(tmp_path: Path) -> None:
    net = tmp_path / "frcnn.prototxt"
    net.write_text(_FRCNN_NET, encoding="utf-8")
    assert any(f.code == "BL008" for f in lint(net, phase="TRAIN").findings)
    (tmp_path / "backprop-lint.toml").write_text('packs = ["py-faster-rcnn"]\n', encoding="utf-8")
    codes = {f.code for f in lint(net, phase="TRAIN").findings}
    assert "BL008" not in codes and "BL403" not in codes


def test_unknown_pack_in_configuration_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "backprop-lint.toml").write_text('packs = ["fast-rcnn"]\n', encoding="utf-8")
    net = tmp_path / "n.prototxt"
    net.write_text(_FRCNN_NET, encoding="utf-8")
    result = _cli("check", str(net), cwd=tmp_path)
    assert result.returncode == 2
    assert "packs" in result.stderr and "unknown layer pack 'fast-rcnn'" in result.stderr


def _cli(*args: str, cwd: Path = REPO) -> "subprocess.CompletedProcess[str]":
    return subprocess.run([sys.executable, "-m", "backprop_lint", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_pack_flag_for_simulate_check_and_backward(tmp_path: Path) -> None:
    net = tmp_path / "frcnn.prototxt"
    net.write_text(_FRCNN_NET, encoding="utf-8")
    simulated = _cli("simulate", str(net), "--pack", "py-faster-rcnn")
    assert simulated.returncode == 0, simulated.stderr
    assert json.loads(simulated.stdout)["blob_diff_nonzero"]["rois"] is False
    checked = _cli("check", str(net), "--pack", "py-faster-rcnn", "--format", "json", "--exit-zero")
    assert "BL008" not in {f["code"] for f in json.loads(checked.stdout)["findings"]}
    backward = _cli("backward", str(net), "--pack", "py-faster-rcnn", "--read", "data", "--format", "json")
    assert "error" not in json.loads(backward.stdout)
    refused = _cli("simulate", str(net), "--pack", "segnt")
    assert refused.returncode == 2 and "did you mean 'segnet'" in refused.stderr


def test_packs_command_lists_and_details() -> None:
    listing = _cli("packs")
    assert listing.returncode == 0
    for pack in PACKS:
        assert pack.name in listing.stdout
    detail = json.loads(_cli("packs", "r-fcn", "--format", "json").stdout)
    assert detail["commit"] == get_pack("r-fcn").commit
    smooth = next(row for row in detail["rows"] if row["type"] == "SmoothL1Loss")
    assert smooth["backward"][:2] == ["respects-pd"] * 2 and smooth["loss"] is True
    iqa = json.loads(_cli("packs", "iqa-cnn-pr5779", "--format", "json").stdout)
    assert iqa["enum_values"] == {"PoolingParameter.PoolMethod": ["MIN"]} and iqa["types"] == ["Pooling", "SVRLoss"]
    deeplab_v1 = _cli("packs", "deeplab-v1")
    assert "INTERP -> Interp" in deeplab_v1.stdout
    assert "LayerType: IMAGE_SEG_DATA, INTERP, SEG_ACCURACY" in deeplab_v1.stdout


# ---------------------------------------------------------------------------
# The corpus: every layer type is known from the flavour, a pack, or is a Python layer
# ---------------------------------------------------------------------------

#: corpus types that no pack covers yet (each from a one-off fork or an unmerged BVLC pull request),
#: type -> files; the test fails when this list is out of date in either direction (a new corpus
#: type no pack covers makes ``uncovered`` non-empty)
NOT_COVERED: Dict[str, Set[str]] = {}


#: corpus files that every Caffe whose source we have refuses (BVLC, the SSD lineage, every fork of a pack,
#: BVLC's pull requests), with all packs on: file -> (the start of our error, why no Caffe reads it). The test
#: fails if a pack later makes one readable, or a new unreadable file appears.
REFUSED_BY_EVERY_CAFFE: Dict[str, Tuple[str, str]] = {
    "BVLC__caffe__examples__deepface__deepface_train.prototxt": (
        "Unknown layer name: locally_connected",
        "V0 type 'locally_connected': `git log --all -S locally_connected` over BVLC/caffe (branches and 3,284 "
        "pull refs) finds it only in this net (PR #216, c95fc4d), whose layer factory has no such name"),
    "corenel__deeplab-public__exper__voc12__config__deeplab_largeFOV__train.prototxt": (
        "unsubstituted template variable '${NUM_LABELS}'",
        "a template (`num_output: ${NUM_LABELS}`) that exper/run_pascal.sh fills in with sed; the deeplab-v1 "
        "pack reads it once filled in (fixtures/packs/deeplab_largeFOV_train.substituted.prototxt)"),
    "rbgirshick__py-faster-rcnn__model-defs__vgg16.prototxt": (
        "invalid value for 'type' (enum): no published caffe-fast-rcnn",
        "V1 `type: ROI_POOLING`, in no commit of rbgirshick/caffe-fast-rcnn (`git log --all -S ROI_POOLING` "
        "over its 4,114 commits): ROIPooling came as a V2 string type (512ea334)"),
    "rbgirshick__py-faster-rcnn__models__caffenet_bbox_reg.prototxt": (
        "invalid value for 'type' (enum): no published caffe-fast-rcnn",
        "V1 ROI_POOLING as above, and V1 SMOOTH_L1_LOSS, which only cae9aace had (its V1 upgrade has no case "
        "for it; 512ea334 removed it the same day)"),
}


def _corpus_types() -> Tuple[Dict[str, Set[str]], Dict[str, str]]:
    known = set(available_types("bvlc", resolve_build("bvlc")))  # the usual build
    uncovered: Dict[str, Set[str]] = {}
    unreadable: Dict[str, str] = {}
    for path in corpus_nets():
        try:
            loaded = load(path, packs=tuple(pack_names()))
            net, _, _ = upgrade(loaded.net, get_flavor("bvlc"), loaded.file, pack_names())
        except BackpropLintError as error:
            unreadable[path.name] = getattr(error, "message", str(error))
            continue
        for layer in net.repeated("layer"):
            type_name = layer.get("type")
            if type_name not in known and not packs_providing(type_name):
                uncovered.setdefault(type_name, set()).add(path.name)
    return uncovered, unreadable


@pytest.mark.skipif(not corpus_nets(), reason=MISSING_REASON)
def test_every_corpus_layer_type_is_known_from_a_pack_or_python() -> None:
    uncovered, unreadable = _corpus_types()
    print(f"corpus: {len(corpus_nets())} nets; types no pack covers: {len(uncovered)}; unreadable: {len(unreadable)}")
    assert uncovered == NOT_COVERED
    assert sorted(unreadable) == sorted(REFUSED_BY_EVERY_CAFFE)
    for name, message in unreadable.items():
        assert message.startswith(REFUSED_BY_EVERY_CAFFE[name][0]), (name, message)


@pytest.mark.parametrize("name", sorted(REFUSED_BY_EVERY_CAFFE))
@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
def test_real_caffe_refused_each_file_no_caffe_reads(name: str, flavor: str) -> None:
    """Both oracles, when the goldens were recorded (tools/record_goldens.py), refused these files
    at load; the live check is in test_live_refusals_of_files_no_caffe_reads."""
    golden_dir = REPO / "fixtures" / "golden" / ("bvlc" if flavor == "bvlc" else "")
    for phase in ("TRAIN", "TEST"):
        golden = json.loads((golden_dir / f"{Path(name).stem}.{phase}.json").read_text(encoding="utf-8"))
        assert golden["flavor"] == flavor and golden["refusal"], (name, phase)
        words = " ".join([golden["refusal"], *golden["refusal_errors"]])
        assert ("Unknown layer name: locally_connected" in words
                or "Unknown enumeration value" in words), (name, phase, words)


@pytest.mark.parametrize("name", sorted(REFUSED_BY_EVERY_CAFFE))
@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
def test_live_refusals_of_files_no_caffe_reads(name: str, flavor: str) -> None:
    from oracle_support import oracle_status, run_oracle

    ready, reason = oracle_status(flavor)
    if not ready:
        print(f"SKIPPED (real Caffe, {flavor}, not available): {reason}")
        pytest.skip(reason)
    real = run_oracle(REPO / "fixtures" / "oracle_inputs" / "nets" / name, "TRAIN", flavor=flavor)
    words = " ".join([real.refusal or "", *real.errors])
    assert "Unknown layer name: locally_connected" in words or "Unknown enumeration value" in words, words
