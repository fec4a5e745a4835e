"""``--format github``: GitHub Actions workflow commands, one annotation per finding.

``::error file=F,line=L,col=C,title=BL201 name::message``. Escaping follows
the Actions runner: in the message ``%``, CR and LF are percent-encoded; in
property values ``:`` and ``,`` are too.
"""

from __future__ import annotations

from backprop_lint.linting.linter import LintReport
from backprop_lint.linting.findings import Finding
from backprop_lint.report import reason_chain, relative_uri
from backprop_lint.report.escape import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, TextIO

COMMANDS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    properties: List[str] = [f"file={escape_property(printable(relative_uri(finding.location.file)))}"]
    if finding.location.line:
        properties.append(f"line={finding.location.line}")
        if finding.location.col:
            properties.append(f"col={finding.location.col}")
    properties.append(f"title={escape_property(f'{finding.code} {finding.name}')}")
    return f"::{COMMANDS[finding.severity]} {','.join(properties)}::{escape_data(message_of(finding))}"


def message_of(finding: Finding) -> str:
    """The annotation's text: its lines are ours; everything that comes from the net is escaped."""
    lines = [printable(finding.message) + (f" [{printable(finding.state)}]" if finding.state else "")]
    lines.extend(printable(line) for line in reason_chain(finding.reasons))
    if finding.fix:
        lines.append(f"fix: {printable(finding.fix.description)}")
    return "\n".join(lines)


def render(report: LintReport, stream: TextIO) -> None:
    for finding in report.all_findings:
        stream.write(annotation(finding) + "\n")
    for file, error in report.internal_errors:
        stream.write(
            f"::error file={escape_property(printable(relative_uri(file)))},title=backprop-lint internal error::"
            f"{escape_data(printable(error) + ' (please report this bug)')}\n"
        )
