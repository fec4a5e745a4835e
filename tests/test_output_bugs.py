"""Regression tests for the output bugs of issue 8 (part B): each test failed before its fix."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Tuple

import pytest

from backprop_lint import lint
from backprop_lint.cli.commands import main
from backprop_lint.linting.config import Config, glob_matches
from backprop_lint.report.escape import printable
from backprop_lint.report.text import FRAME_MAX_WIDTH, code_frame
from example_nets import NO_LOSS_ONE_LINE_LAYERS as NO_LOSS, UNKNOWN_BOTTOM_ONE_LINE_LAYERS as UNKNOWN_BOTTOM

REPO = Path(__file__).resolve().parents[1]
SALIENCY = REPO / "fixtures" / "backward" / "saliency_deploy.prototxt"
FCN = REPO / "fixtures" / "backward" / "fcn_deploy.prototxt"


# a layer name holding a terminal escape sequence and a newline that forges a finding line
EVIL_NAME = r"ip\033[2J\nfake.prototxt:1:1: error BL001 forged"
EVIL_OK = f"""name: "evil"
layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 1 dim: 3 }} }} }}
layer {{ name: "{EVIL_NAME}" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param {{ num_output: 4 }} }}
"""
# Caffe refuses it, and the refusal names the layer and the blob
EVIL = f"""name: "evil"
layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ dim: 1 dim: 3 }} }} }}
layer {{ name: "{EVIL_NAME}" type: "InnerProduct" bottom: "missing\\033" top: "ip"
  inner_product_param {{ num_output: 4 }} }}
"""


def run(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)


# ---------------------------------------------------------------------------
# check --diff on what it cannot fix
# ---------------------------------------------------------------------------


def test_diff_on_a_refused_net_is_not_silent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.prototxt").write_text(UNKNOWN_BOTTOM)
    code, out, err = run(capsys, "broken.prototxt", "--diff")
    assert code == 1 and out == ""
    assert err.startswith("No safe fix applies; 1 problem remains:\n  broken.prototxt:3:1: BL001 [error]")


def test_diff_on_an_unparsable_net_is_not_silent(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "bad.prototxt").write_text('name: "bad"\nlayer {\n  name: "x"\n  type: "ReLU\n}\n')
    code, out, err = run(capsys, "bad.prototxt", "--diff")
    assert code == 1 and out == ""
    assert "bad.prototxt:4:9: BL000 [error]" in err


def test_diff_with_a_fix_prints_it_and_what_is_left(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "deploy.prototxt").write_text(NO_LOSS)
    code, out, err = run(capsys, "deploy.prototxt", "--diff")
    assert code == 1
    assert "+force_backward: true" in out
    assert (tmp_path / "deploy.prototxt").read_text() == NO_LOSS


def test_diff_on_a_clean_net_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "deploy.prototxt").write_text("force_backward: true\n" + NO_LOSS)
    assert run(capsys, "deploy.prototxt", "--diff") == (0, "", "Nothing to fix.\n")


# ---------------------------------------------------------------------------
# backward: a range that runs nothing / reads nothing; fixes that move start
# ---------------------------------------------------------------------------


def test_backward_range_that_runs_nothing_is_explained(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "backward", str(SALIENCY), "--start", "prob", "--end", "data")
    assert code == 1
    assert "no layer of the range runs backward: the call changes no diff" in out
    assert "net.backward() returns no diff here" in out and "'data' (#0) has none" in out
    assert "data: ZERO" in out
    assert "diffs = net.backward(start='prob', end='data', **{'prob': grad_prob})" in out


def test_backward_json_says_nothing_runs(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "backward", str(SALIENCY), "--start", "prob", "--end", "data", "--format", "json")
    plan = json.loads(out)
    assert code == 1
    assert (plan["ok"], plan["runs_nothing"], plan["reads_assumed"]) == (False, True, True)
    assert [read["blob"] for read in plan["reads"]] == ["data"]


def test_backward_fix_that_replaces_start_says_so(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "backward", str(FCN), "--start", "prob", "--end", "conv1_a", "--read", "data")
    assert code == 1
    fix = out[out.index("Fix:"):]
    assert "start='score' (#7), instead of 'prob', which names no layer" in fix
    assert "start='score'" in fix.splitlines()[-1]


def test_backward_fix_that_replaces_a_blob_name_says_so(capsys: pytest.CaptureFixture) -> None:
    _, out, _ = run(capsys, "backward", str(FCN), "--start", "score", "--end", "data", "--read", "data")
    fix = out[out.index("Fix:"):]
    assert "end='data_input_0_split' (#1), instead of 'data', which is not a layer name pycaffe accepts" in fix


@pytest.mark.parametrize("command", ["backward", "simulate", "verify"])
def test_help_has_no_rst_markers(capsys: pytest.CaptureFixture, command: str) -> None:
    from backprop_lint.cli import main as cli_main

    with pytest.raises(SystemExit):
        cli_main([command, "--help"])
    out = capsys.readouterr().out
    assert "``" not in out and "usage:" in out


# ---------------------------------------------------------------------------
# rule messages
# ---------------------------------------------------------------------------


def test_reason_lines_have_no_field_labels() -> None:
    refused = lint(UNKNOWN_BOTTOM).findings[0]
    assert refused.code == "BL001"
    assert refused.reasons and not refused.reasons[0].startswith("why:")
    deprecated_input = 'name: "old"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\n'
    notes = [f for f in lint(deprecated_input).findings if f.code == "BL402"]
    assert notes and all(not reason.startswith("kind:") for f in notes for reason in f.reasons)


def test_bl401_fix_is_one_line() -> None:
    net = NO_LOSS.replace('type: "InnerProduct"', 'type: "Python" python_param { module: "m" layer: "L" }')
    finding = next(f for f in lint(net).findings if f.code == "BL401")
    assert finding.fix is not None and "\n" not in finding.fix.description
    assert '[tool.backprop-lint.layers."m.L"] params = N' in finding.fix.description


def test_bl401_fix_is_not_glued_to_a_note(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    net = NO_LOSS.replace('type: "InnerProduct"', 'type: "Python" python_param { module: "m" layer: "L" }')
    (tmp_path / "py.prototxt").write_text(net)
    _, out, _ = run(capsys, "py.prototxt", "--color", "never")
    line = next(line for line in out.splitlines() if "[tool.backprop-lint.layers." in line)
    assert line.startswith("  fix (by hand): declare it in pyproject.toml:")
    assert line.endswith("params = N (its number of learnable blobs)")


def test_bl403_never_suggests_the_flavour_in_use() -> None:
    unknown = NO_LOSS.replace("num_output: 4", "num_output: 4 no_such_field: 1")
    for flavor in ("bvlc", "ssd"):
        finding = next(f for f in lint(unknown, flavor=flavor).findings if f.code == "BL403")
        assert finding.fix is not None and "--flavor" not in finding.fix.description
    ssd_only = NO_LOSS + (
        'layer { name: "bn" type: "BatchNorm" bottom: "ip" top: "bn" batch_norm_param { use_alpha_beta: true } }\n'
    )
    finding = next(f for f in lint(ssd_only, flavor="bvlc").findings if f.code == "BL403")
    assert finding.fix is not None and "`--flavor ssd`" in finding.fix.description
    bvlc_only = NO_LOSS + 'layer { name: "r" type: "ReLU" bottom: "ip" top: "r" clip_param { min: 0 max: 1 } }\n'
    finding = next(f for f in lint(bvlc_only, flavor="ssd").findings if f.code == "BL403")
    assert finding.fix is not None and "`--flavor bvlc`" in finding.fix.description


def test_github_format_says_because_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "deploy.prototxt").write_text(NO_LOSS)
    _, out, _ = run(capsys, "deploy.prototxt", "--format", "github")
    annotation = out.splitlines()[0]
    assert annotation.count("%0Abecause ") == 1 and "%0A→ " in annotation


# ---------------------------------------------------------------------------
# configuration: standalone files and per-file-ignores beside the config
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["**/*.prototxt", "./net.prototxt", "net.prototxt", "*.prototxt"])
def test_per_file_ignores_match_a_file_beside_the_config(
    tmp_path: Path, capsys: pytest.CaptureFixture, pattern: str
) -> None:
    (tmp_path / "backprop-lint.toml").write_text(f'[per-file-ignores]\n"{pattern}" = ["BL201"]\n')
    (tmp_path / "net.prototxt").write_text(NO_LOSS)
    assert run(capsys, "net.prototxt") == (0, "All checks passed (1 file).\n", "")


@pytest.mark.parametrize(
    "pattern, relative, expected",
    [
        ("**/*.prototxt", "a/b/net.prototxt", True),
        ("models/**/deploy.prototxt", "models/deploy.prototxt", True),
        ("models/**/deploy.prototxt", "models/x/y/deploy.prototxt", True),
        ("models/**/deploy.prototxt", "other/deploy.prototxt", False),
        ("./models/*.prototxt", "models/a.prototxt", True),
        ("deploy/*.prototxt", "train/a.prototxt", False),
    ],
)
def test_glob_matches(pattern: str, relative: str, expected: bool) -> None:
    assert glob_matches(pattern, relative, Path(relative).name) is expected


def test_readme_documents_the_standalone_config_with_top_level_keys() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Configuration and suppressions"):readme.index("### pre-commit")]
    assert "# backprop-lint.toml" in section and "[per-file-ignores]" in section
    assert "[tool.backprop-lint]" in section


def test_config_root_is_the_config_folder(tmp_path: Path) -> None:
    config = Config(per_file_ignores=(("./net.prototxt", ("BL201",)),), source=tmp_path / "backprop-lint.toml")
    assert config.ignored_for_file(str(tmp_path / "net.prototxt")) == ("BL201",)
    assert config.ignored_for_file(str(tmp_path / "sub" / "net.prototxt")) == ()


# ---------------------------------------------------------------------------
# code frames
# ---------------------------------------------------------------------------


def test_code_frame_of_a_huge_line_is_a_window_with_ellipses() -> None:
    line = "layer { " + "x" * 30000 + ' name: "here" ' + "y" * 30000 + " }"
    column = line.index("name:") + 1
    frame = [text.plain for text in code_frame([line], 1, column)]
    shown, caret = frame
    assert len(shown) < FRAME_MAX_WIDTH + 20
    assert "…" in shown and shown.rstrip().endswith("…") and 'name: "here"' in shown
    assert shown[caret.index("^")] == "n"  # the caret still points at the column


def test_code_frame_caret_follows_escaped_characters() -> None:
    line = 'layer { name: "a\x1bb" type: "X" }'
    column = line.index("type") + 1
    shown, caret = [text.plain for text in code_frame([line], 1, column)]
    assert "\x1b" not in shown and "\\x1b" in shown
    assert shown[caret.index("^"):].startswith("type")


def test_huge_single_line_net_prints_a_bounded_frame(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    padding = " ".join(f'layer {{ name: "r{i}" type: "ReLU" bottom: "data" top: "data" }}' for i in range(1000))
    (tmp_path / "one_line.prototxt").write_text(
        'name: "n" layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } } '
        + padding + ' layer { name: "s" type: "Silence" bottom: "missing" }\n'
    )
    code, out, _ = run(capsys, "one_line.prototxt")
    assert code == 1
    assert max(len(line) for line in out.splitlines()) < 400


# ---------------------------------------------------------------------------
# names from the net never reach the terminal raw
# ---------------------------------------------------------------------------


def test_printable_escapes_controls() -> None:
    assert printable("a\x1b[2J\nb\tc\r\x7f\x9b\u202e") == "a\\x1b[2J\\nb\\tc\\r\\x7f\\x9b\\u202e"
    assert printable("plain `name` – ünïcode") == "plain `name` – ünïcode"


@pytest.mark.parametrize("fmt", ["text", "concise", "github"])
def test_names_are_escaped_in_text_formats(tmp_path: Path, capsys: pytest.CaptureFixture, fmt: str) -> None:
    (tmp_path / "evil.prototxt").write_text(EVIL)
    code, out, err = run(capsys, "evil.prototxt", "--phase", "TEST", "--format", fmt, "--color", "never")
    assert code == 1
    assert "\x1b" not in out + err
    assert not any(line.startswith("fake.prototxt") for line in out.splitlines())
    assert "missing\\x1b" in out


def test_names_are_escaped_in_forged_findings_lines(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "evil.prototxt").write_text(EVIL)
    _, out, _ = run(capsys, "evil.prototxt", "--format", "concise")
    lines = out.splitlines()
    assert lines and all(re.match(r"^evil\.prototxt:\d+:\d+: BL\d{3} ", line) for line in lines)
    assert any("\\x1b[2J\\nfake.prototxt" in line for line in lines)


def test_names_are_escaped_in_the_backward_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "evil.prototxt").write_text(EVIL_OK)
    _, out, err = run(capsys, "backward", "evil.prototxt", "--read", "data")
    assert "\x1b" not in out + err
    assert "\\x1b[2J\\nfake.prototxt" in out
    assert not any(line.startswith("fake.prototxt") for line in out.splitlines())
    (tmp_path / "refused.prototxt").write_text(EVIL)
    code, out, err = run(capsys, "backward", "refused.prototxt")
    assert code == 1 and "\x1b" not in out + err and "missing\\x1b" in err
