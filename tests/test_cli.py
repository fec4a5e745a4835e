"""The `backprop-lint` command end to end, in-process (main(argv) with captured output)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

import pytest

from backprop_lint.cli.commands import main, with_default_command
from backprop_lint.linting.linter import looks_like_solver, resolve_solver_net_path, solver_nets
from backprop_lint.caffe.model import NetState
from example_nets import UNKNOWN_BOTTOM

CLEAN = """name: "clean"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""

# no loss and no force_backward: Backward computes nothing (BL201, warning, safe fix)
NO_LOSS = """name: "features"  # deploy net
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape { dim: 1 dim: 3 } }
}
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "data"
  top: "ip"
  inner_product_param { num_output: 4 }
}
"""


MALFORMED = 'name: "bad"\nlayer {\n  name: "x"\n  type: "ReLU\n}\n'


def run(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def json_findings(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, List[dict]]:
    code, out, _ = run(capsys, *argv, "--format", "json")
    return code, json.loads(out)["findings"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty directory so no repository pyproject.toml is discovered."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)


# ---------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["net.prototxt"], ["check", "net.prototxt"]),
        (["--format", "json", "x"], ["check", "--format", "json", "x"]),
        (["check", "x"], ["check", "x"]),
        (["rules"], ["rules"]),
        (["--version"], ["--version"]),
        ([], []),
    ],
)
def test_check_is_the_default_command(argv: List[str], expected: List[str]) -> None:
    assert with_default_command(argv, ["check", "rules", "explain", "simulate"]) == expected


def test_usage_error_exits_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--select", "E501", "x.prototxt"])
    assert caught.value.code == 2
    assert "not a rule code" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


def test_clean_net_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "clean.prototxt", CLEAN)
    code, out, err = run(capsys, "clean.prototxt")
    assert (code, err) == (0, "")
    assert out == "All checks passed (1 file).\n"


def test_refused_net_is_reported_once_for_both_phases(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    code, findings = json_findings(capsys, "broken.prototxt")
    assert code == 1
    assert [(f["code"], f["line"], f["state"]) for f in findings] == [("BL001", 3, "TRAIN, TEST")]


def test_phase_option_lints_one_phase(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    _, findings = json_findings(capsys, "broken.prototxt", "--phase", "test")
    assert [f["state"] for f in findings] == ["TEST"]


def test_malformed_net_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "bad.prototxt", MALFORMED)
    code, out, err = run(capsys, "bad.prototxt", "--format", "github")
    assert code == 1 and err == ""
    assert out.startswith("::error file=bad.prototxt,line=4,")
    assert "title=BL000 input-error::" in out and out.count("\n") == 1


def test_missing_file_is_an_input_error(capsys: pytest.CaptureFixture) -> None:
    code, findings = json_findings(capsys, "nowhere.prototxt")
    assert code == 1
    assert [(f["code"], f["file"]) for f in findings] == [("BL000", "nowhere.prototxt")]


def test_directory_is_searched_recursively(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "nets/a/broken.prototxt", UNKNOWN_BOTTOM)
    write(tmp_path, "nets/b/clean.pbtxt", CLEAN)
    write(tmp_path, "nets/notes.txt", "not a net")
    write(tmp_path, "nets/.cache/copy.prototxt", UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "nets", "--format", "json")
    document = json.loads(out)
    assert code == 1
    assert document["files"] == ["nets/a/broken.prototxt", "nets/b/clean.pbtxt"]
    assert [f["file"] for f in document["findings"]] == ["nets/a/broken.prototxt"]


def test_select_ignore_and_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    assert json_findings(capsys, "broken.prototxt", "--select", "BL2")[1] == []
    assert json_findings(capsys, "broken.prototxt", "--ignore", "BL0")[0] == 0
    assert json_findings(capsys, "broken.prototxt", "--ignore", "BL0", "--select", "BL001")[0] == 1
    assert run(capsys, "broken.prototxt", "--exit-zero")[0] == 0


def test_severity_shows_and_fail_on_fails(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A deploy net's BL201 is info: shown, but it fails only with `--fail-on info`."""
    write(tmp_path, "features.prototxt", NO_LOSS)
    code, findings = json_findings(capsys, "features.prototxt")
    assert code == 0 and [(f["code"], f["severity"]) for f in findings] == [("BL201", "info")]
    assert json_findings(capsys, "features.prototxt", "--fail-on", "info")[0] == 1
    assert json_findings(capsys, "features.prototxt", "--severity", "warning") == (0, [])
    # a hidden finding never fails the run
    assert json_findings(capsys, "features.prototxt", "--severity", "warning", "--fail-on", "info") == (0, [])
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    assert json_findings(capsys, "broken.prototxt", "--fail-on", "error")[0] == 1
    write(tmp_path, "backprop-lint.toml", 'fail-on = "info"\n')
    assert json_findings(capsys, "features.prototxt")[0] == 1


def test_the_shipped_hook_passes_a_deploy_net_and_fails_a_refused_one(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The arguments in .pre-commit-hooks.yaml: info is shown, warnings and errors fail."""
    import yaml

    hook = yaml.safe_load((Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml").read_text())[0]
    write(tmp_path, "features.prototxt", NO_LOSS)
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, *hook["args"], "features.prototxt")
    assert code == 0 and "BL201" in out
    assert run(capsys, *hook["args"], "broken.prototxt")[0] == 1


def test_need_diff_asks_for_a_gradient(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "clean.prototxt", CLEAN)
    code, findings = json_findings(capsys, "clean.prototxt", "--need-diff", "data", "--phase", "TRAIN")
    assert code == 1
    assert [(f["code"], f["severity"]) for f in findings] == [("BL203", "error")]


def test_configuration_is_discovered_and_overridden(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        '[tool.backprop-lint]\nignore = ["BL2"]\n[tool.backprop-lint.severity]\nBL001 = "warning"\n',
    )
    write(tmp_path, "nets/features.prototxt", NO_LOSS)
    write(tmp_path, "nets/broken.prototxt", UNKNOWN_BOTTOM)
    _, findings = json_findings(capsys, "nets")
    assert [(f["code"], f["severity"]) for f in findings] == [("BL001", "warning")]
    _, findings = json_findings(capsys, "nets", "--select", "BL201")
    assert [f["code"] for f in findings] == ["BL201"]


def test_per_file_ignores(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "backprop-lint.toml", '[per-file-ignores]\n"legacy/*" = ["BL001"]\n')
    write(tmp_path, "legacy/broken.prototxt", UNKNOWN_BOTTOM)
    write(tmp_path, "new/broken.prototxt", UNKNOWN_BOTTOM)
    _, findings = json_findings(capsys, ".")
    assert [f["file"] for f in findings] == ["new/broken.prototxt"]


def test_invalid_configuration_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "pyproject.toml", '[tool.backprop-lint]\nflavor = "caffe2"\n')
    write(tmp_path, "clean.prototxt", CLEAN)
    code, out, err = run(capsys, "clean.prototxt")
    assert code == 2 and out == ""
    assert err.startswith("backprop-lint: ") and "key 'flavor'" in err and err.count("\n") == 1


def test_inline_suppression_and_unused_suppression(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    suppressed = UNKNOWN_BOTTOM.replace(
        'layer {\n  name: "ip"', '# backprop-lint: disable=BL001\nlayer {\n  name: "ip"'
    )
    write(tmp_path, "broken.prototxt", suppressed)
    assert json_findings(capsys, "broken.prototxt") == (0, [])
    stale = CLEAN.replace('layer { name: "ip"', '# backprop-lint: disable=BL001\nlayer { name: "ip"')
    write(tmp_path, "clean.prototxt", stale)
    code, findings = json_findings(capsys, "clean.prototxt")
    assert code == 0  # info: shown, not failing
    assert [(f["code"], f["severity"], f["line"]) for f in findings] == [("BL901", "info", 4)]


def test_text_output_has_location_frame_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "broken.prototxt", "--color", "never")
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == "broken.prototxt"
    assert lines[1].startswith("broken.prototxt:3:1: error BL001 unknown-bottom-blob [TRAIN, TEST]")
    assert "  > 3 │ layer {" in lines
    assert lines[-1].startswith("Found 1 problem (1 error) in 1 file.")


def test_sarif_output_parses(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "broken.prototxt", "--format", "sarif")
    result = json.loads(out)["runs"][0]["results"][0]
    assert (code, result["ruleId"]) == (1, "BL001")
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.prototxt"


# ---------------------------------------------------------------------------
# --fix / --diff
# ---------------------------------------------------------------------------


def test_diff_prints_the_fix_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path, "features.prototxt", NO_LOSS)
    code, out, _ = run(capsys, "features.prototxt", "--diff", "--select", "BL201")
    assert code == 1
    assert out.startswith("--- a/features.prototxt\n+++ b/features.prototxt\n")
    assert "+force_backward: true" in out
    assert path.read_text() == NO_LOSS


def test_fix_applies_in_place_keeping_comments_and_relints(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write(tmp_path, "features.prototxt", NO_LOSS)
    code, out, err = run(capsys, "features.prototxt", "--fix", "--select", "BL201", "--format", "json")
    fixed = path.read_text()
    assert "force_backward: true" in fixed and "# deploy net" in fixed
    assert fixed.replace("force_backward: true\n", "") == NO_LOSS
    assert err.startswith("Fixed 1 problem in 1 file.")
    assert (code, json.loads(out)["findings"]) == (0, [])
    assert run(capsys, "features.prototxt", "--select", "BL201")[0] == 0


# ---------------------------------------------------------------------------
# solvers
# ---------------------------------------------------------------------------

SOLVER = """# lenet
net: "nets/train_test.prototxt"
test_iter: 100
test_iter: 10
test_state { stage: "val" }
test_state { stage: "small" level: 1 }
train_state { stage: "train" }
base_lr: 0.01
"""


def test_solver_is_recognised() -> None:
    assert looks_like_solver(SOLVER)
    assert not looks_like_solver(CLEAN)
    assert not looks_like_solver('name: "x"\nlayer { name: "base_lr" }\n')


def test_solver_states_follow_caffe(tmp_path: Path) -> None:
    write(tmp_path, "nets/train_test.prototxt", CLEAN)
    solver = write(tmp_path, "solver.prototxt", SOLVER)
    nets, errors = solver_nets(SOLVER, solver, "bvlc")
    assert errors == []
    assert [net.state for net in nets] == [
        NetState("TRAIN", 0, ("train",)),
        NetState("TEST", 0, ("val",)),
        NetState("TEST", 1, ("small",)),
    ]
    assert [net.location.line for net in nets] == [2, 2, 2]


def test_solver_net_paths_resolve_from_cwd_then_solver_directory_upwards(tmp_path: Path) -> None:
    write(tmp_path, "repo/examples/mnist/net.prototxt", CLEAN)
    solver = write(tmp_path, "repo/examples/mnist/solver.prototxt", "")
    assert resolve_solver_net_path("examples/mnist/net.prototxt", solver) == Path("repo/examples/mnist/net.prototxt")
    assert resolve_solver_net_path("net.prototxt", solver) == Path("repo/examples/mnist/net.prototxt")
    assert resolve_solver_net_path("other.prototxt", solver) is None


def test_check_on_a_solver_lints_its_nets(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "nets/train_test.prototxt", UNKNOWN_BOTTOM)
    write(tmp_path, "solver.prototxt", SOLVER)
    code, findings = json_findings(capsys, "solver.prototxt")
    assert code == 1
    assert [(f["file"], f["code"], f["state"]) for f in findings] == [
        ("nets/train_test.prototxt", "BL001", "TRAIN stages=train, TEST stages=val, TEST level=1 stages=small"),
    ]


def test_solver_naming_a_missing_net(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "solver.prototxt", 'train_net: "gone.prototxt"\nbase_lr: 0.1\n')
    code, findings = json_findings(capsys, "solver.prototxt")
    assert code == 1
    assert [(f["code"], f["line"], f["message"]) for f in findings] == [
        ("BL000", 1, "solver names a net that does not exist: 'gone.prototxt'"),
    ]


# ---------------------------------------------------------------------------
# explain / rules
# ---------------------------------------------------------------------------


def test_rules_lists_the_catalogue_as_json(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "rules", "--format", "json")
    rows = json.loads(out)
    codes = [row["code"] for row in rows]
    assert code == 0 and codes == sorted(codes)
    assert {"BL000", "BL001", "BL201", "BL901"} <= set(codes)
    assert set(rows[0]) == {"code", "name", "severity", "summary"}


def test_rules_text_is_one_plain_line_per_rule(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "rules")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("BL000  input-error ")
    assert any(line.startswith("BL201  backward-does-nothing ") and "  info     " in line for line in lines)
    assert all(line == line.rstrip() for line in lines)


def test_explain_prints_the_page_plainly_when_piped(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "explain", "bl201")
    assert code == 0 and "BL201" in out and "\x1b[" not in out


def test_explain_unknown_code_exits_2(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "explain", "BL777")
    assert code == 2 and "no rule 'BL777'" in err


# ---------------------------------------------------------------------------
# other inputs and failures
# ---------------------------------------------------------------------------


def test_binary_net_is_linted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from backprop_lint.caffe.schema import net_parameter_class

    net = net_parameter_class()()
    net.name = "binary"
    ip = net.layer.add(name="ip", type="InnerProduct")
    ip.bottom.append("missing")
    ip.top.append("ip")
    ip.inner_product_param.num_output = 2
    (tmp_path / "weights.caffemodel").write_bytes(net.SerializeToString())
    code, findings = json_findings(capsys, "weights.caffemodel")
    assert code == 1
    assert [(f["code"], f["file"], f["line"]) for f in findings] == [("BL001", "weights.caffemodel", None)]


def test_states_with_stage_lists_merge_without_mangling(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path, "broken.prototxt", UNKNOWN_BOTTOM)
    _, findings = json_findings(capsys, "broken.prototxt", "--stage", "a", "--stage", "b", "--level", "2")
    assert [f["state"] for f in findings] == ["TRAIN level=2 stages=a,b, TEST level=2 stages=a,b"]


def test_internal_error_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backprop_lint.linting.linter

    def crash(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(backprop_lint.linting.linter, "lint_state", crash)
    write(tmp_path, "clean.prototxt", CLEAN)
    write(tmp_path, "bad.prototxt", MALFORMED)
    code, out, err = run(capsys, ".", "--format", "json")
    document = json.loads(out)
    assert code == 2
    assert document["internal_errors"][0]["file"] == "clean.prototxt"
    assert document["internal_errors"][0]["error"].startswith("ZeroDivisionError: boom (test_cli.py:")
    assert [f["code"] for f in document["findings"]] == ["BL000"]  # the other file is still checked
    code, out, _ = run(capsys, "clean.prototxt", "--color", "never")
    assert "clean.prototxt: internal error: ZeroDivisionError: boom" in out and "please report" in out


def test_crash_outside_the_per_file_guard_is_one_line(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backprop_lint.cli.commands

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(backprop_lint.cli.commands, "lint_with_progress", crash)
    code, out, err = run(capsys, "x.prototxt")
    assert (code, out) == (2, "")
    assert err == (
        "backprop-lint: internal error: RuntimeError: unexpected (this is a bug in backprop-lint; please report it)\n"
    )


# ---------------------------------------------------------------------------
# Bounded output: at most N findings per file
# ---------------------------------------------------------------------------

MANY_UNKNOWN_FIELDS = (
    'name: "n"\n'
    'layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
    # distinct names: the same unknown field repeated is grouped into one BL403
    + "".join(f"bogus_field_{index}: 1\n" for index in range(30))
)


def test_findings_past_the_per_file_limit_are_counted_not_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    net = tmp_path / "many.prototxt"
    net.write_text(MANY_UNKNOWN_FIELDS)
    status, out, _ = run(capsys, "check", str(net), "--format", "json", "--max-findings-per-file", "0")
    everything = json.loads(out)
    total = len(everything["findings"])
    assert status == 1 and total > 10 and everything["not_shown"] == []
    status, out, _ = run(capsys, "check", str(net), "--format", "json", "--max-findings-per-file", "10")
    capped = json.loads(out)
    assert status == 1 and len(capped["findings"]) == 10
    assert capped["not_shown"] == [{"file": str(net), "count": total - 10}]
    # the most severe are kept: every error before any warning or info
    kept_severities = {f["severity"] for f in capped["findings"]}
    errors = [f for f in everything["findings"] if f["severity"] == "error"]
    assert len(errors) >= 10 and kept_severities == {"error"}
    status, out, _ = run(capsys, "check", str(net), "--max-findings-per-file", "10", "--color", "never")
    assert f"{total - 10} more findings in {net} not shown" in out


def test_max_findings_per_file_must_be_a_count(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--max-findings-per-file", "-3", "x.prototxt"])
    assert caught.value.code == 2
    assert "is not a count" in capsys.readouterr().err


def test_jobs_give_the_same_report_as_one_process(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--jobs N lints nets in forked processes; the output is byte for byte that of --jobs 1."""
    examples = Path(__file__).resolve().parent.parent / "fixtures" / "backward"
    for source in sorted(examples.glob("*.prototxt")):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "many.prototxt").write_text(MANY_UNKNOWN_FIELDS)
    (tmp_path / "broken.prototxt").write_text("layer { name: \n")
    outputs = {}
    for jobs in ("1", "3"):
        for fmt in ("json", "text"):
            status, out, _ = run(capsys, "check", str(tmp_path), "--format", fmt, "--jobs", jobs,
                                 "--max-findings-per-file", "5", "--color", "never")
            outputs[jobs, fmt] = (status, out)
    assert outputs["1", "json"] == outputs["3", "json"]
    assert outputs["1", "text"] == outputs["3", "text"]
    document = json.loads(outputs["3", "json"][1])
    assert len(document["files"]) >= 4 and document["not_shown"]
    assert any(f["code"] == "BL000" for f in document["findings"])


def test_jobs_must_be_one_or_more(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "--jobs", "0", "x.prototxt"])
    assert caught.value.code == 2
    assert "give 1 or more" in capsys.readouterr().err


def test_the_static_command_names_are_the_registered_ones() -> None:
    """`check` command lines are parsed with a parser that does not import the other
    commands' modules; the names that decide it must be the ones those modules register."""
    from backprop_lint.cli.commands import EXTERNAL_COMMANDS, OWN_COMMANDS, _subcommand_names, build_parser

    assert list(_subcommand_names(build_parser())) == [*OWN_COMMANDS, *EXTERNAL_COMMANDS]
    assert list(_subcommand_names(build_parser(check_only=True))) == ["check"]


def test_a_check_command_line_imports_no_other_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n')
    probe = ("import sys; from backprop_lint.cli.commands import main; code = main(sys.argv[1:]); "
             "print(sorted(m for m in sys.modules if m.startswith('backprop_lint.cli.')))")
    for argv in (["check", str(net)], [str(net)]):
        done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "backprop_lint.cli.graph" not in done.stdout and "backprop_lint.cli.backward" not in done.stdout
