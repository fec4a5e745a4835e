"""The ``backprop-lint`` console script: a thin dispatcher in front of ``cli.main``.

``backprop-lint simulate`` goes straight to ``cli_simulate``, so it does not
pay for importing what only the other commands use (rich, the rules, the
configuration, the backward planner...): on a small net, start-up costs as much
as the work itself. Every other command line goes to ``cli.main`` unchanged.
The simulate path behaves as ``cli.main`` does for it: the same parser, exit
statuses and one-line errors.
"""
from __future__ import annotations

import os
import sys
from typing import Callable, List, Optional, Sequence

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: Optional[Sequence[str]] = None) -> int:
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["simulate"]:
        return run_simulate_command(args)
    from .cli import main as cli_main

    return cli_main(args)


def run_simulate_command(args: Sequence[str]) -> int:
    """``backprop-lint simulate ...`` (``args`` starts with ``simulate``)."""
    from .cli_simulate import main as simulate_main

    return guarded(lambda: simulate_main(list(args)))


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


if __name__ == "__main__":
    raise SystemExit(main())
