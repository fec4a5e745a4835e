"""BL4xx: layers backprop-lint cannot know, and what the loader noticed on the way."""
from __future__ import annotations

from typing import Dict, Iterable, List, Tuple

from backprop_lint.caffe.model import Location, SimLayer, Warning_

from backprop_lint.linting.findings import Finding, Fix
from backprop_lint.linting.rules.base import Rule, RuleContext
from backprop_lint.linting.rules.graph import quote


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
        key = declaration_key(layer)
        kind = f"Python layer `{key}`" if layer.type == "Python" else f"custom layer type `{layer.type}`"
        message = (
            f"{quote(layer.name)} is a {kind} that backprop-lint knows nothing about: its parameter count and "
            f"Backward are unknown, so gradient results through it are reported as unknown"
        )
        declaration = f"[tool.backprop-lint.layers.{_toml_key(key)}]\nparams = N  # learnable blobs"
        reasons = (
            "declare it in pyproject.toml with the number of learnable blobs (and optionally `backward`, "
            "`loss`, `bottoms`, `tops`)",
        )
        yield UNDECLARED_LAYER.finding(
            ctx, ctx.location_of(layer), message, layer=layer.name, reasons=reasons,
            fix=Fix(f"declare it in pyproject.toml:\n{declaration}"),
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


def _check_load_warnings(ctx: RuleContext) -> Iterable[Finding]:
    """One finding per distinct note; the same note on many layers (every BatchNorm) is reported once."""
    net = ctx.net
    if net is None:
        return
    groups: Dict[Tuple[str, str], List[Warning_]] = {}
    for warning in net.prepared.warnings:
        if not _is_unreadable_field(ctx, warning.kind):
            groups.setdefault((warning.kind, warning.message), []).append(warning)
    for (kind, message), same in groups.items():
        if len(same) > 1:
            lines = [str(w.location.line) for w in same[1:] if w.location is not None and w.location.line]
            shown = ", ".join(lines[:MAX_LINES_SHOWN]) + (", ..." if len(lines) > MAX_LINES_SHOWN else "")
            where = f", at line{'s' if len(lines) > 1 else ''} {shown}" if lines else ""
            message += f" (and {len(same) - 1} more{where})"
        yield LOAD_WARNING.finding(
            ctx, same[0].location or Location(ctx.file), message, reasons=(f"kind: {kind}",),
        )


MAX_LINES_SHOWN = 8


LOAD_WARNING = Rule(
    "BL402", "load-warning", "warning",
    "Caffe's loader or upgrader would warn about this net, or silently change it.",
    _check_load_warnings,
)


def _check_unreadable_fields(ctx: RuleContext) -> Iterable[Finding]:
    net = ctx.net
    if net is None:
        return
    for warning in net.prepared.warnings:
        if _is_unreadable_field(ctx, warning.kind):
            yield UNREADABLE_FIELD.finding(
                ctx, warning.location or Location(ctx.file), warning.message,
                reasons=("backprop-lint skipped the field to check the rest of the net; real Caffe stops "
                         "reading the file here (\"Failed to parse NetParameter file\")",),
                fix=Fix("remove or correct the field, or lint with the flavour the net was written for "
                        "(`--flavor ssd`)"),
            )


UNREADABLE_FIELD = Rule(
    "BL403", "field-caffe-cannot-read", "error",
    "A field this Caffe's text parser does not know: real Caffe cannot read the file.",
    _check_unreadable_fields,
)

RULES: Tuple[Rule, ...] = (UNDECLARED_LAYER, LOAD_WARNING, UNREADABLE_FIELD)
