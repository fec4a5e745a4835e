"""BL3xx: Caffe silently does something other than what the prototxt seems to say."""
from __future__ import annotations

from collections import defaultdict

from backprop_lint.caffe.layer_table import Backward
from backprop_lint.caffe.model import ParamSpec, SimLayer, SimulatedNet
from backprop_lint.linting.findings import Finding, Fix
from backprop_lint.linting.rules.base import Rule, RuleContext
from backprop_lint.linting.rules.explain import describe, names, why_no_backward, zeroes_its_bottom
from backprop_lint.linting.rules.fixes import resimulate
from backprop_lint.linting.rules.graph import (
    params_written_by_forward,
    row_of,
    Reader,
    direct_readers,
    explicit_propagate_down,
    format_number,
    has_loss,
    param_role,
    param_specs,
    producer_of,
    quote,
    user_bottoms,
    user_layers_of,
    user_readers,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Tuple

# ---------------------------------------------------------------------------
# BL301 force-backward-overrides-propagate-down
# ---------------------------------------------------------------------------


def _check_force_overrides(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or not net.prepared.force_backward:
        return
    for index, layer in user_layers_of(ctx):
        bottoms = user_bottoms(net, index)
        overridden = [
            j for j in range(len(layer.bottoms))
            if explicit_propagate_down(layer, j) is False and layer.bottom_need_backward[j] is True
        ]
        if not overridden:
            continue
        which = names([bottoms[j] for j in overridden])
        message = (
            f"`force_backward: true` overrides `propagate_down: false` on {which} in {quote(layer.name)}: "
            f"Caffe computes that gradient anyway"
        )
        reasons = (
            "force_backward turns on every bottom whose layer allows it (AllowForceBackward), "
            "whatever propagate_down says",
        )
        advice = (
            "Remove `force_backward: true` if you rely on `propagate_down: false`: under force_backward "
            "Caffe ignores it wherever the layer allows a forced gradient."
        )
        yield FORCE_OVERRIDES_PD.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons, fix=Fix(advice)
        )


FORCE_OVERRIDES_PD = Rule(
    "BL301", "force-backward-overrides-propagate-down", "warning",
    "`force_backward: true` silently turns `propagate_down: false` back on.",
    _check_force_overrides,
)

# ---------------------------------------------------------------------------
# BL302 loss-counted-twice, BL303 loss-weight-dropped, BL304 loss-top-read
# ---------------------------------------------------------------------------


def _loss_splits(net: SimulatedNet) -> Iterable[Tuple[int, SimLayer, int, SimLayer, int]]:
    """(split index, split, producer index, producer, producer top) for splits carrying a loss."""
    for s, split in enumerate(net.layers):
        if not split.is_split or not split.loss or split.loss[0] == 0:
            continue
        p = producer_of(net, s, split.bottoms[0])
        if p is None:
            continue
        producer = net.layers[p]
        yield s, split, p, producer, producer.tops.index(split.bottoms[0])


def _check_loss_counted_twice(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    for s, split, _p, producer, j in _loss_splits(net):
        if producer.loss[j] == 0:
            continue
        top = producer.tops[j]
        readers = [r for t in split.tops[1:] for r in user_readers(net, s, t)]
        who = names([net.layers[r.index].name for r in readers])
        explicit, again = split.loss[0], producer.loss[j]
        message = (
            f"the loss top {quote(top)} of {describe(producer)} is counted twice: with `loss_weight: "
            f"{format_number(explicit)}` and {who} reading {quote(top)}, Caffe moves the weight to a split and "
            f"{quote(producer.name)} adds its default weight {format_number(again)} again"
        )
        reasons = (
            f"InsertSplits gives the split the weight {format_number(explicit)} and clears "
            f"{quote(producer.name)}'s loss_weight; LossLayer then re-adds the default",
            f"the reported loss is {format_number(explicit + again)}×L while the gradient uses "
            f"{format_number(explicit)}×L, and the reported value drifts after the first iteration",
        )
        advice = (
            f"Do not feed the loss top {quote(top)} to other layers: read the loss value from the net's "
            f"outputs after Forward instead of in {who}."
        )
        yield LOSS_COUNTED_TWICE.finding(
            ctx, ctx.location_of(producer), message, layer=producer.name, reasons=reasons, fix=Fix(advice)
        )


LOSS_COUNTED_TWICE = Rule(
    "BL302", "loss-counted-twice", "warning",
    "A loss layer with an explicit `loss_weight` whose top another layer reads is counted twice.",
    _check_loss_counted_twice,
)


def _written_loss_weights(net: SimulatedNet, layer: SimLayer) -> List[float]:
    """The loss_weight values written in the file for ``layer`` (before InsertSplits)."""
    definition, raw_net = layer.definition, net.prepared.net
    if definition is None or definition.source_index is None or raw_net is None:
        return []
    raw_layers = raw_net.repeated("layer")
    if definition.source_index >= len(raw_layers):
        return []
    return [float(w) for w in raw_layers[definition.source_index].repeated("loss_weight")]


def _check_loss_weight_dropped(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    carried: Dict[int, Dict[int, int]] = defaultdict(dict)  # producer -> top -> split index
    for s, _split, p, _producer, j in _loss_splits(net):
        carried[p][j] = s
    for p, splits in carried.items():
        producer = net.layers[p]
        written = _written_loss_weights(net, producer)
        dropped = [
            j for j, w in enumerate(written[: len(producer.tops)])
            if w != 0 and j not in splits and producer.loss[j] == 0
        ]
        if not dropped:
            continue
        first_top = min(splits)
        split_top, split_index = producer.tops[first_top], splits[first_top]
        readers = [r for t in net.layers[split_index].tops[1:] for r in user_readers(net, split_index, t)]
        who = names([net.layers[r.index].name for r in readers])
        lost = names([producer.tops[j] for j in dropped])
        message = (
            f"Caffe drops the `loss_weight` of {lost} in {quote(producer.name)}: because {who} also reads "
            f"{quote(split_top)}, InsertSplits moves that top's weight to a split and clears every loss weight "
            f"of {quote(producer.name)}"
        )
        reasons = (
            "Caffe's InsertSplits calls clear_loss_weight() on the producer, which empties the whole list, "
            "not only the entry of the split top",
            f"{lost} therefore contributes no loss and no gradient",
        )
        advice = (
            f"Do not read {quote(split_top)} in other layers, or put each loss on a layer of its own "
            f"(e.g. a `Power` or `Reduction` layer per top carrying the `loss_weight`)."
        )
        yield LOSS_WEIGHT_DROPPED.finding(
            ctx, ctx.location_of(producer), message, layer=producer.name, reasons=reasons, fix=Fix(advice)
        )


LOSS_WEIGHT_DROPPED = Rule(
    "BL303", "loss-weight-dropped", "warning",
    "Splitting one loss top clears the `loss_weight` of the layer's other tops.",
    _check_loss_weight_dropped,
)


def _check_loss_top_read(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    for index, layer in user_layers_of(ctx):
        if not any(layer.loss):
            continue  # not a loss layer
        for j, top in enumerate(layer.tops):
            if layer.loss[j] == 0 or _split_carries_loss(net, index, top):
                continue  # no loss here, or InsertSplits saw an explicit weight (BL302's case)
            readers = user_readers(net, index, top)
            if readers:
                yield _loss_top_read_finding(ctx, net, index, layer, top, readers)


def _split_carries_loss(net: SimulatedNet, index: int, top: str) -> bool:
    return any(
        net.layers[r.index].is_split and net.layers[r.index].loss[:1] != [0.0]
        for r in direct_readers(net, index, top)
    )


def _loss_top_read_finding(ctx: RuleContext, net: SimulatedNet, index: int, layer: SimLayer, top: str,
                           readers: List[Reader]) -> Finding:
    who = ", ".join(describe(net.layers[r.index]) for r in readers)
    short = names([net.layers[r.index].name for r in readers])
    writes, passes = ("writes", "passes") if len(readers) == 1 else ("write", "pass")
    if layer.need_backward is False:
        effect = f"Caffe prunes {quote(layer.name)} from the backward sweep, so nothing learns from this loss"
        chain = why_no_backward(net, index)
    elif any(zeroes_its_bottom(net, r) for r in direct_readers(net, index, top)):
        effect = f"{short} {writes} zeros into the loss diff in Backward, so this loss gives no gradient at all"
        chain = []
    else:
        effect = (f"{short} {writes} the loss diff in Backward, so the gradient of this loss is whatever "
                  f"{short} {passes} back, and the reported loss changes from the second iteration on")
        chain = []
    message = (
        f"the loss top {quote(top)} of {describe(layer)} is also read by {who}: InsertSplits does not see an "
        f"implicit loss weight, so the loss and its readers share one diff; {effect}"
    )
    reasons = [
        "a loss layer's top diff holds its loss weight, written once at setup; its readers' gradients "
        "overwrite it in Backward",
    ] + chain
    advice = (
        f"Leave the loss top {quote(top)} unread: it is a net output already; read its value from the outputs "
        f"after Forward (remove the reading layer, e.g. a `Silence`)."
    )
    return LOSS_TOP_READ.finding(ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons,
                                 fix=Fix(advice))


LOSS_TOP_READ = Rule(
    "BL304", "loss-top-read", "warning",
    "Another layer reads a loss top with the implicit weight: they share one diff.",
    _check_loss_top_read,
)

# ---------------------------------------------------------------------------
# BL305 batchnorm-forces-backward
# ---------------------------------------------------------------------------


def _check_batchnorm_forces_backward(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or net.prepared.force_backward:
        return
    for index, layer in user_layers_of(ctx):
        if layer.type != "BatchNorm" or not layer.param_propagate_down:
            continue
        if not any(flag is True for flag in layer.param_propagate_down):
            continue
        if layer.need_backward is not True or any(flag is not False for flag in layer.bottom_need_backward):
            continue  # pruned anyway, or its input needs a gradient whatever its statistics say
        frozen = _frozen_batchnorm(ctx, net, index)
        if frozen is None:
            continue
        woken = [
            net.layers[i].name for i, other in user_layers_of(ctx)
            if other.need_backward is True and frozen.layers[i].need_backward is False and i != index
        ]
        if woken:
            yield _batchnorm_finding(ctx, net, index, layer, woken)


def _frozen_batchnorm(ctx: RuleContext, net: SimulatedNet, index: int) -> Optional[SimulatedNet]:
    """The net re-simulated with the BatchNorm's three statistics at `lr_mult: 0`."""
    layer = net.layers[index]
    count = len(layer.param_propagate_down or [])
    specs = [spec.replace(lr_mult=0.0, explicit=True) for spec in param_specs(layer)]
    specs += [ParamSpec(lr_mult=0.0, explicit=True) for _ in range(count - len(specs))]
    layers = list(net.prepared.layers)
    layers[index] = layers[index].replace(params=specs)
    return resimulate(ctx, net.prepared.replace(layers=layers))


def _batchnorm_finding(ctx: RuleContext, net: SimulatedNet, index: int, layer: SimLayer,
                       woken: List[str]) -> Finding:
    shown = names(woken[:4]) + (f" and {len(woken) - 4} more" if len(woken) > 4 else "")
    message = (
        f"{quote(layer.name)} (BatchNorm) makes Caffe run Backward through {shown}, which "
        f"{'learns' if len(woken) == 1 else 'learn'} nothing: "
        f"its statistics count as learnable when Caffe decides what needs backward"
    )
    reasons = [
        "Net::Init reads the net's own `param {}` specs, and a BatchNorm statistic without `lr_mult: 0` "
        "has the default `lr_mult: 1` there",
    ]
    if net.prepared.flavor == "bvlc":
        reasons.append("BatchNorm then freezes the statistics itself, so the gradients computed below it are "
                       "wasted work")
        fix = _batchnorm_fix(ctx, net, index, layer)
    else:
        reasons.append(
            f"this Caffe ({net.prepared.flavor} flavour) clears three `param {{}}` specs of a BatchNorm when "
            f"upgrading and does not freeze the statistics, so no prototxt change stops it; the statistics "
            f"also get the solver's learning rate and weight decay"
        )
        fix = Fix("no change to the prototxt helps in this flavour; accept the extra backward work")
    return BATCHNORM_FORCES_BACKWARD.finding(ctx, ctx.location_of(layer), message, layer=layer.name,
                                             reasons=reasons, fix=fix)


def _batchnorm_fix(ctx: RuleContext, net: SimulatedNet, index: int, layer: SimLayer) -> Fix:
    explicit = len(layer.definition.params) if layer.definition is not None else 0
    missing = len(layer.param_propagate_down or []) - explicit
    description = f"add `param {{ lr_mult: 0 }}` to {quote(layer.name)} for each of its three statistics"
    if ctx.text is None or net.prepared.upgraded_from is not None or missing <= 0:
        return Fix(description)
    from backprop_lint.linting.rules.textpos import insert_lines_after, text_index  # text scans: this fix only

    positions = text_index(ctx.text)
    block = positions.layer_block(layer.location)
    if block is None:
        return Fix(description)
    anchors = block.all("param") or block.all("top") or block.all("bottom")
    if not anchors:
        return Fix(description)
    edit = insert_lines_after(positions, ctx.file, anchors[-1], ["param { lr_mult: 0 }"] * missing)
    return Fix(description, (edit,) if edit is not None else ())


BATCHNORM_FORCES_BACKWARD = Rule(
    "BL305", "batchnorm-forces-backward", "warning",
    "A BatchNorm without three `lr_mult: 0` specs makes the frozen layers after it run Backward.",
    _check_batchnorm_forces_backward,
)

# ---------------------------------------------------------------------------
# BL306 frozen-params-get-gradients
# ---------------------------------------------------------------------------


def _check_frozen_params_get_gradients(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or not net.prepared.force_backward:
        return
    if not has_loss(net) or ctx.need_diff:
        # force_backward is what gives this net (or the blobs you need) a gradient: the frozen
        # parameters' gradients are its price, and advising to drop it would undo BL201's fix
        return
    for _index, layer in user_layers_of(ctx):
        cells = layer.param_diff_nonzero or []
        specs = param_specs(layer)
        frozen = [
            p for p, spec in enumerate(specs)
            if spec.explicit and spec.lr_mult == 0 and p < len(cells) and cells[p] is True
            and p not in params_written_by_forward(net, layer)  # Forward writes these anyway
        ]
        if not frozen:
            continue
        roles = " and ".join(param_role(layer, p) for p in frozen)
        message = (
            f"`force_backward: true` makes Caffe compute gradients for the frozen {roles} of "
            f"{quote(layer.name)} (`lr_mult: 0`): work the solver throws away"
        )
        reasons = (
            "force_backward sets param_propagate_down on every parameter blob, lr_mult 0 included",
            f"`net.params['{layer.name}'][{frozen[0]}].diff` is non-zero even though the solver never updates it",
        )
        yield FROZEN_PARAMS_GET_GRADIENTS.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons,
            fix=Fix("remove `force_backward: true` (the loss already gives every learning layer its gradient); "
                    "if you read input gradients, keep it and name those blobs with `need-diff`"),
        )


FROZEN_PARAMS_GET_GRADIENTS = Rule(
    "BL306", "frozen-params-get-gradients", "info",
    "Under `force_backward: true`, parameters with `lr_mult: 0` still get gradients.",
    _check_frozen_params_get_gradients,
)

# ---------------------------------------------------------------------------
# BL307 duplicate-layer-name
# ---------------------------------------------------------------------------


def _check_duplicate_layer_names(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    seen: Dict[str, SimLayer] = {}
    for _index, layer in user_layers_of(ctx):
        first = seen.setdefault(layer.name, layer)
        if first is layer:
            continue
        if not (_has_param_blobs(first) or _has_param_blobs(layer)):
            continue  # no weights to copy into the wrong one (two losses, two data layers named alike)
        where = f" at line {first.location.line}" if first.location and first.location.line else ""
        message = (
            f"another layer is already named {quote(layer.name)}{where}: Caffe allows it, but weights and "
            f"tools find layers by name"
        )
        reasons = (
            "a .caffemodel copies weights into the first layer of that name, an HDF5 snapshot into the last",
            "pycaffe's `net.params` and `net.layer_dict` keep only one of them",
        )
        yield DUPLICATE_LAYER_NAME.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons,
            fix=Fix("give this layer a unique name (and rename its weights if it has some)"),
        )


def _has_param_blobs(layer: SimLayer) -> bool:
    """Whether the layer has learnable blobs (unknown for an undeclared custom layer: assume so)."""
    return layer.param_propagate_down is None or len(layer.param_propagate_down) > 0


DUPLICATE_LAYER_NAME = Rule(
    "BL307", "duplicate-layer-name", "warning",
    "Two layers in the same net state share a name.",
    _check_duplicate_layer_names,
)

# ---------------------------------------------------------------------------
# BL308 propagate-down-true-has-no-effect
# ---------------------------------------------------------------------------


def _check_useless_propagate_down(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or net.prepared.force_backward:
        return
    for index, layer in user_layers_of(ctx):
        if layer.need_backward is not False:
            continue
        asked = [j for j in range(len(layer.bottoms)) if explicit_propagate_down(layer, j) is True]
        if not asked:
            continue
        bottoms = user_bottoms(net, index)
        which = names([bottoms[j] for j in asked])
        chain = why_no_backward(net, index)
        message = f"`propagate_down: true` on {which} in {quote(layer.name)} has no effect: " + (
            chain[0] if chain else f"{quote(layer.name)} does not run Backward"
        )
        advice = (
            f"If you need that gradient, make {quote(layer.name)} run Backward (a learnable parameter on the "
            f"path to a loss, or `force_backward: true`); otherwise drop the `propagate_down` lines."
        )
        yield PROPAGATE_DOWN_NO_EFFECT.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name,
            reasons=["`propagate_down` only matters in a layer whose Backward runs"] + chain, fix=Fix(advice),
        )


PROPAGATE_DOWN_NO_EFFECT = Rule(
    "BL308", "propagate-down-no-effect", "warning",
    "`propagate_down: true` on a layer whose Backward never runs.",
    _check_useless_propagate_down,
)


# ---------------------------------------------------------------------------
# BL309 propagate-down-false-ignored
# ---------------------------------------------------------------------------


def _check_ignored_propagate_down(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None or net.prepared.force_backward:
        return  # under force_backward every flag is overridden anyway (BL301)
    loss_of: Optional[Dict[str, float]] = None
    for index, layer in user_layers_of(ctx):
        if layer.definition is None or False not in layer.definition.propagate_down:
            continue  # no `propagate_down: false` written on this layer (most layers have no flag at all)
        for j, blob in enumerate(layer.bottoms):
            if explicit_propagate_down(layer, j) is not False or blob in layer.tops:
                continue
            if loss_of is None:
                loss_of = dict(zip(net.blobs, net.blob_loss_weights))
            if net.blob_diff_nonzero.get(blob) is not True or loss_of.get(blob, 0) != 0 or blob in net.seeds:
                continue
            cause = _why_the_flag_is_ignored(net, layer, j)
            if cause is not None:
                yield _ignored_flag_finding(ctx, net, index, layer, j, cause)


def _why_the_flag_is_ignored(net: SimulatedNet, layer: SimLayer, j: int) -> Optional[str]:
    info = row_of(net, layer)
    if info is None or layer.definition is None:
        return None
    param, n_bottoms, n_tops = layer.definition.param, len(layer.bottoms), len(layer.tops)
    if info.aliases_diff(param, n_bottoms, n_tops) and j == 0:
        return (f"a {layer.type} layer shares one diff between its top and its bottom, so the gradient of "
                f"{quote(layer.tops[0])} is its bottom's")
    if info.backward(j, n_bottoms, param) is Backward.IGNORES_PD and layer.need_backward is True:
        return f"the {layer.type} layer's Backward writes its bottom diff whatever `propagate_down` says"
    return None


def _ignored_flag_finding(ctx: RuleContext, net: SimulatedNet, index: int, layer: SimLayer, j: int,
                          cause: str) -> Finding:
    blob = user_bottoms(net, index)[j]
    message = (f"`propagate_down: false` on {quote(blob)} in {quote(layer.name)} does not stop the gradient: "
               f"{cause}")
    reasons = [cause, f"{quote(blob)}'s diff is non-zero after Backward"]
    producer = producer_of(net, index, layer.bottoms[j])
    if producer is not None and net.layers[producer].need_backward is True:
        passer = net.layers[producer]
        who = (f"the Split Caffe inserted for {quote(blob)}" if passer.is_split else quote(passer.name))
        reasons.append(f"{who} runs Backward and passes that gradient on, into the layers above")
    advice = (f"To stop the gradient, cut it where it is still respected: read {quote(blob)} through a layer "
              f"that honours `propagate_down` (e.g. a `Power` layer with `propagate_down: false`), or use the "
              f"cuDNN engine where the layer has one that honours it.")
    return PROPAGATE_DOWN_IGNORED.finding(ctx, ctx.location_of(layer), message, layer=layer.name,
                                          reasons=reasons, fix=Fix(advice))


PROPAGATE_DOWN_IGNORED = Rule(
    "BL309", "propagate-down-false-ignored", "warning",
    "`propagate_down: false` on a layer that writes that bottom's gradient anyway.",
    _check_ignored_propagate_down,
)


RULES: Tuple[Rule, ...] = (
    FORCE_OVERRIDES_PD,
    LOSS_COUNTED_TWICE,
    LOSS_WEIGHT_DROPPED,
    LOSS_TOP_READ,
    BATCHNORM_FORCES_BACKWARD,
    FROZEN_PARAMS_GET_GRADIENTS,
    DUPLICATE_LAYER_NAME,
    PROPAGATE_DOWN_NO_EFFECT,
    PROPAGATE_DOWN_IGNORED,
)
