"""``check --statistics``: how many findings each code has, most frequent first.

    12  BL201  backward-does-nothing  warning  (12 fixable)
     3  BL402  load-warning           warning

With ``--format json``: a list of ``{"code", "name", "severity", "count",
"fixable"}`` objects in the same order. Adopting backprop-lint on a model zoo
starts here: which codes to fix, which to ignore, which to baseline.
"""

from __future__ import annotations

import json

from backprop_lint.caffe.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, TextIO

    from backprop_lint.linting.linter import LintReport


class CodeCount(Record):
    """How many findings one code has (and how many of them are fixable)."""

    __slots__ = ("code", "name", "severity", "count", "fixable")
    code: str
    name: str
    severity: str
    count: int
    fixable: int

    def __init__(self, code: str, name: str, severity: str, count: int = 0, fixable: int = 0) -> None:
        self.code = code
        self.name = name
        self.severity = severity
        self.count = count
        self.fixable = fixable


def count_codes(report: LintReport) -> List[CodeCount]:
    counts: Dict[str, CodeCount] = {}
    for finding in report.all_findings:
        entry = counts.setdefault(finding.code, CodeCount(finding.code, finding.name, finding.severity))
        entry.count += 1
        if finding.fix is not None and finding.fix.safe and finding.fix.edits:
            entry.fixable += 1
    return sorted(counts.values(), key=lambda entry: (-entry.count, entry.code))


def render(report: LintReport, stream: TextIO, *, as_json: bool = False) -> None:
    rows = count_codes(report)
    if as_json:
        json.dump([row.as_dict() for row in rows], stream, indent=2)
        stream.write("\n")
        return
    if not rows:
        stream.write(f"No findings ({len(report.files)} file{'s' if len(report.files) != 1 else ''}).\n")
        return
    count_width = len(str(rows[0].count))
    name_width = max(len(row.name) for row in rows)
    for row in rows:
        fixable = f"  ({row.fixable} fixable)" if row.fixable else ""
        line = f"{row.count:>{count_width}}  {row.code}  {row.name:<{name_width}}  {row.severity:<7}{fixable}"
        stream.write(line.rstrip() + "\n")

