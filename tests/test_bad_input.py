"""Hostile and broken inputs: one clear InputError with the right place, never a traceback or a hang."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Tuple

import pytest
from shared_data import CORPUS_DIR

from backprop_lint.caffe.load import load, load_bytes, load_file
from backprop_lint.caffe.model import InputError

CORPUS = CORPUS_DIR


def error_of(data: bytes, **options: object) -> InputError:
    with pytest.raises(InputError) as caught:
        load_bytes(data, file="net.prototxt", **options)  # type: ignore[arg-type]
    return caught.value


def where(error: InputError) -> Tuple[int, int]:
    assert error.location is not None and error.location.file == "net.prototxt"
    return error.location.line, error.location.col


def test_truncated_string() -> None:
    error = error_of(b'name: "x"\nlayer {\n  name: "a"\n  type: "Conv')
    assert where(error) == (4, 9)
    assert "no closing quote" in error.message


def test_truncated_before_a_value() -> None:
    error = error_of(b"layer {\n  convolution_param {\n    num_output: ")
    assert where(error) == (3, 17)
    assert "expected a value for 'num_output', found end of file" in error.message


def test_unclosed_brace_names_the_opening() -> None:
    error = error_of(b'name: "n"\nlayer {\n  name: "a"\n  param {\n    lr_mult: 1\n  }\n')
    assert str(error) == (
        "net.prototxt:7:1: error: expected '}' to close 'layer' opened at 2:1, found end of file"
    )


def test_extra_closing_brace() -> None:
    error = error_of(b'layer {\n  name: "a"\n}\n}\n')
    assert where(error) == (4, 1)
    assert "no open message to close" in error.message


def test_mismatched_closing_delimiter() -> None:
    error = error_of(b'layer <\n  name: "a"\n}\n')
    assert where(error) == (3, 1)
    assert "expected '>' to close 'layer' opened at 1:1, found '}'" in error.message


def test_template_variable_is_named_at_its_position() -> None:
    error = error_of(b"layer {\n  convolution_param {\n    num_output: ${NUM_LABELS}\n  }\n}\n")
    assert where(error) == (3, 17)
    assert "unsubstituted template variable '${NUM_LABELS}'" in error.message


def test_corpus_template_net_fails_at_its_first_unknown_thing() -> None:
    path = CORPUS / "corenel__deeplab-public__exper__voc12__config__deeplab_largeFOV__train.prototxt"
    with pytest.raises(InputError) as caught:
        load(path)
    # '${NET_ID}' inside quotes is a legal string; the V1 type IMAGE_SEG_DATA (a fork's) is not
    assert caught.value.location is not None and caught.value.location.line == 23
    assert "IMAGE_SEG_DATA" in caught.value.message


def test_non_ascii_byte_outside_strings_and_comments_points_at_it() -> None:
    # Caffe: "Interpreting non ascii codepoint 233." (tests/test_text_bytes.py checks it with the oracles)
    error = error_of('layer {\n  name: "caf\xe9" \xe9\n}\n'.encode("latin-1"))
    assert where(error) == (2, 16)


def test_byte_order_mark() -> None:
    error = error_of("\ufefflayer {}".encode())
    assert where(error) == (1, 1) and "byte-order mark" in error.message


def test_nul_byte_in_text() -> None:
    error = error_of(b'layer { name: "a" }\n\x00\n')
    assert where(error) == (2, 1)


def test_binary_garbage() -> None:
    error = error_of(bytes(range(256)) * 4)
    assert error.message.startswith("not a text or binary NetParameter")


def test_empty_and_blank_files_are_empty_nets(tmp_path: Path) -> None:
    for content in (b"", b"\n\n  \t\n", b"# just a comment\n"):
        path = tmp_path / "empty.prototxt"
        path.write_bytes(content)
        loaded = load(path)
        assert loaded.net.type == "NetParameter" and loaded.net.fields == {}


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_file(tmp_path / "nope.prototxt")
    assert caught.value.message == "no such file or directory"
    with pytest.raises(InputError) as caught:
        load_file(tmp_path)
    assert caught.value.message == "is a directory, not a file"


def test_size_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_bytes(b'input: "n"\n' * 200)
    with pytest.raises(InputError) as caught:
        load(path, max_text_bytes=1000)
    assert "over the limit of 1000" in caught.value.message
    assert load(path, max_text_bytes=10_000).net.fields == {"input": ["n"] * 200}


def test_depth_limit() -> None:
    deep = b"layer { " + b"unknown_thing { " * 200 + b"}" * 201
    error = error_of(deep)
    assert where(error)[0] == 1 and "nested more than 100 deep" in error.message
    assert load_bytes(b"layer { " + b"x { " * 50 + b"}" * 51).net.fields["layer"][0].fields == {}


def test_duplicate_singular_field_names_both_places() -> None:
    error = error_of(b'layer {\n  name: "a"\n  name: "b"\n}\n')
    assert where(error) == (3, 3) and "first set at 2:3" in error.message


def test_out_of_range_and_unknown_enum() -> None:
    assert where(error_of(b"layer { convolution_param { num_output: -3 } }")) == (1, 41)
    error = error_of(b"layer {\n  pooling_param { pool: MIN }\n}")
    assert where(error) == (2, 25) and "no value named MIN" in error.message


def test_50_megabytes_do_not_hang(tmp_path: Path) -> None:
    """Refused at once by size by default; with the limit raised, hostile shapes fail in linear time."""
    big = 50 * 1024 * 1024
    path = tmp_path / "big.prototxt"
    with open(path, "wb") as handle:
        handle.write(b"layer {}\n" * (big // 9))
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        load(path)
    assert "over the limit" in caught.value.message
    shapes = {
        "nested": b"layer { " * (big // 8),
        "unterminated string": b'name: "' + b"a" * big,
        "blank then brace": b" " * big + b"}",
    }
    for data in shapes.values():
        with pytest.raises(InputError, match="error"):
            load_bytes(data, file="big.prototxt", max_text_bytes=2 * big)
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"hostile inputs took {elapsed:.1f} s"
    os.remove(path)
