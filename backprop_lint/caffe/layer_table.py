"""Everything backprop-lint knows about Caffe layer types, in one table.

One row per layer type and flavour. Each row cites the Caffe source it comes
from: ``U:`` is BVLC/caffe at 9b89154 (the last upstream commit), ``L:`` is
the SSD-lineage tree of the PyPI sdist brocolli-caffe 9.0.2 (the oracle).

The simulation asks this table, and nothing else, about a layer type.

How "unknown" is expressed (Python layers, undeclared custom layers):

* ``params(...)`` returns ``None`` when the number of learnable blobs cannot
  be known from the prototxt.
* ``backward_known`` is False when nothing is known about what Backward does;
  ``backward(...)`` then returns ``Backward.UNKNOWN`` for every bottom.
* ``LayerInfo.bottoms`` / ``tops`` are ``ANY`` when Caffe checks no counts.

Build options (``needs``): a type is registered only when every option named
in ``needs`` is ON in that build; ``engine_param`` names the sub-message whose
``engine`` the type's factory reads (``engine: CUDNN`` needs ``USE_CUDNN``).
Which options a build has is the user's setting (``build_options.py``).
"""
from __future__ import annotations

from backprop_lint.caffe.model import InputError, Message
from backprop_lint.caffe.records import LazyNamedTuple, NamedConstant, NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, ClassVar, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

BVLC = "bvlc"
SSD = "ssd"
FLAVORS: Tuple[str, ...] = (BVLC, SSD)
BOTH: FrozenSet[str] = frozenset(FLAVORS)

#: build options a registration can depend on
USE_OPENCV = "USE_OPENCV"
USE_HDF5 = "USE_HDF5"
WITH_PYTHON_LAYER = "WITH_PYTHON_LAYER"
USE_CUDNN = "USE_CUDNN"


class Backward(NamedConstant):
    """What a layer's Backward does to one bottom's diff: one of the constants below."""

    __slots__ = ()

    RESPECTS_PD: ClassVar[Backward]
    IGNORES_PD: ClassVar[Backward]
    NEVER: ClassVar[Backward]
    ABORTS_IF_PD: ClassVar[Backward]
    ABORTS: ClassVar[Backward]
    ZEROES: ClassVar[Backward]
    UNKNOWN: ClassVar[Backward]


#: writes the bottom diff only when propagate_down[j] (bottom_need_backward) is set
Backward.RESPECTS_PD = Backward("RESPECTS_PD", "respects propagate_down")
#: writes the bottom diff whenever the layer runs backward, whatever propagate_down says
Backward.IGNORES_PD = Backward("IGNORES_PD", "writes the bottom diff whatever propagate_down says")
#: never writes this bottom's diff
Backward.NEVER = Backward("NEVER", "never writes this bottom's diff")
#: aborts (CHECK / NOT_IMPLEMENTED) when propagate_down[j] is set
Backward.ABORTS_IF_PD = Backward("ABORTS_IF_PD", "aborts when asked for this bottom's gradient")
#: aborts whenever Backward is called
Backward.ABORTS = Backward("ABORTS", "aborts whenever Backward runs")
#: writes zeros into the bottom diff when propagate_down[j] (Silence; Power with power*scale == 0)
Backward.ZEROES = Backward("ZEROES", "zeroes the bottom diff")
#: nothing is known (Python / undeclared custom layers)
Backward.UNKNOWN = Backward("UNKNOWN", "unknown")


class Count(NamedTuple):
    """A blob-count constraint as CheckBlobCounts applies it (-1: none)."""

    exact: int = -1
    min: int = -1
    max: int = -1

    def allows(self, n: int) -> bool:
        if self.exact >= 0 and n != self.exact:
            return False
        if self.min >= 0 and n < self.min:
            return False
        if self.max >= 0 and n > self.max:
            return False
        return True


ANY = Count()

if TYPE_CHECKING:
    #: params(layer_param, n_bottoms) -> number of learnable blobs, None when unknowable
    ParamCount = Callable[[Message, int], Optional[int]]
    #: backward(j, n_bottoms, layer_param) -> what Backward does to bottom j
    BottomBackward = Callable[[int, int, Message], Backward]
    #: check(layer_param, n_bottoms, n_tops) -> None, or Caffe's own refusal wording
    LoadCheck = Callable[[Message, int, int], Optional[str]]
    #: counts(layer_param) -> (bottoms, tops) for types whose counts depend on params
    CountsOf = Callable[[Message], Tuple[Count, Count]]


class ScratchContext(LazyNamedTuple):
    """What decides whether a layer scribbles on a bottom diff it was not asked for.

    Lazy: only a net with a Scale layer makes one."""

    n_bottoms: int
    propagate_down: Sequence[bool]
    param_propagate_down: Sequence[bool]
    in_place: bool  # top 0 is bottom 0


def _never(*_args: Any) -> bool:
    return False


def _no_scratch(j: int, ctx: ScratchContext) -> bool:
    return False


class LayerInfo(LazyNamedTuple):
    """One row of the table: what Caffe does with one layer type in some flavours.

    An immutable named tuple rather than a frozen dataclass: the table builds
    a hundred rows of thirty fields at every start, and a frozen dataclass's
    generated code (compiled at import) and ``__init__`` (an
    ``object.__setattr__`` per field) cost several times as much. Lazy: the
    table fills its rows' tuples itself (``_row``), so a start compiles no
    constructor of thirty-five arguments; declarations and packs call it.
    """

    type: str
    flavors: FrozenSet[str]
    bottoms: Count
    tops: Count
    #: number of learnable parameter blobs (embedded ``blobs`` included); None when unknowable
    params: ParamCount
    #: how Backward treats bottom j
    backward: BottomBackward
    citation: str
    #: a LossLayer subclass: AutoTopBlobs, default loss_weight 1 on top 0
    is_loss: bool = False
    #: AutoTopBlobs() without being a loss (DeepLab's ImageSegData): missing tops are created
    auto_top_blobs: bool = False
    #: no_force_backward(j, n_bottoms): AllowForceBackward(j) is False
    no_force_backward: Callable[[int, int], bool] = _never
    in_place_allowed: bool = True
    #: CheckBlobCounts' EqualNumBottomTopBlobs
    equal_bottom_top: bool = False
    #: aliases_diff(layer_param, n_bottoms, n_tops): bottom 0's diff IS top 0's diff
    aliases_diff: Callable[[Message, int, int], bool] = _never
    #: the alias is made in Backward (Flatten, Permute), so only when the layer runs backward;
    #: otherwise it exists from Reshape on (Reshape, Concat/1 bottom, Slice/1 top)
    alias_needs_backward: bool = False
    #: the top shares data and diff with the parameter blob (Parameter)
    top_aliases_param: bool = False
    #: Backward writes parameter diffs (when param_propagate_down); False for BatchNorm
    writes_param_diff: bool = True
    notes: str = ""
    #: extra per-type load-time checks knowable from the prototxt
    check: Optional[LoadCheck] = None
    #: build options that must all be ON for the type to be registered
    needs: FrozenSet[str] = frozenset()
    #: False when nothing is known about Backward (backward() gives UNKNOWN)
    backward_known: bool = True
    #: bottoms written together: if propagate_down is set for any of them, all get a diff (LSTMUnit)
    written_together: FrozenSet[int] = frozenset()
    #: scratch(j, ctx): Backward may leave a non-zero value in bottom j's diff though
    #: the backward rule says it is not written (Scale's product buffer)
    scratch: Callable[[int, ScratchContext], bool] = _no_scratch
    #: forward_writes_diff(layer_param): bottoms whose diff Forward overwrites, whether or not
    #: Backward runs (HingeLoss's scratch; RBMInnerProduct's update pass)
    forward_writes_diff: Callable[[Message], FrozenSet[int]] = lambda p: frozenset()
    #: forward_writes_param_diff(layer_param): parameter blobs whose diff Forward itself writes
    #: (non-zero), whether or not Backward runs and whatever param_propagate_down (lr_mult) says:
    #: RBMInnerProduct's contrastive-divergence update with forward_is_update
    forward_writes_param_diff: Callable[[Message], FrozenSet[int]] = lambda p: frozenset()
    #: backward_adds_learned_term(layer_param): Backward adds a learned blob's data to every bottom
    #: diff it writes (RBMInnerProduct's visible bias), so that diff is non-zero even from a zero top diff
    backward_adds_learned_term: Callable[[Message], bool] = _never
    #: in_place_backward_garbles(layer_param): run in place, Backward overwrites the top diff
    #: (the same memory) before multiplying by it, so every bottom diff it writes comes out
    #: non-zero even from a zero top diff (Power, Log, Eltwise PROD: found by the differential
    #: tests, then read in the source)
    in_place_backward_garbles: Callable[[Message], bool] = _never
    #: param_diff_ignores_propagate_down(layer_param): parameter blobs whose diff Backward writes
    #: whenever the layer runs, whatever param_propagate_down says (RNN/LSTM run their unrolled
    #: net's backward; BatchNormKyle's alpha and beta)
    param_diff_ignores_propagate_down: Callable[[Message], FrozenSet[int]] = lambda p: frozenset()
    #: backward_reads_tops(n_tops): the tops whose diff Backward reads; None: all of them
    backward_reads_tops: Optional[Callable[[int], FrozenSet[int]]] = None
    #: what Layer::type() returns, when it differs from the registered name
    reported_type: Optional[str] = None
    #: counts that depend on the layer's params (Pooling, RNN, LSTM); overrides bottoms/tops
    counts_of: Optional[CountsOf] = None
    #: the sub-message whose ``engine`` the type's creator in layer_factory.cpp reads
    engine_param: Optional[str] = None
    #: the same, for an inner layer its LayerSetUp creates through the registry (SoftmaxWithLoss)
    setup_engine_param: Optional[str] = None

    def blob_counts(self, layer_param: Message) -> Tuple[Count, Count]:
        """(bottoms, tops) constraints for this layer_param."""
        if self.counts_of is not None:
            return self.counts_of(layer_param)
        return self.bottoms, self.tops

    def available(self, build: FrozenSet[str]) -> bool:
        return self.needs <= build


# ---------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------


def _preloaded(p: Message) -> int:
    """Number of blobs embedded in the LayerParameter (the Layer constructor keeps them,
    U:include/caffe/layer.hpp:40-51, L:include/caffe/layer.hpp:40-50)."""
    return len(p.repeated("blobs"))


def _fixed(n: int) -> ParamCount:
    """A layer that creates ``n`` blobs unless blobs are embedded (then it keeps those)."""

    def count(p: Message, nb: int) -> Optional[int]:
        k = _preloaded(p)
        return k if k else n

    return count


_NO_PARAMS = _fixed(0)


def _bias_term(p: Message, sub: str) -> int:
    return 1 if p.get(sub).get("bias_term") else 0


def _weights_and_bias(sub: str) -> ParamCount:
    def count(p: Message, nb: int) -> Optional[int]:
        return _preloaded(p) or 1 + _bias_term(p, sub)

    return count


def _same(behaviour: Backward) -> BottomBackward:
    return lambda j, n, p: behaviour


RESPECTS = _same(Backward.RESPECTS_PD)
IGNORES = _same(Backward.IGNORES_PD)
NOOP = _same(Backward.NEVER)
ABORTS = _same(Backward.ABORTS)


def _ifj(cases: Mapping[int, Backward], default: Backward) -> BottomBackward:
    return lambda j, n, p: cases.get(j, default)


def _last_aborts(j: int, n: int, p: Message) -> Backward:
    return Backward.ABORTS_IF_PD if j == n - 1 else Backward.RESPECTS_PD


def _concat_backward(j: int, n: int, p: Message) -> Backward:
    return Backward.NEVER if n == 1 else Backward.RESPECTS_PD


def _pooling_backward(j: int, n: int, p: Message) -> Backward:
    if p.get("pooling_param").get("pool") == "STOCHASTIC":
        return Backward.ABORTS  # CPU NOT_IMPLEMENTED; Forward aborts first on CPU too
    return Backward.RESPECTS_PD


def _lrn_backward(j: int, n: int, p: Message) -> Backward:
    if p.get("lrn_param").get("norm_region") == "WITHIN_CHANNEL":
        return Backward.RESPECTS_PD
    return Backward.IGNORES_PD


def _first_top(n_tops: int) -> FrozenSet[int]:
    return frozenset({0})


def _all_params(p: Message) -> FrozenSet[int]:
    return frozenset(range(64))


def _input_check(p: Message, nb: int, nt: int) -> Optional[str]:
    shapes = len(p.get("input_param").repeated("shape"))
    if shapes not in (0, 1, nt):
        return (f"Must specify 'shape' once, once per top blob, or not at all: "
                f"{nt} tops vs. {shapes} shapes.")
    return None


def _power_diff_scale_nonzero(p: Message) -> bool:
    power_param = p.get("power_param")
    return bool(power_param.get("power") * power_param.get("scale") != 0)


def _power_backward(j: int, n: int, p: Message) -> Backward:
    power_param = p.get("power_param")
    if power_param.get("power") * power_param.get("scale") == 0:
        return Backward.ZEROES  # diff_scale_ == 0: caffe_set(count, 0, bottom_diff)
    return Backward.RESPECTS_PD


def _recurrent_min_bottoms(p: Message, hidden_blobs: int) -> int:
    return 2 + (hidden_blobs if p.get("recurrent_param").get("expose_hidden") else 0)


def _recurrent_counts(hidden_blobs: int, hidden_tops: int) -> CountsOf:
    def counts(p: Message) -> Tuple[Count, Count]:
        low = _recurrent_min_bottoms(p, hidden_blobs)
        tops = 1 + (hidden_tops if p.get("recurrent_param").get("expose_hidden") else 0)
        return Count(min=low, max=low + 1), Count(exact=tops)

    return counts


def _has_static_input(p: Message, n: int, hidden_blobs: int) -> bool:
    # RecurrentLayer: static_input_ = bottom.size() > MinBottomBlobs()
    return n > _recurrent_min_bottoms(p, hidden_blobs)


def _recurrent_params(fresh: int, hidden_blobs: int) -> ParamCount:
    # blobs_.clear() then rebuilt from the unrolled net: embedded blobs do not count
    def count(p: Message, n: int) -> Optional[int]:
        return fresh + (1 if _has_static_input(p, n, hidden_blobs) else 0)

    return count


def _recurrent_backward(hidden_blobs: int) -> BottomBackward:
    def backward(j: int, n: int, p: Message) -> Backward:
        if j == 1:
            return Backward.ABORTS_IF_PD  # CHECK(!propagate_down[1])
        if j == 0 or (j == 2 and _has_static_input(p, n, hidden_blobs)):
            return Backward.IGNORES_PD
        return Backward.NEVER  # exposed h0/c0: data shared only

    return backward


def _pooling_counts(p: Message) -> Tuple[Count, Count]:
    top_max = 2 if p.get("pooling_param").get("pool") == "MAX" else 1
    return Count(exact=1), Count(min=1, max=top_max)


def _bias_params(p: Message, n: int) -> Optional[int]:
    return _preloaded(p) or (1 if n == 1 else 0)


def _scale_base(p: Message, n: int) -> int:
    return _preloaded(p) or (1 if n == 1 else 0)


def _scale_params_bvlc(p: Message, n: int) -> Optional[int]:
    blobs = _scale_base(p, n)
    # an embedded bias is recognised: blobs + bottoms == 3 means "already there"
    if p.get("scale_param").get("bias_term") and blobs + n < 3:
        blobs += 1
    return blobs


def _scale_params_ssd(p: Message, n: int) -> Optional[int]:
    return _scale_base(p, n) + (1 if p.get("scale_param").get("bias_term") else 0)


def _scale_scratch(j: int, ctx: ScratchContext) -> bool:
    # the product top_diff*bottom_data is stored in bottom[0]'s diff when the scale
    # gradient is computed and the layer is not in place
    if j != 0 or ctx.in_place:
        return False
    if ctx.n_bottoms == 1:
        return bool(ctx.param_propagate_down) and bool(ctx.param_propagate_down[0])
    return len(ctx.propagate_down) > 1 and bool(ctx.propagate_down[1])


def _kyle_params(p: Message, n: int) -> Optional[int]:
    return _preloaded(p) or (5 if p.get("batch_norm_param").get("use_alpha_beta") else 3)


def _permute_is_identity(p: Message) -> bool:
    order = list(p.get("permute_param").repeated("order"))
    return order == list(range(len(order)))


def _python_params(p: Message, n: int) -> Optional[int]:
    return None


def _python_backward(j: int, n: int, p: Message) -> Backward:
    return Backward.UNKNOWN


# --- load-time checks -------------------------------------------------------

def _conv_check(p: Message, nb: int, nt: int) -> Optional[str]:
    k = _preloaded(p)
    if k and k != 1 + _bias_term(p, "convolution_param"):
        return "Incorrect number of weight blobs."
    return None


def _batch_norm_check_bvlc(p: Message, nb: int, nt: int) -> Optional[str]:
    for spec in p.repeated("param")[:3]:
        if spec.get("lr_mult") != 0:
            return "Cannot configure batch normalization statistics as layer parameters."
    return None


def _softmax_loss_check(p: Message, nb: int, nt: int) -> Optional[str]:
    if nt == 2:  # spec §4.4: the inner Softmax copies the loss weights
        return "loss_weight must be unspecified or specified once per top blob."
    return None


def _eltwise_check(p: Message, nb: int, nt: int) -> Optional[str]:
    eltwise = p.get("eltwise_param")
    coeffs = len(eltwise.repeated("coeff"))
    if coeffs not in (0, nb):
        return "Eltwise Layer takes one coefficient per bottom blob."
    if eltwise.get("operation") == "PROD" and coeffs:
        return "Eltwise layer only takes coefficients for summation."
    return None


def _pooling_check(p: Message, nb: int, nt: int) -> Optional[str]:
    pool = p.get("pooling_param")
    kernel_hw = pool.has("kernel_h") and pool.has("kernel_w")
    if pool.get("global_pooling"):
        if pool.has("kernel_size") or pool.has("kernel_h") or pool.has("kernel_w"):
            return "With Global_pooling: true Filter size cannot specified"
    else:
        if pool.has("kernel_size") == kernel_hw:
            if pool.has("kernel_size"):
                return "Filter size is kernel_size OR kernel_h and kernel_w; not both"
            return "For non-square filters both kernel_h and kernel_w are required."
    for name in ("pad", "stride"):
        split_given = pool.has(f"{name}_h") and pool.has(f"{name}_w")
        none_split = not pool.has(f"{name}_h") and not pool.has(f"{name}_w")
        if not ((not pool.has(name) and split_given) or none_split):
            return ("pad is pad OR pad_h and pad_w are required." if name == "pad"
                    else "Stride is stride OR stride_h and stride_w are required.")
    pads = (pool.get("pad_h"), pool.get("pad_w")) if pool.has("pad_h") else (pool.get("pad"),) * 2
    strides = ((pool.get("stride_h"), pool.get("stride_w")) if pool.has("stride_h")
               else (pool.get("stride"),) * 2)
    if pool.get("global_pooling") and (any(pads) or any(s != 1 for s in strides)):
        return "With Global_pooling: true; only pad = 0 and stride = 1"
    if any(pads) and pool.get("pool") not in ("AVE", "MAX"):
        return "Padding implemented only for average and max pooling."
    return None


def _filter_check(p: Message, nb: int, nt: int) -> Optional[str]:
    if nt != nb - 1:
        return f"Check failed: top.size() == bottom.size() - 1 ({nt} vs. {nb - 1})"
    return None


def _slice_check(p: Message, nb: int, nt: int) -> Optional[str]:
    sp = p.get("slice_param")
    if sp.has("axis") and sp.has("slice_dim"):
        return "Either axis or slice_dim should be specified; not both."
    points = len(sp.repeated("slice_point"))
    if points and points != nt - 1:
        return f"Check failed: slice_point_.size() == top.size() - 1 ({points} vs. {nt - 1})"
    return None


def _concat_check(p: Message, nb: int, nt: int) -> Optional[str]:
    cp = p.get("concat_param")
    if cp.has("axis") and cp.has("concat_dim"):
        return "Either axis or concat_dim should be specified; not both."
    return None


def _multibox_check(p: Message, nb: int, nt: int) -> Optional[str]:
    if not p.get("multibox_loss_param").has("num_classes"):
        return "Must provide num_classes."
    return None


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

ONE = Count(exact=1)
ZERO = Count(exact=0)
TWO = Count(exact=2)
AT_LEAST_ONE = Count(min=1)
_LOSS_LABEL = lambda j, n: j == 1  # LossLayer::AllowForceBackward: bottom 1 is the label
_LOSS_BOTTOMS = TWO

#: the defaults of LayerInfo's fields after the seven that every row gives, in order
_DEFAULTS: Tuple[Any, ...] = tuple(LayerInfo._field_defaults.values())
_FIELD_INDEX: Dict[str, int] = {name: index for index, name in enumerate(LayerInfo._fields)}
_new_row = tuple.__new__


#: (type, flavours, row) built compactly; citations name the headers with the counts
#: and the .cpp with the Backward; U: BVLC 9b89154, L: brocolli-caffe 9.0.2
def _row(type_name: str, flavors: Iterable[str], bottoms: Count, tops: Count, params: ParamCount,
         backward: BottomBackward, citation: str, **extra: Any) -> LayerInfo:
    # the tuple filled in directly: binding thirty-five arguments through LayerInfo(...)
    # cost twice as much, for every row at every start
    values = [type_name, frozenset(flavors), bottoms, tops, params, backward, citation, *_DEFAULTS]
    for name, value in extra.items():
        values[_FIELD_INDEX[name]] = value
    return _new_row(LayerInfo, values)


def _neuron(type_name: str, flavors: Iterable[str], citation: str,
            backward: BottomBackward = RESPECTS, **extra: Any) -> LayerInfo:
    return _row(type_name, flavors, ONE, ONE, _NO_PARAMS, backward,
                citation + "; U:include/caffe/layers/neuron_layer.hpp:26-27", **extra)


def _loss(type_name: str, flavors: Iterable[str], backward: BottomBackward, citation: str,
          bottoms: Count = _LOSS_BOTTOMS, tops: Count = ONE, **extra: Any) -> LayerInfo:
    extra.setdefault("no_force_backward", _LOSS_LABEL)
    return _row(type_name, flavors, bottoms, tops, _NO_PARAMS, backward,
                citation + "; U:include/caffe/layers/loss_layer.hpp:40-48; U:src/caffe/layers/loss_layer.cpp:8-14",
                is_loss=True, **extra)


_LABEL_ABORTS = _ifj({1: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD)

_ROWS: Tuple[LayerInfo, ...] = (
    _row("AbsVal", BOTH, ONE, ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/absval_layer.hpp:33-34; U:src/caffe/layers/absval_layer.cpp:12-13,25-35; L:src/caffe/layers/absval_layer.cpp:12,42",
         in_place_allowed=False),
    _row("Accuracy", BOTH, TWO, AT_LEAST_ONE, _NO_PARAMS, _same(Backward.ABORTS_IF_PD),
         "U:include/caffe/layers/accuracy_layer.hpp:37-42,76-81 (MaxTopBlos is misspelt, so tops are only >=1); L:include/caffe/layers/accuracy_layer.hpp:37-42",
         notes="CPU Backward is NOT_IMPLEMENTED whenever any propagate_down is set"),
    _row("ArgMax", BOTH, ONE, ONE, _NO_PARAMS, ABORTS,
         "U:include/caffe/layers/argmax_layer.hpp:46-47,65-68; L:include/caffe/layers/argmax_layer.hpp:46-47"),
    _neuron("BNLL", BOTH, "U:src/caffe/layers/bnll_layer.cpp:24-38; L:src/caffe/layers/bnll_layer.cpp:45"),
    _row("BatchNorm", {BVLC}, ONE, ONE, _fixed(3), IGNORES,
         "U:include/caffe/layers/batch_norm_layer.hpp:50-51; U:src/caffe/layers/batch_norm_layer.cpp:22-47,169-242",
         writes_param_diff=False, check=_batch_norm_check_bvlc,
         notes="adds lr_mult:0 specs to its own copy of the param only (spec §5 BatchNorm detail)"),
    _row("BatchNorm", {SSD}, ONE, ONE, _fixed(3), IGNORES,
         "L:include/caffe/layers/batch_norm_layer.hpp:94-96; L:src/caffe/layers/batch_norm_layer.cpp:9-36,238",
         writes_param_diff=False, notes="no statistics masking: lr_mult on the statistics is accepted"),
    _row("BatchReindex", BOTH, TWO, ONE, _NO_PARAMS, _LABEL_ABORTS,
         "U:include/caffe/layers/batch_reindex_layer.hpp:29-30; U:src/caffe/layers/batch_reindex_layer.cpp:52-69; L:src/caffe/layers/batch_reindex_layer.cpp:76"),
    _row("Bias", BOTH, Count(min=1, max=2), ONE, _bias_params, RESPECTS,
         "U:include/caffe/layers/bias_layer.hpp:32-34; U:src/caffe/layers/bias_layer.cpp:12-36,90-112; L:src/caffe/layers/bias_layer.cpp:10-36"),
    _neuron("Clip", {BVLC}, "U:src/caffe/layers/clip_layer.cpp:24-41"),
    _row("Concat", BOTH, AT_LEAST_ONE, ONE, _NO_PARAMS, _concat_backward,
         "U:include/caffe/layers/concat_layer.hpp:27-28; U:src/caffe/layers/concat_layer.cpp:51-52,77-95; L:src/caffe/layers/concat_layer.cpp:12-13,102",
         aliases_diff=lambda p, nb, nt: nb == 1, check=_concat_check),
    _loss("ContrastiveLoss", BOTH, _ifj({2: Backward.NEVER}, Backward.RESPECTS_PD),
          "U:include/caffe/layers/contrastive_loss_layer.hpp:46-54; U:src/caffe/layers/contrastive_loss_layer.cpp:65-111; L:include/caffe/layers/contrastive_loss_layer.hpp:46-53",
          bottoms=Count(exact=3), no_force_backward=lambda j, n: j == 2),
    _row("Convolution", BOTH, AT_LEAST_ONE, AT_LEAST_ONE, _weights_and_bias("convolution_param"), RESPECTS,
         "U:include/caffe/layers/base_conv_layer.hpp:27-29; U:src/caffe/layers/base_conv_layer.cpp:140-181; U:src/caffe/layer_factory.cpp:39-77; L:src/caffe/layers/base_conv_layer.cpp:138-145; L:src/caffe/layer_factory.cpp:76",
         equal_bottom_top=True, check=_conv_check, engine_param="convolution_param"),
    _row("Crop", BOTH, TWO, ONE, _NO_PARAMS, _ifj({1: Backward.NEVER}, Backward.RESPECTS_PD),
         "U:include/caffe/layers/crop_layer.hpp:31-32; U:src/caffe/layers/crop_layer.cpp:132-143; L:src/caffe/layers/crop_layer.cpp:141"),
    _row("Data", BOTH, ZERO, Count(min=1, max=2), _NO_PARAMS, NOOP,
         "U:include/caffe/layers/data_layer.hpp:24-26; U:include/caffe/layers/base_data_layer.hpp:35-38; L:include/caffe/layers/data_layer.hpp:27-29; L:src/caffe/layers/data_layer.cpp:1-3,108",
         notes="always registered (USE_OPENCV guards only an include); needs an LMDB/LevelDB backend at run time"),
    _row("Deconvolution", {BVLC}, AT_LEAST_ONE, AT_LEAST_ONE, _weights_and_bias("convolution_param"), RESPECTS,
         "U:include/caffe/layers/deconv_layer.hpp:34; U:src/caffe/layers/deconv_layer.cpp:43-75; U:src/caffe/layer_factory.cpp:79-116",
         equal_bottom_top=True, check=_conv_check, engine_param="convolution_param"),
    # The SSD lineage registers the class itself (no engine creator): `engine` is ignored,
    # as fixtures/layer_nets/layer__engine_cudnn_deconvolution shows.
    _row("Deconvolution", {SSD}, AT_LEAST_ONE, AT_LEAST_ONE, _weights_and_bias("convolution_param"), RESPECTS,
         "U:include/caffe/layers/deconv_layer.hpp:34; U:src/caffe/layers/deconv_layer.cpp:43-75; L:src/caffe/layers/deconv_layer.cpp:82 (REGISTER_LAYER_CLASS)",
         equal_bottom_top=True, check=_conv_check),
    _neuron("Dropout", BOTH, "U:src/caffe/layers/dropout_layer.cpp:49-65; L:src/caffe/layers/dropout_layer.cpp:73"),
    _row("DummyData", BOTH, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/dummy_data_layer.hpp:30-31,36-39; L:include/caffe/layers/dummy_data_layer.hpp:32-33"),
    _neuron("ELU", BOTH, "U:src/caffe/layers/elu_layer.cpp:22-37; L:src/caffe/layers/elu_layer.cpp:45"),
    _row("Eltwise", BOTH, Count(min=2), ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/eltwise_layer.hpp:29-30; U:src/caffe/layers/eltwise_layer.cpp:102-153; L:src/caffe/layers/eltwise_layer.cpp:10-18",
         check=_eltwise_check,
         # PROD in place: bottom 0's diff (= the top diff) is overwritten with the other inputs'
         # product before being multiplied by the top diff (eltwise_layer.cpp:113-135)
         in_place_backward_garbles=lambda p: p.get("eltwise_param").get("operation") == "PROD"),
    _row("Embed", BOTH, ONE, ONE, _weights_and_bias("embed_param"), _same(Backward.ABORTS_IF_PD),
         "U:include/caffe/layers/embed_layer.hpp:30-31; U:src/caffe/layers/embed_layer.cpp:18-45,86-110; L:src/caffe/layers/embed_layer.cpp:16-45"),
    _loss("EuclideanLoss", BOTH, RESPECTS,
          "U:include/caffe/layers/euclidean_loss_layer.hpp:48-55; U:src/caffe/layers/euclidean_loss_layer.cpp:32-46; L:include/caffe/layers/euclidean_loss_layer.hpp:53-54",
          no_force_backward=_never),
    _neuron("Exp", BOTH, "U:src/caffe/layers/exp_layer.cpp:48-59; L:src/caffe/layers/exp_layer.cpp:66"),
    _row("Filter", BOTH, Count(min=2), AT_LEAST_ONE, _NO_PARAMS, _last_aborts,
         "U:include/caffe/layers/filter_layer.hpp:29-30; U:src/caffe/layers/filter_layer.cpp:11,79-116; L:src/caffe/layers/filter_layer.cpp:11,82-83",
         check=_filter_check),
    _row("Flatten", BOTH, ONE, ONE, _NO_PARAMS, IGNORES,
         "U:include/caffe/layers/flatten_layer.hpp:31-32; U:src/caffe/layers/flatten_layer.cpp:10-11,36-39; L:src/caffe/layers/flatten_layer.cpp:10",
         in_place_allowed=False, aliases_diff=lambda p, nb, nt: True, alias_needs_backward=True,
         notes="Backward does bottom.ShareDiff(top), whatever propagate_down says"),
    _row("HDF5Data", {BVLC}, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/hdf5_data_layer.hpp:35-36,46-49; U:src/caffe/layers/hdf5_data_layer.cpp:1,188",
         needs=frozenset({USE_HDF5})),
    _row("HDF5Data", {SSD}, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/hdf5_data_layer.hpp:37-38; L:src/caffe/layers/hdf5_data_layer.cpp:164 (no USE_HDF5 guard)"),
    _row("HDF5Output", {BVLC}, TWO, ZERO, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/hdf5_output_layer.hpp:37-38; U:src/caffe/layers/hdf5_output_layer.cpp:63-66",
         needs=frozenset({USE_HDF5})),
    _row("HDF5Output", {SSD}, TWO, ZERO, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/hdf5_output_layer.hpp:39-40; L:src/caffe/layers/hdf5_output_layer.cpp:72 (no USE_HDF5 guard)"),
    _loss("HingeLoss", BOTH, _LABEL_ABORTS,
          "U:include/caffe/layers/hinge_loss_layer.hpp:63; U:src/caffe/layers/hinge_loss_layer.cpp:10-41,43-73; L:src/caffe/layers/hinge_loss_layer.cpp:10-20",
          forward_writes_diff=lambda p: frozenset({0})),
    _row("Im2col", BOTH, ONE, ONE, _NO_PARAMS, IGNORES,
         "U:include/caffe/layers/im2col_layer.hpp:30-31; U:src/caffe/layers/im2col_layer.cpp:162-184; L:src/caffe/layers/im2col_layer.cpp:191"),
    _row("ImageData", BOTH, ZERO, TWO, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/image_data_layer.hpp:32-33; U:src/caffe/layers/image_data_layer.cpp:1,179; L:src/caffe/layers/image_data_layer.cpp:1,171,174",
         needs=frozenset({USE_OPENCV})),
    _loss("InfogainLoss", {BVLC}, _ifj({0: Backward.RESPECTS_PD}, Backward.ABORTS_IF_PD),
          "U:include/caffe/layers/infogain_loss_layer.hpp:61-71; U:src/caffe/layers/infogain_loss_layer.cpp:12-24,168-219",
          bottoms=Count(min=2, max=3), tops=Count(min=1, max=2),
          notes="2 tops need 2 explicit loss_weights (its inner Softmax gets a cleared copy)"),
    # The SSD lineage predates the 2-top InfogainLoss: ExactNumTopBlobs stays LossLayer's 1.
    _loss("InfogainLoss", {SSD}, _ifj({0: Backward.RESPECTS_PD}, Backward.ABORTS_IF_PD),
          "L:include/caffe/layers/infogain_loss_layer.hpp:59-61; L:include/caffe/layers/loss_layer.hpp:51",
          bottoms=Count(min=2, max=3)),
    _row("InnerProduct", BOTH, ONE, ONE, _weights_and_bias("inner_product_param"), RESPECTS,
         "U:include/caffe/layers/inner_product_layer.hpp:29-30; U:src/caffe/layers/inner_product_layer.cpp:23-54,100-141; L:src/caffe/layers/inner_product_layer.cpp:13,148"),
    _row("Input", BOTH, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/input_layer.hpp:30-31,36-37; U:src/caffe/layers/input_layer.cpp:8-20; "
         "L:include/caffe/layers/input_layer.hpp:32-33; L:src/caffe/layers/input_layer.cpp:12-15",
         check=_input_check),
    _row("LRN", BOTH, ONE, ONE, _NO_PARAMS, _lrn_backward,
         "U:include/caffe/layers/lrn_layer.hpp:33-34; U:src/caffe/layers/lrn_layer.cpp:165-246; U:src/caffe/layer_factory.cpp:156-192; L:src/caffe/layer_factory.cpp:151",
         engine_param="lrn_param"),
    _row("LSTM", BOTH, Count(min=2, max=3), ONE, _recurrent_params(3, 2), _recurrent_backward(2),
         "U:include/caffe/layers/recurrent_layer.hpp:37-60; U:src/caffe/layers/recurrent_layer.cpp:143-164,204-227; U:src/caffe/layers/lstm_layer.cpp:112-113,126,185; L:src/caffe/layers/recurrent_layer.cpp:147,164",
         no_force_backward=lambda j, n: j == 1, counts_of=_recurrent_counts(2, 2),
         param_diff_ignores_propagate_down=_all_params),
    _row("LSTMUnit", BOTH, Count(exact=3), TWO, _NO_PARAMS,
         _ifj({2: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
         "U:include/caffe/layers/lstm_layer.hpp:76-83; U:src/caffe/layers/lstm_unit_layer.cpp:72-121; L:include/caffe/layers/lstm_layer.hpp:77-80",
         no_force_backward=lambda j, n: j == 2, written_together=frozenset({0, 1})),
    _neuron("Log", BOTH, "U:src/caffe/layers/log_layer.cpp:57-76; L:src/caffe/layers/log_layer.cpp:83",
            in_place_backward_garbles=lambda p: True),
    _row("MVN", BOTH, ONE, ONE, _NO_PARAMS, IGNORES,
         "U:include/caffe/layers/mvn_layer.hpp:26-27; U:src/caffe/layers/mvn_layer.cpp:74-124; L:src/caffe/layers/mvn_layer.cpp:132"),
    _row("MemoryData", BOTH, ZERO, TWO, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/memory_data_layer.hpp:28-29; L:include/caffe/layers/memory_data_layer.hpp:28-29; L:src/caffe/layers/memory_data_layer.cpp:1-3,121"),
    _loss("MultinomialLogisticLoss", BOTH, _LABEL_ABORTS,
          "U:include/caffe/layers/multinomial_logistic_loss_layer.hpp:51; U:src/caffe/layers/multinomial_logistic_loss_layer.cpp:37-59; L:src/caffe/layers/multinomial_logistic_loss_layer.cpp:62"),
    _row("PReLU", BOTH, ONE, ONE, _fixed(1), RESPECTS,
         "U:src/caffe/layers/prelu_layer.cpp:19-48,92-131; L:src/caffe/layers/prelu_layer.cpp:19-48"),
    _row("Parameter", BOTH, ZERO, ONE, _fixed(1), NOOP,
         "U:include/caffe/layers/parameter_layer.hpp:15-40; L:include/caffe/layers/parameter_layer.hpp:17-36",
         top_aliases_param=True),
    _row("Pooling", BOTH, ONE, Count(min=1, max=2), _NO_PARAMS, _pooling_backward,
         "U:include/caffe/layers/pooling_layer.hpp:28-35; U:src/caffe/layers/pooling_layer.cpp:243-320; L:include/caffe/layers/pooling_layer.hpp:28-32; L:src/caffe/layers/pooling_layer.cpp:14-75",
         counts_of=_pooling_counts, check=_pooling_check, backward_reads_tops=_first_top, engine_param="pooling_param",
         notes="STOCHASTIC: CPU Forward and Backward are NOT_IMPLEMENTED; the MAX mask top's diff is never read"),
    _row("Power", BOTH, ONE, ONE, _NO_PARAMS, _power_backward,
         "U:src/caffe/layers/power_layer.cpp:44-93; L:src/caffe/layers/power_layer.cpp:100",
         in_place_backward_garbles=_power_diff_scale_nonzero),
    _row("Python", BOTH, ANY, ANY, _python_params, _python_backward,
         "U:include/caffe/layers/python_layer.hpp:19-47; U:src/caffe/layer_factory.cpp:290-305; L:src/caffe/layer_factory.cpp:245-259",
         needs=frozenset({WITH_PYTHON_LAYER}), backward_known=False,
         notes="blobs and Backward are whatever the Python code does; declare it in pyproject.toml"),
    _row("RNN", BOTH, Count(min=2, max=3), ONE, _recurrent_params(5, 1), _recurrent_backward(1),
         "U:src/caffe/layers/rnn_layer.cpp:103-104,116-117,176,210-211; U:include/caffe/layers/recurrent_layer.hpp:37-60; L:src/caffe/layers/rnn_layer.cpp:234",
         no_force_backward=lambda j, n: j == 1, counts_of=_recurrent_counts(1, 1),
         param_diff_ignores_propagate_down=_all_params),
    _neuron("ReLU", BOTH, "U:src/caffe/layers/relu_layer.cpp:22-36; U:src/caffe/layer_factory.cpp:194-216; L:src/caffe/layer_factory.cpp:174",
            engine_param="relu_param"),
    _row("Reduction", BOTH, ONE, ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/reduction_layer.hpp:30-31; U:src/caffe/layers/reduction_layer.cpp:77-79; L:src/caffe/layers/reduction_layer.cpp:127"),
    _row("Reshape", BOTH, ONE, ONE, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/reshape_layer.hpp:29-30,35-40; U:src/caffe/layers/reshape_layer.cpp:10-11,89-90; L:src/caffe/layers/reshape_layer.cpp:10,94",
         in_place_allowed=False, aliases_diff=lambda p, nb, nt: True),
    _row("SPP", BOTH, ONE, ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/spp_layer.hpp:29-30; U:src/caffe/layers/spp_layer.cpp:205-223; L:src/caffe/layers/spp_layer.cpp:226"),
    _row("Scale", {BVLC}, Count(min=1, max=2), ONE, _scale_params_bvlc, RESPECTS,
         "U:include/caffe/layers/scale_layer.hpp:37-39; U:src/caffe/layers/scale_layer.cpp:15-72,145-218",
         scratch=_scale_scratch),
    _row("Scale", {SSD}, Count(min=1, max=2), ONE, _scale_params_ssd, RESPECTS,
         "L:include/caffe/layers/scale_layer.hpp:35-37; L:src/caffe/layers/scale_layer.cpp:15-64 (bias blob always appended); L:src/caffe/layers/scale_layer.cpp Backward_cpu 'Hack: store big eltwise product in bottom[0] diff'",
         scratch=_scale_scratch),
    _neuron("Sigmoid", BOTH, "U:src/caffe/layers/sigmoid_layer.cpp:25-38; U:src/caffe/layer_factory.cpp:218-240; L:src/caffe/layer_factory.cpp:197",
            engine_param="sigmoid_param"),
    _loss("SigmoidCrossEntropyLoss", BOTH, _LABEL_ABORTS,
          "U:include/caffe/layers/sigmoid_cross_entropy_loss_layer.hpp:56; U:src/caffe/layers/sigmoid_cross_entropy_loss_layer.cpp:104-131; L:src/caffe/layers/sigmoid_cross_entropy_loss_layer.cpp:75"),
    _row("Silence", BOTH, AT_LEAST_ONE, ZERO, _NO_PARAMS, _same(Backward.ZEROES),
         "U:include/caffe/layers/silence_layer.hpp:25-26; U:src/caffe/layers/silence_layer.cpp:9-17; L:include/caffe/layers/silence_layer.hpp:25-26"),
    _row("Slice", BOTH, ONE, AT_LEAST_ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/slice_layer.hpp:29-30; U:src/caffe/layers/slice_layer.cpp:72-73,99-117; L:src/caffe/layers/slice_layer.cpp:13-14,43,99",
         aliases_diff=lambda p, nb, nt: nt == 1, check=_slice_check),
    _row("Softmax", BOTH, ONE, ONE, _NO_PARAMS, IGNORES,
         "U:include/caffe/layers/softmax_layer.hpp:26-27; U:src/caffe/layers/softmax_layer.cpp:63-86; U:src/caffe/layer_factory.cpp:242-264; L:src/caffe/layer_factory.cpp:220",
         notes="CPU Softmax writes the bottom diff whatever propagate_down says (cuDNN checks it)",
         engine_param="softmax_param"),
    _loss("SoftmaxWithLoss", BOTH, _LABEL_ABORTS,
          "U:include/caffe/layers/softmax_loss_layer.hpp:61-64; U:src/caffe/layers/softmax_loss_layer.cpp:11-21,118-149; U:include/caffe/layer.hpp:389-403; L:include/caffe/layers/softmax_loss_layer.hpp:62-64; L:include/caffe/layer.hpp:418",
          tops=Count(min=1, max=2), check=_softmax_loss_check, setup_engine_param="softmax_param"),
    _row("Split", BOTH, ONE, AT_LEAST_ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/split_layer.hpp:27-28; U:src/caffe/layers/split_layer.cpp:9-49; L:src/caffe/layers/split_layer.cpp:18",
         in_place_allowed=False),
    _neuron("Swish", {BVLC}, "U:src/caffe/layers/swish_layer.cpp:43-59"),
    _neuron("TanH", BOTH, "U:src/caffe/layers/tanh_layer.cpp:22-36; U:src/caffe/layer_factory.cpp:266-288; L:src/caffe/layer_factory.cpp:243",
            engine_param="tanh_param"),
    _neuron("Threshold", BOTH, "U:include/caffe/layers/threshold_layer.hpp:54-57; L:src/caffe/layers/threshold_layer.cpp:30",
            backward=ABORTS),
    _row("Tile", BOTH, ONE, ONE, _NO_PARAMS, RESPECTS,
         "U:include/caffe/layers/tile_layer.hpp:24-25; U:src/caffe/layers/tile_layer.cpp:38-52; L:src/caffe/layers/tile_layer.cpp:59"),
    _row("WindowData", BOTH, ZERO, TWO, _NO_PARAMS, NOOP,
         "U:include/caffe/layers/window_data_layer.hpp:34-35; U:src/caffe/layers/window_data_layer.cpp:1,476; L:src/caffe/layers/window_data_layer.cpp:1,473,476",
         needs=frozenset({USE_OPENCV})),
    # --- SSD lineage only (brocolli-caffe 9.0.2) ---
    _row("AnnotatedData", {SSD}, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/annotated_data_layer.hpp:28-29; L:src/caffe/layers/annotated_data_layer.cpp:1-3,238"),
    _row("BatchNormKyle", {SSD}, ONE, ONE, _kyle_params, IGNORES,
         "L:include/caffe/layers/batch_norm_layer.hpp:131-133; L:src/caffe/layers/batch_norm_kyle_layer.cpp:14,26-33,197-290,301",
         param_diff_ignores_propagate_down=lambda p: frozenset({3, 4}),
         notes="with use_alpha_beta, Backward writes the alpha/beta diffs whatever param_propagate_down says"),
    _row("BilinearInterpolate", {SSD}, ONE, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/bilinear_interpolate_layer.hpp:23-25; L:src/caffe/layers/bilinear_interpolate_layer.cpp:189-198"),
    _row("DetectionEvaluate", {SSD}, ANY, ONE, _NO_PARAMS, ABORTS,
         "L:include/caffe/layers/detection_evaluate_layer.hpp:33,52-55; L:src/caffe/layers/detection_evaluate_layer.cpp:228"),
    _row("DetectionOutput", {SSD}, Count(min=3, max=4), ONE, _NO_PARAMS, ABORTS,
         "L:include/caffe/layers/detection_output_layer.hpp:42-44,67-74; L:src/caffe/layers/detection_output_layer.cpp:481-487,496"),
    _neuron("HardSigmoid", {SSD}, "L:include/caffe/layers/hardsigmoid_layer.hpp:30-31 (empty CPU Backward); L:src/caffe/layers/hardsigmoid_layer.cpp:29",
            backward=NOOP),
    _neuron("HardSwish", {SSD}, "L:include/caffe/layers/hardswish_layer.hpp:30-31 (empty CPU Backward); L:src/caffe/layers/hardswish_layer.cpp:24",
            backward=NOOP),
    _row("MaxUnPool", {SSD}, TWO, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/maxunpool_layer.hpp:27-35 (empty CPU Backward); L:src/caffe/layers/maxunpool_layer.cpp:64"),
    _loss("MultiBoxLoss", {SSD}, _ifj({2: Backward.ABORTS_IF_PD, 3: Backward.ABORTS_IF_PD}, Backward.RESPECTS_PD),
          "L:include/caffe/layers/multibox_loss_layer.hpp:40-41; L:src/caffe/layers/multibox_loss_layer.cpp:15-30,257-320,373",
          bottoms=Count(exact=4), check=_multibox_check,
          notes="its LayerSetUp adds propagate_down to its own param copy only; Net::Init never sees it"),
    _row("Normalize", {SSD}, ONE, ONE, _fixed(1), RESPECTS,
         "L:include/caffe/layers/normalize_layer.hpp:28-29; L:src/caffe/layers/normalize_layer.cpp:33-40,157,176,232"),
    _row("PSROIPooling", {SSD}, TWO, ONE, _NO_PARAMS, ABORTS,
         "L:include/caffe/layers/psroi_pooling_layer.hpp:46-49; L:src/caffe/layers/psroi_pooling_layer.cpp:54-69",
         notes="CPU Forward is NOT_IMPLEMENTED too"),
    _row("Pad", {SSD}, ONE, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/pad_layer.hpp:26-27; L:src/caffe/layers/pad_layer.cpp:14,233-237",
         in_place_allowed=False),
    _row("Permute", {SSD}, ONE, ONE, _NO_PARAMS, IGNORES,
         "L:include/caffe/layers/permute_layer.hpp:35-36; L:src/caffe/layers/permute_layer.cpp:34-58,117-132,140",
         aliases_diff=lambda p, nb, nt: _permute_is_identity(p), alias_needs_backward=True,
         notes="an identity order makes Backward share the diff instead of copying it"),
    _row("PixelShuffle", {SSD}, ANY, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/pixelshuffle_layer.hpp:28-29 (empty CPU Backward); L:src/caffe/layers/pixelshuffle_layer.cpp:72"),
    _row("PriorBox", {SSD}, ANY, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/prior_box_layer.hpp:42,61-64; L:src/caffe/layers/prior_box_layer.cpp:224"),
    _row("Proposal", {SSD}, ANY, ANY, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/proposal_layer.hpp:31-32 (empty CPU Backward; type() says \"ProposalLayer\"); "
         "L:src/caffe/layers/proposal_layer.cpp:374",
         reported_type="ProposalLayer"),
    _neuron("ReLU6", {SSD}, "L:src/caffe/layers/relu6_layer.cpp:26-46"),
    _row("Resize", {SSD}, ONE, ONE, _NO_PARAMS, IGNORES,
         "L:include/caffe/layers/resize_layer.hpp:36-37; L:src/caffe/layers/resize_layer.cpp:86-89,133"),
    _loss("SmoothL1Loss", {SSD}, _ifj({2: Backward.NEVER}, Backward.RESPECTS_PD),
          "L:include/caffe/layers/smooth_L1_loss_layer.hpp:38-47; L:src/caffe/layers/smooth_L1_loss_layer.cpp:74-96,106",
          # LossLayer's ExactNumBottomBlobs (2) is not overridden, and CheckBlobCounts tests it
          # before Min/Max: a third bottom is refused.
          bottoms=Count(exact=2, min=2, max=3), no_force_backward=_never),
    _row("Unsqueeze", {SSD}, ONE, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/unsqueeze.hpp:23-24; L:src/caffe/layers/unsqueeze.cpp:45-48,56"),
    _row("Upsample", {SSD}, ANY, ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/upsample_layer.hpp:28-29 (empty CPU Backward); L:src/caffe/layers/upsample_layer.cpp:90"),
    _row("VideoData", {SSD}, ZERO, AT_LEAST_ONE, _NO_PARAMS, NOOP,
         "L:include/caffe/layers/video_data_layer.hpp:39-40; L:src/caffe/layers/video_data_layer.cpp:1,145,148",
         needs=frozenset({USE_OPENCV})),
)


def _index(rows: Sequence[LayerInfo]) -> Dict[str, Dict[str, LayerInfo]]:
    by_flavor: Dict[str, Dict[str, LayerInfo]] = {f: {} for f in FLAVORS}
    for row in rows:
        for flavor in row.flavors:
            if row.type in by_flavor[flavor]:
                raise AssertionError(f"two {flavor} rows for {row.type}")
            by_flavor[flavor][row.type] = row
    return by_flavor


_BY_FLAVOR: Dict[str, Dict[str, LayerInfo]] = _index(_ROWS)


def layer_info(type_name: str, flavor: str) -> Optional[LayerInfo]:
    """The row for ``type_name`` in ``flavor``; None when that Caffe does not register it."""
    return _BY_FLAVOR[flavor].get(type_name)


def known_types(flavor: str) -> List[str]:
    """Every type that flavour's source registers (whatever the build options), sorted."""
    return sorted(_BY_FLAVOR[flavor])


def available_types(flavor: str, build: FrozenSet[str]) -> List[str]:
    """Types registered in a build of ``flavor`` with the build options ``build`` ON."""
    return sorted(t for t, row in _BY_FLAVOR[flavor].items() if row.available(build))


def engine_refusal(info: LayerInfo, name: str, layer_param: Message, build: FrozenSet[str],
                   at_setup: bool = False) -> Optional[str]:
    """Caffe's refusal when the layer's creator cannot make the engine it asks for, else None.

    DEFAULT and CAFFE are always served; CUDNN only by a build with USE_CUDNN, and
    there not for a dilated (de)convolution (U:src/caffe/layer_factory.cpp:39-116).
    Any other engine is "unknown" (the ``else`` of every creator in layer_factory.cpp).
    ``at_setup``: the inner layer LayerSetUp creates (SoftmaxWithLoss's Softmax,
    U:src/caffe/layers/softmax_loss_layer.cpp:11-21), which gets the outer layer's name.
    """
    param_name = info.setup_engine_param if at_setup else info.engine_param
    if param_name is None:
        return None
    sub = layer_param.fields.get(param_name)
    if sub is None or "engine" not in sub.fields:
        return None  # every engine field defaults to DEFAULT (tests/test_layer_table.py checks it)
    engine = sub.fields["engine"]
    if engine in ("DEFAULT", "CAFFE"):
        return None
    if engine == "CUDNN" and USE_CUDNN in build:
        if param_name == "convolution_param" and any(int(d) > 1 for d in sub.repeated("dilation")):
            what = "convolution" if info.type == "Convolution" else "deconvolution"
            return f"CuDNN doesn't support the dilated {what} at Layer {name}"
        return None
    return f"Layer {name} has unknown engine."


# ---------------------------------------------------------------------------
# User-declared layers (custom C++ or Python layers)
# ---------------------------------------------------------------------------

_DECLARED_BACKWARD: Dict[str, Backward] = {
    "respects-pd": Backward.RESPECTS_PD,
    "ignores-pd": Backward.IGNORES_PD,
    "none": Backward.NEVER,
    "aborts": Backward.ABORTS,
}
_DECLARATION_KEYS = ("params", "backward", "loss", "bottoms", "tops")


#: The most parameter blobs, bottoms or tops a declaration may give. Caffe's own
#: layers have at most a handful (LSTM: 3 params; Slice/Concat: a few dozen
#: blobs); the bound keeps a typo such as ``params = 100000000`` from making
#: every later stage loop over a hundred million entries.
MAX_DECLARED_COUNT = 1024


def _declared_count(type_name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"layer declaration '{type_name}': '{key}' must be a non-negative integer, got {value!r}")
    if value > MAX_DECLARED_COUNT:
        raise InputError(
            f"layer declaration '{type_name}': '{key}' = {value} is more than any layer has "
            f"(at most {MAX_DECLARED_COUNT} are accepted); give the real count, e.g. params = 2 for weights and bias"
        )
    return value


def declared_layer(type_name: str, config: Mapping[str, Any], flavors: Iterable[str] = FLAVORS) -> LayerInfo:
    """A row from a user's declaration, e.g. ``[tool.backprop-lint.layers.ROIPooling]``.

    Keys: ``params`` (int, required), ``backward`` ("respects-pd" | "ignores-pd" |
    "none" | "aborts", default "respects-pd"), ``loss`` (bool, default false),
    ``bottoms`` / ``tops`` (exact counts, optional). Unknown keys are refused.
    """
    from collections.abc import Mapping  # only a declaration needs it, not every start

    where = f"layer declaration '{type_name}'"
    if not isinstance(config, Mapping):
        raise InputError(f"{where}: expected a table of settings, got {type(config).__name__}")
    unknown = sorted(set(config) - set(_DECLARATION_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_DECLARATION_KEYS)}")
    if "params" not in config:
        raise InputError(f"{where}: 'params' (number of learnable blobs) is required")
    params = _declared_count(type_name, "params", config["params"])
    backward_name = config.get("backward", "respects-pd")
    if backward_name not in _DECLARED_BACKWARD:
        raise InputError(f"{where}: 'backward' must be one of {', '.join(_DECLARED_BACKWARD)}, got {backward_name!r}")
    loss = config.get("loss", False)
    if not isinstance(loss, bool):
        raise InputError(f"{where}: 'loss' must be true or false, got {loss!r}")
    bottoms = Count(exact=_declared_count(type_name, "bottoms", config["bottoms"])) if "bottoms" in config else ANY
    tops = Count(exact=_declared_count(type_name, "tops", config["tops"])) if "tops" in config else ANY
    declared_params = params
    return LayerInfo(
        type=type_name, flavors=frozenset(flavors), bottoms=bottoms, tops=tops,
        params=lambda p, n: _preloaded(p) or declared_params,
        backward=_same(_DECLARED_BACKWARD[backward_name]),
        citation="declared by the user in pyproject.toml",
        is_loss=loss,
        no_force_backward=_LOSS_LABEL if loss else _never,
    )
