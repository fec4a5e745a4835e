"""argparse, reading the terminal's width itself.

argparse's help formatter asks ``shutil.get_terminal_size()`` for the width
each time a parser adds an argument, and importing ``shutil`` imports ``bz2``,
``lzma``, ``zlib`` and ``fnmatch``: about 3 ms of every command's start-up,
for a width that is only used by ``--help`` and usage errors. These classes
compute the same width the same way, without ``shutil``.
"""
from __future__ import annotations

import argparse
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FALLBACK_COLUMNS = 80


def terminal_columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal of stdout, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):  # closed, detached, or not a terminal
            columns = 0
    return columns or FALLBACK_COLUMNS


class HelpFormatter(argparse.HelpFormatter):
    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: Optional[int] = None) -> None:
        # argparse's own default: the terminal's width less 2
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    """argparse.RawDescriptionHelpFormatter (descriptions printed as written), without ``shutil``."""


#: the longest command line given to argparse: before Python 3.13 it takes time quadratic in the number of
#: options (10,000 options: 2.4 s); plain command lines, however long, are read without it (cli/quickargs.py)
MAX_ARGUMENTS = 4096


if TYPE_CHECKING:
    # the same class to a type checker: subcommands' `register(subparsers)` take argparse's
    ArgumentParser = argparse.ArgumentParser
else:
    class ArgumentParser(argparse.ArgumentParser):
        """argparse.ArgumentParser whose help formatter, and its subcommands' by default, is ``HelpFormatter``,
        and which refuses command lines longer than ``MAX_ARGUMENTS``."""

        def __init__(self, *args: Any, formatter_class: Any = HelpFormatter, **kwargs: Any) -> None:
            super().__init__(*args, formatter_class=formatter_class, **kwargs)

        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            arguments = sys.argv[1:] if args is None else list(args)
            if len(arguments) > MAX_ARGUMENTS:
                self.error(
                    f"{len(arguments):,} arguments are too many (at most {MAX_ARGUMENTS:,}) unless every option is "
                    "spelled out in full with its value in the next argument, as `--seed NAME` (not `--seed=NAME`), "
                    "for simulate, backward, check, graph and verify"
                )
            return super().parse_known_args(arguments, namespace)
