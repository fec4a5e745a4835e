"""Stage 5: what ``Net::Init`` decides about backward, and what one ``Backward()`` writes.

The stages below carry the names of the parts of Caffe's ``Net::Init``
(U:src/caffe/net.cpp:46-258) they reproduce:

* ``build_layers``: the forward construction pass (AppendBottom, AppendTop,
  AutoTopBlobs, SetUp checks, param_propagate_down, need_backward);
* ``prune_backward``: the reverse sweep over ``blobs_under_loss`` and
  ``blobs_skip_backp``;
* ``apply_force_backward``: ``force_backward: true``;
* ``run_backward``: which diffs ``BackwardFromTo`` leaves non-zero.

Values are three-valued (``Tri``): True, False, or None when they depend on an
undeclared custom layer whose behaviour cannot be known statically.
"""
from __future__ import annotations

from operator import eq

from backprop_lint.caffe.layer_table import Backward, LayerInfo, ScratchContext, engine_refusal, layer_info
from backprop_lint.caffe.model import LayerDef, NetRefused, ParamSpec, PreparedNet, SimLayer, SimulatedNet
from backprop_lint.caffe.textproto import to_float32

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

    from backprop_lint.caffe.model import Tri

    #: id of a LayerDef -> (the LayerDef, its row, SetUp's loss weights, param_propagate_down, whether a
    #: param needs backward): what ``_set_up`` and ``_set_param_propagate_down`` decided for it in a build
    SetUps = Dict[int, Tuple[LayerDef, LayerInfo, List[float], Optional[List[Tri]], Tri]]

AUTOMATIC_TOP = "(automatic)"

# ---------------------------------------------------------------------------
# Three-valued logic
# ---------------------------------------------------------------------------


def tri_or(values: Iterable[Tri]) -> Tri:
    result: Tri = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _or2(a: Tri, b: Tri) -> Tri:
    """``tri_or([a, b])`` without building a list (it runs per bottom of every layer)."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _and2(a: Tri, b: Tri) -> Tri:
    """``tri_and([a, b])`` without building a list."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def tri_and(values: Iterable[Tri]) -> Tri:
    result: Tri = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


# ---------------------------------------------------------------------------
# The net under construction
# ---------------------------------------------------------------------------


class BuiltLayer:
    """One layer as Net::Init builds it. Internal to this module, so a plain class with
    slots rather than a dataclass: cheaper to define at start-up and to read and write."""

    __slots__ = (
        "definition", "info", "bottom_ids", "top_ids", "tops", "loss", "need_backward",
        "bottom_need_backward", "param_propagate_down", "need_backward_before_pruning",
        "contributes_to_loss", "skip_pruned", "forced",
    )

    def __init__(
        self,
        definition: LayerDef,
        info: Optional[LayerInfo],
        bottom_ids: List[int],
        top_ids: List[int],
        tops: List[str],
        bottom_need_backward: List[Tri],
    ) -> None:
        self.definition = definition
        self.info = info  # None: an undeclared custom layer
        self.bottom_ids = bottom_ids
        self.top_ids = top_ids
        self.tops = tops
        self.loss: List[float] = []
        self.need_backward: Tri = False
        self.bottom_need_backward = bottom_need_backward
        self.param_propagate_down: Optional[List[Tri]] = None
        self.need_backward_before_pruning: Tri = False
        self.contributes_to_loss = False
        self.skip_pruned: Tri = False
        self.forced = False


class BuiltNet:
    """The net under construction (a plain class for the same reason as BuiltLayer)."""

    __slots__ = (
        "blob_names", "blob_need_backward", "blob_loss_weights", "name_to_id", "available",
        "inputs", "layers", "unknown_layers",
    )

    def __init__(self) -> None:
        self.blob_names: List[str] = []
        self.blob_need_backward: List[Tri] = []
        self.blob_loss_weights: List[float] = []
        self.name_to_id: Dict[str, int] = {}
        self.available: Dict[str, None] = {}  # insertion-ordered set
        self.inputs: List[int] = []
        self.layers: List[BuiltLayer] = []
        self.unknown_layers: List[str] = []

    def new_blob(self, name: str) -> int:
        self.blob_names.append(name)
        self.blob_need_backward.append(False)
        self.blob_loss_weights.append(0.0)
        return len(self.blob_names) - 1


def _refuse(layer: LayerDef, message: str, kind: str) -> NetRefused:
    return NetRefused(message, layer=layer.name, location=layer.location, kind=kind)


# ---------------------------------------------------------------------------
# Net::Init, forward construction pass
# ---------------------------------------------------------------------------


def build_layers(prepared: PreparedNet, declared: Dict[str, LayerInfo], setups: Optional[SetUps] = None) -> BuiltNet:
    """``setups``: kept by a caller that builds several layer lists sharing LayerDefs (the net states
    of one net), for one flavour, build and set of declared rows: a layer's SetUp checks, loss
    weights and param flags depend on its definition and row alone, so they are decided once."""
    net = BuiltNet()
    shared_mults: Dict[str, Dict[str, float]] = {}
    build = _build_of(prepared)
    # Rows by type: the registry lookup and build check are the same for every layer of a type.
    rows: Dict[str, Optional[LayerInfo]] = {}
    #: (id of the row, bottoms, tops) whose blob counts passed CheckBlobCounts, for rows whose counts
    #: do not depend on the layer's params (the rows, the table's or ``declared``'s, outlive this loop)
    counts_passed: Set[Tuple[int, int, int]] = set()
    # this loop runs once per layer: the net's containers are bound once here
    available, name_to_id, blob_need_backward = net.available, net.name_to_id, net.blob_need_backward
    blob_loss_weights = net.blob_loss_weights
    for definition in prepared.layers:
        type_name = definition.type
        if type_name in rows:
            info = rows[type_name]
        else:
            info = _info_for(definition, prepared.flavor, build, declared)
            if type_name != "Python":  # a Python layer's row depends on its module, not its type
                rows[type_name] = info
        bottoms, tops, propagate_down = definition.bottoms, definition.tops, definition.propagate_down
        if propagate_down and len(propagate_down) != len(bottoms):
            raise _refuse(
                definition,
                "propagate_down param must be specified either 0 or bottom_size times",
                "propagate-down-count",
            )
        if info is None:
            refusal = _refuse(
                definition,
                f"Unknown layer type: {type_name} (known types: {', '.join(_known(prepared.flavor, build))})",
                "unknown-layer-type",
            )
            refusal.missing_build_options = _missing_options(type_name, prepared.flavor, build)
            raise refusal
        if info.engine_param is not None:
            refusal = engine_refusal(info, definition.name, definition.param, build)
            if refusal is not None:
                raise _refuse(definition, refusal, "unknown-engine")
        # AppendBottom; the layer needs backward if a bottom does (tri-valued "or", written out)
        need: Tri = False
        bottom_ids: List[int] = []
        for j, name in enumerate(bottoms):
            if name not in available:
                raise _refuse(
                    definition,
                    f"Unknown bottom blob '{name}' (layer '{definition.name}', bottom index {j})",
                    "unknown-bottom",
                )
            blob_id = name_to_id[name]
            del available[name]
            bottom_ids.append(blob_id)
            blob_need = blob_need_backward[blob_id]
            if blob_need is not False and need is not True:
                need = blob_need
        # AppendTop
        top_ids: List[int] = []
        n_bottoms = len(bottoms)
        for j, name in enumerate(tops):
            if j < n_bottoms and name == bottoms[j]:
                blob_id = name_to_id[name]  # in place
            elif name in name_to_id:
                raise _multiple_sources(definition, j, name)
            else:
                blob_id = name_to_id[name] = net.new_blob(name)
            top_ids.append(blob_id)
            available[name] = None
        if type_name == "Input":
            net.inputs.extend(top_ids)
        layer = BuiltLayer(
            definition, info, bottom_ids, top_ids, list(tops),
            list(propagate_down) if propagate_down else list(map(blob_need_backward.__getitem__, bottom_ids)),
        )
        if info.is_loss or info.auto_top_blobs:
            for _ in range(len(tops), _auto_top_count(info, definition)):
                top_ids.append(net.new_blob(AUTOMATIC_TOP))
                layer.tops.append(AUTOMATIC_TOP)
        set_up = None if setups is None else setups.get(id(definition))
        if set_up is None or set_up[1] is not info:
            _set_up(layer, build, counts_passed)
            params_need = _set_param_propagate_down(layer)
            if setups is not None:
                setups[id(definition)] = (definition, info, layer.loss, layer.param_propagate_down, params_need)
        else:  # this definition was set up in an earlier build: the same row and build give the same answers
            _, _, loss, flags, params_need = set_up
            layer.loss = list(loss)
            layer.param_propagate_down = None if flags is None else list(flags)
        for blob_id, weight in zip(top_ids, layer.loss):
            blob_loss_weights[blob_id] = weight
        if params_need is not False and need is not True:
            need = params_need
        if definition.params:  # param {} written: Net::AppendParam's checks on shared names
            _append_params(shared_mults, layer)
        layer.need_backward = need
        layer.need_backward_before_pruning = need
        if need is not False:
            for blob_id in top_ids:
                if blob_need_backward[blob_id] is not True:
                    blob_need_backward[blob_id] = need
        # is_unknowable(info, definition), reusing the param count _set_param_propagate_down found
        if not info.backward_known or layer.param_propagate_down is None:
            net.unknown_layers.append(definition.name)
        net.layers.append(layer)
    return net


def _build_of(prepared: PreparedNet) -> FrozenSet[str]:
    if prepared.build is not None:
        return prepared.build
    from backprop_lint.caffe.build_options import resolve_build

    return resolve_build(prepared.flavor)


def _info_for(definition: LayerDef, flavor: str, build: FrozenSet[str],
              declared: Dict[str, LayerInfo]) -> Optional[LayerInfo]:
    """The table row for a layer: a user's declaration first, then the flavour's registry.

    None when the flavour's Caffe, built with ``build``, does not register the type.
    """
    if definition.type == "Python" and python_layer_key(definition) in declared:
        return declared[python_layer_key(definition)]
    if definition.type in declared:
        return declared[definition.type]
    info = layer_info(definition.type, flavor)
    if info is None or not info.available(build):
        return None
    return info


def is_unknowable(info: LayerInfo, definition: LayerDef) -> bool:
    """Whether the layer's parameter count or backward behaviour cannot be known statically."""
    return not info.backward_known or info.params(definition.param, len(definition.bottoms)) is None


def _missing_options(type_name: str, flavor: str, build: FrozenSet[str]) -> Tuple[str, ...]:
    """The build options (by their user names) the flavour's row of ``type_name`` needs and ``build`` lacks."""
    from backprop_lint.caffe.build_options import OPTIONS

    row = layer_info(type_name, flavor)
    if row is None:
        return ()
    return tuple(name for name, macro in OPTIONS.items() if macro in row.needs and macro not in build)


def _known(flavor: str, build: FrozenSet[str]) -> List[str]:
    from backprop_lint.caffe.layer_table import available_types

    return available_types(flavor, build)


def python_layer_key(definition: LayerDef) -> str:
    """How users name a Python layer when declaring it: ``module.layer``."""
    python_param = definition.param.get("python_param")
    return f"{python_param.get('module')}.{python_param.get('layer')}"


def _multiple_sources(definition: LayerDef, j: int, name: str) -> NetRefused:
    """AppendTop's refusal of top ``j``, ``name``, which an earlier layer already produces."""
    original = definition.original_bottoms or definition.bottoms
    renamed_in_place = j < len(original) and name == original[j] and name != definition.bottoms[j]
    kind = "multiple-sources-split" if renamed_in_place else "multiple-sources"
    return _refuse(definition, f"Top blob '{name}' produced by multiple sources.", kind)


def _auto_top_count(info: Optional[LayerInfo], definition: LayerDef) -> int:
    if info is None or not (info.is_loss or info.auto_top_blobs):
        return 0
    _, tops = info.blob_counts(definition.param)
    return max(tops.min, tops.exact)


def _set_up(
    layer: BuiltLayer, build: FrozenSet[str], counts_passed: Optional[Set[Tuple[int, int, int]]] = None
) -> None:
    """Layer::SetUp: CheckBlobCounts, LayerSetUp checks, SetLossWeights.

    ``counts_passed``: see ``build_layers``; a layer found there is not checked again.
    """
    definition, info = layer.definition, layer.info
    n_bottoms, n_tops = len(definition.bottoms), len(layer.tops)
    explicit_loss = [to_float32(w) for w in definition.loss_weights] if definition.loss_weights else []
    if info is not None:
        if info.counts_of is not None or counts_passed is None:
            _check_blob_counts(layer, info, n_bottoms, n_tops)
        else:  # the counts depend on the row alone: one check per (row, bottoms, tops)
            counts_key = (id(info), n_bottoms, n_tops)
            if counts_key not in counts_passed:
                _check_blob_counts(layer, info, n_bottoms, n_tops)
                counts_passed.add(counts_key)
        if info.setup_engine_param is not None:  # only a few types create an inner layer
            inner_refusal = engine_refusal(info, definition.name, definition.param, build, at_setup=True)
            if inner_refusal is not None:
                raise _refuse(definition, inner_refusal, "unknown-engine")
        if not info.in_place_allowed and any(map(eq, definition.bottoms, definition.tops)):  # top j is bottom j
            raise _refuse(
                definition,
                f"{definition.type} Layer does not allow in-place computation.",
                "in-place-forbidden",
            )
        if info.check is not None:
            message = info.check(definition.param, n_bottoms, n_tops)
            if message:
                raise _refuse(definition, message, _check_kind(definition.type, message))
        if info.is_loss and not explicit_loss:
            explicit_loss = [1.0]
    if explicit_loss and len(explicit_loss) != n_tops:
        raise _refuse(
            definition,
            "loss_weight must be unspecified or specified once per top blob.",
            "loss-weight-count",
        )
    layer.loss = explicit_loss if explicit_loss else [0.0] * n_tops


def _check_kind(type_name: str, message: str) -> str:
    if "batch normalization statistics" in message:
        return "batchnorm-stats-lr"
    if type_name == "SoftmaxWithLoss" and "loss_weight" in message:
        return "softmax-loss-two-tops"
    return "layer-setup"


def _check_blob_counts(layer: BuiltLayer, info: LayerInfo, n_bottoms: int, n_tops: int) -> None:
    definition = layer.definition
    kind_type = definition.type
    bottoms, tops = info.blob_counts(definition.param)
    if bottoms.allows(n_bottoms) and tops.allows(n_tops) and not (info.equal_bottom_top and n_bottoms != n_tops):
        return  # the common case, without building the loop below
    for what, count, n, kind in (
        ("bottom", bottoms, n_bottoms, "bottom-count"),
        ("top", tops, n_tops, "top-count"),
    ):
        if count.allows(n):
            continue
        direction = "as input" if what == "bottom" else "as output"
        if count.exact >= 0:
            expected = f"{count.exact} {what} blob(s)"
        elif count.min >= 0 and n < count.min:
            expected = f"at least {count.min} {what} blob(s)"
        else:
            expected = f"at most {count.max} {what} blob(s)"
        raise _refuse(
            definition,
            f"{kind_type} Layer takes {expected} {direction}; it has {n}.",
            kind,
        )
    if info.equal_bottom_top and n_bottoms != n_tops:
        raise _refuse(
            definition,
            f"{kind_type} Layer produces one top blob as output for each bottom blob input.",
            "top-count",
        )


def _set_param_propagate_down(layer: BuiltLayer) -> Tri:
    """The ``param_propagate_down`` flags and whether any makes the layer need backward."""
    definition, info = layer.definition, layer.info
    count = info.params(definition.param, len(definition.bottoms)) if info is not None else None
    if count is None:
        layer.param_propagate_down = None
        return None
    if len(definition.params) > count:
        raise _refuse(
            definition,
            f"Too many params specified for layer {definition.name}",
            "too-many-params",
        )
    explicit = definition.params
    if not explicit:  # every lr_mult is the default 1
        layer.param_propagate_down = [True] * count
        return count > 0
    flags: List[Tri] = []
    for p in range(count):
        lr_mult = explicit[p].lr_mult if p < len(explicit) else 1.0
        # lr_mult is stored as a C++ float: only a positive value below float32's
        # smallest one becomes 0 (anything from 1e-30 up stays positive)
        flags.append(lr_mult >= 1e-30 or to_float32(lr_mult) > 0)
    layer.param_propagate_down = flags
    return True in flags


def _append_params(shared: Dict[str, Dict[str, float]], layer: BuiltLayer) -> None:
    """Net::AppendParam's checks on parameters shared by name (U:src/caffe/net.cpp:425-486).

    ``shared`` maps a param name to the lr_mult / decay_mult first written
    explicitly for it; a later explicit value must be equal. (The shape check
    that precedes them needs blob shapes: out of reach.)
    """
    definition = layer.definition
    written_specs = definition.param.fields.get("param")
    if not written_specs:  # no param {} written: nothing shared by name
        return
    count = len(layer.param_propagate_down or [])
    for written in written_specs[:count]:
        name = written.get("name")
        if not name:
            continue
        first = shared.setdefault(name, {})
        for field_name in ("lr_mult", "decay_mult"):
            if not written.has(field_name):
                continue
            value = to_float32(float(written.fields[field_name]))
            if field_name not in first:
                first[field_name] = value
            elif first[field_name] != value:
                raise _refuse(definition, f"Shared param '{name}' has mismatched {field_name}.",
                              "shared-param-mismatch")


# ---------------------------------------------------------------------------
# Net::Init, reverse sweep: blobs_under_loss and blobs_skip_backp
# ---------------------------------------------------------------------------


def prune_backward(net: BuiltNet) -> None:
    under_loss: Set[str] = set()
    skipped: Dict[str, Tri] = {}  # blob name -> True, or None when it depends on an unknown
    blob_names = net.blob_names
    for layer in reversed(net.layers):
        contributes = any(layer.loss)  # a top with a loss weight, or one read under a loss
        if not contributes:
            for blob_id in layer.top_ids:
                if blob_names[blob_id] in under_loss:
                    contributes = True
                    break
        prune: Tri = False
        if layer.need_backward is not False:
            # tri_and of need_backward (True or None) and every top being skipped
            prune = layer.need_backward
            for blob_id in layer.top_ids:
                top_skipped = skipped.get(blob_names[blob_id], False)
                if top_skipped is False:
                    prune = False
                    break
                if top_skipped is None:
                    prune = None
        if prune is True:
            layer.need_backward = False
            layer.bottom_need_backward = [False] * len(layer.bottom_ids)
            layer.skip_pruned = True
        elif prune is None:
            layer.need_backward = None if layer.need_backward is not False else False
            layer.bottom_need_backward = [None if f is not False else False for f in layer.bottom_need_backward]
            layer.skip_pruned = None
        layer.contributes_to_loss = contributes
        if not contributes:
            layer.need_backward = False
        for j, blob_id in enumerate(layer.bottom_ids):
            name = blob_names[blob_id]
            if contributes:
                under_loss.add(name)
            else:
                layer.bottom_need_backward[j] = False
            flag = layer.bottom_need_backward[j]
            if flag is False:
                skipped[name] = True
            elif flag is None and skipped.get(name) is not True:
                skipped[name] = None


def apply_force_backward(net: BuiltNet) -> None:
    for layer in net.layers:
        layer.need_backward = True
        layer.forced = True
        n_bottoms = len(layer.bottom_ids)
        for j, blob_id in enumerate(layer.bottom_ids):
            allowed: Tri = True
            if layer.info is not None:
                allowed = not layer.info.no_force_backward(j, n_bottoms)
            elif layer.definition.type == "Python":
                allowed = True  # Layer::AllowForceBackward's default; PythonLayer keeps it
            flag = tri_or([layer.bottom_need_backward[j], allowed])
            layer.bottom_need_backward[j] = flag
            net.blob_need_backward[blob_id] = _or2(net.blob_need_backward[blob_id], flag)
        if layer.param_propagate_down is not None:
            layer.param_propagate_down = [True] * len(layer.param_propagate_down)


# ---------------------------------------------------------------------------
# Net::Backward: which diffs end up non-zero
# ---------------------------------------------------------------------------


class BackwardResult:
    """What Net::Backward leaves behind (internal, a plain class like BuiltNet)."""

    __slots__ = ("blob_diff_nonzero", "param_diff_nonzero", "aborts", "ran")

    def __init__(
        self,
        blob_diff_nonzero: List[Tri],  # per blob id
        param_diff_nonzero: Dict[int, List[Tri]],  # layer index -> per param blob
        aborts: Dict[int, Tri],  # layer index -> True (aborts) or None (may abort), in execution order
        ran: List[int],  # layer indexes whose Backward ran, in execution order
    ) -> None:
        self.blob_diff_nonzero = blob_diff_nonzero
        self.param_diff_nonzero = param_diff_nonzero
        self.aborts = aborts
        self.ran = ran


class _DiffStore:
    """Blob diffs as storage cells, so that shared diffs (ShareDiff) move together."""

    def __init__(self, n_blobs: int) -> None:
        self.cell_of = list(range(n_blobs))
        self.value: List[Tri] = [False] * n_blobs

    def get(self, blob_id: int) -> Tri:
        return self.value[self.cell_of[blob_id]]

    def set(self, blob_id: int, value: Tri) -> None:
        self.value[self.cell_of[blob_id]] = value

    def share(self, blob_id: int, with_blob: int) -> None:
        """``blob.ShareDiff(other)``: ``blob_id`` now reads and writes ``with_blob``'s diff."""
        self.cell_of[blob_id] = self.cell_of[with_blob]


#: a table row's defaults for what a type does not do (each answers "no" for every layer):
#: a row that keeps one is not asked, layer by layer
_ROW_NEVER_ALIASES = LayerInfo._field_defaults["aliases_diff"]
_ROW_NO_FORWARD_DIFF = LayerInfo._field_defaults["forward_writes_diff"]
_ROW_NO_FORWARD_PARAM_DIFF = LayerInfo._field_defaults["forward_writes_param_diff"]
_ROW_NO_SCRATCH = LayerInfo._field_defaults["scratch"]
_ROW_NEVER_GARBLES = LayerInfo._field_defaults["in_place_backward_garbles"]
_ROW_NO_LEARNED_TERM = LayerInfo._field_defaults["backward_adds_learned_term"]
_ROW_NO_FORCED_PARAM_DIFF = LayerInfo._field_defaults["param_diff_ignores_propagate_down"]


def _fresh_diffs(
    net: BuiltNet, seeds: Sequence[int]
) -> Tuple[_DiffStore, Dict[int, List[Tri]], Dict[int, int]]:
    """The diffs after SetUp and Forward, before any Backward: the store, param cells, Parameter tops."""
    store = _DiffStore(len(net.blob_names))
    param_cells: Dict[int, List[Tri]] = {}
    param_alias: Dict[int, int] = {}  # Parameter layer index -> its top blob id

    for i, layer in enumerate(net.layers):
        if layer.param_propagate_down is not None:
            param_cells[i] = [False] * len(layer.param_propagate_down)
        info = layer.info
        if info is not None:
            # SetUp runs Reshape (where these tops take their bottom's diff) before
            # SetLossWeights fills a loss top's diff with its weight.
            if info.aliases_diff is not _ROW_NEVER_ALIASES and info.aliases_diff(
                layer.definition.param, len(layer.bottom_ids), len(layer.top_ids)
            ):
                if not info.alias_needs_backward:
                    store.share(layer.top_ids[0], layer.bottom_ids[0])
            if info.top_aliases_param:
                # Forward makes the top's diff the parameter's diff: the loss weight
                # SetUp wrote into the top's own diff is gone.
                param_alias[i] = layer.top_ids[0]
                continue
        if any(layer.loss):  # SetLossWeights wrote a weight into a top's diff
            for j, blob_id in enumerate(layer.top_ids):
                if layer.loss[j] != 0:
                    store.set(blob_id, True)
        if info is None:
            continue
        # most types write no diff in Forward: their rows keep the table's defaults
        if info.forward_writes_diff is not _ROW_NO_FORWARD_DIFF and info.forward_writes_diff(layer.definition.param):
            for j in _forward_scratch_bottoms(info, layer):
                store.set(layer.bottom_ids[j], True)
        if i in param_cells and info.forward_writes_param_diff is not _ROW_NO_FORWARD_PARAM_DIFF:
            cells = param_cells[i]
            for p in info.forward_writes_param_diff(layer.definition.param):
                if p < len(cells):
                    cells[p] = True
    for blob_id in seeds:
        store.set(blob_id, True)
    return store, param_cells, param_alias


def run_backward(
    net: BuiltNet,
    seeds: Sequence[int],
    start: Optional[int] = None,
    end: Optional[int] = None,
) -> BackwardResult:
    """Forward() then BackwardFromTo(start, end) on fresh blobs (all diffs zero).

    Gradient sources: every top with a non-zero loss weight (SetUp fills its
    diff with the weight) and the ``seeds`` (blob ids whose diff the caller
    wrote).
    """
    n_layers = len(net.layers)
    start = n_layers - 1 if start is None else start
    end = 0 if end is None else end
    store, param_cells, param_alias = _fresh_diffs(net, seeds)

    aborts: Dict[int, Tri] = {}
    ran: List[int] = []
    for i in range(start, end - 1, -1):
        layer = net.layers[i]
        if layer.need_backward is False:
            continue
        ran.append(i)
        verdict = _backward_layer(net, i, layer, store, param_cells)
        if verdict is not False:
            aborts[i] = verdict

    _settle_param_diffs(store, param_cells, param_alias, _param_groups(net, param_cells))
    blob_values = list(map(store.value.__getitem__, store.cell_of))  # store.get of every blob
    return BackwardResult(blob_values, param_cells, aborts, ran)


def _param_groups(net: BuiltNet, param_cells: Dict[int, List[Tri]]) -> List[List[Tuple[int, int]]]:
    """The (layer, param) pairs that share one diff: params with the same ParamSpec name (Net::ShareWeights)."""
    groups: Dict[str, List[Tuple[int, int]]] = {}
    for i, layer in enumerate(net.layers):
        if i not in param_cells:
            continue
        for p, spec in enumerate(layer.definition.params):
            if spec.name and p < len(param_cells[i]):
                groups.setdefault(spec.name, []).append((i, p))
    return [members for members in groups.values() if len(members) > 1]


def _settle_param_diffs(
    store: _DiffStore, param_cells: Dict[int, List[Tri]], param_alias: Dict[int, int],
    groups: Sequence[Sequence[Tuple[int, int]]],
) -> None:
    """After Backward: a Parameter layer's top IS its param diff, and the params of a group share one diff."""
    for i, top_id in param_alias.items():
        param_cells[i] = [store.get(top_id)]
    for members in groups:
        value = tri_or(param_cells[i][p] for i, p in members)
        for i, p in members:
            param_cells[i][p] = value
    for i, top_id in param_alias.items():
        store.set(top_id, param_cells[i][0])  # the Parameter's top IS its (maybe shared) param diff


def sweep_backward(
    net: BuiltNet, seeds: Sequence[int], start: int, watched: Sequence[int]
) -> Optional[List[Tuple[List[Tri], bool]]]:
    """``BackwardFromTo(start, end)`` for every ``end`` from ``start`` down to 0, in one pass.

    Entry ``start - end``: the diffs of the ``watched`` blobs after that call,
    and whether a layer in the range aborts or may abort. A call to a lower
    ``end`` runs the same layers first, so each entry extends the one before.
    None when a watched blob's diff may be a Parameter layer's top's (the top
    itself, or a blob ShareDiff joins to it): that diff is only settled after
    the whole call (shared parameter diffs), so ask ``run_backward`` per
    ``end`` instead. The fix search sweeps with ``BackwardSweeps``, which gives
    the same entries (and those for Parameter tops) but runs only the layers
    that can change one; this is the plain definition its tests compare it with.
    """
    store, param_cells, param_alias = _fresh_diffs(net, seeds)
    classes = _DiffClasses(net)
    if {classes.root(b) for b in watched} & {classes.root(top) for top in param_alias.values()}:
        return None
    entries: List[Tuple[List[Tri], bool]] = []
    aborted = False
    for i in range(start, -1, -1):
        layer = net.layers[i]
        if layer.need_backward is not False:
            if _backward_layer(net, i, layer, store, param_cells) is not False:
                aborted = True
        entries.append(([store.get(b) for b in watched], aborted))
    return entries


class _DiffClasses:
    """Blobs whose diffs ShareDiff may make one (bottom 0 and top 0 of a layer that ``aliases_diff``,
    at SetUp or in Backward), as a union-find: a blob's diff is always that of a blob of its class."""

    def __init__(self, net: BuiltNet) -> None:
        self._joined: Dict[int, int] = {}
        for layer in net.layers:
            info = layer.info
            if info is not None and info.aliases_diff(layer.definition.param, len(layer.bottom_ids),
                                                      len(layer.top_ids)):
                top, bottom = self.root(layer.top_ids[0]), self.root(layer.bottom_ids[0])
                if top != bottom:
                    self._joined[top] = bottom

    def roots(self, n_blobs: int) -> List[int]:
        """``root`` of every blob, as a list (most blobs are joined to none)."""
        roots = list(range(n_blobs))
        for blob_id in self._joined:
            roots[blob_id] = self.root(blob_id)
        return roots

    def root(self, blob_id: int) -> int:
        joined = self._joined
        while blob_id in joined:
            parent = joined[blob_id]
            if parent in joined:  # path halving: chains of aliases stay short
                parent = joined[blob_id] = joined[parent]
            blob_id = parent
        return blob_id


class _UndoableDiffStore(_DiffStore):
    """A ``_DiffStore`` that logs every change, so that many sweeps start from one set of fresh diffs."""

    def __init__(self, fresh: _DiffStore) -> None:
        self.cell_of = fresh.cell_of
        self.value = fresh.value
        self.log: List[Tuple[List[Any], int, Any]] = []  # (the list changed, index, old item)

    def set(self, blob_id: int, value: Tri) -> None:
        cell = self.cell_of[blob_id]
        self.log.append((self.value, cell, self.value[cell]))
        self.value[cell] = value

    def share(self, blob_id: int, with_blob: int) -> None:
        self.log.append((self.cell_of, blob_id, self.cell_of[blob_id]))
        self.cell_of[blob_id] = self.cell_of[with_blob]

    def undo(self, to: int = 0) -> None:
        """Back to the diffs this store had when its log was ``to`` changes long (0: as it started)."""
        log = self.log
        for changed, index, old in reversed(log[to:] if to else log):
            changed[index] = old
        del log[to:]


class BackwardSweeps:
    """``sweep_backward`` from many starts of one net, with the same seeds and watched blobs.

    The diffs after Forward are set up once and every sweep starts from them
    (an undo log puts them back). Entries are ``run_backward``'s values: when a
    watched diff may be a Parameter layer's top's, each entry settles the
    parameter diffs as the end of the call does (only for the Parameter
    layers and shared params that can reach a watched diff).

    A sweep runs only the *relevant* layers, found once from the bottom up (a
    cone of influence). Layer i is relevant when it runs backward
    (``need_backward`` not False) and

    * aborts or may abort when it runs (``_abort_verdict``: its flags and its
      row, never the diffs), or
    * writes a param diff the settling reads (``_param_writers``: a param
      shared with a settled Parameter), or
    * may write the diff of a *read class* R(i): a ``_DiffClasses`` class of a
      watched blob, of a settled Parameter top, or of a blob that a relevant
      layer below i may read (its bottoms' diffs, and its tops' unless
      ``_reads_top_diffs`` says what it writes never depends on them, as an
      undeclared layer's unknowns or a Power of scale 0's zeroes; one known to
      abort adds none, since no entry at or below it is read). A layer writes only
      its bottoms' diffs (ShareDiff only makes a blob's diff that of a blob of
      its class). One asked for the gradient of a bottom in R(i) counts as a
      writer (whether it aborts is left to the sweeps that run it); any other
      with a bottom in R(i) is run once on the fresh diffs and its undo log
      says which classes it wrote (which cells a Backward writes, like whether
      it aborts, depends on its flags and its row, never on the diffs).

    Skipping the other layers changes no entry. Down a call, the diffs of the
    classes R(i + 1) before layer i are the same whether or not the
    non-relevant layers above ran (by induction from the start, where both
    are the fresh diffs): a relevant layer reads only R(i + 1) and writes the
    same cells either way; a non-relevant one writes no class of R(i), which
    holds every class that is read from layer i down (R only grows upwards);
    after an aborting layer nothing is read. So the watched values at the
    end (in R of every layer), the param diffs the settling reads (written by
    relevant layers from R) and the aborts (only relevant layers abort) are
    the same.

    So a call's entry changes only at relevant layers: ``sweep(start)`` runs
    the relevant layers from the highest at or below ``start`` down to the
    first that aborts or may abort (or the lowest), and lists those where the
    entry of the call that ends there changes. A call from ``start`` to
    ``end`` has the entry of the lowest listed layer at or above ``end``
    (below them all: the last one's), or ``before``, not aborting, when none
    is listed at or above ``end``. A sweep costs the relevant layers it runs;
    the walk that finds them goes once through the layers, as far up as the
    highest start asked.
    """

    def __init__(self, net: BuiltNet, seeds: Sequence[int], watched: Sequence[int]) -> None:
        self.net = net
        self.watched = list(watched)
        fresh, self._param_cells, param_alias = _fresh_diffs(net, seeds)
        self._store = _UndoableDiffStore(fresh)
        classes = _DiffClasses(net)
        #: Parameter layers whose top's diff may be a watched one, and those sharing a param with them
        self._settled: Dict[int, int] = {}
        self._groups: List[List[Tuple[int, int]]] = []
        self._fresh_cells: Dict[int, List[Tri]] = {}  # the param diffs the settling reads, after Forward
        self._param_writers: Set[int] = set()  # layers whose own param diffs the settling reads
        if param_alias:
            self._settle_parameters(param_alias, classes)
        #: the watched values after a call that runs no layer
        self.before = self._values()
        #: the classes of the Parameter layers' tops, whose diffs are settled after a call
        self.parameter_classes = {classes.root(top) for top in param_alias.values()}
        self._roots = classes.roots(len(net.blob_names))
        #: R of the layer the walk reaches next
        self._read_classes = {self._roots[b] for b in (*self.watched, *self._settled.values())}
        #: the relevant layers walked so far, ascending
        self.relevant: List[int] = []
        self._watched_by_class: Optional[Dict[int, List[int]]] = None
        self._rank: List[int] = []  # per layer walked: the index in relevant of the highest at or below it

    def _settle_parameters(self, param_alias: Dict[int, int], classes: _DiffClasses) -> None:
        roots = {classes.root(b) for b in self.watched}
        settled = {i for i, top in param_alias.items() if classes.root(top) in roots}
        if not settled:
            return
        self._groups = [members for members in _param_groups(self.net, self._param_cells)
                        if any(i in settled for i, _ in members)]
        shared = {i for members in self._groups for i, _ in members}
        self._settled = {i: top for i, top in param_alias.items() if i in settled or i in shared}
        self._fresh_cells = {i: list(self._param_cells[i]) for i in shared | set(self._settled)}
        self._param_writers = shared - set(param_alias)

    def relevant_at_or_below(self, index: int) -> int:
        """The highest relevant layer at or below ``index`` (-1: none): every start from ``index``
        down to it sweeps alike, and an end above it has the entry ``before``."""
        self._walk_to(index)
        rank = self._rank[index]
        return self.relevant[rank] if rank >= 0 else -1

    def count_relevant(self, index: int) -> int:
        """How many relevant layers are at or below ``index``: what a sweep from it may run."""
        self._walk_to(index)
        return self._rank[index] + 1

    def class_of(self, blob_id: int) -> int:
        """The ``_DiffClasses`` class of ``blob_id`` (its root)."""
        return self._roots[blob_id]

    def layers_writing(self, classes: Set[int]) -> Dict[int, List[int]]:
        """Per class of ``classes`` (``class_of``), the layers, ascending, whose Backward may write a diff
        of that class: those that run backward with a bottom in it (a Backward writes only its bottoms'
        diffs, and ShareDiff keeps a diff within its class). Above the last of them that a call runs,
        the class keeps the value it had before Backward."""
        roots = self._roots
        writers: Dict[int, List[int]] = {root: [] for root in classes}
        for i, layer in enumerate(self.net.layers):
            if layer.need_backward is not False:
                for root in {roots[blob_id] for blob_id in layer.bottom_ids}:
                    if root in writers:
                        writers[root].append(i)
        return writers

    def _walk_to(self, index: int) -> None:
        """Find the relevant layers up to ``index``, going on from where the walk stopped."""
        ranks = self._rank
        if index < len(ranks):
            return
        read, roots, param_writers = self._read_classes, self._roots, self._param_writers
        relevant, layers = self.relevant, self.net.layers
        for i in range(len(ranks), index + 1):
            layer = layers[i]
            if layer.need_backward is not False:
                writes = i in param_writers
                unasked = False  # a bottom in a read class whose gradient it is not asked for
                for blob_id, flag in zip(layer.bottom_ids, layer.bottom_need_backward):
                    if roots[blob_id] in read:
                        if flag is True:
                            writes = True
                            break
                        unasked = True
                if writes or (unasked and not read.isdisjoint(self._written_classes(i, layer))):
                    if _reads_top_diffs(layer):
                        read.update(map(roots.__getitem__, layer.top_ids))
                    read.update(map(roots.__getitem__, layer.bottom_ids))
                    relevant.append(i)
                elif _abort_verdict(layer) is not False:
                    relevant.append(i)  # every entry from it down aborts: what it reads is never read
            ranks.append(len(relevant) - 1)

    def _written_classes(self, i: int, layer: BuiltLayer) -> Set[int]:
        """The classes whose diffs layer ``i``'s Backward writes: it runs once on the fresh diffs, and
        every change its undo log holds is of a blob's diff or of the cell a blob's diff is in."""
        store = self._store
        _backward_layer(self.net, i, layer, store, self._param_cells)
        roots = self._roots
        written = {roots[blob_id] for _, blob_id, _ in store.log}
        store.undo()
        return written

    def sweep(self, start: int) -> List[Tuple[int, List[Tri], bool]]:
        """(layer, watched values, aborted) of the call from ``start`` down to each relevant layer at or
        below it whose entry differs from the one above (``before`` above the first), highest first, down
        to the first that aborts or may abort: a call to ``end`` has the entry of the lowest listed layer
        at or above ``end`` (below them all: the last one's), or ``before``, not aborting, when none is
        listed at or above ``end``."""
        return self._sweep(start, keep_values=True)

    def sweep_passes(self, start: int) -> List[Tuple[int, bool, bool]]:
        """``sweep(start)`` with, for each listed layer, whether every watched value is True instead of
        the values: the same layers, without a copy of every watched value at each (many reads, each
        changed by its own layer, would make that quadratic)."""
        return self._sweep(start, keep_values=False)

    def _sweep(self, start: int, keep_values: bool) -> List[Tuple[int, Any, bool]]:
        self._walk_to(start)
        net, store, param_cells, watched = self.net, self._store, self._param_cells, self.watched
        for i, cells in self._fresh_cells.items():
            param_cells[i] = list(cells)
        # other parameter diffs are written, never read: every sweep shares the same cells
        settled = bool(self._settled)
        relevant, layers, roots = self.relevant, net.layers, self._roots
        watched_in = self._watched_in_class()
        entries: List[Tuple[int, Any, bool]] = []
        above = self.before  # the values of the entry above (none aborted above the first abort)
        current = list(above)
        not_true = sum(value is not True for value in current)  # how many watched values are not True
        for rank in range(self._rank[start], -1, -1):
            i = relevant[rank]
            layer = layers[i]
            aborted = _backward_layer(net, i, layer, store, param_cells) is not False
            if settled:
                current = self._values()
                changed = current != above
                not_true = sum(value is not True for value in current)
            else:
                # a layer changes only the diffs of its bottoms' classes: only those watched are read again
                changed = False
                for root in {roots[blob_id] for blob_id in layer.bottom_ids}:
                    for k in watched_in.get(root, ()):
                        value = store.get(watched[k])
                        if value is not current[k]:
                            not_true += (value is not True) - (current[k] is not True)
                            current[k] = value
                            changed = True
            if changed or aborted:
                if settled:
                    above = current
                entries.append((i, list(current) if keep_values else not_true == 0, aborted))
                if aborted:
                    break
        store.undo()
        return entries

    def _watched_in_class(self) -> Dict[int, List[int]]:
        """Per class, the positions in ``watched`` of the blobs in it."""
        if self._watched_by_class is None:
            self._watched_by_class = {}
            for k, blob_id in enumerate(self.watched):
                self._watched_by_class.setdefault(self._roots[blob_id], []).append(k)
        return self._watched_by_class

    def _values(self) -> List[Tri]:
        """The watched diffs if the call ended here."""
        store = self._store
        if not self._settled:
            return [store.get(b) for b in self.watched]
        mark = len(store.log)
        cells = {i: list(self._param_cells[i]) for i in self._fresh_cells}
        _settle_param_diffs(store, cells, self._settled, self._groups)
        values = [store.get(b) for b in self.watched]
        store.undo(mark)
        return values


class _JoiningDiffStore(_DiffStore):
    """A ``_DiffStore`` with one cell per ``_DiffClasses`` class that keeps the greatest value ever
    written to it, in the order False < None (unknown) < True: ``diff_bounds`` runs Backward on it.
    ``reset`` puts back the values it started with (an undo log of the changes)."""

    def __init__(self, fresh: _DiffStore, roots: List[int]) -> None:
        self.cell_of = roots
        self.value = [False] * len(roots)
        self.log: List[Tuple[int, Tri]] = []  # (cell, old value) of every change
        for blob_id in range(len(roots)):
            self.set(blob_id, fresh.get(blob_id))
        self.log.clear()

    def set(self, blob_id: int, value: Tri) -> None:
        cell = self.cell_of[blob_id]
        old = self.value[cell]
        if old is not value and (value is True or old is False):
            self.log.append((cell, old))
            self.value[cell] = value

    def share(self, blob_id: int, with_blob: int) -> None:
        """Nothing to do: ShareDiff makes a blob's diff that of a blob of its class, which is one cell here."""

    def reset(self) -> None:
        for cell, old in reversed(self.log):
            self.value[cell] = old
        self.log.clear()


def diff_bounds(
    net: BuiltNet, seeds: Sequence[int], watched: Sequence[int]
) -> Tuple[List[Tuple[int, List[Tri]]], Set[int]]:
    """Bounds on the ``watched`` diffs after every ``BackwardFromTo(start, end)`` of ``net`` with these
    ``seeds`` that does not abort, in one pass: (per segment of the layers between two that abort or
    may abort, from the top, its lowest layer and the bounds of the calls that start in it; the
    classes of the Parameter tops, whose diffs are not bounded).

    A call that does not abort leaves, before the parameter diffs are settled, each diff at most its
    bound in the order False < None < True; so when, in every segment, some watched blob's bound is
    not True, no call makes every watched diff non-zero without aborting.

    The pass runs ``_backward_layer`` itself on a ``_JoiningDiffStore``, over every layer that runs
    backward from the last down to the first, from the class-wise greatest of ``_fresh_diffs``, and
    starts again from them below each layer that aborts or may abort (``_abort_verdict``, from its
    flags and its row alone): a call that runs such a layer aborts, so a call that does not lies
    within one segment.

    Why it bounds every call. Everything ``_backward_layer`` writes into a bottom's diff is a monotone
    function, in that order, of the diffs it reads (``get``), given the layer's flags and row (which
    no diff changes, and which decide which cells are read and written, in which order):

    * the signal, ``tri_or`` of the tops read, is their greatest value;
    * ``write(b, v)``, under ``runs`` None, gives ``v`` where the old value is ``v`` and None
      elsewhere: False only at (False, False), True only at (True, True), so monotone in both;
    * ``_or2``, ``_and2``: the greatest and the least value;
    * the constants: True where ``nonzero_anyway``, None for ``UNKNOWN`` and for an undeclared layer;
    * ``ZEROES``: False when asked, else ``None if old is not False else False`` (False, None, None
      for False, None, True), then ``write``.

    Let C be the cells of one call that starts in a segment and J the joining store in that segment.
    Invariant, before and after each layer of the segment: every cell of C is at most J's cell of its
    class. C's cell of a blob is always that of a blob of its class (``_DiffClasses``), so a ``share``
    keeps it; a ``get`` in J returns at least C's; a ``set`` in J keeps the greatest, so it holds at
    least the value C writes (computed monotonically from smaller reads) and at least what the cell
    held: the invariant holds whether the call runs the layer (it is in the call's range) or not
    (above ``start`` or below ``end``: C is unchanged, J only grows). At the top of the segment both
    are the fresh diffs, the seeds' included. The param cells are the pass's own (thrown away).

    After Backward, ``_settle_param_diffs`` writes a Parameter top's diff from the param diffs,
    which this pass does not bound (an undeclared layer's ``[None] * k`` replaces its cells): no
    other cell changes, so every blob outside the classes returned is bounded.
    """
    fresh, param_cells, param_alias = _fresh_diffs(net, seeds)
    roots = _DiffClasses(net).roots(len(net.blob_names))
    store = _JoiningDiffStore(fresh, roots)
    segments: List[Tuple[int, List[Tri]]] = []
    layers = net.layers
    for i in range(len(layers) - 1, -1, -1):
        layer = layers[i]
        if layer.need_backward is False:
            continue
        if _abort_verdict(layer) is not False:
            segments.append((i + 1, [store.get(b) for b in watched]))
            store.reset()
        else:
            _backward_layer(net, i, layer, store, param_cells)
    segments.append((0, [store.get(b) for b in watched]))
    return segments, {roots[top] for top in param_alias.values()}


def no_call_can_pass(net: BuiltNet, seeds: Sequence[int], reads: Sequence[int]) -> bool:
    """Whether, by ``diff_bounds``, no ``BackwardFromTo(start, end)`` makes every read non-zero
    without aborting. False (it may) when a read's diff may be a Parameter top's, which the bounds
    leave out."""
    segments, parameter_classes = diff_bounds(net, seeds, reads)
    if parameter_classes:
        classes = _DiffClasses(net)
        if any(classes.root(blob_id) in parameter_classes for blob_id in reads):
            return False
    return not any(all(value is True for value in values) for _, values in segments)


def _forward_scratch_bottoms(info: LayerInfo, layer: BuiltLayer) -> List[int]:
    """Bottoms whose diff Forward writes (HingeLoss's scratch, RBMInnerProduct's update pass)."""
    return [j for j in sorted(info.forward_writes_diff(layer.definition.param)) if j < len(layer.bottom_ids)]


def _backward_layer(net: BuiltNet, i: int, layer: BuiltLayer, store: _DiffStore, param_cells: Dict[int, List[Tri]]) -> Tri:
    """Apply one layer's Backward to the diff store; returns whether it aborts."""
    info = layer.info
    runs = layer.need_backward  # True or None
    read_tops = layer.top_ids
    if info is not None and info.backward_reads_tops is not None:
        wanted = info.backward_reads_tops(len(layer.top_ids))
        read_tops = [blob_id for j, blob_id in enumerate(layer.top_ids) if j in wanted]
    top_signal = tri_or(store.get(b) for b in read_tops)
    signal = top_signal
    if info is None:
        for j, blob_id in enumerate(layer.bottom_ids):
            if layer.bottom_need_backward[j] is not False:
                store.set(blob_id, None)
        if i in param_cells:
            param_cells[i] = [None] * len(param_cells[i])
        return None
    n_bottoms = len(layer.bottom_ids)
    param = layer.definition.param
    aborts: Tri = False

    def write(blob_id: int, value: Tri) -> None:
        if runs is None and store.get(blob_id) != value:
            value = None
        store.set(blob_id, value)

    # what most rows do not do (they keep the table's default) is not asked, layer by layer
    if info.aliases_diff is not _ROW_NEVER_ALIASES and info.aliases_diff(param, n_bottoms, len(layer.top_ids)) \
            and info.alias_needs_backward:
        store.share(layer.bottom_ids[0], layer.top_ids[0])
    if info.scratch is not _ROW_NO_SCRATCH:
        context = ScratchContext(
            n_bottoms=n_bottoms,
            propagate_down=[flag is not False for flag in layer.bottom_need_backward],
            param_propagate_down=[flag is not False for flag in layer.param_propagate_down or []],
            in_place=_in_place(layer, 0),
        )
        for j in range(n_bottoms):
            if info.scratch(j, context):
                write(layer.bottom_ids[j], signal)
    # the bottom diffs it writes are non-zero even from a zero top diff
    garbled = info.in_place_backward_garbles is not _ROW_NEVER_GARBLES \
        and any(_in_place(layer, j) for j in range(n_bottoms)) and info.in_place_backward_garbles(param)
    nonzero_anyway = garbled or (info.backward_adds_learned_term is not _ROW_NO_LEARNED_TERM
                                 and info.backward_adds_learned_term(param))
    together: Sequence[int] = ()
    together_asked: Tri = False
    if info.written_together:
        together = [j for j in sorted(info.written_together) if j < n_bottoms]
        together_asked = tri_or(layer.bottom_need_backward[j] for j in together)
    for j, blob_id in enumerate(layer.bottom_ids):
        asked = together_asked if j in together else layer.bottom_need_backward[j]
        behaviour = info.backward(j, n_bottoms, param)
        if behaviour is Backward.ABORTS:
            aborts = _or2(aborts, runs)
        elif behaviour is Backward.ABORTS_IF_PD:
            aborts = _or2(aborts, _and2(runs, asked))
        elif behaviour is Backward.IGNORES_PD:
            write(blob_id, signal)
        elif behaviour is Backward.RESPECTS_PD and asked is not False:
            value = True if nonzero_anyway else signal
            write(blob_id, value if asked else _or2(store.get(blob_id), None))
        elif behaviour is Backward.UNKNOWN and asked is not False:
            store.set(blob_id, None)
        elif behaviour is Backward.ZEROES and asked is not False:
            write(blob_id, False if asked else (None if store.get(blob_id) is not False else False))
    if n_bottoms == 0:
        whole = info.backward(0, 0, param)
        if whole is Backward.ABORTS:
            aborts = _or2(aborts, runs)
    if i in param_cells and info.writes_param_diff and layer.param_propagate_down is not None:
        cells = param_cells[i]
        always = (info.param_diff_ignores_propagate_down(param)
                  if info.param_diff_ignores_propagate_down is not _ROW_NO_FORCED_PARAM_DIFF else ())
        for p, flag in enumerate(layer.param_propagate_down):
            cells[p] = _or2(cells[p], _and2(True if p in always else flag, signal))
    return aborts


def aborting_layers(net: BuiltNet) -> List[str]:
    """The layers whose Backward aborts in a whole ``Backward()`` of ``net``: the names
    ``run_backward`` reports as aborting, without propagating a single diff.

    Whether a layer aborts depends on its need-backward flags and its row only
    (the abort verdict of ``_backward_layer``), never on the diffs, so the
    ``force_backward`` re-run that checks a fix needs ``init_net`` and this.
    """
    # in the order Backward() reaches them, as run_backward; an unknown layer's verdict is None, never True
    return [layer.definition.name for layer in reversed(net.layers) if _abort_verdict(layer) is True]


def _abort_verdict(layer: BuiltLayer) -> Tri:
    """``_backward_layer``'s abort verdict for ``layer`` (False when it does not run), from its
    need-backward flags and its row alone: True (aborts), None (may abort) or False."""
    runs = layer.need_backward
    info = layer.info
    if runs is False:
        return False
    if info is None:
        return None
    n_bottoms = len(layer.bottom_ids)
    param = layer.definition.param
    aborts: Tri = False
    together: Sequence[int] = ()
    together_asked: Tri = False
    if info.written_together:  # as _backward_layer reads them
        together = [j for j in sorted(info.written_together) if j < n_bottoms]
        together_asked = tri_or(layer.bottom_need_backward[j] for j in together)
    for j in range(n_bottoms):
        behaviour = info.backward(j, n_bottoms, param)
        if behaviour is Backward.ABORTS:
            aborts = _or2(aborts, runs)
        elif behaviour is Backward.ABORTS_IF_PD:
            asked = together_asked if j in together else layer.bottom_need_backward[j]
            aborts = _or2(aborts, _and2(runs, asked))
    if n_bottoms == 0 and info.backward(0, 0, param) is Backward.ABORTS:
        aborts = _or2(aborts, runs)
    return aborts


def _reads_top_diffs(layer: BuiltLayer) -> bool:
    """Whether what ``_backward_layer`` writes for ``layer`` may depend on its tops' diffs, from its
    row alone. It reads them only as the signal of the bottoms it passes gradients to (``IGNORES_PD``,
    ``RESPECTS_PD``), of its scratch writes and of its param diffs, and when a bottom's diff becomes
    a top's (``aliases_diff``); an undeclared layer writes unknowns, and ``UNKNOWN``, ``ZEROES`` and
    the aborts do not read them."""
    info = layer.info
    if info is None:
        return False
    if info.scratch is not _ROW_NO_SCRATCH or info.aliases_diff is not _ROW_NEVER_ALIASES \
            or (info.writes_param_diff and layer.param_propagate_down):  # None or []: no param diff written
        return True
    n_bottoms, param = len(layer.bottom_ids), layer.definition.param
    return any(info.backward(j, n_bottoms, param) in (Backward.IGNORES_PD, Backward.RESPECTS_PD)
               for j in range(n_bottoms))


def _in_place(layer: BuiltLayer, j: int) -> bool:
    return j < len(layer.top_ids) and j < len(layer.bottom_ids) and layer.top_ids[j] == layer.bottom_ids[j]


# ---------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------


def copy_built(built: BuiltNet) -> BuiltNet:
    """A fresh copy of ``build_layers``' result, to run the later stages on: they
    (and ``_to_simulated``, which hands lists over) change only the copied parts;
    the ids, names and the definitions are shared."""
    net = BuiltNet()
    net.blob_names = built.blob_names
    net.blob_need_backward = list(built.blob_need_backward)
    net.blob_loss_weights = built.blob_loss_weights
    net.name_to_id = built.name_to_id
    net.available = built.available
    net.inputs = built.inputs
    net.unknown_layers = built.unknown_layers
    layers = net.layers
    for original in built.layers:
        layer = BuiltLayer.__new__(BuiltLayer)
        layer.definition = original.definition
        layer.info = original.info
        layer.bottom_ids = original.bottom_ids
        layer.top_ids = original.top_ids
        layer.tops = list(original.tops)
        layer.loss = list(original.loss)
        layer.need_backward = original.need_backward
        layer.bottom_need_backward = list(original.bottom_need_backward)
        ppd = original.param_propagate_down
        layer.param_propagate_down = None if ppd is None else list(ppd)
        layer.need_backward_before_pruning = original.need_backward_before_pruning
        layer.contributes_to_loss = original.contributes_to_loss
        layer.skip_pruned = original.skip_pruned
        layer.forced = original.forced
        layers.append(layer)
    return net


def init_net(
    prepared: PreparedNet, declared: Optional[Dict[str, LayerInfo]] = None, built: Optional[BuiltNet] = None
) -> BuiltNet:
    """Net::Init's need-backward decisions for ``prepared``.

    ``built``: ``build_layers`` of the same layers, flavour and build, left
    unchanged (the forward pass does not depend on ``force_backward``).
    """
    net = build_layers(prepared, declared or {}) if built is None else copy_built(built)
    prune_backward(net)
    if prepared.force_backward:
        apply_force_backward(net)
    return net


def outputs_of(net: BuiltNet) -> List[str]:
    """Net outputs: names never consumed, in std::set (byte-wise) order."""
    return sorted(net.available, key=lambda name: name.encode("utf-8", "surrogateescape"))


def simulate(
    prepared: PreparedNet,
    seeds: Optional[Sequence[str]] = None,
    declared: Optional[Dict[str, LayerInfo]] = None,
    built: Optional[BuiltNet] = None,
) -> SimulatedNet:
    """The simulated net: Caffe's flags, and the diffs one Backward() leaves non-zero.

    ``seeds`` are the blobs whose diff the caller writes before backward; they
    count only for a net with no loss (as when the oracle or a user seeds a
    deploy net). By default every output is seeded. ``built``: as in ``init_net``.
    """
    return _to_simulated(prepared, run_simulation(prepared, seeds, declared, built))


class Simulation:
    """``simulate``'s findings before they become a ``SimulatedNet``: the built net after
    Net::Init, its outputs, what one Backward() left, and the seeds (internal, a plain
    class like BuiltNet; the ``simulate`` command's JSON is written straight from it)."""

    __slots__ = ("net", "outputs", "backward", "seeds")

    def __init__(self, net: BuiltNet, outputs: List[str], backward: BackwardResult, seeds: List[str]) -> None:
        self.net = net
        self.outputs = outputs
        self.backward = backward
        self.seeds = seeds

    def reported_type(self, layer: BuiltLayer) -> str:
        """What Layer::type() returns for ``layer``."""
        return (layer.info.reported_type if layer.info else None) or layer.definition.type

    def blob_diff_nonzero(self) -> Dict[str, Tri]:
        return dict(zip(self.net.blob_names, self.backward.blob_diff_nonzero))

    def param_diff_nonzero(self) -> Dict[str, List[Tri]]:
        layers = self.net.layers
        diffs = self.backward.param_diff_nonzero
        return {layers[i].definition.name: list(cells) for i, cells in diffs.items() if cells}

    def backward_aborts(self) -> List[str]:
        layers = self.net.layers
        return [layers[i].definition.name for i, verdict in self.backward.aborts.items() if verdict]

    def inputs(self) -> List[str]:
        return [self.net.blob_names[b] for b in self.net.inputs]


def run_simulation(
    prepared: PreparedNet,
    seeds: Optional[Sequence[str]] = None,
    declared: Optional[Dict[str, LayerInfo]] = None,
    built: Optional[BuiltNet] = None,
) -> Simulation:
    """What ``simulate`` finds (arguments as there), before it is copied into a ``SimulatedNet``."""
    net = init_net(prepared, declared, built)
    outputs = outputs_of(net)
    has_loss = any(w != 0 for w in net.blob_loss_weights)
    seed_names: List[str] = [] if has_loss else list(outputs if seeds is None else seeds)
    seed_ids = [net.name_to_id[name] for name in seed_names if name in net.name_to_id]
    return Simulation(net, outputs, run_backward(net, seed_ids), seed_names)


#: Caffe's ParamSpec for a parameter blob with no ``param {}``: one instance shared by every such
#: blob of every simulation (nothing changes a ParamSpec once made), instead of one per blob
DEFAULT_PARAM_SPEC = ParamSpec()


def _param_specs(layer: BuiltLayer) -> List[ParamSpec]:
    explicit = layer.definition.params
    count = len(layer.param_propagate_down) if layer.param_propagate_down is not None else len(explicit)
    if count <= len(explicit):
        return explicit[:count]
    return explicit + [DEFAULT_PARAM_SPEC] * (count - len(explicit))


def _to_simulated(prepared: PreparedNet, simulation: Simulation) -> SimulatedNet:
    net, result = simulation.net, simulation.backward
    layers: List[SimLayer] = []
    blob_names, aborts, param_diffs = net.blob_names, result.aborts, result.param_diff_nonzero
    for i, layer in enumerate(net.layers):
        definition = layer.definition
        # positional, in SimLayer's field order: it runs once per layer (see LayerDef)
        layers.append(SimLayer(
            definition.name,
            simulation.reported_type(layer),
            list(map(blob_names.__getitem__, layer.bottom_ids)),  # bottoms; no comprehension frame per layer
            # The built net is simulate()'s own and dropped after this: its per-layer
            # lists (each made for one layer) are handed over rather than copied.
            layer.tops,
            layer.need_backward,
            layer.bottom_need_backward,
            layer.param_propagate_down,
            layer.loss,
            definition._location,  # made when first read
            definition.split_of is not None,  # is_split
            aborts.get(i, False),  # backward_aborts
            layer.need_backward_before_pruning,
            layer.contributes_to_loss,
            layer.skip_pruned,
            layer.forced,
            _param_specs(layer),
            list(param_diffs[i]) if i in param_diffs else None,  # param_diff_nonzero
            definition,
            layer.info,  # row
        ))
    return SimulatedNet(
        prepared=prepared,
        layers=layers,
        blobs=list(net.blob_names),
        inputs=simulation.inputs(),
        outputs=simulation.outputs,
        blob_diff_nonzero=simulation.blob_diff_nonzero(),
        param_diff_nonzero=simulation.param_diff_nonzero(),
        backward_aborts=simulation.backward_aborts(),
        seeds=simulation.seeds,
        blob_loss_weights=list(net.blob_loss_weights),
        blob_need_backward=list(net.blob_need_backward),
        unknown_layers=list(net.unknown_layers),
    )
