"""Stage 2: Caffe's ``UpgradeNetAsNeeded``, step by step, in Caffe's order.

Citations: ``U:`` is BVLC/caffe at 9b89154, ``L:`` is brocolli-caffe 9.0.2
(the oracle). Both trees run the same steps in ``src/caffe/util/upgrade_proto.cpp``
(U:23-86, L:21-83); they differ only in the last one (see ``flavors.py``):

1. V0 -> V1 (``UpgradeV0Net``), when any ``layers`` entry holds a V0 ``layer {}``;
2. data transformation fields -> ``transform_param`` (``UpgradeNetDataTransformation``);
3. V1 -> V2 (``UpgradeV1Net``): ``layers`` -> ``layer``;
4. deprecated ``input`` fields -> an ``Input`` layer (``UpgradeNetInput``);
5. BatchNorm layers with exactly three ``param {}`` (``UpgradeNetBatchNorm``).

Caffe's CHECKs and LOG(FATAL)s become ``NetRefused(kind="upgrade")``; what it
only LOG(ERROR)s or LOG(WARNING)s becomes a ``Warning_``. A few more warnings
point out what Caffe drops silently. The input tree is never modified: every
changed message is a new ``Message``; upgraded layers keep the position and
comments of the block they came from.
"""
from __future__ import annotations

from backprop_lint.caffe.flavors import BatchNormUpgrade, Flavor
from backprop_lint.caffe.model import Location, Message, NetRefused, Warning_
from backprop_lint.caffe.schema.tables import MESSAGES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Tuple

#: Warning_.kind of Caffe's own LOG(ERROR) lines (same wording), and of NetRefused from this stage
UPGRADE_KIND = "upgrade"
#: Warning_.kind of Caffe's own LOG(WARNING) "Note that future Caffe releases will ..." notes
DEPRECATED_KIND = "deprecated"
#: Warning_.kind of what Caffe accepts silently but will hurt (an empty layer type, reads past a list)
HAZARD_KIND = "upgrade-hazard"
#: Warning_.kind of things Caffe's upgrade drops without a word
DROPPED_KIND = "upgrade-dropped"
#: Warning_.kind of the BatchNorm param rewrite (Caffe is silent about it)
BATCHNORM_KIND = "batchnorm-upgrade"

# ---------------------------------------------------------------------------
# Caffe's tables, as data
# ---------------------------------------------------------------------------

#: UpgradeV0LayerType (L:562-615): V0 type string -> V1 LayerType enum name
V0_LAYER_TYPES: Dict[str, str] = {
    "accuracy": "ACCURACY",
    "bnll": "BNLL",
    "concat": "CONCAT",
    "conv": "CONVOLUTION",
    "data": "DATA",
    "dropout": "DROPOUT",
    "euclidean_loss": "EUCLIDEAN_LOSS",
    "flatten": "FLATTEN",
    "hdf5_data": "HDF5_DATA",
    "hdf5_output": "HDF5_OUTPUT",
    "im2col": "IM2COL",
    "images": "IMAGE_DATA",
    "infogain_loss": "INFOGAIN_LOSS",
    "innerproduct": "INNER_PRODUCT",
    "lrn": "LRN",
    "multinomial_logistic_loss": "MULTINOMIAL_LOGISTIC_LOSS",
    "pool": "POOLING",
    "relu": "RELU",
    "sigmoid": "SIGMOID",
    "softmax": "SOFTMAX",
    "softmax_loss": "SOFTMAX_LOSS",
    "split": "SPLIT",
    "tanh": "TANH",
    "window_data": "WINDOW_DATA",
}

#: V0 type strings that nets use but no Caffe whose source we have registers (BVLC/caffe's branches and
#: its 2,267 stored pull requests, the forks of caffe/packs): why, and what to write instead
V0_TYPES_NO_CAFFE_HAS: Dict[str, Tuple[str, str]] = {
    # `git log --all -S locally_connected` over BVLC/caffe (3,284 pull refs) finds it only in PR #216's
    # examples/deepface/deepface_train.prototxt (c95fc4d63cb8cca4a8596e33f2900568412e3294), whose
    # src/caffe/layer_factory.cpp:21-66 has no such name
    "locally_connected": (
        "no Caffe in BVLC/caffe's history or its pull requests registers the V0 type `locally_connected`: "
        "PR #216 (c95fc4d) shipped this DeepFace net without the layer",
        "No stored fork has a fully unshared (locally connected) convolution either; the closest is BVLC PR "
        "#6302's `LocalConvolution` (91401bc, a separate kernel bank per input region), which no layer pack "
        "describes. Rewrite the layer in the `layer {}` format for the Caffe that implements it, or use "
        "`Convolution` if shared weights will do",
    ),
}

#: UpgradeV1LayerType (L:885-971): V1 LayerType enum name -> V2 type string
V1_LAYER_TYPES: Dict[str, str] = {
    "NONE": "",
    "ABSVAL": "AbsVal",
    "ACCURACY": "Accuracy",
    "ARGMAX": "ArgMax",
    "BNLL": "BNLL",
    "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss",
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "DATA": "Data",
    "DROPOUT": "Dropout",
    "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss",
    "ELTWISE": "Eltwise",
    "EXP": "Exp",
    "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data",
    "HDF5_OUTPUT": "HDF5Output",
    "HINGE_LOSS": "HingeLoss",
    "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData",
    "INFOGAIN_LOSS": "InfogainLoss",
    "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN",
    "MEMORY_DATA": "MemoryData",
    "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN",
    "POOLING": "Pooling",
    "POWER": "Power",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence",
    "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss",
    "SPLIT": "Split",
    "SLICE": "Slice",
    "TANH": "TanH",
    "WINDOW_DATA": "WindowData",
    "THRESHOLD": "Threshold",
}

#: UpgradeV0LayerParameter (L:210-560): V0 field -> {V0 type: (V1 sub-message field, its field)}.
#: Type "*" means any type. In Caffe's order, which is the order of its LOG(ERROR)s.
V0_FIELD_TARGETS: Dict[str, Dict[str, Tuple[str, str]]] = {
    "num_output": {
        "conv": ("convolution_param", "num_output"),
        "innerproduct": ("inner_product_param", "num_output"),
    },
    "biasterm": {
        "conv": ("convolution_param", "bias_term"),
        "innerproduct": ("inner_product_param", "bias_term"),
    },
    "weight_filler": {
        "conv": ("convolution_param", "weight_filler"),
        "innerproduct": ("inner_product_param", "weight_filler"),
    },
    "bias_filler": {
        "conv": ("convolution_param", "bias_filler"),
        "innerproduct": ("inner_product_param", "bias_filler"),
    },
    "pad": {"conv": ("convolution_param", "pad"), "pool": ("pooling_param", "pad")},
    "kernelsize": {"conv": ("convolution_param", "kernel_size"), "pool": ("pooling_param", "kernel_size")},
    "group": {"conv": ("convolution_param", "group")},
    "stride": {"conv": ("convolution_param", "stride"), "pool": ("pooling_param", "stride")},
    "pool": {"pool": ("pooling_param", "pool")},
    "dropout_ratio": {"dropout": ("dropout_param", "dropout_ratio")},
    "local_size": {"lrn": ("lrn_param", "local_size")},
    "alpha": {"lrn": ("lrn_param", "alpha")},
    "beta": {"lrn": ("lrn_param", "beta")},
    "k": {"lrn": ("lrn_param", "k")},
    "source": {
        "data": ("data_param", "source"),
        "hdf5_data": ("hdf5_data_param", "source"),
        "images": ("image_data_param", "source"),
        "window_data": ("window_data_param", "source"),
        "infogain_loss": ("infogain_loss_param", "source"),
    },
    "scale": {"*": ("transform_param", "scale")},
    "meanfile": {"*": ("transform_param", "mean_file")},
    "batchsize": {
        "data": ("data_param", "batch_size"),
        "hdf5_data": ("hdf5_data_param", "batch_size"),
        "images": ("image_data_param", "batch_size"),
        "window_data": ("window_data_param", "batch_size"),
    },
    "cropsize": {"*": ("transform_param", "crop_size")},
    "mirror": {"*": ("transform_param", "mirror")},
    "rand_skip": {"data": ("data_param", "rand_skip"), "images": ("image_data_param", "rand_skip")},
    "shuffle_images": {"images": ("image_data_param", "shuffle")},
    "new_height": {"images": ("image_data_param", "new_height")},
    "new_width": {"images": ("image_data_param", "new_width")},
    "concat_dim": {"concat": ("concat_param", "concat_dim")},
    "det_fg_threshold": {"window_data": ("window_data_param", "fg_threshold")},
    "det_bg_threshold": {"window_data": ("window_data_param", "bg_threshold")},
    "det_fg_fraction": {"window_data": ("window_data_param", "fg_fraction")},
    "det_context_pad": {"window_data": ("window_data_param", "context_pad")},
    "det_crop_mode": {"window_data": ("window_data_param", "crop_mode")},
    "hdf5_output_param": {"hdf5_output": ("hdf5_output_param", "")},  # "": the whole message
}

#: the name Caffe's LOG(ERROR) uses where it differs from the field's
_V0_FIELD_LOG_NAMES: Dict[str, str] = {"shuffle_images": "shuffle"}

#: V0PoolMethod -> PoolingParameter.PoolMethod (the switch at L:349-366)
_V0_POOL_METHODS: Dict[str, str] = {"MAX": "MAX", "AVE": "AVE", "STOCHASTIC": "STOCHASTIC"}

#: V0 fields UpgradeV0LayerParameter copies verbatim (blobs_lr/weight_decay stay V1 lists)
_V0_VERBATIM_FIELDS: Tuple[str, ...] = ("blobs", "blobs_lr", "weight_decay")

#: net-level fields UpgradeV0Net keeps (L:124-149); everything else is lost
_V0_NET_KEPT_FIELDS: Tuple[str, ...] = ("name", "layers", "input", "input_dim", "force_backward")

#: CONVERT_LAYER_TRANSFORM_PARAM (L:617-676): V1 type -> its data sub-message
DATA_UPGRADE_PARAMS: Dict[str, str] = {
    "DATA": "data_param",
    "IMAGE_DATA": "image_data_param",
    "WINDOW_DATA": "window_data_param",
}
DATA_TRANSFORM_FIELDS: Tuple[str, ...] = ("scale", "mean_file", "crop_size", "mirror")

#: fields UpgradeV1LayerParameter copies as they are (L:700-883), besides type and the param lists
_V1_COPIED_FIELDS: Tuple[str, ...] = (
    "bottom", "top", "name", "include", "exclude", "blobs", "loss_weight",
    "accuracy_param", "argmax_param", "concat_param", "contrastive_loss_param",
    "convolution_param", "data_param", "dropout_param", "dummy_data_param",
    "eltwise_param", "exp_param", "hdf5_data_param", "hdf5_output_param",
    "hinge_loss_param", "image_data_param", "infogain_loss_param",
    "inner_product_param", "lrn_param", "memory_data_param", "mvn_param",
    "pooling_param", "power_param", "relu_param", "sigmoid_param",
    "softmax_param", "slice_param", "tanh_param", "threshold_param",
    "window_data_param", "transform_param", "loss_param",
)
#: V1 list -> the ParamSpec field spec i takes from its entry i (L:727-755)
V1_PARAM_SOURCES: Tuple[Tuple[str, str], ...] = (
    ("param", "name"),
    ("blob_share_mode", "share_mode"),
    ("blobs_lr", "lr_mult"),
    ("weight_decay", "decay_mult"),
)
_V1_SHARE_MODES: Dict[str, str] = {"STRICT": "STRICT", "PERMISSIVE": "PERMISSIVE"}

INPUT_LAYER_NAME = "input"
INPUT_LAYER_TYPE = "Input"
_INPUT_FIELDS: Tuple[str, ...] = ("input", "input_shape", "input_dim")

V0_DEPRECATION_NOTE = (
    "Note that future Caffe releases will not support V0NetParameter; use "
    "./build/tools/upgrade_net_proto_text for prototxt and ./build/tools/upgrade_net_proto_binary "
    "for model weights upgrade this and any other net protos to the new format."
)
DATA_DEPRECATION_NOTE = (
    "Note that future Caffe releases will only support transform_param messages for transformation fields."
)
INPUT_DEPRECATION_NOTE = "Note that future Caffe releases will only support input layers and not input fields."
V0_PROBLEMS_SUMMARY = (
    "Warning: had one or more problems upgrading V0NetParameter to NetParameter (see above); continuing anyway."
)
V1_PROBLEMS_SUMMARY = "Warning: had one or more problems upgrading V1LayerParameter (see above); continuing anyway."

BOTH_LAYER_AND_LAYERS = (
    "Refusing to upgrade inconsistent NetParameter input; the definition includes both "
    "'layer' and 'layers' fields. The current format defines 'layer' fields with string "
    "type like layer { type: 'Layer' ... } and not layers { type: LAYER ... }. Manually "
    "switch the definition to 'layer' format to continue."
)


# ---------------------------------------------------------------------------
# Small helpers on Message
# ---------------------------------------------------------------------------


class _Context:
    """One upgrade's file and the warnings it collects (a plain class: nothing compares or prints it)."""

    __slots__ = ("file", "warnings", "v1_types", "v1_carried")

    def __init__(self, file: str, packs: Tuple[str, ...] = ()) -> None:
        self.file = file
        self.warnings: List[Warning_] = []
        #: V1 enum value -> type name, Caffe's table plus the enabled packs' (a fork's own V1 values)
        self.v1_types: Dict[str, str] = V1_LAYER_TYPES
        #: V1 layer fields the enabled packs' forks have, kept by the V1 -> V2 step
        self.v1_carried: Tuple[str, ...] = ()
        if packs:
            from backprop_lint.caffe.schema import packs as pack_schema

            self.v1_types = dict(V1_LAYER_TYPES)
            for pack in packs:
                for v1_type, type_name in pack_schema.V1_LAYER_TYPES.get(pack, {}).items():
                    self.v1_types.setdefault(v1_type, type_name)
                self.v1_carried += pack_schema.V1_CARRIED_FIELDS.get(pack, ())

    def where(self, message: Optional[Message], field_name: Optional[str] = None) -> Location:
        """The location of ``message`` (or of its field ``field_name``, when known)."""
        if message is None:
            return Location(self.file)
        if field_name is not None and field_name in message.positions:
            line, col = message.positions[field_name]
            return Location(self.file, line, col)
        return Location(self.file, message.line, message.col)

    def warn(self, message: str, where: Location, kind: str = UPGRADE_KIND) -> None:
        self.warnings.append(Warning_(message, where, kind))

    def problem_count(self) -> int:
        """How many of Caffe's own LOG(ERROR)s have been reported so far."""
        return sum(1 for warning in self.warnings if warning.kind == UPGRADE_KIND)

    def refuse(self, message: str, layer: Optional[str], where: Location) -> NetRefused:
        return NetRefused(message, layer=layer, location=where, kind=UPGRADE_KIND)


def _derived(
    source: Message,
    type_name: str,
    fields: Dict[str, Any],
    positions: Optional[Dict[str, Tuple[int, int]]] = None,
) -> Message:
    """A new message of ``type_name`` that keeps ``source``'s place in the file."""
    return Message(
        type_name,
        fields,
        line=source.line,
        col=source.col,
        comments=list(source.comments),
        positions=dict(source.positions) if positions is None else positions,
    )


def _with_fields(message: Message, **changes: Any) -> Message:
    """A copy of ``message`` with some fields replaced (a value of None removes the field)."""
    fields = dict(message.fields)
    positions = dict(message.positions)
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
            positions.pop(name, None)
        else:
            fields[name] = value
    return _derived(message, message.type, fields, positions)


def _kept_positions(source: Message, names: Mapping[str, str]) -> Dict[str, Tuple[int, int]]:
    """Positions for renamed fields: ``names`` maps a new field name to the source field name."""
    return {new: source.positions[old] for new, old in names.items() if old in source.positions}


def _field_info(message_type: str, field_name: str) -> Tuple[bool, Optional[str]]:
    """(repeated?, sub-message type) of a schema field."""
    _number, _kind, repeated, type_name, _default, _packed = MESSAGES[message_type][field_name]
    return repeated, type_name


def _layer_name(layer: Message) -> Optional[str]:
    name = layer.fields.get("name")
    return name if isinstance(name, str) else None


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------


def upgrade_net_as_needed(
    net: Message, flavor: Flavor, file: str, packs: Tuple[str, ...] = ()
) -> Tuple[Message, List[Warning_], Optional[str]]:
    """Upgrade a parsed NetParameter as Caffe does when it reads a net from a file.

    Returns the upgraded NetParameter, the warnings Caffe would log (and a few
    about what it drops silently), and "V0" / "V1" when the file used that
    deprecated layer format (None otherwise). Raises ``NetRefused`` where
    Caffe aborts. ``packs``: enabled layer packs, whose forks' own V1 layer
    types (``schema.packs.V1_LAYER_TYPES``) upgrade to the packs' type names.
    """
    ctx = _Context(file, packs)
    upgraded_from: Optional[str] = None
    if net_needs_v0_to_v1_upgrade(net):
        problems_before = ctx.problem_count()
        net = upgrade_v0_net(net, ctx)
        upgraded_from = "V0"
        if ctx.problem_count() > problems_before:
            ctx.warn(V0_PROBLEMS_SUMMARY, Location(file))
        ctx.warn(V0_DEPRECATION_NOTE, Location(file), DEPRECATED_KIND)
    if net_needs_data_upgrade(net):
        net = upgrade_net_data_transformation(net)
        ctx.warn(DATA_DEPRECATION_NOTE, Location(file), DEPRECATED_KIND)
    if net_needs_v1_to_v2_upgrade(net):
        problems_before = ctx.problem_count()
        net = upgrade_v1_net(net, ctx)
        upgraded_from = upgraded_from or "V1"
        if ctx.problem_count() > problems_before:
            ctx.warn(V1_PROBLEMS_SUMMARY, Location(file))
    if net_needs_input_upgrade(net):
        net = upgrade_net_input(net, ctx)
    if net_needs_batch_norm_upgrade(net):
        net = upgrade_net_batch_norm(net, flavor, ctx)
    return net, ctx.warnings, upgraded_from


# ---------------------------------------------------------------------------
# Step 1: V0 -> V1
# ---------------------------------------------------------------------------


def net_needs_v0_to_v1_upgrade(net: Message) -> bool:
    return any(connection.has("layer") for connection in net.repeated("layers"))


def _v0_type(connection: Message) -> str:
    v0_layer = connection.fields.get("layer")
    return v0_layer.fields.get("type", "") if v0_layer is not None else ""


def _v0_name(connection: Message) -> Optional[str]:
    v0_layer = connection.fields.get("layer")
    return _layer_name(v0_layer) if v0_layer is not None else None


def upgrade_v0_net(net: Message, ctx: _Context) -> Message:
    """UpgradeV0Net (L:124-149): fold padding layers, upgrade each layer, keep five net fields."""
    padded = upgrade_v0_padding_layers(net, ctx)
    fields: Dict[str, Any] = {}
    for name in _V0_NET_KEPT_FIELDS:
        if padded.has(name):
            fields[name] = padded.fields[name]
    fields["layers"] = [upgrade_v0_layer_parameter(connection, ctx) for connection in padded.repeated("layers")]
    if not fields["layers"]:
        del fields["layers"]
    for name in net.fields:
        if name not in _V0_NET_KEPT_FIELDS:
            ctx.warn(
                f"Caffe's V0 upgrade drops the net-level field '{name}': only "
                + ", ".join(_V0_NET_KEPT_FIELDS)
                + " survive it",
                ctx.where(net, name),
                DROPPED_KIND,
            )
    positions = {name: pos for name, pos in net.positions.items() if name in fields}
    return _derived(net, net.type, fields, positions)


def upgrade_v0_padding_layers(net: Message, ctx: _Context) -> Message:
    """UpgradeV0PaddingLayers (L:151-208): drop "padding" layers, moving their pad into the consumer."""
    layers: List[Message] = net.repeated("layers")
    last_top_index: Dict[str, int] = {blob: -1 for blob in net.repeated("input")}
    kept: List[Message] = []
    for index, connection in enumerate(layers):
        if _v0_type(connection) != "padding":
            kept.append(connection)
        for bottom_index, blob in enumerate(connection.repeated("bottom")):
            if blob not in last_top_index:
                raise ctx.refuse(
                    f"Unknown blob input {blob} to layer {bottom_index}",
                    _v0_name(connection),
                    ctx.where(connection),
                )
            source_index = last_top_index[blob]
            if source_index == -1:
                continue
            source = layers[source_index]
            if _v0_type(source) == "padding":
                _check_padding_use(connection, source, ctx)
                kept[-1] = _absorb_padding(kept[-1], source, bottom_index)
        for blob in connection.repeated("top"):
            last_top_index[blob] = index
    return _with_fields(net, layers=kept or None)


def _check_padding_use(consumer: Message, padding: Message, ctx: _Context) -> None:
    """The CHECKs of L:181-194 on a layer fed by a V0 padding layer."""
    consumer_type = _v0_type(consumer)
    where = ctx.where(consumer)
    name = _v0_name(consumer)
    if consumer_type not in ("conv", "pool"):
        raise ctx.refuse(
            f"Padding layer input to non-convolutional / non-pooling layer type {consumer_type}",
            name,
            where,
        )
    counts = (
        (len(consumer.repeated("bottom")), "Conv Layer takes a single blob as input.", consumer),
        (len(padding.repeated("bottom")), "Padding Layer takes a single blob as input.", padding),
        (len(padding.repeated("top")), "Padding Layer produces a single blob as output.", padding),
    )
    for count, wording, culprit in counts:
        if count != 1:
            raise ctx.refuse(f"{wording} (found {count})", _v0_name(culprit), ctx.where(culprit))


def _absorb_padding(consumer: Message, padding: Message, bottom_index: int) -> Message:
    """The consumer takes the padding layer's pad and reads the padding layer's input."""
    padding_v0: Message = padding.fields["layer"]
    consumer_v0: Message = consumer.fields["layer"]
    bottoms = list(consumer.repeated("bottom"))
    bottoms[bottom_index] = padding.repeated("bottom")[0]
    return _with_fields(
        consumer,
        layer=_with_fields(consumer_v0, pad=padding_v0.get("pad")),
        bottom=bottoms,
    )


def upgrade_v0_layer_type(v0_type: str, connection: Message, ctx: _Context) -> str:
    """UpgradeV0LayerType (L:562-615): a V0 type string -> a V1 LayerType name; FATAL on others."""
    try:
        return V0_LAYER_TYPES[v0_type]
    except KeyError:
        refusal = ctx.refuse(
            f"Unknown layer name: {v0_type}", _v0_name(connection), ctx.where(connection.fields["layer"], "type")
        )
        refusal.explanation, refusal.instead = V0_TYPES_NO_CAFFE_HAS.get(v0_type, ("", ""))
        raise refusal from None


def upgrade_v0_layer_parameter(connection: Message, ctx: _Context) -> Message:
    """UpgradeV0LayerParameter (L:210-560): one V0 ``layers { layer {...} }`` -> a V1 layer."""
    fields: Dict[str, Any] = {}
    positions = _kept_positions(connection, {"bottom": "bottom", "top": "top"})
    for name in ("bottom", "top"):
        if connection.has(name):
            fields[name] = list(connection.fields[name])
    v0_layer: Optional[Message] = connection.fields.get("layer")
    if v0_layer is None:
        ctx.warn(
            "this 'layers' entry has no V0 'layer {}' but the net is upgraded as V0: "
            "Caffe keeps only its bottom and top (no name, no type)",
            ctx.where(connection),
            DROPPED_KIND,
        )
        return _derived(connection, "V1LayerParameter", fields, positions)
    for name in connection.fields:
        if name not in ("bottom", "top", "layer"):
            ctx.warn(
                f"Caffe's V0 upgrade keeps only bottom, top and the V0 'layer {{}}' of a layer: "
                f"'{name}' beside it is dropped",
                ctx.where(connection, name),
                DROPPED_KIND,
            )
    v0_type: str = v0_layer.fields.get("type", "")
    positions.update(_kept_positions(v0_layer, {"name": "name", "type": "type"}))
    if v0_layer.has("name"):
        fields["name"] = v0_layer.fields["name"]
    if v0_layer.has("type"):
        fields["type"] = upgrade_v0_layer_type(v0_type, connection, ctx)
    for name in _V0_VERBATIM_FIELDS:
        if v0_layer.has(name):
            fields[name] = list(v0_layer.fields[name])
            positions.update(_kept_positions(v0_layer, {name: name}))
    for v0_field, targets in V0_FIELD_TARGETS.items():
        if v0_layer.has(v0_field):
            _move_v0_field(v0_layer, v0_field, v0_type, targets, fields, positions, ctx)
    return _derived(connection, "V1LayerParameter", fields, positions)


def _move_v0_field(
    v0_layer: Message,
    v0_field: str,
    v0_type: str,
    targets: Dict[str, Tuple[str, str]],
    fields: Dict[str, Any],
    positions: Dict[str, Tuple[int, int]],
    ctx: _Context,
) -> None:
    target = targets.get(v0_type) or targets.get("*")
    value = v0_layer.fields[v0_field]
    where = ctx.where(v0_layer, v0_field)
    if target is None:
        log_name = _V0_FIELD_LOG_NAMES.get(v0_field, v0_field)
        ctx.warn(f"Unknown parameter {log_name} for layer type {v0_type}", where)
        return
    if v0_field == "pool":
        if value not in _V0_POOL_METHODS:
            ctx.warn(f"Unknown pool method {value}", where)
            return
        value = _V0_POOL_METHODS[value]
    sub_field, target_field = target
    _repeated, sub_type = _field_info("V1LayerParameter", sub_field)
    assert sub_type is not None
    positions.setdefault(sub_field, (where.line, where.col))
    if not target_field:  # the whole sub-message is copied
        fields[sub_field] = value
        return
    current: Message = fields.get(sub_field) or Message(sub_type, line=where.line, col=where.col)
    target_repeated, _ = _field_info(sub_type, target_field)
    stored = list(current.repeated(target_field)) + [value] if target_repeated else value
    updated = _with_fields(current, **{target_field: stored})
    updated.positions.setdefault(target_field, (where.line, where.col))
    fields[sub_field] = updated


# ---------------------------------------------------------------------------
# Step 2: data transformation fields (V1 layers only)
# ---------------------------------------------------------------------------


def net_needs_data_upgrade(net: Message) -> bool:
    """NetNeedsDataUpgrade (L:617-645): a V1 data layer with an old transformation field."""
    for layer in net.repeated("layers"):
        sub_field = DATA_UPGRADE_PARAMS.get(layer.fields.get("type", ""))
        if sub_field is None or not layer.has(sub_field):
            continue
        if any(layer.fields[sub_field].has(name) for name in DATA_TRANSFORM_FIELDS):
            return True
    return False


def upgrade_net_data_transformation(net: Message) -> Message:
    """UpgradeNetDataTransformation (L:647-676): move the fields into ``transform_param``.

    Like Caffe's ``mutable_*_param()``, every V1 data layer of these types ends
    up with a (possibly empty) data sub-message and ``transform_param``.
    """
    return _with_fields(net, layers=[_upgrade_layer_data_transformation(layer) for layer in net.repeated("layers")])


def _upgrade_layer_data_transformation(layer: Message) -> Message:
    sub_field = DATA_UPGRADE_PARAMS.get(layer.fields.get("type", ""))
    if sub_field is None:
        return layer
    _, sub_type = _field_info("V1LayerParameter", sub_field)
    _, transform_type = _field_info("V1LayerParameter", "transform_param")
    assert sub_type is not None and transform_type is not None
    data_param: Message = layer.fields.get(sub_field) or Message(sub_type, line=layer.line, col=layer.col)
    transform: Message = layer.fields.get("transform_param") or Message(
        transform_type, line=data_param.line, col=data_param.col
    )
    moved = {name: data_param.fields[name] for name in DATA_TRANSFORM_FIELDS if data_param.has(name)}
    transform = _with_fields(transform, **moved)
    for name in moved:
        transform.positions.setdefault(name, data_param.positions.get(name, (data_param.line, data_param.col)))
    data_param = _with_fields(data_param, **{name: None for name in moved})
    return _with_fields(layer, **{sub_field: data_param, "transform_param": transform})


# ---------------------------------------------------------------------------
# Step 3: V1 -> V2
# ---------------------------------------------------------------------------


def net_needs_v1_to_v2_upgrade(net: Message) -> bool:
    return bool(net.repeated("layers"))


def upgrade_v1_net(net: Message, ctx: _Context) -> Message:
    """UpgradeV1Net (L:678-698): ``layers`` -> ``layer``; FATAL when both are present."""
    if net.repeated("layer"):
        first = net.repeated("layer")[0]
        raise ctx.refuse(BOTH_LAYER_AND_LAYERS, _layer_name(first), ctx.where(net, "layer"))
    layers = [upgrade_v1_layer_parameter(index, layer, ctx) for index, layer in enumerate(net.repeated("layers"))]
    positions = {name: pos for name, pos in net.positions.items() if name != "layers"}
    if "layers" in net.positions:
        positions["layer"] = net.positions["layers"]
    fields = {name: value for name, value in net.fields.items() if name != "layers"}
    fields["layer"] = layers
    return _derived(net, net.type, fields, positions)


def upgrade_v1_layer_parameter(index: int, v1_layer: Message, ctx: _Context) -> Message:
    """UpgradeV1LayerParameter (L:700-883): one V1 layer -> a LayerParameter."""
    fields: Dict[str, Any] = {}
    copied = _V1_COPIED_FIELDS + ctx.v1_carried
    positions = _kept_positions(v1_layer, {name: name for name in copied + ("type",)})
    for name in copied:
        if v1_layer.has(name):
            fields[name] = v1_layer.fields[name]
    if v1_layer.has("type"):
        fields["type"] = upgrade_v1_layer_type(v1_layer, ctx)
    params = synthesize_param_specs(v1_layer, ctx)
    if params:
        fields["param"] = params
        first = min(
            (v1_layer.positions[name] for name, _ in V1_PARAM_SOURCES if name in v1_layer.positions),
            default=None,
        )
        if first is not None:
            positions["param"] = first
    if v1_layer.has("layer"):
        where = ctx.where(v1_layer, "layer")
        ctx.warn("Input NetParameter has V0 layer -- ignoring.", where)
        ctx.warn(f"Upgrade of input layer {index} failed.", where)
    _warn_dropped_v1_fields(v1_layer, ctx)
    return _derived(v1_layer, "LayerParameter", fields, positions)


def upgrade_v1_layer_type(v1_layer: Message, ctx: _Context) -> str:
    """UpgradeV1LayerType (L:885-971): the V1 enum -> the type string; FATAL on anything else."""
    v1_type = v1_layer.fields["type"]
    if v1_type not in ctx.v1_types:
        raise ctx.refuse(
            f"Unknown V1LayerParameter layer type: {v1_type}", _layer_name(v1_layer), ctx.where(v1_layer, "type")
        )
    if v1_type == "NONE":
        ctx.warn(
            "V1 layer type NONE upgrades to the empty type \"\": Caffe aborts with "
            "'Unknown layer type: ' if this layer is built",
            ctx.where(v1_layer, "type"),
            HAZARD_KIND,
        )
    return ctx.v1_types[v1_type]


def synthesize_param_specs(v1_layer: Message, ctx: _Context) -> List[Message]:
    """ParamSpecs from ``param``, ``blob_share_mode``, ``blobs_lr`` and ``weight_decay`` (L:727-755).

    There are as many specs as the longest list; spec i sets a field only where
    its source list has an entry i, the rest keep ParamSpec's defaults.
    """
    count = max(len(v1_layer.repeated(source)) for source, _ in V1_PARAM_SOURCES)
    specs: List[Dict[str, Any]] = [{} for _ in range(count)]
    spec_positions: List[Dict[str, Tuple[int, int]]] = [{} for _ in range(count)]
    for source, target in V1_PARAM_SOURCES:
        where = ctx.where(v1_layer, source)
        for i, value in enumerate(v1_layer.repeated(source)):
            if source == "blob_share_mode":
                value = _upgrade_share_mode(value, v1_layer, ctx)
            specs[i][target] = value
            spec_positions[i].setdefault(target, (where.line, where.col))
    result = []
    for spec, spec_pos in zip(specs, spec_positions):
        line, col = min(spec_pos.values())
        result.append(Message("ParamSpec", spec, line=line, col=col, positions=spec_pos))
    return result


def _upgrade_share_mode(value: Any, v1_layer: Message, ctx: _Context) -> str:
    if value not in _V1_SHARE_MODES:
        raise ctx.refuse(
            f"Unknown blob_share_mode: {value}", _layer_name(v1_layer), ctx.where(v1_layer, "blob_share_mode")
        )
    return _V1_SHARE_MODES[value]


def _warn_dropped_v1_fields(v1_layer: Message, ctx: _Context) -> None:
    """Fields a V1 layer may hold (e.g. the SSD fork's V1 ``batch_norm_param``) that the upgrade ignores."""
    handled = set(_V1_COPIED_FIELDS + ctx.v1_carried) | {"type", "layer"} | {source for source, _ in V1_PARAM_SOURCES}
    for name in v1_layer.fields:
        if name not in handled:
            ctx.warn(
                f"Caffe's V1 upgrade does not carry '{name}' over to the new layer format: it is ignored",
                ctx.where(v1_layer, name),
                DROPPED_KIND,
            )


# ---------------------------------------------------------------------------
# Step 4: deprecated input fields -> an Input layer
# ---------------------------------------------------------------------------


def net_needs_input_upgrade(net: Message) -> bool:
    return bool(net.repeated("input"))


def upgrade_net_input(net: Message, ctx: _Context) -> Message:
    """UpgradeNetInput (L:977-1014): an ``Input`` layer named "input", moved to index 0.

    With neither ``input_shape`` nor ``input_dim`` the inputs are just dropped
    (Caffe's path for legacy caffemodels); their consumers then fail later.
    """
    inputs: List[str] = net.repeated("input")
    layers: List[Message] = list(net.repeated("layer"))
    where = ctx.where(net, "input")
    if net.repeated("input_shape") or net.repeated("input_dim"):
        layers.insert(0, _input_layer(net, inputs, where, ctx))
    else:
        ctx.warn(
            "net inputs " + ", ".join(repr(name) for name in inputs) + " have no input_shape or "
            "input_dim: Caffe's upgrade drops them, so no layer produces these blobs",
            where,
            DROPPED_KIND,
        )
    ctx.warn(INPUT_DEPRECATION_NOTE, where, DEPRECATED_KIND)
    changes: Dict[str, Any] = {name: None for name in _INPUT_FIELDS}
    changes["layer"] = layers or None
    upgraded = _with_fields(net, **changes)
    if layers and "layer" not in upgraded.positions:
        upgraded.positions["layer"] = (where.line, where.col)
    return upgraded


def _input_layer(net: Message, inputs: List[str], where: Location, ctx: _Context) -> Message:
    shapes: List[Message] = net.repeated("input_shape")
    dims: List[int] = net.repeated("input_dim")
    if shapes:
        if len(shapes) < len(inputs):
            ctx.warn(
                f"{len(inputs)} inputs but only {len(shapes)} input_shape: Caffe reads past the end "
                "of input_shape (undefined behaviour)",
                where,
                HAZARD_KIND,
            )
        blob_shapes = list(shapes[: len(inputs)])
    else:
        if len(dims) < 4 * len(inputs):
            ctx.warn(
                f"{len(inputs)} inputs need {4 * len(inputs)} input_dim values, found {len(dims)}: "
                "Caffe reads past the end of input_dim (undefined behaviour)",
                where,
                HAZARD_KIND,
            )
        blob_shapes = [
            Message("BlobShape", {"dim": list(dims[4 * i : 4 * i + 4])}, line=where.line, col=where.col)
            for i in range(len(inputs))
        ]
    input_param = Message("InputParameter", {"shape": blob_shapes}, line=where.line, col=where.col)
    position = (where.line, where.col)
    return Message(
        "LayerParameter",
        {"name": INPUT_LAYER_NAME, "type": INPUT_LAYER_TYPE, "top": list(inputs), "input_param": input_param},
        line=where.line,
        col=where.col,
        positions={"top": position, "input_param": position},
    )


# ---------------------------------------------------------------------------
# Step 5: BatchNorm layers that declare three param {}
# ---------------------------------------------------------------------------


def _is_old_style_batch_norm(layer: Message) -> bool:
    return layer.fields.get("type") == "BatchNorm" and len(layer.repeated("param")) == 3


def net_needs_batch_norm_upgrade(net: Message) -> bool:
    """NetNeedsBatchNormUpgrade (L:1013-1024): a BatchNorm with exactly 3 param specs."""
    return any(_is_old_style_batch_norm(layer) for layer in net.repeated("layer"))


def upgrade_net_batch_norm(net: Message, flavor: Flavor, ctx: _Context) -> Message:
    """UpgradeNetBatchNorm: what happens to the 3 specs depends on the flavour.

    BVLC (U:1017-1032) sets lr_mult and decay_mult to 0 on each, keeping names
    and share_mode; the SSD lineage (L:1026-1035) clears them, so the net's copy
    of the layer has no param spec at all.
    """
    layers = [
        _upgrade_batch_norm_layer(layer, flavor, ctx) if _is_old_style_batch_norm(layer) else layer
        for layer in net.repeated("layer")
    ]
    return _with_fields(net, layer=layers)


def _upgrade_batch_norm_layer(layer: Message, flavor: Flavor, ctx: _Context) -> Message:
    where = ctx.where(layer, "param")
    if flavor.batchnorm_upgrade is BatchNormUpgrade.ZERO_LR_AND_DECAY:
        if any(spec.get("lr_mult") != 0 for spec in layer.repeated("param")):
            ctx.warn(
                f"{flavor.name} Caffe rewrites the 3 param {{}} of this BatchNorm to lr_mult: 0, decay_mult: 0",
                where,
                BATCHNORM_KIND,
            )
        return _with_fields(layer, param=[_with_fields(spec, lr_mult=0.0, decay_mult=0.0) for spec in layer.repeated("param")])
    ctx.warn(
        f"{flavor.name} Caffe discards the 3 param {{}} of this BatchNorm: the net sees no "
        "param spec (default lr_mult 1) whatever they say",
        where,
        BATCHNORM_KIND,
    )
    return _with_fields(layer, param=None)
