"""BL9xx: findings about backprop-lint's own directives."""
from __future__ import annotations

from typing import Tuple

from backprop_lint.linting.rules.base import Rule

UNUSED_SUPPRESSION = Rule(
    "BL901", "unused-suppression", "info",
    "A `# backprop-lint: disable=...` directive silences nothing.",
    check=None,
    emitted_by="backprop_lint.linting.suppress",
)

RULES: Tuple[Rule, ...] = (UNUSED_SUPPRESSION,)
