"""Findings: what the rules produce and the reporters print.

A finding points at a place in the user's file (a ``Location`` of the model
of Caffe) and may carry a ``Fix`` made of text edits.
"""
from __future__ import annotations

from backprop_lint.caffe.records import FrozenRecord, NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence, Tuple

    from backprop_lint.caffe.model import Location

SEVERITIES: Tuple[str, ...] = ("info", "warning", "error")
#: the code of an input that cannot be read at all (not a rule of the rules package: the linter emits it)
INPUT_ERROR_CODE = "BL000"
#: the code of an inline suppression that silences nothing (``suppress.py`` emits it)
UNUSED_SUPPRESSION_CODE = "BL901"
UNUSED_SUPPRESSION_NAME = "unused-suppression"
#: positions a FindingGroup lists
GROUP_POSITIONS = 5


class TextEdit(FrozenRecord):
    """Replace ``[start, end)`` (1-based line/col, end exclusive) in ``file`` by ``text``."""

    __slots__ = ("file", "start_line", "start_col", "end_line", "end_col", "text")
    file: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    text: str

    def __init__(self, file: str, start_line: int, start_col: int, end_line: int, end_col: int, text: str) -> None:
        self._set(file, start_line, start_col, end_line, end_col, text)


class Fix(FrozenRecord):
    """A concrete change that removes the finding."""

    __slots__ = ("description", "edits", "safe", "unsafe_reason")
    description: str  # e.g. "add `force_backward: true` at the top of the net"
    edits: Tuple[TextEdit, ...]  # empty: advice only, nothing to apply
    safe: bool
    #: why --fix will not apply it (when not safe)
    unsafe_reason: str

    def __init__(self, description: str, edits: Tuple[TextEdit, ...] = (), safe: bool = True,
                 unsafe_reason: str = "") -> None:
        self._set(description, edits, safe, unsafe_reason)


class Finding(FrozenRecord):
    """One problem a rule found, where it is, why, and how to fix it."""

    __slots__ = ("code", "name", "severity", "location", "message", "layer", "state", "reasons", "fix")
    code: str  # "BL101"
    name: str  # "backward-does-nothing"
    severity: str  # one of SEVERITIES
    location: Location
    message: str
    layer: Optional[str]
    #: the net state the finding applies to, e.g. "TRAIN" or "TEST level=1 stages=deploy"
    state: str
    #: the chain of reasons, one line each, in the user's own layer names
    reasons: Tuple[str, ...]
    fix: Optional[Fix]

    def __init__(self, code: str, name: str, severity: str, location: Location, message: str,
                 layer: Optional[str] = None, state: str = "", reasons: Tuple[str, ...] = (),
                 fix: Optional[Fix] = None) -> None:
        self._set(code, name, severity, location, message, layer, state, reasons, fix)

    def sort_key(self) -> Tuple[Any, ...]:
        return (self.location.file, self.location.line, self.location.col, self.code, self.layer or "", self.state, self.message)


class FindingGroup(NamedTuple):
    """The findings of one rule in one file past the per-file limit: counted, not listed.

    ``first``: where the first few of them are (``GROUP_POSITIONS`` at most), in file order.
    """

    file: str
    code: str
    name: str
    severity: str
    count: int
    first: Tuple[Location, ...]

    def merged(self, count: int, locations: Sequence[Location]) -> "FindingGroup":
        """This group with ``count`` more findings, at ``locations`` (which come after ``first``)."""
        first = (self.first + tuple(locations))[:GROUP_POSITIONS]
        return FindingGroup(self.file, self.code, self.name, self.severity, self.count + count, first)
