"""Loading NetParameters from paths, text, bytes, binary files and protobuf objects."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from shared_data import CORPUS_DIR

from backprop_lint.caffe import pbconvert
from backprop_lint.caffe.load import load, load_bytes, load_file, load_message, load_text
from backprop_lint.caffe.model import InputError, Message
from backprop_lint.caffe.schema import net_parameter_class

REPO = Path(__file__).resolve().parent.parent
CORPUS = CORPUS_DIR
CIFAR = CORPUS / "BVLC__caffe__examples__cifar10__cifar10_quick.prototxt"
PYCAFFE_PB2 = (
    Path(os.environ.get("CAFFE_ORACLE_HOME", Path.home() / ".cache/caffe-oracle"))
    / "python/caffe/proto/caffe_pb2.py"
)

NET_TEXT = """\
name: "tiny"
input: "data"
input_shape { dim: 1 dim: 3 }
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "data"
  top: "ip"
  param { lr_mult: 1 }
  inner_product_param { num_output: 2 }
}
layer { name: "loss" type: "Softmax" bottom: "ip" top: "prob" loss_weight: 0.5 }
"""


def test_text_file_round_trips_through_binary(tmp_path: Path) -> None:
    text_net = load(CIFAR)
    assert text_net.source_format == "text" and text_net.text is not None
    assert text_net.file == str(CIFAR) and text_net.warnings == []
    binary = tmp_path / "cifar.caffemodel"
    binary.write_bytes(pbconvert.to_protobuf(text_net.net).SerializeToString())
    binary_net = load(binary)
    assert binary_net.source_format == "binary" and binary_net.text is None
    assert binary_net.net == text_net.net  # Message equality ignores positions
    assert binary_net.net.positions == {}


def test_binary_without_a_telling_name_is_detected(tmp_path: Path) -> None:
    net = load_text(NET_TEXT).net
    path = tmp_path / "weights.bin"
    path.write_bytes(pbconvert.to_protobuf(net).SerializeToString())
    loaded = load_file(path)
    assert loaded.source_format == "binary" and loaded.net == net


def test_bytes_are_text_or_binary() -> None:
    net = load_text(NET_TEXT).net
    assert load(NET_TEXT.encode()).source_format == "text"
    assert load(NET_TEXT.encode()).net == net
    from_binary = load(pbconvert.to_protobuf(net).SerializeToString())
    assert from_binary.source_format == "binary" and from_binary.net == net


def test_tiny_binary_that_is_valid_utf8_is_still_read_as_binary() -> None:
    data = net_parameter_class()(name="n").SerializeToString()  # b'\n\x01n'
    data.decode("utf-8")
    loaded = load_bytes(data)
    assert loaded.source_format == "binary" and loaded.net.fields == {"name": "n"}


def test_str_with_newline_or_brace_is_text_otherwise_a_path(tmp_path: Path) -> None:
    assert load('layer { name: "a" }').net.fields["layer"][0].fields == {"name": "a"}
    assert load('name: "a"\n').net.fields == {"name": "a"}
    path = tmp_path / "n.prototxt"
    path.write_text('name: "from file"')
    assert load(str(path)).net.fields == {"name": "from file"}
    with pytest.raises(InputError) as caught:
        load('name: "a"')  # one line, no brace: a path that does not exist
    assert caught.value.message == "no such file or directory"


def test_our_protobuf_object_is_accepted() -> None:
    net = load_text(NET_TEXT).net
    loaded = load(pbconvert.to_protobuf(net))
    assert loaded.source_format == "message" and loaded.file == "<NetParameter>"
    assert loaded.net == net


def test_message_is_taken_as_is_and_must_be_a_net() -> None:
    net = load_text(NET_TEXT).net
    assert load_message(net).net is net
    with pytest.raises(InputError):
        load(Message("LayerParameter"))
    with pytest.raises(TypeError):
        load(3.5)


def test_protobuf_object_of_another_pool_goes_through_the_wire_format() -> None:
    """A class built from the same schema in another pool stands in for pycaffe's."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    from backprop_lint.caffe.schema import FDS_PATH

    pool = descriptor_pool.DescriptorPool()
    for file_proto in descriptor_pb2.FileDescriptorSet.FromString(FDS_PATH.read_bytes()).file:
        pool.Add(file_proto)
    foreign_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("caffe.NetParameter"))
    foreign = foreign_class()
    foreign.ParseFromString(pbconvert.to_protobuf(load_text(NET_TEXT).net).SerializeToString())
    assert type(foreign) is not type(net_parameter_class()())
    assert load(foreign).net == load_text(NET_TEXT).net


@pytest.mark.skipif(not PYCAFFE_PB2.exists(), reason="pycaffe's caffe_pb2 (oracle build) not available")
def test_real_pycaffe_object() -> None:
    # In a subprocess: pycaffe's module registers caffe.proto in protobuf's default pool.
    code = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("caffe_pb2", {str(PYCAFFE_PB2)!r})
caffe_pb2 = importlib.util.module_from_spec(spec); spec.loader.exec_module(caffe_pb2)
from google.protobuf import text_format
from backprop_lint.caffe.load import load, load_text
text = open({str(CIFAR)!r}).read()
pb = text_format.Parse(text, caffe_pb2.NetParameter())
loaded = load(pb)
print(loaded.source_format, loaded.net == load_text(text).net)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["message", "True"]


def test_unknown_field_warnings_carry_line_and_col(tmp_path: Path) -> None:
    path = tmp_path / "n.prototxt"
    path.write_text('layer {\n  name: "a"\n  my_fork_param { x: 1 }\n}\n')
    loaded = load(path)
    (warning,) = loaded.warnings
    assert warning.location is not None
    assert (warning.location.file, warning.location.line, warning.location.col) == (str(path), 3, 3)
    assert "my_fork_param" in warning.message
    with pytest.raises(InputError) as caught:
        load(path, strict=True)
    assert str(caught.value).startswith(f"{path}:3:3: error:")


def test_corpus_fork_nets_load_as_ssd_without_warnings() -> None:
    ssd_net = CORPUS / "chuanqi305__MobileNet-SSD__voc__MobileNetSSD_deploy.prototxt"
    as_bvlc = load(ssd_net, flavor="bvlc")
    assert any(w.kind == "fork-only-field" and w.location and w.location.line for w in as_bvlc.warnings)
    assert not [w for w in load(ssd_net, flavor="ssd").warnings if w.kind == "fork-only-field"]


def test_binary_drops_weight_values_keeps_shapes() -> None:
    pb = net_parameter_class()()
    layer = pb.layer.add(name="fc", type="InnerProduct")
    blob = layer.blobs.add()
    blob.shape.dim.extend([2, 3])
    blob.data.extend([0.5] * 6)
    loaded = load(pb.SerializeToString())
    (blob_message,) = loaded.net.fields["layer"][0].fields["blobs"]
    assert blob_message.fields == {"shape": Message("BlobShape", {"dim": [2, 3]})}


def test_binary_fork_only_fields_are_dropped_with_a_warning() -> None:
    pb = net_parameter_class()()
    pb.layer.add(name="p", type="Permute").permute_param.order.extend([0, 2, 3, 1])
    as_ssd = load(pb.SerializeToString(), flavor="ssd")
    assert "permute_param" in as_ssd.net.fields["layer"][0].fields and as_ssd.warnings == []
    as_bvlc = load(pb.SerializeToString(), flavor="bvlc")
    assert "permute_param" not in as_bvlc.net.fields["layer"][0].fields
    assert [w.kind for w in as_bvlc.warnings] == ["fork-only-field"]


def test_from_protobuf_reads_enums_as_names() -> None:
    pb: Any = net_parameter_class()()
    pb.state.phase = 1
    pb.layer.add(name="pool").pooling_param.pool = 1
    net = pbconvert.from_protobuf(pb)
    assert net.fields["state"].fields == {"phase": "TEST"}
    assert net.fields["layer"][0].fields["pooling_param"].fields == {"pool": "AVE"}
    assert pbconvert.to_protobuf(net) == pb
