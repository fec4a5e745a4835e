"""``--format text``: for people. Grouped by file, with code frames, reasons and fixes.

    nets/train.prototxt
    nets/train.prototxt:12:1: error BL201 frozen-by-propagate-down [TRAIN, TEST]
      `conv1` never learns
         11 │
      >  12 │ layer {
         13 │   name: "conv1"
      because `relu1` sets propagate_down: false
           → so Caffe prunes `conv1` in the backward sweep
      fix: remove `propagate_down: false` from `relu1` (--fix applies it)

Colour only on a terminal, and never when NO_COLOR is set (rich's own rules).
"""

from __future__ import annotations

from itertools import groupby

from backprop_lint.linting.findings import SEVERITIES
from backprop_lint.report.escape import printable
from backprop_lint.report.plain import rich_styles, unchanged_by_rich

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, TextIO, Tuple, Union

    from rich.console import Console
    from rich.text import Text

    from backprop_lint.linting.findings import Finding, FindingGroup
    from backprop_lint.linting.linter import LintReport
    from backprop_lint.report.plain import Piece

SEVERITY_STYLES = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
FRAME_BEFORE = 1
FRAME_AFTER = 3
#: a source line longer than this is shown as a window around the column, with ellipses
FRAME_MAX_WIDTH = 120
#: characters shown before the column in such a window
FRAME_CONTEXT_BEFORE = 40
ELLIPSIS = "…"


class Line:
    """One line of the report as styled pieces (a rich ``Text`` without importing rich).

    ``style`` applies to the whole line, as ``Text(..., style=)`` does.
    """

    __slots__ = ("pieces", "style")

    def __init__(self, *pieces: Union[str, Piece], style: str = "") -> None:
        self.pieces: List[Piece] = [(piece, "") if isinstance(piece, str) else piece for piece in pieces]
        self.style = style

    def append(self, text: str, style: str = "") -> None:
        self.pieces.append((text, style))

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.pieces)

    def to_rich(self) -> "Text":
        from rich.text import Text

        return Text.assemble(*self.pieces, style=self.style)


def make_console(stream: TextIO, color: Optional[bool] = None) -> "Console":
    """A console on ``stream``; ``color=None`` lets rich decide (TTY, NO_COLOR, TERM)."""
    from rich.console import Console

    if color is None:
        return Console(file=stream, highlight=False, soft_wrap=True, emoji=False)
    return Console(
        file=stream,
        highlight=False,
        soft_wrap=True,
        emoji=False,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
    )


def render(
    report: LintReport,
    stream: TextIO,
    *,
    color: Optional[bool] = None,
    show_fixes: bool = True,
    show_summary: bool = True,
) -> None:
    lines = report_lines(report, show_fixes, show_summary)
    if not rich_styles(stream, color) and unchanged_by_rich(text for line in lines for text, _ in line.pieces):
        stream.write("".join(line.plain + "\n" for line in lines))
        return
    console = make_console(stream, color)
    for line in lines:
        console.print(line.to_rich())


def report_lines(report: LintReport, show_fixes: bool = True, show_summary: bool = True) -> List[Line]:
    lines: List[Line] = []
    findings = report.all_findings
    lines_by_file: Dict[str, List[str]] = {file: text.split("\n") for file, text in report.sources.items()}
    for file, group in groupby(findings, key=lambda finding: finding.location.file):
        lines.append(Line(printable(file), style="bold underline"))
        for finding in group:
            lines.extend(finding_lines(finding, lines_by_file.get(file), show_fixes))
        lines.append(Line())
    for file, error in report.internal_errors:
        lines.append(
            Line(
                (f"{printable(file)}: ", "bold"),
                ("internal error: ", "bold red"),
                f"{printable(error)} (this is a bug in backprop-lint, please report it)",
            )
        )
    if show_summary:
        lines.append(summary(report))
    return lines


def finding_lines(finding: Finding, lines: Optional[List[str]], show_fixes: bool) -> List[Line]:
    header = Line(
        (f"{printable(str(finding.location))}: ", "bold"),
        (finding.severity, SEVERITY_STYLES[finding.severity]),
        " ",
        (finding.code, "bold"),
        " ",
        (finding.name, "dim"),
    )
    if finding.state:
        header.append(f" [{printable(finding.state)}]", style="magenta")
    shown = [header, Line("  " + printable(finding.message))]
    if lines is not None and finding.location.line:
        shown.extend(code_frame(lines, finding.location.line, finding.location.col))
    if finding.reasons:
        first, *rest = finding.reasons
        shown.append(Line(("  because ", "italic"), printable(first)))
        shown.extend(Line(("       → ", "dim"), printable(reason)) for reason in rest)
    if show_fixes and finding.fix is not None:
        shown.append(fix_line(finding))
    return shown


def fix_line(finding: Finding) -> Line:
    fix = finding.fix
    assert fix is not None
    if not fix.edits:  # advice only: the label says so, so nothing is appended to what may be a snippet
        return Line(("  fix (by hand): ", "bold green"), printable(fix.description))
    if fix.safe:
        note = "--fix applies it"
    else:
        note = "not applied by --fix: " + (fix.unsafe_reason or "unsafe")
    return Line(("  fix: ", "bold green"), printable(fix.description), (f" ({printable(note)})", "dim"))


def code_frame(lines: List[str], line: int, col: int) -> List[Line]:
    """A few numbered lines around ``line``, the line itself marked, a caret at ``col``.

    Long lines (a whole net on one line) show a window around ``col``; control
    characters are shown escaped, and the caret follows them.
    """
    first = max(1, line - FRAME_BEFORE)
    last = min(len(lines), line + FRAME_AFTER)
    width = len(str(last))
    frame: List[Line] = []
    for number in range(first, last + 1):
        source = lines[number - 1].rstrip("\r").expandtabs(4)
        shown, caret = frame_window(source, col if number == line else 1)
        marker = ">" if number == line else " "
        style = "bold" if number == line else "dim"
        frame.append(Line((f"  {marker} {number:>{width}} │ ", style), (shown, "" if number == line else "dim")))
        if number == line and col > 0:
            frame.append(Line(" " * (width + 7 + caret - 1) + "^", style="bold red"))
    return frame


def frame_window(source: str, col: int) -> Tuple[str, int]:
    """(the part of ``source`` to show, escaped, and the 1-based display column of ``col`` in it)."""
    index = max(col - 1, 0)
    if len(source) <= FRAME_MAX_WIDTH:
        return printable(source), len(printable(source[:index])) + 1
    start = max(0, min(index - FRAME_CONTEXT_BEFORE, len(source) - FRAME_MAX_WIDTH))
    end = start + FRAME_MAX_WIDTH
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(source) else ""
    shown = prefix + printable(source[start:end]) + suffix
    return shown, len(prefix) + len(printable(source[start:index])) + 1


def summary(report: LintReport) -> Line:
    findings = report.all_findings
    files = len(report.files)
    files_text = f"{files} file" + ("" if files == 1 else "s")
    if not findings and not report.internal_errors:
        return Line(f"All checks passed ({files_text}).", style="bold green")
    counts = [(severity, sum(1 for f in findings if f.severity == severity)) for severity in reversed(SEVERITIES)]
    parts = [
        f"{count} {severity}" + ("s" if count != 1 and severity != "info" else "")
        for severity, count in counts
        if count
    ]
    fixable = sum(1 for f in findings if f.fix and f.fix.safe and f.fix.edits)
    text = Line(f"Found {len(findings)} problem" + ("" if len(findings) == 1 else "s"), style="bold")
    if parts:
        text.append(f" ({', '.join(parts)})")
    text.append(f" in {files_text}.")
    if fixable:
        text.append(f" {fixable} fixable with --fix.", style="green")
    if report.internal_errors:
        text.append(f" {len(report.internal_errors)} internal error(s).", style="bold red")
    for file, count in sorted(report.not_shown.items()):
        text.append(f"\n{count} more finding" + ("" if count == 1 else "s") + f" in {file} not shown "
                    "(the most severe are listed first; --max-findings-per-file 0 shows them all).",
                    style="yellow")
        for group in report.grouped.get(file, ()):
            text.append(f"\n  {group_line(group)}", style="yellow")
    return text


def group_line(group: FindingGroup) -> str:
    """``BL403 field-caffe-cannot-read (error): 199800 not shown, first at 203:1, 204:1, ...``"""
    where = ", ".join(f"{at.line}:{at.col}" if at.line else "(the file)" for at in group.first)
    more = ", ..." if group.count > len(group.first) else ""
    return f"{group.code} {group.name} ({group.severity}): {group.count} not shown, first at {where}{more}"
