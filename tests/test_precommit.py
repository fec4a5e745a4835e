"""The pre-commit hook, for real: `pre-commit try-repo` on a throwaway repository.

pre-commit builds a virtualenv and pip-installs backprop-lint into it, so this
takes a minute or two (about 90 s here) (the environment is shared by the tests
below through one PRE_COMMIT_HOME). It tests the *committed* HEAD of this
checkout (``--ref``): try-repo would otherwise mix in whatever uncommitted
edits the working tree holds, and skip untracked files. Skipped, with the
reason, when pre-commit or git is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent

BROKEN = """name: "broken"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "missing" top: "ip" inner_product_param { num_output: 4 } }
"""
CLEAN = """name: "clean"
layer { name: "data" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
"""

pytestmark = [
    pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def pre_commit_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, str]]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: pre-commit try-repo needs one")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path_factory.mktemp("pre-commit-home")))
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    env.pop("NO_COLOR", None)
    yield env


def try_repo(directory: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    head = git(ROOT, "rev-parse", "HEAD")
    return subprocess.run(
        ["pre-commit", "try-repo", str(ROOT), "backprop-lint", "--ref", head, "--all-files", "--color", "never"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def repository_with(tmp_path: Path, files: Dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", ".")
    return repo


def test_hook_fails_on_a_broken_net(tmp_path: Path, pre_commit_env: Dict[str, str]) -> None:
    repo = repository_with(tmp_path, {"broken.prototxt": BROKEN, "notes.txt": "not a net"})
    result = try_repo(repo, pre_commit_env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "broken.prototxt:3:1: error BL001" in output
    assert "notes.txt" not in output.split("backprop-lint")[-1]


def test_hook_passes_a_clean_net(tmp_path: Path, pre_commit_env: Dict[str, str]) -> None:
    repo = repository_with(tmp_path, {"clean.pbtxt": CLEAN})
    result = try_repo(repo, pre_commit_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout
