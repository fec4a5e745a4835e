"""What pycaffe's ``net.backward(start=..., end=...)`` will do, before you run it.

pycaffe's ``Net.backward`` (U:python/caffe/pycaffe.py:137-182) resolves
``start``/``end`` with ``list(net._layer_names).index(name)``: the **first**
layer of that name in the layer list *after* Caffe inserted its Split layers.
It then calls ``Net::BackwardFromTo(start, end)`` (U:src/caffe/net.cpp:568-585):
layers ``start`` down to ``end`` inclusive, each one only when Caffe enabled
its backward (``layer_need_backward``). Spec: caffe-backward-semantics.md §4.5
and §6.4.

``plan_backward`` answers, from the prototxt alone and with the same
simulation the rest of backprop-lint uses (``simulate.init_net`` and
``simulate.run_backward``):

* which layers of the range run backward, which are skipped and why;
* for every blob you will read, whether its diff ends up non-zero, and if not
  the chain of reasons (pruning, a Split outside the range, an overwritten seed);
* names given where pycaffe wants another kind of name (a blob for a layer...);
* the call (``start=``/``end=`` and ``force_backward: true`` if needed) that
  makes every requested diff non-zero, or why none can.

The default phase is **TEST**: pycaffe users load deploy nets as
``caffe.Net(prototxt, caffe.TEST)``.
"""
from __future__ import annotations

from bisect import bisect_right

from backprop_lint.caffe.layer_table import Backward
from backprop_lint.caffe.model import InputError, PreparedNet
from backprop_lint.caffe.pipeline import declared_layer_infos, gc_paused, prepare
from backprop_lint.caffe.records import Record
from backprop_lint.caffe.simulate import (
    AUTOMATIC_TOP,
    BackwardResult,
    BackwardSweeps,
    BuiltLayer,
    BuiltNet,
    build_layers,
    init_net,
    is_unknowable,
    no_call_can_pass,
    outputs_of,
    python_layer_key,
    run_backward,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

    from backprop_lint.caffe.build_options import BuildSetting
    from backprop_lint.caffe.model import Tri

DEFAULT_PHASE = "TEST"
_MAX_CHAIN_DEPTH = 12

# ---------------------------------------------------------------------------
# The plan, as plain data
# ---------------------------------------------------------------------------


class NameIssue(Record):
    """A name pycaffe would reject or misread, with the name to use instead."""

    __slots__ = ("option", "given", "problem", "suggestion", "fatal")
    option: str  # "start" | "end" | "seed" | "read"
    given: str
    problem: str
    suggestion: Optional[str]
    #: pycaffe raises (ValueError / KeyError) on this name
    fatal: bool

    def __init__(self, option: str, given: str, problem: str, suggestion: Optional[str] = None,
                 fatal: bool = True) -> None:
        self.option = option
        self.given = given
        self.problem = problem
        self.suggestion = suggestion
        self.fatal = fatal


class LayerStep(Record):
    """One layer of the call's range: whether its Backward runs, and why."""

    __slots__ = ("index", "name", "type", "runs", "why")
    index: int
    name: str
    type: str
    runs: Tri
    why: str

    def __init__(self, index: int, name: str, type: str, runs: Tri, why: str) -> None:
        self.index = index
        self.name = name
        self.type = type
        self.runs = runs
        self.why = why


class SeedNote(Record):
    """A seeded diff that a layer of the range overwrites."""

    __slots__ = ("blob", "message", "overwritten_by")
    blob: str
    message: str
    overwritten_by: Optional[str]

    def __init__(self, blob: str, message: str, overwritten_by: Optional[str] = None) -> None:
        self.blob = blob
        self.message = message
        self.overwritten_by = overwritten_by


class ReadVerdict(Record):
    """Whether a blob you read ends up with a non-zero diff, and why not."""

    __slots__ = ("blob", "nonzero", "reasons", "read_instead", "include_layer")
    blob: str  # as the user gave it
    nonzero: Tri
    reasons: List[str]
    #: a post-split blob that does hold the gradient (read this instead)
    read_instead: Optional[str]
    #: a layer to include in the range (lower --end to it) so that ``blob`` gets the gradient
    include_layer: Optional[str]

    def __init__(self, blob: str, nonzero: Tri, reasons: Optional[List[str]] = None,
                 read_instead: Optional[str] = None, include_layer: Optional[str] = None) -> None:
        self.blob = blob
        self.nonzero = nonzero
        self.reasons = [] if reasons is None else reasons
        self.read_instead = read_instead
        self.include_layer = include_layer


class CallFix(Record):
    """The corrected call, found by simulating candidate ranges (and force_backward)."""

    __slots__ = ("possible", "start", "end", "add_force_backward", "call", "explanation", "unknown")
    possible: bool
    #: the start=/end= arguments of the corrected call (None: leave the argument out)
    start: Optional[str]
    end: Optional[str]
    add_force_backward: bool  # True: add `force_backward: true` to the prototxt
    call: str
    explanation: List[str]
    #: not possible because an undeclared custom layer makes a requested diff unknown (declaring it may help)
    unknown: bool

    def __init__(self, possible: bool, start: Optional[str] = None, end: Optional[str] = None,
                 add_force_backward: bool = False, call: str = "", explanation: Optional[List[str]] = None,
                 unknown: bool = False) -> None:
        self.possible = possible
        self.start = start
        self.end = end
        self.add_force_backward = add_force_backward
        self.call = call
        self.explanation = [] if explanation is None else explanation
        self.unknown = unknown


class BackwardPlan(Record):
    """Everything ``backprop-lint backward`` reports about one pycaffe call."""

    __slots__ = ("net_name", "file", "phase", "force_backward", "layer_names", "start", "end", "start_index",
                 "end_index", "steps", "seeds", "seeds_assumed", "reads", "name_issues", "seed_notes", "outputs",
                 "inputs", "returned_keys", "notes", "fix", "loss_blobs", "reads_assumed")
    net_name: str
    file: str
    phase: str
    force_backward: bool
    layer_names: List[str]
    start: Optional[str]  # the layer names actually used (after suggestions were applied)
    end: Optional[str]
    start_index: int
    end_index: int
    steps: List[LayerStep]
    seeds: List[str]
    seeds_assumed: bool  # True: no --seed given, the net outputs were assumed seeded
    reads: List[ReadVerdict]
    name_issues: List[NameIssue]
    seed_notes: List[SeedNote]
    outputs: List[str]
    inputs: List[str]
    returned_keys: List[str]
    notes: List[str]
    fix: Optional[CallFix]
    loss_blobs: List[str]
    #: the blobs read were not asked for: net.backward returns nothing, so the end layer's tops were taken
    reads_assumed: bool

    def __init__(
        self,
        net_name: str,
        file: str,
        phase: str,
        force_backward: bool,
        layer_names: List[str],
        start: Optional[str],
        end: Optional[str],
        start_index: int,
        end_index: int,
        steps: List[LayerStep],
        seeds: List[str],
        seeds_assumed: bool,
        reads: List[ReadVerdict],
        name_issues: List[NameIssue],
        seed_notes: List[SeedNote],
        outputs: List[str],
        inputs: List[str],
        returned_keys: List[str],
        notes: List[str],
        fix: Optional[CallFix],
        loss_blobs: Optional[List[str]] = None,
        reads_assumed: bool = False,
    ) -> None:
        self.net_name = net_name
        self.file = file
        self.phase = phase
        self.force_backward = force_backward
        self.layer_names = layer_names
        self.start = start
        self.end = end
        self.start_index = start_index
        self.end_index = end_index
        self.steps = steps
        self.seeds = seeds
        self.seeds_assumed = seeds_assumed
        self.reads = reads
        self.name_issues = name_issues
        self.seed_notes = seed_notes
        self.outputs = outputs
        self.inputs = inputs
        self.returned_keys = returned_keys
        self.notes = notes
        self.fix = fix
        self.loss_blobs = [] if loss_blobs is None else loss_blobs
        self.reads_assumed = reads_assumed

    @property
    def runs_nothing(self) -> bool:
        """No layer of the range runs Backward (pruned, or start comes before end): the call changes no diff."""
        return all(step.runs is False for step in self.steps)

    @property
    def ok(self) -> bool:
        """Some layer runs, something is read, every requested diff is non-zero and every name is valid."""
        if self.runs_nothing or not self.reads or any(issue.fatal for issue in self.name_issues):
            return False
        return all(r.nonzero is True for r in self.reads)

    def user_call(self) -> str:
        """The call as the user asked for it, e.g. ``net.backward(start='conv1', end='data')``."""
        arguments = []
        if self.start is not None:
            arguments.append(f"start={self.start!r}")
        if self.end is not None:
            arguments.append(f"end={self.end!r}")
        return f"net.backward({', '.join(arguments)})"

    def to_json(self) -> Dict[str, Any]:
        return {
            "net": self.net_name,
            "file": self.file,
            "phase": self.phase,
            "force_backward": self.force_backward,
            "start": self.start,
            "end": self.end,
            "start_index": self.start_index,
            "end_index": self.end_index,
            "ok": self.ok,
            "steps": [step.as_dict() for step in self.steps],
            "seeds": self.seeds,
            "seeds_assumed": self.seeds_assumed,
            "loss_blobs": self.loss_blobs,
            "reads": [read.as_dict() for read in self.reads],
            "name_issues": [issue.as_dict() for issue in self.name_issues],
            "seed_notes": [note.as_dict() for note in self.seed_notes],
            "outputs": self.outputs,
            "inputs": self.inputs,
            "returned_keys": self.returned_keys,
            "notes": self.notes,
            "fix": self.fix.as_dict() if self.fix else None,
            "runs_nothing": self.runs_nothing,
            "reads_assumed": self.reads_assumed,
        }


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def prepare_source(
    source: Any,
    *,
    phase: str = DEFAULT_PHASE,
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    strict: bool = False,
    packs: Sequence[str] = (),
    build: BuildSetting = None,
) -> PreparedNet:
    """``pipeline.prepare``, passing an already prepared net through."""
    if isinstance(source, PreparedNet):
        return source
    return prepare(source, phase=phase, level=level, stages=stages, flavor=flavor, strict=strict, packs=packs, build=build)


# ---------------------------------------------------------------------------
# Name resolution, as pycaffe does it
# ---------------------------------------------------------------------------


def layer_names_of(net: BuiltNet) -> List[str]:
    return [layer.definition.name for layer in net.layers]


def first_layer_index(net: BuiltNet, name: str) -> Optional[int]:
    """pycaffe's ``list(net._layer_names).index(name)``: the first match."""
    for i, layer in enumerate(net.layers):
        if layer.definition.name == name:
            return i
    return None


def producer_index(net: BuiltNet, blob_id: int) -> Optional[int]:
    """The last layer that writes ``blob_id`` as a top (in-place chains: the last one)."""
    return producer_indexes(net).get(blob_id)


def producer_indexes(net: BuiltNet) -> Dict[int, int]:
    """``producer_index`` of every blob a layer writes, in one pass."""
    producers: Dict[int, int] = {}
    for i, layer in enumerate(net.layers):
        for top in layer.top_ids:
            producers[top] = i
    return producers


def consumer_indexes(net: BuiltNet, blob_id: int) -> List[int]:
    return [i for i, layer in enumerate(net.layers) if blob_id in layer.bottom_ids]


def consumers_by_blob(net: BuiltNet) -> Dict[int, List[int]]:
    """``consumer_indexes`` of every blob a layer reads, in one pass."""
    consumers: Dict[int, List[int]] = {}
    for i, layer in enumerate(net.layers):
        for blob_id in dict.fromkeys(layer.bottom_ids):
            consumers.setdefault(blob_id, []).append(i)
    return consumers


def _blob_id(net: BuiltNet, name: str) -> Optional[int]:
    return net.name_to_id.get(name)


def _renamed_from(net: BuiltNet, name: str) -> List[int]:
    """Layers whose bottom was written as ``name`` but renamed by InsertSplits."""
    found = []
    for i, layer in enumerate(net.layers):
        original = layer.definition.original_bottoms
        for j, written in enumerate(original):
            if written == name and j < len(layer.definition.bottoms) and layer.definition.bottoms[j] != name:
                found.append(i)
    return found


def _close(name: str, candidates: Sequence[str]) -> Optional[str]:
    import difflib  # only for a wrong name

    matches = difflib.get_close_matches(name, list(dict.fromkeys(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def resolve_layer(net: BuiltNet, option: str, name: str) -> Tuple[Optional[int], Optional[NameIssue]]:
    """The index pycaffe uses for ``start=``/``end=``, or the issue (and the index we assume instead)."""
    index = first_layer_index(net, name)
    names = layer_names_of(net)
    if index is not None:
        issue = None
        if names.count(name) > 1:
            issue = NameIssue(
                option, name,
                f"{names.count(name)} layers are named '{name}'; pycaffe's list.index takes the first (#{index})",
                fatal=False,
            )
        return index, issue
    blob_id = _blob_id(net, name)
    if blob_id is not None:
        if option == "start":
            target = producer_index(net, blob_id)
            role = "the layer that produces it"
        else:
            consumers = consumer_indexes(net, blob_id)
            target = consumers[0] if consumers else producer_index(net, blob_id)
            role = "the first layer that reads it (its diff is written there)" if consumers else "its producer"
        suggestion = names[target] if target is not None else None
        problem = (
            f"'{name}' is a blob, not a layer: pycaffe's {option}= takes layer names and raises "
            f"ValueError('{name}' is not in list)"
        )
        if suggestion is not None:
            problem += f"; {role} is '{suggestion}'"
        return target, NameIssue(option, name, problem, suggestion)
    suggestion = _close(name, names)
    problem = f"no layer is named '{name}': pycaffe raises ValueError('{name}' is not in list)"
    return (first_layer_index(net, suggestion) if suggestion else None), NameIssue(option, name, problem, suggestion)


def resolve_blob(net: BuiltNet, option: str, name: str) -> Tuple[Optional[int], Optional[NameIssue]]:
    """The blob for ``--seed``/``--read`` (``net.blobs[name]``), or the issue."""
    blob_id = _blob_id(net, name)
    if blob_id is not None:
        return blob_id, None
    index = first_layer_index(net, name)
    if index is not None:
        layer = net.layers[index]
        tops = [net.blob_names[b] for b in layer.top_ids]
        bottoms = [net.blob_names[b] for b in layer.bottom_ids]
        if option == "seed":
            candidates = tops
            what = f"its top is {_names(tops)}" if tops else "it has no top"
        else:
            candidates = bottoms if bottoms else tops
            what = (f"its bottoms (post-split names) are {_names(bottoms)}" if bottoms
                    else f"its tops are {_names(tops)}")
        suggestion = candidates[0] if candidates else None
        problem = f"'{name}' is a layer, not a blob: net.blobs['{name}'] raises KeyError; {what}"
        return (_blob_id(net, suggestion) if suggestion else None), NameIssue(option, name, problem, suggestion)
    suggestion = _close(name, net.blob_names)
    problem = f"no blob is named '{name}': net.blobs['{name}'] raises KeyError"
    return (_blob_id(net, suggestion) if suggestion else None), NameIssue(option, name, problem, suggestion)


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


# ---------------------------------------------------------------------------
# Why a layer is skipped
# ---------------------------------------------------------------------------


def skip_reasons(net: BuiltNet, layer: BuiltLayer) -> List[str]:
    """Why Caffe set ``layer_need_backward`` false for ``layer``, in words."""
    if layer.need_backward is not False:
        return []
    reasons: List[str] = []
    if layer.need_backward_before_pruning is False:
        reasons.append(
            "none of its bottoms needs a gradient and it has no parameter with lr_mult > 0 "
            "(e.g. it only reads Input blobs)"
        )
    if not layer.contributes_to_loss:
        reasons.append(
            "no loss is below it: none of its tops has a loss weight or feeds a layer that leads to one, "
            "so Caffe prunes its backward (no loss and no `force_backward: true`)"
        )
    if layer.skip_pruned is True and layer.contributes_to_loss:
        reasons.append("every top it produces is one whose readers need no gradient from it (skip-pruned)")
    return reasons or ["Caffe disabled its backward"]


def _step(net: BuiltNet, index: int) -> LayerStep:
    layer = net.layers[index]
    definition = layer.definition
    if layer.need_backward is True:
        why = "runs backward" + (" (force_backward: true)" if layer.forced else "")
    elif layer.need_backward is None:
        why = "may or may not run: it depends on an undeclared custom layer"
    else:
        why = "skipped: " + "; ".join(skip_reasons(net, layer))
    return LayerStep(index, definition.name, definition.type, layer.need_backward, why)


# ---------------------------------------------------------------------------
# Reason chains for a zero diff
# ---------------------------------------------------------------------------


class SimulatedCall(Record):
    """One simulated call: the net, the range, the seeds and what Backward left."""

    __slots__ = ("net", "start", "end", "seed_ids", "result", "_consumers")
    net: BuiltNet
    start: int
    end: int
    seed_ids: List[int]
    result: BackwardResult
    _consumers: Optional[Dict[int, List[int]]]  # consumers_by_blob(net), made on first use

    def __init__(self, net: BuiltNet, start: int, end: int, seed_ids: List[int], result: BackwardResult) -> None:
        self.net = net
        self.start = start
        self.end = end
        self.seed_ids = seed_ids
        self.result = result
        self._consumers = None

    def consumers(self, blob_id: int) -> List[int]:
        """``consumer_indexes(self.net, blob_id)``, from one map of the net: a plan explains every read,
        and a scan of the layers per read would make a call that reads every blob quadratic."""
        if self._consumers is None:
            self._consumers = consumers_by_blob(self.net)
        return self._consumers.get(blob_id, [])

    def value(self, blob_id: int) -> Tri:
        return self.result.blob_diff_nonzero[blob_id]

    def in_range(self, index: int) -> bool:
        return self.end <= index <= self.start


def simulate_call(net: BuiltNet, seed_ids: Sequence[int], start: int, end: int) -> SimulatedCall:
    return SimulatedCall(net, start, end, list(seed_ids), run_backward(net, seed_ids, start=start, end=end))


def explain_zero(run: SimulatedCall, blob_id: int, depth: int = 0, seen: Optional[Set[int]] = None) -> List[str]:
    """Why ``blob_id``'s diff stays zero after ``run``, one line per link, in the user's names."""
    seen = set() if seen is None else seen
    if blob_id in seen or depth > _MAX_CHAIN_DEPTH:
        return []
    seen.add(blob_id)
    net = run.net
    name = net.blob_names[blob_id]
    indent = "  " * depth
    if blob_id in run.seed_ids:
        overwriter = next((net.layers[i].definition.name for i in run.result.ran
                           if blob_id in net.layers[i].bottom_ids and blob_id not in net.layers[i].top_ids), "a layer")
        return [indent + f"'{name}' was seeded, but '{overwriter}' ran inside the range and overwrote its diff"]
    readers = run.consumers(blob_id)
    in_place = [i for i in readers if blob_id in net.layers[i].top_ids]
    if not readers:
        if net.blob_loss_weights[blob_id] != 0:
            return [indent + f"'{name}' is a loss top; its diff holds the loss weight"]
        return [indent + f"no layer reads '{name}' and you did not seed it: nothing writes its diff"]
    lines: List[str] = []
    for i in readers:
        lines.extend(_explain_reader(run, blob_id, i, depth, seen, i in in_place))
    return lines


def _explain_reader(run: SimulatedCall, blob_id: int, i: int, depth: int, seen: Set[int], in_place: bool) -> List[str]:
    net = run.net
    layer = net.layers[i]
    name = net.blob_names[blob_id]
    who = f"'{layer.definition.name}' (#{i}, {layer.definition.type})"
    indent = "  " * depth
    j = layer.bottom_ids.index(blob_id)
    if not run.in_range(i):
        where = "after --start" if i > run.start else "before --end"
        line = indent + f"{who} reads '{name}' but is {where} ({_range_text(run)}), so it does not run"
        lines = [line]
        if layer.definition.type == "Split":
            split_tops = [net.blob_names[t] for t in layer.top_ids]
            lines.append(indent + f"  it is the Split that sums {_names(split_tops)} into '{name}'")
        zero_tops = [t for t in layer.top_ids if t != blob_id and run.value(t) is not True]
        if zero_tops and len(zero_tops) == len([t for t in layer.top_ids if t != blob_id]):
            lines.append(indent + "  and even inside the range it would pass on nothing: its tops' diffs are zero:")
            for top in zero_tops:
                lines.extend(explain_zero(run, top, depth + 2, seen))
        return lines
    if layer.need_backward is False:
        return [indent + f"{who} reads '{name}' but does not run backward: " + "; ".join(skip_reasons(net, layer))]
    if layer.bottom_need_backward[j] is False:
        return [indent + f"{who} runs but computes no gradient for '{name}': " + _no_bottom_gradient(net, layer, j)]
    info = layer.info
    if info is not None:
        behaviour = info.backward(j, len(layer.bottom_ids), layer.definition.param)
        if behaviour in (Backward.NEVER, Backward.ZEROES, Backward.ABORTS, Backward.ABORTS_IF_PD):
            return [indent + f"{who} {behaviour.value} ('{name}')"]
    tops = [t for t in layer.top_ids if t != blob_id or in_place]
    if in_place:
        return [indent + f"{who} works in place on '{name}' and its diff is zero when it runs"]
    if any(run.value(top) is None for top in tops):
        return [indent + f"{who} reads '{name}', and " + unknown_gradient_reason(net, blob_id)]
    lines = [indent + f"{who} runs, but the diffs of its tops {_names([net.blob_names[t] for t in tops])} are zero:"]
    for top in tops:
        if run.value(top) is not True:
            lines.extend(explain_zero(run, top, depth + 1, seen))
    return lines


#: layers (or tables) named in one reason at most, the rest counted, as in the rules' messages: a
#: generated net can put thousands of undeclared layers above one blob, and a reason is one line
MAX_NAMED = 20


def _named_at_most(items: Sequence[str], separator: str) -> str:
    shown = separator.join(items[:MAX_NAMED])
    return shown if len(items) <= MAX_NAMED else f"{shown}{separator}{len(items) - MAX_NAMED:,} more"


def unknown_gradient_reason(net: BuiltNet, blob_id: int) -> str:
    """Why the diff of ``blob_id`` is unknown: the undeclared custom layers it flows back through."""
    layers = _unknowable_layers_above(net, blob_id)
    keys = list(dict.fromkeys(_declaration_key(net.layers[i]) for i in layers))
    who = _named_at_most([f"'{net.layers[i].definition.name}' (#{i}, {_type_text(net.layers[i])})" for i in layers],
                         ", ")
    tables = _named_at_most([f'[tool.backprop-lint.layers."{key}"]' for key in keys], " and ")
    return (
        f"the gradient of '{net.blob_names[blob_id]}' is unknown: it flows back through {who or 'a custom layer'}, "
        "whose backward backprop-lint cannot know without running its code (it never imports your module); "
        f"declare it with `params` and `backward` under {tables or 'its [tool.backprop-lint.layers] table'} "
        "in pyproject.toml, and pass --config"
    )


def _unknowable_layers_above(net: BuiltNet, blob_id: int) -> List[int]:
    """Undeclared custom layers between ``blob_id`` and the gradient sources (layers that read it, transitively)."""
    found: Set[int] = set()
    seen: Set[int] = set()
    consumers = consumers_by_blob(net)
    stack = [blob_id]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for i in consumers.get(current, ()):
            layer = net.layers[i]
            if layer.info is None or is_unknowable(layer.info, layer.definition):
                found.add(i)
            stack.extend(top for top in layer.top_ids if top != current)
    return sorted(found)


def _declaration_key(layer: BuiltLayer) -> str:
    return python_layer_key(layer.definition) if layer.definition.type == "Python" else layer.definition.type


def _type_text(layer: BuiltLayer) -> str:
    if layer.definition.type == "Python":
        return f"Python layer {python_layer_key(layer.definition)}"
    return layer.definition.type


def _no_bottom_gradient(net: BuiltNet, layer: BuiltLayer, j: int) -> str:
    definition = layer.definition
    if definition.propagate_down and not definition.propagate_down[j]:
        return f"it sets propagate_down: false for bottom {j}"
    blob_id = layer.bottom_ids[j]
    name = net.blob_names[blob_id]
    n_bottoms = len(layer.bottom_ids)
    if layer.info is not None and layer.info.no_force_backward(j, n_bottoms):
        return (f"{definition.type} never asks for the gradient of its bottom {j} (AllowForceBackward is false: "
                f"a label-like input), not even with `force_backward: true`")
    if net.blob_need_backward[blob_id] is False:
        return (
            f"Caffe decided '{name}' needs no gradient: nothing that produces it needs one or has a "
            f"parameter with lr_mult > 0 (an Input blob never does); only `force_backward: true` changes this"
        )
    return "its bottom was pruned in Caffe's backward sweep (no loss uses this gradient)"


def _range_text(run: SimulatedCall) -> str:
    names = layer_names_of(run.net)
    return f"range #{run.start} '{names[run.start]}' down to #{run.end} '{names[run.end]}'"


# ---------------------------------------------------------------------------
# Split renames and overwritten seeds
# ---------------------------------------------------------------------------


def _split_rename(run: SimulatedCall, blob_id: int) -> Tuple[Optional[str], Optional[str]]:
    """(a post-split blob that does hold the gradient, the Split layer to include) for ``blob_id``."""
    net = run.net
    for i in run.consumers(blob_id):
        layer = net.layers[i]
        if layer.definition.type != "Split" or run.in_range(i):
            continue
        for top in layer.top_ids:
            if run.value(top) is True:
                return net.blob_names[top], layer.definition.name
        return None, layer.definition.name
    return None, None


def seed_overwrites(run: SimulatedCall) -> List[SeedNote]:
    """Seeds whose hand-written diff a layer of the range replaces by its own bottom gradient."""
    net = run.net
    overwriters = _first_overwriters(run)
    producers: Optional[Dict[int, int]] = None
    notes: List[SeedNote] = []
    for seed in run.seed_ids:
        i = overwriters.get(seed)
        if i is None:
            continue
        layer = net.layers[i]
        name = net.blob_names[seed]
        if producers is None:
            producers = producer_indexes(net)
        producer = producers.get(seed)
        start_hint = (f" Start at the layer that produces it: start='{net.layers[producer].definition.name}'."
                      if producer is not None else "")
        if layer.definition.type == "Split":
            tops = _names([net.blob_names[t] for t in layer.top_ids])
            message = (
                f"the Split '{layer.definition.name}' (#{i}) runs inside the range and overwrites the diff "
                f"you wrote into '{name}' with the sum of its tops' diffs ({tops})." + start_hint
            )
        else:
            message = (
                f"'{layer.definition.name}' (#{i}) reads '{name}' and runs inside the range: its backward "
                f"overwrites the diff you wrote with the gradient from its own tops." + start_hint
            )
        notes.append(SeedNote(name, message, layer.definition.name))
    return notes


def _first_overwriters(run: SimulatedCall) -> Dict[int, int]:
    """Per seed, the first layer that ran and was asked for the gradient of that seed as a bottom
    (not in place), in one pass over the layers that ran: a fan may seed every one of them."""
    net = run.net
    seeds = set(run.seed_ids)
    first: Dict[int, int] = {}
    for i in run.result.ran:
        layer = net.layers[i]
        for j, blob_id in enumerate(layer.bottom_ids):
            if blob_id in seeds and blob_id not in first and layer.bottom_ids.index(blob_id) == j \
                    and blob_id not in layer.top_ids and layer.bottom_need_backward[j] is not False:
                first[blob_id] = i
    return first


# ---------------------------------------------------------------------------
# The corrected call
# ---------------------------------------------------------------------------


class _Candidate(Record):
    """A call the fix search tried, and what it costs to switch to it."""

    __slots__ = ("start", "end", "forced", "cost")
    start: int
    end: int
    forced: bool
    cost: Tuple[int, int, int]

    def __init__(self, start: int, end: int, forced: bool, cost: Tuple[int, int, int]) -> None:
        self.start = start
        self.end = end
        self.forced = forced
        self.cost = cost


def search_fix(
    prepared: PreparedNet,
    net: BuiltNet,
    seed_ids: Sequence[int],
    read_ids: Sequence[int],
    user_start: Optional[int],
    user_end: Optional[int],
    declared: Optional[Dict[str, Any]] = None,
    built: Optional[BuiltNet] = None,
) -> Tuple[Optional[_Candidate], Optional[BuiltNet]]:
    """The cheapest (force_backward, start, end) whose simulation makes every read non-zero.

    Cost: first whether force_backward must be switched on, then how many of
    start/end change, then the width of the range (narrower is closer to what
    was asked). Configurations where Backward aborts are rejected. ``built``:
    as in ``plan_for_net``.
    """
    configurations: List[Tuple[bool, BuiltNet]] = [(prepared.force_backward, net)]
    if not prepared.force_backward:
        forced = prepared.replace(force_backward=True)
        configurations.append((True, init_net(forced, declared, built)))
    n = len(net.layers)
    default_start, default_end = n - 1, 0
    want_start = default_start if user_start is None else user_start
    want_end = default_end if user_end is None else user_end
    for forced_flag, candidate_net in configurations:
        found = _cheapest_range(candidate_net, seed_ids, read_ids, want_start, want_end)
        if found is not None:
            start, end = found
            changed = int(start != want_start) + int(end != want_end)
            cost = (int(forced_flag != prepared.force_backward), changed, start - end)
            return _Candidate(start, end, forced_flag, cost), candidate_net
    return None, None


def _cheapest_range(
    net: BuiltNet, seed_ids: Sequence[int], read_ids: Sequence[int], want_start: int, want_end: int
) -> Optional[Tuple[int, int]]:
    """The passing (start, end) of least cost: how many of start/end change, then the width.

    Among candidates of equal cost the smallest start wins (then the smallest
    end, which the width fixes). Candidates are tried cheapest first: the call
    asked for, then one argument changed, then both; a start is looked at only
    when its narrowest range could still beat the best found. With more than two starts,
    ``simulate.no_call_can_pass`` is asked first (one pass over the layers), so that a net where
    no call passes costs no sweep per start.
    """
    tests = _RangeTests(net, seed_ids, read_ids)
    starts = _candidate_starts(net, seed_ids, want_start, tests.start_ok)
    if want_start in starts and want_end <= want_start and tests.end_ok[want_end] \
            and tests.passes(want_start, want_end):
        return want_start, want_end
    # many starts may each sweep their own relevant layers: one pass first proves when none can pass
    if len(starts) > 2 and no_call_can_pass(net, seed_ids, read_ids):
        return None
    for both_changed in (False, True):
        best: Optional[Tuple[int, int]] = None
        bound = len(net.layers) + 1  # a later start must be strictly narrower than the best found
        for start in starts:
            if start == want_start:
                end = None if both_changed else tests.best_end(start, want_end, bound)
            elif both_changed:
                end = tests.best_end(start, want_end, bound)
            elif want_end <= start and start - want_end < bound and tests.end_ok[want_end] \
                    and tests.passes(start, want_end):
                end = want_end
            else:
                end = None
            if end is not None:
                best, bound = (start, end), start - end
        if best is not None:
            return best
    return None


def _candidate_starts(
    net: BuiltNet, seed_ids: Sequence[int], want_start: int, start_ok: List[bool]
) -> List[int]:
    """The starts worth trying, ascending: the one asked for, the default and every seed's producer."""
    producers = producer_indexes(net)
    starts = {want_start, len(net.layers) - 1}
    starts.update(producers[seed] for seed in seed_ids if seed in producers)
    return [start for start in sorted(starts) if start_ok[start]]


class _RangeTests:
    """Whether calls (start, end) on one net make every read non-zero without aborting.

    Only the relevant layers of ``BackwardSweeps`` (those that abort, or may
    write a diff a read depends on) change a call's entry, so every start down
    to the same relevant layer sweeps alike: one sweep per relevant layer
    serves them all, and lists only relevant layers. An end above that layer
    leaves the reads as they were before Backward, without an abort.
    """

    def __init__(self, net: BuiltNet, seed_ids: Sequence[int], read_ids: Sequence[int]) -> None:
        self.net = net
        self.seed_ids = list(seed_ids)
        self.read_ids = list(read_ids)
        first_index: Dict[str, int] = {}
        for i, layer in enumerate(net.layers):
            first_index.setdefault(layer.definition.name, i)
        # pycaffe can run from/to an index by default or by a name whose first match is it
        addressable = [first_index[layer.definition.name] == i for i, layer in enumerate(net.layers)]
        last = len(addressable) - 1
        self.start_ok = [ok or i == last for i, ok in enumerate(addressable)]
        self.end_ok = [ok or i == 0 for i, ok in enumerate(addressable)]
        self._lower_end: Optional[List[int]] = None
        self._before_passes: Optional[bool] = None
        self._sweeps: Optional[BackwardSweeps] = None
        self._passing: Dict[int, _PassingEnds] = {}  # relevant layer -> its passing ends
        #: the reads one by one when there are several, once a sweep of all of them together found no passing end
        self._each_read: Optional[_ReadsAlone] = None
        #: (read, relevant layer, ceiling) -> may pass
        self._read_answers: Dict[Tuple[int, int, int], bool] = {}

    def passes(self, start: int, end: int) -> bool:
        relevant = self._swept().relevant_at_or_below(start)
        if end > relevant:
            return self._passes_before()
        return self._passing_from(relevant).holds(end)

    def best_end(self, start: int, exclude: int, bound: int) -> Optional[int]:
        """The highest addressable end but ``exclude``, within ``start - end < bound``, whose call passes."""
        relevant = self._swept().relevant_at_or_below(start)
        if self._passes_before():
            end = self._end_at_most(start, exclude)
            if end > relevant:
                return end if start - end < bound else None
        if relevant < 0 or start - self._end_at_most(relevant, exclude) >= bound:
            return None
        end = self._passing_from(relevant).highest(exclude)
        return end if end >= 0 and start - end < bound else None

    def _passes_before(self) -> bool:
        """Whether a call that reaches no relevant layer passes (the diffs before Backward)."""
        if self._before_passes is None:
            self._before_passes = all(v is True for v in self._swept().before)
        return self._before_passes

    def _end_at_most(self, index: int, exclude: int = -1) -> int:
        """The highest addressable end at or below ``index`` but ``exclude`` (-1: none)."""
        if self._lower_end is None:  # the highest addressable end at or below i (-1: none)
            self._lower_end = []
            lower = -1
            for i, ok in enumerate(self.end_ok):
                if ok:
                    lower = i
                self._lower_end.append(lower)
        end = self._lower_end[index] if index >= 0 else -1
        if end == exclude and end >= 0:
            end = self._lower_end[end - 1] if end > 0 else -1
        return end

    def _swept(self) -> BackwardSweeps:
        if self._sweeps is None:
            self._sweeps = BackwardSweeps(self.net, self.seed_ids, self.read_ids)
        return self._sweeps

    def _passing_from(self, relevant: int) -> _PassingEnds:
        """The ends whose call from the relevant layer ``relevant`` passes, from one sweep."""
        passing = self._passing.get(relevant)
        if passing is None and self._each_read is not None and self._a_read_never_passes(relevant):
            passing = self._passing[relevant] = _PassingEnds([], [], self.end_ok, self._end_at_most)
        if passing is None:
            sweeps = self._swept()
            # the entries from the relevant layer down, each different from the one above: `before` down
            # to the first listed one; runs of passing ends that touch are joined
            entries = [(relevant, self._passes_before(), False), *sweeps.sweep_passes(relevant)]
            lows: List[int] = []  # the passing ends: runs from lows[k] up to highs[k], descending
            highs: List[int] = []
            for k, (layer, every_read_true, aborted) in enumerate(entries):
                low = entries[k + 1][0] + 1 if k + 1 < len(entries) else 0  # the entry holds down to there
                if low <= layer and not aborted and every_read_true:
                    if lows and lows[-1] == layer + 1:
                        lows[-1] = low
                    else:
                        highs.append(layer)
                        lows.append(low)
            passing = self._passing[relevant] = _PassingEnds(lows, highs, self.end_ok, self._end_at_most)
            reads = list(dict.fromkeys(self.read_ids))
            if not lows and self._each_read is None and len(reads) > 1:
                self._each_read = _ReadsAlone(self.net, self.seed_ids, reads, sweeps)
        return passing

    def _a_read_never_passes(self, start: int) -> bool:
        """Whether one of several reads is non-zero at no end of a call from ``start``: then no such
        call passes, whatever the other reads do. No call passes at an end above the ceiling
        (``_ReadsAlone.ceiling``); below it, the reads ``_ReadsAlone.tried`` gives are swept alone,
        over their own relevant layers, the read with the fewest first, and only while they are fewer
        than those of all the reads together: a read that cannot pass is often written by few layers
        (a blob no layer reads, or one read at the bottom of the net), while the sweep of all the reads
        together may run every layer."""
        alone = self._each_read
        if alone is None:
            return False
        ceiling = alone.ceiling(start)
        if ceiling < 0:
            return True
        together = self._swept().count_relevant(start)
        for read, sweeps in sorted(alone.tried(), key=lambda tried: tried[1].count_relevant(start)):
            if sweeps.count_relevant(start) >= together:
                return False
            if not self._read_may_pass(read, sweeps, start, ceiling):
                return True
        return False

    def _read_may_pass(self, read: int, sweeps: BackwardSweeps, start: int, ceiling: int) -> bool:
        """Whether ``read`` alone (``sweeps``) is non-zero at some end at or below ``ceiling`` of a
        call from ``start`` that does not abort."""
        relevant = sweeps.relevant_at_or_below(start)
        answer = self._read_answers.get((read, relevant, ceiling))
        if answer is None:
            entries = sweeps.sweep(relevant) if relevant >= 0 else []
            # ``before`` holds at the ends above the first listed layer; each entry down to the next one
            answer = sweeps.before[0] is True and (not entries or entries[0][0] < ceiling)
            for m, (_, values, aborted) in enumerate(entries):
                low = entries[m + 1][0] + 1 if m + 1 < len(entries) else 0
                if values[0] is True and not aborted and low <= ceiling:
                    answer = True
                    break
            self._read_answers[read, relevant, ceiling] = answer
        return answer


class _ReadsAlone:
    """The reads of ``_RangeTests`` one by one, in time linear in the net and the reads.

    ``ceiling(start)``: a read that is not non-zero before Backward keeps that value at every end
    above the last layer at or below ``start`` that may write it (``BackwardSweeps.layers_writing``), so no
    call from ``start`` passes at an end above the lowest such layer over those reads (-1: a read
    that nothing writes below ``start`` is never non-zero). A read whose diff a Parameter layer's
    top may settle after the call is left out of it. Found for every start in one pass.

    ``tried()``: the reads worth sweeping alone, at most ``TRIED`` of them, those with the fewest
    writers first (then in the order given), each with its ``BackwardSweeps`` made on first use. A
    read non-zero before Backward that no layer writes is non-zero at every end: it never stops a
    call, and is not tried.
    """

    TRIED = 16

    def __init__(self, net: BuiltNet, seed_ids: Sequence[int], reads: Sequence[int],
                 together: BackwardSweeps) -> None:
        self.net = net
        self.seed_ids = list(seed_ids)
        before = dict(zip(together.watched, together.before))
        read_class = {read: together.class_of(read) for read in reads}
        writers = together.layers_writing(set(read_class.values()))
        blocking = [read for read in reads if before[read] is not True or writers[read_class[read]]]
        order = sorted(range(len(blocking)), key=lambda k: (len(writers[read_class[blocking[k]]]), k))
        self._tried = [blocking[k] for k in order[:self.TRIED]]
        self._sweeps: Dict[int, BackwardSweeps] = {}
        lists = [writers[read_class[read]] for read in reads
                 if before[read] is not True and read_class[read] not in together.parameter_classes]
        self._ceilings = _lowest_last_writers(lists, len(net.layers)) if lists else None

    def ceiling(self, start: int) -> int:
        return start if self._ceilings is None else min(start, self._ceilings[start])

    def tried(self) -> Iterator[Tuple[int, BackwardSweeps]]:
        for read in self._tried:
            sweeps = self._sweeps.get(read)
            if sweeps is None:
                sweeps = self._sweeps[read] = BackwardSweeps(self.net, self.seed_ids, [read])
            yield read, sweeps


def _lowest_last_writers(lists: Sequence[List[int]], n: int) -> List[int]:
    """Per index i below ``n``: the least, over ``lists`` (ascending layer indexes), of the greatest
    index at or below i in each (-1 when one has none), in one pass with a heap."""
    from heapq import heappop, heappush

    joins: Dict[int, List[int]] = {}  # layer index -> the lists it is in
    for k, layers in enumerate(lists):
        for i in layers:
            joins.setdefault(i, []).append(k)
    last = [-1] * len(lists)
    heap = [(-1, k) for k in range(len(lists))]
    lowest: List[int] = []
    for i in range(n):
        for k in joins.get(i, ()):
            last[k] = i
            heappush(heap, (i, k))
        while heap[0][0] != last[heap[0][1]]:
            heappop(heap)
        lowest.append(heap[0][0])
    return lowest


class _PassingEnds:
    """The addressable ends whose call from one relevant layer passes: every addressable end of
    the runs from ``lows[k]`` up to ``highs[k]`` (disjoint, highest first)."""

    __slots__ = ("lows", "highs", "end_ok", "top_two")

    def __init__(self, lows: List[int], highs: List[int], end_ok: List[bool],
                 end_at_most: Callable[[int], int]) -> None:
        self.lows = lows[::-1]  # ascending, to bisect
        self.highs = highs[::-1]
        self.end_ok = end_ok
        #: the two highest passing addressable ends: the highest but any one end is among them
        self.top_two: List[int] = []
        for low, high in zip(lows, highs):
            end = end_at_most(high)
            while end >= low and len(self.top_two) < 2:
                self.top_two.append(end)
                end = end_at_most(end - 1)
            if len(self.top_two) == 2:
                break

    def holds(self, end: int) -> bool:
        k = bisect_right(self.lows, end) - 1
        return k >= 0 and end <= self.highs[k] and self.end_ok[end]

    def highest(self, exclude: int) -> int:
        """The highest passing addressable end but ``exclude`` (-1: none)."""
        return next((end for end in self.top_two if end != exclude), -1)


def _call_text(
    layer_names: List[str], start: Optional[int], end: Optional[int], seeds: List[str], outputs: List[str]
) -> str:
    """The pycaffe call; ``start``/``end`` None: the argument is left out."""
    arguments = []
    if start is not None:
        arguments.append(f"start={layer_names[start]!r}")
    if end is not None:
        arguments.append(f"end={layer_names[end]!r}")
    if seeds and set(seeds) == set(outputs):
        arguments.append("**{" + ", ".join(f"{s!r}: grad_{_identifier(s)}" for s in seeds) + "}")
        return f"diffs = net.backward({', '.join(arguments)})"
    lines = [f"net.blobs[{s!r}].diff[...] = grad_{_identifier(s)}" for s in seeds]
    lines.append(f"diffs = net.backward({', '.join(arguments)})")
    return "\n".join(lines)


def _identifier(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


# ---------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------


def plan_backward(
    source: Any,
    start: Optional[str] = None,
    end: Optional[str] = None,
    seeds: Sequence[str] = (),
    reads: Sequence[str] = (),
    phase: str = DEFAULT_PHASE,
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    strict: bool = False,
    declared_layers: Optional[Mapping[str, Mapping[str, Any]]] = None,
    packs: Sequence[str] = (),
    build: BuildSetting = None,
) -> BackwardPlan:
    """Predict ``net.backward(start=start, end=end)`` on ``caffe.Net(source, phase)``.

    ``seeds``: blobs whose diff you write by hand before the call (default:
    for a net with no loss, every net output, as ``net.backward(**diffs)``
    does). ``reads``: blobs whose diff you read afterwards (default: the keys
    ``net.backward`` returns). ``packs``: enabled layer packs. Raises
    ``InputError``/``NetRefused`` when the net cannot be read or Caffe would refuse it.
    """
    # as simulate does: no cyclic collection while the nets are built (they are many small
    # containers, freed by their reference counts when _plan returns, before it is back on)
    with gc_paused():
        return _plan(source, start, end, seeds, reads, phase, level, stages, flavor, strict, declared_layers,
                     packs, build)


def _plan(
    source: Any,
    start: Optional[str],
    end: Optional[str],
    seeds: Sequence[str],
    reads: Sequence[str],
    phase: str,
    level: int,
    stages: Sequence[str],
    flavor: str,
    strict: bool,
    declared_layers: Optional[Mapping[str, Mapping[str, Any]]],
    packs: Sequence[str],
    build: BuildSetting,
) -> BackwardPlan:
    prepared = prepare_source(source, phase=phase, level=level, stages=stages, flavor=flavor, strict=strict,
                              packs=packs, build=build)
    declared = declared_layer_infos(declared_layers, packs)
    # the forward construction pass does not read force_backward: the corrected
    # call's force_backward run starts from the same build
    built = build_layers(prepared, declared)
    net = init_net(prepared, declared, built)
    return plan_for_net(prepared, net, start, end, seeds, reads, declared, built)


def plan_for_net(
    prepared: PreparedNet,
    net: BuiltNet,
    start: Optional[str],
    end: Optional[str],
    seeds: Sequence[str],
    reads: Sequence[str],
    declared: Optional[Dict[str, Any]] = None,
    built: Optional[BuiltNet] = None,
) -> BackwardPlan:
    """``plan_backward`` on a net already built by ``simulate.init_net``.

    ``built``: ``simulate.build_layers`` of ``prepared``, unchanged (``init_net``
    runs the force_backward variant from a copy of it instead of building again).
    """
    names = layer_names_of(net)
    n = len(names)
    if n == 0:
        raise InputError("the net has no layers", None)
    issues: List[NameIssue] = []
    start_index, start_name = _resolve_range_end(net, "start", start, n - 1, issues)
    end_index, end_name = _resolve_range_end(net, "end", end, 0, issues)
    outputs = outputs_of(net)
    inputs = [net.blob_names[b] for b in net.inputs]
    loss_blobs = [net.blob_names[b] for b, w in enumerate(net.blob_loss_weights) if w != 0]

    seeds_assumed = not seeds and not loss_blobs
    seed_names = list(outputs) if seeds_assumed else list(seeds)
    seed_ids = _resolve_blobs(net, "seed", seed_names, issues)
    resolved_seeds = [net.blob_names[b] for b in seed_ids]
    returned = _returned_keys(net, end_index if end is not None else None, inputs)
    read_names = list(reads) if reads else list(returned)
    reads_assumed = not read_names
    if reads_assumed:  # net.backward returns {}: check what a user would read instead, and say so
        tops = (net.blob_names[b] for b in net.layers[end_index].top_ids)
        read_names = list(dict.fromkeys(name for name in tops if name != AUTOMATIC_TOP))
    read_pairs = [(name, _resolve_one_blob(net, "read", name, issues)) for name in read_names]

    run = simulate_call(net, seed_ids, start_index, end_index)
    steps = [_step(net, i) for i in range(start_index, end_index - 1, -1)]
    verdicts = [_verdict(run, name, blob_id) for name, blob_id in read_pairs]
    seed_notes = seed_overwrites(run)
    notes = _notes(net, start_index, end_index, outputs, resolved_seeds, seeds_assumed, loss_blobs)
    if steps and all(step.runs is False for step in steps):
        notes.insert(0, f"no layer from '{names[start_index]}' (#{start_index}) down to '{names[end_index]}' "
                        f"(#{end_index}) runs backward: this call computes nothing and changes no diff")
    if reads_assumed:
        notes.insert(0, f"net.backward() returns no diff here: it returns the diffs of the end layer's bottoms, "
                        f"and '{names[end_index]}' (#{end_index}) has none; checking its tops instead "
                        f"({_names(read_names) or 'none'}), which you read as net.blobs[name].diff "
                        f"(name the blobs you read with --read)")

    read_ids = [blob_id for _, blob_id in read_pairs if blob_id is not None]
    fix = None
    if any(v.nonzero is not True for v in verdicts) or any(issue.fatal for issue in issues):
        fix = _fix(prepared, net, seed_ids, read_ids, start_name if start is not None else None,
                   end_name if end is not None else None, start, end, start_index, end_index,
                   resolved_seeds, outputs, declared, built)
        unresolved = [name for name, blob_id in read_pairs if blob_id is None]
        if unresolved and fix.possible:
            fix.explanation.append(f"left out: {_names(unresolved)} name no blob of the net")
    return BackwardPlan(
        net_name=prepared.name,
        file=prepared.file,
        phase=prepared.state.phase,
        force_backward=prepared.force_backward,
        layer_names=names,
        start=start_name,
        end=end_name,
        start_index=start_index,
        end_index=end_index,
        steps=steps,
        seeds=resolved_seeds,
        seeds_assumed=seeds_assumed,
        reads=verdicts,
        name_issues=issues,
        seed_notes=seed_notes,
        outputs=outputs,
        inputs=inputs,
        returned_keys=returned,
        notes=notes,
        fix=fix,
        loss_blobs=loss_blobs,
        reads_assumed=reads_assumed,
    )


def _resolve_range_end(
    net: BuiltNet, option: str, name: Optional[str], default: int, issues: List[NameIssue]
) -> Tuple[int, Optional[str]]:
    if name is None:
        return default, None
    index, issue = resolve_layer(net, option, name)
    if issue is not None:
        issues.append(issue)
    if index is None:
        return default, None
    return index, layer_names_of(net)[index]


def _resolve_one_blob(net: BuiltNet, option: str, name: str, issues: List[NameIssue]) -> Optional[int]:
    blob_id, issue = resolve_blob(net, option, name)
    if issue is not None:
        issues.append(issue)
    return blob_id


def _resolve_blobs(net: BuiltNet, option: str, names: Sequence[str], issues: List[NameIssue]) -> List[int]:
    ids: Dict[int, None] = {}  # in order of first mention: a net may have a million outputs
    for name in names:
        blob_id = _resolve_one_blob(net, option, name, issues)
        if blob_id is not None:
            ids.setdefault(blob_id)
    return list(ids)


def _returned_keys(net: BuiltNet, end_index: Optional[int], inputs: List[str]) -> List[str]:
    """What ``net.backward()`` returns: bottom_names[end] (post-split names) when end is given, else inputs."""
    if end_index is None:
        return list(dict.fromkeys(inputs))
    return list(dict.fromkeys(net.blob_names[b] for b in net.layers[end_index].bottom_ids))


def _verdict(run: SimulatedCall, name: str, blob_id: Optional[int]) -> ReadVerdict:
    if blob_id is None:
        return ReadVerdict(name, False, ["the name does not resolve to a blob (see the name issues)"])
    value = run.value(blob_id)
    if value is True:
        return ReadVerdict(name, True)
    if value is None:
        return ReadVerdict(name, None, [unknown_gradient_reason(run.net, blob_id)])
    reasons = explain_zero(run, blob_id)
    read_instead, include_layer = _split_rename(run, blob_id)
    if include_layer is not None:
        target = run.net.blob_names[blob_id]
        if read_instead:
            reasons.append(
                f"Caffe renamed the readers' bottom: the gradient is in '{read_instead}'; read that blob, "
                f"or lower end= to '{include_layer}' so the Split writes '{target}'"
            )
        else:
            reasons.append(f"'{target}' is written only by the Split '{include_layer}': include it in the range")
    return ReadVerdict(name, False, reasons, read_instead, include_layer)


def _notes(
    net: BuiltNet,
    start_index: int,
    end_index: int,
    outputs: List[str],
    seeds: List[str],
    seeds_assumed: bool,
    loss_blobs: List[str],
) -> List[str]:
    notes: List[str] = []
    if start_index < end_index:
        names = layer_names_of(net)
        notes.append(
            f"start '{names[start_index]}' (#{start_index}) comes before end '{names[end_index]}' (#{end_index}): "
            f"BackwardFromTo runs nothing and raises nothing; swap them"
        )
    if seeds_assumed:
        notes.append(f"no --seed given and the net has no loss: assuming you seed every net output ({_names(outputs)})")
    if loss_blobs:
        notes.append(f"loss tops are gradient sources too (their diff holds the loss weight): {_names(loss_blobs)}")
    if not seeds and not loss_blobs and not outputs:
        notes.append("nothing is seeded and the net has no loss: every diff stays zero")
    notes.append(
        f"net.backward(**diffs) requires the keys to be exactly the net outputs {_names(outputs)}, "
        f"else it raises 'Top diff arguments do not match net outputs.'; to seed any other blob write "
        f"net.blobs[name].diff[...] = g before calling net.backward()"
    )
    if seeds and set(seeds) != set(outputs):
        notes.append(f"your seeds {_names(seeds)} are not exactly the outputs: write them into net.blobs[...].diff by hand")
    notes.append(
        "pycaffe never clears parameter diffs between net.backward() calls (they accumulate), nor blob diffs "
        "that no layer of the range writes; call net.clear_param_diffs() and zero stale diffs before each call"
    )
    return notes


def _fix(
    prepared: PreparedNet,
    net: BuiltNet,
    seed_ids: List[int],
    read_ids: List[int],
    start_resolved: Optional[str],
    end_resolved: Optional[str],
    start: Optional[str],
    end: Optional[str],
    start_index: int,
    end_index: int,
    seeds: List[str],
    outputs: List[str],
    declared: Optional[Dict[str, Any]],
    built: Optional[BuiltNet] = None,
) -> CallFix:
    """The cheapest call that works; every argument that differs from the user's is named and explained.

    ``start``/``end`` are the names given (None: left out), ``start_resolved``
    / ``end_resolved`` the layers they resolved to (None: no such layer).
    """
    names = layer_names_of(net)
    n = len(names)
    if not read_ids:
        return CallFix(False, explanation=["no requested blob resolves to a blob of the net"])
    if not seed_ids and not any(w != 0 for w in net.blob_loss_weights):
        return CallFix(False, explanation=["nothing is seeded and the net has no loss: seed a blob's diff"])
    user_start = start_index if start is not None else None
    user_end = end_index if end is not None else None
    best, best_net = search_fix(prepared, net, seed_ids, read_ids, user_start, user_end, declared, built)
    if best is None or best_net is None:
        return _impossible(prepared, net, seed_ids, read_ids, declared, built)
    explanation: List[str] = []
    if best.forced and not prepared.force_backward:
        explanation.append("add `force_backward: true` at the top level of the prototxt (no loss prunes every backward)")
    start_arg = _argument(net, best.start, n - 1, given=start is not None)
    end_arg = _argument(net, best.end, 0, given=end is not None)
    for option, index, argument, was, given, resolved in (
        ("start", best.start, start_arg, n - 1 if start is None else start_index, start, start_resolved),
        ("end", best.end, end_arg, 0 if end is None else end_index, end, end_resolved),
    ):
        replaced = given is not None and resolved != given
        if index == was and not replaced:
            continue
        if given is None:
            instead = ""
        elif resolved is None:
            instead = f", instead of {given!r}, which names no layer"
        elif resolved != given:
            instead = f", instead of {given!r}, which is not a layer name pycaffe accepts (see {option}= above)"
        else:
            instead = f", instead of {given!r} (#{was})"
        if argument is None:
            explanation.append(f"leave {option}= out (pycaffe's default: layer #{index} '{names[index]}'){instead}")
        else:
            explanation.append(f"{option}={names[index]!r} (#{index}){instead}")
    return CallFix(
        True,
        start=None if start_arg is None else names[start_arg],
        end=None if end_arg is None else names[end_arg],
        add_force_backward=best.forced and not prepared.force_backward,
        call=_call_text(names, start_arg, end_arg, seeds, outputs),
        explanation=explanation,
    )


def _argument(net: BuiltNet, index: int, default: int, given: bool) -> Optional[int]:
    """The layer index to name in the call, or None to leave the argument out (pycaffe's default)."""
    if index != default:
        return index
    if given and first_layer_index(net, net.layers[index].definition.name) == index:
        return index
    return None


def _impossible(
    prepared: PreparedNet,
    net: BuiltNet,
    seed_ids: List[int],
    read_ids: List[int],
    declared: Optional[Dict[str, Any]],
    built: Optional[BuiltNet] = None,
) -> CallFix:
    """Why no range, with or without force_backward, makes every read non-zero."""
    forced = (net if prepared.force_backward
              else init_net(prepared.replace(force_backward=True), declared, built))
    run = simulate_call(forced, seed_ids, len(forced.layers) - 1, 0)
    unknown = [blob_id for blob_id in read_ids if run.value(blob_id) is None]
    if unknown:
        explanation = [unknown_gradient_reason(forced, blob_id) for blob_id in unknown]
        return CallFix(False, explanation=explanation, unknown=True)
    explanation = ["no start/end, even with `force_backward: true`, makes every requested diff non-zero:"]
    for blob_id in read_ids:
        if run.value(blob_id) is True:
            continue
        explanation.append(f"'{forced.blob_names[blob_id]}' (whole net, force_backward on):")
        explanation.extend("  " + line for line in explain_zero(run, blob_id))
    aborting = [layer_names_of(forced)[i] for i, v in run.result.aborts.items() if v]
    if aborting:
        explanation.append(f"with force_backward on, backward aborts in {_names(aborting)}")
    return CallFix(False, explanation=explanation)
