"""Fixes that change the net: built as TextEdits, checked by re-simulating the changed net."""
from __future__ import annotations

from backprop_lint.caffe.model import BackpropLintError

from backprop_lint.linting.findings import Fix, TextEdit
from backprop_lint.linting.rules.base import RuleContext
from backprop_lint.linting.rules.graph import quoted_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Mapping, Optional, Sequence, Tuple

    from backprop_lint.caffe.model import PreparedNet, SimulatedNet


def parsed_top_level(ctx: RuleContext) -> Optional[Mapping[str, Tuple[int, int]]]:
    """Where the parser found the net's top-level fields in ``ctx.text`` (None when it is
    not known: no text, or a net the upgrade rewrote)."""
    net = ctx.net
    if net is None or ctx.text is None or net.prepared.upgraded_from is not None or net.prepared.net is None:
        return None
    return net.prepared.net.positions


def resimulate(ctx: RuleContext, prepared: PreparedNet) -> Optional[SimulatedNet]:
    """The simulation of a changed net; None when it cannot be trusted or Caffe refuses it."""
    assert ctx.net is not None
    if ctx.resimulate is None:
        if ctx.net.unknown_layers:
            return None  # the declarations are not at hand: a re-run would not be comparable
        from backprop_lint.caffe.pipeline import simulate

        run: Callable[[PreparedNet], SimulatedNet] = simulate
    else:
        run = ctx.resimulate
    try:
        return run(prepared)
    except BackpropLintError:
        return None


def with_force_backward(ctx: RuleContext) -> Optional[SimulatedNet]:
    """The net with ``force_backward: true``, simulated once per context whichever rules ask."""
    assert ctx.net is not None
    if "force_backward" not in ctx.memo:
        ctx.memo["force_backward"] = resimulate(ctx, ctx.net.prepared.replace(force_backward=True))
    result: Optional[SimulatedNet] = ctx.memo["force_backward"]
    return result


def aborts_with_force_backward(ctx: RuleContext) -> Optional[List[str]]:
    """The layers whose Backward would abort with ``force_backward: true`` (None when it
    cannot be known): the whole re-simulation's answer when a rule already asked for it,
    else the context's cheaper re-run without diffs, once per context."""
    assert ctx.net is not None
    if "force_backward" not in ctx.memo and ctx.aborts_when_forced is not None:
        if "force_backward_aborts" not in ctx.memo:
            try:
                aborts: Optional[List[str]] = list(ctx.aborts_when_forced(ctx.net.prepared))
            except BackpropLintError:
                aborts = None
            ctx.memo["force_backward_aborts"] = aborts
        cheap: Optional[List[str]] = ctx.memo["force_backward_aborts"]
        return cheap
    after = with_force_backward(ctx)
    return None if after is None else list(after.backward_aborts)


def with_propagate_down(ctx: RuleContext, index: int, values: Sequence[bool]) -> Optional[SimulatedNet]:
    assert ctx.net is not None
    prepared = ctx.net.prepared
    layers = list(prepared.layers)
    layers[index] = layers[index].replace(propagate_down=list(values))
    return resimulate(ctx, prepared.replace(layers=layers))


def new_aborts(before: SimulatedNet, after_aborts: Sequence[str]) -> List[str]:
    return [name for name in after_aborts if name not in before.backward_aborts]


def force_backward_fix(ctx: RuleContext, description: str, after_aborts: Optional[Sequence[str]]) -> Fix:
    """``force_backward: true`` as an edit; safe only when re-simulation shows no new abort
    (``after_aborts``: the aborting layers with it, None when it could not be re-simulated)."""
    assert ctx.net is not None
    from backprop_lint.linting.rules.textpos import force_backward_edit  # text scans: nets with such findings only

    edits = (force_backward_edit(ctx.text, ctx.file, parsed_top_level(ctx)),) if ctx.text is not None else ()
    if after_aborts is None:
        return Fix(description, edits, safe=False,
                   unsafe_reason="backprop-lint could not re-simulate the changed net to check it")
    aborting = new_aborts(ctx.net, after_aborts)
    if aborting:
        who = ", ".join(quoted_names(aborting))
        return Fix(description, edits, safe=False,
                   unsafe_reason=f"with `force_backward: true`, Backward would abort in {who}")
    return Fix(description, edits)


def propagate_down_edits(ctx: RuleContext, index: int, values: Sequence[bool]) -> Tuple[TextEdit, ...]:
    """Write ``propagate_down`` flags into the text of layer ``index``; () when no clean edit exists."""
    net = ctx.net
    if net is None or ctx.text is None or net.prepared.upgraded_from is not None:
        return ()
    layer = net.layers[index]
    from backprop_lint.linting.rules.textpos import insert_lines_after, text_index

    positions = text_index(ctx.text)
    block = positions.layer_block(layer.location)
    if block is None:
        return ()
    lines = [f"propagate_down: {'true' if v else 'false'}" for v in values]
    existing = block.all("propagate_down")
    if existing:
        if len(existing) != len(values):
            return ()
        edits = []
        for item, line in zip(existing, lines):
            (sl, sc), (el, ec) = positions.position(item.start), positions.position(item.end)
            edits.append(TextEdit(ctx.file, sl, sc, el, ec, line))
        return tuple(edits)
    anchors = block.all("bottom") or block.all("type") or block.all("name")
    if not anchors:
        return ()
    edit = insert_lines_after(positions, ctx.file, anchors[-1], lines)
    return (edit,) if edit is not None else ()
