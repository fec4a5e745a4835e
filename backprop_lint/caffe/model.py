"""Plain data passed between the stages of the model of Caffe.

load -> upgrade -> filter -> insert splits -> simulate.

Nothing here knows Caffe's logic; each stage module does one step and hands
the next one these dataclasses.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

from backprop_lint.caffe.schema.packs import FIELDS as PACK_FIELDS
from backprop_lint.caffe.schema.packs import pack_enum
from backprop_lint.caffe.schema.tables import ENUMS, MESSAGES

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where something starts in a source file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

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

Scalar = Union[int, float, bool, str, bytes]


class SourceLines:
    """Turns offsets into a text into 1-based (line, column) pairs.

    A parse records offsets only, and most runs (``simulate``) read few of
    them, in file order: those are counted forward from the last one read.
    An offset before it is looked up in the start of every line, found on
    first need (one pass over the text).
    """

    __slots__ = ("text", "_starts", "_pos", "_line", "_line_start")

    def __init__(self, text: str) -> None:
        self.text = text
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


@dataclass
class Warning_:
    """A non-fatal observation made while loading (e.g. a fork-only field skipped)."""

    message: str
    location: Optional[Location] = None
    kind: str = "warning"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}warning: {self.message}"


@dataclass
class LoadedNet:
    """Stage 1's result: the NetParameter as read, before any upgrade."""

    net: Message  # type "NetParameter"
    file: str  # path as given, or "<string>" / "<NetParameter>"
    source_format: str  # "text" | "binary" | "message"
    text: Optional[str] = None  # the text, for code frames and --fix
    warnings: List[Warning_] = field(default_factory=list)


# ---------------------------------------------------------------------------
# Stages 3-4: the layers Caffe will build, after filtering and split insertion
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NetState:
    """Caffe's NetState: what include/exclude rules are tested against."""

    phase: str = "TRAIN"  # "TRAIN" | "TEST"
    level: int = 0
    stages: Tuple[str, ...] = ()


def location_at(file: str, line: int = 0, col: int = 0) -> Location:
    """``Location(file, line, col)`` without the frozen dataclass's ``__init__`` (an
    ``object.__setattr__`` per field), which the filter would run once per layer."""
    location = object.__new__(Location)
    object.__setattr__(location, "__dict__", {"file": file, "line": line, "col": col})
    return location


def from_fields(cls: type, fields: Dict[str, Any]) -> Any:
    """An instance of the plain (not frozen, no ``__post_init__``) dataclass ``cls`` whose
    attributes are ``fields``, which must name every field.

    Skipping the generated ``__init__`` (keyword matching for a dozen or more fields)
    is about three times faster; the stages build a LayerDef and a SimLayer per layer.
    """
    instance = object.__new__(cls)
    instance.__dict__ = fields
    return instance


@dataclass
class ParamSpec:
    """One parameter blob's ParamSpec as Net::Init reads it (lr_mult, decay_mult, sharing)."""

    name: str = ""
    lr_mult: float = 1.0
    decay_mult: float = 1.0
    share_mode: Optional[str] = None  # None means unset (STRICT)
    explicit: bool = False  # False: a default spec Caffe makes for a blob with no param {}


@dataclass
class LayerDef:
    """One LayerParameter as Net::Init sees it (after filter and InsertSplits)."""

    name: str
    type: str
    bottoms: List[str]
    tops: List[str]
    loss_weights: List[float]  # explicit loss_weight entries only
    propagate_down: List[bool]  # explicit entries only (empty: not given)
    params: List[ParamSpec]  # explicit param {} entries only
    phase: Optional[str]  # the layer's own phase field, if any
    location: Optional[Location]  # where the layer block starts
    param: Message  # the whole LayerParameter (type-specific params live here)
    comments: List[str] = field(default_factory=list)
    #: index of the layer in the upgraded, unfiltered NetParameter; None for Split layers
    source_index: Optional[int] = None
    #: for Split layers: the layer that produced the split blob
    split_of: Optional[str] = None
    #: the bottoms as written in the file, before InsertSplits renamed them
    original_bottoms: List[str] = field(default_factory=list)


@dataclass
class PreparedNet:
    """Everything Net::Init needs: the filtered, split-inserted layer list."""

    name: str
    file: str
    state: NetState
    force_backward: bool
    layers: List[LayerDef]
    flavor: str
    #: layers dropped by FilterNet, as (layer name, location, reason)
    filtered_out: List[Tuple[str, Optional[Location], str]] = field(default_factory=list)
    warnings: List[Warning_] = field(default_factory=list)
    upgraded_from: Optional[str] = None  # "V0" | "V1" | None
    #: the upgraded (pre-filter) NetParameter, for rules that look at raw fields
    net: Optional[Message] = None
    #: the Caffe macros ON in the user's build (build_options.resolve_build); None: the usual build
    build: Optional[FrozenSet[str]] = None


# ---------------------------------------------------------------------------
# Stage 5: the simulated net (what Net::Init decided, and what Backward() does)
# ---------------------------------------------------------------------------

#: True / False, or None when it depends on an undeclared custom layer
Tri = Optional[bool]


@dataclass
class SimLayer:
    """One layer as Net::Init left it: its need-backward decisions and what Backward() does."""

    name: str
    type: str
    bottoms: List[str]
    tops: List[str]
    need_backward: Tri
    bottom_need_backward: List[Tri]
    #: one entry per parameter blob; None when the blob count is unknown
    param_propagate_down: Optional[List[Tri]]
    loss: List[float]  # loss weight per top, as Layer::loss(j)
    location: Optional[Location]
    is_split: bool = False
    #: whether Backward() will abort in this layer (None: unknown)
    backward_aborts: Tri = False
    #: need_backward after the forward construction pass, before the reverse sweep
    need_backward_before_pruning: Tri = False
    #: whether a top has a loss weight or feeds a layer that leads to a loss
    contributes_to_loss: bool = False
    #: whether the sweep pruned the layer because every top is in blobs_skip_backp
    skip_pruned: Tri = False
    #: whether force_backward: true switched the layer on
    forced: bool = False
    #: one ParamSpec per parameter blob, as Net::Init reads them (explicit, else Caffe's default)
    params: List[ParamSpec] = field(default_factory=list)
    #: per parameter blob, whether its diff is non-zero after one Backward() (None: unknown count)
    param_diff_nonzero: Optional[List[Tri]] = None
    definition: Optional[LayerDef] = None
    #: the layer-table row (a ``LayerInfo``) Net::Init used: the flavour's, a pack's or the
    #: user's declaration; None for an unknown type
    row: Any = None


@dataclass
class SimulatedNet:
    """Stage 5's result. Field names follow the oracle's JSON keys."""

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
    seeds: List[str] = field(default_factory=list)
    #: per blob id (index into ``blobs``): loss weight (Caffe's blob_loss_weights_)
    blob_loss_weights: List[float] = field(default_factory=list)
    #: per blob id: Caffe's blob_need_backward_ after Init
    blob_need_backward: List[Tri] = field(default_factory=list)
    #: names of undeclared custom layers whose behaviour made results unknown
    unknown_layers: List[str] = field(default_factory=list)


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
        return next(iter(ENUMS.get(type_name) or pack_enum(type_name) or {"": 0}))
    return _ZERO_BY_KIND.get(kind, 0)


def pack_field(message: str, field: str) -> Tuple[int, str, bool, Optional[str], Any, bool]:
    """A field that only a layer pack's schema has (the first pack that defines it)."""
    for fields in PACK_FIELDS.values():
        info = fields.get(message, {}).get(field)
        if info is not None:
            return info
    raise KeyError(f"{message}.{field}")
