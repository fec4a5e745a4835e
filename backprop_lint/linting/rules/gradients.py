"""BL2xx: gradients that stay zero (a Backward that does nothing, weights that never learn)."""
from __future__ import annotations

from backprop_lint.caffe.layer_table import Backward
from backprop_lint.caffe.model import Location, SimLayer, SimulatedNet
from backprop_lint.linting.findings import Finding, Fix
from backprop_lint.linting.rules.base import Rule, RuleContext
from backprop_lint.linting.rules.explain import describe, why_no_backward, why_no_gradient_reaches
from backprop_lint.linting.rules.fixes import (
    aborts_with_force_backward,
    force_backward_fix,
    parsed_top_level,
    propagate_down_edits,
    with_force_backward,
    with_propagate_down,
)
from backprop_lint.linting.rules.graph import (
    row_of,
    Reader,
    direct_readers,
    explicit_propagate_down,
    format_number,
    gradient_flows,
    has_loss,
    last_writer,
    param_role,
    param_specs,
    quote,
    quoted_names,
    user_layers_of,
    user_readers,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable, List, Optional, Sequence, Tuple


def net_location(ctx: RuleContext) -> Location:
    """Where a net-level finding points: the net's ``name:`` line, else the file."""
    if ctx.text is not None:
        from backprop_lint.linting.rules.textpos import text_index  # text scans: nets with such findings only

        index = text_index(ctx.text)
        name = index.top_level("name", parsed_top_level(ctx))
        if name is not None:
            line, col = index.position(name.start)
            return Location(ctx.file, line, col)
    return Location(ctx.file)


def net_title(net: SimulatedNet) -> str:
    return f"net {quote(net.prepared.name)}" if net.prepared.name else "this net"


# ---------------------------------------------------------------------------
# BL201 backward-does-nothing
# ---------------------------------------------------------------------------


def _check_backward_does_nothing(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or not net.layers or gradient_flows(net):
        return
    outputs = ", ".join(quoted_names(net.outputs)) or "none"
    message = (
        f"{net_title(net)} has no loss and no `force_backward: true`: `net.backward()` runs no layer and "
        f"leaves every diff zero, even a diff you write into an output ({outputs})"
    )
    reasons = (
        "Caffe's backward sweep keeps only layers that lead to a non-zero loss weight, and no top here has one",
        "a diff seeded on an output is not propagated, because no layer's Backward runs",
    )
    seed = net.outputs[0] if net.outputs else "OUTPUT"
    description = (
        f"add `force_backward: true` at the top of the net, then seed the gradient before calling backward, "
        f"e.g. `net.blobs['{seed}'].diff[...] = 1`"
    )
    fix = force_backward_fix(ctx, description, aborts_with_force_backward(ctx))
    yield BACKWARD_DOES_NOTHING.finding(ctx, net_location(ctx), message, reasons=reasons, fix=fix)


#: info: a net with no loss is an inference net, and running it forward is fine; when you do
#: need a gradient, name it (`need-diff`) and BL203 is the error
BACKWARD_DOES_NOTHING = Rule(
    "BL201", "backward-does-nothing", "info",
    "The net has no loss and no `force_backward: true`, so Backward computes nothing.",
    _check_backward_does_nothing,
)


# ---------------------------------------------------------------------------
# BL202 params-never-learn
# ---------------------------------------------------------------------------


def _check_params_never_learn(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or net.prepared.state.phase != "TRAIN" or not gradient_flows(net) or net.backward_aborts:
        return  # (an aborting Backward is BL101's finding; nothing after it happens)
    for index, layer in user_layers_of(ctx):
        dead = _dead_params(net, layer)
        if dead:
            yield _never_learns_finding(ctx, net, index, layer, dead)


def _dead_params(net: SimulatedNet, layer: SimLayer) -> List[int]:
    """Parameter blobs with a non-zero lr_mult whose diff stays zero."""
    cells = layer.param_diff_nonzero or []
    if False not in cells or layer.param_propagate_down is None or layer.name in net.unknown_layers:
        return []  # every parameter diff non-zero (or unknown): the common case, decided first
    info = row_of(net, layer)
    if info is not None and not info.writes_param_diff:
        return []  # running statistics (BatchNorm): never meant to get a gradient
    return [
        p for p, spec in enumerate(param_specs(layer))
        if spec.lr_mult != 0 and p < len(cells) and cells[p] is False
    ]


def _never_learns_finding(
    ctx: RuleContext, net: SimulatedNet, index: int, layer: SimLayer, dead: List[int]
) -> Finding:
    specs = param_specs(layer)
    rates = sorted({format_number(specs[p].lr_mult) for p in dead})
    roles = " and ".join(param_role(layer, p) for p in dead)
    if layer.need_backward is False:
        chain = why_no_backward(net, index)
    else:
        chain = why_no_gradient_reaches(net, index)
    headline = f"{quote(layer.name)} has `lr_mult: {'/'.join(rates)}` on its {roles} but never learns"
    message = f"{headline}: {_summary(chain, pruned=layer.need_backward is False)}" if chain else headline
    reasons = list(chain)
    if any(specs[p].decay_mult != 0 for p in dead):
        reasons.append(
            "its `decay_mult` is not 0, so a solver with `weight_decay` still shrinks these weights every "
            "iteration, with no gradient to balance it"
        )
    advice = (
        f"If {quote(layer.name)} should learn, remove what cuts its gradient (the reasons above); if it is "
        f"frozen on purpose, say so with `param {{ lr_mult: 0 decay_mult: 0 }}` for each of its blobs."
    )
    return PARAMS_NEVER_LEARN.finding(
        ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons, fix=Fix(advice)
    )


def _summary(chain: List[str], pruned: bool) -> str:
    """The chain in one clause: the first reason (and the pruning it causes), or the deepest cause."""
    if not pruned:
        return chain[-1]
    if len(chain) > 1 and chain[-1].startswith("so "):
        return f"{chain[0]}, {chain[-1]}"
    return chain[0]


PARAMS_NEVER_LEARN = Rule(
    "BL202", "params-never-learn", "warning",
    "A layer has parameters with a non-zero `lr_mult`, but their gradient is always zero.",
    _check_params_never_learn,
)


# ---------------------------------------------------------------------------
# BL203 needed-gradient-is-zero
# ---------------------------------------------------------------------------


def _check_needed_gradient(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or net.backward_aborts:
        return  # an aborting Backward is BL101's finding; nothing after it happens
    for blob in ctx.need_diff:
        if blob not in net.blob_diff_nonzero:
            from difflib import get_close_matches  # only for a need-diff name the net lacks

            close = get_close_matches(blob, net.blobs, n=3)
            hint = f"did you mean {' or '.join(quote(name) for name in close)}?" if close else (
                "blobs that exist only in another phase or stage are absent from this net state")
            yield NEEDED_GRADIENT_IS_ZERO.finding(
                ctx, net_location(ctx),
                f"you need the gradient of {quote(blob)}, but this net state has no blob of that name",
                reasons=(hint,),
            )
        elif net.blob_diff_nonzero[blob] is False:
            yield _zero_gradient_finding(ctx, net, blob)


def _zero_gradient_finding(ctx: RuleContext, net: SimulatedNet, blob: str) -> Finding:
    producer = last_writer(net, blob)
    readers = user_readers(net, producer, blob) if producer is not None else []
    reasons: List[str] = []
    if not gradient_flows(net):
        reasons.append("the net has no loss and no `force_backward: true`, so Backward runs no layer")
    elif not readers:
        reasons.append(f"no layer reads {quote(blob)}, so no gradient can reach it")
    else:
        for reader in readers:
            reasons.extend(_why_reader_leaves_zero(net, reader, blob))
        reasons.extend(_idle_splits(net, producer, blob))
    location = ctx.location_of(net.layers[producer]) if producer is not None else net_location(ctx)
    message = f"the gradient of {quote(blob)} stays zero, but you need it"
    if reasons:
        message += f": {reasons[0]}"
    return NEEDED_GRADIENT_IS_ZERO.finding(
        ctx, location, message, layer=net.layers[producer].name if producer is not None else None,
        reasons=reasons, fix=_minimal_fix(ctx, net, blob, readers),
    )


def _idle_splits(net: SimulatedNet, producer: Optional[int], blob: str) -> List[str]:
    """The Split Caffe put after ``blob`` does not run Backward: no reader's gradient reaches ``blob``."""
    if producer is None:
        return []
    return [
        f"several layers read {quote(blob)}, so Caffe inserted a Split layer, and that Split does not run "
        f"Backward either: a gradient in one reader's copy would not reach {quote(blob)}"
        for reader in direct_readers(net, producer, blob)
        if net.layers[reader.index].is_split and net.layers[reader.index].need_backward is False
    ]


def _why_reader_leaves_zero(net: SimulatedNet, reader: Reader, blob: str) -> List[str]:
    layer = net.layers[reader.index]
    if layer.need_backward is False:
        return [f"{quote(layer.name)} reads {quote(blob)} but does not run Backward"] + why_no_backward(
            net, reader.index
        )
    if layer.bottom_need_backward[reader.bottom] is False:
        if explicit_propagate_down(layer, reader.bottom) is False:
            return [f"{quote(layer.name)} sets `propagate_down: false` on {quote(blob)}"]
        return [
            f"{quote(layer.name)} runs Backward, but Caffe does not ask it for the gradient of {quote(blob)}: "
            f"nothing upstream of {quote(blob)} learns"
        ]
    if _never_writes(net, layer, reader.bottom):
        return [f"{describe(layer)} never computes a gradient for its bottom {quote(blob)}"]
    return why_no_gradient_reaches(net, reader.index)


def _never_writes(net: SimulatedNet, layer: SimLayer, j: int) -> bool:
    info = row_of(net, layer)
    if info is None or layer.definition is None:
        return False
    return info.backward(j, len(layer.bottoms), layer.definition.param) is Backward.NEVER


def _minimal_fix(ctx: RuleContext, net: SimulatedNet, blob: str, readers: Sequence[Reader]) -> Optional[Fix]:
    """The smallest change that gives ``blob`` a gradient, checked by re-simulation."""
    for reader in readers:
        layer = net.layers[reader.index]
        if layer.need_backward is not True or layer.bottom_need_backward[reader.bottom] is not False:
            continue
        values = [flag is True for flag in layer.bottom_need_backward]
        values[reader.bottom] = True
        after = with_propagate_down(ctx, reader.index, values)
        if after is not None and after.blob_diff_nonzero.get(blob) is True and not after.backward_aborts:
            flags = " ".join(f"`propagate_down: {'true' if v else 'false'}`" for v in values)
            return Fix(
                f"give {quote(layer.name)} {flags} (one per bottom), so Caffe computes the gradient of "
                f"{quote(blob)}",
                propagate_down_edits(ctx, reader.index, values),
            )
    if net.prepared.force_backward:
        return None
    after = with_force_backward(ctx)
    if after is not None and after.blob_diff_nonzero.get(blob) is not True:
        return None
    description = "add `force_backward: true` at the top of the net"
    if not has_loss(net):
        description += ", and seed an output's diff before calling backward"
    return force_backward_fix(ctx, description, None if after is None else after.backward_aborts)


NEEDED_GRADIENT_IS_ZERO = Rule(
    "BL203", "needed-gradient-is-zero", "error",
    "A blob whose gradient you read (option `need-diff`) gets none from Backward.",
    _check_needed_gradient,
)

RULES: Tuple[Rule, ...] = (BACKWARD_DOES_NOTHING, PARAMS_NEVER_LEARN, NEEDED_GRADIENT_IS_ZERO)
