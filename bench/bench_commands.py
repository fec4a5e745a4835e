#!/usr/bin/env python3
"""`check` and `backward` against `simulate` on the same nets, whole processes, and their growth.

    python3 bench/bench_commands.py [--repeat 3] [--chains 10000,100000] [--no-large]

For each net: the wall time of `backprop-lint simulate`, `check` (both
phases, every rule, text output) and `backward` (default call: every output
seeded, the fix searched), the minimum of --repeat runs, and the ratios
check/simulate and backward/simulate (goals: 1.5 and 2). Nets: the three
largest corpus nets, and generated chains of Convolution/ReLU layers written
one layer per line and all on one line. Ends with the 10x growth factor of
each command from the smallest to the largest chain (linear: about 10; goal:
at most 12). Real Caffe is timed by bench/bench_simulate.py.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_simulate import CORPUS, LARGE_NETS, chain_net  # noqa: E402

COMMANDS = ("simulate", "check", "backward")


def wall(command: Sequence[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - started
        if done.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode()[-300:]}")
        best = min(best, elapsed)
    return best


def command_for(name: str, path: Path) -> List[str]:
    base = [sys.executable, "-m", "backprop_lint", name, str(path), "--flavor", "ssd"]
    if name == "simulate":
        return base + ["--phase", "TEST"]
    if name == "check":
        return base + ["--color", "never", "--no-progress", "--jobs", "1"]
    return base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--chains", default="10000,100000")
    parser.add_argument("--no-large", action="store_true", help="skip the corpus nets")
    args = parser.parse_args()
    chain_sizes = [int(x) for x in args.chains.split(",") if x]
    rows: List[Tuple[str, Dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cases: List[Tuple[str, Path]] = []
        if not args.no_large:
            cases += [(name.split("__")[-1], CORPUS / name) for name in LARGE_NETS]
        for n in chain_sizes:
            text = chain_net(n)
            for layout, body in (("lines", text), ("one line", text.replace("\n", " "))):
                path = Path(tmp) / f"chain{n}-{layout.replace(' ', '')}.prototxt"
                path.write_text(body)
                cases.append((f"chain of {n} layers, {layout}", path))
        for label, path in cases:
            if not path.is_file():
                raise SystemExit(f"{path} does not exist (set BACKPROP_LINT_CORPUS to the corpus's nets folder)")
            times = {name: wall(command_for(name, path), args.repeat) for name in COMMANDS}
            rows.append((label, times))
            print(f"measured {label}", file=sys.stderr)
    print("| net | simulate | check | backward | check / simulate | backward / simulate |")
    print("|---|---|---|---|---|---|")
    for label, t in rows:
        print(f"| {label} | {t['simulate']:.2f} s | {t['check']:.2f} s | {t['backward']:.2f} s "
              f"| {t['check'] / t['simulate']:.2f} | {t['backward'] / t['simulate']:.2f} |")
    if len(chain_sizes) >= 2:
        small, large = min(chain_sizes), max(chain_sizes)
        for layout in ("lines", "one line"):
            by_label = dict(rows)
            first, last = by_label[f"chain of {small} layers, {layout}"], by_label[f"chain of {large} layers, {layout}"]
            growth = ", ".join(f"{name} x{last[name] / first[name]:.1f}" for name in COMMANDS)
            print(f"\n{small} -> {large} layers ({layout}): {growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
