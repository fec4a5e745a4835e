#!/usr/bin/env python3
"""`check` and `backward` against `simulate` on the same nets, whole processes, and their growth.

    python3 bench/bench_commands.py [--repeat 3] [--chains 10000,100000] [--no-large] [--in-repo]

For each net: the wall time of `backprop-lint simulate`, `check` (both
phases, every rule, text output) and `backward` (default call: every output
seeded, the fix searched), the minimum of --repeat runs, and the ratios
check/simulate and backward/simulate (goals: 1.5 and 2); then the same with
the CPU time (user + system) of each process, the minimum of the same runs:
on a shared machine wall times scatter with the load, CPU times much less.

As bench/bench_simulate.py does, it times the wheel of this checkout installed
in a venv outside the repo (bench/installed.py: pip's compiled bytecode, a
clean environment). ``--in-repo`` times ``python3 -m backprop_lint`` from the
checkout instead: where ``PYTHONDONTWRITEBYTECODE`` is set (as on the
machines this project is developed on), every process then compiles
backprop-lint's modules again, which costs `check` (more modules) more than
`simulate`. Nets: the three
largest corpus nets, and generated chains of Convolution/ReLU layers written
one layer per line and all on one line. Ends with the 10x growth factor of
each command from the smallest to the largest chain (linear: about 10; goal:
at most 12). Real Caffe is timed by bench/bench_simulate.py.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_simulate import CORPUS, LARGE_NETS, Ours, chain_net  # noqa: E402
from installed import run_once  # noqa: E402

COMMANDS = ("simulate", "check", "backward")


def measure(command: Sequence[str], repeat: int, env: Dict[str, str]) -> Tuple[float, float]:
    """(minimum wall seconds, minimum CPU seconds) of ``repeat`` runs of ``command``."""
    runs = [run_once(command, env) for _ in range(repeat)]
    return min(wall for wall, _, _ in runs), min(cpu for _, cpu, _ in runs)


def command_for(ours: Ours, name: str, path: Path) -> List[str]:
    base = [*ours.prefix, name, str(path), "--flavor", "ssd"]
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
    parser.add_argument("--in-repo", action="store_true",
                        help="time python3 -m backprop_lint from the checkout instead of the installed wheel")
    args = parser.parse_args()
    ours = Ours(args.in_repo)
    print(f"ours: {ours.label}", file=sys.stderr)
    chain_sizes = [int(x) for x in args.chains.split(",") if x]
    rows: List[Tuple[str, Dict[str, float]]] = []
    cpu_rows: List[Tuple[str, Dict[str, float]]] = []
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
            measured = {name: measure(command_for(ours, name, path), args.repeat, ours.env) for name in COMMANDS}
            rows.append((label, {name: walls for name, (walls, _) in measured.items()}))
            cpu_rows.append((label, {name: cpu for name, (_, cpu) in measured.items()}))
            print(f"measured {label}", file=sys.stderr)
    for title, table in (("wall time", rows), ("CPU time (user + system)", cpu_rows)):
        print(f"\n{title}, minimum of {args.repeat}:\n")
        print_table(table, chain_sizes)
    return 0


def print_table(rows: List[Tuple[str, Dict[str, float]]], chain_sizes: List[int]) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
