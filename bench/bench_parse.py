#!/usr/bin/env python3
"""Parse speed of backprop-lint's text parser against protobuf's text_format.

Usage: python3 bench/bench_parse.py [--repeat N] [--top K] [nets...]

Prints MB/s per net (the biggest K of the corpus by default) and for the
whole set. CPU time (time.process_time) is used: the machines are shared.
Not a test: numbers vary from run to run; compare the ratio.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, List, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from backprop_lint.caffe import textproto
from backprop_lint.caffe.model import InputError
from paths import shared_dir  # noqa: E402

CORPUS = shared_dir() / "corpus" / "nets"


def best_time(parse: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        parse(text)
        best = min(best, time.process_time() - started)
    return best


def parseable(text: str) -> bool:
    """Whether both parsers read the whole net (ours as BVLC, text_format with our schema)."""
    try:
        textproto.parse(text, flavor="bvlc", strict=True)
    except InputError:
        return False
    return True


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("nets", nargs="*", type=Path)
    arguments.add_argument("--repeat", type=int, default=3)
    arguments.add_argument("--top", type=int, default=8, help="per-net rows for the K biggest nets")
    options = arguments.parse_args()

    from google.protobuf import text_format

    from backprop_lint.caffe.schema import net_parameter_class

    net_class = net_parameter_class()
    paths = options.nets or sorted(CORPUS.glob("*.prototxt"))
    texts: List[Tuple[str, str]] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if parseable(text):  # text_format stops at the first error: compare full parses only
            texts.append((path.name, text))
    texts.sort(key=lambda item: -len(item[1]))

    def ours(text: str) -> object:
        return textproto.parse(text, flavor="bvlc", strict=True)

    def reference(text: str) -> object:
        return text_format.Parse(text, net_class())

    total_bytes = 0
    total_ours = total_reference = 0.0
    rows = []
    for name, text in texts:
        size = len(text.encode("utf-8"))
        ours_time = best_time(ours, text, options.repeat)
        reference_time = best_time(reference, text, 1 if size > 50_000 else options.repeat)
        total_bytes += size
        total_ours += ours_time
        total_reference += reference_time
        rows.append((name, size, ours_time, reference_time))

    print(f"{'net':60} {'KB':>7} {'ours MB/s':>10} {'text_format MB/s':>17} {'speed-up':>9}")
    for name, size, ours_time, reference_time in rows[: options.top]:
        print(f"{name[:60]:60} {size / 1024:7.0f} {size / 1e6 / ours_time:10.1f} "
              f"{size / 1e6 / reference_time:17.2f} {reference_time / ours_time:8.0f}x")
    print(f"{f'all {len(rows)} nets':60} {total_bytes / 1024:7.0f} {total_bytes / 1e6 / total_ours:10.1f} "
          f"{total_bytes / 1e6 / total_reference:17.2f} {total_reference / total_ours:8.0f}x")


if __name__ == "__main__":
    main()
