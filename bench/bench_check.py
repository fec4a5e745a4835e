"""Throughput of ``backprop-lint check`` on the real-world corpus.

Usage: ``python3 bench/bench_check.py [NET_DIR] [--repeat N] [--jobs 1,2]``.
Lints every file (both phases, all rules, text output thrown away)
in-process, N times for each number of processes (``Linter(jobs=...)``, as
``check --jobs``), and prints files per second for the best run of each.
"""

from __future__ import annotations

import os
import argparse
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backprop_lint.linting.config import ConfigFinder  # noqa: E402
from backprop_lint.linting.linter import Linter  # noqa: E402
from backprop_lint.report import text  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("BACKPROP_LINT_SHARED", Path(__file__).resolve().parent.parent.parent / "shared")) / "corpus" / "nets"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("nets", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", default=f"1,{os.cpu_count() or 1}", help="numbers of processes, comma-separated")
    args = parser.parse_args()
    files = sorted(p for p in args.nets.iterdir() if p.suffix in (".prototxt", ".pbtxt"))
    for jobs in sorted({int(j) for j in args.jobs.split(",") if j}):
        best = float("inf")
        report = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            report = Linter(ConfigFinder(), jobs=jobs).lint_paths(files)
            text.render(report, io.StringIO(), color=False)
            best = min(best, time.perf_counter() - start)
        assert report is not None
        print(
            f"--jobs {jobs}: {len(files)} files in {best:.2f} s: {len(files) / best:.1f} files/s "
            f"({len(report.findings)} findings, {len(report.errors)} input errors, "
            f"{len(report.internal_errors)} internal errors)"
        )
        for file, error in report.internal_errors:
            print(f"  internal error: {file}: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
