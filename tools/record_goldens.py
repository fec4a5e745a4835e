#!/usr/bin/env python3
"""Record what real Caffe decides for every corpus and experiment net.

For each net (corpus nets after tools/replace_data_layers.py; experiment nets
as they are) and each phase, TRAIN and TEST, this runs the oracle (structure
and one forward/backward pass) and writes

    fixtures/oracle_inputs/nets/<file>          the net Caffe was given
    fixtures/golden/<file stem>.<PHASE>.json    what Caffe did with it

A golden file holds:

    {"net": "fixtures/oracle_inputs/nets/<file>", "source": "corpus/nets/<file>",
     "phase": "TRAIN", "level": 0, "stages": [], "flavor": "ssd",
     "replaced_layers": [...], "labels": [...], "fill_zero_weights": true,
     "structure": {...}        or  "refusal": "Caffe's message", "refusal_errors": [...],
     "run": {...}              or  "crash_in_run": "message", "crash_stage": "Forward"|"Backward"
                               or  "run_skipped": "why"}

(no "run" key at all when the net was refused). Nets that cannot be made
loadable (Python layers, unknown data shapes) are listed with the reason in
fixtures/golden/SKIPPED.md.

That is the SSD-lineage judge (``--flavor ssd``, the default). With ``--flavor
bvlc``, real BVLC Caffe judges the very same inputs: every golden above is
replayed on the same ``fixtures/oracle_inputs/nets/<file>`` (same labels) and
written to ``fixtures/golden/bvlc/<file stem>.<PHASE>.json`` with
``"flavor": "bvlc"``.

usage: record_goldens.py [--flavor ssd|bvlc] [--corpus DIR] [--experiments DIR] [--only FILE]... [--timeout S]
Needs the oracle (tools/oracle/build.sh). Takes a few minutes.
"""
from __future__ import annotations

import os
import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parent
for _path in (TOOLS / "oracle", TOOLS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import oracle  # noqa: E402
import replace_data_layers as replacer  # noqa: E402
from backprop_lint.caffe.model import InputError  # noqa: E402

SHARED = Path(os.environ.get("BACKPROP_LINT_SHARED", REPO.parent / "shared"))
DEFAULT_CORPUS = SHARED / "corpus" / "nets"
DEFAULT_EXPERIMENTS = SHARED / "spec" / "experiments"
GOLDEN_DIR = REPO / "fixtures" / "golden"
#: goldens judged by real BVLC Caffe (the same inputs as the SSD-lineage goldens in GOLDEN_DIR)
BVLC_GOLDEN_DIR = GOLDEN_DIR / "bvlc"
NETS_DIR = REPO / "fixtures" / "oracle_inputs" / "nets"
SKIPPED_FILE = GOLDEN_DIR / "SKIPPED.md"
PHASES = ("TRAIN", "TEST")
FLAVOR = "ssd"  # the oracle is brocolli-caffe: BVLC Caffe as carried by the SSD fork
MAX_BATCH = 2  # the batch size changes no backward decision; a small one keeps the run cheap


@dataclass
class SourceNet:
    path: Path
    origin: str  # e.g. "corpus/nets/<file>"
    replace_data: bool


@dataclass
class PreparedInput:
    text: str
    replaced_layers: List[str] = field(default_factory=list)
    labels: List[str] = field(default_factory=list)


def source_nets(corpus: Path, experiments: Path) -> List[SourceNet]:
    nets = [SourceNet(path, f"corpus/nets/{path.name}", True) for path in sorted(corpus.glob("*")) if path.is_file()]
    nets += [SourceNet(path, f"spec/experiments/{path.name}", False) for path in sorted(experiments.glob("*.prototxt"))]
    return nets


def prepare(net: SourceNet, overrides: Dict[str, replacer.FileOverride], max_batch: Optional[int]) -> PreparedInput:
    """The text to give Caffe. Raises CannotReplace when a data layer's shapes are unknown."""
    text = net.path.read_text(encoding="utf-8", errors="replace")
    if not net.replace_data:
        return PreparedInput(text)
    entry = overrides.get(net.path.name, replacer.FileOverride({}, []))
    try:
        result = replacer.replace_data_layers(text, net.path.name, entry.layers, max_batch, entry.labels)
    except InputError:
        return PreparedInput(text)  # not even text format: Caffe's own parse error is the golden
    return PreparedInput(result.text, [r.layer for r in result.replacements], result.label_blobs)


def record_phase(net_file: Path, origin: str, phase: str, prepared: PreparedInput, timeout: float) -> Dict[str, Any]:
    golden: Dict[str, Any] = {
        "net": net_file.relative_to(REPO).as_posix(),
        "source": origin,
        "phase": phase,
        "level": 0,
        "stages": [],
        "flavor": FLAVOR,
        "replaced_layers": prepared.replaced_layers,
        "labels": prepared.labels,
        "fill_zero_weights": True,
    }
    golden.update(oracle_outcome(net_file, phase, timeout, labels=prepared.labels))
    return golden


def golden_dir(flavor: str) -> Path:
    return BVLC_GOLDEN_DIR if flavor == "bvlc" else GOLDEN_DIR


def oracle_outcome(net_file: Path, phase: str, timeout: float, labels: Sequence[str] = (),
                   flavor: str = FLAVOR) -> Dict[str, Any]:
    """What real Caffe did with ``net_file``: refusal, or structure plus run (or crash), as golden keys."""
    outcome: Dict[str, Any] = {}
    try:
        result = oracle.run_oracle(net_file, phase, run=True, labels=labels, timeout=timeout,
                                   fill_zero_weights=True, flavor=flavor)
    except oracle.OracleError as error:  # e.g. a run too slow for the timeout: keep the structure
        result = oracle.run_oracle(net_file, phase, run=False, timeout=timeout, flavor=flavor)
        outcome["run_skipped"] = str(error)
    if result.refusal is not None:
        outcome["refusal"] = result.refusal
        outcome["refusal_errors"] = result.errors
        return outcome
    outcome["structure"] = result.structure
    if result.crash_in_run is not None:
        outcome["crash_in_run"] = result.crash_in_run
        outcome["crash_stage"] = result.crash_stage
        if result.crash_stage == "Forward":
            outcome["crash_in_forward"] = True
    elif result.run is not None:
        outcome["run"] = result.run
    return outcome


def golden_text(golden: Dict[str, Any]) -> str:
    """Compact JSON with one layer per line: small, and readable in a diff."""
    lines = ["{"]
    items = list(golden.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        if key == "structure" and isinstance(value, dict):
            inner = [f' "{key}": {{']
            parts = list(value.items())
            for part_index, (part_key, part_value) in enumerate(parts):
                part_comma = "," if part_index < len(parts) - 1 else ""
                if part_key == "layers":
                    layers = ",\n".join("   " + compact(layer) for layer in part_value)
                    inner.append(f'  "layers": [\n{layers}\n  ]{part_comma}')
                else:
                    inner.append(f"  {compact(part_key)}: {compact(part_value)}{part_comma}")
            inner.append(f" }}{comma}")
            lines.extend(inner)
        else:
            lines.append(f" {compact(key)}: {compact(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def python_layers(text: str) -> List[str]:
    """'name (module.layer)' of every Python layer that is not a data source."""
    try:
        top_level = replacer.parse_text(text)
    except InputError:
        return []
    found = []
    for node in top_level:
        if node.name == "layer" and node.value("type") == "Python" and node.all("bottom"):
            module = f"{replacer.text_of(node, 'module')}.{replacer.text_of(node, 'layer')}"
            found.append(f"{node.value('name')} ({module})")
    return found


def record_phases(net: SourceNet, prepared: PreparedInput, timeout: float) -> Dict[str, Dict[str, Any]]:
    """Write the net's input copy and run the oracle on it in every phase."""
    NETS_DIR.mkdir(parents=True, exist_ok=True)
    net_file = NETS_DIR / net.path.name
    net_file.write_text(prepared.text, encoding="utf-8")
    return {phase: record_phase(net_file, net.origin, phase, prepared, timeout) for phase in PHASES}


def refusals(goldens: Dict[str, Dict[str, Any]]) -> int:
    return sum("refusal" in golden for golden in goldens.values())


def loads_in_more_phases(net: SourceNet, prepared: PreparedInput, refused: int, timeout: float) -> bool:
    """Whether Caffe refuses this version of the net in fewer phases (loading only: cheap)."""
    probe = NETS_DIR / net.path.name
    probe.write_text(prepared.text, encoding="utf-8")
    refused_now = sum(oracle.run_oracle(probe, phase, timeout=timeout).refusal is not None for phase in PHASES)
    return refused_now < refused


def record_net(net: SourceNet, overrides: Dict[str, replacer.FileOverride], timeout: float) -> Tuple[List[Path], Optional[str]]:
    """Write the net's input copy and its goldens; (files written, reason if skipped).

    Batch sizes are capped at MAX_BATCH; when Caffe refuses the capped net but
    accepts it with the batch sizes as written (a net whose shapes tie the
    batch to a fixed number), the uncapped net is recorded instead.
    """
    user_code = python_layers(net.path.read_text(encoding="utf-8", errors="replace"))
    if user_code:
        return [], f"Python layers {', '.join(user_code)}: the oracle never imports user code"
    try:
        chosen = prepare(net, overrides, MAX_BATCH)
    except replacer.CannotReplace as error:
        return [], error.message
    if oracle.has_python_layer(chosen.text):
        return [], "has Python layers (the oracle never imports user code)"
    goldens = record_phases(net, chosen, timeout)
    if refusals(goldens):
        uncapped = prepare(net, overrides, None)
        if uncapped.text != chosen.text and loads_in_more_phases(net, uncapped, refusals(goldens), timeout):
            chosen, goldens = uncapped, record_phases(net, uncapped, timeout)
        (NETS_DIR / net.path.name).write_text(chosen.text, encoding="utf-8")
    written = [NETS_DIR / net.path.name]
    for phase, golden in goldens.items():
        target = GOLDEN_DIR / f"{net.path.stem}.{phase}.json"
        target.write_text(golden_text(golden), encoding="utf-8")
        written.append(target)
    return written, None


def write_skipped(skipped: Sequence[Tuple[SourceNet, str]]) -> None:
    lines = [
        "# Nets without goldens",
        "",
        "Written by `tools/record_goldens.py`: real Caffe was not run on these nets.",
        "",
        "| net | reason |",
        "|---|---|",
    ]
    lines += [f"| `{net.origin}` | {reason.replace('|', '/')} |" for net, reason in skipped]
    SKIPPED_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def recorded_here(golden_file: Path) -> bool:
    """Whether this script wrote the golden: fixtures/golden/ also holds other
    recorders' files (layer__*, subtle__*: tools/record_layer_goldens.py), never touched here."""
    try:
        golden = json.loads(golden_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    source = golden.get("source", "") if isinstance(golden, dict) else ""
    return isinstance(source, str) and source.startswith(("corpus/nets/", "spec/experiments/"))


def remove_stale(kept: Sequence[Path]) -> None:
    """Delete goldens and input copies of nets this script no longer records."""
    keep = {path.resolve() for path in kept}
    stale_goldens = [path for path in GOLDEN_DIR.glob("*.json") if path.resolve() not in keep and recorded_here(path)]
    stale_nets = [path for path in NETS_DIR.glob("*") if path.resolve() not in keep]
    for path in stale_goldens + stale_nets:
        path.unlink()


def summary(golden_files: Sequence[Path]) -> str:
    counts = {"loaded": 0, "refused": 0, "crash_in_run": 0, "run_skipped": 0}
    for path in golden_files:
        golden = json.loads(path.read_text(encoding="utf-8"))
        counts["refused" if "refusal" in golden else "loaded"] += 1
        counts["crash_in_run"] += "crash_in_run" in golden
        counts["run_skipped"] += "run_skipped" in golden
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


def record_bvlc(only: Sequence[str], timeout: float) -> int:
    """Replay every SSD-judge golden's input on real BVLC Caffe into fixtures/golden/bvlc/."""
    available, reason = oracle.oracle_available("bvlc")
    if not available:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    BVLC_GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    sources = sorted(path for path in GOLDEN_DIR.glob("*.json") if recorded_here(path))
    if only:
        sources = [path for path in sources if Path(json.loads(path.read_text())["net"]).name in only]
    written: List[Path] = []
    for number, source in enumerate(sources, 1):
        judged_by_ssd = json.loads(source.read_text(encoding="utf-8"))
        golden = {key: judged_by_ssd[key] for key in
                  ("net", "source", "phase", "level", "stages", "replaced_layers", "labels", "fill_zero_weights")}
        golden["flavor"] = "bvlc"
        golden.update(oracle_outcome(REPO / golden["net"], golden["phase"], timeout, golden["labels"], "bvlc"))
        target = BVLC_GOLDEN_DIR / source.name
        target.write_text(golden_text(golden), encoding="utf-8")
        written.append(target)
        print(f"[{number}/{len(sources)}] {source.name}: {'refused' if 'refusal' in golden else 'loaded'}", flush=True)
    if not only:
        kept = {path.resolve() for path in written}
        for path in BVLC_GOLDEN_DIR.glob("*.json"):
            if path.resolve() not in kept and recorded_here(path):
                path.unlink()
    print(summary(written))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Record real Caffe's decisions as golden files.")
    parser.add_argument("--flavor", default="ssd", choices=("ssd", "bvlc"),
                        help="which real Caffe judges (bvlc replays the ssd goldens' inputs)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--experiments", type=Path, default=DEFAULT_EXPERIMENTS)
    parser.add_argument("--only", action="append", default=[], help="only this file name (repeatable)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per oracle run")
    options = parser.parse_args(argv)
    if options.flavor == "bvlc":
        return record_bvlc(options.only, options.timeout)
    available, reason = oracle.oracle_available()
    if not available:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    overrides = replacer.load_overrides()
    nets = source_nets(options.corpus, options.experiments)
    if options.only:
        nets = [net for net in nets if net.path.name in options.only]
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    written: List[Path] = []
    skipped: List[Tuple[SourceNet, str]] = []
    for number, net in enumerate(nets, 1):
        files, skip_reason = record_net(net, overrides, options.timeout)
        written += files
        if skip_reason:
            skipped.append((net, skip_reason))
        print(f"[{number}/{len(nets)}] {net.origin}: {skip_reason or 'recorded'}", flush=True)
    if not options.only:
        write_skipped(skipped)
        remove_stale(written + [SKIPPED_FILE])
    print(summary([path for path in written if path.suffix == ".json"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
