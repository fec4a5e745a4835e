#!/usr/bin/env python3
"""Start-up and single-run cost of the ``simulate`` path.

Usage: python3 bench/bench_startup.py [--repeat N] [--net PATH]

Prints, for one net (DenseNet-201 from the shared corpus by default):

- in one process, ``pipeline.run_simulate`` after a first warm-up run:
  minimum CPU time of N runs;
- the import of the ``simulate`` command's modules, minimum of N fresh
  processes (``-X importtime``, our modules and the standard modules they
  pull in, bytecode compiled first);
- when valgrind is installed, instruction counts (callgrind) of a process that
  only imports those modules and of one that also runs the simulation, each
  less an empty ``python3``: stable on a loaded machine, unlike times.

Not a test: times vary with the machine's load; compare figures of one run.
"""
from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BACKPROP_LINT_SHARED", REPO.parent.parent / "shared"))
DEFAULT_NET = SHARED / "corpus" / "nets" / "shicai__DenseNet-Caffe__DenseNet_201.prototxt"

IMPORTS = "import backprop_lint.cli.simulate, backprop_lint.caffe.load, backprop_lint.caffe.upgrade"
RUN = "from pathlib import Path; from backprop_lint.caffe.pipeline import run_simulate; run_simulate(Path({net!r}))"


def child_env() -> Dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure with compiled bytecode, as an installed package runs
    return env


def in_process_ms(net: Path, repeat: int) -> float:
    sys.path.insert(0, str(REPO))
    from backprop_lint.caffe.pipeline import run_simulate

    run_simulate(net)
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run_simulate(net)
        best = min(best, time.process_time() - start)
    return best * 1000


def import_ms(repeat: int) -> float:
    """Self times of every module imported after ``site``, summed: what our import adds."""
    best = float("inf")
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", IMPORTS],
            env=child_env(), capture_output=True, text=True, check=True,
        )
        lines = done.stderr.splitlines()
        site_index = max(i for i, line in enumerate(lines) if line.rstrip().endswith("| site"))
        total = sum(int(line.split(":", 1)[1].split("|")[0]) for line in lines[site_index + 1:]
                    if line.startswith("import time:") and "self [us]" not in line)
        best = min(best, total / 1000)
    return best


def instructions(code: str) -> Optional[int]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code],
            env=child_env(), capture_output=True, text=True,
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--net", type=Path, default=DEFAULT_NET)
    args = parser.parse_args(argv)
    if not args.net.exists():
        print(f"bench_startup: {args.net} not found (set BACKPROP_LINT_SHARED or pass --net)", file=sys.stderr)
        return 2
    compileall.compile_dir(str(REPO / "backprop_lint"), quiet=1)
    print(f"net: {args.net.name}")
    print(f"run_simulate in one process, min CPU of {args.repeat}: {in_process_ms(args.net, args.repeat):.1f} ms")
    print(f"import of the simulate path, min of {args.repeat} processes: {import_ms(args.repeat):.1f} ms")
    if shutil.which("valgrind") is None:
        print("instruction counts: skipped (valgrind not installed)")
        return 0
    empty = instructions("pass")
    imported = instructions(IMPORTS)
    ran = instructions(IMPORTS + "; " + RUN.format(net=str(args.net)))
    if empty is None or imported is None or ran is None:
        print("instruction counts: skipped (callgrind printed no total)")
        return 0
    print(f"instructions, import of the simulate path: {(imported - empty) / 1e6:.0f} M")
    print(f"instructions, one run_simulate (first in its process): {(ran - imported) / 1e6:.0f} M")
    return 0


if __name__ == "__main__":
    sys.exit(main())
