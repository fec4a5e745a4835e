"""``--format json``: a stable, documented, sorted document.

Schema (``version`` 1; fields are only ever added, never renamed)::

    {
      "version": 1,
      "tool": {"name": "backprop-lint", "version": "0.1.0"},
      "files": ["nets/a.prototxt", ...],          # every file checked
      "summary": {"error": 1, "warning": 0, "info": 2, "fixable": 1, "files": 3},
      "findings": [
        {
          "code": "BL201", "name": "...", "severity": "error" | "warning" | "info",
          "file": "nets/a.prototxt", "line": 12, "column": 1,   # null: the whole file
          "layer": "conv1" | null,
          "state": "TRAIN, TEST",
          "message": "...",
          "reasons": ["...", ...],
          "fix": null | {
            "description": "...", "safe": true, "unsafe_reason": "",
            "edits": [{"file": "...", "start": {"line": 3, "column": 1},
                       "end": {"line": 3, "column": 1}, "text": "..."}]
          }
        }
      ],
      "internal_errors": [{"file": "...", "error": "..."}],
      "not_shown": [{"file": "...", "count": 5}],  # findings past --max-findings-per-file
      "grouped": [                                 # the same findings, one entry per file and rule
        {"file": "...", "code": "BL403", "name": "...", "severity": "error", "count": 5,
         "first": [{"line": 40, "column": 1}, ...]}  # where the first (at most 5) are
      ]
    }

Findings are sorted by file, line, column, code. Input errors (BL000) are
findings like any other.
"""

from __future__ import annotations

import json

from backprop_lint._version import __version__
from backprop_lint.linting.linter import LintReport
from backprop_lint.linting.findings import SEVERITIES, Finding, FindingGroup, Fix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, TextIO

SCHEMA_VERSION = 1


def to_document(report: LintReport) -> Dict[str, Any]:
    findings = report.all_findings
    summary: Dict[str, int] = {severity: 0 for severity in SEVERITIES}
    for finding in findings:
        summary[finding.severity] += 1
    summary["fixable"] = sum(1 for finding in findings if finding.fix and finding.fix.safe and finding.fix.edits)
    summary["files"] = len(report.files)
    return {
        "version": SCHEMA_VERSION,
        "tool": {"name": "backprop-lint", "version": __version__},
        "files": list(report.files),
        "summary": summary,
        "findings": [finding_to_json(finding) for finding in findings],
        "internal_errors": [{"file": file, "error": error} for file, error in report.internal_errors],
        "not_shown": [{"file": file, "count": count} for file, count in sorted(report.not_shown.items())],
        "grouped": [group_to_json(group) for file in sorted(report.grouped) for group in report.grouped[file]],
    }


def group_to_json(group: FindingGroup) -> Dict[str, Any]:
    return {
        "file": group.file,
        "code": group.code,
        "name": group.name,
        "severity": group.severity,
        "count": group.count,
        "first": [{"line": at.line or None, "column": at.col if at.line else None} for at in group.first],
    }


def finding_to_json(finding: Finding) -> Dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity,
        "file": finding.location.file,
        # no position (the whole file: missing, too big, not a file...): null, as in `simulate`
        "line": finding.location.line or None,
        "column": finding.location.col if finding.location.line else None,
        "layer": finding.layer,
        "state": finding.state,
        "message": finding.message,
        "reasons": list(finding.reasons),
        "fix": fix_to_json(finding.fix) if finding.fix else None,
    }


def fix_to_json(fix: Fix) -> Dict[str, Any]:
    return {
        "description": fix.description,
        "safe": fix.safe,
        "unsafe_reason": fix.unsafe_reason,
        "edits": [
            {
                "file": edit.file,
                "start": {"line": edit.start_line, "column": edit.start_col},
                "end": {"line": edit.end_line, "column": edit.end_col},
                "text": edit.text,
            }
            for edit in fix.edits
        ],
    }


def render(report: LintReport, stream: TextIO) -> None:
    # one write: json.dump writes piece by piece, a million writes for a large report
    stream.write(json.dumps(to_document(report), indent=2, sort_keys=False) + "\n")
