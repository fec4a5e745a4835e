"""Inline suppressions in a net's own text.

``# backprop-lint: disable=BL101,BL2`` on the comment lines directly above a
``layer {`` (or V1 ``layers {``) block, or as a trailing comment on the line
that opens it, silences those codes (or prefixes) for findings located inside
that block. ``# backprop-lint: disable-file=BL101`` anywhere silences them for
the whole file. A directive that silences nothing is itself reported, as an
info finding, so stale suppressions do not pile up.
"""

from __future__ import annotations

import re

from backprop_lint.caffe.model import Location
from backprop_lint.caffe.records import Record
from backprop_lint.linting.config import unknown_code_problem
from backprop_lint.linting.findings import UNUSED_SUPPRESSION_CODE, UNUSED_SUPPRESSION_NAME, Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

DIRECTIVE = re.compile(r"#\s*backprop-lint:\s*(disable-file|disable)\s*=\s*([A-Za-z0-9_,\s]*)")
LAYER_OPENING = re.compile(r"^\s*layers?\s*\{")
COMMENT_ONLY = re.compile(r"^\s*#")
CODE = re.compile(r"^(ALL|BL\d{0,3})$")


class Suppression(Record):
    """One code of one directive, and whether it silenced anything."""

    __slots__ = ("code", "location", "file_wide", "first_line", "last_line", "used", "problem")
    code: str
    location: Location
    file_wide: bool
    #: inclusive line range of the layer block it covers (file-wide: the whole file)
    first_line: int
    last_line: int
    used: bool
    #: why it can never apply (e.g. not above a layer), reported with the unused finding
    problem: str

    def __init__(self, code: str, location: Location, file_wide: bool, first_line: int = 0, last_line: int = 0,
                 used: bool = False, problem: str = "") -> None:
        self.code = code
        self.location = location
        self.file_wide = file_wide
        self.first_line = first_line
        self.last_line = last_line
        self.used = used
        self.problem = problem

    def covers(self, finding: Finding) -> bool:
        if self.problem or not (finding.code.startswith(self.code) or self.code == "ALL"):
            return False
        return self.file_wide or self.first_line <= finding.location.line <= self.last_line


class SuppressionResult(Record):
    """Findings after the inline suppressions: kept, silenced, and the directives that silenced nothing."""

    __slots__ = ("kept", "suppressed", "unused")
    kept: List[Finding]
    suppressed: List[Finding]
    unused: List[Finding]

    def __init__(self, kept: List[Finding], suppressed: Optional[List[Finding]] = None,
                 unused: Optional[List[Finding]] = None) -> None:
        self.kept = kept
        self.suppressed = [] if suppressed is None else suppressed
        self.unused = [] if unused is None else unused


def parse_suppressions(text: str, file: str) -> List[Suppression]:
    """Every directive in ``text``, one Suppression per code."""
    lines = text.split("\n")
    suppressions: List[Suppression] = []
    for index, line in enumerate(lines):
        match = _directive_in(line)
        if match is None:
            continue
        kind, codes_text = match.group(1), match.group(2)
        location = Location(file, index + 1, match.start() + 1)
        block = None if kind == "disable-file" else _layer_block_for(lines, index)
        for code in _split_codes(codes_text):
            suppression = Suppression(code, location, file_wide=kind == "disable-file")
            unknown = unknown_code_problem(code)
            if unknown:
                suppression.problem = unknown
            elif block is not None:
                suppression.first_line, suppression.last_line = block
            elif not suppression.file_wide:
                suppression.problem = "it is not directly above a `layer {` block"
            suppressions.append(suppression)
    return suppressions


def apply_suppressions(
    findings: Sequence[Finding],
    suppressions: Sequence[Suppression],
    *,
    code_enabled: Callable[[str], bool] = lambda code: True,
) -> SuppressionResult:
    """Drop suppressed findings; report directives that silenced nothing.

    A directive whose code (or prefix) ``code_enabled`` says is switched off
    anyway (``--select`` / ``ignore``) is not reported as unused: it may
    matter under another selection.
    """
    result = SuppressionResult(kept=[])
    for finding in findings:
        matching = [s for s in suppressions if s.covers(finding)]
        for suppression in matching:
            suppression.used = True
        (result.suppressed if matching else result.kept).append(finding)
    for suppression in suppressions:
        if suppression.used or (CODE.match(suppression.code) and not code_enabled(suppression.code)):
            continue
        result.unused.append(_unused_finding(suppression))
    return result


def _unused_finding(suppression: Suppression) -> Finding:
    scope = "file-wide suppression" if suppression.file_wide else "suppression"
    reason = suppression.problem or f"no {suppression.code} finding is located where it applies"
    return Finding(
        code=UNUSED_SUPPRESSION_CODE,
        name=UNUSED_SUPPRESSION_NAME,
        severity="info",
        location=suppression.location,
        message=f"unused {scope} of {suppression.code}: {reason}",
        reasons=(),
    )


def _directive_in(line: str) -> Optional[re.Match]:
    if "backprop-lint" not in line:  # cheap test first: most lines hold no directive
        return None
    hash_index = _comment_start(line)
    if hash_index is None:
        return None
    return DIRECTIVE.match(line, hash_index)


def _unquoted(text: str) -> Iterator[Tuple[int, str]]:
    """(index, character) of every character of ``text`` outside a quoted string."""
    quote: Optional[str] = None
    escaped = False
    for index, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        else:
            yield index, char


def _comment_start(line: str) -> Optional[int]:
    """Index of the '#' that starts a comment (not one inside a quoted string)."""
    return next((index for index, char in _unquoted(line) if char == "#"), None)


def _split_codes(text: str) -> Iterable[str]:
    return [code.strip().upper() for code in text.split(",") if code.strip()]


def _layer_block_for(lines: List[str], directive_index: int) -> Optional[Tuple[int, int]]:
    """The layer block a `disable=` directive on line ``directive_index`` applies to."""
    if LAYER_OPENING.match(lines[directive_index]):
        return _block_extent(lines, directive_index)
    if not COMMENT_ONLY.match(lines[directive_index]):
        return None
    index = directive_index + 1
    while index < len(lines) and COMMENT_ONLY.match(lines[index]):
        index += 1
    if index < len(lines) and LAYER_OPENING.match(lines[index]):
        return _block_extent(lines, index)
    return None


def _block_extent(lines: List[str], opening_index: int) -> Tuple[int, int]:
    """1-based (first, last) lines of the brace block opened on ``opening_index``."""
    depth = 0
    for index in range(opening_index, len(lines)):
        line = lines[index]
        comment = _comment_start(line)
        code = line if comment is None else line[:comment]
        depth += _brace_balance(code)
        if depth <= 0:
            return opening_index + 1, index + 1
    return opening_index + 1, len(lines)


def _brace_balance(code: str) -> int:
    return sum(1 if char == "{" else -1 for _index, char in _unquoted(code) if char in "{}")

# ---------------------------------------------------------------------------
# Adding suppressions for every current finding (check --add-suppressions)
# ---------------------------------------------------------------------------

#: findings a directive cannot or should not silence: an unreadable file, a stale directive
NOT_SUPPRESSIBLE = frozenset({"BL000", UNUSED_SUPPRESSION_CODE})


class AddedSuppressions(Record):
    """A text with suppression directives added, and how many codes they silence."""

    __slots__ = ("new_text", "added")
    new_text: str
    #: codes added per directive line written (a merged directive counts its new codes)
    added: int

    def __init__(self, new_text: str, added: int = 0) -> None:
        self.new_text = new_text
        self.added = added


def add_suppressions(text: str, findings: Sequence[Finding]) -> AddedSuppressions:
    """``text`` with a directive silencing each finding: above its layer block, or file-wide.

    A finding inside a ``layer {`` block gets ``# backprop-lint: disable=CODE``
    on the line above the block (merged into a directive already there); any
    other finding (net-level fields, the file as a whole) gets a
    ``disable-file=`` directive on the first line. Line endings (LF or CRLF)
    and every other byte are kept.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.split("\n")
    blocks = _top_level_layer_blocks(lines)
    per_block: Dict[int, List[str]] = {}
    file_wide: List[str] = []
    for finding in findings:
        if finding.code in NOT_SUPPRESSIBLE:
            continue
        block = next((b for b in blocks if b[0] <= finding.location.line <= b[1]), None)
        codes = file_wide if block is None else per_block.setdefault(block[0], [])
        if finding.code not in codes:
            codes.append(finding.code)
    added = 0
    for opening_line in sorted(per_block, reverse=True):
        added += _add_directive(lines, opening_line - 1, per_block[opening_line], "disable", newline)
    if file_wide:
        added += _add_directive(lines, 0, file_wide, "disable-file", newline)
    return AddedSuppressions("\n".join(lines), added)


def _top_level_layer_blocks(lines: List[str]) -> List[Tuple[int, int]]:
    """1-based (first, last) lines of every outermost ``layer {`` / ``layers {`` block."""
    blocks: List[Tuple[int, int]] = []
    index = 0
    while index < len(lines):
        if LAYER_OPENING.match(lines[index]):
            first, last = _block_extent(lines, index)
            blocks.append((first, last))
            index = last
        else:
            index += 1
    return blocks


def _add_directive(lines: List[str], before_index: int, codes: Sequence[str], kind: str, newline: str) -> int:
    """Insert (or extend) a ``kind`` directive right above ``lines[before_index]``; how many codes it gained."""
    above = before_index - 1
    existing = _directive_in(lines[above]) if above >= 0 and COMMENT_ONLY.match(lines[above]) else None
    if kind == "disable-file":
        existing = _directive_in(lines[0]) if lines and COMMENT_ONLY.match(lines[0]) else None
        above = 0
    if existing is not None and existing.group(1) == kind:
        present = list(_split_codes(existing.group(2)))
        new_codes = [code for code in codes if code not in present]
        if not new_codes:
            return 0
        line = lines[above]
        ending = "\r" if line.endswith("\r") else ""
        body = line[:-1] if ending else line
        listed = existing.group(2).rstrip()
        end_of_codes = existing.start(2) + len(listed)
        separator = "," if listed else ""
        lines[above] = body[:end_of_codes] + separator + ",".join(new_codes) + body[end_of_codes:] + ending
        return len(new_codes)
    target = lines[before_index] if before_index < len(lines) else ""
    indent = target[: len(target) - len(target.lstrip(" \t"))] if kind == "disable" else ""
    ending = "\r" if newline == "\r\n" else ""
    lines.insert(before_index, f"{indent}# backprop-lint: {kind}={','.join(codes)}{ending}")
    return len(codes)
