from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from backprop_lint.linting.linter import LintReport, RuleInfo
from backprop_lint.caffe.model import Location
from backprop_lint.linting.findings import Finding, Fix, TextEdit
from backprop_lint.report import github, json_output, sarif, text

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
NET = 'name: "n"\nlayer {\n  name: "conv1"\n  type: "Convolution"\n}\nlayer {\n  name: "relu1"\n}\n'
RULES = [
    RuleInfo("BL000", "input-error", "error", "The file cannot be read."),
    RuleInfo("BL201", "frozen-by-propagate-down", "warning", "A layer never learns."),
]

FIXED = Finding(
    code="BL201",
    name="frozen-by-propagate-down",
    severity="warning",
    location=Location("nets/n.prototxt", 2, 1),
    message="`conv1` never learns",
    layer="conv1",
    state="TRAIN, TEST",
    reasons=("`relu1` sets propagate_down: false", "so Caffe prunes `conv1`"),
    fix=Fix("remove `propagate_down: false`", (TextEdit("nets/n.prototxt", 7, 1, 8, 1, ""),)),
)
BROKEN = Finding(
    code="BL000",
    name="input-error",
    severity="error",
    location=Location("nets/bad.prototxt", 3, 7),
    message='Expected ":", found "{"; 50% done, a,b',
)


def report() -> LintReport:
    return LintReport(
        findings=[FIXED],
        errors=[BROKEN],
        files=["nets/bad.prototxt", "nets/n.prototxt"],
        sources={"nets/n.prototxt": NET},
    )


def test_json_document_is_stable_and_sorted() -> None:
    stream = io.StringIO()
    json_output.render(report(), stream)
    document = json.loads(stream.getvalue())
    assert document["version"] == 1
    assert document["summary"] == {"info": 0, "warning": 1, "error": 1, "fixable": 1, "files": 2}
    assert [f["file"] for f in document["findings"]] == ["nets/bad.prototxt", "nets/n.prototxt"]
    assert document["findings"][1] == {
        "code": "BL201",
        "name": "frozen-by-propagate-down",
        "severity": "warning",
        "file": "nets/n.prototxt",
        "line": 2,
        "column": 1,
        "layer": "conv1",
        "state": "TRAIN, TEST",
        "message": "`conv1` never learns",
        "reasons": ["`relu1` sets propagate_down: false", "so Caffe prunes `conv1`"],
        "fix": {
            "description": "remove `propagate_down: false`",
            "safe": True,
            "unsafe_reason": "",
            "edits": [
                {
                    "file": "nets/n.prototxt",
                    "start": {"line": 7, "column": 1},
                    "end": {"line": 8, "column": 1},
                    "text": "",
                }
            ],
        },
    }


def test_sarif_validates_against_the_official_schema() -> None:
    document = sarif.to_document(report(), RULES)
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["BL000", "BL201"]
    assert run["tool"]["driver"]["rules"][1]["defaultConfiguration"] == {"level": "warning"}
    assert run["tool"]["driver"]["rules"][1]["helpUri"].endswith("/rules/BL201.md")
    first, second = run["results"]
    assert (first["ruleId"], first["ruleIndex"], first["level"]) == ("BL000", 0, "error")
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "nets/bad.prototxt", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 7},
    }
    assert second["fixes"][0]["artifactChanges"][0]["replacements"][0]["deletedRegion"] == {
        "startLine": 7,
        "startColumn": 1,
        "endLine": 8,
        "endColumn": 1,
    }


def test_sarif_with_unknown_location_and_unlisted_code_still_validates() -> None:
    odd = Finding(code="BL999", name="new-rule", severity="info", location=Location("/abs/x.prototxt"), message="m")
    document = sarif.to_document(LintReport(findings=[odd], internal_errors=[("y", "boom")]), RULES)
    jsonschema.Draft4Validator(SCHEMA).validate(document)
    result = document["runs"][0]["results"][0]
    assert result["level"] == "note" and result["ruleIndex"] == 2
    assert "region" not in result["locations"][0]["physicalLocation"]
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_sarif_schema_catches_a_broken_document() -> None:
    document = sarif.to_document(report(), RULES)
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(document)


def test_github_annotations_escape_data_and_properties() -> None:
    stream = io.StringIO()
    github.render(report(), stream)
    lines = stream.getvalue().splitlines()
    assert lines[0] == (
        '::error file=nets/bad.prototxt,line=3,col=7,title=BL000 input-error::Expected ":", found "{"; 50%25 done, a,b'
    )
    assert lines[1].startswith("::warning file=nets/n.prototxt,line=2,col=1,title=BL201 frozen-by-propagate-down::")
    assert lines[1].endswith(
        "%0Abecause `relu1` sets propagate_down: false%0A→ so Caffe prunes `conv1`%0Afix: remove `propagate_down: false`"
    )
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_text_groups_by_file_with_frame_reasons_and_fix() -> None:
    stream = io.StringIO()
    text.render(report(), stream, color=False)
    output = stream.getvalue()
    assert "\x1b[" not in output
    assert output.splitlines() == [
        "nets/bad.prototxt",
        "nets/bad.prototxt:3:7: error BL000 input-error",
        '  Expected ":", found "{"; 50% done, a,b',
        "",
        "nets/n.prototxt",
        "nets/n.prototxt:2:1: warning BL201 frozen-by-propagate-down [TRAIN, TEST]",
        "  `conv1` never learns",
        '    1 │ name: "n"',
        "  > 2 │ layer {",
        "        ^",
        '    3 │   name: "conv1"',
        '    4 │   type: "Convolution"',
        "    5 │ }",
        "  because `relu1` sets propagate_down: false",
        "       → so Caffe prunes `conv1`",
        "  fix: remove `propagate_down: false` (--fix applies it)",
        "",
        "Found 2 problems (1 error, 1 warning) in 2 files. 1 fixable with --fix.",
    ]


def test_text_colours_only_when_asked() -> None:
    stream = io.StringIO()
    text.render(report(), stream, color=True)
    assert "\x1b[" in stream.getvalue()


def test_text_clean_summary() -> None:
    stream = io.StringIO()
    text.render(LintReport(files=["a.prototxt"]), stream, color=False)
    assert stream.getvalue() == "All checks passed (1 file).\n"
