"""Prototxt bytes as Caffe reads them: any bytes in comments and string values.

protobuf's text parser, and so Caffe, reads a prototxt byte by byte: a
comment may hold any byte but NUL, and a string value keeps its bytes as they
are, whether or not they are UTF-8 (proto2 ``string`` fields are not checked;
both oracles load ``name: "fc\\xe9"`` written as a raw Latin-1 byte). Outside
comments and strings, a non-ASCII byte is a parse error ("Interpreting non
ascii codepoint"), and a NUL anywhere stops the parser ("Invalid control
characters encountered in text."): tests/test_text_bytes.py checks both with
the oracles.

We keep such bytes through the whole pipeline as Python's ``surrogateescape``
characters (byte 0xE9 that is not part of valid UTF-8 becomes U+DCE9), so the
file's bytes round-trip exactly (``--fix`` writes them back unchanged), names
sort in Caffe's byte order, and output shows them escaped, as ``\\xe9``.
"""
from __future__ import annotations

import re

ENCODING = "utf-8"
ERRORS = "surrogateescape"

# Patterns, not compiled at import: re compiles each on its first use (and caches it). Nets
# are almost always UTF-8, and most runs never look for these bytes in JSON.
_LONE_BYTE = "[\udc80-\udcff]"
#: a JSON escape of a lone surrogateescape byte (not the low half of a surrogate pair)
_JSON_LONE_BYTE = r"(?<!\\ud[89ab][0-9a-f]{2})\\udc([89a-f][0-9a-f])"


#: control bytes other than tab, newline and carriage return
_CONTROL_BYTES = bytes(byte for byte in range(32) if byte not in (9, 10, 13))


def looks_like_text(data: bytes) -> bool:
    """Mostly printable bytes in the first 4 KB: a (maybe broken) text file, not a binary one."""
    head = data[:4096]
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return control * 20 <= len(head)


def decode(data: bytes) -> str:
    """The text of prototxt bytes; bytes that are not UTF-8 become surrogateescape characters."""
    return data.decode(ENCODING, ERRORS)


def encode(text: str) -> bytes:
    """The exact bytes ``decode`` read."""
    return text.encode(ENCODING, ERRORS)


def printable(text: str) -> str:
    """``text`` with every byte that was not UTF-8 shown as ``\\xNN``."""
    if not re.search(_LONE_BYTE, text):
        return text
    return re.sub(_LONE_BYTE, lambda match: f"\\x{ord(match.group(0)) - 0xDC00:02x}", text)


def printable_json(document: str) -> str:
    """A JSON text (``ensure_ascii``) with those bytes' ``\\udcNN`` escapes shown as ``\\\\xNN``."""
    if "\\udc" not in document:
        return document
    return re.sub(_JSON_LONE_BYTE, lambda match: "\\\\x" + match.group(1), document)

