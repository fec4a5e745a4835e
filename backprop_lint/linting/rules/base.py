"""What every rule shares: the rule record, the context it reads, finding helpers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple

from backprop_lint.caffe.model import Location, NetRefused, NetState, PreparedNet, SimLayer, SimulatedNet

from backprop_lint.linting.findings import SEVERITIES, Finding, Fix

#: re-runs the simulation on a changed PreparedNet (used to check that a fix works)
Resimulate = Callable[[PreparedNet], SimulatedNet]
#: the layers whose Backward would abort in a PreparedNet with ``force_backward: true``
#: (``NetStates.aborts_when_forced``: the re-run without propagating diffs)
ForcedAborts = Callable[[PreparedNet], Sequence[str]]

FAMILIES: Mapping[str, str] = {
    "BL0": "Caffe refuses this net",
    "BL1": "Backward aborts",
    "BL2": "Gradients that stay zero",
    "BL3": "Silent overrides",
    "BL4": "Unknown and custom layers, loader notes",
    "BL9": "Meta",
}


def state_label(state: NetState) -> str:
    """``TRAIN`` or ``TEST level=1 stages=deploy,fast``: the state a finding applies to."""
    parts = [state.phase]
    if state.level:
        parts.append(f"level={state.level}")
    if state.stages:
        parts.append("stages=" + ",".join(state.stages))
    return " ".join(parts)


#: ``RuleContext.memo`` key: code -> ``Omitted``, the findings a rule did not create past its budget
OMITTED = "omitted"


class Omitted(NamedTuple):
    """Findings of one rule left uncreated past the finding budget: how many, and where the first are."""

    name: str
    severity: str
    count: int
    first: Tuple[Location, ...]


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may read: the simulated ``net``, or the ``refusal`` when Caffe refuses it.

    ``text`` is the file's text (None for binary input), used to build
    TextEdits. ``need_diff`` names the blobs whose gradient the user will read
    (as written in the file, e.g. ``data``). ``resimulate`` re-runs the
    simulation on a changed net, with the same declared layers; rules use it
    to check that a fix they propose really works.
    """

    file: str
    net: Optional[SimulatedNet] = None
    refusal: Optional[NetRefused] = None
    text: Optional[str] = None
    state: str = ""
    need_diff: Tuple[str, ...] = ()
    resimulate: Optional[Resimulate] = None
    #: answers ``resimulate(force_backward on).backward_aborts`` more cheaply, when given
    aborts_when_forced: Optional[ForcedAborts] = None
    #: findings a rule that makes very many of them creates at most (0: no limit); the
    #: linter sets it to the per-file limit when nothing (no suppression) can hide findings
    finding_budget: int = 0
    #: results rules share within this context (e.g. the net re-simulated with force_backward)
    memo: Dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def for_net(
        cls,
        net: SimulatedNet,
        *,
        text: Optional[str] = None,
        need_diff: Sequence[str] = (),
        resimulate: Optional[Resimulate] = None,
        finding_budget: int = 0,
        aborts_when_forced: Optional[ForcedAborts] = None,
    ) -> "RuleContext":
        prepared = net.prepared
        return cls(
            file=prepared.file,
            net=net,
            text=text,
            state=state_label(prepared.state),
            need_diff=tuple(need_diff),
            resimulate=resimulate,
            finding_budget=finding_budget,
            aborts_when_forced=aborts_when_forced,
        )

    @classmethod
    def for_refusal(
        cls, error: NetRefused, *, file: str, text: Optional[str] = None, state: str = ""
    ) -> "RuleContext":
        return cls(file=file, refusal=error, text=text, state=state)

    def location_of(self, layer: Optional[SimLayer] = None) -> Location:
        if layer is not None and layer.location is not None:
            return layer.location
        return Location(self.file)


@dataclass(frozen=True)
class Rule:
    """One rule: a stable code, a kebab-case name, a default severity, a check.

    ``check`` is None for a rule whose findings another part of backprop-lint
    emits (the suppression mechanism reports BL901 itself).
    ``refusal_kind`` ties a BL0xx rule to ``NetRefused.kind``.
    """

    code: str
    name: str
    severity: str
    summary: str
    check: Optional[Callable[[RuleContext], Iterable[Finding]]] = None
    refusal_kind: Optional[str] = None
    emitted_by: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: unknown severity {self.severity!r}")

    @property
    def family(self) -> str:
        return FAMILIES[self.code[:3]]

    def finding(
        self,
        ctx: RuleContext,
        location: Location,
        message: str,
        *,
        layer: Optional[str] = None,
        reasons: Sequence[str] = (),
        fix: Optional[Fix] = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=self.severity,
            location=location,
            message=message,
            layer=layer,
            state=ctx.state,
            reasons=tuple(reasons),
            fix=fix,
        )
