#!/usr/bin/env python3
"""`check` on a net with very many findings: time and peak memory, whole processes.

    python3 bench/bench_findings.py [--repeats 200000,2000000] [--distinct 200000] [--in-repo]

Nets: a small net followed by N repeats of one unknown field (`zz: 1`, one
BL403 whose message counts the repeats) and by N distinct unknown fields
(`zz0: 1`, `zz1: 1`, ...: N findings of their own, of which
--max-findings-per-file (200) are shown and the rest grouped). For each: the
wall and CPU time (user + system) of `backprop-lint check` and its peak
memory (the process's maximum resident set), one run each. Like the other
benches, it runs the installed wheel (bench/installed.py) unless --in-repo.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_simulate import Ours  # noqa: E402
from installed import run_once  # noqa: E402

HEAD = 'name: "many"\nlayer { name: "d" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", default="200000,2000000", help="counts of one repeated unknown field")
    parser.add_argument("--distinct", default="200000", help="counts of distinct unknown fields")
    parser.add_argument("--in-repo", action="store_true",
                        help="time python3 -m backprop_lint from the checkout instead of the installed wheel")
    args = parser.parse_args()
    ours = Ours(args.in_repo)
    print(f"ours: {ours.label}", file=sys.stderr)
    rows: List[Tuple[str, Tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(f"{int(n):,} repeats of one unknown field", HEAD + "zz: 1\n" * int(n))
                 for n in args.repeats.split(",") if n]
        cases += [(f"{int(n):,} distinct unknown fields", HEAD + "".join(f"zz{i}: 1\n" for i in range(int(n))))
                  for n in args.distinct.split(",") if n]
        for label, text in cases:
            path = Path(tmp) / "many.prototxt"
            path.write_text(text)
            command = [*ours.prefix, "check", str(path), "--color", "never", "--no-progress", "--jobs", "1"]
            rows.append((label, run_once(command, ours.env)))
            print(f"measured {label}", file=sys.stderr)
    print("| net | wall | CPU | peak memory |")
    print("|---|---|---|---|")
    for label, (wall, cpu, peak) in rows:
        print(f"| {label} | {wall:.2f} s | {cpu:.2f} s | {peak:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
