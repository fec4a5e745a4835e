"""Where things are in a prototxt's text, for the TextEdits of a fix.

A small scanner of protobuf text format that records, for each field, where
its name starts and its value ends. It only serves to place edits; the
loader (``textproto.py``) remains the parser that decides what a net means.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache

from backprop_lint.caffe.model import Location

from backprop_lint.linting.findings import TextEdit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Mapping, Optional, Tuple

# the patterns are compiled (by re's cache, re.compile) when a rule first scans the text: most
# nets need no position the parser did not record, and compiling them costs more than a small net's rules
_IDENT = r"[A-Za-z_][A-Za-z0-9_.]*|\[[^\]]*\]"
_BARE = r"[^\s{}<>\[\],;#:'\"]+"
_OPEN = {"{": "}", "<": ">"}


#: the tokens that matter when skipping a message body: strings, comments, brackets
_SKIP_TOKEN = r'"(?:[^"\\\n]|\\.)*"?|\'(?:[^\'\\\n]|\\.)*\'?|#[^\n]*|[{}<>]'


class TextField:
    """One field: ``name`` starts at ``start``; its value ends right before ``end``.

    A message's children are scanned the first time they are asked for: most
    layer blocks of a large net are never looked into.
    """

    __slots__ = ("name", "start", "end", "is_message", "_children", "_text", "_body", "_closer")

    def __init__(
        self,
        name: str,
        start: int,
        end: int,
        children: Optional[List["TextField"]] = None,
        is_message: bool = False,
    ) -> None:
        self.name = name
        self.start = start
        self.end = end
        self.is_message = is_message
        self._children = children if children is not None else []
        self._text = ""
        self._body = -1
        self._closer = ""

    @property
    def children(self) -> List["TextField"]:
        if self._body >= 0:
            scanner = _Scanner(self._text)
            scanner.pos = self._body
            self._children = scanner.fields(self._closer)
            self._body = -1
        return self._children

    def child(self, name: str) -> Optional["TextField"]:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> List["TextField"]:
        return [c for c in self.children if c.name == name]


class _Scanner:
    def __init__(self, text: str, lazy: bool = False) -> None:
        self.text = text
        self.pos = 0
        self.lazy = lazy

    def skip_blank(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            char = text[self.pos]
            if char.isspace():
                self.pos += 1
            elif char == "#":
                newline = text.find("\n", self.pos)
                self.pos = n if newline < 0 else newline + 1
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fields(self, closer: str) -> List[TextField]:
        found: List[TextField] = []
        while True:
            self.skip_blank()
            char = self.peek()
            if not char or char == closer:
                return found
            if char in ",;":
                self.pos += 1
                continue
            match = re.compile(_IDENT).match(self.text, self.pos)
            if match is None:  # not text format we understand: stop quietly
                self.pos = len(self.text)
                return found
            start = self.pos
            self.pos = match.end()
            found.append(self.value(match.group(0), start))

    def skip_body(self) -> None:
        """Move past a message body whose opener is just behind ``pos``, to right after its closer."""
        depth = 1
        for token in re.compile(_SKIP_TOKEN).finditer(self.text, self.pos):
            char = token.group()[0]
            if char in "{<":
                depth += 1
            elif char in "}>":
                depth -= 1
                if depth == 0:
                    self.pos = token.end()
                    return
        self.pos = len(self.text)

    def value(self, name: str, start: int) -> TextField:
        self.skip_blank()
        if self.peek() == ":":
            self.pos += 1
            self.skip_blank()
        char = self.peek()
        if char in _OPEN:
            self.pos += 1
            if self.lazy:
                body = self.pos
                self.skip_body()
                item = TextField(name, start, self.pos, is_message=True)
                item._text, item._body, item._closer = self.text, body, _OPEN[char]
                return item
            children = self.fields(_OPEN[char])
            if self.peek() == _OPEN[char]:
                self.pos += 1
            return TextField(name, start, self.pos, children, is_message=True)
        if char == "[":
            depth = 0
            while self.pos < len(self.text):
                current = self.text[self.pos]
                self.pos += 1
                if current in "[{<":
                    depth += 1
                elif current in "]}>":
                    depth -= 1
                    if depth == 0:
                        break
            return TextField(name, start, self.pos)
        self.scalar()
        return TextField(name, start, self.pos)

    def scalar(self) -> None:
        text = self.text
        if self.peek() in "'\"":
            while self.peek() in ("'", '"'):  # adjacent strings concatenate
                quote = text[self.pos]
                self.pos += 1
                while self.pos < len(text) and text[self.pos] != quote:
                    self.pos += 2 if text[self.pos] == "\\" else 1
                self.pos += 1
                end = self.pos
                self.skip_blank()
                if self.peek() not in ("'", '"'):
                    self.pos = end
                    return
            return
        match = re.compile(_BARE).match(text, self.pos)
        if match is not None:
            self.pos = match.end()


class TextIndex:
    """The fields of a prototxt, with offset <-> line/column conversion.

    Build it with ``text_index(text)``: every rule and fix of a file shares one.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._fields: Optional[List[TextField]] = None
        self._blocks_by_line: Optional[Dict[int, List[Tuple[int, TextField]]]] = None

    @property
    def fields(self) -> List[TextField]:
        """The top-level fields, scanned the first time they are asked for (a scan of the whole file)."""
        if self._fields is None:
            self._fields = _Scanner(self.text, lazy=True).fields(closer="")
        return self._fields

    def position(self, offset: int) -> Tuple[int, int]:
        """1-based (line, column) of ``offset``."""
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col - 1

    def top_level(self, name: str, parsed: Optional[Mapping[str, Tuple[int, int]]] = None) -> Optional[TextField]:
        """The first top-level field ``name``.

        ``parsed``: the top-level message's ``positions`` from the parser, for this
        very text: the field is then read where the parser found it, without
        scanning the file (a singular field appears once in a text Caffe reads).
        """
        if parsed is not None:
            where = parsed.get(name)
            if where is None:
                return None
            found = self._field_at(self.offset(*where))
            if found is not None and found.name == name:
                return found
        return next((f for f in self.fields if f.name == name), None)

    def _field_at(self, offset: int) -> Optional[TextField]:
        if not 0 <= offset < len(self.text):
            return None
        scanner = _Scanner(self.text, lazy=True)
        match = re.compile(_IDENT).match(self.text, offset)
        if match is None:
            return None
        scanner.pos = match.end()
        return scanner.value(match.group(0), offset)

    def layer_block(self, location: Optional[Location]) -> Optional[TextField]:
        """The top-level ``layer {}`` / ``layers {}`` block that starts at ``location``."""
        if location is None or not location.line:
            return None
        if self._blocks_by_line is None:
            self._blocks_by_line = {}
            for candidate in self.fields:
                if candidate.name in ("layer", "layers") and candidate.is_message:
                    line, col = self.position(candidate.start)
                    self._blocks_by_line.setdefault(line, []).append((col, candidate))
        for col, candidate in self._blocks_by_line.get(location.line, ()):
            if not location.col or col == location.col:
                return candidate
        return None

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def alone_on_its_line(self, item: TextField) -> bool:
        """Whether nothing but blanks or a comment shares the line(s) of ``item``."""
        start_line, start_col = self.position(item.start)
        end_line, end_col = self.position(item.end)
        before = self.line_text(start_line)[: start_col - 1]
        after = self.line_text(end_line)[end_col - 1 :]
        return not before.strip() and (not after.strip() or after.strip().startswith("#"))

    def indentation(self, item: TextField) -> str:
        line, col = self.position(item.start)
        return self.line_text(line)[: col - 1]


@lru_cache(maxsize=4)
def text_index(text: str) -> TextIndex:
    """The one TextIndex of ``text`` (rules and fixes of the same file share it)."""
    return TextIndex(text)


def insert_lines_after(index: TextIndex, file: str, item: TextField, lines: List[str]) -> Optional[TextEdit]:
    """An edit adding ``lines`` right after ``item``'s line, indented like it.

    None when ``item`` shares its line with other fields (a one-line layer):
    then there is no clean place for new lines, and the fix stays advice.
    """
    if not index.alone_on_its_line(item):
        return None
    end_line, _ = index.position(item.end)
    indent = index.indentation(item)
    text = "".join(f"{indent}{line}\n" for line in lines)
    if end_line >= len(index.line_starts):  # the last line has no newline after it
        last_col = len(index.line_text(end_line)) + 1
        return TextEdit(file, end_line, last_col, end_line, last_col, "\n" + text.rstrip("\n"))
    return TextEdit(file, end_line + 1, 1, end_line + 1, 1, text)


def force_backward_edit(text: str, file: str, parsed: Optional[Mapping[str, Tuple[int, int]]] = None) -> TextEdit:
    """Set ``force_backward: true``: rewrite an existing field, or add one after ``name:``.

    ``parsed``: as in ``TextIndex.top_level``.
    """
    index = text_index(text)
    existing = index.top_level("force_backward", parsed)
    if existing is not None:
        (sl, sc), (el, ec) = index.position(existing.start), index.position(existing.end)
        return TextEdit(file, sl, sc, el, ec, "force_backward: true")
    name = index.top_level("name", parsed)
    if name is not None:
        edit = insert_lines_after(index, file, name, ["force_backward: true"])
        if edit is not None:
            return edit
    return TextEdit(file, 1, 1, 1, 1, "force_backward: true\n")
