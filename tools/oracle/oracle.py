#!/usr/bin/env python3
"""Run real Caffe (the `caffe-oracle` program built by build.sh) on a net.

Importable (``sys.path.insert(0, "tools/oracle"); import oracle``) and runnable:

    python3 tools/oracle/oracle.py NET [--flavor ssd|bvlc] [--phase TEST] [--level N] [--stage S]...
        [--run] [--seed BLOB]... [--label BLOB]... [--start LAYER] [--end LAYER]
    python3 tools/oracle/oracle.py --check [--flavor ssd|bvlc]
    python3 tools/oracle/oracle.py --types [--flavor ssd|bvlc]

There are two judges, one per Caffe flavour (build.sh builds both): ``ssd``,
the SSD-lineage Caffe in $CAFFE_ORACLE_HOME, and ``bvlc``, BVLC Caffe master
in $CAFFE_ORACLE_HOME/bvlc. Every function takes ``flavor`` (default ``ssd``).

The CLI prints ``OracleResult.to_json()``; exit status 0 when Caffe accepted
the net (and ran it), 1 when it refused the net or crashed while running it,
2 when the oracle could not be run at all.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ORACLE_SOURCE = HERE / "oracle.cpp"
BUILD_SCRIPT = HERE / "build.sh"

# caffe-oracle's own exit statuses (see oracle.cpp)
USAGE_ERROR = 2
UNKNOWN_NAME = 3

_STAGE_MARKER = re.compile(r"^caffe-oracle: running (Forward|Backward)$")
_GLOG_FATAL = re.compile(r"^F\d{8} [\d:.]+\s+\d+ [^\]]*\] (.*)$")
_GLOG_ERROR = re.compile(r"^E\d{8} [\d:.]+\s+\d+ [^\]]*\] (.*)$")
_PROTOBUF_ERROR = re.compile(r"^\[libprotobuf (?:ERROR|FATAL) [^\]]*\] (.*)$")
_PYTHON_LAYER = re.compile(r"\btype\s*:\s*(?:\"Python\"|'Python'|PYTHON\b)")


#: the Caffe flavours a real build judges, and each build's Caffe library
JUDGES: Tuple[str, ...] = ("ssd", "bvlc")
_CAFFE_LIBRARY = {"ssd": "_caffe.so", "bvlc": "libcaffe.so"}

#: the build options each oracle was built with (build.sh), in backprop-lint's
#: `build` setting: tests compare with an oracle using exactly these.
#: ssd: brocolli-caffe's CMake defaults (OpenCV, HDF5, LMDB, LevelDB off) plus
#: -DBUILD_python_layer=ON; bvlc: -DUSE_OPENCV=OFF -DBUILD_python_layer=OFF, HDF5 on
#: (BVLC's default). Neither has cuDNN (CPU only).
ORACLE_BUILD_OPTIONS: Dict[str, Dict[str, bool]] = {
    "ssd": {"opencv": False, "hdf5": False, "python": True, "cudnn": False},
    "bvlc": {"opencv": False, "hdf5": True, "python": False, "cudnn": False},
}


class OracleError(Exception):
    """The oracle could not answer: not built, bad arguments, timeout, garbled output."""


class PythonLayerRefused(OracleError):
    """The net has a Python layer; running it would import and execute user code."""


@dataclass
class OracleResult:
    """What real Caffe did with one net in one state.

    ``ok``: the process exited normally (the net loaded and, with ``run``, ran).
    ``structure``: the first JSON line (layers, blobs, inputs, outputs), or None
    when Caffe refused the net. ``run``: the second JSON line
    (blob_diff_nonzero, param_diff_nonzero, seeded, backward_from_to).
    ``refusal``: Caffe's message when it refused to build the net.
    ``crash_in_run``: Caffe's message when it loaded the net but died in
    Forward or Backward (``crash_stage`` says which).
    """

    ok: bool
    structure: Optional[Dict[str, Any]]
    run: Optional[Dict[str, Any]]
    refusal: Optional[str]
    crash_in_run: Optional[str]
    stderr: str
    crash_stage: Optional[str] = None
    returncode: int = 0
    #: error lines Caffe or protobuf logged before dying (e.g. the text-format parse error)
    errors: List[str] = field(default_factory=list)

    def merged(self) -> Dict[str, Any]:
        """Structure and run as one dict: the single JSON object of the reference oracle."""
        return {**(self.structure or {}), **(self.run or {})}

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


def _check_flavor(flavor: str) -> str:
    if flavor not in JUDGES:
        raise OracleError(f"no oracle for flavour {flavor!r}: expected one of {', '.join(JUDGES)}")
    return flavor


def oracle_home(flavor: str = "ssd") -> Path:
    """Where the flavour's build lives: $CAFFE_ORACLE_HOME (default ~/.cache/caffe-oracle), bvlc in its bvlc/."""
    configured = os.environ.get("CAFFE_ORACLE_HOME")
    base = Path(configured).expanduser() if configured else Path.home() / ".cache" / "caffe-oracle"
    return base / "bvlc" if _check_flavor(flavor) == "bvlc" else base


def oracle_binary(flavor: str = "ssd") -> Path:
    return oracle_home(flavor) / "bin" / "caffe-oracle"


def layer_types_binary(flavor: str = "ssd") -> Path:
    return oracle_home(flavor) / "bin" / "caffe-layer-types"


def source_hash() -> str:
    return hashlib.sha256(ORACLE_SOURCE.read_bytes()).hexdigest()


def oracle_available(flavor: str = "ssd") -> Tuple[bool, str]:
    """(True, "") when the flavour's caffe-oracle, built from this oracle.cpp, is ready, else (False, why)."""
    binary = oracle_binary(flavor)
    home = oracle_home(flavor)
    rebuild = f"run {BUILD_SCRIPT.relative_to(HERE.parent.parent)} {flavor}"
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return False, f"real Caffe oracle ({flavor}) not built: no {binary} ({rebuild}, 10-15 min)"
    library = home / "lib" / _CAFFE_LIBRARY[flavor]
    if not library.is_file():
        return False, f"real Caffe oracle ({flavor}) incomplete: no {library} ({rebuild})"
    stamp = home / "oracle.sha256"
    built_from = stamp.read_text().strip() if stamp.is_file() else ""
    if built_from != source_hash():
        return False, f"{binary} was built from another oracle.cpp ({rebuild}: recompiles in seconds)"
    return True, ""


def registered_types(flavor: str = "ssd", timeout: float = 60) -> List[str]:
    """The layer types the flavour's real build registers (LayerRegistry::LayerTypeList), sorted."""
    binary = layer_types_binary(flavor)
    if not binary.is_file():
        raise OracleError(f"no {binary} (run {BUILD_SCRIPT.relative_to(HERE.parent.parent)} {flavor})")
    try:
        process = subprocess.run([str(binary)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OracleError(f"{binary} timed out") from None
    if process.returncode != 0:
        raise OracleError(f"{binary} {describe_death(process.returncode)}: {process.stderr.strip()}")
    types = json.loads(process.stdout)
    if not isinstance(types, list) or not all(isinstance(name, str) for name in types):
        raise OracleError(f"{binary} printed something other than a list of names")
    return sorted(types)


def strip_comments(text: str) -> str:
    """The prototxt text with '#' comments removed (quotes respected)."""
    out: List[str] = []
    for line in text.splitlines():
        quote = ""
        for i, char in enumerate(line):
            if quote:
                if char == quote and line[i - 1] != "\\":
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char == "#":
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def has_python_layer(text: str) -> bool:
    """Whether the net declares a layer of type Python (V2 "Python" or V1 PYTHON)."""
    return bool(_PYTHON_LAYER.search(strip_comments(text)))


def parse_stderr(stderr: str) -> Tuple[Optional[str], List[str], Optional[str]]:
    """(Caffe's fatal message, the error lines before it, the last stage marker seen)."""
    fatal: Optional[str] = None
    errors: List[str] = []
    stage: Optional[str] = None
    for line in stderr.splitlines():
        line = line.rstrip()
        marker = _STAGE_MARKER.match(line)
        if marker:
            stage = marker.group(1)
            continue
        found = _GLOG_FATAL.match(line)
        if found and fatal is None:
            fatal = found.group(1).strip()
            continue
        found = _GLOG_ERROR.match(line) or _PROTOBUF_ERROR.match(line)
        if found and fatal is None:
            errors.append(found.group(1).strip())
    return fatal, errors, stage


def describe_death(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with status {returncode}"


def oracle_arguments(
    net_file: str,
    phase: str,
    level: int,
    stages: Sequence[str],
    run: bool,
    seeds: Sequence[str],
    labels: Sequence[str],
    start: Optional[str],
    end: Optional[str],
    fill_zero_weights: bool = False,
    flavor: str = "ssd",
) -> List[str]:
    if phase not in ("TRAIN", "TEST"):
        raise OracleError(f"phase must be TRAIN or TEST, not {phase!r}")
    args = [str(oracle_binary(flavor)), net_file, phase, "--level", str(int(level))]
    for stage in stages:
        args += ["--stage", stage]
    if run:
        args.append("--run")
    for blob in seeds:
        args += ["--seed", blob]
    for blob in labels:
        args += ["--label", blob]
    if start is not None:
        args += ["--start", start]
    if end is not None:
        args += ["--end", end]
    if fill_zero_weights:
        args.append("--fill-zero-weights")
    return args


def parse_json_line(line: str, what: str, stderr: str) -> Dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise OracleError(f"caffe-oracle printed a malformed {what} line ({error}); stderr:\n{stderr}") from None
    if not isinstance(value, dict):
        raise OracleError(f"caffe-oracle printed a {what} line that is not an object")
    return value


def run_oracle(
    net_path: "str | os.PathLike[str]",
    phase: str = "TRAIN",
    level: int = 0,
    stages: Sequence[str] = (),
    run: bool = False,
    seeds: Sequence[str] = (),
    start: Optional[str] = None,
    end: Optional[str] = None,
    timeout: float = 60,
    labels: Sequence[str] = (),
    fill_zero_weights: bool = False,
    flavor: str = "ssd",
) -> OracleResult:
    """Load ``net_path`` with the flavour's real Caffe in the given state (and with ``run``, run it).

    The net is copied into a fresh temporary directory that is also the working
    directory, so Caffe's messages name only the file's base name and relative
    paths in the net resolve to nothing of the caller's. ``labels``: input blobs
    to fill with 0/1 (besides those named label*). ``fill_zero_weights``: give
    all-zero weight blobs random values before the run (see oracle.cpp). Nets with Python layers
    are refused (PythonLayerRefused) before Caffe is started.
    """
    available, reason = oracle_available(flavor)
    if not available:
        raise OracleError(reason)
    source = Path(net_path)
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise OracleError(f"cannot read {source}: {error.strerror}") from None
    if has_python_layer(text):
        raise PythonLayerRefused(f"{source}: has a Python layer; the oracle does not run user Python code")
    with tempfile.TemporaryDirectory(prefix="caffe-oracle-") as workdir:
        shutil.copyfile(source, Path(workdir) / source.name)
        args = oracle_arguments(source.name, phase, level, stages, run, seeds, labels, start, end, fill_zero_weights,
                                flavor)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
        environment["PYTHONNOUSERSITE"] = "1"
        try:
            process = subprocess.run(
                args, cwd=workdir, env=environment, capture_output=True, text=True,
                errors="replace", timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise OracleError(f"caffe-oracle timed out after {timeout:g} s on {source} ({phase})") from None
    return interpret(process.returncode, process.stdout, process.stderr, run)


def interpret(returncode: int, stdout: str, stderr: str, run: bool) -> OracleResult:
    """Turn caffe-oracle's exit status and output into an OracleResult."""
    if returncode in (USAGE_ERROR, UNKNOWN_NAME):
        raise OracleError(stderr.strip() or f"caffe-oracle {describe_death(returncode)}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    fatal, errors, stage = parse_stderr(stderr)
    message = fatal or (errors[-1] if errors else describe_death(returncode))
    structure = parse_json_line(lines[0], "structure", stderr) if lines else None
    run_output = parse_json_line(lines[1], "run", stderr) if len(lines) > 1 else None
    result = OracleResult(
        ok=returncode == 0, structure=structure, run=run_output, refusal=None,
        crash_in_run=None, stderr=stderr, returncode=returncode, errors=errors,
    )
    if returncode == 0:
        if structure is None or (run and run_output is None):
            raise OracleError(f"caffe-oracle exited normally without its JSON output; stderr:\n{stderr}")
        return result
    if structure is None:
        result.refusal = message
    else:
        result.crash_in_run = message
        result.crash_stage = stage
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run real Caffe on a net and print its decisions as JSON.")
    parser.add_argument("net", nargs="?", help="NetParameter text file")
    parser.add_argument("--check", action="store_true", help="only say whether the oracle is ready")
    parser.add_argument("--types", action="store_true", help="list the layer types the build registers")
    parser.add_argument("--flavor", default="ssd", choices=JUDGES, help="which real Caffe judges (default ssd)")
    parser.add_argument("--phase", default="TRAIN", choices=("TRAIN", "TEST"))
    parser.add_argument("--level", type=int, default=0)
    parser.add_argument("--stage", action="append", default=[])
    parser.add_argument("--run", action="store_true", help="one Forward() and one backward pass")
    parser.add_argument("--seed", action="append", default=[], help="seed this blob's diff (repeatable)")
    parser.add_argument("--label", action="append", default=[], help="fill this input with 0/1 labels")
    parser.add_argument("--start", help="backward from this layer (first with the name)")
    parser.add_argument("--end", help="backward down to this layer (first with the name)")
    parser.add_argument("--fill-zero-weights", action="store_true", help="random values for all-zero weights")
    parser.add_argument("--timeout", type=float, default=60)
    options = parser.parse_args(argv)
    if options.types:
        try:
            print("\n".join(registered_types(options.flavor)))
        except OracleError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    if options.check or not options.net:
        available, reason = oracle_available(options.flavor)
        print(f"caffe-oracle ({options.flavor}) ready in {oracle_home(options.flavor)}" if available else reason)
        return 0 if available else 2
    try:
        result = run_oracle(
            options.net, options.phase, options.level, options.stage, options.run,
            options.seed, options.start, options.end, options.timeout, options.label,
            options.fill_zero_weights, options.flavor,
        )
    except OracleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=1))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
