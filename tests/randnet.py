"""Random, data-free Caffe nets for differential testing against real Caffe.

``generate(seed)`` builds one small net (batch 2, a few channels, tiny spatial
size) from ``Input``, ``DummyData`` and ``Parameter`` sources only, so real
Caffe can load it and run one Forward/Backward in milliseconds. Shapes are
tracked while the net grows, so every valid net reshapes cleanly.

About one net in five is deliberately broken by one mutation (an unknown
bottom, a top with two producers, a wrong ``propagate_down`` count, ...).
``RandomNet.refusal`` then holds substrings of the message Caffe is expected
to die with, so the generator itself can be validated against the oracle.

Validity is judged against the Caffe of the flavour asked for: ``flavor="ssd"``
(the default) the SSD-lineage oracle (e.g. a BatchNorm statistics spec with
``lr_mult`` 1 loads there), ``flavor="bvlc"`` real BVLC Caffe, whose nets use
only BVLC's types (Clip and Swish instead of Normalize, Permute and
SmoothL1Loss) and BatchNorm specs BVLC accepts. The ssd nets are the same for
the same seed whatever the bvlc generator does.

About one net in ten is written in the V1 format (``layers { type: RELU }``
with ``blobs_lr``/``weight_decay``), which Caffe upgrades as it reads the file;
the choice comes from a random stream of its own, so the V2 nets of all other
seeds do not change when it does.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

Shape = Tuple[int, ...]
BATCH = 2
#: the stages a random NetState may carry, and that rules may mention
STAGES: Tuple[str, ...] = ("train_aux", "deploy", "extra")


@dataclass(frozen=True)
class RandomNet:
    """One generated net and what it is meant to exercise."""

    seed: int
    text: str
    #: True when real (SSD-lineage) Caffe is meant to load it in ``phase``/``level``/``stages``
    valid: bool
    features: FrozenSet[str]
    phase: str
    level: int
    stages: Tuple[str, ...]
    #: for invalid nets: the mutation applied, e.g. "unknown-bottom"
    mutation: Optional[str] = None
    #: for invalid nets: Caffe's message is expected to contain one of these
    refusal: Tuple[str, ...] = ()
    #: whether some layer has a non-zero loss weight, before include/exclude filtering
    has_loss: bool = False


@dataclass
class Blob:
    shape: Shape
    #: exclusive upper bound of the integer values it holds (labels, Embed indices); None: float data
    int_range: Optional[int] = None
    #: consumed since its last producer wrote it (an in-place writer then triggers a split)
    consumed: bool = False
    #: its last producer gave it an explicit non-zero loss_weight (InsertSplits counts that as a use)
    explicit_loss: bool = False
    #: it is the top of a loss layer
    loss_top: bool = False
    #: consumed since its last producer by a layer without include/exclude rules
    surely_consumed: bool = False
    #: nothing else may read it: produced by a layer with include/exclude rules (it may not
    #: exist in every state), or not data at all (InfogainLoss's H matrix)
    private: bool = False


@dataclass
class Layer:
    name: str
    type: str
    bottoms: List[str]
    tops: List[str]
    body: List[str] = field(default_factory=list)  # type-specific text, e.g. "inner_product_param { ... }"
    params: List[str] = field(default_factory=list)  # rendered "param { ... }" entries
    loss_weights: List[float] = field(default_factory=list)
    propagate_down: List[bool] = field(default_factory=list)
    rules: List[str] = field(default_factory=list)  # rendered include/exclude blocks
    #: number of parameter blobs Caffe creates for this layer
    param_blobs: int = 0
    #: InnerProduct's num_output (for weight sharing)
    num_output: int = 0

    def render(self) -> str:
        lines = [f'  name: "{self.name}"', f'  type: "{self.type}"']
        lines += [f'  bottom: "{b}"' for b in self.bottoms]
        lines += [f'  top: "{t}"' for t in self.tops]
        lines += [f"  loss_weight: {_number(w)}" for w in self.loss_weights]
        lines += [f"  propagate_down: {'true' if p else 'false'}" for p in self.propagate_down]
        lines += [f"  {p}" for p in self.params]
        lines += [f"  {r}" for r in self.rules]
        lines += [f"  {b}" for b in self.body]
        return "layer {\n" + "\n".join(lines) + "\n}\n"


_PARAM_NAME = re.compile(r'name: "([^"]*)"')


def _param_name(spec: str) -> Optional[str]:
    found = _PARAM_NAME.search(spec)
    return found.group(1) if found else None


def _ensure_param_name(layer: Layer, index: int, name: str) -> str:
    """The layer's ``param`` spec ``index``, named ``name`` unless it has a name already."""
    while len(layer.params) <= index:
        layer.params.append("param {}")
    if _param_name(layer.params[index]) is None:
        layer.params[index] = layer.params[index].replace("param {", f'param {{ name: "{name}"', 1).replace("  ", " ")
    return layer.params[index]


def _bias_text(bias: bool) -> str:
    return "" if bias else "bias_term: false "


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _shape_text(shape: Shape) -> str:
    return "shape { " + " ".join(f"dim: {d}" for d in shape) + " }"


def _count(shape: Shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


_GAUSSIAN = 'weight_filler { type: "gaussian" std: 0.5 }'
_NEURONS: Tuple[str, ...] = ("ReLU", "Sigmoid", "TanH", "Power", "ELU", "BNLL", "Dropout", "AbsVal", "PReLU")
#: neurons only BVLC registers (U:src/caffe/layers/clip_layer.cpp, swish_layer.cpp); never in place here
_BVLC_NEURONS: Tuple[str, ...] = ("Clip", "Swish")
_IN_PLACE_OK: FrozenSet[str] = frozenset(
    {"ReLU", "Sigmoid", "TanH", "Power", "ELU", "BNLL", "Dropout", "PReLU", "BatchNorm", "Scale", "Bias", "Threshold"}
)


class _Builder:
    """Grows one net layer by layer, keeping shapes and split-relevant facts per blob."""

    def __init__(self, seed: int, flavor: str = "ssd") -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.flavor = flavor
        self.layers: List[Layer] = []
        self.blobs: Dict[str, Blob] = {}
        self.features: Set[str] = set()
        self.legacy_inputs: List[Tuple[str, Shape]] = []
        self.force_backward = False
        self._next_blob = 0
        self._next_layer = 0
        #: InnerProduct layers by input size: candidates for weight sharing
        self.inner_products: Dict[int, List[Layer]] = {}
        #: its own random stream, so that V2 nets stay the same whatever is decided about the format
        self.format_rng = random.Random(seed * 31 + 7)
        #: use only what the V1 format (`layers { type: ENUM }`) can say, to be written that way
        self.v1_only = self.format_rng.random() < 0.12

    # -- naming --------------------------------------------------------------
    def new_blob(self, prefix: str = "b") -> str:
        self._next_blob += 1
        return f"{prefix}{self._next_blob}"

    def new_layer_name(self, kind: str) -> str:
        self._next_layer += 1
        return f"{kind.lower()}{self._next_layer}"

    # -- choosing blobs ------------------------------------------------------
    def candidates(self, accept: Callable[[Blob], bool]) -> List[str]:
        return [name for name, blob in self.blobs.items() if not blob.private and accept(blob)]

    def pick(self, accept: Callable[[Blob], bool] = lambda b: True) -> Optional[str]:
        """A blob to consume: mostly unconsumed recent ones, sometimes a branch off a used one."""
        names = self.candidates(accept)
        if not names:
            return None
        fresh = [n for n in names if not self.blobs[n].consumed]
        if fresh and self.rng.random() < 0.75:
            return fresh[-1] if self.rng.random() < 0.6 else self.rng.choice(fresh)
        return self.rng.choice(names)

    def consume(self, names: Sequence[str], conditional: bool = False) -> None:
        for name in names:
            if self.blobs[name].consumed:
                self.features.add("branch")
            self.blobs[name].consumed = True
            self.blobs[name].surely_consumed |= not conditional
        if len(set(names)) < len(names):
            self.features.add("same-bottom-twice")

    def can_write_in_place(self, name: str) -> bool:
        blob = self.blobs[name]
        return not blob.consumed and not blob.explicit_loss and blob.int_range is None

    # -- adding layers -------------------------------------------------------
    def add(self, layer: Layer, top_shapes: Sequence[Shape], int_ranges: Sequence[Optional[int]] = ()) -> Layer:
        in_place_tops = {t for i, t in enumerate(layer.tops) if i < len(layer.bottoms) and layer.bottoms[i] == t}
        self.consume(layer.bottoms, conditional=bool(layer.rules))
        for index, (top, shape) in enumerate(zip(layer.tops, top_shapes)):
            int_range = int_ranges[index] if index < len(int_ranges) else None
            self.blobs[top] = Blob(shape=shape, int_range=int_range, private=bool(layer.rules))
        if in_place_tops:
            self.features.add("inplace")
        self.decorate(layer)
        self.layers.append(layer)
        return layer

    def decorate(self, layer: Layer) -> None:
        """Random param specs, propagate_down and loss weights on an ordinary layer."""
        rng = self.rng
        if layer.param_blobs and layer.type != "BatchNorm" and rng.random() < 0.5:
            count = rng.randint(1, layer.param_blobs)
            layer.params = [rng.choice(("param {}", "param { lr_mult: 0 }", "param { lr_mult: 1 decay_mult: 0 }",
                                        "param { lr_mult: 2 }", "param { lr_mult: 0 decay_mult: 0 }"))
                            for _ in range(count)]
            self.features.add("param-specs")
            if any("lr_mult: 0" in p for p in layer.params):
                self.features.add("lr_mult-0")
        if layer.bottoms and not self.v1_only and rng.random() < 0.15:
            layer.propagate_down = [rng.random() < 0.5 for _ in layer.bottoms]
            self.features.update(f"propagate_down-{str(p).lower()}" for p in layer.propagate_down)
        if layer.tops and layer.type not in _LOSS_TYPES and rng.random() < 0.08:
            layer.loss_weights = [rng.choice((0, 0.5, 1, 2)) for _ in layer.tops]
            self.features.add("loss_weight-nonloss")
            self.note_explicit_losses(layer)

    def note_explicit_losses(self, layer: Layer) -> None:
        for top, weight in zip(layer.tops, layer.loss_weights):
            if weight != 0:
                self.blobs[top].explicit_loss = True

    # -- sources ---------------------------------------------------------------
    def feature_shape(self) -> Shape:
        rng = self.rng
        if rng.random() < 0.35:
            return (BATCH, rng.choice((2, 3, 4)))
        side = rng.choice((1, 2, 3))
        return (BATCH, rng.choice((2, 3, 4)), side, side)

    def add_input(self) -> None:
        shapes = [self.feature_shape() for _ in range(self.rng.choice((1, 1, 2)))]
        tops = [self.new_blob("data") for _ in shapes]
        with_label = self.rng.random() < 0.4
        if with_label:
            shapes.append((BATCH,))
            tops.append(self.new_blob("label"))  # the oracle fills "label*" inputs with 0/1
        ranges: List[Optional[int]] = [None] * (len(tops) - 1)
        ranges.append(2 if with_label else None)
        if self.rng.random() < 0.15 and not self.legacy_inputs:
            self.legacy_inputs = list(zip(tops, shapes))
            for top, shape, int_range in zip(tops, shapes, ranges):
                self.blobs[top] = Blob(shape=shape, int_range=int_range)
            self.features.add("legacy-input")
            return
        body = ["input_param { " + " ".join(_shape_text(s) for s in shapes) + " }"]
        layer = Layer(self.new_layer_name("Input"), "Input", [], tops, body)
        self.layers.append(layer)
        for top, shape, int_range in zip(tops, shapes, ranges):
            self.blobs[top] = Blob(shape=shape, int_range=int_range)
        self.features.add("input")

    def add_dummy(self, shape: Optional[Shape] = None, int_value: Optional[int] = None) -> str:
        """A DummyData source; ``int_value`` fills it with that constant (labels, indices)."""
        shape = shape or self.feature_shape()
        top = self.new_blob("dummy")
        filler = (f'data_filler {{ type: "constant" value: {int_value} }}' if int_value is not None
                  else 'data_filler { type: "gaussian" std: 1 }')
        layer = Layer(self.new_layer_name("DummyData"), "DummyData", [], [top],
                      ["dummy_data_param { " + _shape_text(shape) + " " + filler + " }"])
        self.layers.append(layer)
        self.blobs[top] = Blob(shape=shape, int_range=None if int_value is None else int_value + 1)
        self.features.add("dummydata")
        return top

    def add_parameter(self, shape: Optional[Shape] = None) -> str:
        shape = shape or self.feature_shape()
        top = self.new_blob("p")
        layer = Layer(self.new_layer_name("Parameter"), "Parameter", [], [top],
                      ["parameter_param { " + _shape_text(shape) + " }"], param_blobs=1)
        self.add(layer, [shape])
        self.features.add("parameter")
        return top

    def label_for(self, classes: int) -> str:
        """A label blob of shape (BATCH,) with values in [0, classes)."""
        labels = self.candidates(lambda b: b.int_range is not None and b.shape == (BATCH,) and b.int_range <= classes)
        if labels and self.rng.random() < 0.6:
            return self.rng.choice(labels)
        return self.add_dummy((BATCH,), self.rng.randrange(classes))

    def target_like(self, shape: Shape, reuse: float = 0.5) -> str:
        """A second operand with the same shape: an existing blob, itself, or fresh data."""
        same = self.candidates(lambda b: b.shape == shape and b.int_range is None)
        if same and self.rng.random() < reuse:
            return self.rng.choice(same)
        return self.add_dummy(shape)

    def vector(self) -> str:
        """A float blob of shape (BATCH, K) with K >= 2, making one with InnerProduct if needed."""
        name = self.pick(lambda b: len(b.shape) == 2 and b.shape[1] >= 2 and b.int_range is None and not b.loss_top)
        if name is not None and self.rng.random() < 0.7:
            return name
        return self.op_inner_product(force=True) or self.add_dummy((BATCH, 3))

    def float_blob(self) -> Optional[str]:
        return self.pick(lambda b: b.int_range is None and not b.loss_top and len(b.shape) >= 2)

    # -- operations (each adds at most a couple of layers; None: nothing fitted) ----
    def op_neuron(self) -> Optional[str]:
        neurons = _NEURONS + _BVLC_NEURONS if self.flavor == "bvlc" else _NEURONS
        kind = self.rng.choice(tuple(n for n in neurons if n in _V1_TYPES) if self.v1_only else neurons)
        bottom = self.float_blob()
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        in_place = kind in _IN_PLACE_OK and self.can_write_in_place(bottom) and self.rng.random() < 0.6
        top = bottom if in_place else self.new_blob()
        body = {"Power": ["power_param { power: 2 scale: 0.5 shift: 1 }"],
                "Dropout": ["dropout_param { dropout_ratio: 0.5 }"],
                "Clip": ["clip_param { min: -0.5 max: 0.5 }"],
                "Swish": ["swish_param { beta: 1.5 }"]}.get(kind, [])
        layer = Layer(self.new_layer_name(kind), kind, [bottom], [top], body,
                      param_blobs=1 if kind == "PReLU" else 0)
        self.add(layer, [shape])
        return top

    def op_threshold_or_argmax(self) -> Optional[str]:
        bottom = self.float_blob()
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        if self.rng.random() < 0.5:
            top = bottom if self.can_write_in_place(bottom) and self.rng.random() < 0.4 else self.new_blob()
            self.add(Layer(self.new_layer_name("Threshold"), "Threshold", [bottom], [top]), [shape])
            self.features.add("threshold")
            return top
        top = self.new_blob()
        out_shape = (BATCH, 1, 1) if len(shape) < 4 else (BATCH, 1, 1, 1)
        self.add(Layer(self.new_layer_name("ArgMax"), "ArgMax", [bottom], [top]), [out_shape])
        self.features.add("argmax")
        return top

    def op_batch_norm(self) -> Optional[str]:
        bottom = self.float_blob()
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        top = bottom if self.can_write_in_place(bottom) and self.rng.random() < 0.7 else self.new_blob()
        spec_count = self.rng.choice((0, 0, 1, 2, 3))
        layer = Layer(self.new_layer_name("BatchNorm"), "BatchNorm", [bottom], [top], param_blobs=3)
        # BVLC CHECKs lr_mult 0 on explicit statistics specs, unless there are exactly 3
        # (the upgrade zeroes those); the SSD lineage accepts any
        specs = ("param { lr_mult: 0 }", "param { lr_mult: 0 decay_mult: 0 }", "param {}")
        if self.flavor == "bvlc" and spec_count != 3:
            specs = specs[:2]
        layer.params = [self.rng.choice(specs) for _ in range(spec_count)]
        self.add(layer, [shape])
        self.features.add(f"batchnorm-{spec_count}")
        return top

    def op_scale_or_bias(self) -> Optional[str]:
        kind = self.rng.choice(("Scale", "Bias"))
        bottom = self.float_blob()
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        two_bottoms = self.rng.random() < 0.4
        bias_term = kind == "Scale" and self.rng.random() < 0.5
        param_name = "scale_param" if kind == "Scale" else "bias_param"
        options = ["bias_term: true"] if bias_term else []
        if two_bottoms:
            operand = self.add_parameter(shape) if self.rng.random() < 0.4 else self.target_like(shape)
            bottoms = [bottom, operand]
            options.append("axis: 0")
            blobs = int(bias_term)
        else:
            bottoms = [bottom]
            blobs = 1 + int(bias_term)
        in_place = self.can_write_in_place(bottom) and self.rng.random() < 0.5 and bottom != bottoms[-1]
        top = bottom if in_place else self.new_blob()
        body = [f"{param_name} {{ {' '.join(options)} }}"] if options else []
        self.add(Layer(self.new_layer_name(kind), kind, bottoms, [top], body, param_blobs=blobs), [shape])
        self.features.add(f"{kind.lower()}-{len(bottoms)}")
        return top

    def op_inner_product(self, force: bool = False) -> Optional[str]:
        bottom = self.float_blob()
        if self.inner_products and self.rng.random() < 0.5:  # a bottom another InnerProduct could share with
            sizes = set(self.inner_products)
            bottom = self.pick(lambda b: b.int_range is None and not b.loss_top and len(b.shape) >= 2
                               and _count(b.shape) // BATCH in sizes) or bottom
        if bottom is None:
            if not force:
                return None
            bottom = self.add_dummy()
        inputs = _count(self.blobs[bottom].shape) // BATCH
        earlier = self.inner_products.setdefault(inputs, [])
        owner = self.rng.choice(earlier) if earlier and not self.v1_only and self.rng.random() < 0.4 else None
        outputs = self.rng.choice((2, 3, 4))
        bias = self.rng.random() < 0.8
        if owner is not None:  # same weight shape, so the two may share it
            outputs, bias = owner.num_output, owner.param_blobs == 2
        top = self.new_blob()
        body = [f"inner_product_param {{ num_output: {outputs} {_bias_text(bias)}{_GAUSSIAN} }}"]
        layer = self.add(Layer(self.new_layer_name("InnerProduct"), "InnerProduct", [bottom], [top], body,
                               param_blobs=2 if bias else 1, num_output=outputs), [(BATCH, outputs)])
        if owner is not None:
            self.share_weights(owner, layer)
        earlier.append(layer)
        return top

    def share_weights(self, owner: Layer, sharer: Layer) -> None:
        """Give both layers' first parameter blobs one name, so Caffe shares them.

        The sharer either repeats the owner's spec (lr_mult and decay_mult agree) or names the
        blob only; its own default lr_mult 1 then decides its need for backward.
        """
        for index in range(self.rng.choice((1, owner.param_blobs))):
            owner_spec = _ensure_param_name(owner, index, f"shared_{owner.name}_{index}")
            name = _param_name(owner_spec)
            while len(sharer.params) <= index:
                sharer.params.append("param {}")
            sharer.params[index] = owner_spec if self.rng.random() < 0.5 else f'param {{ name: "{name}" }}'
        self.features.add("shared-params")

    def op_convolution(self) -> Optional[str]:
        bottom = self.pick(lambda b: len(b.shape) == 4 and b.int_range is None)
        if bottom is None:
            return None
        _, _, height, width = self.blobs[bottom].shape
        outputs = self.rng.choice((2, 3))
        bias = self.rng.random() < 0.7
        top = self.new_blob()
        body = [f"convolution_param {{ num_output: {outputs} kernel_size: 1 {_bias_text(bias)}{_GAUSSIAN} }}"]
        self.add(Layer(self.new_layer_name("Convolution"), "Convolution", [bottom], [top], body,
                       param_blobs=2 if bias else 1), [(BATCH, outputs, height, width)])
        return top

    def op_pooling(self) -> Optional[str]:
        bottom = self.pick(lambda b: len(b.shape) == 4 and b.int_range is None)
        if bottom is None:
            return None
        channels = self.blobs[bottom].shape[1]
        method = self.rng.choice(("MAX", "AVE"))
        tops = [self.new_blob() for _ in range(2 if method == "MAX" and self.rng.random() < 0.3 else 1)]
        body = [f"pooling_param {{ pool: {method} global_pooling: true }}"]
        self.add(Layer(self.new_layer_name("Pooling"), "Pooling", [bottom], tops, body),
                 [(BATCH, channels, 1, 1)] * len(tops))
        if len(tops) == 2:
            self.features.add("pooling-mask-top")
        return tops[0]

    def op_misc(self) -> Optional[str]:
        """Layers with their own backward habits: bottom diffs written whatever propagate_down says
        (MVN, LRN across channels, Im2col), a bottom never written (Crop's second), SSD's extras."""
        kinds = ("MVN", "LRN", "Im2col", "Exp", "Tile", "Reduction", "Deconvolution", "Crop", "Normalize", "Permute")
        if self.flavor == "bvlc":
            kinds = kinds[:-2]
        kind = self.rng.choice(tuple(k for k in kinds if k in _V1_TYPES) if self.v1_only else kinds)
        # (this MVN reshapes its top to 4 axes, so it gets 4-axis bottoms only)
        spatial = kind in ("MVN", "LRN", "Im2col", "Deconvolution", "Crop", "Normalize", "Permute")
        bottom = self.pick(lambda b: b.int_range is None and not b.loss_top
                           and (len(b.shape) == 4 if spatial else len(b.shape) >= 2))
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        bottoms, body, params, out_shape = [bottom], [], 0, shape
        if kind == "LRN":
            region = self.rng.choice(("ACROSS_CHANNELS", "WITHIN_CHANNEL"))
            body = [f"lrn_param {{ local_size: 3 norm_region: {region} }}"]
        elif kind == "Im2col":
            body = ["convolution_param { kernel_size: 1 }"]
        elif kind == "Tile":
            body = ["tile_param { axis: 1 tiles: 2 }"]
            out_shape = (shape[0], shape[1] * 2) + shape[2:]
        elif kind == "Reduction":
            body = [f"reduction_param {{ axis: 1 operation: {self.rng.choice(('SUM', 'ASUM', 'SUMSQ', 'MEAN'))} }}"]
            out_shape = (BATCH,)
        elif kind == "Deconvolution":
            bias = self.rng.random() < 0.5
            body = [f"convolution_param {{ num_output: 2 kernel_size: 1 {_bias_text(bias)}{_GAUSSIAN} }}"]
            params, out_shape = 1 + int(bias), (BATCH, 2) + shape[2:]
        elif kind == "Crop":
            bottoms.append(self.target_like(shape))
        elif kind == "Normalize":
            body = ["norm_param { across_spatial: false channel_shared: false "
                    "scale_filler { type: \"constant\" value: 2 } }"]
            params = 1
        elif kind == "Permute":
            body = ["permute_param { order: 0 order: 2 order: 3 order: 1 }"]
            out_shape = (shape[0], shape[2], shape[3], shape[1])
        top = self.new_blob()
        self.add(Layer(self.new_layer_name(kind), kind, bottoms, [top], body, param_blobs=params), [out_shape])
        self.features.add(kind)
        return top

    def op_softmax(self) -> Optional[str]:
        bottom = self.float_blob()
        if bottom is None:
            return None
        top = self.new_blob()
        self.add(Layer(self.new_layer_name("Softmax"), "Softmax", [bottom], [top]), [self.blobs[bottom].shape])
        return top

    def op_reshape_or_flatten(self) -> Optional[str]:
        bottom = self.pick(lambda b: len(b.shape) >= 2 and not b.loss_top)
        if bottom is None:
            return None
        blob = self.blobs[bottom]
        flat: Shape = (BATCH, _count(blob.shape) // BATCH)
        top = self.new_blob()
        if self.rng.random() < 0.5 and not self.v1_only:
            layer = Layer(self.new_layer_name("Reshape"), "Reshape", [bottom], [top],
                          ["reshape_param { shape { dim: 0 dim: -1 } }"])
            self.features.add("reshape")
        else:
            layer = Layer(self.new_layer_name("Flatten"), "Flatten", [bottom], [top])
            self.features.add("flatten")
        self.add(layer, [flat], [blob.int_range])
        return top

    def op_concat(self) -> Optional[str]:
        first = self.float_blob()
        if first is None:
            return None
        shape = self.blobs[first].shape
        same = self.candidates(lambda b: b.shape == shape and b.int_range is None and not b.loss_top)
        count = self.rng.choice((1, 1, 2, 2, 3))
        bottoms = [first] + [self.rng.choice(same) for _ in range(count - 1)]
        top = self.new_blob()
        out_shape = (shape[0], shape[1] * count) + shape[2:]
        self.add(Layer(self.new_layer_name("Concat"), "Concat", bottoms, [top]), [out_shape])
        self.features.add("concat-1" if count == 1 else "concat")
        return top

    def op_slice(self) -> Optional[str]:
        bottom = self.pick(lambda b: len(b.shape) >= 2 and b.int_range is None and not b.loss_top)
        if bottom is None:
            return None
        shape = self.blobs[bottom].shape
        divisors = [k for k in (1, 2, 3) if shape[1] % k == 0]
        count = self.rng.choice(divisors)
        tops = [self.new_blob() for _ in range(count)]
        out_shape = (shape[0], shape[1] // count) + shape[2:]
        self.add(Layer(self.new_layer_name("Slice"), "Slice", [bottom], tops, ["slice_param { axis: 1 }"]),
                 [out_shape] * count)
        self.features.add("slice-1" if count == 1 else "slice")
        return tops[0]

    def op_eltwise(self) -> Optional[str]:
        first = self.float_blob()
        if first is None:
            return None
        shape = self.blobs[first].shape
        same = self.candidates(lambda b: b.shape == shape and b.int_range is None and not b.loss_top)
        bottoms = [first] + [self.rng.choice(same) for _ in range(self.rng.choice((1, 1, 2)))]
        operation = self.rng.choice(("SUM", "PROD", "MAX"))
        in_place = self.can_write_in_place(first) and first not in bottoms[1:] and self.rng.random() < 0.25
        top = first if in_place else self.new_blob()
        self.add(Layer(self.new_layer_name("Eltwise"), "Eltwise", bottoms, [top],
                       [f"eltwise_param {{ operation: {operation} }}"]), [shape])
        self.features.add("eltwise")
        return top

    def op_split(self) -> Optional[str]:
        bottom = self.float_blob()
        if bottom is None:
            return None
        tops = [self.new_blob() for _ in range(self.rng.choice((1, 2, 3)))]
        self.add(Layer(self.new_layer_name("Split"), "Split", [bottom], tops), [self.blobs[bottom].shape] * len(tops))
        self.features.add("split-explicit")
        return tops[0]

    def op_embed(self) -> Optional[str]:
        indices = self.pick(lambda b: b.int_range is not None and len(b.shape) == 1)
        if indices is None:
            indices = self.add_dummy((BATCH,), self.rng.randrange(3))
        vocabulary = max(self.blobs[indices].int_range or 1, 3)
        outputs = self.rng.choice((2, 3))
        bias = self.rng.random() < 0.7
        top = self.new_blob()
        body = [f"embed_param {{ num_output: {outputs} input_dim: {vocabulary} "
                f"{_bias_text(bias)}{_GAUSSIAN} }}"]
        self.add(Layer(self.new_layer_name("Embed"), "Embed", [indices], [top], body, param_blobs=2 if bias else 1),
                 [(BATCH, outputs)])
        self.features.add("embed")
        return top

    def op_silence(self) -> Optional[str]:
        bottoms = [b for b in (self.pick(), self.pick()) if b is not None][: self.rng.choice((1, 2))]
        if not bottoms:
            return None
        self.add(Layer(self.new_layer_name("Silence"), "Silence", bottoms, []), [])
        self.features.add("silence")
        return None

    def op_accuracy(self) -> Optional[str]:
        prediction = self.vector()
        classes = self.blobs[prediction].shape[1]
        label = self.label_for(classes)
        top = self.new_blob("acc")
        layer = Layer(self.new_layer_name("Accuracy"), "Accuracy", [prediction, label], [top])
        self.maybe_phase_rule(layer)
        self.add(layer, [()])
        self.features.add("accuracy")
        return None

    def op_loss(self) -> Optional[str]:
        kinds = ("EuclideanLoss", "SoftmaxWithLoss", "SigmoidCrossEntropyLoss", "EuclideanLoss", "SoftmaxWithLoss",
                 "MultinomialLogisticLoss", "HingeLoss", "ContrastiveLoss", "InfogainLoss", "SmoothL1Loss")
        if self.flavor == "bvlc":
            kinds = kinds[:-1]
        kind = self.rng.choice(tuple(k for k in kinds if k in _V1_TYPES) if self.v1_only else kinds)
        if kind in ("SoftmaxWithLoss", "MultinomialLogisticLoss", "HingeLoss", "InfogainLoss"):
            prediction = self.vector()
            classes = self.blobs[prediction].shape[1]
            bottoms = [prediction, self.label_for(classes)]
            if kind == "InfogainLoss":  # the third bottom is the information-gain matrix H
                matrix = self.add_dummy((1, 1, classes, classes))
                self.blobs[matrix].private = True
                bottoms.append(matrix)
        elif kind == "ContrastiveLoss":
            first = self.vector()
            shape = self.blobs[first].shape
            bottoms = [first, self.target_like(shape), self.add_dummy((BATCH, 1, 1, 1), self.rng.randrange(2))]
        else:
            first = self.float_blob() or self.vector()
            # a target that needs backward makes SigmoidCrossEntropyLoss abort: keep it rare
            reuse = 0.5 if kind in ("EuclideanLoss", "SmoothL1Loss") else 0.2
            bottoms = [first, self.target_like(self.blobs[first].shape, reuse)]
        auto_top = self.rng.random() < 0.2
        tops = [] if auto_top else [self.new_blob("loss")]
        layer = Layer(self.new_layer_name(kind), kind, bottoms, tops)
        self.maybe_phase_rule(layer)
        self.consume(bottoms, conditional=bool(layer.rules))
        if tops:
            self.blobs[tops[0]] = Blob(shape=(), loss_top=True, private=bool(layer.rules))
            if self.rng.random() < 0.4:
                layer.loss_weights = [self.rng.choice((0, 0.5, 1, 2))]
                self.features.add("loss-explicit-weight")
                self.note_explicit_losses(layer)
            else:
                self.features.add("loss-implicit-weight")
        else:
            self.features.add("automatic-top")
        if not self.v1_only and self.rng.random() < 0.15:
            # asking for a label's gradient aborts Backward in most loss layers: keep it rare
            layer.propagate_down = [self.rng.random() < (0.6 if j == 0 else 0.2) for j in range(len(bottoms))]
            self.features.update(f"propagate_down-{str(p).lower()}" for p in layer.propagate_down)
        self.layers.append(layer)
        self.features.add(kind)
        return tops[0] if tops else None

    def op_consume_loss(self) -> Optional[str]:
        """A layer reading a loss top: Power, Silence, or an in-place ReLU."""
        losses = self.candidates(lambda b: b.loss_top)
        if not losses:
            return None
        bottom = self.rng.choice(losses)
        choice = self.rng.random()
        if choice < 0.35 and self.can_write_in_place(bottom):
            layer = Layer(self.new_layer_name("ReLU"), "ReLU", [bottom], [bottom])
        elif choice < 0.7:
            layer = Layer(self.new_layer_name("Power"), "Power", [bottom], [self.new_blob()],
                          ["power_param { scale: 3 }"])
            if self.rng.random() < 0.5:
                layer.loss_weights = [1]
        else:
            layer = Layer(self.new_layer_name("Silence"), "Silence", [bottom], [])
            self.features.add("silence")
        self.consume([bottom])
        for top in layer.tops:
            if top != bottom:
                self.blobs[top] = Blob(shape=(), loss_top=True)
        self.note_explicit_losses(layer)
        self.layers.append(layer)
        self.features.add("loss-top-consumed")
        return None

    def maybe_phase_rule(self, layer: Layer) -> None:
        """Leaf layers only (nothing else reads their tops), so filtering them never breaks the net."""
        if self.rng.random() < 0.3:
            layer.rules = [self.random_rule()]

    def random_rule(self, keyword: Optional[str] = None) -> str:
        rng = self.rng
        keyword = keyword or rng.choice(("include", "include", "exclude"))
        parts = []
        if rng.random() < 0.6:
            parts.append(f"phase: {rng.choice(('TRAIN', 'TEST'))}")
        if rng.random() < 0.25:
            parts.append(f"min_level: {rng.randint(0, 2)}")
        if rng.random() < 0.15:
            parts.append(f"max_level: {rng.randint(0, 1)}")
        if rng.random() < 0.3:
            parts.append(f'stage: "{rng.choice(STAGES)}"')
        if rng.random() < 0.15:
            parts.append(f'not_stage: "{rng.choice(STAGES)}"')
        self.features.add(keyword)
        return f"{keyword} {{ {' '.join(parts)} }}"

    def op_conditional_leaf(self) -> Optional[str]:
        """A side layer present only in some states (e.g. a TEST-only ReLU copy)."""
        bottom = self.float_blob()
        if bottom is None:
            return None
        layer = Layer(self.new_layer_name("TanH"), "TanH", [bottom], [self.new_blob()])
        layer.rules = [self.random_rule()]
        if self.rng.random() < 0.3:  # several rules of one kind are OR-ed
            layer.rules.append(self.random_rule(layer.rules[0].split()[0]))
        self.consume([bottom], conditional=True)
        self.blobs[layer.tops[0]] = Blob(shape=self.blobs[bottom].shape, private=True)
        self.layers.append(layer)
        return None


_LOSS_TYPES: FrozenSet[str] = frozenset({"EuclideanLoss", "SoftmaxWithLoss", "SigmoidCrossEntropyLoss",
                                         "MultinomialLogisticLoss", "HingeLoss", "ContrastiveLoss",
                                         "InfogainLoss", "SmoothL1Loss"})

_OPERATIONS: Tuple[Tuple[str, float], ...] = (
    ("op_neuron", 5), ("op_batch_norm", 2), ("op_scale_or_bias", 2.5), ("op_inner_product", 3),
    ("op_convolution", 2), ("op_pooling", 1), ("op_softmax", 0.7), ("op_reshape_or_flatten", 1.5),
    ("op_misc", 2), ("op_concat", 1.5), ("op_slice", 1.5), ("op_eltwise", 1.5), ("op_split", 0.7), ("op_embed", 0.7),
    ("op_silence", 0.5), ("op_threshold_or_argmax", 0.5), ("op_accuracy", 0.5), ("op_conditional_leaf", 0.6),
)


#: operations whose layer types the V1 format does not have
_NOT_IN_V1: FrozenSet[str] = frozenset({"op_batch_norm", "op_scale_or_bias", "op_embed"})


def _build_valid(builder: _Builder) -> None:
    rng = builder.rng
    builder.add_input() if rng.random() < 0.6 else builder.add_dummy()
    if rng.random() < 0.3:
        builder.add_dummy()
    if rng.random() < 0.15 and not builder.v1_only:
        builder.add_parameter()
    operations = [(name, weight) for name, weight in _OPERATIONS
                  if not (builder.v1_only and name in _NOT_IN_V1)]
    names = [name for name, _ in operations]
    weights = [weight for _, weight in operations]
    for _ in range(rng.randint(2, 9)):
        getattr(builder, rng.choices(names, weights)[0])()
    loss_count = rng.choice((0, 1, 1, 1, 2, 2, 3))
    for _ in range(loss_count):
        builder.op_loss()
    if loss_count and rng.random() < 0.3:
        builder.op_consume_loss()
    if rng.random() < (0.35 if loss_count == 0 else 0.1):
        builder.force_backward = True
        builder.features.add("force_backward")
    if rng.random() < 0.05:
        builder.features.add("duplicate-layer-names")
        _duplicate_a_layer_name(builder)


def _duplicate_a_layer_name(builder: _Builder) -> None:
    """Give a parameter-free layer the name of another one (Caffe allows it)."""
    free = [layer for layer in builder.layers if layer.param_blobs == 0 and layer.type != "Input"]
    if len(free) >= 2:
        first, second = builder.rng.sample(free, 2)
        second.name = first.name


# ---------------------------------------------------------------------------
# Invalid variants: one mutation each, with the message Caffe should die with
# ---------------------------------------------------------------------------


def _plain_layers(builder: _Builder, accept: Callable[[Layer], bool]) -> List[Layer]:
    return [layer for layer in builder.layers if not layer.rules and accept(layer)]


def _mutate(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """Apply one mutation; the seed picks which one is tried first, so every kind shows up often."""
    mutations: List[Callable[[_Builder], Optional[Tuple[str, Tuple[str, ...]]]]] = [
        _mut_unknown_bottom, _mut_duplicate_top, _mut_in_place_after_consumer, _mut_propagate_down_count,
        _mut_loss_weight_count, _mut_too_many_params, _mut_include_and_exclude, _mut_unknown_type,
        _mut_bottom_count, _mut_top_count, _mut_softmax_two_tops, _mut_forbidden_in_place,
        _mut_shared_lr_mismatch,
    ]
    first = builder.seed % len(mutations)
    for mutation in mutations[first:] + mutations[:first]:
        result = mutation(builder)
        if result is not None:
            return result
    return None


def _mut_unknown_bottom(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: bool(layer.bottoms))
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    index = builder.rng.randrange(len(layer.bottoms))
    if index < len(layer.tops) and layer.tops[index] == layer.bottoms[index]:
        layer.tops[index] = builder.new_blob()
    layer.bottoms[index] = "no_such_blob"
    return "unknown-bottom", ("Unknown bottom blob 'no_such_blob'",)


def _mut_duplicate_top(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """A new last layer writes a blob an earlier layer produced, not in place."""
    bottom = builder.float_blob()
    targets = builder.candidates(lambda b: True)
    targets = [t for t in targets if t != bottom]
    if bottom is None or not targets:
        return None
    builder.layers.append(Layer(builder.new_layer_name("TanH"), "TanH", [bottom], [builder.rng.choice(targets)]))
    return "duplicate-top", ("produced by multiple sources",)


def _mut_in_place_after_consumer(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """An in-place ReLU on a blob some earlier layer already read: the split renames its bottom only."""
    candidates = builder.candidates(lambda b: (b.surely_consumed or b.explicit_loss) and not b.loss_top)
    if not candidates:
        return None
    name = builder.rng.choice(candidates)
    builder.layers.append(Layer(builder.new_layer_name("ReLU"), "ReLU", [name], [name]))
    return "inplace-on-split-blob", ("produced by multiple sources",)


def _mut_propagate_down_count(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: bool(layer.bottoms))
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    layer.propagate_down = [True] * (len(layer.bottoms) + builder.rng.choice((1, 2)))
    return "propagate_down-count", ("propagate_down param must be specified",)


def _mut_loss_weight_count(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: bool(layer.tops) and layer.type not in ("Input",))
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    top_count = max(len(layer.tops), 1 if layer.type in _LOSS_TYPES else 0)  # a loss layer gets an automatic top
    layer.loss_weights = [0.0] * (top_count + 1)
    return "loss_weight-count", ("loss_weight must be unspecified or specified once per top blob",)


def _mut_too_many_params(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: layer.type not in ("Input", "DummyData", "Parameter"))
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    layer.params = ["param { lr_mult: 0 }"] * (layer.param_blobs + 1)
    return "too-many-params", ("Too many params specified for layer",)


def _mut_include_and_exclude(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layer = builder.rng.choice(builder.layers)
    layer.rules = ["include { phase: TRAIN }", "exclude { phase: TEST }"]
    return "include-and-exclude", ("Specify either include rules or exclude rules; not both",)


def _mut_unknown_type(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: layer.type in _NEURONS + ("InnerProduct", "Softmax"))
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    layer.type = "NoSuchLayer"
    layer.body = []
    return "unknown-type", ("Unknown layer type: NoSuchLayer",)


def _mut_bottom_count(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: layer.type in _LOSS_TYPES | {"InnerProduct", "Softmax", "Eltwise"})
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    if layer.type == "Eltwise":
        layer.bottoms = layer.bottoms[:1]  # needs at least two
    elif layer.type in ("InnerProduct", "Softmax"):
        layer.bottoms = layer.bottoms + [layer.bottoms[0]]
    else:
        layer.bottoms = layer.bottoms + [layer.bottoms[-1]] * 2
    layer.propagate_down = []
    return "bottom-count", ("bottom blob(s)",)


def _mut_top_count(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    kinds = ("InnerProduct", "Softmax", "Concat", "ReLU", "Sigmoid")
    layers = _plain_layers(builder, lambda layer: layer.type in kinds)
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    layer.tops = layer.tops + [builder.new_blob()]
    layer.loss_weights = []
    return "top-count", ("top blob(s)",)


def _mut_softmax_two_tops(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    layers = _plain_layers(builder, lambda layer: layer.type == "SoftmaxWithLoss")
    if not layers:
        return None
    layer = builder.rng.choice(layers)
    while len(layer.tops) < 2:
        layer.tops.append(builder.new_blob("loss"))
    layer.loss_weights = [1.0] * builder.rng.choice((0, 1, 2))
    return "softmaxwithloss-two-tops", ("loss_weight must be unspecified or specified once per top blob",)


def _mut_shared_lr_mismatch(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """A copy of an InnerProduct sharing its weights with another explicit lr_mult or decay_mult."""
    owners = _plain_layers(builder, lambda layer: layer.type == "InnerProduct")
    if not owners:
        return None
    owner = builder.rng.choice(owners)
    spec = _ensure_param_name(owner, 0, f"shared_{owner.name}_0")
    name = _param_name(spec)
    field = builder.rng.choice(("lr_mult", "decay_mult"))
    owner.params[0] = f'param {{ name: "{name}" {field}: 1 }}'
    twin = Layer(builder.new_layer_name("InnerProduct"), "InnerProduct", list(owner.bottoms), [builder.new_blob()],
                 list(owner.body), params=[f'param {{ name: "{name}" {field}: 0 }}'], param_blobs=owner.param_blobs)
    builder.layers.append(twin)
    return "shared-lr-mismatch", (f"has mismatched {field}",)


def _mut_forbidden_in_place(builder: _Builder) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """A layer type that refuses in-place computation, written in place on a fresh blob."""
    bottom = builder.pick(lambda b: len(b.shape) >= 2 and b.int_range is None and not b.consumed
                          and not b.explicit_loss and not b.loss_top)
    if bottom is None:
        return None
    kind = builder.rng.choice(("Flatten", "Reshape", "AbsVal", "Split"))
    body = ["reshape_param { shape { dim: 0 dim: -1 } }"] if kind == "Reshape" else []
    builder.layers.append(Layer(builder.new_layer_name(kind), kind, [bottom], [bottom], body))
    return "forbidden-in-place", ("in-place computation", "in-place", "Layer does not allow")


# ---------------------------------------------------------------------------
# Rendering and the entry point
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# The V1 format (`layers { type: ENUM }`), which Caffe upgrades when it reads a file
# ---------------------------------------------------------------------------

_V1_TYPES: Dict[str, str] = {
    "AbsVal": "ABSVAL", "Accuracy": "ACCURACY", "ArgMax": "ARGMAX", "BNLL": "BNLL", "Concat": "CONCAT",
    "ContrastiveLoss": "CONTRASTIVE_LOSS", "Convolution": "CONVOLUTION", "Deconvolution": "DECONVOLUTION",
    "Dropout": "DROPOUT", "DummyData": "DUMMY_DATA", "EuclideanLoss": "EUCLIDEAN_LOSS", "Eltwise": "ELTWISE",
    "Exp": "EXP", "Flatten": "FLATTEN", "HingeLoss": "HINGE_LOSS", "Im2col": "IM2COL",
    "InfogainLoss": "INFOGAIN_LOSS", "InnerProduct": "INNER_PRODUCT", "LRN": "LRN",
    "MultinomialLogisticLoss": "MULTINOMIAL_LOGISTIC_LOSS", "MVN": "MVN", "Pooling": "POOLING", "Power": "POWER",
    "ReLU": "RELU", "Sigmoid": "SIGMOID", "SigmoidCrossEntropyLoss": "SIGMOID_CROSS_ENTROPY_LOSS",
    "Silence": "SILENCE", "Softmax": "SOFTMAX", "SoftmaxWithLoss": "SOFTMAX_LOSS", "Split": "SPLIT",
    "Slice": "SLICE", "TanH": "TANH", "Threshold": "THRESHOLD",
}
_SPEC_FIELD = re.compile(r"(lr_mult|decay_mult): ([-\d.]+)")


def _v1_expressible(layer: Layer) -> bool:
    """V1 has the type, no propagate_down, and (to keep shared lr_mults consistent) no named params.

    A plain first Input layer is written as the net's legacy ``input:`` fields instead.
    """
    if layer.type == "Input":
        return not (layer.rules or layer.loss_weights or layer.params)
    return (layer.type in _V1_TYPES and not layer.propagate_down
            and not any(_param_name(spec) for spec in layer.params))


def _render_v1(layer: Layer) -> str:
    """The layer as a V1 ``layers`` entry: param specs become blobs_lr / weight_decay lists."""
    v2 = layer.render()
    lines = [line for line in v2.splitlines()[1:-1] if not line.startswith("  param ")]
    lines = [f"  type: {_V1_TYPES[layer.type]}" if line.startswith("  type: ") else line for line in lines]
    specs = [dict(_SPEC_FIELD.findall(spec)) for spec in layer.params]
    for key, v1_field in (("lr_mult", "blobs_lr"), ("decay_mult", "weight_decay")):
        given = [i for i, spec in enumerate(specs) if key in spec]
        if given:  # positional lists: fill the gaps before the last given value with the default 1
            lines += [f"  {v1_field}: {spec.get(key, '1')}" for spec in specs[: given[-1] + 1]]
    return "layers {\n" + "\n".join(lines) + "\n}\n"


def _choose_format(builder: _Builder) -> str:
    """"v2", "v1" (every layer written the old way) or, for a refused net, "mixed"."""
    if not all(_v1_expressible(layer) for layer in builder.layers) or len(builder.layers) < 3:
        return "v2"
    if any(layer.type == "Input" for layer in builder.layers[1:]) or builder.legacy_inputs:
        return "v2"
    roll = builder.format_rng.random()
    if builder.v1_only:
        return "mixed" if roll < 0.1 else "v1"
    return "v1" if roll < 0.3 else "v2"


def _render(builder: _Builder, name: str, layer_format: str = "v2") -> str:
    header = [f'name: "{name}"']
    if builder.force_backward:
        header.append("force_backward: true")
    layers = builder.layers
    if layer_format != "v2" and layers[0].type == "Input":
        builder.legacy_inputs = [(top, builder.blobs[top].shape) for top in layers[0].tops]
        layers = layers[1:]
    for top, _ in builder.legacy_inputs:
        header.append(f'input: "{top}"')
    for _, shape in builder.legacy_inputs:
        header.append("input_shape { " + " ".join(f"dim: {d}" for d in shape) + " }")
    if layer_format == "v1":
        body = "".join(_render_v1(layer) for layer in layers)
    elif layer_format == "mixed":  # Caffe refuses to upgrade a net with both `layer` and `layers`
        body = layers[0].render() + "".join(_render_v1(layer) for layer in layers[1:])
    else:
        body = "".join(layer.render() for layer in layers)
    return "\n".join(header) + "\n" + body


def _has_loss(builder: _Builder) -> bool:
    for layer in builder.layers:
        if layer.loss_weights:
            if any(w != 0 for w in layer.loss_weights):
                return True
        elif layer.type in _LOSS_TYPES:
            return True
    return False


def _random_state(rng: random.Random) -> Tuple[str, int, Tuple[str, ...]]:
    phase = "TRAIN" if rng.random() < 0.7 else "TEST"
    level = rng.choice((0, 0, 0, 1, 2))
    stages = tuple(s for s in STAGES if rng.random() < 0.25)
    return phase, level, stages


def generate(seed: int, *, invalid_rate: float = 0.2, flavor: str = "ssd") -> RandomNet:
    """One random net, the same for the same seed and flavour."""
    builder = _Builder(seed, flavor)
    _build_valid(builder)
    phase, level, stages = _random_state(builder.rng)
    if phase == "TEST":
        builder.features.add("phase-TEST")
    if not _has_loss(builder):
        builder.features.add("no-loss")
    mutation: Optional[Tuple[str, Tuple[str, ...]]] = None
    if builder.rng.random() < invalid_rate:
        mutation = _mutate(builder)
    layer_format = _choose_format(builder)
    if layer_format == "mixed":
        if mutation is None:
            mutation = ("layer-and-layers", ("includes both 'layer' and 'layers' fields",))
        else:
            layer_format = "v1"
    if layer_format == "v1":
        builder.features.add("v1-format")
    if mutation is not None:
        builder.features.add(f"invalid:{mutation[0]}")
    return RandomNet(
        seed=seed,
        text=_render(builder, f"randnet_{seed}", layer_format),
        valid=mutation is None,
        features=frozenset(builder.features),
        phase=phase,
        level=level,
        stages=stages,
        mutation=mutation[0] if mutation else None,
        refusal=mutation[1] if mutation else (),
        has_loss=_has_loss(builder),
    )
