"""The fast text parser agrees with protobuf's text_format on every input.

protobuf is the reference: for each input both parsers must agree on whether
it is malformed, and where both accept it, the messages must be identical.
"""
from __future__ import annotations

import re

import math
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest
from shared_data import MISSING_REASON, corpus_nets, experiment_nets
from google.protobuf import text_format

from backprop_lint.caffe.schema import tables
from backprop_lint.caffe import pbconvert
from backprop_lint.caffe import textproto
from backprop_lint.caffe.model import InputError, Message
from backprop_lint.caffe.schema import net_parameter_class

REPO = Path(__file__).resolve().parent.parent
CORPUS = corpus_nets()
EXPERIMENTS = experiment_nets()


def reference(text: str, allow_unknown: bool = False) -> Tuple[Optional[Any], Optional[str]]:
    """text_format's verdict: (message, None) or (None, error)."""
    message = net_parameter_class()()
    try:
        text_format.Parse(text, message, allow_unknown_field=allow_unknown)
    except text_format.ParseError as error:
        return None, str(error)
    return message, None


def ours(text: str, strict: bool = True) -> Tuple[Optional[Message], Optional[str]]:
    try:
        net, _warnings = textproto.parse(text, flavor="ssd", strict=strict)
    except InputError as error:
        return None, str(error)
    return net, None


def serialized(message: Any) -> bytes:
    return message.SerializeToString(deterministic=True)


SSD_VARIANT_FIELDS = sorted({variant[0] for variant in tables.SSD_VARIANTS.values()})


def uses_ssd_variant(text: str) -> bool:
    """Whether ``text`` sets a field the SSD fork defines at a number BVLC uses otherwise.

    Our protobuf class has BVLC's field there (e.g. PoolingParameter.round_mode,
    not the SSD fork's ceil_mode), so text_format with our class cannot be the
    reference for the SSD reading of such a file; the BVLC reading must refuse it.
    """
    return any(re.search(rf"\b{name}\s*:", text) for name in SSD_VARIANT_FIELDS)


def assert_agrees(text: str, strict: bool = True) -> None:
    if uses_ssd_variant(text):
        with pytest.raises(InputError):
            textproto.parse(text, flavor="bvlc", strict=True)
        return
    expected, expected_error = reference(text, allow_unknown=not strict)
    got, error = ours(text, strict=strict)
    assert (error is None) == (expected_error is None), f"ours: {error!r}; text_format: {expected_error!r}"
    if got is not None:
        assert serialized(pbconvert.to_protobuf(got)) == serialized(expected)


# --------------------------------------------------------------------------
# Real nets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS + EXPERIMENTS, ids=lambda path: path.name[:60])
def test_real_nets_agree_with_text_format(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert_agrees(text, strict=True)
    if reference(text)[1] is not None:  # something unknown: check the lenient mode too
        assert_agrees(text, strict=False)


def test_corpus_is_there() -> None:
    if not CORPUS:
        pytest.skip(MISSING_REASON)
    assert len(CORPUS) > 100 and EXPERIMENTS


# --------------------------------------------------------------------------
# Every syntax feature, each compared with text_format
# --------------------------------------------------------------------------

SYNTAX_CASES: List[str] = [
    # delimiters and separators
    "layer {}", "layer <>", "layer: {}", "state: < phase: TEST >", 'layer: { name: "a" }',
    'name: "a",', 'name: "a";', 'name: "a",;', 'layer { name: "a" }, layer { name: "b" };',
    'layer { name: "a" } ,, layer {}', 'layer { ,name: "a" }',
    # lists
    'input: ["a", "b"]', "input_dim: [1,2,3]", 'layer: [{name: "a"}, <name: "b">]', "layer: []",
    "layer { bottom: [] }", 'layer { bottom: ["a",] }', "layer { propagate_down: [true, false, 1, t] }",
    "layer { include: [{phase: TRAIN}, {phase: TEST}] }", "input_dim: [1 2]", "name: [\"a\"]",
    # strings
    'name: "a" "b"', "name: 'a\\n\\x41\\101\\u00e9'", "name: 'a' \"b\"\n\"c\"", 'name: "a\\"', 'name: "abc',
    'layer { type: "a\\zb" }', "name: 'it''s'", 'name: """"', 'name: "\\u00e9\\U0001F600"',
    'name: "a" # c\n "b"', "name: \"\\x4\"", "name: abc", "name: 5",
    # integers
    "input_dim: 010", "input_dim: 0x1F", "input_dim: -5", "input_dim: +5", "input_dim: - 5", "input_dim: 1.0",
    "input_dim: 2147483648", "input_dim: -2147483649", "input_dim: 1_0", "input_dim: 00", "input_dim: 09",
    "layer { convolution_param { num_output: -1 } }", "layer { convolution_param { num_output: 4294967295 } }",
    "layer { convolution_param { num_output: 4294967296 } }", "input_shape { dim: 9223372036854775807 }",
    "input_shape { dim: 9223372036854775808 }", "input_dim: 0x", "input_dim: 1e3",
    # floats
    (
        "layer { loss_weight: 1. loss_weight: .5 loss_weight: 1e-3 loss_weight: 1.5f loss_weight: inf "
        "loss_weight: -inf loss_weight: nan loss_weight: infinity loss_weight: 5 loss_weight: -Infinity "
        "loss_weight: 1ff loss_weight: 1.5F loss_weight: -0 loss_weight: 0 loss_weight: 0x10 }"
    ),
    "layer { loss_weight: 01.5 }", "layer { loss_weight: 00 }", "layer { loss_weight: 1_0.5 }",
    "layer { param { lr_mult: 1e400 } }", "layer { param { lr_mult: 3.40282357e38 } }",
    "layer { loss_weight: 1e }", "layer { loss_weight: . }", "layer { loss_weight: inff }",
    # bools
    "force_backward: t", "force_backward: True", "force_backward: 1", "force_backward: f",
    "force_backward: TRUE", "force_backward: yes", "force_backward: 2",
    # enums
    "layer { pooling_param { pool: AVE } }", "layer { pooling_param { pool: 1 } }",
    "layer { pooling_param { pool: 0x1 } }", "layer { pooling_param { pool: 7 } }",
    "layer { pooling_param { pool: MIN } }", 'layer { pooling_param { pool: "AVE" } }',
    "layer { pooling_param { pool: ave } }",
    # duplicates, nesting errors, names
    'name: "a" name: "b"', "state { phase: TRAIN } state { phase: TEST }", 'layer { name: "a" } }',
    'layer { name: "a" >', 'layer { name: "a"', "}", 'name "a"', "layer name: \"x\"", "layer { convolution_param: 3 }",
    "force_backward { }", "[caffe.foo]: 1", "layer { [a.b]: 1 }", "é: 1", "1abc: 2", "name: é", ":",
    # blanks and comments anywhere
    'layer {\n # c\n name: "x" }', 'name: "x"\x0c', '\u00a0name: "x"', 'name: "a"\u00a0"b"',
    'name: "a"\n\u2028 # c\n "b" layer {}', 'layer\x0b{ }', 'name\n:\n"x"', 'name # c\n : "x"',
    "# only a comment", "", "   \n\t\n", 'layer {\r\n  name: "a"\r\n}\r\n', "layer\n{\n}\n",
    # other messages
    "layer { blobs { data: [1, 2.5, -3] shape { dim: 3 } } }",
    'layer { param { name: "a" share_mode: PERMISSIVE } }',
    "${NUM_LABELS}: 3", "layer { convolution_param { num_output: ${NUM_LABELS} } }",
]

UNKNOWN_FIELD_CASES: List[str] = [
    "foo: 1", "foo: bar", "foo: 'x' \"y\"", "foo: -1.5e3", "foo: 1.2.3", "foo { a: 1 b { c: 2 } }",
    "foo: { a: 1 }", "foo < a: 1 >", "foo: [1, 2, a, 'b']", "foo: [{a: 1}, {b: 2}]", "foo: [{a: 1}, 5]",
    "foo: []", "foo { [a.b.c]: 1 }", "foo { [type.googleapis.com/a.B] { x: 1 } }", "foo", "foo {",
    "foo: ", "foo { a: 1 >", "layer { foo: 3 name: \"x\" }", 'layer { name: "x" foo { name: 1 } top: "y" }',
    "foo: $x", "foo: {}", "foo: 99999999999999999999999", "foo: é",
]


@pytest.mark.parametrize("text", SYNTAX_CASES)
def test_syntax_agrees_with_text_format(text: str) -> None:
    assert_agrees(text, strict=True)


@pytest.mark.parametrize("text", UNKNOWN_FIELD_CASES)
def test_unknown_fields_skip_like_text_format(text: str) -> None:
    assert_agrees(text, strict=True)
    assert_agrees(text, strict=False)


def test_deep_nesting_is_refused_past_the_limit() -> None:
    deep = "foo { " * 150 + "}" * 150
    net, error = ours(deep, strict=False)
    assert net is None and error is not None and "nested more than 100" in error
    fine = "foo { " * 98 + "}" * 98
    assert ours(fine, strict=False)[1] is None


# --------------------------------------------------------------------------
# What the parser produces: values, positions, comments
# --------------------------------------------------------------------------


def test_values_are_plain_python() -> None:
    net, _ = textproto.parse(
        'name: "n" force_backward: true layer { name: "c" type: "Convolution" bottom: "a" bottom: "b"\n'
        "  loss_weight: 0.1 phase: TEST convolution_param { num_output: 010 weight_filler { type: 'x' } } }"
    )
    assert net.fields["name"] == "n" and net.fields["force_backward"] is True
    (layer,) = net.fields["layer"]
    assert layer.type == "LayerParameter"
    assert layer.fields["bottom"] == ["a", "b"]
    assert layer.fields["phase"] == "TEST"
    assert layer.fields["loss_weight"] == [pytest.approx(0.1)]
    # float fields hold what a C++ float holds, as protobuf does
    assert layer.fields["loss_weight"][0] == net_parameter_class()(layer=[{"loss_weight": [0.1]}]).layer[0].loss_weight[0]
    assert layer.fields["convolution_param"].fields["num_output"] == 8
    assert layer.fields["convolution_param"].fields["weight_filler"].fields == {"type": "x"}
    assert math.isnan(textproto.parse("layer { loss_weight: nan }")[0].fields["layer"][0].fields["loss_weight"][0])


def test_sub_messages_have_every_slot_set() -> None:
    """The hot loop builds sub-messages without Message.__init__: it must set every slot."""
    net, _ = textproto.parse("layer { param { } }")
    for message in (net, net.fields["layer"][0], net.fields["layer"][0].fields["param"][0]):
        for slot in Message.__slots__:
            getattr(message, slot)


def test_positions_are_first_occurrences() -> None:
    text = 'name: "x"\n\nlayer {\n  name: "a"\n  bottom: "b"\n    bottom: "c"\n}\nlayer <name: "d">\n'
    net, _ = textproto.parse(text, file="n.prototxt")
    assert net.positions == {"name": (1, 1), "layer": (3, 1)}
    first, second = net.fields["layer"]
    assert (first.line, first.col) == (3, 1)
    assert first.positions == {"name": (4, 3), "bottom": (5, 3)}
    assert (second.line, second.col) == (8, 1) and second.positions == {"name": (8, 8)}


def test_positions_after_slow_path_fields() -> None:
    text = 'input: ["a",\n "b"]\nname: "a" "b"\nlayer { name: "x\\n" }\n'
    net, _ = textproto.parse(text)
    assert net.positions == {"input": (1, 1), "name": (3, 1), "layer": (4, 1)}
    assert net.fields["layer"][0].positions == {"name": (4, 9)}


def test_comments_right_above_a_message_are_kept() -> None:
    text = (
        "# file header\n\n"
        "# backprop-lint: disable=BL001\n"
        "#   second line\n"
        "layer {  # trailing, not above\n"
        '  name: "a"\n'
        "}\n"
        'layer { name: "b" } # after b\n'
        "layer {\n"
        "  # inside\n"
        "  convolution_param { }\n"
        "}\n"
    )
    net, _ = textproto.parse(text)
    first, second, third = net.fields["layer"]
    assert first.comments == ["backprop-lint: disable=BL001", "second line"]
    assert second.comments == []  # nothing above it but the closing brace of the first
    assert third.comments == []  # '# after b' trails code on the line above: not attached
    assert third.fields["convolution_param"].comments == ["inside"]


def test_comment_separated_by_blank_line_is_not_attached() -> None:
    net, _ = textproto.parse("# far away\n\nlayer { }\n")
    assert net.fields["layer"][0].comments == []


def test_empty_text_is_an_empty_net() -> None:
    net, warnings = textproto.parse("")
    assert net == Message("NetParameter") and warnings == []


# --------------------------------------------------------------------------
# Unknown and fork-only fields
# --------------------------------------------------------------------------


def test_unknown_field_warns_with_location_and_is_skipped() -> None:
    text = 'layer {\n  name: "a"\n  foo { bar: 1 baz { } }\n  top: "t"\n}\n'
    net, warnings = textproto.parse(text, file="n.prototxt")
    assert net.fields["layer"][0].fields == {"name": "a", "top": ["t"]}
    (warning,) = warnings
    assert str(warning.location) == "n.prototxt:3:3"
    assert 'Message type "caffe.LayerParameter" has no field named "foo"' in warning.message
    assert "Caffe's parser would stop here" in warning.message


def test_unknown_field_is_an_error_in_strict_mode() -> None:
    with pytest.raises(InputError) as caught:
        textproto.parse('name: "x"\n  nme: "y"\n', file="n.prototxt", strict=True)
    assert str(caught.value.location) == "n.prototxt:2:3"
    assert "did you mean 'name'" in caught.value.message


def test_ssd_field_read_as_bvlc_warns_but_is_kept() -> None:
    text = 'layer {\n  name: "p"\n  permute_param { order: 0 order: 2 }\n}\n'
    net, warnings = textproto.parse(text, flavor="bvlc", file="n.prototxt")
    assert net.fields["layer"][0].fields["permute_param"].fields == {"order": [0, 2]}
    (warning,) = warnings
    assert warning.kind == "fork-only-field" and str(warning.location) == "n.prototxt:3:3"
    assert "BVLC Caffe" in warning.message
    assert textproto.parse(text, flavor="ssd")[1] == []
    with pytest.raises(InputError):
        textproto.parse(text, flavor="bvlc", strict=True)


def test_unknown_flavour_is_refused() -> None:
    with pytest.raises(ValueError):
        textproto.parse("", flavor="caffe2")


def test_parser_does_not_import_protobuf() -> None:
    code = (
        "import sys\nfrom backprop_lint.caffe import textproto\n"
        "textproto.parse('layer { name: \"a\" foo: 1 }')\n"
        "print(any(m.startswith('google') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- positions are offsets until read (model.SourceLines) -----------------------


def _counted(text: str, offset: int) -> Tuple[int, int]:
    """(line, col) of ``offset`` the slow, obvious way."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


@pytest.mark.parametrize("order", ["file", "reverse", "shuffled"])
def test_source_lines_agree_with_counting_in_any_order(order: str) -> None:
    import random

    from backprop_lint.caffe.model import SourceLines

    text = 'a: 1\n\n  b {\r\n c: "x"\n}\n# end\nlast' * 3
    offsets = list(range(len(text) + 1))
    if order == "reverse":
        offsets.reverse()
    elif order == "shuffled":
        random.Random(0).shuffle(offsets)
    lines = SourceLines(text)
    assert [lines.line_col(offset) for offset in offsets] == [_counted(text, offset) for offset in offsets]


def test_parsed_positions_are_the_field_names_line_and_column() -> None:
    text = 'name: "n"\nlayer {\n  name: "a"  top: "t"\n  top: "u"\n}\n  layer { name: "b" }\n'
    net, _ = textproto.parse(text)
    second = net.fields["layer"][1]
    assert (second.line, second.col) == _counted(text, text.index('layer { name: "b"'))  # read before the first
    first = net.fields["layer"][0]
    assert first.positions == {"name": _counted(text, text.index('name: "a"')), "top": _counted(text, text.index("top"))}
    assert (first.line, first.col) == (2, 1)
    assert net.positions == {"name": (1, 1), "layer": (2, 1)}
