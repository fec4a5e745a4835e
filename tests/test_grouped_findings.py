"""Findings past --max-findings-per-file: grouped per rule, and not even created where nothing can hide them."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import List, Tuple

import jsonschema
import pytest

from backprop_lint.linting.config import Config, ConfigFinder
from backprop_lint.linting.findings import GROUP_POSITIONS
from backprop_lint.linting.linter import LintReport, Linter, Overrides, _FixedConfig
from backprop_lint.report import json_output, sarif, text

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = json.loads((ROOT / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text())
LIMIT = 7


def _net(unknown_fields: int, extra: str = "") -> str:
    """A net with ``unknown_fields`` distinct misspelt fields (each its own BL403), and no loss (a BL201)."""
    return (
        'name: "n"\n'
        + extra
        + 'layer { name: "data" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
        + "".join(f"bogus_field_{index}: 1\n" for index in range(unknown_fields))
        + 'layer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n'
    )


def _lint(path: Path, limit: int, config: Config = Config()) -> LintReport:
    return Linter(_FixedConfig(config), Overrides(), max_findings_per_file=limit).lint_paths([path])


def _limited_afterwards(path: Path, limit: int, config: Config = Config()) -> LintReport:
    """Every finding created, then the limit applied: what the budget must give, faster."""
    linter = Linter(_FixedConfig(config), Overrides(), max_findings_per_file=0)
    report = linter.lint_paths([path])
    linter.max_findings_per_file = limit
    linter.limit_findings(report)
    return report


def _summary(report: LintReport) -> Tuple[object, ...]:
    return report.findings, report.errors, report.not_shown, report.grouped, bool(report.failing)


@pytest.mark.parametrize("count", [0, LIMIT - 1, LIMIT, LIMIT + 1, 60])
def test_rules_stop_at_the_limit_and_the_report_is_the_same(tmp_path: Path, count: int) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(_net(count))
    budgeted = _lint(path, LIMIT)
    assert _summary(budgeted) == _summary(_limited_afterwards(path, LIMIT))
    if count > LIMIT:
        groups = budgeted.grouped[str(path)]
        assert [group.code for group in groups] == ["BL403", "BL201"]  # the most severe first
        shown = min(GROUP_POSITIONS, count - LIMIT)
        assert groups[0].count == count - LIMIT
        assert [at.line for at in groups[0].first] == list(range(3 + LIMIT, 3 + LIMIT + shown))
        assert budgeted.not_shown[str(path)] == count - LIMIT + 1


def test_the_configuration_applies_to_findings_never_created(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(_net(40))
    for config in (
        Config(ignore=("BL403",)),
        Config(severity_overrides={"BL403": "info"}, severity_threshold="warning"),
        Config(severity_overrides={"BL403": "warning"}),
        Config(select=("BL2",)),
    ):
        assert _summary(_lint(path, LIMIT, config)) == _summary(_limited_afterwards(path, LIMIT, config)), config


def test_a_suppression_in_the_file_turns_the_budget_off(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    # any directive turns it off: one could silence some of the findings a budget would keep
    path.write_text(_net(40, extra="# backprop-lint: disable-file=BL201\n"))
    budgeted = _lint(path, LIMIT)
    assert _summary(budgeted) == _summary(_limited_afterwards(path, LIMIT))
    assert not budgeted.suppressed or all(f.code == "BL201" for f in budgeted.suppressed)


def test_reporters_say_how_many_are_grouped_and_where(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(_net(30))
    report = _lint(path, LIMIT)
    stream = io.StringIO()
    text.render(report, stream, color=False)
    shown = stream.getvalue()
    assert f"{30 - LIMIT + 1} more findings in {path} not shown" in shown
    assert f"BL403 field-caffe-cannot-read (error): {30 - LIMIT} not shown, first at {3 + LIMIT}:1," in shown
    document = json_output.to_document(report)
    assert document["not_shown"] == [{"file": str(path), "count": 30 - LIMIT + 1}]
    first: List[dict] = document["grouped"][0]["first"]
    assert document["grouped"][0]["count"] == 30 - LIMIT and first[0] == {"line": 3 + LIMIT, "column": 1}
    log = sarif.to_document(report)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [note["associatedRule"]["id"] for note in notes] == ["BL403", "BL201"]
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_no_limit_no_groups(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(_net(30))
    report = _lint(path, 0)
    assert report.grouped == {} and report.not_shown == {}
    assert "grouped" in json_output.to_document(report) and json_output.to_document(report)["grouped"] == []
    assert "invocations" not in sarif.to_document(report)["runs"][0]


def test_jobs_give_the_same_groups(tmp_path: Path) -> None:
    for index in range(3):
        (tmp_path / f"net{index}.prototxt").write_text(_net(20 + index))
    one = Linter(ConfigFinder(), Overrides(), max_findings_per_file=LIMIT, jobs=1).lint_paths([tmp_path])
    two = Linter(ConfigFinder(), Overrides(), max_findings_per_file=LIMIT, jobs=2).lint_paths([tmp_path])
    assert (one.findings, one.not_shown, one.grouped) == (two.findings, two.not_shown, two.grouped)
    assert one.grouped[str(tmp_path / "net2.prototxt")][0].count == 22 - LIMIT


def test_a_repeated_field_names_its_first_lines_and_says_there_are_more() -> None:
    from backprop_lint.caffe.model import Location, Warning_
    from backprop_lint.linting.rules.custom import MAX_LINES_SHOWN, grouped

    def warnings(count: int) -> List[Warning_]:
        return [Warning_("no field zz", Location("f", line, 1), "unknown-field") for line in range(3, 3 + count)]

    for count in (2, MAX_LINES_SHOWN, MAX_LINES_SHOWN + 1, MAX_LINES_SHOWN + 2, 1000):
        [(first, message)] = grouped(warnings(count))
        lines = [str(line) for line in range(4, 3 + count)]
        shown = ", ".join(lines[:MAX_LINES_SHOWN]) + (", ..." if len(lines) > MAX_LINES_SHOWN else "")
        where = f", at line{'s' if len(lines) > 1 else ''} {shown}"
        assert first.location == Location("f", 3, 1)
        assert message == f"no field zz (and {count - 1} more{where})"


def test_omitted_groups_of_one_rule_from_two_nets_of_a_file_merge_in_file_order() -> None:
    """A solver with two inline nets: each net's never-created findings of one rule become one group."""
    from backprop_lint.caffe.model import Location
    from backprop_lint.linting.findings import FindingGroup
    from backprop_lint.linting.linter import group_findings

    later = FindingGroup("s.prototxt", "BL403", "unknown-field", "warning", 2, (Location("s.prototxt", 30, 1),))
    earlier = FindingGroup("s.prototxt", "BL403", "unknown-field", "warning", 1, (Location("s.prototxt", 3, 5),))
    [group] = group_findings("s.prototxt", [], [later, earlier])
    assert group.count == 3
    assert [(at.line, at.col) for at in group.first] == [(3, 5), (30, 1)]
