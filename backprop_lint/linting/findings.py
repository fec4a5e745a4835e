"""Findings: what the rules produce and the reporters print.

A finding points at a place in the user's file (a ``Location`` of the model
of Caffe) and may carry a ``Fix`` made of text edits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Sequence, Tuple

from backprop_lint.caffe.model import Location

SEVERITIES: Tuple[str, ...] = ("info", "warning", "error")
#: the code of an input that cannot be read at all (not a rule of the rules package: the linter emits it)
INPUT_ERROR_CODE = "BL000"
#: the code of an inline suppression that silences nothing (``suppress.py`` emits it)
UNUSED_SUPPRESSION_CODE = "BL901"
UNUSED_SUPPRESSION_NAME = "unused-suppression"
#: positions a FindingGroup lists
GROUP_POSITIONS = 5


@dataclass(frozen=True)
class TextEdit:
    """Replace ``[start, end)`` (1-based line/col, end exclusive) in ``file`` by ``text``."""

    file: str
    start_line: int
    start_col: int
    end_line: int
    end_col: int
    text: str


@dataclass(frozen=True)
class Fix:
    """A concrete change that removes the finding."""

    description: str  # e.g. "add `force_backward: true` at the top of the net"
    edits: Tuple[TextEdit, ...] = ()  # empty: advice only, nothing to apply
    safe: bool = True
    #: why --fix will not apply it (when not safe)
    unsafe_reason: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem a rule found, where it is, why, and how to fix it."""

    code: str  # "BL101"
    name: str  # "backward-does-nothing"
    severity: str  # one of SEVERITIES
    location: Location
    message: str
    layer: Optional[str] = None
    #: the net state the finding applies to, e.g. "TRAIN" or "TEST level=1 stages=deploy"
    state: str = ""
    #: the chain of reasons, one line each, in the user's own layer names
    reasons: Tuple[str, ...] = ()
    fix: Optional[Fix] = None

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
