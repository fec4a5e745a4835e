"""BL9xx: findings about backprop-lint's own directives."""
from __future__ import annotations

from backprop_lint.linting.rules.base import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple

UNUSED_SUPPRESSION = Rule(
    "BL901", "unused-suppression", "info",
    "A `# backprop-lint: disable=...` directive silences nothing.",
    check=None,
    emitted_by="backprop_lint.linting.suppress",
)

STATES_LINTED = Rule(
    "BL902", "states-linted", "info",
    "A standalone net was linted only in the states it can be built in (its data layers are restricted).",
    check=None,
    emitted_by="backprop_lint.linting.linter",
)

RULES: Tuple[Rule, ...] = (UNUSED_SUPPRESSION, STATES_LINTED)
