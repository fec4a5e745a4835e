"""BL1xx: Backward will abort (a CHECK or NOT_IMPLEMENTED inside a layer's Backward)."""
from __future__ import annotations

from backprop_lint.caffe.layer_table import Backward
from backprop_lint.caffe.model import SimLayer, SimulatedNet
from backprop_lint.linting.findings import Finding, Fix
from backprop_lint.linting.rules.base import Rule, RuleContext
from backprop_lint.linting.rules.explain import describe, names
from backprop_lint.linting.rules.graph import row_of, explicit_propagate_down, index_of, quote, user_bottoms

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, List, Tuple


def _abort_cause(net: SimulatedNet, layer: SimLayer) -> Tuple[str, List[int]]:
    """What aborts: ("always", []) or ("bottoms", the bottoms whose gradient it cannot give)."""
    info = row_of(net, layer)
    if info is None or layer.definition is None:
        return "unknown", []
    param, n = layer.definition.param, len(layer.bottoms)
    behaviours = [info.backward(j, n, param) for j in range(n)] or [info.backward(0, 0, param)]
    if Backward.ABORTS in behaviours:
        return "always", []
    asked = [
        j for j, b in enumerate(behaviours)
        if b is Backward.ABORTS_IF_PD and j < n and layer.bottom_need_backward[j] is True
    ]
    return "bottoms", asked


def _check_backward_aborts(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    for layer in net.layers:
        if layer.backward_aborts is True:
            yield _abort_finding(ctx, net, layer)


def _abort_finding(ctx: RuleContext, net: SimulatedNet, layer: SimLayer) -> Finding:
    index = index_of(net, layer)
    bottoms = user_bottoms(net, index)
    cause, asked = _abort_cause(net, layer)
    reasons: List[str] = []
    if layer.forced:
        reasons.append("`force_backward: true` makes every layer run Backward and asks each for the gradient "
                       "of every bottom that allows it")
    else:
        reasons.append(f"{quote(layer.name)} lies on the gradient path to a loss, so Caffe runs its Backward")
    if cause == "unknown":
        message = f"Backward aborts in {describe(layer)}: its declared Backward aborts, and it runs in this net"
        advice = _advice_always(layer)
    elif cause == "always":
        message = (f"Backward aborts in {describe(layer)}: its Backward is not implemented (Caffe dies with "
                   f"\"Not Implemented Yet\"), and it runs in this net")
        advice = _advice_always(layer)
    else:
        which = [bottoms[j] for j in asked]
        what = f"bottom {quote(which[0])}" if len(which) == 1 else f"bottoms {names(which)}"
        if not which:
            what = "bottoms"
        message = (f"Backward aborts in {describe(layer)}: it cannot compute the gradient of its {what}, "
                   f"and Caffe asks for {'it' if len(which) == 1 else 'them'}")
        for j in asked:
            reasons.append(_why_asked(layer, j, bottoms[j]))
        advice = _advice_bottoms(layer, asked, bottoms)
    return RULE_BACKWARD_ABORTS.finding(
        ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons, fix=Fix(advice)
    )


def _why_asked(layer: SimLayer, j: int, bottom: str) -> str:
    if layer.forced and explicit_propagate_down(layer, j) is not True:
        return f"`force_backward: true` asks {quote(layer.name)} for the gradient of {quote(bottom)}"
    if explicit_propagate_down(layer, j) is True:
        return f"{quote(layer.name)} sets `propagate_down: true` on {quote(bottom)}"
    return f"{quote(bottom)} comes from layers that learn, so Caffe wants its gradient"


def _advice_always(layer: SimLayer) -> str:
    if layer.forced:
        return (f"Remove `force_backward: true`, or keep {quote(layer.name)} out of this net state "
                f"(e.g. `include {{ phase: TEST }}`).")
    return (f"Keep {quote(layer.name)} off the gradient path: set `propagate_down: false` where its top is "
            f"read, or move it to a branch that leads to no loss.")


def _advice_bottoms(layer: SimLayer, asked: List[int], bottoms: List[str]) -> str:
    if layer.forced:
        return (f"Remove `force_backward: true` (it overrides `propagate_down: false`), or keep "
                f"{quote(layer.name)} out of this net state (e.g. `include {{ phase: TEST }}`).")
    flags = " ".join(
        f"`propagate_down: {'false' if j in asked else 'true'}`" for j in range(len(bottoms))
    )
    return f"Tell Caffe not to ask for that gradient: give {quote(layer.name)} {flags} (one per bottom, in order)."


RULE_BACKWARD_ABORTS = Rule(
    "BL101", "backward-aborts", "error",
    "A layer runs Backward but cannot: Caffe aborts the whole process.",
    _check_backward_aborts,
)

RULES: Tuple[Rule, ...] = (RULE_BACKWARD_ABORTS,)

