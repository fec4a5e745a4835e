"""Making text from a net safe to print on a terminal or in a CI log.

Layer and blob names, file names and comments come from the user's file, and
a prototxt string may hold any byte (``name: "a\\x1b[2J\\nfake.prototxt:1:1: error"``).
Printed raw, a terminal escape sequence repaints the screen and a newline
starts a line that looks like a finding of its own. Every reporter that writes
text for people or CI logs (text, concise, github, the ``backward`` report and
the command line's one-line messages) passes such text through ``printable``;
JSON and SARIF need nothing more than their encoders' escaping.
"""

from __future__ import annotations

import re

#: C0 controls, DEL, C1 controls, Unicode line/paragraph separators and bidirectional overrides
#: and the bytes of the file that were not UTF-8 (kept as surrogateescape characters, caffe/text_bytes.py);
#: compiled (by re's cache) on first need: compiling it costs a plain `check` more than printing
_UNPRINTABLE = "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]"
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: "re.Match[str]") -> str:
    char = match.group(0)
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\n``, ``\\x1b``, ``\\u202e``)."""
    if text.isprintable():  # the usual case: every character _UNPRINTABLE lists is unprintable to str too
        return text
    return re.sub(_UNPRINTABLE, _escaped, text)

