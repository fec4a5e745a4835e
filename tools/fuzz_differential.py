#!/usr/bin/env python3
"""Compare backprop-lint's simulation with real Caffe on random nets.

    python tools/fuzz_differential.py --count 200 --start-seed 0 [--flavor ssd|bvlc] [--jobs 2] [--save DIR]

Each seed gives one net from ``tests/randnet.py`` (generated for the flavour).
The flavour's real Caffe (the oracles of ``tools/oracle/``, built by
``tools/oracle/build.sh``: the SSD-lineage build judges ``ssd``, BVLC Caffe
judges ``bvlc``) loads and runs it; the simulation
(``backprop_lint.caffe.pipeline.run_simulate`` with that flavour and that
oracle's build options) predicts it. They agree when:

* both refuse the net, or neither does;
* every structure field is equal: layers (every key), blobs, inputs, outputs;
* Backward aborts in real Caffe exactly when we list ``backward_aborts``;
* every blob or parameter diff we claim stays zero is zero in the measurement;
* on nets without a loss, the same holds when both seed a random subset of
  the outputs (``--seed``) instead of all of them.

Disagreements are printed with the seed and the first differing field; with
``--save`` each disagreeing net is written there for reproduction. The exit
status is 1 when any net disagreed, 2 when the oracle is not available.

The comparison functions are also the engine of tests/test_live_differential.py.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO / "tools" / "oracle", REPO / "tests", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import oracle  # noqa: E402  (tools/oracle/oracle.py)
import randnet  # noqa: E402  (tests/randnet.py)

STRUCTURE_KEYS: Tuple[str, ...] = ("layers", "blobs", "inputs", "outputs")
LAYER_KEYS: Tuple[str, ...] = (
    "name", "type", "bottoms", "tops", "need_backward", "bottom_need_backward", "param_propagate_down", "loss",
)
FLAVOR = "ssd"  # the default judge: the SSD-lineage Caffe

Simulator = Callable[..., Dict[str, Any]]
OracleRunner = Callable[..., "oracle.OracleResult"]


@dataclass
class RunCheck:
    """How one simulated backward pass compared with the measured one."""

    disagreement: Optional[str] = None
    #: zero-diff claims (blobs and parameter blobs) that the measurement confirmed
    zero_claims_checked: int = 0
    #: non-zero claims that measured zero (allowed: values can cancel; only counted)
    nonzero_claims_measured_zero: int = 0
    #: claims we left unknown (null)
    unknown_claims: int = 0
    aborted: bool = False


@dataclass
class Outcome:
    """One random net compared with real Caffe."""

    seed: int
    net: "randnet.RandomNet"
    #: "valid" (both loaded it), "refused" (both refused), or "mismatch"
    kind: str
    disagreement: Optional[str] = None
    #: the generator's intent (valid / refused for a reason) that real Caffe did not bear out
    generator_problem: Optional[str] = None
    run: RunCheck = field(default_factory=RunCheck)
    #: for nets without a loss: the seeded outputs and how that run compared
    seeds: Tuple[str, ...] = ()
    seeded_run: Optional[RunCheck] = None
    oracle_refusal: Optional[str] = None
    our_error: Optional[str] = None

    @property
    def agreed(self) -> bool:
        return self.disagreement is None and (self.seeded_run is None or self.seeded_run.disagreement is None)

    def first_difference(self) -> str:
        if self.disagreement is not None:
            return self.disagreement
        if self.seeded_run is not None and self.seeded_run.disagreement is not None:
            return f"with --seed {' --seed '.join(self.seeds)}: {self.seeded_run.disagreement}"
        return ""


# ---------------------------------------------------------------------------
# Comparing one net
# ---------------------------------------------------------------------------


def compare_structure(ours: Dict[str, Any], theirs: Dict[str, Any]) -> Optional[str]:
    """The first structure field where the simulation differs from Caffe, or None."""
    our_layers, their_layers = ours.get("layers", []), theirs.get("layers", [])
    for index, (mine, real) in enumerate(zip(our_layers, their_layers)):
        for key in LAYER_KEYS:
            if mine.get(key) != real.get(key):
                return (f"layers[{index}] ({real.get('name')!r}, {real.get('type')}).{key}: "
                        f"ours {mine.get(key)!r}, Caffe {real.get(key)!r}")
        extra = sorted(set(mine) - set(LAYER_KEYS))
        if extra:
            return f"layers[{index}] ({real.get('name')!r}) has keys Caffe does not print: {extra}"
    if len(our_layers) != len(their_layers):
        ours_names = [layer.get("name") for layer in our_layers]
        their_names = [layer.get("name") for layer in their_layers]
        return f"layer count: ours {len(our_layers)} {ours_names}, Caffe {len(their_layers)} {their_names}"
    for key in STRUCTURE_KEYS[1:]:
        if ours.get(key) != theirs.get(key):
            return f"{key}: ours {ours.get(key)!r}, Caffe {theirs.get(key)!r}"
    return None


def _check_zero_claims(what: str, claims: Dict[str, Any], measured: Dict[str, Any], check: RunCheck) -> None:
    for name, claim in claims.items():
        if claim is None:
            check.unknown_claims += 1
            continue
        if name not in measured:
            check.disagreement = check.disagreement or f"{what} {name!r}: not in Caffe's measurement"
        elif claim is False and measured[name] is True:
            check.disagreement = check.disagreement or (
                f"{what} {name!r}: we claim its diff stays zero, Caffe's is non-zero")
        elif claim is False:
            check.zero_claims_checked += 1
        elif claim is True and measured[name] is False:
            check.nonzero_claims_measured_zero += 1


def compare_run(ours: Dict[str, Any], result: "oracle.OracleResult") -> RunCheck:
    """Backward aborts and zero-diff claims against one measured Forward/Backward."""
    check = RunCheck()
    our_aborts = list(ours.get("backward_aborts") or [])
    if result.crash_in_run is not None:
        check.aborted = True
        if result.crash_stage != "Backward":
            check.disagreement = f"Caffe died in {result.crash_stage or 'the run'}, not Backward: {result.crash_in_run}"
        elif not our_aborts:
            check.disagreement = f"Caffe's Backward aborted ({result.crash_in_run}); we predict no abort"
        return check
    if our_aborts:
        check.disagreement = f"we predict Backward aborts in {our_aborts}; Caffe's Backward completed"
        return check
    measured = result.run or {}
    _check_zero_claims("blob", ours.get("blob_diff_nonzero") or {}, measured.get("blob_diff_nonzero", {}), check)
    their_params = measured.get("param_diff_nonzero", {})
    for layer, claims in (ours.get("param_diff_nonzero") or {}).items():
        real = their_params.get(layer)
        if real is None or len(real) != len(claims):
            check.disagreement = check.disagreement or (
                f"param diffs of layer {layer!r}: ours {claims!r}, Caffe {real!r}")
            continue
        _check_zero_claims(f"param of layer {layer!r} #", {str(i): c for i, c in enumerate(claims)},
                           {str(i): m for i, m in enumerate(real)}, check)
    return check


def _has_loss(structure: Dict[str, Any]) -> bool:
    return any(weight != 0 for layer in structure.get("layers", []) for weight in layer.get("loss", []))


def pick_seeds(seed: int, outputs: Sequence[str]) -> Tuple[str, ...]:
    """A deterministic, non-empty random subset of a no-loss net's outputs."""
    rng = random.Random(seed * 7919 + 1)
    chosen = [name for name in outputs if rng.random() < 0.5]
    return tuple(chosen or [rng.choice(list(outputs))])


def _default_simulator() -> Simulator:
    from backprop_lint.caffe.pipeline import run_simulate

    return run_simulate


def _simulate(simulate: Simulator, path: Path, net: "randnet.RandomNet",
              seeds: Optional[Sequence[str]] = None, flavor: str = FLAVOR) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(our JSON, None) or (None, the traceback) when the simulation itself blew up."""
    from backprop_lint.caffe.build_options import ORACLE_BUILDS, build_setting_of

    try:
        return simulate(str(path), phase=net.phase, level=net.level, stages=net.stages,
                        flavor=flavor, seeds=list(seeds) if seeds is not None else None,
                        build=build_setting_of(ORACLE_BUILDS[flavor])), None
    except Exception:  # a traceback is itself a finding: bad input must never give one
        return None, traceback.format_exc(limit=6)


def _oracle(run_oracle: OracleRunner, path: Path, net: "randnet.RandomNet",
            seeds: Sequence[str] = (), flavor: str = FLAVOR) -> "oracle.OracleResult":
    return run_oracle(path, phase=net.phase, level=net.level, stages=net.stages, run=True, seeds=seeds,
                      flavor=flavor)


def _generator_problem(net: "randnet.RandomNet", result: "oracle.OracleResult") -> Optional[str]:
    if net.valid and result.refusal is not None:
        return f"meant to be valid, Caffe refused it: {result.refusal}"
    if not net.valid and result.refusal is None:
        return f"meant to be refused ({net.mutation}), Caffe loaded it"
    if not net.valid and not any(expected in (result.refusal or "") for expected in net.refusal):
        return f"meant to be refused for {net.refusal}, Caffe said: {result.refusal}"
    if result.crash_in_run is not None and result.crash_stage != "Backward":
        return f"Caffe died in {result.crash_stage}: {result.crash_in_run}"
    return None


def compare_net(
    net: "randnet.RandomNet",
    workdir: Path,
    simulate: Optional[Simulator] = None,
    run_oracle: OracleRunner = oracle.run_oracle,
    flavor: str = FLAVOR,
) -> Outcome:
    """Run one net through the flavour's real Caffe and the simulation and compare them."""
    simulate = simulate or _default_simulator()
    path = workdir / (f"randnet_{net.seed}.prototxt" if flavor == FLAVOR else f"randnet_{flavor}_{net.seed}.prototxt")
    path.write_text(net.text)
    try:
        result = _oracle(run_oracle, path, net, flavor=flavor)
    except oracle.OracleError as error:  # e.g. a timeout: nothing to compare with
        return Outcome(seed=net.seed, net=net, kind="mismatch", disagreement=f"the oracle could not answer: {error}")
    ours, blew_up = _simulate(simulate, path, net, flavor=flavor)
    outcome = Outcome(seed=net.seed, net=net, kind="mismatch", oracle_refusal=result.refusal,
                      generator_problem=_generator_problem(net, result))
    if ours is None:
        outcome.disagreement = f"the simulation raised:\n{blew_up}"
        return outcome
    if "error" in ours:
        outcome.our_error = str(ours["error"].get("message"))
    if result.refusal is not None or "error" in ours:
        if result.refusal is None:
            outcome.disagreement = f"we refuse ({outcome.our_error}); Caffe loads the net"
        elif "error" not in ours:
            outcome.disagreement = f"Caffe refuses ({result.refusal}); we load the net"
        else:
            outcome.kind = "refused"
        return outcome
    assert result.structure is not None
    outcome.disagreement = compare_structure(ours, result.structure)
    if outcome.disagreement is not None:
        return outcome
    outcome.kind = "valid"
    outcome.run = compare_run(ours, result)
    outcome.disagreement = outcome.run.disagreement
    if outcome.disagreement is None and not _has_loss(result.structure) and result.structure.get("outputs"):
        outcome.seeds = pick_seeds(net.seed, result.structure["outputs"])
        outcome.seeded_run = _compare_seeded(net, path, outcome.seeds, simulate, run_oracle, flavor)
    return outcome


def _compare_seeded(net: "randnet.RandomNet", path: Path, seeds: Sequence[str],
                    simulate: Simulator, run_oracle: OracleRunner, flavor: str = FLAVOR) -> RunCheck:
    try:
        result = _oracle(run_oracle, path, net, seeds, flavor)
    except oracle.OracleError as error:
        return RunCheck(disagreement=f"the oracle could not answer the seeded run: {error}")
    ours, blew_up = _simulate(simulate, path, net, seeds, flavor)
    if ours is None:
        return RunCheck(disagreement=f"the simulation raised:\n{blew_up}")
    if "error" in ours:
        return RunCheck(disagreement=f"we refuse the seeded net: {ours['error'].get('message')}")
    if result.structure is None:
        return RunCheck(disagreement=f"Caffe refused the seeded run: {result.refusal}")
    seeded = (result.run or {}).get("seeded")
    if result.run is not None and seeded is not None and sorted(seeded) != sorted(seeds):
        return RunCheck(disagreement=f"the oracle seeded {seeded}, not {list(seeds)}")
    return compare_run(ours, result)


def compare_seeds(
    seeds: Iterable[int],
    workdir: Path,
    jobs: int = 2,
    simulate: Optional[Simulator] = None,
    flavor: str = FLAVOR,
) -> Iterator[Outcome]:
    """Outcomes for the given generator seeds, in order, ``jobs`` oracle processes at a time."""
    simulate = simulate or _default_simulator()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(lambda seed: compare_net(randnet.generate(seed, flavor=flavor), workdir, simulate,
                                                     flavor=flavor), seeds)


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


@dataclass
class Summary:
    compared: int = 0
    agreed: int = 0
    valid: int = 0
    refused: int = 0
    aborted: int = 0
    seeded: int = 0
    zero_claims_checked: int = 0
    nonzero_claims_measured_zero: int = 0
    unknown_claims: int = 0
    generator_problems: int = 0

    def add(self, outcome: Outcome) -> None:
        self.compared += 1
        self.agreed += int(outcome.agreed)
        self.valid += int(outcome.kind == "valid")
        self.refused += int(outcome.kind == "refused")
        self.aborted += int(outcome.run.aborted)
        self.generator_problems += int(outcome.generator_problem is not None)
        for check in (outcome.run, outcome.seeded_run):
            if check is None:
                continue
            self.zero_claims_checked += check.zero_claims_checked
            self.nonzero_claims_measured_zero += check.nonzero_claims_measured_zero
            self.unknown_claims += check.unknown_claims
        self.seeded += int(outcome.seeded_run is not None)

    def line(self) -> str:
        return (f"live differential: {self.compared} nets compared, {self.agreed} agreed "
                f"({self.valid} valid, {self.refused} refused; {self.aborted} aborted in Backward, "
                f"{self.seeded} also compared with --seed; {self.zero_claims_checked} zero-diff claims confirmed, "
                f"{self.nonzero_claims_measured_zero} non-zero claims measured zero, "
                f"{self.unknown_claims} unknown; {self.generator_problems} generator surprises)")


def describe(outcome: Outcome, with_text: bool = True, difference: Optional[str] = None) -> str:
    """The seed, state and first difference (or ``difference``), then the net's text."""
    net = outcome.net
    state = f"{net.phase} level={net.level} stages={list(net.stages)}"
    lines = [f"seed {outcome.seed} ({state}, {'valid' if net.valid else 'invalid: ' + str(net.mutation)}): "
             f"{difference or outcome.first_difference()}"]
    if with_text:
        lines.append(net.text)
    return "\n".join(lines)


def save(outcome: Outcome, directory: Path) -> Path:
    """Write the net and a note on the disagreement; returns the net's path."""
    directory.mkdir(parents=True, exist_ok=True)
    net = outcome.net
    path = directory / f"randnet_{outcome.seed}.prototxt"
    path.write_text(net.text)
    note = {"seed": outcome.seed, "phase": net.phase, "level": net.level, "stages": list(net.stages),
            "seeds": list(outcome.seeds), "difference": outcome.first_difference(),
            "generator_problem": outcome.generator_problem}
    path.with_suffix(".json").write_text(json.dumps(note, indent=1) + "\n")
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="how many random nets (default 100)")
    parser.add_argument("--start-seed", type=int, default=0, help="first generator seed (default 0)")
    parser.add_argument("--jobs", type=int, default=2, help="oracle processes at a time (default 2)")
    parser.add_argument("--save", type=Path, help="write each disagreeing net (and a .json note) here")
    parser.add_argument("--show-text", action="store_true", help="print each disagreeing net's text")
    parser.add_argument("--flavor", default=FLAVOR, choices=oracle.JUDGES,
                        help="which real Caffe judges, and which flavour we simulate (default ssd)")
    options = parser.parse_args(argv)
    available, reason = oracle.oracle_available(options.flavor)
    if not available:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    summary = Summary()
    with tempfile.TemporaryDirectory(prefix="fuzz-differential-") as workdir:
        seeds = range(options.start_seed, options.start_seed + options.count)
        for outcome in compare_seeds(seeds, Path(workdir), options.jobs, flavor=options.flavor):
            summary.add(outcome)
            if outcome.generator_problem:
                print(f"seed {outcome.seed}: generator surprise: {outcome.generator_problem}")
            if not outcome.agreed:
                print(describe(outcome, options.show_text), flush=True)
                if options.save:
                    print(f"  saved as {save(outcome, options.save)}")
    print(summary.line())
    return 0 if summary.agreed == summary.compared else 1


if __name__ == "__main__":
    sys.exit(main())
