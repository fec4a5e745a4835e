#!/usr/bin/env python3
"""Wall time and peak memory: `backprop-lint simulate` against real Caffe loading the same net.

    python3 bench/bench_simulate.py [--repeat 5] [--chains 1000,10000,100000] [--in-repo]

What is timed is what a user runs: the ``backprop-lint`` console script of a
wheel of this checkout installed (with pip's compiled bytecode) in a venv
outside the repo (bench/installed.py; rebuilt when the wheel's content
changes; ``BACKPROP_LINT_BENCH_PYTHON`` picks the venv's interpreter), run
with no PYTHONPATH, PYTHONPYCACHEPREFIX or PYTHONDONTWRITEBYTECODE.
``--in-repo`` times ``python3 -m backprop_lint`` from the checkout instead
(this interpreter, its site-packages, this environment).
The first row is that interpreter's bare ``python -c pass``, for context.

Each measurement is a whole process (start-up included): median wall time and
peak memory of --repeat runs, and the minimum CPU time (user + system, from
``/usr/bin/time``: the figure to compare on a loaded machine). Real Caffe is the
oracle binary (tools/oracle/build.sh); without it only our side is measured.
Nets: the three largest corpus nets real Caffe loads, and synthetic chains of
Convolution/ReLU layers. Prints a Markdown table (the README's figures).
``--alternate N`` instead runs ours and real Caffe in turns, N times each, on
DenseNet-201 (whose ratio is the closest to its goal), so that a change in the
machine's load falls on both sides.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools" / "oracle"))
sys.path.insert(0, str(REPO / "bench"))

import oracle  # noqa: E402
from installed import clean_env, describe_interpreter, installed_venv  # noqa: E402
from paths import shared_dir  # noqa: E402

CORPUS = Path(os.environ["BACKPROP_LINT_CORPUS"]) if "BACKPROP_LINT_CORPUS" in os.environ else shared_dir() / "corpus" / "nets"
LARGE_NETS = (
    "soeaver__caffe-model__cls__inception__deploy_inception-resnet-v2.prototxt",
    "soeaver__caffe-model__cls__resnet-v2__deploy_resnet269-v2.prototxt",
    "shicai__DenseNet-Caffe__DenseNet_201.prototxt",
)


def measure(command: Sequence[str], env: Optional[Dict[str, str]] = None) -> Tuple[float, float, float]:
    """(wall seconds, peak MiB, CPU seconds: user + system) of one run of ``command``.

    The peak comes from ``/usr/bin/time``: a child's ru_maxrss seen from this
    process would include this process's own memory at fork time.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        child = subprocess.Popen(["/usr/bin/time", "-o", report.name, "-f", "%M", *command],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        # wait4: the CPU time of /usr/bin/time and its reaped child, to the microsecond
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):
            raise RuntimeError(f"{command[0]} failed (exit status {child.returncode}) on {command[1:]}")
        peak_kib = int(report.read().strip().splitlines()[-1])
    return wall, peak_kib / 1024.0, usage.ru_utime + usage.ru_stime


def median_of(command: Sequence[str], repeat: int, env: Optional[Dict[str, str]] = None) -> Tuple[float, float, float]:
    """Median wall time, median peak memory and minimum CPU time of ``repeat`` runs.

    On a shared machine the CPU minimum moves far less with the load than wall times do.
    """
    runs = [measure(command, env) for _ in range(repeat)]
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            min(r[2] for r in runs))


def chain_net(n_layers: int) -> str:
    """A chain of ``n_layers`` layers (Convolution + in-place ReLU pairs) on a tiny input."""
    lines = ['name: "chain"', 'layer { name: "data" type: "Input" top: "x0" '
             'input_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } } }']
    blob = "x0"
    for i in range(1, n_layers):
        if i % 2:
            top = f"x{i}"
            lines.append(f'layer {{ name: "conv{i}" type: "Convolution" bottom: "{blob}" top: "{top}" '
                         'convolution_param { num_output: 1 kernel_size: 1 } }')
            blob = top
        else:
            lines.append(f'layer {{ name: "relu{i}" type: "ReLU" bottom: "{blob}" top: "{blob}" }}')
    return "\n".join(lines) + "\n"


class Ours:
    """How our side is run: the installed console script (default) or the checkout."""

    def __init__(self, in_repo: bool) -> None:
        if in_repo:
            self.python = Path(sys.executable)
            self.prefix = [sys.executable, "-m", "backprop_lint"]
            self.env = dict(os.environ, PYTHONPATH=str(REPO))
            self.label = f"{sys.executable} -m backprop_lint, from the checkout"
        else:
            venv = installed_venv()
            self.python = venv.python
            self.prefix = [str(venv.script)]
            self.env = clean_env()
            self.label = (f"{venv.script} (wheel {venv.wheel_hash}, compiled bytecode; "
                          f"{describe_interpreter(venv.python)})")

    def simulate(self, path: Path, phase: str) -> List[str]:
        return [*self.prefix, "simulate", str(path), "--phase", phase, "--flavor", "ssd"]


def caffe(path: Path, phase: str) -> Optional[List[str]]:
    ready, _ = oracle.oracle_available()
    return [str(oracle.oracle_binary()), str(path), phase] if ready else None


def alternate(ours: Ours, path: Path, runs: int) -> int:
    """``runs`` whole processes of ours and of real Caffe on ``path``, taking turns."""
    command = caffe(path, "TEST")
    if command is None:
        print("bench_simulate: real Caffe is not built (tools/oracle/build.sh)", file=sys.stderr)
        return 2
    sides = {"backprop-lint": ours.simulate(path, "TEST"), "real Caffe": command}
    measured: Dict[str, List[Tuple[float, float, float]]] = {side: [] for side in sides}
    for _ in range(runs):
        for side, line in sides.items():
            measured[side].append(measure(line, ours.env if side == "backprop-lint" else None))
    print(f"{path.name}, {runs} runs of each, taking turns:\n")
    print("| | wall min | wall median | CPU min | CPU median |")
    print("|---|---|---|---|---|")
    for side, runs_of in measured.items():
        walls, cpus = [r[0] for r in runs_of], [r[2] for r in runs_of]
        print(f"| {side} | {min(walls):.3f} s | {statistics.median(walls):.3f} s | {min(cpus):.3f} s "
              f"| {statistics.median(cpus):.3f} s |")
    ours_walls = [r[0] for r in measured["backprop-lint"]]
    caffe_walls = [r[0] for r in measured["real Caffe"]]
    print(f"\nwall ratio: {min(ours_walls) / min(caffe_walls):.2f} (minima), "
          f"{statistics.median(ours_walls) / statistics.median(caffe_walls):.2f} (medians)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chains", default="1000,10000,100000")
    parser.add_argument("--in-repo", action="store_true",
                        help="time python3 -m backprop_lint from the checkout instead of the installed wheel")
    parser.add_argument("--alternate", type=int, default=0, metavar="N",
                        help="instead: N runs of ours and of real Caffe taking turns, on DenseNet-201 "
                             "(minimum and median of each: the load hits both sides alike)")
    args = parser.parse_args()
    ours = Ours(args.in_repo)
    print(f"ours: {ours.label}", file=sys.stderr)
    if args.alternate:
        return alternate(ours, CORPUS / LARGE_NETS[-1], args.alternate)
    bare = median_of([str(ours.python), "-c", "pass"], args.repeat, ours.env)
    rows: List[Tuple[str, Tuple[float, float, float], Optional[Tuple[float, float, float]]]] = [
        (f"(bare `{ours.python.name} -c pass` of that interpreter)", bare, None)]
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(name.split("__")[-1], CORPUS / name) for name in LARGE_NETS]
        missing = [str(path) for _, path in cases if not path.is_file()]
        if missing:
            print(f"bench_simulate: corpus nets not found: {', '.join(missing)} (set BACKPROP_LINT_CORPUS)",
                  file=sys.stderr)
            return 2
        for n in (int(x) for x in args.chains.split(",") if x):
            path = Path(tmp) / f"chain{n}.prototxt"
            path.write_text(chain_net(n))
            cases.append((f"chain of {n} layers", path))
        for label, path in cases:
            ours_measured = median_of(ours.simulate(path, "TEST"), args.repeat, ours.env)
            caffe_command = caffe(path, "TEST")
            caffe_measured = median_of(caffe_command, args.repeat) if caffe_command is not None else None
            rows.append((label, ours_measured, caffe_measured))
            print(f"measured {label}", file=sys.stderr)
    print("| net | backprop-lint wall | CPU | peak | real Caffe wall | CPU | peak | wall ratio | CPU ratio | memory ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, (t, m, c), theirs in rows:
        if theirs is None:
            print(f"| {label} | {t:.3f} s | {c:.3f} s | {m:.0f} MiB | n/a | | | | | |")
        else:
            ct, cm, cc = theirs
            cpu_ratio = f"{c / cc:.2f}" if cc > 0 else "n/a"
            print(f"| {label} | {t:.3f} s | {c:.3f} s | {m:.0f} MiB | {ct:.3f} s | {cc:.3f} s | {cm:.0f} MiB "
                  f"| {t / ct:.2f} | {cpu_ratio} | {m / cm:.2f} |")
    chain_times = {label: t for label, (t, _m, _c), _theirs in rows if label.startswith("chain of ")}
    if "chain of 10000 layers" in chain_times and "chain of 100000 layers" in chain_times:
        ratio = chain_times["chain of 100000 layers"] / chain_times["chain of 10000 layers"]
        print(f"\nlinear growth: 10k -> 100k layers time ratio {ratio:.1f} (goal: at most 12)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
