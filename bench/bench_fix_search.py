#!/usr/bin/env python3
"""`backward`'s fix search on fan nets: N outputs, no loss, many candidate starts.

    python3 bench/bench_fix_search.py [--sizes 1000,2000,10000] [--nets fan,read-data,...]
                                      [--repeat 3] [--instructions] [--api] [--in-repo]

Each net is an Input ``data`` read by N ReLUs (tops r0 .. rN-1) and a blob
``other``; the call is ``backprop-lint backward NET --seed r0 ... --seed
rN-1 --read READ``, so every ReLU is a candidate start of the fix search and,
with ``force_backward: true``, a layer of its own that runs backward:

* ``fan``: ``other`` is an unread Input and the read (no call can make it
  non-zero);
* ``read-data``: the read is ``data`` (the first candidate passes);
* ``bottom``: ``other`` is read, with ``propagate_down: false``, by a ReLU
  below the fan;
* ``silence``: ``other`` is read by a Silence layer below the fan (its
  Backward zeroes the diff);
* ``argmax``: ``other`` is read by an ArgMax layer below the fan (its
  Backward aborts);
* ``parameter``: ``other`` is a Parameter layer's top (every call is
  simulated on its own);
* ``two-reads``: as ``bottom``, reading both ``other`` and ``data`` (each
  ReLU writes ``data``'s diff, but ``other`` never gets one);
* ``unknown-bottom``: the ReLUs read ``p``, the top of an undeclared Python
  layer over ``data``, and the read is ``data``, whose diff that layer makes
  unknown whatever reaches it: the sweeps need not run the ReLUs, since what
  the Python layer writes does not depend on its top's diff
  (``simulate._reads_top_diffs``);
* ``unknown-fan``: each ReLU ``r<i>`` of ``data`` is read by its own
  undeclared Python layer (top ``p<i>``), the seeds are the ``p<i>`` and the
  read is ``data``: every Python layer is a candidate start with relevant
  layers of its own, and ``data``'s diff is unknown after any call, never
  non-zero (``simulate.no_call_can_pass`` proves it in one pass);
  ``unknown-fan-forced`` is the same net with ``force_backward: true``;
* ``abort-between``: the ReLUs read ``x``, a ReLU of ``data``, and an
  ArgMax reads ``x`` too; the read is ``data``. With force_backward, every
  call that gives ``data`` a gradient runs the ArgMax, which aborts: the
  proof starts again below each layer that aborts, and sees it;
* ``joint`` (forced by the search): the ReLUs read ``x``, a ReLU of ``data``, under which a ReLU
  ``w`` of ``other`` (seeded too) would overwrite ``other``'s diff; both
  ``data`` and ``other`` are read. Each read alone is non-zero after some
  call, never both: every call that gives ``data`` a gradient runs from a
  ReLU of the fan down through ``x``, so through ``w``. The proof, which
  bounds each diff over all calls, cannot see it; ``data`` keeps its value
  at every end above ``x``, its last writer, so ``other`` is tried alone
  at the ends up to ``x`` only (``_ReadsAlone.ceiling``), in a sweep of one
  layer per start;
* ``many-reads``: ``joint`` reading every top of the fan too (N + 2 reads):
  only a few reads are swept alone (``_ReadsAlone.tried``), the ceiling is
  found for every start in one pass, and a sweep reads again only the
  watched diffs of the classes each layer writes.

Prints the wall and CPU time (minimum of --repeat runs) per net and size, and
the growth from the smallest size to each other one (linear: the size ratio).
``--instructions`` counts instructions under callgrind instead (one run; does
not move with the machine's load). ``--api`` runs a Python process that calls
``plan_backward`` with the same seeds and read instead of the console script
(whose command line of N ``--seed`` options is read in linear time:
``cli/quickargs.py``). As the other benches, it runs the wheel of
this checkout installed in a venv outside the repo (bench/installed.py);
``--in-repo`` runs ``python3 -m backprop_lint`` from the checkout.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_check_ratio import instructions  # noqa: E402
from bench_simulate import Ours  # noqa: E402
from installed import run_once  # noqa: E402

_OTHER = 'layer { name: "other" type: "Input" top: "other" input_param { shape { dim: 1 dim: 3 } } }'
_KEEP = 'layer { name: "keep" type: "ReLU" bottom: "other" top: "kept" propagate_down: false }'
_PYTHON = 'layer {{ name: "p{i}" type: "Python" bottom: "r{i}" top: "p{i}" python_param {{ module: "m" layer: "L" }} }}'
#: per net: the layers under the fan, the blob its ReLUs read, the blobs read
_NETS: Dict[str, Tuple[List[str], str, List[str]]] = {
    "fan": ([_OTHER], "data", ["other"]),
    "read-data": ([_OTHER], "data", ["data"]),
    "bottom": ([_OTHER, _KEEP], "data", ["other"]),
    "silence": ([_OTHER, 'layer { name: "silence" type: "Silence" bottom: "other" }'], "data", ["other"]),
    "argmax": ([_OTHER, 'layer { name: "argmax" type: "ArgMax" bottom: "other" top: "arg" }'], "data", ["other"]),
    "parameter": (['layer { name: "other" type: "Parameter" top: "other" parameter_param { shape { dim: 1 dim: 3 } } }'],
                  "data", ["other"]),
    "two-reads": ([_OTHER, _KEEP], "data", ["other", "data"]),
    "unknown-bottom": (['layer { name: "pre" type: "Python" bottom: "data" top: "p" '
                        'python_param { module: "m" layer: "L" } }'], "p", ["data"]),
    "unknown-fan": ([_OTHER], "data", ["data"]),
    "unknown-fan-forced": ([_OTHER], "data", ["data"]),
    "abort-between": (['layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
                       'layer { name: "am" type: "ArgMax" bottom: "x" top: "a" }'], "x", ["data"]),
    "joint": ([_OTHER, 'layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
               'layer { name: "w" type: "ReLU" bottom: "other" top: "o2" }'], "x", ["data", "other"]),
    "many-reads": ([_OTHER, 'layer { name: "x" type: "ReLU" bottom: "data" top: "x" }',
                    'layer { name: "w" type: "ReLU" bottom: "other" top: "o2" }'], "x", ["data", "other"]),
}
#: seeds besides the fan's tops
_MORE_SEEDS: Dict[str, List[str]] = {"joint": ["other"], "many-reads": ["other"]}
#: the nets that read every top of the fan too, besides their reads
_READ_EVERY_TOP = {"many-reads"}
#: the nets whose seeds are the tops ``p<i>`` of a Python layer over each ReLU, not the ReLUs' tops
_UNKNOWN_FANS = {"unknown-fan", "unknown-fan-forced"}
NETS = tuple(_NETS)


def fan_net(kind: str, n: int) -> str:
    """An Input ``data`` and the layers of ``kind`` under ``n`` ReLUs."""
    below, fan_bottom, _ = _NETS[kind]
    lines = ['name: "fan"', *(["force_backward: true"] if kind.endswith("-forced") else []),
             'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }',
             *below]
    for i in range(n):
        lines.append(f'layer {{ name: "r{i}" type: "ReLU" bottom: "{fan_bottom}" top: "r{i}" }}')
        if kind in _UNKNOWN_FANS:
            lines.append(_PYTHON.format(i=i))
    return "\n".join(lines) + "\n"


def seed_prefix(kind: str) -> str:
    return "p" if kind in _UNKNOWN_FANS else "r"


# sys.path[0] is the working directory under `python -c`: dropped, so that the installed wheel is
# imported even when the bench runs from the repo's root
_API = ("import sys; del sys.path[0]; from backprop_lint.backward.plan import plan_backward; "
        "plan_backward(sys.argv[1], seeds=[*(f'{sys.argv[3]}{i}' for i in range(int(sys.argv[2]))), "
        "*filter(None, sys.argv[4].split(','))], reads=sys.argv[5:])")


def command(ours: Ours, kind: str, n: int, path: Path, api: bool) -> List[str]:
    reads = [*_NETS[kind][2], *(f"r{i}" for i in range(n) if kind in _READ_EVERY_TOP)]
    if api:
        return [str(ours.python), "-c", _API, str(path), str(n), seed_prefix(kind),
                ",".join(_MORE_SEEDS.get(kind, ())), *reads]
    names = [*(f"{seed_prefix(kind)}{i}" for i in range(n)), *_MORE_SEEDS.get(kind, ())]
    seeds = [argument for name in names for argument in ("--seed", name)]
    return [*ours.prefix, "backward", str(path), *seeds, *(argument for read in reads for argument in ("--read", read))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000,10000", help="fan widths, comma-separated")
    parser.add_argument("--nets", default=",".join(NETS), help=f"comma-separated, of: {', '.join(NETS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="callgrind instruction counts instead of times")
    parser.add_argument("--api", action="store_true", help="call plan_backward in a Python process, not the CLI")
    parser.add_argument("--in-repo", action="store_true",
                        help="run python3 -m backprop_lint from the checkout instead of the installed wheel")
    args = parser.parse_args()
    ours = Ours(args.in_repo)
    print(f"ours: {ours.label}", file=sys.stderr)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    kinds = [kind for kind in args.nets.split(",") if kind]
    unknown = [kind for kind in kinds if kind not in _NETS]
    if unknown:
        raise SystemExit(f"unknown nets: {', '.join(unknown)} (known: {', '.join(NETS)})")
    results: Dict[Tuple[str, int], Tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for n in sizes:
                path = Path(tmp) / f"{kind}{n}.prototxt"
                path.write_text(fan_net(kind, n))
                line = command(ours, kind, n, path, args.api)
                if args.instructions:
                    count = float(instructions(line, ours.env))
                    results[kind, n] = (count, count)
                else:
                    runs = [run_once(line, ours.env) for _ in range(args.repeat)]
                    results[kind, n] = (min(r[0] for r in runs), min(r[1] for r in runs))
                wall, cpu = results[kind, n]
                figures = (f"{cpu / 1e6:,.0f} M instructions" if args.instructions
                           else f"{wall:.2f} s wall, {cpu:.2f} s CPU")
                print(f"measured {kind} {n}: {figures}", file=sys.stderr)
    if args.instructions:
        print("\n| net | outputs | instructions | growth from the smallest |")
        print("|---|---|---|---|")
    else:
        print(f"\nminimum of {args.repeat}:\n")
        print("| net | outputs | wall | CPU | CPU growth from the smallest |")
        print("|---|---|---|---|---|")
    for kind in kinds:
        first = results[kind, sizes[0]][1]
        for n in sizes:
            wall, cpu = results[kind, n]
            growth = f"x{cpu / first:.1f} (size x{n / sizes[0]:g})"
            if args.instructions:
                print(f"| {kind} | {n:,} | {cpu / 1e6:,.0f} M | {growth} |")
            else:
                print(f"| {kind} | {n:,} | {wall:.2f} s | {cpu:.2f} s | {growth} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
