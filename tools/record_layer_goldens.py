#!/usr/bin/env python3
"""Record what real Caffe decides for the hand-made nets in fixtures/layer_nets/.

For every ``fixtures/layer_nets/<stem>.prototxt`` (stems start with ``layer__``
or ``subtle__``) and each phase, TRAIN and TEST, this runs the oracle (structure
and one forward/backward pass) and writes ``fixtures/golden/<stem>.<PHASE>.json``
in the format of tools/record_goldens.py, so tests/test_golden.py checks them.
The nets are used as written: no data layer to replace, no batch to cap.
``--flavor bvlc`` asks real BVLC Caffe instead and writes into
``fixtures/golden/bvlc/``.

usage: record_layer_goldens.py [--flavor ssd|bvlc] [--only STEM]... [--timeout S]
Needs the oracle (tools/oracle/build.sh).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
for _path in (TOOLS / "oracle", TOOLS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import oracle  # noqa: E402
from record_goldens import PHASES, golden_dir, golden_text, oracle_outcome  # noqa: E402

NETS_DIR = REPO / "fixtures" / "layer_nets"
PREFIXES = ("layer__", "subtle__")


def hand_made_nets(only: Sequence[str]) -> List[Path]:
    nets = sorted(path for path in NETS_DIR.glob("*.prototxt") if path.stem.startswith(PREFIXES))
    return [path for path in nets if not only or path.stem in only]


def record_phase(net_file: Path, phase: str, timeout: float, flavor: str) -> Dict[str, Any]:
    golden: Dict[str, Any] = {
        "net": net_file.relative_to(REPO).as_posix(),
        "phase": phase,
        "level": 0,
        "stages": [],
        "flavor": flavor,
        "fill_zero_weights": True,
    }
    golden.update(oracle_outcome(net_file, phase, timeout, flavor=flavor))
    return golden


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Record real Caffe's decisions on the hand-made layer nets.")
    parser.add_argument("--only", action="append", default=[], help="only this net stem (repeatable)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per oracle run")
    parser.add_argument("--flavor", default="ssd", choices=("ssd", "bvlc"), help="which real Caffe judges")
    options = parser.parse_args(argv)
    available, reason = oracle.oracle_available(options.flavor)
    if not available:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    nets = hand_made_nets(options.only)
    target_dir = golden_dir(options.flavor)
    target_dir.mkdir(parents=True, exist_ok=True)
    for number, net in enumerate(nets, 1):
        outcomes = []
        for phase in PHASES:
            golden = record_phase(net, phase, options.timeout, options.flavor)
            (target_dir / f"{net.stem}.{phase}.json").write_text(golden_text(golden), encoding="utf-8")
            outcomes.append(f"{phase}: " + ("refused" if "refusal" in golden else
                                            f"crash in {golden['crash_stage']}" if "crash_in_run" in golden else "ran"))
        print(f"[{number}/{len(nets)}] {net.stem}: {', '.join(outcomes)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
