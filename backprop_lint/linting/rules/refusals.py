"""BL0xx: nets real Caffe refuses to build (a CHECK or LOG(FATAL) while loading).

The pipeline raises ``NetRefused`` with a stable ``kind``; each kind has one
rule here, whose finding quotes Caffe's own words and says what to change.
"""
from __future__ import annotations

import re
from functools import lru_cache

from backprop_lint.caffe.model import Location
from backprop_lint.caffe.records import FrozenRecord
from backprop_lint.linting.findings import Finding, Fix
from backprop_lint.linting.rules.base import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, Optional, Tuple

    from backprop_lint.caffe.model import NetRefused
    from backprop_lint.linting.rules.base import RuleContext


class Refusal(FrozenRecord):
    """A BL0xx rule: one kind of net Caffe refuses to build, in words."""

    __slots__ = ("code", "name", "kind", "summary", "why", "fix")
    code: str
    name: str
    kind: str
    summary: str
    why: str  # what Caffe is doing when it stops, in one sentence
    fix: str  # what to change

    def __init__(self, code: str, name: str, kind: str, summary: str, why: str, fix: str) -> None:
        self._set(code, name, kind, summary, why, fix)


REFUSALS: Tuple[Refusal, ...] = (
    Refusal(
        "BL001", "unknown-bottom-blob", "unknown-bottom",
        "A layer reads a blob that no earlier layer produces in this net state.",
        "Caffe wires layers in file order, so every bottom must be the top of an earlier layer that "
        "survived the include/exclude filter for this phase, level and stages",
        "produce the blob earlier in the file, fix the name, or make the producer's include/exclude "
        "rules match the consumer's",
    ),
    Refusal(
        "BL002", "top-from-multiple-sources", "multiple-sources",
        "Two layers write a top with the same name without being an in-place pair.",
        "a top name may be reused only by a layer computing in place, with the name at the same "
        "index in its bottoms and its tops",
        "give the second top a new name, or list the blob as this layer's bottom at the same index "
        "to compute in place",
    ),
    Refusal(
        "BL003", "in-place-on-shared-blob", "multiple-sources-split",
        "An in-place layer works on a blob that another layer (or a loss weight) also reads.",
        "the blob has more than one reader, so InsertSplits hands the in-place layer a split copy as "
        "its bottom while its top keeps the original name, which is then produced twice",
        "give the in-place layer's top a new name (and read that name downstream), or move the other "
        "reader after the in-place layer",
    ),
    Refusal(
        "BL004", "propagate-down-count", "propagate-down-count",
        "`propagate_down` is given, but not once per bottom.",
        "`propagate_down` must be given either not at all or exactly once per bottom, in bottom order",
        "write one `propagate_down` line per bottom (`true` for the bottoms that should get a "
        "gradient), or none",
    ),
    Refusal(
        "BL005", "loss-weight-count", "loss-weight-count",
        "`loss_weight` is given, but not once per top.",
        "`loss_weight` must be given either not at all or exactly once per top (loss layers count "
        "their automatic top too)",
        "write one `loss_weight` per top (0 for tops that are not losses), or none",
    ),
    Refusal(
        "BL006", "too-many-params", "too-many-params",
        "A layer has more `param {}` blocks than it has parameter blobs.",
        "each `param {}` describes one learnable blob of the layer, in order, and this layer has fewer",
        "remove the extra `param {}` blocks (e.g. the bias spec of a layer with `bias_term: false`)",
    ),
    Refusal(
        "BL007", "include-and-exclude", "include-and-exclude",
        "A layer has both `include` and `exclude` rules.",
        "Caffe's FilterNet accepts either include rules or exclude rules on a layer, never both",
        "express the condition with `include` rules only (or `exclude` rules only)",
    ),
    Refusal(
        "BL008", "unknown-layer-type", "unknown-layer-type",
        "A layer type this Caffe does not register.",
        "the layer factory has no creator for this type in the chosen Caffe flavour and build",
        "fix the type's spelling, choose the flavour that has it (`--flavor`), or declare your "
        "custom layer under `[tool.backprop-lint.layers.TYPE]` in pyproject.toml",
    ),
    Refusal(
        "BL009", "wrong-bottom-count", "bottom-count",
        "A layer has a number of bottoms its type does not accept.",
        "Layer::SetUp checks the bottom count against the type's exact, minimum and maximum counts",
        "give the layer the bottoms its type takes",
    ),
    Refusal(
        "BL010", "wrong-top-count", "top-count",
        "A layer has a number of tops its type does not accept.",
        "Layer::SetUp checks the top count against the type's exact, minimum and maximum counts",
        "give the layer the tops its type produces",
    ),
    Refusal(
        "BL011", "batchnorm-learnable-statistics", "batchnorm-stats-lr",
        "A BatchNorm `param {}` asks for a non-zero learning rate on its statistics.",
        "BatchNorm's three blobs are running statistics, not learnable weights: its LayerSetUp CHECKs "
        "that every `param {}` given has `lr_mult: 0` (a spec without `lr_mult` means 1)",
        "write `param { lr_mult: 0 }` three times, or no `param {}` at all; put learnable scale and "
        "shift in a following `Scale` layer with `bias_term: true`",
    ),
    Refusal(
        "BL012", "softmax-loss-two-tops", "softmax-loss-two-tops",
        "A SoftmaxWithLoss layer with two tops can never be set up.",
        "its inner Softmax layer is built from a copy of the whole layer, loss weights included, so "
        "one loss-weight count check or the other always fails (BVLC issue #2968)",
        "give SoftmaxWithLoss one top, and compute the probabilities with a separate `Softmax` layer",
    ),
    Refusal(
        "BL013", "in-place-not-allowed", "in-place-forbidden",
        "A layer type that cannot compute in place has the same blob as bottom and top.",
        "this layer type CHECKs that its top is a different blob from its bottom",
        "give the top a new name and read that name downstream",
    ),
    Refusal(
        "BL014", "layer-setup-check", "layer-setup",
        "A layer's own setup check fails (an inconsistent `*_param`), or another Caffe CHECK at load.",
        "the layer's LayerSetUp CHECKs its parameters before the net is built",
        "make the layer's parameters consistent, as Caffe's message says",
    ),
    Refusal(
        "BL015", "upgrade-refused", "upgrade",
        "Caffe cannot upgrade this legacy (V0/V1) net definition.",
        "UpgradeNetAsNeeded runs before anything else and stops on what it cannot convert",
        "write the net in the current format (`layer {}` blocks with string types), as "
        "`upgrade_net_proto_text` would",
    ),
    Refusal(
        "BL016", "shared-param-mismatch", "shared-param-mismatch",
        "Layers share a parameter by name but give it different explicit `lr_mult` or `decay_mult`.",
        "Net::AppendParam CHECKs that every explicit lr_mult (and decay_mult) of a shared parameter "
        "equals the first one given, since the solver keeps one rate per shared blob",
        "give every `param { name: ... }` of the shared blob the same `lr_mult` and `decay_mult`, "
        "or write them only on the first layer",
    ),
    Refusal(
        "BL017", "engine-not-in-build", "unknown-engine",
        "A layer asks for `engine: CUDNN`, which a Caffe built without cuDNN cannot create.",
        "the layer factory serves `engine: CUDNN` only when Caffe was built with cuDNN (USE_CUDNN), "
        "and even then not for a dilated convolution; a CPU-only build stops at this layer",
        "remove the `engine:` line (DEFAULT picks cuDNN when the build has it and Caffe's own code "
        "otherwise), or write `engine: CAFFE`; if your Caffe has cuDNN, say so with `--build cudnn` "
        "or `build = {cudnn = true}`",
    ),
)

_BY_KIND: Dict[str, Refusal] = {r.kind: r for r in REFUSALS}
#: a refusal without a rule of its own is a failed CHECK while setting up the net
FALLBACK_KIND = "layer-setup"


def refusal_for(kind: str) -> Refusal:
    return _BY_KIND.get(kind) or _BY_KIND[FALLBACK_KIND]


#: patterns are compiled (by re's cache) for a refused net only
KNOWN_TYPES = r"Unknown layer type: (?P<type>.*) \(known types: (?P<known>.*)\)$"
MAX_CLOSE_TYPES = 3


def _caffe_words(error: NetRefused) -> Tuple[str, Optional[Tuple[str, Tuple[str, ...]]]]:
    """Caffe's message as shown, and for an unknown type (the type, the types Caffe knows): the
    factory's list of every known type is left out of the message."""
    match = re.match(KNOWN_TYPES, error.message, re.DOTALL) if error.kind == "unknown-layer-type" else None
    if match is None:
        return error.message, None
    unknown = match.group("type")
    known = tuple(name.strip() for name in match.group("known").split(",") if name.strip())
    return f"Unknown layer type: {unknown}", (unknown, known)


@lru_cache(maxsize=64)
def _closest_types(unknown: str, known: Tuple[str, ...]) -> Tuple[str, ...]:
    """The reason that names the few known types closest to the unknown one (the same in every
    net state, hence computed once)."""
    by_lower = {name.lower(): name for name in known}
    from difflib import get_close_matches  # only for an unknown type no pack or build option explains

    close = get_close_matches(unknown.lower(), list(by_lower), n=MAX_CLOSE_TYPES, cutoff=0.6)
    if close:
        return (f"closest types this Caffe knows: {', '.join(f'`{by_lower[c]}`' for c in close)}",)
    return (f"none of the {len(known)} types this Caffe registers is close to `{unknown}`: "
            "it is a custom layer or another fork's",)


def _finding(refusal: Refusal, error: NetRefused, ctx: RuleContext) -> Finding:
    who = f" in `{error.layer}`" if error.layer else ""
    advice = refusal.fix[0].upper() + refusal.fix[1:] + "."
    words, unknown_type = _caffe_words(error)
    extra: Tuple[str, ...] = ()
    message = f"Caffe refuses this net{who}: \"{words}\""
    if error.explanation:
        message += f". {error.explanation[0].upper()}{error.explanation[1:]}"
    if error.instead:
        advice = error.instead + "."
    providers = _providing_packs(error) if refusal.kind == "unknown-layer-type" else ()
    if providers:
        type_name = _unknown_type(error) or ""
        also = f" (also: {', '.join(f'`{name}`' for name in providers[1:])})" if len(providers) > 1 else ""
        message += f". `{type_name}` is registered by a Caffe fork: the `{providers[0]}` layer pack describes it{also}"
        advice = (f"Enable the pack: `--pack {providers[0]}`, or `packs = [\"{providers[0]}\"]` under "
                  f"[tool.backprop-lint].")
    options = list(error.missing_build_options) if refusal.kind == "unknown-layer-type" and not providers else []
    if options:
        type_name = _unknown_type(error) or ""
        message += (f". `{type_name}` is registered only by a Caffe built with {' and '.join(options)}, "
                    "and your build setting leaves that out")
        flag = ",".join(options)
        table = ", ".join(f"{option} = true" for option in options)
        advice = (f"If your Caffe was built with {' and '.join(options)}, say so: `--build {flag}`, or "
                  f"`build = {{{table}}}` under [tool.backprop-lint]; otherwise use a type your build has.")
    if unknown_type is not None and not providers and not options:
        extra = _closest_types(*unknown_type)
    return Finding(
        code=refusal.code,
        name=refusal.name,
        severity="error",
        location=error.location or Location(ctx.file),
        message=message,
        layer=error.layer,
        state=ctx.state,
        reasons=(refusal.why,) + extra,
        fix=Fix(advice),
    )


_UNKNOWN_TYPE = r"^Unknown layer type: (\S+)"


def _unknown_type(error: NetRefused) -> Optional[str]:
    match = re.match(_UNKNOWN_TYPE, error.message)
    return match.group(1) if match else None


def _providing_packs(error: NetRefused) -> Tuple[str, ...]:
    """The layer packs that define the type Caffe does not know (none: not a fork's type)."""
    from backprop_lint.linting.rules.pack_index import PACKS_PROVIDING

    type_name = _unknown_type(error)
    return PACKS_PROVIDING.get(type_name, ()) if type_name else ()


def _make_rule(refusal: Refusal) -> Rule:
    def check(ctx: RuleContext) -> Iterable[Finding]:
        error = ctx.refusal
        if error is not None and refusal_for(error.kind) is refusal:
            yield _finding(refusal, error, ctx)

    return Rule(refusal.code, refusal.name, "error", refusal.summary, check, refusal_kind=refusal.kind)


RULES: Tuple[Rule, ...] = tuple(_make_rule(r) for r in REFUSALS)


def refusal_finding(error: NetRefused, ctx: RuleContext) -> Finding:
    """The one finding for a net Caffe refuses."""
    return _finding(refusal_for(error.kind), error, ctx)
