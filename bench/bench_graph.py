"""How long `backprop-lint graph` takes on a large net (default: ResNet-269-v2 deploy from the corpus).

Usage: ``python3 bench/bench_graph.py [NET] [--repeat N]``. Runs the whole
command (a fresh process, start-up included) for each output format, N times,
and prints the median wall time, the picture's size and its node count. SVG
and HTML need Graphviz's `dot`; without it only DOT is measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("BACKPROP_LINT_SHARED", REPO.parent / "shared"))
DEFAULT_NET = SHARED / "corpus" / "nets" / "soeaver__caffe-model__cls__resnet-v2__deploy_resnet269-v2.prototxt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("net", nargs="?", type=Path, default=DEFAULT_NET)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.net.is_file():
        print(f"bench_graph: no such net: {args.net}", file=sys.stderr)
        return 2
    formats = ["dot", "svg", "html"] if shutil.which("dot") else ["dot"]
    if formats == ["dot"]:
        print("Graphviz's `dot` is not installed: measuring DOT output only")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    print(f"{args.net.name}, median of {args.repeat}:")
    with tempfile.TemporaryDirectory() as directory:
        for fmt in formats:
            out = Path(directory) / f"net.{fmt}"
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "backprop_lint", "graph", str(args.net), "-o", str(out)],
                               env=env, check=True)
                times.append(time.perf_counter() - start)
            text = out.read_text(encoding="utf-8")
            nodes = text.count('class="node') if fmt != "dot" else text.count(" [id=")
            print(f"  {fmt:4}  {statistics.median(times):6.2f} s  {len(text) / 1e6:5.1f} MB  {nodes} nodes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
