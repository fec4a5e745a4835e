"""Applying findings' fixes to a file: byte-preserving, all-or-nothing.

Edits are applied from the end of the file backwards so earlier positions stay
valid; everything outside an edit, comments and line endings included, is kept
byte for byte, and inserted lines end as the file's lines do (CRLF or LF). A fix whose edits overlap an already accepted fix is left for
the next pass (the caller re-lints and fixes again). Files are replaced
atomically: written to a temporary file in the same directory, then renamed.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Sequence, Tuple

from backprop_lint.linting.findings import Finding, Fix, TextEdit


class EditOutOfRange(ValueError):
    """An edit names a position the text does not have."""


@dataclass
class FixPlan:
    """What --fix will do to one file's text."""

    applied: List[Finding] = field(default_factory=list)
    #: fixable but overlapping an applied fix: will be retried after re-linting
    deferred: List[Finding] = field(default_factory=list)
    #: (finding, why --fix will not apply it)
    refused: List[Tuple[Finding, str]] = field(default_factory=list)
    new_text: str = ""


def is_applicable(fix: Fix) -> bool:
    return fix.safe and bool(fix.edits)


def refusal_reason(fix: Fix) -> str:
    if not fix.edits:
        return "the fix is advice only; change the net by hand"
    return fix.unsafe_reason or "the fix is marked unsafe"


def plan_fixes(text: str, file: str, findings: Iterable[Finding]) -> FixPlan:
    """Choose non-overlapping safe fixes for ``file`` and apply them to ``text``."""
    plan = FixPlan(new_text=text)
    offsets = LineOffsets(text)
    accepted: List[Tuple[int, int, TextEdit]] = []
    seen_edit_sets: set = set()
    for finding in sorted(findings, key=Finding.sort_key):
        fix = finding.fix
        if fix is None or not fix.edits:  # advice only: nothing for --fix to do or to refuse
            continue
        if not is_applicable(fix):
            plan.refused.append((finding, refusal_reason(fix)))
            continue
        if any(edit.file != file for edit in fix.edits):
            plan.refused.append((finding, "the fix edits another file"))
            continue
        if fix.edits in seen_edit_sets:  # the same fix reported for several states or rules
            plan.applied.append(finding)
            continue
        spans = [
            (offsets.offset(e.start_line, e.start_col), offsets.offset(e.end_line, e.end_col), e) for e in fix.edits
        ]
        if any(start > end for start, end, _ in spans):
            plan.refused.append((finding, "the fix has an edit that ends before it starts"))
            continue
        if any(_overlaps(span, other) for span in spans for other in accepted):
            plan.deferred.append(finding)
            continue
        accepted.extend(spans)
        seen_edit_sets.add(fix.edits)
        plan.applied.append(finding)
    plan.new_text = _apply_spans(text, accepted)
    return plan


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    """``text`` with ``edits`` applied (they must not overlap)."""
    offsets = LineOffsets(text)
    spans = [(offsets.offset(e.start_line, e.start_col), offsets.offset(e.end_line, e.end_col), e) for e in edits]
    for index, span in enumerate(spans):
        if any(_overlaps(span, other) for other in spans[index + 1 :]):
            raise ValueError("overlapping edits")
    return _apply_spans(text, spans)


def line_ending(text: str) -> str:
    """The file's own line ending: CRLF when most of its lines end so, else LF."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def _with_line_ending(inserted: str, newline: str) -> str:
    if newline == "\n":
        return inserted
    return inserted.replace("\r\n", "\n").replace("\n", newline)


def _apply_spans(text: str, spans: List[Tuple[int, int, TextEdit]]) -> str:
    # Sorting by (start, end) then applying from the end keeps insertions at the same point in order.
    newline = line_ending(text)
    for start, end, edit in sorted(spans, key=lambda span: (span[0], span[1]), reverse=True):
        text = text[:start] + _with_line_ending(edit.text, newline) + text[end:]
    return text


def _overlaps(a: Tuple[int, int, TextEdit], b: Tuple[int, int, TextEdit]) -> bool:
    """Two replaced ranges overlap; two insertions at one point conflict too."""
    (a_start, a_end, _), (b_start, b_end, _) = a, b
    if a_start == a_end == b_start == b_end:
        return True
    return a_start < b_end and b_start < a_end


class LineOffsets:
    """Converts 1-based (line, column) positions to string offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for index, char in enumerate(text):
            if char == "\n":
                self.starts.append(index + 1)

    def offset(self, line: int, col: int) -> int:
        if not 1 <= line <= len(self.starts):
            raise EditOutOfRange(f"line {line} is outside the file (1..{len(self.starts)})")
        start = self.starts[line - 1]
        line_end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        offset = start + col - 1
        # A column one past the end of a line (just before its newline) is valid.
        if col < 1 or offset > line_end:
            raise EditOutOfRange(f"column {col} is outside line {line}")
        return offset


def read_source(path: Path) -> str:
    """A text file exactly as stored (no newline translation)."""
    return path.read_bytes().decode("utf-8")


def _new_file_mode() -> int:
    """The mode ``open()`` would give a new file (0o666 less the umask), not mkstemp's private 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one rename, keeping its permission bits."""
    directory = path.resolve().parent
    mode = path.stat().st_mode & 0o7777 if path.exists() else _new_file_mode()
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(directory))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, str(path.resolve()))
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def unified_diff(path: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
