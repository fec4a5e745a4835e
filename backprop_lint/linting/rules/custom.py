"""BL4xx: layers backprop-lint cannot know, and what the loader noticed on the way."""
from __future__ import annotations

from itertools import islice

from backprop_lint.caffe.model import Location, SimLayer, Warning_

from backprop_lint.linting.findings import GROUP_POSITIONS, Finding, Fix
from backprop_lint.linting.rules.base import OMITTED, Omitted, Rule, RuleContext
from backprop_lint.linting.rules.graph import quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Tuple


def declaration_key(layer: SimLayer) -> str:
    """The key a user declares this layer under: the type, or ``module.layer`` for a Python layer."""
    if layer.type == "Python" and layer.definition is not None:
        python_param = layer.definition.param.get("python_param")
        return f"{python_param.get('module')}.{python_param.get('layer')}"
    return layer.type


def _toml_key(key: str) -> str:
    return f'"{key}"' if "." in key or not key.replace("_", "").replace("-", "").isalnum() else key


def _check_undeclared_layers(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    unknown = set(net.unknown_layers)
    for layer in net.layers:
        if layer.is_split or layer.name not in unknown:
            continue
        if layer.type == "Python" and not layer.bottoms:
            continue  # a source (data) layer: no gradient passes through it, whatever its Backward does
        key = declaration_key(layer)
        kind = f"Python layer `{key}`" if layer.type == "Python" else f"custom layer type `{layer.type}`"
        message = (
            f"{quote(layer.name)} is a {kind} that backprop-lint knows nothing about: its parameter count and "
            f"Backward are unknown, so gradient results through it are reported as unknown"
        )
        declaration = f"[tool.backprop-lint.layers.{_toml_key(key)}] params = N (its number of learnable blobs)"
        reasons = (
            "declare it in pyproject.toml with the number of learnable blobs (and optionally `backward`, "
            "`loss`, `bottoms`, `tops`)",
        )
        yield UNDECLARED_LAYER.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons,
            fix=Fix(f"declare it in pyproject.toml: {declaration}"),
        )


UNDECLARED_LAYER = Rule(
    "BL401", "undeclared-custom-layer", "warning",
    "A Python or custom layer is not declared, so what it does to gradients is unknown.",
    _check_undeclared_layers,
)


#: loader warnings about fields Caffe's *text* parser rejects (a binary reader only skips them)
UNREADABLE_FIELD_KINDS = frozenset({"unknown-field", "fork-only-field"})


def _is_unreadable_field(ctx: RuleContext, kind: str) -> bool:
    return ctx.text is not None and kind in UNREADABLE_FIELD_KINDS


#: Warning_.kind of the loader's format notes: the file is in a deprecated format Caffe still reads
#: and upgrades the same way at every load (upgrade.DEPRECATED_KIND)
FORMAT_NOTE_KINDS = frozenset({"deprecated"})
#: Warning_.kind of the BatchNorm param rewrite (upgrade.BATCHNORM_KIND)
BATCHNORM_UPGRADE_KIND = "batchnorm-upgrade"

#: lines listed after a repeated warning's first; the loader keeps at least this + 2 of them
#: with their positions (model.KEPT_REPEATS: the first, these, and one to know there are more)
MAX_LINES_SHOWN = 8


def stateless(ctx: RuleContext) -> RuleContext:
    """What the loader and upgrader report holds before FilterNet, in every state: no state label."""
    return ctx.replace(state="")


def grouped(warnings: Iterable[Warning_]) -> List[Tuple[Warning_, str]]:
    """One entry per distinct (kind, message): the first warning, and its message saying how many
    more there are and where (the same note on every BatchNorm is reported once)."""
    groups: Dict[Tuple[str, str], List[Warning_]] = {}
    for warning in warnings:
        groups.setdefault((warning.kind, warning.message), []).append(warning)
    result: List[Tuple[Warning_, str]] = []
    for (_, message), same in groups.items():
        count = sum(warning.count for warning in same)  # the loader counts repeats past KEPT_REPEATS
        if count > 1:
            lines = _first_lines(same, MAX_LINES_SHOWN + 1)
            shown = ", ".join(lines[:MAX_LINES_SHOWN]) + (", ..." if len(lines) > MAX_LINES_SHOWN else "")
            where = f", at line{'s' if len(lines) > 1 else ''} {shown}" if lines else ""
            message += f" (and {count - 1} more{where})"
        result.append((same[0], message))
    return result


def _first_lines(same: List[Warning_], count: int) -> List[str]:
    """The line numbers of the first ``count`` warnings after the first that have one: enough
    to show, and to know whether there are more (a field repeated on every line of a huge
    file makes millions)."""
    lines: List[str] = []
    for warning in islice(same, 1, None):
        if warning.location is not None and warning.location.line:
            lines.append(str(warning.location.line))
            if len(lines) == count:
                break
    return lines


def _batchnorm_consequence(ctx: RuleContext, warning: Warning_) -> Tuple[Tuple[str, ...], Fix]:
    """What the BatchNorm rewrite does to training, and what to write instead (per flavour)."""
    assert ctx.net is not None
    if ctx.net.prepared.flavor == "bvlc":
        reasons = (
            "the `lr_mult` written here is never used: Caffe trains with `lr_mult: 0 decay_mult: 0` on "
            "BatchNorm's mean, variance and moving-average factor, which are running statistics, not weights",
        )
        fix = Fix("write `param { lr_mult: 0 decay_mult: 0 }` three times (what Caffe uses anyway), or no "
                  "`param {}`; for a learnable scale and shift, follow BatchNorm with a `Scale` layer with "
                  "`bias_term: true`")
    else:
        reasons = (
            "the statistics then have the default `lr_mult: 1 decay_mult: 1`, and this Caffe's BatchNorm does "
            "not mask them, so the solver treats them as learnable weights: with `weight_decay` it shrinks the "
            "running mean and variance at every iteration",
        )
        fix = Fix("this Caffe clears exactly three `param {}` whatever they say: give the layer no `param {}` "
                  "and train with `weight_decay: 0`, or lint for the Caffe the net is meant for (`--flavor`)")
    return reasons, fix


def _check_load_warnings(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    changes = [
        w for w in net.prepared.warnings
        if not _is_unreadable_field(ctx, w.kind) and w.kind not in FORMAT_NOTE_KINDS
    ]
    for warning, message in grouped(changes):
        reasons: Tuple[str, ...] = ()
        fix = None
        if warning.kind == BATCHNORM_UPGRADE_KIND:
            reasons, fix = _batchnorm_consequence(ctx, warning)
        yield LOAD_WARNING.finding(
            stateless(ctx), warning.location or Location(ctx.file), message, reasons=reasons, fix=fix,
        )


LOAD_WARNING = Rule(
    "BL402", "load-warning", "warning",
    "Caffe's loader or upgrader changes this net silently, drops part of it, or reports a problem.",
    _check_load_warnings,
)


def _check_format_notes(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    notes = [w for w in net.prepared.warnings if w.kind in FORMAT_NOTE_KINDS]
    for warning, message in grouped(notes):
        yield FORMAT_NOTE.finding(
            stateless(ctx), warning.location or Location(ctx.file), message,
            reasons=("Caffe reads this format and upgrades it the same way at every load; nothing about "
                     "training or gradients changes",),
            fix=Fix("convert the file once with Caffe's `upgrade_net_proto_text` (net-level `input` fields "
                    "become an `Input` layer)"),
        )


FORMAT_NOTE = Rule(
    "BL404", "deprecated-format", "info",
    "The net uses a deprecated format (net-level `input` fields, V0 layers, old transformation fields) "
    "that Caffe still upgrades at load.",
    _check_format_notes,
)


def _check_unreadable_fields(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    unreadable = [w for w in net.prepared.warnings if _is_unreadable_field(ctx, w.kind)]
    groups = within_budget(ctx.file, grouped(unreadable), ctx.finding_budget, ctx.memo)
    for warning, message in groups:
        yield unreadable_field_finding(ctx.file, warning, message, net.prepared.flavor)


def within_budget(
    file: str, groups: List[Tuple[Warning_, str]], budget: int, memo: Dict[str, Any]
) -> List[Tuple[Warning_, str]]:
    """The first ``budget`` BL403 groups in file order (all of them when ``budget`` is 0); the
    rest are counted in ``memo[OMITTED]``. A file has tens of thousands of them when a
    generator misspells a field on every layer: past the per-file limit none would be shown,
    and creating them would cost more than linting the net."""
    if not budget or len(groups) <= budget:
        return groups
    ordered = sorted(groups, key=lambda group: (*_position(file, group[0]), group[1]))
    rest = ordered[budget:]
    first = tuple((warning.location or Location(file)) for warning, _ in rest[:GROUP_POSITIONS])
    rule = UNREADABLE_FIELD
    memo.setdefault(OMITTED, {})[rule.code] = Omitted(rule.name, rule.severity, len(rest), first)
    return ordered[:budget]


def _position(file: str, warning: Warning_) -> Tuple[int, int]:
    location = warning.location or Location(file)
    return location.line, location.col


def unreadable_field_finding(file: str, warning: Warning_, message: str, flavor: str) -> Finding:
    """BL403 for one (group of) field(s) the text parser stops at; it holds in every net state."""
    return UNREADABLE_FIELD.finding(
        RuleContext(file=file), warning.location or Location(file), message,
        reasons=("backprop-lint skipped the field to check the rest of the net; real Caffe stops "
                 "reading the file here (\"Failed to parse NetParameter file\")",),
        fix=Fix(_unreadable_field_advice(warning.kind, flavor)),
    )


def _unreadable_field_advice(kind: str, flavor: str) -> str:
    """Suggest the other flavour only when the field belongs to it (never the flavour already in use)."""
    if kind != "fork-only-field":
        return ("remove or correct the field; if a Caffe fork defines it, lint with that fork's layer pack "
                "(`--pack NAME`, see `backprop-lint packs`)")
    other = "ssd" if flavor == "bvlc" else "bvlc"
    return f"remove or correct the field, or lint with the flavour the net was written for (`--flavor {other}`)"


UNREADABLE_FIELD = Rule(
    "BL403", "field-caffe-cannot-read", "error",
    "A field this Caffe's text parser does not know: real Caffe cannot read the file.",
    _check_unreadable_fields,
)

RULES: Tuple[Rule, ...] = (UNDECLARED_LAYER, LOAD_WARNING, UNREADABLE_FIELD, FORMAT_NOTE)
