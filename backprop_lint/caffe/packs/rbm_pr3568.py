"""BVLC/caffe pull request #3568 (restricted Boltzmann machines): ``RBMInnerProduct``, ``BernoulliSample``.

The PR was never merged. ``RBMInnerProduct`` wraps a nested connection layer
(``connection_layer_param``, an InnerProduct in every net of the PR) and takes
its blobs as its own, plus a visible bias. It learns by contrastive
divergence, not by Backward:

* Forward with ``forward_is_update`` (the default) runs the update: it writes
  the diffs of the connection's blobs and of the visible bias itself,
  whatever ``lr_mult`` (the layer's param_propagate_down) says and whether
  or not the layer's Backward runs; on the way, its Gibbs step writes the
  bottom's diff (the visible pre-activation shares the bottom's diff).
* Backward writes no parameter diff (it switches the connection's
  param_propagate_down off around the call). When propagate_down[0] is set it
  writes the bottom diff from top 0's diff through the weights, plus the
  visible bias; it reads no other top. It also overwrites the bottom's data
  with a sample (not modelled: data, not a diff).

Modelled only for an InnerProduct connection, the one the PR reads; any other
connection type makes the blob count unknown (the layer is reported as
unknown, as an undeclared custom layer is). A Forward abort (``FREE_ENERGY``
loss measure during an update) is shown as Backward aborting, as Caffe's
stochastic pooling is.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import (
    ANY,
    ONE,
    Backward,
    Pack,
    preloaded_or,
    row,
    same,
    sub_value,
    weights_and_bias,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, FrozenSet, Optional

_PARAM = "rbm_inner_product_param"

_CONNECTION_BLOBS = weights_and_bias("inner_product_param")


def _rbm_param(layer_param: Message) -> Optional[Message]:
    return layer_param.fields.get(_PARAM)


def _value(layer_param: Message, field: str, default: Any) -> Any:
    return sub_value(layer_param, _PARAM, field, default)


def _connection(layer_param: Message) -> Optional[Message]:
    rbm = _rbm_param(layer_param)
    return rbm.fields.get("connection_layer_param") if rbm is not None else None


def _connection_blob_count(layer_param: Message) -> Optional[int]:
    """The connection layer's blobs (LayerSetUp makes them the RBM's first blobs); None for a type
    other than InnerProduct. Without a connection (which the check refuses), an InnerProduct's."""
    connection = _connection(layer_param)
    if connection is None:
        return _CONNECTION_BLOBS(Message("LayerParameter"), 1)
    if connection.get("type") != "InnerProduct":
        return None
    return _CONNECTION_BLOBS(connection, 1)


def rbm_params(layer_param: Message, n_bottoms: int) -> Optional[int]:
    embedded = len(layer_param.repeated("blobs"))
    if embedded:
        return embedded  # (the check refuses such a layer: Caffe crashes on it)
    connection = _connection_blob_count(layer_param)
    if connection is None:
        return None
    return connection + (1 if _value(layer_param, "visible_bias_term", True) else 0)


def _n_errors(layer_param: Message) -> int:
    rbm = _rbm_param(layer_param)
    return len(rbm.repeated("loss_measure")) if rbm is not None else 0


def rbm_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    """LayerSetUp's CHECKs, in its order (rbm_inner_product_layer.cpp:52-55,66-73)."""
    n_errors = _n_errors(layer_param)
    if n_tops < n_errors:
        return (f"Check failed: top.size() >= num_error_ ({n_tops} vs. {n_errors}) "
                "top must be at least as large as the number of errors")
    if n_tops > n_errors + 3:
        return (f"Check failed: top.size() <= num_error_ + 3 ({n_tops} vs. {n_errors + 3}) "
                "top must be no larger than number error plus 3")
    if layer_param.repeated("blobs"):
        return ("RBMInnerProduct with embedded blobs: LayerSetUp then skips creating its connection layer "
                "and calls SetUp on the null pointer, so Caffe crashes (segmentation fault) building the net")
    if _connection(layer_param) is None:
        return ("Check failed: param.has_connection_layer_param() "
                "a connection layer must be specified for the RBMInnerProductLayer")
    return None


def _updates_in_forward(layer_param: Message) -> bool:
    return bool(_value(layer_param, "forward_is_update", True))


def _gibbs_steps(layer_param: Message) -> int:
    return int(_value(layer_param, "sample_steps_in_update", 1))


def rbm_backward(j: int, n_bottoms: int, layer_param: Message) -> Backward:
    rbm = _rbm_param(layer_param)
    measures = rbm.repeated("loss_measure") if rbm is not None else []
    if _updates_in_forward(layer_param) and _gibbs_steps(layer_param) >= 1 and "FREE_ENERGY" in measures:
        return Backward.ABORTS  # Forward: LOG(FATAL) "FREE_ENERGY not implemented yet" (cpp:435-436)
    if "type" in layer_param.fields and not layer_param.repeated("top"):
        # a layer of a net (not the bare row `packs` shows) with no top at all: Backward reads
        # top[0] of an empty vector (cpp:316-322), a crash
        return Backward.ABORTS_IF_PD
    if _connection_blob_count(layer_param) is None:
        return Backward.UNKNOWN  # the bottom diff is whatever the connection layer's Backward writes
    return Backward.RESPECTS_PD


def rbm_forward_bottom_diff(layer_param: Message) -> FrozenSet[int]:
    """The update's Gibbs step writes the visible pre-activation into the bottom's diff
    (cpp:118-119 ShareDiff, 423-425, 465-477)."""
    if _connection_blob_count(layer_param) is None:
        return frozenset()  # what an unknown connection's Backward writes is unknown
    return frozenset({0}) if _updates_in_forward(layer_param) and _gibbs_steps(layer_param) >= 1 else frozenset()


def rbm_forward_param_diffs(layer_param: Message) -> FrozenSet[int]:
    """update_diffs (cpp:356-406), called twice by every update Forward (cpp:414-415,452-453): the
    connection InnerProduct's Backward writes its weight diff, and its bias diff with bias_term
    (its param_propagate_down_ is its own, true since its LayerSetUp: inner_product_layer.cpp:54,103,119);
    the visible bias diff is written directly."""
    if not _updates_in_forward(layer_param) or layer_param.repeated("blobs"):
        return frozenset()
    connection = _connection(layer_param) or Message("LayerParameter")
    n_connection = _connection_blob_count(layer_param)
    if n_connection is None:
        return frozenset()
    written = {0}
    if sub_value(connection, "inner_product_param", "bias_term", True) and n_connection >= 2:
        written.add(1)
    if _value(layer_param, "visible_bias_term", True):
        written.add(n_connection)
    return frozenset(written)


def rbm_adds_visible_bias(layer_param: Message) -> bool:
    """sample_v_given_h adds the visible bias to the bottom diff it writes (cpp:469-493)."""
    return bool(_value(layer_param, "visible_bias_term", True))


PACK = Pack(
    name="rbm-pr3568",
    fork="BVLC/caffe PR #3568 (restricted Boltzmann machine)",
    repository="BVLC/caffe",
    commit="8676239736d6079c48a75d08771e7b1f6197ee4b",
    root="",
    summary="PR #3568's RBMInnerProduct (learns in Forward by contrastive divergence) and BernoulliSample",
    rows=(
        row("RBMInnerProduct", ONE, ANY, rbm_params, rbm_backward,
            "include/caffe/layers/rbm_inner_product_layer.hpp:38-39; "
            "src/caffe/layers/rbm_inner_product_layer.cpp:36-183,282-331,356-510; "
            "src/caffe/layers/inner_product_layer.cpp:23-54,100-141; src/caffe/proto/caffe.proto:392,927-958",
            check=rbm_check, writes_param_diff=False, backward_reads_tops=lambda n_tops: frozenset({0}),
            forward_writes_diff=rbm_forward_bottom_diff, forward_writes_param_diff=rbm_forward_param_diffs,
            backward_adds_learned_term=rbm_adds_visible_bias,
            notes="blobs: the connection InnerProduct's (weights, hidden bias) then the visible bias; with "
                  "forward_is_update (default) Forward writes all their diffs whatever lr_mult says, and the "
                  "bottom's diff; Backward writes no param diff, and the bottom diff (from top 0's diff, plus "
                  "the visible bias) only when propagate_down; it also overwrites the bottom's data with a "
                  "sample. Other connection types: unknown"),
        row("BernoulliSample", ONE, ONE, preloaded_or(0), same(Backward.ABORTS),
            "include/caffe/layers/bernoulli_sample_layer.hpp:24-26; src/caffe/layers/bernoulli_sample_layer.cpp:36-45; "
            "src/caffe/layers/bernoulli_sample_layer.cu:33-38; src/caffe/util/math_functions.cpp:289-293",
            notes="Backward loops `for (i = 0; propagate_down.size(); ++i)`: LOG(FATAL) when propagate_down[0] "
                  "is set, otherwise it reads past the vector until a set bit (LOG(FATAL)) or a crash. "
                  "Forward CHECKs that every input is a probability in [0, 1] (math_functions.cpp:289-293 "
                  "on CPU; data, so not modelled)"),
    ),
)
