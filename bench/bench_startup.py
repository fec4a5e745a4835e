#!/usr/bin/env python3
"""Start-up and single-run cost of the ``simulate`` path.

Usage: python3 bench/bench_startup.py [--repeat N] [--net PATH] [--in-repo]

Everything runs in the interpreter of the bench venv (made from
``BACKPROP_LINT_BENCH_PYTHON`` when set), where a wheel of this checkout is
installed with compiled bytecode (bench/installed.py), with no PYTHONPATH,
PYTHONPYCACHEPREFIX or PYTHONDONTWRITEBYTECODE: what a user's ``backprop-lint``
imports. ``--in-repo`` uses this interpreter and the
checkout instead (bytecode compiled into a cache directory outside the repo).
Prints, for one net (DenseNet-201 from the shared corpus by default):

- in one process, ``pipeline.run_simulate`` after a first warm-up run:
  minimum CPU time of N runs;
- the import of the ``simulate`` command's modules, minimum of N fresh
  processes (``-X importtime``: the self times of every module imported after
  ``site``, ours and the standard modules they pull in), with the garbage
  collector paused as the console script pauses it;
- when valgrind is installed, instruction counts (callgrind) of a process that
  only imports those modules and of one that also runs the simulation, each
  less an empty ``python``: stable on a loaded machine, unlike times.

Not a test: times vary with the machine's load; compare figures of one run.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from installed import BENCH_HOME, clean_env, describe_interpreter, installed_venv  # noqa: E402
from paths import shared_dir  # noqa: E402

SHARED = shared_dir()
DEFAULT_NET = SHARED / "corpus" / "nets" / "shicai__DenseNet-Caffe__DenseNet_201.prototxt"

# as the console script imports them: the command with the collector paused (cli.command_main),
# load and upgrade during the run, also paused (pipeline.run_simulate)
IMPORTS = ("import gc; gc.disable(); "
           "import backprop_lint.cli.simulate, backprop_lint.caffe.load, backprop_lint.caffe.upgrade; gc.enable()")
RUN = "from pathlib import Path; from backprop_lint.caffe.pipeline import run_simulate; run_simulate(Path({net!r}))"
IN_PROCESS = """
import time
from pathlib import Path
from backprop_lint.caffe.pipeline import run_simulate
net = Path({net!r})
run_simulate(net)
best = float("inf")
for _ in range({repeat}):
    start = time.process_time()
    run_simulate(net)
    best = min(best, time.process_time() - start)
print(best * 1000)
"""


class Interpreter:
    """Where the measured code runs: the bench venv's python (default) or this one on the checkout."""

    def __init__(self, in_repo: bool) -> None:
        if in_repo:
            self.python = sys.executable
            # compiled bytecode, as an installed package runs, kept out of the repo
            self.env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONPYCACHEPREFIX=str(BENCH_HOME / "pycache"))
            self.env.pop("PYTHONDONTWRITEBYTECODE", None)
            self.label = f"{sys.executable} on the checkout"
            self.cwd = str(REPO)
            subprocess.run([self.python, "-c", "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=1)",
                            str(REPO / "backprop_lint")], env=self.env, check=True)
        else:
            venv = installed_venv()
            self.python = str(venv.python)
            self.env = clean_env()
            self.label = f"{venv.python} (wheel {venv.wheel_hash}, compiled bytecode; {describe_interpreter(venv.python)})"
            # `python -c` puts the working directory first on sys.path: from the repo's root it
            # would import the checkout instead of the installed wheel
            self.cwd = str(venv.python.parent)

    def run(self, *args: str) -> "subprocess.CompletedProcess[str]":
        return subprocess.run([self.python, *args], env=self.env, cwd=self.cwd, capture_output=True, text=True,
                              check=True)


def in_process_ms(where: Interpreter, net: Path, repeat: int) -> float:
    return float(where.run("-c", IN_PROCESS.format(net=str(net), repeat=repeat)).stdout.split()[-1])


def import_ms(where: Interpreter, repeat: int) -> float:
    """Self times of every module imported after ``site``, summed: what our import adds."""
    best = float("inf")
    for _ in range(repeat):
        done = where.run("-X", "importtime", "-c", IMPORTS)
        lines = done.stderr.splitlines()
        site_index = max(i for i, line in enumerate(lines) if line.rstrip().endswith("| site"))
        total = sum(int(line.split(":", 1)[1].split("|")[0]) for line in lines[site_index + 1:]
                    if line.startswith("import time:") and "self [us]" not in line)
        best = min(best, total / 1000)
    return best


def instructions(where: Interpreter, code: str) -> Optional[int]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", where.python, "-c", code],
            env=where.env, cwd=where.cwd, capture_output=True, text=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--net", type=Path, default=DEFAULT_NET)
    parser.add_argument("--in-repo", action="store_true",
                        help="this interpreter on the checkout instead of the installed wheel's venv")
    args = parser.parse_args(argv)
    if not args.net.exists():
        print(f"bench_startup: {args.net} not found (set BACKPROP_LINT_SHARED or pass --net)", file=sys.stderr)
        return 2
    where = Interpreter(args.in_repo)
    print(f"interpreter: {where.label}")
    print(f"net: {args.net.name}")
    print(f"run_simulate in one process, min CPU of {args.repeat}: {in_process_ms(where, args.net, args.repeat):.1f} ms")
    print(f"import of the simulate path, min of {args.repeat} processes: {import_ms(where, args.repeat):.1f} ms")
    if shutil.which("valgrind") is None:
        print("instruction counts: skipped (valgrind not installed)")
        return 0
    empty = instructions(where, "pass")
    imported = instructions(where, IMPORTS)
    ran = instructions(where, IMPORTS + "; " + RUN.format(net=str(args.net)))
    if empty is None or imported is None or ran is None:
        print("instruction counts: skipped (callgrind printed no total)")
        return 0
    print(f"instructions, import of the simulate path: {(imported - empty) / 1e6:.0f} M")
    print(f"instructions, one run_simulate (first in its process): {(ran - imported) / 1e6:.0f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
