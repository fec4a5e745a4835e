"""Where the benches find the checkout and the shared corpus."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """$BACKPROP_LINT_SHARED, else ``shared/`` beside the checkout, else /work/shared (a worktree's)."""
    configured = os.environ.get("BACKPROP_LINT_SHARED")
    if configured:
        return Path(configured)
    beside = REPO.parent / "shared"
    return beside if beside.is_dir() or not Path("/work/shared").is_dir() else Path("/work/shared")
