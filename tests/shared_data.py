"""Where the shared reference data is: the real-world corpus and the spec's experiment nets.

They live outside the repository, in ``shared/`` beside the checkout (CI puts a
copy there), or wherever ``$BACKPROP_LINT_SHARED`` points. Tests that need them
skip, saying why, when they are absent; the goldens and hand-made nets under
``fixtures/`` are inside the repository and always run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    configured = os.environ.get("BACKPROP_LINT_SHARED")
    candidates = [Path(configured)] if configured else []
    candidates += [REPO.parent / "shared", Path("/work/shared")]
    for candidate in candidates:
        if (candidate / "corpus" / "nets").is_dir():
            return candidate
    return candidates[0]


SHARED = shared_dir()
CORPUS_DIR = SHARED / "corpus" / "nets"
EXPERIMENTS_DIR = SHARED / "spec" / "experiments"
MISSING_REASON = f"the shared corpus is not at {CORPUS_DIR} (set BACKPROP_LINT_SHARED)"


def corpus_nets() -> List[Path]:
    return sorted(CORPUS_DIR.glob("*.prototxt"))


def experiment_nets() -> List[Path]:
    return sorted(EXPERIMENTS_DIR.glob("*.prototxt"))
