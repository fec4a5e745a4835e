"""A simulated net as nodes and edges, each with its backward state and chain of reasons.

Everything here reads what the simulation already decided (``SimLayer``
flags, ``blob_diff_nonzero``), what the linter found, and what the backward
planner predicted for a ``net.backward(start=, end=)`` call; the sentences
come from the linter's explanations (``linting.rules.explain``). Nothing here
re-derives Caffe's logic.

Blobs are drawn once per write: an in-place layer (``relu2`` reading and
writing ``conv2``) gives ``conv2`` a second node, so the picture has no
cycles. Caffe keeps one diff per blob name, so every node of a name shows
the same diff.
"""
from __future__ import annotations

from backprop_lint.backward.plan import BackwardPlan
from backprop_lint.caffe.model import SimLayer, SimulatedNet
from backprop_lint.caffe.records import FrozenRecord, Record
from backprop_lint.linting.findings import Finding
from backprop_lint.linting.rules.explain import describe, why_no_backward, why_no_gradient_reaches
from backprop_lint.linting.rules.graph import (
    explicit_propagate_down,
    params_written_by_forward,
    quote,
    user_blob_name,
    user_readers,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, List, Optional, Sequence, Tuple

    from backprop_lint.caffe.model import Tri


class LayerState(FrozenRecord):
    """A backward state of a layer: its key, legend and colours."""

    __slots__ = ("key", "legend", "fill", "border")
    key: str
    legend: str  # what the colour means, in the legend
    fill: str
    border: str

    def __init__(self, key: str, legend: str, fill: str, border: str) -> None:
        self._set(key, legend, fill, border)


#: the backward states of a layer, in legend order
LAYER_STATES: Tuple[LayerState, ...] = (
    LayerState("learns", "computes gradients, updates its parameters", "#a5d6a7", "#1b5e20"),
    LayerState("passes", "computes gradients (no parameters)", "#dcedc8", "#558b2f"),
    LayerState("frozen", "passes gradients, parameters frozen (lr_mult: 0)", "#90caf9", "#0d47a1"),
    LayerState("pruned", "pruned: no loss below it", "#e0e0e0", "#616161"),
    LayerState("cut", "cut: readers set propagate_down: false", "#ffcc80", "#e65100"),
    LayerState("idle", "no gradient needed: nothing above it learns", "#fafafa", "#9e9e9e"),
    LayerState("aborts", "Backward aborts in this layer", "#ef9a9a", "#b71c1c"),
    LayerState("unknown", "unknown: undeclared custom layer", "#fff59d", "#f57f17"),
)
STATE_BY_KEY: Dict[str, LayerState] = {state.key: state for state in LAYER_STATES}

#: how a blob's diff ends up after one Backward()
DIFF_NONZERO, DIFF_ZERO, DIFF_UNKNOWN = "nonzero", "zero", "unknown"


class FindingNote(FrozenRecord):
    """A finding as the picture shows it, on its layer or blob."""

    __slots__ = ("code", "name", "severity", "location", "message", "reasons", "fix", "fix_text", "fix_safe")
    code: str
    name: str
    severity: str
    location: str
    message: str
    reasons: Tuple[str, ...]
    fix: Optional[str]  # the fix's description
    fix_text: Tuple[str, ...]  # the text each edit inserts, as `file:line:col: text`
    fix_safe: bool

    def __init__(self, code: str, name: str, severity: str, location: str, message: str, reasons: Tuple[str, ...],
                 fix: Optional[str], fix_text: Tuple[str, ...], fix_safe: bool) -> None:
        self._set(code, name, severity, location, message, reasons, fix, fix_text, fix_safe)


class LayerNode(Record):
    """A layer of the picture, with its backward state and reasons."""

    __slots__ = ("id", "index", "name", "type", "state", "reasons", "findings", "is_split", "location", "call")
    id: str
    index: int
    name: str
    type: str
    state: str  # a key of STATE_BY_KEY
    reasons: List[str]
    findings: List[FindingNote]
    is_split: bool
    location: str
    #: under --start/--end: "runs", "skipped", "outside" the range, or "" without a call
    call: str

    def __init__(self, id: str, index: int, name: str, type: str, state: str, reasons: List[str],
                 findings: Optional[List[FindingNote]] = None, is_split: bool = False, location: str = "",
                 call: str = "") -> None:
        self.id = id
        self.index = index
        self.name = name
        self.type = type
        self.state = state
        self.reasons = reasons
        self.findings = [] if findings is None else findings
        self.is_split = is_split
        self.location = location
        self.call = call


class BlobNode(Record):
    """A blob of the picture (one node per write), with its diff and reasons."""

    __slots__ = ("id", "name", "blob", "diff", "reasons", "findings", "loss_weight", "seeded", "read")
    id: str
    name: str  # as the user wrote it (a folded Split's copies show their source's name)
    blob: str  # Caffe's blob name (post-split)
    diff: str  # DIFF_NONZERO / DIFF_ZERO / DIFF_UNKNOWN
    reasons: List[str]
    findings: List[FindingNote]
    loss_weight: float
    seeded: bool
    #: under --read: the planner's verdict for this blob ("nonzero" / "zero" / "unknown"), else ""
    read: str

    def __init__(self, id: str, name: str, blob: str, diff: str, reasons: List[str],
                 findings: Optional[List[FindingNote]] = None, loss_weight: float = 0.0, seeded: bool = False,
                 read: str = "") -> None:
        self.id = id
        self.name = name
        self.blob = blob
        self.diff = diff
        self.reasons = reasons
        self.findings = [] if findings is None else findings
        self.loss_weight = loss_weight
        self.seeded = seeded
        self.read = read


class Edge(FrozenRecord):
    """A bottom or top edge of the picture."""

    __slots__ = ("tail", "head", "kind")
    tail: str
    head: str
    #: "gradient": a non-zero gradient crosses it in Backward; "cut": propagate_down: false; "none"
    kind: str

    def __init__(self, tail: str, head: str, kind: str) -> None:
        self._set(tail, head, kind)


class GraphView(Record):
    """What the picture shows: the net's layers, blobs and edges, and the call drawn."""

    __slots__ = ("title", "file", "state", "force_backward", "layers", "blobs", "edges", "net_findings",
                 "call_summary")
    title: str
    file: str
    state: str
    force_backward: bool
    layers: List[LayerNode]
    blobs: List[BlobNode]
    edges: List[Edge]
    net_findings: List[FindingNote]
    #: one line each: the net.backward call drawn, the verdicts, the fix
    call_summary: List[str]

    def __init__(self, title: str, file: str, state: str, force_backward: bool, layers: List[LayerNode],
                 blobs: List[BlobNode], edges: List[Edge], net_findings: List[FindingNote],
                 call_summary: Optional[List[str]] = None) -> None:
        self.title = title
        self.file = file
        self.state = state
        self.force_backward = force_backward
        self.layers = layers
        self.blobs = blobs
        self.edges = edges
        self.net_findings = net_findings
        self.call_summary = [] if call_summary is None else call_summary


def layer_state(net: SimulatedNet, layer: SimLayer) -> str:
    """The legend state of a layer, from the simulation's flags."""
    if layer.backward_aborts is True:
        return "aborts"
    if layer.backward_aborts is None or layer.need_backward is None or layer.name in net.unknown_layers:
        return "unknown"
    if layer.need_backward:
        flags = layer.param_propagate_down
        if flags is None or any(flag is None for flag in flags):
            return "unknown"
        if any(flags):
            return "learns"
        return "frozen" if flags else "passes"
    if layer.need_backward_before_pruning is False:
        return "idle"
    if layer.skip_pruned and layer.contributes_to_loss:
        return "cut"
    return "pruned"


def _diff(value: Tri) -> str:
    return {True: DIFF_NONZERO, False: DIFF_ZERO, None: DIFF_UNKNOWN}[value]


def note_of(finding: Finding) -> FindingNote:
    fix = finding.fix
    edits = tuple(
        f"{edit.file}:{edit.start_line}:{edit.start_col}: {edit.text.rstrip()}" for edit in (fix.edits if fix else ())
    )
    return FindingNote(
        code=finding.code,
        name=finding.name,
        severity=finding.severity,
        location=str(finding.location),
        message=finding.message,
        reasons=tuple(finding.reasons),
        fix=fix.description if fix else None,
        fix_text=edits,
        fix_safe=fix.safe if fix else True,
    )


# ---------------------------------------------------------------------------
# Reasons
# ---------------------------------------------------------------------------


def layer_reasons(net: SimulatedNet, index: int, state: str) -> List[str]:
    layer = net.layers[index]
    lines: List[str] = []
    if state == "learns":
        lines.append(f"{describe(layer)} runs Backward: it computes gradients, and its parameters with "
                     f"`lr_mult` > 0 get a gradient the solver applies")
    elif state == "passes":
        lines.append(f"{describe(layer)} runs Backward and passes gradients down; it has no parameters")
    elif state == "frozen":
        lines.append(f"{describe(layer)} runs Backward and passes gradients down, but every parameter has "
                     f"`lr_mult: 0`: its weights never change")
    elif state == "aborts":
        lines.append(f"{describe(layer)} aborts in Backward (a CHECK or LOG(FATAL) in its Backward_cpu)")
    elif state == "unknown":
        lines.append(f"{describe(layer)} is a custom or Python layer nobody declared: whether it runs Backward "
                     f"is unknown (declare it under [tool.backprop-lint.layers])")
    else:
        lines.append(f"{describe(layer)} does not run Backward")
        lines.extend(why_no_backward(net, index))
    if params_written_by_forward(net, layer):
        lines.append(f"{describe(layer)} writes its parameters' diffs in Forward (an update pass, such as "
                     f"RBMInnerProduct's `forward_is_update`), whatever `lr_mult` says and whether or not "
                     f"Backward runs; its Backward writes none")
    if layer.is_split and layer.bottoms:
        source = user_blob_name(net, layer.bottoms[0], index)
        lines.append(f"Caffe inserted this Split because several layers read {quote(source)}; "
                     f"in Backward it sums its tops' diffs into {quote(source)}")
    if layer.need_backward is True:
        for j, bottom in enumerate(layer.bottoms):
            if layer.bottom_need_backward[j] is False:
                blob = user_blob_name(net, bottom, index)
                if explicit_propagate_down(layer, j) is False:
                    lines.append(f"no gradient to {quote(blob)}: `propagate_down: false`")
                else:
                    lines.append(f"no gradient to {quote(blob)}: nothing upstream of it learns")
        if layer.tops and all(net.blob_diff_nonzero.get(top) is False for top in layer.tops):
            lines.extend(why_no_gradient_reaches(net, index))
    return lines


def blob_reasons(net: SimulatedNet, producer: Optional[int], blob: str) -> List[str]:
    """Why ``blob``'s diff is what it is after one Backward()."""
    name = user_blob_name(net, blob, None if producer is None else producer + 1)
    value = net.blob_diff_nonzero.get(blob)
    if value is True:
        return [f"the diff of {quote(name)} is non-zero after one Backward()"]
    if value is None:
        return [f"the diff of {quote(name)} depends on an undeclared custom layer"]
    lines = [f"the diff of {quote(name)} stays zero after Backward()"]
    if producer is None:
        return lines
    readers = user_readers(net, producer, blob)
    if not readers:
        lines.append(f"no layer reads {quote(name)}, and it has no loss weight or seed")
    for reader in readers:
        layer = net.layers[reader.index]
        if layer.need_backward is False:
            lines.append(f"{quote(layer.name)} reads {quote(name)} but does not run Backward")
            lines.extend(why_no_backward(net, reader.index))
        elif layer.bottom_need_backward[reader.bottom] is False:
            if explicit_propagate_down(layer, reader.bottom) is False:
                lines.append(f"{quote(layer.name)} sets `propagate_down: false` on {quote(name)}")
            else:
                lines.append(f"Caffe does not ask {quote(layer.name)} for the gradient of {quote(name)}: "
                             f"nothing upstream of it learns")
        elif layer.need_backward is True:
            lines.extend(why_no_gradient_reaches(net, reader.index))
    unique: List[str] = []
    for line in lines:
        if line not in unique:
            unique.append(line)
    return unique


# ---------------------------------------------------------------------------
# Building the view
# ---------------------------------------------------------------------------


def build_view(
    net: SimulatedNet,
    findings: Sequence[Finding] = (),
    plan: Optional[BackwardPlan] = None,
    *,
    show_splits: bool = False,
    state_label: str = "",
) -> GraphView:
    """The picture's content: ``net`` as Caffe builds it; Split layers folded unless ``show_splits``."""
    prepared = net.prepared
    layers: List[LayerNode] = []
    blobs: List[BlobNode] = []
    edges: List[Edge] = []
    latest: Dict[str, str] = {}  # Caffe blob name -> id of the node that holds its latest value
    blob_by_id: Dict[str, BlobNode] = {}
    loss_weights = _loss_weights(net)

    def new_blob(blob: str, producer: Optional[int]) -> str:
        node_id = f"B{len(blobs)}"
        name = blob if show_splits else user_blob_name(net, blob, None if producer is None else producer + 1)
        node = BlobNode(
            id=node_id,
            name=name,
            blob=blob,
            diff=_diff(net.blob_diff_nonzero.get(blob)),
            reasons=blob_reasons(net, producer, blob),
            loss_weight=loss_weights.get(blob, 0.0),
            seeded=blob in net.seeds,
        )
        blobs.append(node)
        blob_by_id[node_id] = node
        latest[blob] = node_id
        return node_id

    for index, layer in enumerate(net.layers):
        if layer.is_split and not show_splits and layer.bottoms:
            source = latest.get(layer.bottoms[0]) or new_blob(layer.bottoms[0], None)
            for top in layer.tops:
                latest[top] = source
            continue
        state = layer_state(net, layer)
        node = LayerNode(
            id=f"L{index}",
            index=index,
            name=layer.name,
            type=layer.type,
            state=state,
            reasons=layer_reasons(net, index, state),
            is_split=layer.is_split,
            location=str(layer.location) if layer.location else "",
        )
        layers.append(node)
        for j, bottom in enumerate(layer.bottoms):
            tail = latest.get(bottom) or new_blob(bottom, None)
            edges.append(Edge(tail, node.id, _bottom_edge(net, layer, j)))
        for top in layer.tops:
            head = new_blob(top, index)
            gradient = layer.need_backward is True and net.blob_diff_nonzero.get(top) is True
            edges.append(Edge(node.id, head, "gradient" if gradient else "none"))

    net_findings = _attach_findings(findings, layers, blobs)
    view = GraphView(
        title=prepared.name or "unnamed net",
        file=prepared.file,
        state=state_label or prepared.state.phase,
        force_backward=prepared.force_backward,
        layers=layers,
        blobs=blobs,
        edges=edges,
        net_findings=net_findings,
    )
    if plan is not None:
        _apply_plan(view, plan, latest, blob_by_id)
    return view


def _loss_weights(net: SimulatedNet) -> Dict[str, float]:
    weights: Dict[str, float] = {}
    for layer in net.layers:
        for top, weight in zip(layer.tops, layer.loss):
            if weight:
                weights[top] = weight
    return weights


def _bottom_edge(net: SimulatedNet, layer: SimLayer, j: int) -> str:
    if explicit_propagate_down(layer, j) is False:
        return "cut"
    if layer.need_backward is True and layer.bottom_need_backward[j] is True and net.blob_diff_nonzero.get(
        layer.bottoms[j]
    ):
        return "gradient"
    return "none"


def _attach_findings(findings: Sequence[Finding], layers: List[LayerNode], blobs: List[BlobNode]) -> List[FindingNote]:
    """Each finding on its layer (or blob of that name); the rest belong to the whole net."""
    by_layer = {node.name: node for node in reversed(layers)}  # the first layer of a name wins
    by_blob = {node.name: node for node in reversed(blobs)}
    net_level: List[FindingNote] = []
    for finding in findings:
        note = note_of(finding)
        if finding.layer is not None and finding.layer in by_layer:
            by_layer[finding.layer].findings.append(note)
        elif finding.layer is not None and finding.layer in by_blob:
            by_blob[finding.layer].findings.append(note)
        else:
            net_level.append(note)
    return net_level


def _apply_plan(view: GraphView, plan: BackwardPlan, latest: Dict[str, str], blob_by_id: Dict[str, BlobNode]) -> None:
    steps = {step.index: step for step in plan.steps}
    call = plan.user_call()
    for node in view.layers:
        step = steps.get(node.index)
        if step is None:
            node.call = "outside"
            node.reasons.append(f"{call}: outside the range, so it does not run")
        else:
            node.call = "runs" if step.runs else "skipped"
            node.reasons.append(f"{call}: {step.why}")
    for seed in plan.seeds:
        if seed in latest:
            blob_by_id[latest[seed]].seeded = True
    for read in plan.reads:
        if read.blob not in latest:
            continue
        node = blob_by_id[latest[read.blob]]
        node.read = _diff(read.nonzero)
        verdict = {True: "non-zero", False: "ZERO", None: "unknown"}[read.nonzero]
        node.reasons.append(f"{call}: you read the diff of {quote(read.blob)}: {verdict}")
        node.reasons.extend(read.reasons)
    view.call_summary.append(call)
    for read in plan.reads:
        verdict = {True: "non-zero", False: "ZERO", None: "unknown"}[read.nonzero]
        view.call_summary.append(f"diff of {quote(read.blob)}: {verdict}")
    if plan.fix is not None:
        if plan.fix.possible:
            if plan.fix.add_force_backward:
                view.call_summary.append("fix: add `force_backward: true` at the top of the prototxt")
            view.call_summary.extend(f"fix: {line}" for line in plan.fix.call.splitlines())
        else:
            view.call_summary.extend(f"no call fixes it: {line}" for line in plan.fix.explanation)
