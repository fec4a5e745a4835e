"""When a report for people can be written as plain text, without rich.

The text reporter and the ``backward`` report print through rich, which
colours a terminal. Written anywhere else (a pipe, a file, a CI log), rich
prints the text exactly as given, except for a few characters it rewrites;
going through rich then costs far more than the work itself on a large net
(importing rich, and laying out every line). So the reporters build their
lines once, as (text, style) pieces, and write them directly when rich
would print them unstyled and unchanged; in every other case they hand the
same pieces to rich. ``tests/test_check_fast_paths.py`` checks that both ways
give the same bytes.
"""
from __future__ import annotations

import builtins
import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, List, Optional, Sequence, TextIO, Tuple

    #: (text, rich style): a piece of a line; style "" for none
    Piece = Tuple[str, str]

#: characters rich rewrites in any text it prints: it drops BEL, BS, VT, FF and CR
#: (rich.control.STRIP_CONTROL_CODES) and expands tabs by display cells
_REWRITTEN_BY_RICH = "\x07\x08\x0b\x0c\r\t"
#: in console markup, rich also replaces emoji codes (rich._emoji_replace looks for such
#: a run, emoji name or not), and a backslash may be an escape (rich.markup.escape adds
#: one to a text that ends in a backslash, and it stays visible there); compiled by re's
#: cache when first used (only `backward` prints markup)
_CHANGED_IN_MARKUP = r":\S*?:|\\"


def rich_styles(stream: TextIO, color: Optional[bool]) -> bool:
    """Whether a rich ``Console`` on ``stream`` (``color`` as text.make_console takes it)
    could write anything but the plain text: escape codes, or Jupyter's output.

    True whenever in doubt: then the caller prints through rich as always.
    """
    if color is not None:
        return color
    if "get_ipython" in vars(builtins):  # rich treats Jupyter (and IPython) specially
        return True
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream: rich says "not a terminal" too
        return False


def unchanged_by_rich(texts: Iterable[str], *, markup: bool = False) -> bool:
    """Whether rich would print every one of ``texts`` as it is (``markup``: escaped and
    printed as console markup)."""
    for text in texts:
        if any(char in text for char in _REWRITTEN_BY_RICH) or (markup and re.search(_CHANGED_IN_MARKUP, text)):
            return False
    return True


def plain_lines(lines: Sequence[Sequence[Piece]]) -> str:
    """The lines' text, one line each, as rich writes them unstyled."""
    return "".join("".join(text for text, _ in line) + "\n" for line in lines)


def all_texts(lines: Sequence[Sequence[Piece]]) -> List[str]:
    return [text for line in lines for text, _ in line]
