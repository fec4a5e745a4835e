"""Plain data passed between the stages of the model of Caffe.

load -> upgrade -> filter -> insert splits -> simulate.

Nothing here knows Caffe's logic; each stage module does one step and hands
the next one these records (``records.Record``: plain data, with the equality,
``repr`` and ``replace`` a dataclass would have, but no ``dataclasses`` import
or generated code at start-up).
"""
from __future__ import annotations

from itertools import accumulate

from backprop_lint.caffe.records import FrozenRecord, Record
from backprop_lint.caffe.schema.tables import ENUMS, MESSAGES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple, Union

    Scalar = Union[int, float, bool, str, bytes]
    #: True / False, or None when it depends on an undeclared custom layer
    Tri = Optional[bool]

#: how a frozen record's ``__init__`` sets its fields (its own ``__setattr__`` refuses), bound once
_set_field = object.__setattr__

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class Location(FrozenRecord):
    """Where something starts in a source file (1-based line and column; 0: unknown)."""

    __slots__ = ("file", "line", "col")
    file: str
    line: int
    col: int

    def __init__(self, file: str, line: int = 0, col: int = 0) -> None:
        # not self._set(): the filter makes one per layer, and this is three times as fast
        _set_field(self, "file", file)
        _set_field(self, "line", line)
        _set_field(self, "col", col)

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


class BackpropLintError(Exception):
    """Base class of every error this package raises on purpose."""


class InputError(BackpropLintError):
    """The input cannot be read as a NetParameter (malformed, hostile, too big...).

    Rendered as one line: ``file:line:col: error: message``.
    """

    def __init__(self, message: str, location: Optional[Location] = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}error: {self.message}"


class NetRefused(BackpropLintError):
    """Real Caffe would refuse to build this net (a CHECK or LOG(FATAL) at load).

    ``message`` quotes Caffe's own wording where it has one.
    """

    def __init__(
        self,
        message: str,
        layer: Optional[str] = None,
        location: Optional[Location] = None,
        kind: str = "refused",
        missing_build_options: Tuple[str, ...] = (),
        explanation: str = "",
        instead: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.layer = layer
        self.location = location
        #: for an unknown type this flavour registers in other builds: the options (build_options names) it needs
        self.missing_build_options = missing_build_options
        #: a stable refusal class, e.g. "unknown-bottom"; rules map it to a code
        self.kind = kind
        #: what we know beyond Caffe's words (why no Caffe reads this), and what to write instead
        self.explanation = explanation
        self.instead = instead

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        who = f" (layer '{self.layer}')" if self.layer else ""
        more = f"; {self.explanation}" if self.explanation else ""
        return f"{where}error: Caffe refuses this net: {self.message}{who}{more}"


class UnsupportedInput(BackpropLintError):
    """Something real Caffe accepts but backprop-lint deliberately does not model."""


# ---------------------------------------------------------------------------
# Stage 1: load. A parsed protobuf message as plain Python data.
# ---------------------------------------------------------------------------

class SourceLines:
    """Turns offsets into a text into 1-based (line, column) pairs.

    A parse records offsets only, and most runs (``simulate``) read few of
    them, in file order: those are counted forward from the last one read.
    An offset before it is looked up in the start of every line, found on
    first need (one pass over the text).
    """

    __slots__ = ("text", "file", "_starts", "_pos", "_line", "_line_start")

    def __init__(self, text: str, file: str = "<string>") -> None:
        self.text = text
        self.file = file  # what the text was read from, for the Locations of its messages
        self._starts: Optional[List[int]] = None
        self._pos = 0  # the last offset counted forward to, on line _line starting at _line_start
        self._line = 1
        self._line_start = 0

    def line_col(self, offset: int) -> Tuple[int, int]:
        if offset >= self._pos:
            text = self.text
            newlines = text.count("\n", self._pos, offset)
            if newlines:
                self._line += newlines
                self._line_start = text.rfind("\n", self._pos, offset) + 1
            self._pos = offset
            return self._line, offset - self._line_start + 1
        from bisect import bisect_right  # imported here: a run in file order never comes back

        starts = self._starts
        if starts is None:
            # starts[k] is where line k + 1 starts (one past the k-th newline)
            line_lengths = map(len, self.text.split("\n"))
            starts = self._starts = list(accumulate(map((1).__add__, line_lengths), initial=0))
        line = bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1


class Message:
    """One protobuf message as plain data, with source positions.

    ``fields`` holds only the fields present in the input: a singular field
    maps to its value, a repeated field to a list. Scalars are Python ints,
    floats, bools, ``str`` (string fields) or ``bytes`` (bytes fields); enum
    values are their names (``"TRAIN"``); sub-messages are ``Message``.

    ``line``/``col`` and ``positions`` read like plain attributes. A parsed
    message stores text offsets instead (``parsed``) and turns them into lines
    and columns the first time they are read.
    """

    __slots__ = ("type", "fields", "comments", "_line", "_col", "_positions", "_offset", "_lines", "_raw")

    def __init__(
        self,
        type: str,
        fields: Optional[Dict[str, Any]] = None,
        line: int = 0,
        col: int = 0,
        comments: Optional[List[str]] = None,
        positions: Optional[Dict[str, Tuple[int, int]]] = None,
    ) -> None:
        self.type = type  # short message name, e.g. "LayerParameter"
        self.fields: Dict[str, Any] = fields if fields is not None else {}
        self._line = line
        self._col = col
        #: comment lines (text after '#', without it) right before this message's field name
        self.comments: List[str] = comments if comments is not None else []
        self._positions: Dict[str, Any] = positions if positions is not None else {}
        self._offset = -1  # >= 0: line and col are still this offset into _lines' text
        self._lines: Optional[SourceLines] = None
        self._raw = False  # True: _positions holds offsets into _lines' text

    @classmethod
    def parsed(cls, type: str, lines: SourceLines, offset: int, comments: List[str]) -> "Message":
        """A message read from ``lines``' text, its field name at ``offset`` (-1: the root, 0:0).

        Its ``raw_positions`` take the offset of each field's first occurrence.
        """
        message = object.__new__(cls)
        message.type = type
        message.fields = {}
        message.comments = comments
        message._line = message._col = 0
        message._positions = {}
        message._offset = offset
        message._lines = lines
        message._raw = True
        return message

    @property
    def line(self) -> int:
        """1-based line of the message's field name (0: unknown)."""
        if self._offset >= 0:
            self._place()
        return self._line

    @line.setter
    def line(self, value: int) -> None:
        if self._offset >= 0:
            self._place()
        self._line = value

    @property
    def col(self) -> int:
        """1-based column of the message's field name (0: unknown)."""
        if self._offset >= 0:
            self._place()
        return self._col

    @col.setter
    def col(self, value: int) -> None:
        if self._offset >= 0:
            self._place()
        self._col = value

    def line_col(self) -> Tuple[int, int]:
        """(line, col) in one call."""
        if self._offset >= 0:
            self._place()
        return self._line, self._col

    def read_from(self, file: str) -> bool:
        """Whether this message was parsed from the text of ``file``: then ``location()`` needs no file."""
        lines = self._lines
        return lines is not None and lines.file == file

    def location(self) -> "Location":
        """Where this parsed message starts (``read_from``), as a Location."""
        assert self._lines is not None
        line, col = self.line_col()
        return Location(self._lines.file, line, col) if line else Location(self._lines.file)

    def _place(self) -> None:
        assert self._lines is not None
        self._line, self._col = self._lines.line_col(self._offset)
        self._offset = -1

    @property
    def positions(self) -> Dict[str, Tuple[int, int]]:
        """Field name -> (line, col) of its first occurrence."""
        if self._raw:
            lines = self._lines
            assert lines is not None
            raw = self._positions
            for name, offset in raw.items():
                raw[name] = lines.line_col(offset)
            self._raw = False
        return self._positions

    @positions.setter
    def positions(self, value: Dict[str, Tuple[int, int]]) -> None:
        self._positions = value
        self._raw = False

    @property
    def raw_positions(self) -> Dict[str, Any]:
        """For the parser: the dict ``positions`` reads, holding offsets while ``_raw``."""
        return self._positions

    def record_position(self, name: str, offset: int) -> None:
        """Record where field ``name`` first occurs: ``offset`` into the parsed text."""
        if self._raw:
            self._positions[name] = offset
        else:
            assert self._lines is not None
            self.positions[name] = self._lines.line_col(offset)

    def has(self, name: str) -> bool:
        return name in self.fields

    def get(self, name: str) -> Any:
        """The field's value, or the schema default when it is absent.

        Repeated fields give a list (empty when absent); absent sub-messages
        give an empty message of the right type.
        """
        if name in self.fields:
            return self.fields[name]
        return default_of(self.type, name)

    def repeated(self, name: str) -> List[Any]:
        value = self.fields.get(name)
        return value if value is not None else []

    def __repr__(self) -> str:
        return f"Message({self.type!r}, {self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.type == other.type and self.fields == other.fields


class Warning_(Record):
    """A non-fatal observation made while loading (e.g. a fork-only field skipped)."""

    __slots__ = ("message", "location", "kind", "count")
    message: str
    location: Optional[Location]
    kind: str
    #: how many occurrences it stands for: itself and the identical ones after it that
    #: ``RepeatedWarnings`` counted instead of keeping
    count: int

    def __init__(
        self, message: str, location: Optional[Location] = None, kind: str = "warning", count: int = 1
    ) -> None:
        self.message = message
        self.location = location
        self.kind = kind
        self.count = count

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}warning: {self.message}"


#: identical warnings (same kind and message) kept one by one with their positions; the
#: linter shows the first and the lines of the next nine at most
KEPT_REPEATS = 10


class RepeatedWarnings:
    """Appends warnings to a list, but only the first ``KEPT_REPEATS`` identical ones: the
    rest are counted on the last one kept. A field misspelt on each of 2,000,000 lines
    then costs ten warnings instead of a gigabyte."""

    __slots__ = ("warnings", "_kept")

    def __init__(self, warnings: List[Warning_]) -> None:
        self.warnings = warnings
        #: (kind, message) -> how many kept so far, or the last one kept once there are KEPT_REPEATS
        self._kept: Dict[Tuple[str, str], Union[int, Warning_]] = {}

    def add(self, message: str, kind: str, location: Callable[[], Location]) -> None:
        """Keep or count one warning; ``location`` is called only for one that is kept."""
        key = (kind, message)
        kept = self._kept.get(key, 0)
        if isinstance(kept, Warning_):
            kept.count += 1
            return
        warning = Warning_(message, location(), kind)
        self.warnings.append(warning)
        self._kept[key] = warning if kept + 1 == KEPT_REPEATS else kept + 1


class LoadedNet(Record):
    """Stage 1's result: the NetParameter as read, before any upgrade."""

    __slots__ = ("net", "file", "source_format", "text", "warnings")
    net: Message  # type "NetParameter"
    file: str  # path as given, or "<string>" / "<NetParameter>"
    source_format: str  # "text" | "binary" | "message"
    text: Optional[str]  # the text, for code frames and --fix
    warnings: List[Warning_]

    def __init__(self, net: Message, file: str, source_format: str, text: Optional[str] = None,
                 warnings: Optional[List[Warning_]] = None) -> None:
        self.net = net
        self.file = file
        self.source_format = source_format
        self.text = text
        self.warnings = [] if warnings is None else warnings


# ---------------------------------------------------------------------------
# Stages 3-4: the layers Caffe will build, after filtering and split insertion
# ---------------------------------------------------------------------------


class NetState(FrozenRecord):
    """Caffe's NetState: what include/exclude rules are tested against."""

    __slots__ = ("phase", "level", "stages")
    phase: str  # "TRAIN" | "TEST"
    level: int
    stages: Tuple[str, ...]

    def __init__(self, phase: str = "TRAIN", level: int = 0, stages: Tuple[str, ...] = ()) -> None:
        self._set(phase, level, stages)


class ParamSpec(Record):
    """One parameter blob's ParamSpec as Net::Init reads it (lr_mult, decay_mult, sharing)."""

    __slots__ = ("name", "lr_mult", "decay_mult", "share_mode", "explicit")
    name: str
    lr_mult: float
    decay_mult: float
    share_mode: Optional[str]  # None means unset (STRICT)
    explicit: bool  # False: a default spec Caffe makes for a blob with no param {}

    def __init__(self, name: str = "", lr_mult: float = 1.0, decay_mult: float = 1.0,
                 share_mode: Optional[str] = None, explicit: bool = False) -> None:
        self.name = name
        self.lr_mult = lr_mult
        self.decay_mult = decay_mult
        self.share_mode = share_mode
        self.explicit = explicit


def made_location(location: Union[Location, None, Message]) -> Optional[Location]:
    """A record's ``_location`` field as a Location: a parsed Message stands for the place it was
    read from, made into a Location when first read (``LayerDef``)."""
    return location.location() if location.__class__ is Message else location  # type: ignore[union-attr,return-value]


class LayerDef(Record):
    """One LayerParameter as Net::Init sees it (after filter and InsertSplits).

    The stages build one or two per layer, with positional arguments: a call
    with a dozen keywords costs about three times as much. ``location`` may be
    given as the parsed Message whose place it is (``Message.read_from``): the
    Location is then made on first read (4 % of a DenseNet-201 ``simulate``
    went to making Locations no one read). The field itself is ``_location``,
    so that a property can make it while the other fields stay plain slots.
    """

    __slots__ = ("name", "type", "bottoms", "tops", "loss_weights", "propagate_down", "params", "phase",
                 "_location", "param", "comments", "source_index", "split_of", "original_bottoms")
    name: str
    type: str
    bottoms: List[str]
    tops: List[str]
    loss_weights: List[float]  # explicit loss_weight entries only
    propagate_down: List[bool]  # explicit entries only (empty: not given)
    params: List[ParamSpec]  # explicit param {} entries only
    phase: Optional[str]  # the layer's own phase field, if any
    #: where the layer block starts (``location``), or the parsed Message whose place it is until first read
    _location: Union[Location, None, Message]
    param: Message  # the whole LayerParameter (type-specific params live here)
    comments: List[str]
    #: index of the layer in the upgraded, unfiltered NetParameter; None for Split layers
    source_index: Optional[int]
    #: for Split layers: the layer that produced the split blob
    split_of: Optional[str]
    #: the bottoms as written in the file, before InsertSplits renamed them
    original_bottoms: List[str]

    def __init__(
        self,
        name: str,
        type: str,
        bottoms: List[str],
        tops: List[str],
        loss_weights: List[float],
        propagate_down: List[bool],
        params: List[ParamSpec],
        phase: Optional[str],
        location: Union[Location, None, Message],
        param: Message,
        comments: Optional[List[str]] = None,
        source_index: Optional[int] = None,
        split_of: Optional[str] = None,
        original_bottoms: Optional[List[str]] = None,
    ) -> None:
        self.name = name
        self.type = type
        self.bottoms = bottoms
        self.tops = tops
        self.loss_weights = loss_weights
        self.propagate_down = propagate_down
        self.params = params
        self.phase = phase
        self._location = location
        self.param = param
        self.comments = [] if comments is None else comments
        self.source_index = source_index
        self.split_of = split_of
        self.original_bottoms = [] if original_bottoms is None else original_bottoms

    @property
    def location(self) -> Optional[Location]:
        """Where the layer block starts (None: nowhere known)."""
        location = self._location
        if location.__class__ is Message:
            location = self._location = made_location(location)
        return location  # type: ignore[return-value]

    def field_values(self) -> Tuple[Any, ...]:
        self.location  # a location still to be made compares as the Location it will be
        return super().field_values()


class PreparedNet(Record):
    """Everything Net::Init needs: the filtered, split-inserted layer list."""

    __slots__ = ("name", "file", "state", "force_backward", "layers", "flavor", "filtered_out", "warnings",
                 "upgraded_from", "net", "build")
    name: str
    file: str
    state: NetState
    force_backward: bool
    layers: List[LayerDef]
    flavor: str
    #: layers dropped by FilterNet, as (layer name, location, reason)
    filtered_out: List[Tuple[str, Optional[Location], str]]
    warnings: List[Warning_]
    upgraded_from: Optional[str]  # "V0" | "V1" | None
    #: the upgraded (pre-filter) NetParameter, for rules that look at raw fields
    net: Optional[Message]
    #: the Caffe macros ON in the user's build (build_options.resolve_build); None: the usual build
    build: Optional[FrozenSet[str]]

    def __init__(
        self,
        name: str,
        file: str,
        state: NetState,
        force_backward: bool,
        layers: List[LayerDef],
        flavor: str,
        filtered_out: Optional[List[Tuple[str, Optional[Location], str]]] = None,
        warnings: Optional[List[Warning_]] = None,
        upgraded_from: Optional[str] = None,
        net: Optional[Message] = None,
        build: Optional[FrozenSet[str]] = None,
    ) -> None:
        self.name = name
        self.file = file
        self.state = state
        self.force_backward = force_backward
        self.layers = layers
        self.flavor = flavor
        self.filtered_out = [] if filtered_out is None else filtered_out
        self.warnings = [] if warnings is None else warnings
        self.upgraded_from = upgraded_from
        self.net = net
        self.build = build


# ---------------------------------------------------------------------------
# Stage 5: the simulated net (what Net::Init decided, and what Backward() does)
# ---------------------------------------------------------------------------

class SimLayer(Record):
    """One layer as Net::Init left it: its need-backward decisions and what Backward() does.

    Built once per layer, with positional arguments (see ``LayerDef``).
    """

    __slots__ = ("name", "type", "bottoms", "tops", "need_backward", "bottom_need_backward",
                 "param_propagate_down", "loss", "_location", "is_split", "backward_aborts",
                 "need_backward_before_pruning", "contributes_to_loss", "skip_pruned", "forced", "params",
                 "param_diff_nonzero", "definition", "row")
    name: str
    type: str
    bottoms: List[str]
    tops: List[str]
    need_backward: Tri
    bottom_need_backward: List[Tri]
    #: one entry per parameter blob; None when the blob count is unknown
    param_propagate_down: Optional[List[Tri]]
    loss: List[float]  # loss weight per top, as Layer::loss(j)
    #: ``location``: as LayerDef's, made when first read (most runs read only those of their findings)
    _location: Union[Location, None, Message]
    is_split: bool
    #: whether Backward() will abort in this layer (None: unknown)
    backward_aborts: Tri
    #: need_backward after the forward construction pass, before the reverse sweep
    need_backward_before_pruning: Tri
    #: whether a top has a loss weight or feeds a layer that leads to a loss
    contributes_to_loss: bool
    #: whether the sweep pruned the layer because every top is in blobs_skip_backp
    skip_pruned: Tri
    #: whether force_backward: true switched the layer on
    forced: bool
    #: one ParamSpec per parameter blob, as Net::Init reads them (explicit, else Caffe's default)
    params: List[ParamSpec]
    #: per parameter blob, whether its diff is non-zero after one Backward() (None: unknown count)
    param_diff_nonzero: Optional[List[Tri]]
    definition: Optional[LayerDef]
    #: the layer-table row (a ``LayerInfo``) Net::Init used: the flavour's, a pack's or the
    #: user's declaration; None for an unknown type
    row: Any

    def __init__(
        self,
        name: str,
        type: str,
        bottoms: List[str],
        tops: List[str],
        need_backward: Tri,
        bottom_need_backward: List[Tri],
        param_propagate_down: Optional[List[Tri]],
        loss: List[float],
        location: Union[Location, None, Message],
        is_split: bool = False,
        backward_aborts: Tri = False,
        need_backward_before_pruning: Tri = False,
        contributes_to_loss: bool = False,
        skip_pruned: Tri = False,
        forced: bool = False,
        params: Optional[List[ParamSpec]] = None,
        param_diff_nonzero: Optional[List[Tri]] = None,
        definition: Optional[LayerDef] = None,
        row: Any = None,
    ) -> None:
        self.name = name
        self.type = type
        self.bottoms = bottoms
        self.tops = tops
        self.need_backward = need_backward
        self.bottom_need_backward = bottom_need_backward
        self.param_propagate_down = param_propagate_down
        self.loss = loss
        self._location = location
        self.is_split = is_split
        self.backward_aborts = backward_aborts
        self.need_backward_before_pruning = need_backward_before_pruning
        self.contributes_to_loss = contributes_to_loss
        self.skip_pruned = skip_pruned
        self.forced = forced
        self.params = [] if params is None else params
        self.param_diff_nonzero = param_diff_nonzero
        self.definition = definition
        self.row = row

    @property
    def location(self) -> Optional[Location]:
        """Where the layer block starts (None: nowhere known)."""
        location = self._location
        if location.__class__ is Message:
            # the LayerDef's, made once for every state that keeps the layer
            location = self._location = (self.definition.location if self.definition is not None
                                          else made_location(location))
        return location  # type: ignore[return-value]

    def field_values(self) -> Tuple[Any, ...]:
        self.location  # as LayerDef's
        return super().field_values()


class SimulatedNet(Record):
    """Stage 5's result. Field names follow the oracle's JSON keys."""

    __slots__ = ("prepared", "layers", "blobs", "inputs", "outputs", "blob_diff_nonzero", "param_diff_nonzero",
                 "backward_aborts", "seeds", "blob_loss_weights", "blob_need_backward", "unknown_layers")
    prepared: PreparedNet
    layers: List[SimLayer]
    blobs: List[str]
    inputs: List[str]
    outputs: List[str]
    #: blob name -> whether its diff is non-zero after one Backward() (None: unknown)
    blob_diff_nonzero: Dict[str, Tri]
    #: layer name -> per parameter blob, whether its diff is non-zero
    param_diff_nonzero: Dict[str, List[Tri]]
    backward_aborts: List[str]
    #: blob names whose diff was seeded as a gradient source (no-loss nets)
    seeds: List[str]
    #: per blob id (index into ``blobs``): loss weight (Caffe's blob_loss_weights_)
    blob_loss_weights: List[float]
    #: per blob id: Caffe's blob_need_backward_ after Init
    blob_need_backward: List[Tri]
    #: names of undeclared custom layers whose behaviour made results unknown
    unknown_layers: List[str]

    def __init__(
        self,
        prepared: PreparedNet,
        layers: List[SimLayer],
        blobs: List[str],
        inputs: List[str],
        outputs: List[str],
        blob_diff_nonzero: Dict[str, Tri],
        param_diff_nonzero: Dict[str, List[Tri]],
        backward_aborts: List[str],
        seeds: Optional[List[str]] = None,
        blob_loss_weights: Optional[List[float]] = None,
        blob_need_backward: Optional[List[Tri]] = None,
        unknown_layers: Optional[List[str]] = None,
    ) -> None:
        self.prepared = prepared
        self.layers = layers
        self.blobs = blobs
        self.inputs = inputs
        self.outputs = outputs
        self.blob_diff_nonzero = blob_diff_nonzero
        self.param_diff_nonzero = param_diff_nonzero
        self.backward_aborts = backward_aborts
        self.seeds = [] if seeds is None else seeds
        self.blob_loss_weights = [] if blob_loss_weights is None else blob_loss_weights
        self.blob_need_backward = [] if blob_need_backward is None else blob_need_backward
        self.unknown_layers = [] if unknown_layers is None else unknown_layers


_ZERO_BY_KIND: Dict[str, Any] = {"float": 0.0, "double": 0.0, "bool": False, "string": "", "bytes": b""}


def default_of(message: str, field: str) -> Any:
    """The value Caffe reads for ``field`` of ``message`` when it is not set (proto2)."""
    base = MESSAGES.get(message)
    info = base.get(field) if base is not None else None
    if info is None:
        info = pack_field(message, field)
    _number, kind, repeated, type_name, default, _packed = info
    if repeated:
        return []
    if default is not None:
        return default
    if kind == "message":
        return Message(type_name)
    if kind == "enum":
        if type_name in ENUMS:
            return next(iter(ENUMS[type_name]))
        from backprop_lint.caffe.schema.packs import pack_enum  # a layer pack's own enum

        return next(iter(pack_enum(type_name) or {"": 0}))
    return _ZERO_BY_KIND.get(kind, 0)


def pack_field(message: str, field: str) -> Tuple[int, str, bool, Optional[str], Any, bool]:
    """A field that only a layer pack's schema has (the first pack that defines it)."""
    from backprop_lint.caffe.schema.packs import FIELDS as PACK_FIELDS

    for fields in PACK_FIELDS.values():
        info = fields.get(message, {}).get(field)
        if info is not None:
            return info
    raise KeyError(f"{message}.{field}")
