"""The faces: the ``backprop-lint`` command line (this package's ``main`` is the console script).

Owns argument parsing, exit statuses and one-line errors; may import every
other part (``caffe``, ``linting``, ``backward``, ``report``), and nothing imports it.

``main`` is a thin dispatcher in front of ``cli.commands``: ``backprop-lint
simulate`` goes straight to ``cli.simulate`` and ``backprop-lint backward`` to
``cli.backward``, so they do not pay for importing what only the other commands
use (rich, the rules, the configuration, the linter...): on a small net, start-up
costs as much as the work itself. Every other command line goes to
``cli.commands`` unchanged. The direct paths behave as ``cli.commands`` does for
them: the same parser, exit statuses and one-line errors.
"""
from __future__ import annotations

import atexit
import gc
import os
import sys

from backprop_lint.caffe.collector import gc_paused
from backprop_lint.cli.guard import guarded

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, NoReturn, Optional, Sequence


def main(argv: Optional[Sequence[str]] = None, *, whole_process: bool = False) -> int:
    """The command line ``argv`` (default: the process's); ``whole_process``: the command is all this
    process does (the console script), so what its import made may be frozen (``command_main``)."""
    args: List[str] = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["simulate"]:
        return run_simulate_command(args, whole_process)
    if args[:1] == ["backward"]:
        return run_backward_command(args, whole_process)
    return command_main("commands", whole_process)(args)


def run_simulate_command(args: Sequence[str], whole_process: bool = False) -> int:
    """``backprop-lint simulate ...`` (``args`` starts with ``simulate``).

    The whole command runs with the collector paused, not only its import: the
    collector would otherwise scan every object the import made as soon as it
    is back on, and the simulation pauses it again anyway."""
    with gc_paused():
        simulate_main = command_main("simulate", whole_process)
        return guarded(lambda: simulate_main(list(args)))


def run_backward_command(args: Sequence[str], whole_process: bool = False) -> int:
    """``backprop-lint backward ...`` (``args`` starts with ``backward``), paused as ``simulate``."""
    with gc_paused():
        backward_main = command_main("backward", whole_process)
        return guarded(lambda: backward_main(list(args)))


def command_main(module: str, whole_process: bool = False) -> Callable[[List[str]], int]:
    """``backprop_lint.cli.<module>.main``, imported with the garbage collector paused (``gc_paused``).

    With ``whole_process``, what the import made (modules, classes, functions, tables), which
    lives as long as the process, is frozen (``gc.freeze``): no later collection scans it again.
    Not otherwise: in a longer-lived process (tests, a library user) it would freeze their
    objects too, garbage included."""
    with gc_paused():
        command = __import__(f"backprop_lint.cli.{module}", fromlist=["main"]).main
        if whole_process:
            gc.freeze()
    return command  # type: ignore[no-any-return]


def console_main() -> NoReturn:
    """The ``backprop-lint`` console script (and ``python -m backprop_lint``): ``main()``, then exit."""
    exit_without_teardown(main(whole_process=True))


def exit_without_teardown(status: int) -> NoReturn:
    """End the process once its output is flushed, without the interpreter's teardown when nothing needs it.

    The teardown frees every module and object one by one: about 4 ms of each
    command, a tenth of ``simulate`` on a large net, for nothing once the
    output is out. It is kept whenever it has work: an ``atexit`` callback
    (multiprocessing, logging, ``weakref.finalize``, coverage...), a thread
    still running, or output that could not be flushed (a reader gone: the
    interpreter then reports it as usual).
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    pending_callbacks = getattr(atexit, "_ncallbacks", None)  # CPython's; elsewhere: always tear down
    threading = sys.modules.get("threading")
    if pending_callbacks is None or pending_callbacks() or (threading is not None and threading.active_count() > 1):
        sys.exit(status)
    os._exit(status)


if __name__ == "__main__":
    console_main()
