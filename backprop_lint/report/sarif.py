"""``--format sarif``: SARIF 2.1.0, for GitHub code scanning and other viewers.

One run; ``tool.driver.rules`` lists the whole catalogue (id, name,
shortDescription, fullDescription (the page's *What it does* and *Why is this
bad?*), help (the whole page, as text and Markdown), helpUri to the published
rule page, defaultConfiguration.level); each
result points at its rule by ``ruleId`` and ``ruleIndex``. URIs are relative
to the working directory (``uriBaseId`` ``%SRCROOT%``) when the file is inside
it. Fixes are included when a finding has concrete edits.
"""

from __future__ import annotations

import json
from pathlib import Path

from backprop_lint._version import __version__
from backprop_lint.linting.linter import LintReport, RuleInfo, rule_catalogue
from backprop_lint.linting.findings import Finding, FindingGroup, Fix
from backprop_lint.linting.rules.docs import RulePage, page_path, parse_page
from backprop_lint.report import PROJECT_URL, reason_chain, relative_uri, rule_page_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, TextIO

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def to_document(report: LintReport, rules: Sequence[RuleInfo] = ()) -> Dict[str, Any]:
    catalogue = list(rules) or rule_catalogue()
    findings = report.all_findings
    known = {rule.code for rule in catalogue}
    # a finding from a code the catalogue lacks still needs a rule entry to point at
    catalogue += [
        RuleInfo(f.code, f.name, f.severity, f.name) for f in _first_per_code(findings) if f.code not in known
    ]
    index = {rule.code: position for position, rule in enumerate(catalogue)}
    run: Dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "backprop-lint",
                "version": __version__,
                "informationUri": PROJECT_URL,
                "rules": [rule_descriptor(rule) for rule in catalogue],
            }
        },
        "originalUriBaseIds": {
            "%SRCROOT%": {"uri": Path.cwd().as_uri() + "/", "description": {"text": "where backprop-lint ran"}}
        },
        "results": [result(finding, index[finding.code]) for finding in findings],
        "columnKind": "unicodeCodePoints",
    }
    notifications = [
        {"level": "error", "message": {"text": f"{file}: {error} (please report this bug)"}}
        for file, error in report.internal_errors
    ]
    notifications += [
        group_notification(group, index) for file in sorted(report.grouped) for group in report.grouped[file]
    ]
    if notifications:
        run["invocations"] = [
            {"executionSuccessful": not report.internal_errors, "toolExecutionNotifications": notifications}
        ]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def group_notification(group: FindingGroup, index: Dict[str, int]) -> Dict[str, Any]:
    """Findings past --max-findings-per-file: how many of one rule, and where the first ones are."""
    notification: Dict[str, Any] = {
        "level": "note",
        "message": {"text": f"{group.count} more {group.code} ({group.name}) finding{'s' if group.count != 1 else ''} "
                            f"in {group.file} not shown (--max-findings-per-file 0 shows them all)"},
        "locations": [{"physicalLocation": physical_location(group.file, at.line, at.col)} for at in group.first],
    }
    if group.code in index:
        notification["associatedRule"] = {"id": group.code, "index": index[group.code]}
    return notification


def _first_per_code(findings: Sequence[Finding]) -> List[Finding]:
    seen: Dict[str, Finding] = {}
    for finding in findings:
        seen.setdefault(finding.code, finding)
    return list(seen.values())


def rule_descriptor(rule: RuleInfo) -> Dict[str, Any]:
    descriptor: Dict[str, Any] = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "helpUri": rule_page_url(rule.code),
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
    }
    page = rule_page(rule.code)
    if page is not None:
        descriptor["fullDescription"] = {"text": full_description(page)}
        descriptor["help"] = {"text": page.text, "markdown": page.text}
    return descriptor


def rule_page(code: str) -> Optional[RulePage]:
    path = page_path(code)
    return parse_page(path.read_text(encoding="utf-8")) if path is not None else None


def full_description(page: RulePage) -> str:
    """The page's *What it does* and *Why is this bad?*, each as one paragraph."""
    parts = [page.sections.get("What it does", ""), page.sections.get("Why is this bad?", "")]
    return "\n\n".join(" ".join(part.split()) for part in parts if part)


def result(finding: Finding, rule_index: int) -> Dict[str, Any]:
    text = finding.message
    if finding.reasons:
        text += "\n" + "\n".join(reason_chain(finding.reasons))
    entry: Dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [
            {"physicalLocation": physical_location(finding.location.file, finding.location.line, finding.location.col)}
        ],
        "properties": {"state": finding.state, "layer": finding.layer, "name": finding.name},
    }
    if finding.fix and finding.fix.edits:
        entry["fixes"] = [fix_object(finding.fix)]
    return entry


def artifact_location(file: str) -> Dict[str, Any]:
    uri = relative_uri(file)
    location: Dict[str, Any] = {"uri": uri}
    if not uri.startswith("/") and not uri.startswith("<"):
        location["uriBaseId"] = "%SRCROOT%"
    return location


def physical_location(file: str, line: int, col: int) -> Dict[str, Any]:
    location: Dict[str, Any] = {"artifactLocation": artifact_location(file)}
    if line > 0:
        region: Dict[str, Any] = {"startLine": line}
        if col > 0:
            region["startColumn"] = col
        location["region"] = region
    return location


def fix_object(fix: Fix) -> Dict[str, Any]:
    by_file: Dict[str, List[Dict[str, Any]]] = {}
    for edit in fix.edits:
        by_file.setdefault(edit.file, []).append(
            {
                "deletedRegion": {
                    "startLine": edit.start_line,
                    "startColumn": edit.start_col,
                    "endLine": edit.end_line,
                    "endColumn": edit.end_col,
                },
                "insertedContent": {"text": edit.text},
            }
        )
    return {
        "description": {"text": fix.description},
        "artifactChanges": [
            {"artifactLocation": artifact_location(file), "replacements": replacements}
            for file, replacements in by_file.items()
        ],
    }


def render(report: LintReport, stream: TextIO) -> None:
    json.dump(to_document(report), stream, indent=2)
    stream.write("\n")
