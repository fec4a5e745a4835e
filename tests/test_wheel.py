"""The built wheel works on its own: rule pages come from rules/ (their only copy).

Builds the wheel from this checkout, installs it in a fresh virtualenv (its
dependencies from the package registry) and runs the installed command there,
away from the checkout, so nothing can be read from the source tree.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build_dir = tmp_path_factory.mktemp("build")
    process = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, cwd=build_dir,
    )
    assert process.returncode == 0, process.stderr
    (built,) = out.glob("backprop_lint-*.whl")
    return built


def test_wheel_ships_each_rule_page_once_and_the_schema(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    pages = sorted(name.rsplit("/", 1)[1] for name in names if name.endswith(".md") and "/BL" in name)
    assert pages == sorted(p.name for p in (REPO / "rules").glob("BL*.md"))
    assert all(name.startswith("backprop_lint/rule_docs/") for name in names if name.endswith(".md"))
    assert "backprop_lint/caffe/schema/caffe_fds.bin" in names
    assert "backprop_lint/py.typed" in names
    assert not any(name.startswith(("tests/", "tools/", "rules/")) for name in names)


def test_installed_wheel_explains_a_rule(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # without PYTHONPATH: a checkout on it (with the egg-info a build leaves there) would make pip
    # believe the package is installed already and skip it
    clean_env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                             env=clean_env)
    if install.returncode != 0 and "No matching distribution" in install.stderr:
        pytest.skip(f"the package registry is not reachable for the wheel's dependencies: {install.stderr.strip()[-200:]}")
    assert install.returncode == 0, install.stderr
    run = subprocess.run(
        [str(venv / "bin" / "backprop-lint"), "explain", "BL203"], capture_output=True, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )
    assert run.returncode == 0, run.stderr
    assert "BL203" in run.stdout and "needed-gradient-is-zero" in run.stdout
    where = subprocess.run(
        [str(python), "-c", "import backprop_lint; print(backprop_lint.__file__)"], capture_output=True, text=True, cwd=tmp_path,
        env=clean_env,
    )
    assert where.stdout.startswith(str(venv)), "the test must run the installed copy, not the checkout"
