"""``--format concise``: one line per finding, for grep, editors' quickfix lists and long logs.

    nets/train.prototxt:12:1: BL201 [error] `conv1` never learns [TRAIN, TEST]

No code frames, reasons or fixes (``--format text`` has them); names from the
net are shown escaped, so one finding is always exactly one line.
"""

from __future__ import annotations

from backprop_lint.linting.findings import Finding
from backprop_lint.linting.linter import LintReport
from backprop_lint.report.escape import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO


def line_of(finding: Finding) -> str:
    state = f" [{finding.state}]" if finding.state else ""
    fixable = " (fixable)" if finding.fix is not None and finding.fix.safe and finding.fix.edits else ""
    return printable(f"{finding.location}: {finding.code} [{finding.severity}] {finding.message}{state}{fixable}")


def render(report: LintReport, stream: TextIO) -> None:
    for finding in report.all_findings:
        stream.write(line_of(finding) + "\n")
    for file, error in report.internal_errors:
        line = f"{file}: internal error: {error} (this is a bug in backprop-lint, please report it)"
        stream.write(printable(line) + "\n")
