#!/usr/bin/env python3
"""Fuzz every backprop-lint command with mutated corpus nets, under a time and memory bound.

    python3 tools/fuzz/fuzz_cli.py --minutes 30                 # a long campaign
    python3 tools/fuzz/fuzz_cli.py --count 200 --seed 7         # a fixed one
    python3 tools/fuzz/fuzz_cli.py --replay fixtures/fuzz_regressions   # the recorded inputs
    python3 tools/fuzz/fuzz_cli.py --minutes 10 --record        # save each breaking input as a regression

Each input is a corpus net (``shared/corpus/nets``) after one to three
mutations chosen by a seeded random generator: byte flips, truncation,
deleted or duplicated lines and braces, huge or odd numbers, deep nesting,
odd bytes and escapes, unknown fields and layer types, solver fields. The
same seed always gives the same inputs.

Every input goes through every command: ``check`` in each format (text,
json, sarif, github), ``check --diff``, ``check --fix`` on a copy,
``simulate`` (TRAIN and TEST), ``backward`` (text and json) and ``explain``
(with a word of the input as the code). The commands run in a worker
process whose address space is capped (``--memory-mb``, RLIMIT_AS), one
at a time, each with a timer (``--timeout``); a worker that stops answering
is killed. A run fails when it prints a traceback or "internal error",
runs out of time or memory, exits with a status its command never uses,
prints unparseable JSON, or ``--fix`` leaves a temporary file behind.

Exit status: 0 no failure, 1 failures (each printed with its seed and
command), 2 usage errors or no corpus.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
REGRESSIONS = REPO / "fixtures" / "fuzz_regressions"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 1536
#: seconds past the per-run timer after which an unresponsive worker is killed
KILL_GRACE_S = 15.0
#: characters of each run's stdout and stderr sent back (the end: where errors are)
OUTPUT_KEPT = 20000

# ---------------------------------------------------------------------------
# Inputs: the corpus and the mutations
# ---------------------------------------------------------------------------


def default_corpus() -> Path:
    configured = os.environ.get("BACKPROP_LINT_SHARED")
    for candidate in ([Path(configured)] if configured else []) + [REPO.parent / "shared", Path("/work/shared")]:
        if (candidate / "corpus" / "nets").is_dir():
            return candidate / "corpus" / "nets"
    return REPO.parent / "shared" / "corpus" / "nets"


def corpus_nets(directory: Path, max_bytes: Optional[int] = None) -> List[Path]:
    nets = sorted(directory.glob("*.prototxt"))
    return [net for net in nets if max_bytes is None or net.stat().st_size <= max_bytes]


Mutator = Callable[[bytes, random.Random], bytes]


def _lines(data: bytes) -> List[bytes]:
    return data.split(b"\n")


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randint(0, len(data))]


def delete_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    start = rng.randrange(len(lines))
    del lines[start : start + rng.randint(1, 6)]
    return b"\n".join(lines)


def duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    start = rng.randrange(len(lines))
    chunk = lines[start : start + rng.randint(1, 12)]
    lines[start:start] = chunk * rng.randint(1, 3)
    return b"\n".join(lines)


def swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _positions(data: bytes, token: bytes) -> List[int]:
    return [match.start() for match in re.finditer(re.escape(token), data)]


def delete_brace(data: bytes, rng: random.Random) -> bytes:
    positions = _positions(data, rng.choice([b"{", b"}"]))
    if not positions:
        return data
    at = rng.choice(positions)
    return data[:at] + data[at + 1 :]


def duplicate_brace(data: bytes, rng: random.Random) -> bytes:
    positions = _positions(data, rng.choice([b"{", b"}"]))
    if not positions:
        return data + b"}"
    at = rng.choice(positions)
    return data[:at] + data[at : at + 1] * rng.randint(2, 4) + data[at:]


ODD_NUMBERS = (
    b"99999999999999999999999999", b"-9223372036854775809", b"18446744073709551616", b"1e309", b"-1e309",
    b"nan", b"-inf", b"0x7fffffff", b"0xFFFFFFFFFFFFFFFFF", b"-0", b"1e-400", b"00000000017", b"4294967295",
    b"-2147483649", b"1.5", b"-1", b"0", b"1" * 400,
)


def odd_number(data: bytes, rng: random.Random) -> bytes:
    numbers = list(re.finditer(rb"(?<![\w.])-?\d+(\.\d+)?([eE][-+]?\d+)?", data))
    if not numbers:
        return data
    match = rng.choice(numbers)
    return data[: match.start()] + rng.choice(ODD_NUMBERS) + data[match.end() :]


def deep_nesting(data: bytes, rng: random.Random) -> bytes:
    depth = rng.choice([50, 99, 100, 101, 500, 5000, 50000])
    opener = rng.choice([b"layer { ", b"x { ", b"layer < ", b"layer: { ", b"["])
    closer = {b"layer < ": b">", b"[": b"]"}.get(opener, b"}")
    at = rng.randint(0, len(data))
    closed = rng.random() < 0.7
    return data[:at] + opener * depth + (closer * depth if closed else b"") + data[at:]


ODD_BYTES = (
    b"\x00", b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\r", b"\r\n", b"\t", b"\x0b", b"\x0c", b"\x1b[31m",
    b"\xc3\x28", b"\xe2\x80\xae", b"\xf0\x9f\x92\xa9", b"\\", b'"', b"'", b"#", b"\xed\xa0\x80", b"\x80",
    b'"\\x', b'"\\u0000"', b'"\\777"', b'"\\', b"'\\''", b'"' + b"\\n" * 50 + b'"', b'"a" "b" \'c\'',
    b"\xc0\x80", b"\xf4\x90\x80\x80",
)


def odd_bytes(data: bytes, rng: random.Random) -> bytes:
    out = data
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        out = out[:at] + rng.choice(ODD_BYTES) + out[at:]
    return out


UNKNOWN_FIELDS = (
    b"bogus_field: 1\n", b"layer { name: \"zz\" type: \"NoSuchLayer\" bottom: \"data\" top: \"zz\" }\n",
    b"layer { type: \"Python\" python_param { module: \"os\" layer: \"system\" } top: \"p\" }\n",
    b"layer { name: \"\" type: \"\" }\n", b"layers { name: \"v1\" type: CONVOLUTION bottom: \"data\" top: \"v1\" }\n",
    b"force_backward: true\n", b"force_backward: maybe\n", b"propagate_down: false\n", b"state { phase: TEST }\n",
    b"net: \"" + b"a" * 5000 + b"\"\nbase_lr: 0.1\n", b"train_net: \"/dev/zero\"\nbase_lr: 0.01\n",
    b"net: \"net.prototxt\"\nbase_lr: 0.01\n", b"test_state { stage: \"x\" }\n", b"input: \"data\"\n",
    b"input_dim: -1\n", b"include { phase: TRAIN } ", b"exclude { stage: \"deploy\" }\n",
    b"param { lr_mult: 0 name: \"shared\" }\n", b"loss_weight: 1e38\n", b"top: \"data\"\n", b"bottom: \"data\"\n",
    b"# backprop-lint: disable=BL201\n", b"# backprop-lint: disable-file=ALL\n", b"# backprop-lint: disable=\n",
    b"[caffe.ext] { x: 1 }\n", b"name: \"" + b"\xe4\xb8\xad" * 1000 + b"\"\n",
)


def unknown_field(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(UNKNOWN_FIELDS).rstrip(b"\n"))
    return b"\n".join(lines)


def replace_word(data: bytes, rng: random.Random) -> bytes:
    words = list(re.finditer(rb"[A-Za-z_]+", data))
    if not words:
        return data
    match = rng.choice(words)
    replacement = rng.choice([b"layer", b"type", b"Python", b"Split", b"true", b"TEST", b"x" * 300, b"", b"1"])
    return data[: match.start()] + replacement + data[match.end() :]


MUTATORS: Tuple[Mutator, ...] = (
    flip_bytes, truncate, delete_lines, duplicate_lines, swap_lines, delete_brace, duplicate_brace,
    odd_number, deep_nesting, odd_bytes, unknown_field, replace_word,
)


def mutate(data: bytes, rng: random.Random) -> Tuple[bytes, List[str]]:
    names = []
    for _ in range(rng.randint(1, 3)):
        mutator = rng.choice(MUTATORS)
        data = mutator(data, rng)
        names.append(mutator.__name__)
    return data, names


@dataclass
class FuzzInput:
    label: str  # how to reproduce it: seed and index, or the regression file
    data: bytes


def generated_inputs(corpus: Sequence[Path], seed: int, start: int = 0) -> Iterator[FuzzInput]:
    """Input ``index`` of campaign ``seed``: the same bytes on every machine."""
    index = start
    while True:
        rng = random.Random(seed * 1_000_003 + index)
        base = corpus[rng.randrange(len(corpus))]
        data, names = mutate(base.read_bytes(), rng)
        yield FuzzInput(f"seed {seed} input {index} ({base.name}; {', '.join(names)})", data)
        index += 1


# ---------------------------------------------------------------------------
# Runs: every command on one input
# ---------------------------------------------------------------------------

NET_FILE = "net.prototxt"
FIX_FILE = "fix.prototxt"


@dataclass(frozen=True)
class Run:
    argv: Tuple[str, ...]
    expected_exit: Tuple[int, ...]
    output: str = "text"  # or "json": stdout must parse as JSON


def runs_for(data: bytes) -> List[Run]:
    word = (re.findall(rb"[A-Za-z0-9_]{1,40}", data[:2000]) or [b"BL203"])[0].decode("ascii")
    check = (0, 1)
    return [
        Run(("check", NET_FILE, "--no-progress", "--color", "never"), check),
        Run(("check", NET_FILE, "--no-progress", "--format", "json"), check, "json"),
        Run(("check", NET_FILE, "--no-progress", "--format", "sarif"), check, "json"),
        Run(("check", NET_FILE, "--no-progress", "--format", "github"), check),
        Run(("check", NET_FILE, "--no-progress", "--diff"), check),
        Run(("check", FIX_FILE, "--no-progress", "--fix", "--format", "json"), check, "json"),
        Run(("simulate", NET_FILE), (0, 1), "json"),
        Run(("simulate", NET_FILE, "--phase", "TEST", "--flavor", "ssd"), (0, 1), "json"),
        Run(("backward", NET_FILE), (0, 1)),
        Run(("backward", NET_FILE, "--format", "json"), (0, 1), "json"),
        Run(("explain", word), (0, 2)),
    ]


@dataclass
class Outcome:
    exit_code: Optional[int]
    stdout: str = ""
    stderr: str = ""
    problem: Optional[str] = None  # set by the worker: timeout, memory
    #: why the whole stdout (the texts above are only its end) does not parse as JSON; None if it does or is empty
    json_error: Optional[str] = None


@dataclass
class Failure:
    label: str
    argv: Tuple[str, ...]
    reason: str
    data: bytes
    saved: Optional[Path] = None


def judge(run: Run, outcome: Outcome, directory: Path) -> Optional[str]:
    """Why ``outcome`` is a failure; None when it is fine."""
    if outcome.problem:
        return outcome.problem
    for marker in ("Traceback (most recent call last)", "internal error"):
        if marker in outcome.stderr or marker in outcome.stdout:
            return f"printed {marker!r}: {_tail(outcome.stderr or outcome.stdout)}"
    if outcome.exit_code not in run.expected_exit:
        return f"exit status {outcome.exit_code}, expected one of {run.expected_exit}: {_tail(outcome.stderr)}"
    if run.output == "json" and outcome.json_error:
        return f"stdout is not JSON ({outcome.json_error})"
    temporaries = [name for name in os.listdir(directory) if name.endswith(".tmp")]
    if temporaries:
        return f"left temporary files behind: {temporaries}"
    return None


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.strip().splitlines()[-3:])
    return text if len(text) <= limit else "..." + text[-limit:]


# ---------------------------------------------------------------------------
# The worker: runs commands in-process, one at a time, each under a timer
# ---------------------------------------------------------------------------


class RunTimedOut(BaseException):
    """Raised by the timer; a BaseException so that no ``except Exception`` of ours swallows it."""


def worker_main(memory_mb: int, timeout_s: float) -> int:
    import resource
    import signal

    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def on_timer(signum: int, frame: Any) -> None:
        raise RunTimedOut()

    signal.signal(signal.SIGALRM, on_timer)
    from backprop_lint.cli import main as cli_main

    reply = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        outcome = run_in_process(cli_main, job["argv"], job["cwd"], timeout_s, signal)
        reply.write(json.dumps(outcome.__dict__) + "\n")
        reply.flush()
    return 0


def run_in_process(cli_main: Callable[[List[str]], int], argv: List[str], cwd: str, timeout_s: float,
                   signal: Any) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr, os.getcwd()
    sys.stdout, sys.stderr = out, err
    os.chdir(cwd)
    code: Optional[int] = None
    problem = None
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            code = cli_main(list(argv))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except SystemExit as exit_:  # argparse
        code = exit_.code if isinstance(exit_.code, int) else 2
    except RunTimedOut:
        problem = f"ran longer than {timeout_s:g} s"
    except MemoryError:
        problem = "ran out of memory"
    except BaseException as error:  # noqa: B902 - anything else escaping main is a failure to report
        problem = f"{type(error).__name__} escaped main: {error}"
    finally:
        sys.stdout, sys.stderr = saved[0], saved[1]
        os.chdir(saved[2])
    stdout = out.getvalue()
    json_error = None
    if stdout.strip():
        try:
            json.loads(stdout)
        except ValueError as error:
            json_error = str(error)
    return Outcome(code, stdout[-OUTPUT_KEPT:], err.getvalue()[-OUTPUT_KEPT:], problem, json_error)


class Worker:
    """A worker process; restarted after it dies or stops answering."""

    def __init__(self, package_root: Path, memory_mb: int, timeout_s: float) -> None:
        self.package_root = package_root
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self.process: Optional[subprocess.Popen] = None

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(self.package_root), "NO_COLOR": "1", "PYTHONHASHSEED": "0"}
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--memory-mb", str(self.memory_mb),
             "--timeout", str(self.timeout_s)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )

    def run(self, argv: Sequence[str], cwd: Path) -> Outcome:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps({"argv": list(argv), "cwd": str(cwd)}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._died("the worker died before the run")
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout_s + KILL_GRACE_S)
        if not ready:
            self.close()
            return Outcome(None, problem=f"hung: no answer within {self.timeout_s + KILL_GRACE_S:g} s (killed)")
        line = self.process.stdout.readline()
        if not line:
            return self._died("the worker died during the run")
        return Outcome(**json.loads(line))

    def _died(self, what: str) -> Outcome:
        code = self.process.wait() if self.process else None
        self.process = None
        reason = "killed by the memory limit or a signal" if code is not None and code < 0 else f"exit {code}"
        return Outcome(None, problem=f"{what} ({reason})")

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def fuzz_one(worker: Worker, item: FuzzInput, scratch: Path) -> List[Failure]:
    failures = []
    for run in runs_for(item.data):
        directory = Path(tempfile.mkdtemp(dir=scratch))
        (directory / NET_FILE).write_bytes(item.data)
        (directory / FIX_FILE).write_bytes(item.data)
        outcome = worker.run(run.argv, directory)
        reason = judge(run, outcome, directory)
        if reason is not None:
            failures.append(Failure(item.label, run.argv, reason, item.data))
        shutil.rmtree(directory, ignore_errors=True)
    return failures


def record(failure: Failure, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha1(failure.data).hexdigest()[:12]}.prototxt"
    path.write_bytes(failure.data)
    return path


@dataclass
class Campaign:
    inputs: int = 0
    runs: int = 0
    failures: List[Failure] = field(default_factory=list)


def campaign(
    items: Iterator[FuzzInput],
    *,
    package_root: Path = REPO,
    count: Optional[int] = None,
    seconds: Optional[float] = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    record_into: Optional[Path] = None,
    progress: Optional[Callable[[Campaign], None]] = None,
) -> Campaign:
    """Run ``items`` until ``count`` inputs or ``seconds`` have been used (whichever comes first)."""
    result = Campaign()
    worker = Worker(package_root, memory_mb, timeout_s)
    deadline = time.monotonic() + seconds if seconds is not None else None
    with tempfile.TemporaryDirectory(prefix="backprop-lint-fuzz-") as scratch:
        try:
            for item in items:
                if count is not None and result.inputs >= count:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                failures = fuzz_one(worker, item, Path(scratch))
                result.inputs += 1
                result.runs += len(runs_for(item.data))
                for failure in failures:
                    if record_into is not None:
                        failure.saved = record(failure, record_into)
                result.failures.extend(failures)
                if progress:
                    progress(result)
        finally:
            worker.close()
    return result


def replay_inputs(directory: Path) -> Iterator[FuzzInput]:
    for path in sorted(directory.glob("*.prototxt")):
        yield FuzzInput(f"regression {path.name}", path.read_bytes())


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, help="run for this long")
    parser.add_argument("--count", type=int, help="run this many inputs (default without --minutes: 100)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--start", type=int, default=0, help="first input index (to resume or reproduce)")
    parser.add_argument("--corpus", type=Path, default=None, help="folder of nets to mutate (default: the shared corpus)")
    parser.add_argument("--max-net-bytes", type=int, default=None,
                        help="mutate only corpus nets up to this size (keeps a short campaign short)")
    parser.add_argument("--replay", type=Path, help="run the inputs saved in this folder instead of mutations")
    parser.add_argument("--record", action="store_true", help=f"save each breaking input into {REGRESSIONS}")
    parser.add_argument("--package-root", type=Path, default=REPO, help="the checkout whose backprop_lint is fuzzed")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per run")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, help="address-space cap of the worker")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.memory_mb, args.timeout)
    if args.replay is not None:
        items = replay_inputs(args.replay)
    else:
        corpus_dir = args.corpus or default_corpus()
        corpus = corpus_nets(corpus_dir, args.max_net_bytes)
        if not corpus:
            print(f"fuzz: no nets in {corpus_dir} (set BACKPROP_LINT_SHARED or pass --corpus)", file=sys.stderr)
            return 2
        items = generated_inputs(corpus, args.seed, args.start)
    count = args.count if args.count is not None or args.minutes is not None or args.replay else 100
    started = time.monotonic()

    def progress(state: Campaign) -> None:
        if state.inputs % 25 == 0:
            print(f"fuzz: {state.inputs} inputs, {state.runs} runs, {len(state.failures)} failures, "
                  f"{time.monotonic() - started:.0f} s", file=sys.stderr)

    result = campaign(
        items, package_root=args.package_root, count=count,
        seconds=args.minutes * 60 if args.minutes is not None else None,
        memory_mb=args.memory_mb, timeout_s=args.timeout,
        record_into=REGRESSIONS if args.record else None, progress=progress,
    )
    for failure in result.failures:
        saved = f" (saved as {failure.saved})" if failure.saved else ""
        print(f"FAIL {failure.label}: backprop-lint {' '.join(failure.argv)}: {failure.reason}{saved}")
    print(f"fuzz: {result.inputs} inputs, {result.runs} runs, {len(result.failures)} failures "
          f"in {time.monotonic() - started:.0f} s")
    return 1 if result.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
