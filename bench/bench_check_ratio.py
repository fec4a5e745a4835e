#!/usr/bin/env python3
"""`check` against `simulate` in instructions, on every corpus net and on chains (goal: at most 1.5).

    python3 bench/bench_check_ratio.py [--nets SUBSTRING,...] [--chains 1000,10000] [--workers 2]
                                       [--worst 15] [--save FILE] [--compare FILE] [--in-repo]

For each net, two whole processes under callgrind (``valgrind --tool=callgrind``;
instruction counts do not move with the machine's load, unlike times):
``backprop-lint check --flavor ssd --color never --no-progress --jobs 1 NET``
and ``backprop-lint simulate --phase TEST --flavor ssd NET``, and the ratio
check / simulate. As bench/bench_simulate.py does, what runs is the wheel of
this checkout installed in a venv outside the repo (bench/installed.py);
``--in-repo`` runs ``python3 -m backprop_lint`` from the checkout instead.

Nets: every file of the corpus folder (``--nets`` keeps those whose name
contains one of the comma-separated substrings), then chains of
Convolution/ReLU layers (``--chains``, empty for none). ``--workers`` runs that
many callgrind processes at once (the counts do not depend on it). Prints the
distribution of the ratios, how many are above 1.5, and the worst nets.
``--save FILE`` writes the counts as JSON; ``--compare FILE`` prints each net's
ratio of an earlier saved run beside this one's (before -> after).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_simulate import CORPUS, Ours, chain_net  # noqa: E402

GOAL = 1.5
COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(command: Sequence[str], env: Dict[str, str]) -> int:
    """Instructions callgrind counts for one whole run of ``command``."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed (exit status {done.returncode}): {done.stderr[-400:]}")
    found = COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind for {' '.join(command)}")
    return int(found.group(1))


def commands(ours: Ours, path: Path) -> Tuple[List[str], List[str]]:
    """(check, simulate) command lines for ``path``."""
    check = [*ours.prefix, "check", "--flavor", "ssd", "--color", "never", "--no-progress", "--jobs", "1", str(path)]
    return check, ours.simulate(path, "TEST")


def measure(ours: Ours, label: str, path: Path) -> Tuple[str, int, int]:
    """(label, check instructions, simulate instructions)."""
    check, simulate = commands(ours, path)
    counts = instructions(check, ours.env), instructions(simulate, ours.env)
    print(f"{label}: {counts[0] / counts[1]:.3f}", file=sys.stderr)
    return label, counts[0], counts[1]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def report(results: Dict[str, Tuple[int, int]], worst: int, before: Optional[Dict[str, Tuple[int, int]]]) -> None:
    ratios = {label: check / simulate for label, (check, simulate) in results.items()}
    ordered = sorted(ratios.values())
    print(f"\n{len(ordered)} nets: check / simulate in instructions (callgrind, whole processes)")
    print("min {:.3f}  p25 {:.3f}  median {:.3f}  p75 {:.3f}  max {:.3f}".format(
        ordered[0], quantile(ordered, 0.25), quantile(ordered, 0.5), quantile(ordered, 0.75), ordered[-1]))
    print(f"above {GOAL}: {sum(r > GOAL for r in ordered)} of {len(ordered)}")
    if before:
        common = [label for label in ratios if label in before]
        old = sorted(before[label][0] / before[label][1] for label in common)
        if old:
            print(f"before ({len(old)} of the same nets): min {old[0]:.3f}  median {quantile(old, 0.5):.3f}  "
                  f"max {old[-1]:.3f}  above {GOAL}: {sum(r > GOAL for r in old)}")
    print(f"\nworst {min(worst, len(ratios))}:\n")
    header = "| net | simulate | check | check / simulate |"
    print(header if not before else "| net | simulate before → after | check before → after | ratio before → after |")
    print("|---|---|---|---|")
    for label in sorted(ratios, key=ratios.get, reverse=True)[:worst]:  # type: ignore[arg-type]
        check, simulate = results[label]
        if before and label in before:
            old_check, old_simulate = before[label]
            print(f"| {label} | {old_simulate / 1e6:,.0f} → {simulate / 1e6:,.0f} M | {old_check / 1e6:,.0f} → "
                  f"{check / 1e6:,.0f} M | {old_check / old_simulate:.3f} → {ratios[label]:.3f} |")
        else:
            print(f"| {label} | {simulate / 1e6:,.0f} M | {check / 1e6:,.0f} M | {ratios[label]:.3f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", default="", help="comma-separated substrings: only corpus nets whose name has one")
    parser.add_argument("--chains", default="1000,10000", help="chain sizes, comma-separated (empty: none)")
    parser.add_argument("--no-corpus", action="store_true", help="chains only")
    parser.add_argument("--workers", type=int, default=1, help="callgrind processes at once")
    parser.add_argument("--worst", type=int, default=15, help="how many of the worst nets to list")
    parser.add_argument("--save", type=Path, help="write the instruction counts to this JSON file")
    parser.add_argument("--compare", type=Path, help="a file --save wrote earlier: show before -> after")
    parser.add_argument("--in-repo", action="store_true",
                        help="run python3 -m backprop_lint from the checkout instead of the installed wheel")
    args = parser.parse_args()
    ours = Ours(args.in_repo)
    print(f"ours: {ours.label}", file=sys.stderr)
    wanted = [part for part in args.nets.split(",") if part]
    cases: List[Tuple[str, Path]] = []
    if not args.no_corpus:
        if not CORPUS.is_dir():
            raise SystemExit(f"{CORPUS} is not a folder (set BACKPROP_LINT_CORPUS to the corpus's nets folder)")
        cases += [(path.name, path) for path in sorted(CORPUS.iterdir())
                  if path.is_file() and (not wanted or any(part in path.name for part in wanted))]
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(x) for x in args.chains.split(",") if x):
            path = Path(tmp) / f"chain{size}.prototxt"
            path.write_text(chain_net(size))
            cases.append((f"chain of {size} layers", path))
        with ThreadPoolExecutor(max_workers=max(1, args.workers)) as pool:
            measured = list(pool.map(lambda case: measure(ours, *case), cases))
    results = {label: (check, simulate) for label, check, simulate in measured}
    if args.save:
        args.save.write_text(json.dumps({"ours": ours.label, "counts": results}, indent=1) + "\n")
    before = None
    if args.compare:
        before = {label: (pair[0], pair[1]) for label, pair in json.loads(args.compare.read_text())["counts"].items()}
    report(results, args.worst, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
