"""Adopting backprop-lint on an existing model zoo (issue 8, item 4): `check`'s adoption options, end to end."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from backprop_lint.cli.commands import main
from backprop_lint.linting.baseline import BaselineError, load_baseline
from backprop_lint.linting.rules.docs import CHECKOUT_PAGES
from backprop_lint.linting.suppress import add_suppressions
from backprop_lint.report import PROJECT_URL, RULES_URL, rule_page_url
from example_nets import NO_LOSS, UNKNOWN_BOTTOM

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


CLEAN = """name: "clean"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""


def run(capsys: pytest.CaptureFixture, *argv: str) -> Tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def codes_of(capsys: pytest.CaptureFixture, *argv: str) -> List[str]:
    _, out, _ = run(capsys, *argv, "--format", "json")
    return [finding["code"] for finding in json.loads(out)["findings"]]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)


# ---------------------------------------------------------------------------
# --add-suppressions
# ---------------------------------------------------------------------------


def test_add_suppressions_silences_every_finding(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.prototxt").write_text(UNKNOWN_BOTTOM)
    (tmp_path / "deploy.prototxt").write_text(NO_LOSS)
    assert codes_of(capsys, ".") == ["BL001", "BL201"]
    code, out, err = run(capsys, ".", "--add-suppressions")
    assert code == 0 and out == ""
    assert err == "Added 2 suppressions in 2 files.\n"
    broken = (tmp_path / "broken.prototxt").read_text()
    assert "# backprop-lint: disable=BL001\nlayer {\n  name: \"ip\"" in broken
    assert (tmp_path / "deploy.prototxt").read_text().startswith("# backprop-lint: disable-file=BL201\nname:")
    assert run(capsys, ".") == (0, "All checks passed (2 files).\n", "")


def test_add_suppressions_merges_into_a_directive_and_keeps_crlf() -> None:
    text = UNKNOWN_BOTTOM.replace("layer {\n  name: \"ip\"", "# backprop-lint: disable=BL202 \nlayer {\n  name: \"ip\"")
    crlf = text.replace("\n", "\r\n")
    from backprop_lint import lint

    findings = lint(crlf).findings
    assert [f.code for f in findings] == ["BL001", "BL901"]  # BL901: the BL202 directive silences nothing
    result = add_suppressions(crlf, findings)
    assert "# backprop-lint: disable=BL202,BL001 \r\nlayer {" in result.new_text
    assert result.added == 1
    assert result.new_text.count("\r\n") == crlf.count("\r\n") and "\n" not in result.new_text.replace("\r\n", "")


def test_add_suppressions_indents_like_the_layer() -> None:
    text = 'name: "n"\n  layer { name: "s" type: "Silence" bottom: "nothing" }\n'
    from backprop_lint import lint

    result = add_suppressions(text, lint(text).findings)
    assert result.new_text == (
        'name: "n"\n  # backprop-lint: disable=BL001\n  layer { name: "s" type: "Silence" bottom: "nothing" }\n'
    )


def test_add_suppressions_refuses_stdin(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "-", "--add-suppressions")
    assert code == 2 and "cannot change stdin" in err


# ---------------------------------------------------------------------------
# baselines
# ---------------------------------------------------------------------------


def test_baseline_hides_recorded_findings_even_after_lines_move(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    nets = tmp_path / "nets"
    nets.mkdir()
    (nets / "broken.prototxt").write_text(UNKNOWN_BOTTOM)
    code, out, err = run(capsys, "nets", "--write-baseline", "baseline.json")
    assert code == 0 and out == ""
    assert err.startswith("Recorded 1 finding in baseline.json;")
    document = json.loads((tmp_path / "baseline.json").read_text())
    assert document["version"] == 1
    assert [(e["file"], e["code"], e["layer"], e["count"]) for e in document["findings"]] == [
        ("nets/broken.prototxt", "BL001", "ip", 1)
    ]
    (nets / "broken.prototxt").write_text("# a comment\n\n" + UNKNOWN_BOTTOM)  # the finding moves two lines down
    code, out, err = run(capsys, "nets", "--baseline", "baseline.json")
    assert (code, out) == (0, "All checks passed (1 file).\n")
    assert err == "1 finding hidden by the baseline baseline.json.\n"
    # from another working directory the baseline still matches (paths are relative to the baseline's folder)
    os.chdir(nets)
    assert run(capsys, "broken.prototxt", "--baseline", "../baseline.json")[0] == 0


def test_baselined_findings_do_not_fail_the_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.prototxt").write_text(UNKNOWN_BOTTOM)
    assert run(capsys, "broken.prototxt")[0] == 1
    run(capsys, "broken.prototxt", "--write-baseline", "b.json")
    assert run(capsys, "broken.prototxt", "--baseline", "b.json", "--fail-on", "info")[0] == 0


def test_baseline_reports_new_findings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "broken.prototxt").write_text(UNKNOWN_BOTTOM)
    run(capsys, "broken.prototxt", "--write-baseline", "b.json")
    (tmp_path / "deploy.prototxt").write_text(NO_LOSS)
    assert codes_of(capsys, ".", "--baseline", "b.json") == ["BL201"]


def test_baseline_hides_a_key_at_most_count_times(tmp_path: Path) -> None:
    from backprop_lint.caffe.model import Location
    from backprop_lint.linting.baseline import apply_baseline, baseline_text
    from backprop_lint.linting.findings import Finding

    net = str(tmp_path / "a.prototxt")
    same = Finding("BL202", "frozen", "warning", Location(net, 3, 1), "`ip` never learns", layer="ip", state="TRAIN")
    moved = Finding("BL202", "frozen", "warning", Location(net, 9, 1), "`ip` never learns", layer="ip", state="TRAIN")
    baseline = tmp_path / "b.json"
    baseline.write_text(baseline_text([same], baseline))
    result = apply_baseline([same, moved], load_baseline(baseline), baseline, [net])
    assert (result.hidden, result.kept, result.stale) == ([same], [moved], 0)
    result = apply_baseline([], load_baseline(baseline), baseline, [net])
    assert result.stale == 1
    assert apply_baseline([], load_baseline(baseline), baseline, []).stale == 0  # not checked: not stale


def test_baseline_applies_before_the_per_file_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with_unknown_field = CLEAN.replace("num_output: 4", "num_output: 4 no_such_field: 1")
    (tmp_path / "a.prototxt").write_text(with_unknown_field)
    assert codes_of(capsys, "a.prototxt") == ["BL403"]
    run(capsys, "a.prototxt", "--write-baseline", "b.json", "--max-findings-per-file", "1")
    no_loss = with_unknown_field.replace(
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }\n', ""
    )
    (tmp_path / "a.prototxt").write_text(no_loss)
    # the recorded error is the most severe finding: limited first, it would leave nothing to show
    assert codes_of(capsys, "a.prototxt", "--baseline", "b.json", "--max-findings-per-file", "1") == ["BL201"]


def test_write_baseline_and_statistics_ignore_the_per_file_limit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a.prototxt").write_text(NO_LOSS.replace("num_output: 4", "num_output: 4 no_such_field: 1"))
    run(capsys, "a.prototxt", "--write-baseline", "b.json", "--max-findings-per-file", "1")
    recorded = json.loads((tmp_path / "b.json").read_text())["findings"]
    assert sorted(entry["code"] for entry in recorded) == ["BL201", "BL403"]
    _, out, _ = run(capsys, "a.prototxt", "--statistics", "--max-findings-per-file", "1")
    assert len(out.splitlines()) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not valid JSON"),
        ('{"version": 7, "findings": []}', "not a backprop-lint baseline"),
        ('{"version": 1, "findings": [{"file": "x"}]}', "findings[0] needs"),
    ],
)
def test_bad_baseline_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture, content: str, message: str
) -> None:
    (tmp_path / "clean.prototxt").write_text(CLEAN)
    (tmp_path / "b.json").write_text(content)
    code, out, err = run(capsys, "clean.prototxt", "--baseline", "b.json")
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
    with pytest.raises(BaselineError):
        load_baseline(tmp_path / "b.json")


# ---------------------------------------------------------------------------
# --statistics, --format concise, --quiet, --output-file
# ---------------------------------------------------------------------------


def test_statistics_counts_per_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a.prototxt").write_text(NO_LOSS)
    (tmp_path / "b.prototxt").write_text(NO_LOSS.replace("features", "other"))
    (tmp_path / "c.prototxt").write_text(UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, ".", "--statistics")
    assert code == 1
    assert out.splitlines() == [
        "2  BL201  backward-does-nothing  info     (2 fixable)",
        "1  BL001  unknown-bottom-blob    error",
    ]
    _, out, _ = run(capsys, ".", "--statistics", "--format", "json")
    assert json.loads(out) == [
        {"code": "BL201", "name": "backward-does-nothing", "severity": "info", "count": 2, "fixable": 2},
        {"code": "BL001", "name": "unknown-bottom-blob", "severity": "error", "count": 1, "fixable": 0},
    ]


def test_concise_format_is_one_line_per_finding(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.prototxt").write_text(UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "c.prototxt", "--format", "concise")
    assert code == 1
    assert out == (
        "c.prototxt:3:1: BL001 [error] Caffe refuses this net in `ip`: \"Unknown bottom blob 'missing' "
        "(layer 'ip', bottom index 0)\" [TRAIN, TEST]\n"
    )


def test_quiet_prints_findings_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "clean.prototxt").write_text(CLEAN)
    assert run(capsys, "clean.prototxt", "--quiet") == (0, "", "")
    (tmp_path / "c.prototxt").write_text(UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "c.prototxt", "-q")
    assert code == 1 and "BL001" in out and "Found" not in out


def test_output_file_is_written_whole(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.prototxt").write_text(UNKNOWN_BOTTOM)
    (tmp_path / "report.json").write_text("old report")
    code, out, err = run(capsys, "c.prototxt", "--format", "json", "--output-file", "report.json")
    assert (code, out, err) == (1, "", "")
    assert json.loads((tmp_path / "report.json").read_text())["findings"][0]["code"] == "BL001"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_new_output_file_gets_the_usual_permissions(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.prototxt").write_text(CLEAN)
    umask = os.umask(0o022)
    try:
        assert run(capsys, "c.prototxt", "-o", "report.txt")[0] == 0
    finally:
        os.umask(umask)
    assert (tmp_path / "report.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "report.txt").read_text() == "All checks passed (1 file).\n"


def test_output_file_in_a_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.prototxt").write_text(CLEAN)
    code, out, err = run(capsys, "c.prototxt", "-o", "no/such/dir/report.txt")
    assert code == 2 and out == ""
    assert err.startswith("backprop-lint: no/such/dir/report.txt: error: cannot write the report:")
    assert err.count("\n") == 1


# ---------------------------------------------------------------------------
# stdin
# ---------------------------------------------------------------------------


def feed_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))


def test_stdin_with_a_name_and_its_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "backprop-lint.toml").write_text('[per-file-ignores]\n"legacy_*.prototxt" = ["BL001"]\n')
    feed_stdin(monkeypatch, UNKNOWN_BOTTOM)
    assert run(capsys, "-", "--stdin-filename", "zoo/legacy_a.prototxt") == (0, "All checks passed (1 file).\n", "")
    feed_stdin(monkeypatch, UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "-", "--stdin-filename", "zoo/train.prototxt", "--format", "concise")
    assert code == 1 and out.startswith("zoo/train.prototxt:3:1: BL001 ")
    feed_stdin(monkeypatch, UNKNOWN_BOTTOM)
    code, out, _ = run(capsys, "-", "--format", "concise")
    assert code == 1 and out.startswith("<stdin>:3:1: BL001 ")


def test_stdin_filename_without_stdin_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "x.prototxt", "--stdin-filename", "y.prototxt")
    assert code == 2 and "add `-` to the paths" in err


# ---------------------------------------------------------------------------
# nothing found
# ---------------------------------------------------------------------------


def test_an_empty_folder_is_not_a_pass(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no nets here")
    code, out, _ = run(capsys, "empty", "--format", "concise")
    assert code == 1
    assert out.startswith("empty: BL000 [error] no net found under 'empty'")
    code, out, _ = run(capsys, "empty")
    assert code == 1 and "All checks passed" not in out


def test_an_unreadable_folder_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: "os.PathLike[str] | str" = ".") -> "os._ScandirIterator[str]":
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, _ = run(capsys, "locked", "--format", "concise")
    assert code == 1
    assert out == (
        "locked: BL000 [error] cannot search this directory: permission denied: you cannot read it "
        "(or a directory on its path); its nets were not checked\n"
    )


# ---------------------------------------------------------------------------
# unknown codes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_unknown_code_on_the_command_line_is_refused(capsys: pytest.CaptureFixture, option: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", option, "BL999", "x.prototxt"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "no rule has the code 'BL999'; did you mean BL" in err


@pytest.mark.parametrize(
    "toml, key",
    [
        ('select = ["BL999"]', "select"),
        ('ignore = ["BL5"]', "ignore"),
        ('[severity]\nBL777 = "error"', "severity.BL777"),
        ('[per-file-ignores]\n"*.prototxt" = ["BL2O1"]', "per-file-ignores.*.prototxt"),
    ],
)
def test_unknown_code_in_the_configuration_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture, toml: str, key: str
) -> None:
    (tmp_path / "backprop-lint.toml").write_text(toml + "\n")
    (tmp_path / "clean.prototxt").write_text(CLEAN)
    code, out, err = run(capsys, "clean.prototxt")
    assert code == 2 and out == ""
    assert f"key '{key}'" in err and err.count("\n") == 1


def test_known_prefixes_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "clean.prototxt").write_text(CLEAN)
    assert run(capsys, "clean.prototxt", "--select", "BL2,BL00,ALL", "--ignore", "BL901")[0] == 0


# ---------------------------------------------------------------------------
# SARIF rules
# ---------------------------------------------------------------------------


def test_sarif_rules_carry_the_rule_page(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "c.prototxt").write_text(NO_LOSS)
    _, out, _ = run(capsys, "c.prototxt", "--format", "sarif")
    rules = {rule["id"]: rule for rule in json.loads(out)["runs"][0]["tool"]["driver"]["rules"]}
    bl201 = rules["BL201"]
    page = (CHECKOUT_PAGES / "BL201.md").read_text()
    assert bl201["help"] == {"text": page, "markdown": page}
    assert bl201["fullDescription"]["text"].startswith("Reports a net that has no loss")
    assert "Caffe decides at load time" in bl201["fullDescription"]["text"]
    assert bl201["helpUri"] == rule_page_url("BL201")
    assert all("fullDescription" in rule and "help" in rule for rule in rules.values())


def test_help_uris_come_from_the_declared_project_urls() -> None:
    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Homepage"] == PROJECT_URL
    assert urls["Rules"] == RULES_URL
    # the rule pages are published at rules/<CODE>.md of the repository: that file exists for every rule
    prefix = PROJECT_URL + "/blob/main/"
    assert rule_page_url("BL201").startswith(prefix)
    assert (REPO / rule_page_url("BL201")[len(prefix):]).is_file()
