"""The stages build LayerDefs and SimLayers with ``model.from_fields`` (skipping the
dataclass ``__init__`` for speed): every instance must hold exactly the dataclass's
fields, as the generated ``__init__`` would have set them."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from backprop_lint.caffe.model import ParamSpec
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


def _field_names(cls: type) -> set:
    return {f.name for f in dataclasses.fields(cls)}


def _assert_like_init(instance: Any) -> None:
    cls = type(instance)
    assert set(vars(instance)) == _field_names(cls)
    rebuilt = cls(**{name: getattr(instance, name) for name in _field_names(cls)})
    assert rebuilt == instance
    assert vars(rebuilt) == vars(instance)


def _check(source: Any) -> None:
    prepared = prepare(source, phase="TRAIN")
    simulated = simulate(prepared)
    assert prepared.layers and simulated.layers
    for layer in prepared.layers:
        _assert_like_init(layer)
        for spec in layer.params:
            _assert_like_init(spec)
        if layer.location is not None:
            _assert_like_init(layer.location)
            assert hash(layer.location) == hash(dataclasses.replace(layer.location))
    for sim_layer in simulated.layers:
        _assert_like_init(sim_layer)
        for spec in sim_layer.params:
            _assert_like_init(spec)
            if not spec.explicit:  # Caffe's default spec for a blob with no param {}
                assert spec == ParamSpec() and vars(spec) == vars(ParamSpec())


def test_inline_net_instances_hold_every_field() -> None:
    _check(INLINE_NET)


@pytest.mark.skipif(not NET_WITH_SPLITS.exists(), reason="shared corpus not present")
def test_corpus_net_with_splits_instances_hold_every_field() -> None:
    _check(NET_WITH_SPLITS)

