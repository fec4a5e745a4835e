"""What every rule shares: the rule record, the context it reads, finding helpers."""
from __future__ import annotations

from backprop_lint.caffe.model import Location
from backprop_lint.caffe.records import FrozenRecord, NamedTuple
from backprop_lint.linting.findings import SEVERITIES, Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple

    from backprop_lint.caffe.model import NetRefused, NetState, PreparedNet, SimLayer, SimulatedNet
    from backprop_lint.linting.findings import Fix

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


class RuleContext(FrozenRecord):
    """Everything a rule may read: the simulated ``net``, or the ``refusal`` when Caffe refuses it.

    ``text`` is the file's text (None for binary input), used to build
    TextEdits. ``need_diff`` names the blobs whose gradient the user will read
    (as written in the file, e.g. ``data``). ``resimulate`` re-runs the
    simulation on a changed net, with the same declared layers; rules use it
    to check that a fix they propose really works.
    """

    __slots__ = ("file", "net", "refusal", "text", "state", "need_diff", "resimulate", "aborts_when_forced",
                 "finding_budget", "memo")
    file: str
    net: Optional[SimulatedNet]
    refusal: Optional[NetRefused]
    text: Optional[str]
    state: str
    need_diff: Tuple[str, ...]
    resimulate: Optional[Resimulate]
    #: answers ``resimulate(force_backward on).backward_aborts`` more cheaply, when given
    aborts_when_forced: Optional[ForcedAborts]
    #: findings a rule that makes very many of them creates at most (0: no limit); the
    #: linter sets it to the per-file limit when nothing (no suppression) can hide findings
    finding_budget: int
    #: results rules share within this context (e.g. the net re-simulated with force_backward);
    #: not part of the context's value: equality, hash and repr leave it out
    memo: Dict[str, Any]

    def __init__(
        self,
        file: str,
        net: Optional[SimulatedNet] = None,
        refusal: Optional[NetRefused] = None,
        text: Optional[str] = None,
        state: str = "",
        need_diff: Tuple[str, ...] = (),
        resimulate: Optional[Resimulate] = None,
        aborts_when_forced: Optional[ForcedAborts] = None,
        finding_budget: int = 0,
        memo: Optional[Dict[str, Any]] = None,
    ) -> None:
        self._set(file, net, refusal, text, state, need_diff, resimulate, aborts_when_forced, finding_budget,
                  {} if memo is None else memo)

    def _compared(self) -> Tuple[Any, ...]:
        """The fields but ``memo``, which equality, hash and repr leave out (``field(compare=False...)``)."""
        return tuple([getattr(self, name) for name in self.__slots__ if name != "memo"])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name != "memo")
        return f"RuleContext({fields})"

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


class Rule(FrozenRecord):
    """One rule: a stable code, a kebab-case name, a default severity, a check.

    ``check`` is None for a rule whose findings another part of backprop-lint
    emits (the suppression mechanism reports BL901 itself).
    ``refusal_kind`` ties a BL0xx rule to ``NetRefused.kind``.
    """

    __slots__ = ("code", "name", "severity", "summary", "check", "refusal_kind", "emitted_by")
    code: str
    name: str
    severity: str
    summary: str
    check: Optional[Callable[[RuleContext], Iterable[Finding]]]
    refusal_kind: Optional[str]
    emitted_by: str

    def __init__(
        self,
        code: str,
        name: str,
        severity: str,
        summary: str,
        check: Optional[Callable[[RuleContext], Iterable[Finding]]] = None,
        refusal_kind: Optional[str] = None,
        emitted_by: str = "",
    ) -> None:
        if severity not in SEVERITIES:
            raise ValueError(f"{code}: unknown severity {severity!r}")
        self._set(code, name, severity, summary, check, refusal_kind, emitted_by)

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
