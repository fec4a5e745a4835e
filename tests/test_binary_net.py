"""The wire-format walk of binary nets: it refuses only what protobuf refuses, and a net read
without its weight values is the net protobuf reads, weights dropped."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest
from google.protobuf.message import DecodeError

from backprop_lint.caffe import binary_net
from backprop_lint.caffe import files as files_module
from backprop_lint.caffe.load import _drop_weight_values, load_file, read_net_bytes, read_net_file
from backprop_lint.caffe.model import InputError
from backprop_lint.caffe.schema import net_parameter_class


def _net_bytes(v1: bool) -> bytes:
    net = net_parameter_class()()
    net.name = "small"
    layers = net.layers if v1 else net.layer
    for index in range(3):
        layer = layers.add()
        layer.name = f"ip{index}"
        layer.bottom.append("x")
        layer.top.append(f"y{index}")
        if v1:
            layer.type = 14  # INNER_PRODUCT
        else:
            layer.type = "InnerProduct"
            layer.param.add().lr_mult = 2
        weights = layer.blobs.add()
        weights.shape.dim.extend([4, 3])
        weights.data.extend([0.5 * i for i in range(12)])
        weights.diff.extend([0.25] * 12)
        bias = layer.blobs.add()
        bias.num = 4
        bias.double_data.extend([1.0, 2.0, 3.0, 4.0])
    return net.SerializeToString()


def _protobuf(data: bytes) -> Optional[Any]:
    try:
        pb = net_parameter_class().FromString(data)
    except DecodeError:
        return None
    _drop_weight_values(pb)
    return pb


def _reader(data: bytes) -> "Callable[[int, int], bytes]":
    return lambda offset, count: data[offset:offset + count]


def _walked(data: bytes) -> Optional[Any]:
    pruned = binary_net.without_weights(data, "n.caffemodel")
    return _protobuf(data if pruned is None else pruned)


@pytest.mark.parametrize("v1", [False, True])
def test_a_net_without_its_weights_is_the_net_protobuf_reads(v1: bool) -> None:
    data = _net_bytes(v1)
    pruned = binary_net.without_weights(data, "n.caffemodel")
    assert pruned is not None and len(pruned) < len(data) // 2
    assert _protobuf(pruned) == _protobuf(data)
    assert list(_protobuf(pruned).ListFields())  # type: ignore[union-attr]


def test_mutated_nets_get_protobuf_s_verdict() -> None:
    rng = random.Random(0)
    originals = [_net_bytes(False), _net_bytes(True)]
    refused = 0
    for trial in range(3000):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            at = rng.randrange(len(data))
            if kind < 0.5:
                data[at] = rng.randrange(256)
            elif kind < 0.75:
                del data[at:at + rng.randint(1, 8)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        data = bytes(data)
        expected = _protobuf(data)
        try:
            walked = _walked(data)
        except InputError as error:
            assert expected is None, (trial, data, error.message)
            assert "the protobuf wire format breaks at byte" in error.message
            refused += 1
            continue
        assert walked == expected, (trial, data)
        try:
            binary_net.check_top_level(_reader(data), len(data), "n")
        except InputError:
            assert expected is None, (trial, data)
    assert refused > 300  # the walk does refuse most broken files itself


def test_garbage_is_refused_at_its_first_broken_field() -> None:
    data = bytes([0x0A, 0x05]) + b"abcde" + bytes([0x0F]) + bytes(100)  # field 1, then wire type 7
    with pytest.raises(InputError, match="breaks at byte 7: field 1 has wire type 7"):
        binary_net.check_top_level(_reader(data), len(data), "g")
    long_field = bytes([0x0A, 0xFF, 0xFF, 0xFF, 0x7F]) + bytes(10)
    with pytest.raises(InputError, match="breaks at byte 0: field 1 ends at byte 268435460, past the end of the file"):
        binary_net.check_top_level(_reader(long_field), len(long_field), "g")


def _sparse(path: Path, head: bytes, size: int) -> Path:
    with open(path, "wb") as stream:  # a hole after the head: big files that cost no disk
        stream.write(head)
        stream.truncate(size)
    return path


def test_a_big_file_that_is_no_binary_net_is_refused_before_it_is_read(tmp_path: Path, bytes_read: List[int]) -> None:
    read = bytes_read
    garbage = bytes([0x0A, 0x03]) + b"abc" + bytes([0x0F]) * 100  # a name, then a wire type 7
    for name in ("garbage.prototxt", "garbage.caffemodel"):
        path = _sparse(tmp_path / name, garbage, 200 * 1024 * 1024)
        read.clear()
        with pytest.raises(InputError) as caught:
            load_file(path)
        assert caught.value.message.startswith(
            "not a text or binary NetParameter: the protobuf wire format breaks at byte 5: field 1 has wire type 7"
        )
        assert caught.value.location.line == 0 and sum(read) <= files_module.HEAD_BYTES + 100
        for reader in (read_net_bytes, read_net_file):  # check's readers (read_net_file: for --fix)
            read.clear()
            with pytest.raises(InputError, match="breaks at byte 5"):
                reader(path)
            assert sum(read) <= files_module.HEAD_BYTES + 100


def test_the_binary_size_limit_says_why(tmp_path: Path) -> None:
    path = _sparse(tmp_path / "big.caffemodel", _net_bytes(False), 5000)
    with pytest.raises(InputError) as caught:
        load_file(path, max_binary_bytes=4000)
    message = caught.value.message
    assert message.startswith("the input is 5000 bytes, over the limit of 4000; binary nets")
    assert "VGG-16" in message and "2 GB" in message and "\n" not in message


def test_a_caffemodel_file_loads_as_its_bytes_do(tmp_path: Path) -> None:
    data = _net_bytes(False) * 2  # a repeated message field merges; layers repeat
    path = tmp_path / "n.caffemodel"
    path.write_bytes(data)
    big = tmp_path / "n.bin"  # read as binary because it is no text, over a small text limit
    big.write_bytes(data)
    from_file = load_file(path).net
    assert load_file(big, max_text_bytes=100).net == from_file
    assert len(from_file.fields["layer"]) == 6
    weights = from_file.fields["layer"][0].fields["blobs"][0]
    assert list(weights.fields) == ["shape"]  # the values dropped, the shape kept
