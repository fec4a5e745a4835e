from __future__ import annotations

from backprop_lint.caffe.model import Location

from backprop_lint.linting.findings import Finding
from backprop_lint.linting.suppress import UNUSED_SUPPRESSION_CODE, apply_suppressions, parse_suppressions

NET = """name: "n"
# backprop-lint: disable=BL201, bl3
layer {
  name: "conv1"
  type: "Convolution"
  convolution_param { num_output: 2 }  # a } in a comment
}
layer {  # backprop-lint: disable=BL101
  name: "relu1"
  type: "ReLU"
}
# not a directive: "backprop-lint: disable=BL999"
layer {
  name: "s"
  type: "Silence"
  bottom: "x # backprop-lint: disable=BL202"
}
"""


def finding(code: str, line: int, file: str = "net.prototxt") -> Finding:
    return Finding(
        code=code, name="n", severity="warning", location=Location(file, line, 1), message=f"{code} at {line}"
    )


def unused_codes(text: str, *findings: Finding) -> list:
    result = apply_suppressions(list(findings), parse_suppressions(text, "net.prototxt"))
    return [f.message for f in result.unused]


def test_disable_covers_the_layer_block_below_it() -> None:
    suppressions = parse_suppressions(NET, "net.prototxt")
    by_code = {s.code: (s.first_line, s.last_line) for s in suppressions}
    assert by_code == {"BL201": (3, 7), "BL3": (3, 7), "BL101": (8, 11)}


def test_suppressed_findings_are_dropped_and_others_kept() -> None:
    findings = [finding("BL201", 3), finding("BL301", 5), finding("BL201", 9), finding("BL101", 9), finding("BL101", 4)]
    result = apply_suppressions(findings, parse_suppressions(NET, "net.prototxt"))
    assert [(f.code, f.location.line) for f in result.kept] == [("BL201", 9), ("BL101", 4)]
    assert [(f.code, f.location.line) for f in result.suppressed] == [("BL201", 3), ("BL301", 5), ("BL101", 9)]
    assert result.unused == []


def test_unused_suppression_is_an_info_finding_at_the_directive() -> None:
    result = apply_suppressions([finding("BL201", 3)], parse_suppressions(NET, "net.prototxt"))
    assert [(f.code, f.severity, f.location.line, f.location.col) for f in result.unused] == [
        (UNUSED_SUPPRESSION_CODE, "info", 2, 1),
        (UNUSED_SUPPRESSION_CODE, "info", 8, 10),
    ]
    assert "BL3" in result.unused[0].message and "BL101" in result.unused[1].message


def test_disabled_codes_are_not_reported_unused() -> None:
    result = apply_suppressions([], parse_suppressions(NET, "net.prototxt"), code_enabled=lambda code: code == "BL3")
    assert [f.message.split(":")[0] for f in result.unused] == ["unused suppression of BL3"]


def test_file_wide_disable_anywhere() -> None:
    text = 'layer { name: "a" }\n# backprop-lint: disable-file=BL2\n'
    result = apply_suppressions([finding("BL201", 1), finding("BL101", 1)], parse_suppressions(text, "net.prototxt"))
    assert [f.code for f in result.kept] == ["BL101"]
    assert result.unused == []


def test_directive_not_above_a_layer_says_why() -> None:
    text = (
        '# backprop-lint: disable=BL201\n\nlayer { name: "a" }\nforce_backward: true  # backprop-lint: disable=BL101\n'
    )
    messages = unused_codes(text, finding("BL201", 3), finding("BL101", 4))
    assert len(messages) == 2
    assert all("not directly above a `layer {` block" in message for message in messages)


def test_comment_lines_between_directive_and_layer_are_allowed() -> None:
    text = '# backprop-lint: disable=BL201\n# the loss is elsewhere\nlayers {\n  name: "a"\n}\n'
    result = apply_suppressions([finding("BL201", 4)], parse_suppressions(text, "net.prototxt"))
    assert result.kept == [] and result.unused == []


def test_bad_code_is_reported() -> None:
    messages = unused_codes("# backprop-lint: disable=E501\nlayer {\n}\n")
    assert messages == [
        "unused suppression of E501: 'E501' is not a rule code or prefix (like BL101, BL1 or ALL) "
        "(see `backprop-lint rules`)"
    ]


def test_unknown_code_is_reported_with_the_closest_codes() -> None:
    messages = unused_codes("# backprop-lint: disable=BL999\nlayer {\n}\n")
    assert len(messages) == 1
    assert messages[0].startswith("unused suppression of BL999: no rule has the code 'BL999'; did you mean BL")
