"""The installed package, as a user runs it: a wheel of this checkout in a throwaway venv.

``installed_venv()`` builds a wheel of the checkout, and installs it (with its
dependencies, bytecode compiled by pip) into a venv kept outside the repo,
``~/.cache/backprop-lint-bench/venv`` by default (``BACKPROP_LINT_BENCH_HOME``
moves it). The venv is rebuilt only when the wheel's content changes: the
content hash (each member's name and bytes, not the zip's timestamps) is
stored next to it. The venv is made from the interpreter running the bench,
or from ``BACKPROP_LINT_BENCH_PYTHON`` (a path; each interpreter gets its own
venv, ``venv-<hash of the path>``): how CPython was built moves every figure
(``describe_interpreter()`` names it for the bench's output). ``clean_env()`` is the environment its programs run in: no
PYTHONPATH (the checkout would shadow the installed copy), no
PYTHONPYCACHEPREFIX or PYTHONDONTWRITEBYTECODE (both would make Python ignore
the venv's compiled bytecode). ``run_once()`` times one run of a command
(wall, CPU of the child from ``wait4``, peak memory), for every bench.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, NamedTuple, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
BENCH_HOME = Path(os.environ.get("BACKPROP_LINT_BENCH_HOME", Path.home() / ".cache" / "backprop-lint-bench"))
#: the interpreter the bench venv is made from
BENCH_PYTHON = os.environ.get("BACKPROP_LINT_BENCH_PYTHON", "")


class InstalledVenv(NamedTuple):
    python: Path  # the venv's interpreter
    script: Path  # its ``backprop-lint`` console script
    wheel_hash: str  # content hash of the installed wheel (first 12 hex digits)


def clean_env() -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE", "PYTHONHOME"):
        env.pop(name, None)
    return env


def wheel_content_hash(wheel: Path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode("utf-8") + b"\0")
            digest.update(archive.read(name))
    return digest.hexdigest()


def build_wheel(out_dir: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out_dir), str(REPO)],
        capture_output=True, text=True, env=clean_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed: {done.stderr.strip()[-400:]}")
    return next(out_dir.glob("backprop_lint-*.whl"))


def installed_venv(home: Path = BENCH_HOME, base_python: str = BENCH_PYTHON) -> InstalledVenv:
    """The bench venv with this checkout's wheel installed (built or reused), made from ``base_python``
    (default: this interpreter)."""
    if base_python:
        tag = hashlib.sha256(str(Path(base_python).resolve()).encode()).hexdigest()[:8]
        venv, stamp = home / f"venv-{tag}", home / f"wheel-{tag}.sha256"
    else:
        base_python = sys.executable
        venv, stamp = home / "venv", home / "wheel.sha256"
    python = venv / "bin" / "python"
    script = venv / "bin" / "backprop-lint"
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(Path(scratch))
        content = wheel_content_hash(wheel)
        if stamp.exists() and stamp.read_text().strip() == content and script.exists():
            return InstalledVenv(python, script, content[:12])
        print(f"bench: installing the wheel ({content[:12]}) into {venv}", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True, env=clean_env())
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--compile", str(wheel)],
                              capture_output=True, text=True, env=clean_env(), cwd=str(home))
        if done.returncode != 0:
            raise RuntimeError(f"installing the wheel failed: {done.stderr.strip()[-400:]}")
    stamp.write_text(content + "\n")
    return InstalledVenv(python, script, content[:12])


def describe_interpreter(python: Path) -> str:
    """The venv's base interpreter and its version."""
    code = "import sys; print(sys.version.split()[0], sys.base_prefix)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=clean_env(), check=True)
    version, prefix = done.stdout.strip().split(" ", 1)
    return f"CPython {version} of {prefix}"


def run_once(command: Sequence[str], env: Dict[str, str]) -> Tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak MiB) of one run of ``command``."""
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: output to /dev/null, then the command
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvpe(command[0], list(command), env)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed (exit status {os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0
