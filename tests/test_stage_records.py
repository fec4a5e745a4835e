"""The stages build LayerDefs and SimLayers with positional arguments (a keyword call
costs three times as much): every instance must hold each field where a keyword
call would have put it, and the records must stay plain slotted data."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backprop_lint.caffe.layer_table import LayerInfo
from backprop_lint.caffe.model import LayerDef, Location, Message, ParamSpec, SimLayer
from backprop_lint.caffe.pipeline import prepare, simulate

CORPUS = Path("/work/shared/corpus/nets")
NET_WITH_SPLITS = CORPUS / "shicai__DenseNet-Caffe__DenseNet_121.prototxt"

INLINE_NET = """
name: "tiny"
layer { name: "data" type: "Input" top: "data" top: "label"
        input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"
        param { lr_mult: 0 } inner_product_param { num_output: 4 } }
layer { name: "relu" type: "ReLU" bottom: "fc" top: "fc" }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "acc" }
layer { name: "shared" type: "InnerProduct" bottom: "data" top: "other"
        param { name: "w" lr_mult: 2 decay_mult: 0 share_mode: PERMISSIVE } param { lr_mult: 0 }
        inner_product_param { num_output: 4 } }
"""


def _assert_like_keywords(instance: Any) -> None:
    cls = type(instance)
    assert not hasattr(instance, "__dict__")
    # every slot is set; a field kept as ``_name`` (a location made when first read) is given as ``name``
    keywords = [name.lstrip("_") for name in cls.__slots__]
    values = {name: getattr(instance, name) for name in keywords}
    assert cls(**values) == instance


def _assert_field_types(layer: LayerDef) -> None:
    assert isinstance(layer.name, str) and isinstance(layer.type, str)
    assert isinstance(layer.bottoms, list) and isinstance(layer.tops, list)
    assert isinstance(layer.original_bottoms, list) and isinstance(layer.comments, list)
    assert layer.location is None or isinstance(layer.location, Location)
    assert (layer.split_of is None) == (layer.source_index is not None)
    assert isinstance(layer.param, Message) and layer.param.type == "LayerParameter"
    assert all(isinstance(spec, ParamSpec) for spec in layer.params)


def _check(source: Any) -> None:
    prepared = prepare(source, phase="TRAIN")
    simulated = simulate(prepared)
    assert prepared.layers and simulated.layers
    for layer in prepared.layers:
        _assert_like_keywords(layer)
        _assert_field_types(layer)
        for spec in layer.params:
            _assert_like_keywords(spec)
        if layer.location is not None:
            _assert_like_keywords(layer.location)
            assert hash(layer.location) == hash(layer.location.replace())
    for sim_layer, definition in zip(simulated.layers, prepared.layers):
        _assert_like_keywords(sim_layer)
        assert isinstance(sim_layer, SimLayer) and sim_layer.definition is definition
        assert sim_layer.name == definition.name and sim_layer.location is definition.location
        assert sim_layer.is_split == (definition.split_of is not None)
        assert sim_layer.row is None or isinstance(sim_layer.row, LayerInfo)
        assert sim_layer.backward_aborts in (True, False, None) and isinstance(sim_layer.forced, bool)
        assert len(sim_layer.bottom_need_backward) == len(sim_layer.bottoms)
        for spec in sim_layer.params:
            _assert_like_keywords(spec)
            if not spec.explicit:  # Caffe's default spec for a blob with no param {}
                assert spec == ParamSpec() and spec.field_values() == ParamSpec().field_values()


def test_inline_net_instances_hold_every_field() -> None:
    _check(INLINE_NET)


@pytest.mark.skipif(not NET_WITH_SPLITS.exists(), reason="shared corpus not present")
def test_corpus_net_with_splits_instances_hold_every_field() -> None:
    _check(NET_WITH_SPLITS)


def test_locations_are_made_when_first_read_where_each_layer_starts() -> None:
    prepared = prepare(INLINE_NET, phase="TRAIN")
    simulated = simulate(prepared)
    # nothing on the way read one: each layer still holds the Message it was parsed as (a Split, its producer's)
    assert all(layer._location.__class__ is Message for layer in prepared.layers)
    assert all(layer._location.__class__ is Message for layer in simulated.layers)
    producers = {top: layer for layer in prepared.layers if layer.split_of is None for top in layer.tops}
    for layer in prepared.layers:
        written = layer.param if layer.split_of is None else producers[layer.bottoms[0]].param
        assert layer.location == Location("<string>", *written.line_col())
    assert [layer.location for layer in simulated.layers] == [layer.location for layer in prepared.layers]
    assert [layer.location.line for layer in prepared.layers if layer.split_of is None] == [3, 5, 7, 8, 9, 10]
