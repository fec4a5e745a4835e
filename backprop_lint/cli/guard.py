"""One guard for every command: a broken pipe, ^C or a bug of ours ends in one line, never a traceback."""
from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def guarded(command: Callable[[], int]) -> int:
    """Run a command; a broken pipe, ^C or a bug of ours ends in one line, never a traceback."""
    try:
        return command()
    except BrokenPipeError:
        _silence_broken_pipe()
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("backprop-lint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug of ours: one line, not a traceback
        print(
            f"backprop-lint: internal error: {type(err).__name__}: {err} "
            "(this is a bug in backprop-lint; please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _silence_broken_pipe() -> None:
    """The reader went away (``| head``): don't let the interpreter complain at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
