"""tools/replace_data_layers.py: data layers become dataset-free layers, nothing else changes."""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import List

import pytest
from shared_data import CORPUS_DIR

from oracle_support import REPO, require_oracle, run_oracle

import replace_data_layers as replacer
from record_goldens import MAX_BATCH
from backprop_lint.caffe.model import InputError

LENET_TRAIN_TEST = textwrap.dedent(
    """\
    name: "LeNet"  # a comment that must survive
    layer {
      name: "mnist"
      type: "Data"
      top: "data"
      top: "label"
      include { phase: TRAIN }
      transform_param { scale: 0.00390625 }
      data_param { source: "examples/mnist/mnist_train_lmdb" batch_size: 64 backend: LMDB }
    }
    layer {
      name: "mnist"
      type: "Data"
      top: "data"
      top: "label"
      include { phase: TEST }
      transform_param { scale: 0.00390625 }
      data_param { source: "examples/mnist/mnist_test_lmdb" batch_size: 100 backend: LMDB }
    }
    layer {
      name: "ip"
      type: "InnerProduct"
      bottom: "data"
      top: "ip"
      inner_product_param { num_output: 10 weight_filler { type: "xavier" } }
    }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
    """
)


def input_shapes(text: str) -> List[List[List[int]]]:
    """Per Input layer, its shapes, read back with a regex (independent of the tool's parser)."""
    shapes = []
    for block in re.findall(r"input_param \{(.*?)\n", text):
        shapes.append([[int(dim) for dim in re.findall(r"dim: (\d+)", shape)] for shape in re.findall(r"shape \{([^}]*)\}", block)])
    return shapes


def test_v2_data_layers_become_input_layers_with_rules_kept() -> None:
    result = replacer.replace_data_layers(LENET_TRAIN_TEST, "lenet.prototxt")
    assert [r.layer for r in result.replacements] == ["mnist", "mnist"]
    assert result.text.count('type: "Input"') == 2
    assert 'type: "Data"' not in result.text
    assert "include { phase: TRAIN }" in result.text and "include { phase: TEST }" in result.text
    assert input_shapes(result.text) == [[[64, 1, 28, 28], [64]], [[100, 1, 28, 28], [100]]]
    assert result.label_blobs == ["label"]


def test_everything_outside_data_layers_is_untouched() -> None:
    result = replacer.replace_data_layers(LENET_TRAIN_TEST, "lenet.prototxt")
    first_kept = LENET_TRAIN_TEST.index('layer {\n  name: "ip"')
    assert result.text.endswith(LENET_TRAIN_TEST[first_kept:])
    assert result.text.startswith('name: "LeNet"  # a comment that must survive\n')


def test_max_batch_caps_the_batch_dimension() -> None:
    result = replacer.replace_data_layers(LENET_TRAIN_TEST, "lenet.prototxt", max_batch=2)
    assert input_shapes(result.text) == [[[2, 1, 28, 28], [2]], [[2, 1, 28, 28], [2]]]


@pytest.mark.parametrize(
    "params, expected",
    [
        ('transform_param { crop_size: 227 } data_param { batch_size: 8 }', [8, 3, 227, 227]),
        ('image_data_param { batch_size: 4 new_height: 50 new_width: 60 is_color: false }', [4, 1, 50, 60]),
        ('data_param { source: "cifar10_train_lmdb" batch_size: 5 }', [5, 3, 32, 32]),
        ('memory_data_param { batch_size: 3 channels: 2 height: 7 width: 9 }', [3, 2, 7, 9]),
        ('data_param { batch_size: 6 }', [6, 3, replacer.DEFAULT_IMAGE_SIDE, replacer.DEFAULT_IMAGE_SIDE]),
    ],
)
def test_image_shape_is_inferred_from_the_layer_params(params: str, expected: List[int]) -> None:
    text = f'layer {{ name: "d" type: "Data" top: "data" top: "label" {params} }}\n'
    result = replacer.replace_data_layers(text)
    assert result.replacements[0].shapes == {"data": expected, "label": [expected[0]]}


def test_a_lone_label_top_is_a_label_map() -> None:
    text = 'layer { name: "l" type: "Data" top: "label" transform_param { crop_size: 9 } data_param { batch_size: 2 } }'
    assert replacer.replace_data_layers(text).replacements[0].shapes == {"label": [2, 1, 9, 9]}


def test_input_and_dummy_data_layers_stay() -> None:
    text = 'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n' \
           'layer { name: "d" type: "DummyData" top: "y" dummy_data_param { shape { dim: 1 } } }\n'
    result = replacer.replace_data_layers(text)
    assert result.text == text and result.replacements == []


def test_hdf5_data_needs_the_override_table() -> None:
    text = 'layer { name: "h5" type: "HDF5Data" top: "data" top: "label" hdf5_data_param { source: "x.txt" batch_size: 10 } }'
    with pytest.raises(replacer.CannotReplace, match="HDF5"):
        replacer.replace_data_layers(text, "h5.prototxt")
    result = replacer.replace_data_layers(text, "h5.prototxt", overrides={"h5": {"data": [10, 4], "label": [10]}})
    assert input_shapes(result.text) == [[[10, 4], [10]]]


def test_python_data_layer_is_refused_without_override_and_replaced_with_one() -> None:
    text = 'layer { name: "data" type: "Python" top: "data" top: "label" python_param { module: "voc_layers" layer: "VOCSegDataLayer" } }\n'
    with pytest.raises(replacer.CannotReplace, match="voc_layers.VOCSegDataLayer"):
        replacer.replace_data_layers(text, "fcn.prototxt")
    overrides = {"data": {"data": [1, 3, 8, 8], "label": [1, 1, 8, 8]}}
    result = replacer.replace_data_layers(text, "fcn.prototxt", overrides=overrides)
    assert 'type: "Python"' not in result.text
    assert result.label_blobs == ["label"]


def test_python_layers_with_bottoms_are_not_data_layers() -> None:
    text = 'layer { name: "p" type: "Python" bottom: "x" top: "y" python_param { module: "m" layer: "L" } }\n'
    assert replacer.replace_data_layers(text).text == text


def test_v1_data_layer_becomes_dummy_data() -> None:
    text = 'layers { name: "d" type: DATA top: "data" top: "label" include { phase: TRAIN } data_param { batch_size: 3 } ' \
           'transform_param { crop_size: 5 } }\nlayers { name: "r" type: RELU bottom: "data" top: "data" }\n'
    result = replacer.replace_data_layers(text)
    assert "type: DUMMY_DATA" in result.text and "type: DATA\n" not in result.text
    assert "include { phase: TRAIN }" in result.text
    assert "shape { dim: 3 dim: 3 dim: 5 dim: 5 } shape { dim: 3 }" in result.text
    assert result.text.endswith('layers { name: "r" type: RELU bottom: "data" top: "data" }\n')


def test_v0_data_layer_becomes_net_inputs() -> None:
    text = 'layers { layer { name: "mnist" type: "data" source: "x" batchsize: 64 scale: 0.00390625 } top: "data" top: "label" }\n' \
           'layers { layer { name: "ip" type: "innerproduct" num_output: 10 } bottom: "data" top: "ip" }\n'
    result = replacer.replace_data_layers(text)
    head = result.text.split("layers {")[0]
    dims = [int(dim) for dim in re.findall(r"input_dim: (\d+)", head)]
    assert re.findall(r'input: "(\w+)"', head) == ["data", "label"]
    assert dims == [64, 1, 28, 28, 64, 1, 1, 1]


def test_unreadable_text_is_an_input_error_with_a_location() -> None:
    with pytest.raises(InputError) as caught:
        replacer.replace_data_layers('layer {\n  name: "x"\n  num: ${N}\n}', "bad.prototxt")
    assert caught.value.location is not None and caught.value.location.line == 3


def test_override_table_is_valid_and_names_corpus_files() -> None:
    table = json.loads(replacer.DEFAULT_SHAPES.read_text())
    for file_name, entry in table.items():
        assert file_name.endswith(".prototxt") and entry["note"]
        for tops in entry["layers"].values():
            assert all(isinstance(dim, int) and dim > 0 for shape in tops.values() for dim in shape)


def test_cli_writes_the_replaced_net(tmp_path: Path) -> None:
    source = tmp_path / "lenet.prototxt"
    source.write_text(LENET_TRAIN_TEST)
    target = tmp_path / "out.prototxt"
    assert replacer.main([str(source), "-o", str(target), "--max-batch", "1"]) == 0
    assert input_shapes(target.read_text())[0] == [[1, 1, 28, 28], [1]]
    assert replacer.main([str(tmp_path / "missing.prototxt")]) == 1


@pytest.mark.parametrize("phase", ["TRAIN", "TEST"])
def test_replaced_net_loads_and_runs_in_real_caffe(tmp_path: Path, phase: str) -> None:
    require_oracle()
    net = tmp_path / "lenet.prototxt"
    result = replacer.replace_data_layers(LENET_TRAIN_TEST, net.name, max_batch=2)
    net.write_text(result.text)
    outcome = run_oracle(net, phase, run=True, labels=result.label_blobs)
    assert outcome.ok, outcome.refusal or outcome.crash_in_run
    assert outcome.structure is not None and outcome.structure["inputs"] == ["data", "label"]
    assert outcome.run is not None and outcome.run["param_diff_nonzero"]["ip"] == [True, True]


def test_replaced_v1_net_loads_in_real_caffe(tmp_path: Path) -> None:
    require_oracle()
    text = 'layers { name: "d" type: DATA top: "data" top: "label" data_param { batch_size: 2 } transform_param { crop_size: 4 } }\n' \
           'layers { name: "ip" type: INNER_PRODUCT bottom: "data" top: "ip" inner_product_param { num_output: 3 } }\n' \
           'layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip" bottom: "label" top: "loss" }\n'
    net = tmp_path / "v1.prototxt"
    net.write_text(replacer.replace_data_layers(text).text)
    outcome = run_oracle(net, "TRAIN", run=True)
    assert outcome.ok, outcome.refusal or outcome.crash_in_run
    assert outcome.structure is not None
    assert [layer["type"] for layer in outcome.structure["layers"]][0] == "DummyData"


def test_corpus_copies_in_fixtures_load_in_real_caffe() -> None:
    """Every committed replaced net that has data layers replaced loads, unless its golden says Caffe refuses it."""
    require_oracle()
    goldens = sorted((REPO / "fixtures" / "golden").glob("*.TRAIN.json"))
    replaced = [json.loads(path.read_text()) for path in goldens]
    replaced = [golden for golden in replaced if golden.get("replaced_layers") and "refusal" not in golden][:5]
    if not replaced:
        pytest.skip("no recorded goldens with replaced data layers")
    for golden in replaced:
        outcome = run_oracle(REPO / golden["net"], "TRAIN")
        assert outcome.ok, f'{golden["net"]}: {outcome.refusal}'


CORPUS = CORPUS_DIR


def test_committed_oracle_inputs_are_what_the_tool_writes_today() -> None:
    """fixtures/oracle_inputs/nets/ holds this tool's output (batch capped, or as written)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not available at {CORPUS}")
    overrides = replacer.load_overrides()
    goldens = [json.loads(path.read_text()) for path in sorted((REPO / "fixtures" / "golden").glob("*.TRAIN.json"))]
    checked = 0
    for golden in goldens:
        if not golden.get("replaced_layers"):  # other recorders' goldens, or nothing replaced
            continue
        source = CORPUS / Path(golden["source"]).name
        entry = overrides.get(source.name, replacer.FileOverride({}, []))
        candidates = {
            replacer.replace_data_layers(source.read_text(), source.name, entry.layers, cap, entry.labels).text
            for cap in (MAX_BATCH, None)
        }
        assert (REPO / golden["net"]).read_text() in candidates, golden["net"]
        checked += 1
    if not checked:
        pytest.skip("no recorded goldens with replaced data layers")
