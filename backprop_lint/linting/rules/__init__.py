"""The rule catalogue: stable codes, one documented rule each.

Families: BL0xx Caffe refuses the net, BL1xx Backward aborts, BL2xx gradients
that stay zero, BL3xx silent overrides, BL4xx unknown layers and what the loader
noticed,
BL9xx meta. Each rule's page is ``rules/<CODE>.md`` (shipped as
``backprop_lint/rule_docs/<CODE>.md``; see ``docs.py``).
"""
from __future__ import annotations

from backprop_lint.linting.findings import Finding
from backprop_lint.linting.rules import aborts, custom, gradients, meta, overrides, refusals
from backprop_lint.linting.rules.base import Rule, RuleContext, state_label

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Tuple

    from backprop_lint.caffe.model import NetRefused
    from backprop_lint.linting.rules.base import Resimulate  # noqa: F401 (the type, for annotations)

ALL_RULES: Tuple[Rule, ...] = tuple(
    sorted(
        refusals.RULES + aborts.RULES + gradients.RULES + overrides.RULES + custom.RULES + meta.RULES,
        key=lambda rule: rule.code,
    )
)

_BY_CODE: Dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
_BY_NAME: Dict[str, Rule] = {rule.name: rule for rule in ALL_RULES}


def rule_by_code(code: str) -> Rule:
    """The rule with this code (``BL202``) or name (``params-never-learn``); KeyError otherwise."""
    rule = _BY_CODE.get(code.upper()) or _BY_NAME.get(code)
    if rule is None:
        raise KeyError(f"no rule {code!r}")
    return rule


def find_rule(code: str) -> Optional[Rule]:
    """As ``rule_by_code``, but None for an unknown code or name."""
    return _BY_CODE.get(code.upper()) or _BY_NAME.get(code)


def run_rules(ctx: RuleContext) -> List[Finding]:
    """Every rule's findings for ``ctx``, sorted (location, code, layer, state, message)."""
    if ctx.refusal is not None:
        return [refusal_finding(ctx.refusal, ctx)]
    findings: List[Finding] = []
    for rule in ALL_RULES:
        if rule.check is not None:
            findings.extend(rule.check(ctx))
    return sorted(findings, key=Finding.sort_key)


def refusal_finding(error: NetRefused, ctx: RuleContext) -> Finding:
    """The finding for a net Caffe refuses (one BL0xx rule per ``NetRefused.kind``)."""
    return refusals.refusal_finding(error, ctx)


__all__ = [
    "ALL_RULES",
    "Rule",
    "RuleContext",
    "find_rule",
    "refusal_finding",
    "rule_by_code",
    "run_rules",
    "state_label",
]
