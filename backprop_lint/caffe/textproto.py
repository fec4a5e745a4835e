"""Protobuf text format -> ``Message`` trees, driven by ``schema.tables``.

Accepts exactly what ``google.protobuf.text_format.Parse`` accepts for Caffe's
messages and yields the same content, without importing protobuf (importing
it costs more than parsing a whole net; see /work/shared/MEASURED.md).

How it goes fast: one compiled regular expression (``_FIELD``) matches a whole
simple field at a time (``name: value``, ``name {``, ``}`` or a separator,
with the whitespace and comments before it), run by a regex scanner that
resumes where the last match ended. Each field remembers the tokens it has
already converted, positions are recorded as offsets (lines are counted only for those read),
and comments are looked for only when a '#' precedes a sub-message. Anything
the pattern does not cover (lists, escaped or adjacent strings, comments
inside a field, errors) is handled one field at a time by a token-level reader
(``_SlowReader``) that mirrors text_format's tokenizer. Both feed the same
per-field handlers.

Token boundaries are text_format's: identifiers ``[A-Za-z_][0-9A-Za-z_+-]*``,
numbers ``([0-9+-]|\\.[0-9])[0-9A-Za-z_.+-]*``, quoted strings that end at the
line's end, any other single character. Values are converted from the token
text with the same rules text_format uses (C octal, ``1.5f``, ``inf``...).
"""
from __future__ import annotations

import functools
import gc
import math
import re
import struct
import sys

from backprop_lint.caffe.model import InputError, Location, Message, RepeatedWarnings, SourceLines, Warning_
from backprop_lint.caffe.records import NamedTuple
from backprop_lint.caffe.schema import tables

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

    Converter = Callable[[str], object]

FLAVORS = ("bvlc", "ssd")
#: protobuf's default nesting limit for binary messages; we use it for text too
DEFAULT_MAX_DEPTH = 100
ROOT_MESSAGE = "NetParameter"

# --------------------------------------------------------------------------
# Token patterns (text_format's, applied to the whole text instead of per line)
# --------------------------------------------------------------------------

#: "as many as possible, and never give any back". The fast pattern never needs
#: to backtrack into a run, and saying so (possessive quantifiers, Python 3.11+)
#: makes its scan a quarter faster; older Pythons get the plain, equivalent ``*``.
_RUN = "*+" if sys.version_info >= (3, 11) else "*"

_SPACE = r"\s*(?:\#[^\n]*\s*)*"  # whitespace and '#' comments, unrolled (no backtracking)
_IDENT = rf"[A-Za-z_][0-9A-Za-z_+-]{_RUN}"
_NUMBER = rf"(?:[0-9+-]|\.[0-9])[0-9A-Za-z_.+-]{_RUN}"
#: a quoted string without escapes, its body in a group (so no slicing off its quotes)
_SIMPLE_STRING = rf"\"([^\"\n\\]{_RUN})\"|'([^'\n\\]{_RUN})'"

#: ASCII blanks only: ``\s`` is much slower to match, and any other blank
#: character (form feed, no-break space...) just sends that field to the slow path
_ASCII_BLANK = rf"[ \t\r\n]{_RUN}"
_ASCII_SPACE = rf"{_ASCII_BLANK}(?:\#[^\n]{_RUN}{_ASCII_BLANK}){_RUN}"

#: one simple field, a run of closing braces, or a separator, with the blank text before it.
#: A string must not be followed by another (implicit concatenation), even past
#: comments, nor by a non-ASCII blank (behind which another string might hide):
#: those go slow. A string takes the ASCII blanks after it and then wants neither
#: a quote nor a '#' next, which costs less than looking past the blanks and
#: comments ahead; the next field's blank text then starts at its name, and as
#: what was taken holds no '#', no comment is missed (``_comments_before``).
#: When only the name matches (a list, an escaped string, a string followed by
#: another one, a comment inside the field...), the slow path reads the field.
#: Optional parts are written as a last, empty alternative (``(?:a|b|)``, ``(:?)``
#: for the colon, which is then '' when absent) rather than with ``?`` on a group:
#: the regex engine runs a group's ``?`` through its general repeat machinery,
#: which made the scan a fifth slower.
_FIELD = re.compile(
    rf"{_ASCII_SPACE}(?:"
    rf"({_IDENT}){_ASCII_BLANK}(:?){_ASCII_BLANK}"
    rf"(?:({_IDENT}|{_NUMBER})|(?:{_SIMPLE_STRING}){_ASCII_BLANK}(?![\"'\#]|[^\S \t\r\n])|([{{<])|)"
    rf"|([}}>](?:{_ASCII_BLANK}[}}>]){_RUN})|([,;])|)"
)

#: one token of any kind, with the blank text before it (groups: kind by index)
_TOKEN_PATTERN = (
    rf"({_SPACE})(?:({_IDENT})|({_NUMBER})"
    r"|(\"[^\"\n\\]*(?:\\.[^\"\n\\]*)*(?:\"|\\?$)|'[^'\n\\]*(?:\\.[^'\n\\]*)*(?:'|\\?$))"
    r"|([\s\S]))?"
)


@functools.lru_cache(maxsize=None)
def _token_regex() -> "re.Pattern[str]":
    """``_TOKEN_PATTERN`` compiled on first use: only the slow path reads tokens one by one."""
    return re.compile(_TOKEN_PATTERN, re.MULTILINE)


_FLOAT_OCTAL = re.compile(r"-?0[0-9]+")  # tried on every float starting with 0 or -

# Patterns of the slow paths, as text: re compiles (and caches) each on its first
# use, so a net that never needs one does not pay for compiling it at start-up.
_NAME_TOKEN = r"\w+"  # text_format's ConsumeIdentifierOrNumber
_IDENTIFIER_VALUE = r"[^\d\W]\w*"  # text_format's ConsumeIdentifier
_C_OCTAL = r"(-?)0(\d+)$"
_FLOAT_INF = r"(?i)-?inf(?:inity)?f?$"
_FLOAT_NAN = r"(?i)nanf?$"
_SHORT_HEX_ESCAPE = r"(\\+)x([0-9a-fA-F])(?![0-9a-fA-F])"
_TEMPLATE_VAR = r"\$\{?[A-Za-z_0-9]*\}?"

# --------------------------------------------------------------------------
# Scalar conversion, from token text, with text_format's rules
# --------------------------------------------------------------------------


class _BadValue(ValueError):
    """A token that is not a valid value for its field (message says why)."""


class _ForkValue(Exception):
    """A valid enum value that only the other Caffe fork defines (the caller warns)."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value

_INT_RANGES: Dict[str, Tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
}
_BOOLS = {"true": True, "t": True, "1": True, "True": True, "false": False, "f": False, "0": False, "False": False}
_FLOAT32 = struct.Struct("<f")
_pack_float32 = _FLOAT32.pack
_unpack_float32 = _FLOAT32.unpack


def parse_integer(token: str) -> int:
    """An integer literal: decimal, 0x hex, C octal (``010`` is 8), optional sign."""
    try:
        return int(token, 0)
    except ValueError:
        pass
    octal = re.match(_C_OCTAL, token)
    if octal:
        try:
            return int(octal.group(1) + "0o" + octal.group(2), 0)
        except ValueError:
            pass
    raise _BadValue(f"'{shorten(token)}' is not an integer")


def parse_float(token: str) -> float:
    """A float literal as text_format reads it: ``1``, ``1.``, ``.5``, ``1e-3``, ``1.5f``, ``inf``, ``nan``."""
    if _FLOAT_OCTAL.match(token):
        raise _BadValue(f"'{shorten(token)}' is not a number (a leading 0 would make it octal)")
    try:
        return float(token)
    except ValueError:
        pass
    if re.match(_FLOAT_INF, token):
        return -math.inf if token[0] == "-" else math.inf
    if re.match(_FLOAT_NAN, token):
        return math.nan
    try:
        return float(token.rstrip("fF"))
    except ValueError:
        raise _BadValue(f"'{shorten(token)}' is not a number") from None


def to_float32(value: float) -> float:
    """The value a C++ ``float`` field holds (what Caffe and protobuf store)."""
    try:
        return _unpack_float32(_pack_float32(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def unescape_string(body: str) -> bytes:
    """The bytes of a quoted literal's body, with C escapes resolved as text_format does."""
    if "\\" not in body:
        return body.encode("utf-8", "surrogateescape")  # bytes that were not UTF-8 stay as they were
    import warnings  # only strings with escapes need it (most nets have none)

    padded = re.sub(_SHORT_HEX_ESCAPE, _pad_short_hex, body)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # '\z' is kept as is, as protobuf does
            resolved = padded.encode("raw_unicode_escape").decode("raw_unicode_escape")
            return resolved.encode("utf-8", "surrogateescape").decode("unicode_escape").encode("latin-1")
    except (UnicodeError, ValueError) as error:
        raise _BadValue(f"invalid escape sequence in string: {error}") from None


def _pad_short_hex(match: "re.Match[str]") -> str:
    # '\xf' means '\x0f' in C; Python's codec wants two digits. An even run of
    # backslashes means the 'x' is not escaped at all.
    if len(match.group(1)) % 2:
        return match.group(1) + "x0" + match.group(2)
    return match.group(0)


def _literal_body(token: str) -> str:
    if len(token) < 2 or token[-1] != token[0]:
        raise _BadValue(f"string {shorten(token)} has no closing quote on its line")
    return token[1:-1]


def _int_converter(kind: str) -> Converter:
    low, high = _INT_RANGES[kind]

    def convert(token: str) -> int:
        try:
            value = int(token, 0)  # the common case, without a call to parse_integer
        except ValueError:
            value = parse_integer(token)
        if not low <= value <= high:
            raise _BadValue(f"{value} is out of range for a {kind} field ({low}..{high})")
        return value

    return convert


def _float_converter(token: str) -> float:
    if token[0] not in "0-" or not _FLOAT_OCTAL.match(token):
        try:
            value = float(token)  # the common case, inlined
        except ValueError:
            value = parse_float(token)
    else:
        value = parse_float(token)  # raises: C octal
    try:
        return _unpack_float32(_pack_float32(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def _double_converter(token: str) -> float:
    return parse_float(token)


def _bool_converter(token: str) -> bool:
    value = _BOOLS.get(token)
    if value is None:
        raise _BadValue(f"expected true or false, found '{shorten(token)}'")
    return value


def _enum_converter(enum: str, fork_values: FrozenSet[str], added: Optional[Dict[str, int]] = None) -> Converter:
    """``added``: values enabled layer packs add to this base enum (a base number keeps its base name)."""
    if enum in tables.ENUMS:
        by_name, by_number = tables.ENUMS[enum], tables.ENUM_NAMES[enum]
    else:  # a layer pack's own enum
        from backprop_lint.caffe.schema import packs as pack_tables

        by_name = pack_tables.pack_enum(enum) or {}
        by_number = {number: name for name, number in reversed(list(by_name.items()))}
    if added:
        by_name = {**by_name, **{name: number for name, number in added.items() if name not in by_name}}
        by_number = {**{number: name for name, number in reversed(list(added.items()))}, **by_number}
    names = list(by_name)
    choices = ", ".join(names) if len(names) <= 12 else ", ".join(names[:12]) + ", ..."

    def convert(token: str) -> str:
        if token in by_name:
            if token in fork_values:
                raise _ForkValue(token)
            return token
        try:
            number = int(token, 0)
        except ValueError:
            from backprop_lint.caffe.schema import packs as pack_tables

            never = pack_tables.NEVER_PUBLISHED.get((enum, token))
            if never is not None:
                raise _BadValue(never) from None
            packs = pack_tables.packs_adding_value(enum, token)
            hint = f"; the `{packs[0]}` layer pack adds it (--pack {packs[0]})" if packs else ""
            raise _BadValue(
                f"Enum type \"caffe.{enum}\" has no value named {shorten(token)} (it has: {choices}){hint}"
            ) from None
        name = by_number.get(number)
        if name is None:
            raise _BadValue(f"Enum type \"caffe.{enum}\" has no value with number {number} (it has: {choices})")
        if name in fork_values:
            raise _ForkValue(name)
        return name

    return convert


# --------------------------------------------------------------------------
# The schema, compiled for the parser
# --------------------------------------------------------------------------


class FieldSpec:
    """What the parser needs to know about one field of one message."""

    __slots__ = ("name", "kind", "repeated", "message", "enum", "convert", "fork_only", "fork_values", "known")

    def __init__(
        self,
        name: str,
        kind: str,
        repeated: bool,
        type_name: Optional[str],
        fork_only: bool,
        fork_values: FrozenSet[str],
        added_values: Optional[Dict[str, int]] = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.repeated = repeated
        self.message = type_name if kind == "message" else None
        self.enum = type_name if kind == "enum" else None
        self.convert: Optional[Converter] = _converter(kind, type_name, fork_values, added_values)
        #: the field exists only in the other Caffe fork than the flavour being read
        self.fork_only = fork_only
        #: enum values that exist only in the other fork
        self.fork_values = fork_values
        #: token -> value, for tokens already converted without a warning (a cache, see _KNOWN_LIMIT)
        self.known: Dict[str, object] = {}


def _converter(
    kind: str, type_name: Optional[str], fork_values: FrozenSet[str], added_values: Optional[Dict[str, int]] = None
) -> Optional[Converter]:
    if kind in _INT_RANGES:
        return _int_converter(kind)
    if kind == "float":
        return _float_converter
    if kind == "double":
        return _double_converter
    if kind == "bool":
        return _bool_converter
    if kind == "enum":
        assert type_name is not None
        return _enum_converter(type_name, fork_values, added_values)
    return None  # message, string, bytes: handled by the parser


#: at most this many tokens are remembered per field (a hostile file may hold millions of distinct ones)
_KNOWN_LIMIT = 512

if TYPE_CHECKING:
    Schema = Dict[str, Dict[str, FieldSpec]]
_schemas: Dict[Tuple[str, Tuple[str, ...]], Schema] = {}
_common_fields: Dict[Tuple[str, Tuple[str, ...]], Dict[str, Dict[str, FieldSpec]]] = {}


class _LazySchema(dict):  # type: ignore[type-arg]
    """``compiled_schema(flavor)``: a message's FieldSpecs are made the first time it is
    looked up. A net uses a dozen of Caffe's hundred messages, and compiling all of
    them was a tenth of a process's first parse."""

    def __init__(self, flavor: str) -> None:
        super().__init__()
        self.flavor = flavor

    def __missing__(self, message: str) -> Dict[str, FieldSpec]:
        specs = self[message] = _compile_message(message, self.flavor)
        return specs


class _LazyCommon(dict):  # type: ignore[type-arg]
    """``common_fields``: per message, made from the schema's the first time it is looked up."""

    def __init__(self, schema: Schema) -> None:
        super().__init__()
        self.schema = schema

    def __missing__(self, message: str) -> Dict[str, FieldSpec]:
        common = self[message] = {name: spec for name, spec in self.schema[message].items() if not spec.fork_only}
        return common


def common_fields(flavor: str, packs: Tuple[str, ...] = ()) -> Dict[str, Dict[str, FieldSpec]]:
    """Per message, the fields that are not fork-only for ``flavor`` (the hot loop's view)."""
    cached = _common_fields.get((flavor, packs))
    if cached is None:
        cached = _common_fields[(flavor, packs)] = _LazyCommon(compiled_schema(flavor, packs))
    return cached


def other_fork(flavor: str) -> str:
    """The fork whose additions a file read as ``flavor`` must not use."""
    return "SSD" if flavor == "bvlc" else "BVLC"


def compiled_schema(flavor: str, packs: Tuple[str, ...] = ()) -> Schema:
    """Per message, per field: a FieldSpec, with fork-only marks for ``flavor``.

    ``packs``: layer packs whose fork's fields are added (``caffe/schema/packs.py``),
    in order (a later pack's field of the same name wins).
    """
    if flavor not in FLAVORS:
        raise ValueError(f"unknown Caffe flavour {flavor!r}; expected one of {', '.join(FLAVORS)}")
    cached = _schemas.get((flavor, packs))
    if cached is None:
        cached = _schemas[(flavor, packs)] = (
            _with_packs(compiled_schema(flavor), packs) if packs else _LazySchema(flavor))
    return cached


#: per flavour: the other fork's (message, field) and (enum, value) pairs, grouped by message or enum
_foreign_members: Dict[str, Dict[str, List[str]]] = {}


def _compile_message(message: str, flavor: str) -> Dict[str, FieldSpec]:
    """The FieldSpecs of one message (KeyError: not a message of the schema)."""
    fields = tables.MESSAGES[message]
    foreign = tables.SSD_ONLY if flavor == "bvlc" else tables.BVLC_ONLY
    members_of = _foreign_members.get(flavor)
    if members_of is None:
        members_of = _foreign_members[flavor] = {}
        for owner, member in foreign:
            members_of.setdefault(owner, []).append(member)
    no_values: FrozenSet[str] = frozenset()
    # In a message that only the other fork has, the field that holds it is
    # the one to report; its own fields need no second warning.
    wholly_foreign = all((message, name) in foreign for name in fields)
    specs: Dict[str, FieldSpec] = {}
    for name, (_number, kind, repeated, type_name, _default, _packed) in fields.items():
        members = members_of.get(type_name) if kind == "enum" and type_name is not None else None
        fork_values = frozenset(members) if members else no_values
        fork_only = (message, name) in foreign and not wholly_foreign
        specs[name] = FieldSpec(name, kind, repeated, type_name, fork_only, fork_values)
    if flavor == "ssd":
        # Where the SSD fork reuses a BVLC field number for another field (e.g.
        # PoolingParameter.ceil_mode), the SSD reader knows the SSD field.
        for (owner, _number), (name, label, kind, type_name, _default) in tables.SSD_VARIANTS.items():
            if owner == message and name not in specs:
                specs[name] = FieldSpec(name, kind, label == "repeated", type_name, False, frozenset())
    return specs


def _with_packs(base: Schema, packs: Tuple[str, ...]) -> Schema:
    """``base`` plus the packs' fields, messages and enum values; ``base`` itself is left as it is."""
    from backprop_lint.caffe.schema import packs as pack_tables  # only a net read with --pack needs them

    schema = {message: base[message] for message in tables.MESSAGES}
    for pack in packs:
        for message, fields in pack_tables.FIELDS.get(pack, {}).items():
            specs = dict(schema.get(message, {}))
            for name, (_number, kind, repeated, type_name, _default, _packed) in fields.items():
                specs[name] = FieldSpec(name, kind, repeated, type_name, False, frozenset())
            schema[message] = specs
    added = pack_tables.enum_values_added(packs)
    if added:
        for message, specs in list(schema.items()):
            if any(spec.enum in added for spec in specs.values()):
                schema[message] = {
                    name: spec if spec.enum not in added else FieldSpec(
                        name, spec.kind, spec.repeated, spec.enum, spec.fork_only, spec.fork_values, added[spec.enum])
                    for name, spec in specs.items()
                }
    return schema


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------


class _Frame(NamedTuple):
    """A message being filled (or skipped, when ``message`` is None).

    A tuple, so the hot loop can build one with a single C call and read it by index.
    """

    message: Optional[Message]
    fields: Dict[str, FieldSpec]
    #: ``fields`` without the fork-only ones (what the hot loop handles itself)
    common: Dict[str, FieldSpec]
    close: str  # '}' or '>', or '' for the top level
    name: str  # the field that opened it
    #: offset of that field's name (of the list's name for a skipped list element), for errors
    pos: int
    #: set when this message is an element of a ``name: [ {...}, {...} ]`` list
    list_field: Optional[FieldSpec]


_new_frame = tuple.__new__
# indexes of _Frame's items, for the hot loop
_MESSAGE, _COMMON, _CLOSE, _LIST_FIELD = 0, 2, 3, 6


#: the fields of a skipped message: none are known
_NO_FIELDS: Dict[str, FieldSpec] = {}


def parse(
    text: str,
    *,
    file: str = "<string>",
    flavor: str = "bvlc",
    strict: bool = False,
    max_depth: int = DEFAULT_MAX_DEPTH,
    message_type: str = ROOT_MESSAGE,
    packs: Tuple[str, ...] = (),
) -> Tuple[Message, List[Warning_]]:
    """Parse ``text`` as a ``message_type`` (default NetParameter) in protobuf text format.

    Returns the message and the warnings (fields Caffe's parser would refuse,
    skipped in non-strict mode). Raises ``InputError`` on malformed text.
    ``packs``: layer packs whose fork's schema fields are known too.
    """
    parser = _Parser(text, file, compiled_schema(flavor, packs), flavor, strict, max_depth, packs)
    # The parse allocates many small containers and frees none of them: the
    # cyclic garbage collector would rescan them again and again (quadratic on
    # big inputs) to find nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return parser.run(message_type), parser.warnings
    finally:
        if collecting:
            gc.enable()


class _Parser:
    def __init__(
        self, text: str, file: str, schema: Schema, flavor: str, strict: bool, max_depth: int,
        packs: Tuple[str, ...] = (),
    ) -> None:
        self.text = text
        self.file = file
        self.schema = schema
        self.common = common_fields(flavor, packs)
        self.flavor = flavor
        self.strict = strict
        self.max_depth = max_depth
        self.warnings: List[Warning_] = []
        self.reported = RepeatedWarnings(self.warnings)
        self.stack: List[_Frame] = []
        #: a ',' or ';' may follow: the last thing read ended a field
        self.after_field = False
        self._line = 1
        self._line_pos = 0
        self._line_start = 0
        #: the messages' positions are offsets into this text, turned into lines when read
        self.lines = SourceLines(text, file)

    # -- positions --------------------------------------------------------

    def line_col(self, pos: int) -> Tuple[int, int]:
        """1-based line and column of ``pos`` (fast for increasing positions)."""
        text = self.text
        if pos >= self._line_pos:
            newlines = text.count("\n", self._line_pos, pos)
            if newlines:
                self._line += newlines
                self._line_start = text.rfind("\n", self._line_pos, pos) + 1
            self._line_pos = pos
            return self._line, pos - self._line_start + 1
        return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)

    def opened_at(self, frame: _Frame) -> str:
        line, col = self.line_col(frame.pos)
        return f"{line}:{col}"

    def location(self, pos: int) -> Location:
        return Location(self.file, *self.line_col(pos))

    def error(self, pos: int, message: str) -> InputError:
        return InputError(message, self.location(pos))

    # -- the main loop ----------------------------------------------------

    def run(self, message_type: str) -> Message:
        text = self.text
        if text.startswith("\ufeff"):
            raise self.error(0, "the file starts with a UTF-8 byte-order mark, which protobuf's text "
                                "parser (and so Caffe) rejects; save the file without it")
        lines = self.lines
        root = Message.parsed(message_type, lines, -1, [])
        stack = self.stack
        stack.append(_Frame(root, self.schema[message_type], self.common[message_type], "", "", 0, None))
        # The hot loop: locals only, one regex match per field. Rare cases go to methods.
        schema, common, max_depth = self.schema, self.common, self.max_depth
        # Positions are recorded as offsets (Message.parsed): lines and columns are
        # counted only for those that are read
        end = len(text)
        pos = 0
        value: Any
        sub_type: Any
        new_message = object.__new__
        after_field = False
        #: the first '#' at or after the last sub-message's name: no comments to look for before it
        next_hash = text.find("#") % (end + 1)
        while True:
            frame: Any = stack[-1]  # a _Frame, read by index here
            message: Any = frame[_MESSAGE]  # a Message, or None inside a skipped one
            fields: Dict[str, FieldSpec] = frame[_COMMON]
            if message is not None:
                present, positions = message.fields, message.raw_positions
            # A scanner matches _FIELD again and again, each time where the last
            # match ended: no position to pass in or read back. After the slow path
            # (or anything else that moves ``pos``) the loop starts a new one.
            for found in iter(_FIELD.scanner(text, pos).match, None):  # type: ignore[attr-defined]
                name, colon, token, double_quoted, single_quoted, opener, closer, separator = found.groups()
                if name is not None:
                    spec = fields.get(name)
                    if spec is None:  # unknown, fork-only, or inside a skipped message
                        self.after_field = after_field
                        pos = self.unusual_field(found, name, found.start(1))
                        after_field = self.after_field
                        break
                    # the schema's own string keys the message's fields: the match's copy is freed at
                    # once instead of living as thousands of equal keys, and every later lookup of a
                    # field by name finds the very same string
                    name = spec.name
                    if opener is None:
                        if token is not None:
                            if not colon:
                                raise self.missing_colon(name, spec, found.start(3))
                            # the same few tokens come back again and again ("1", "true", "MAX"...)
                            value = spec.known.get(token)
                            if value is None:
                                value = self.convert(spec, token, found.start(3))
                        elif double_quoted is not None or single_quoted is not None:
                            if not colon:
                                raise self.missing_colon(name, spec, _quoted(found)[1])
                            if spec.kind == "string":
                                value = double_quoted if double_quoted is not None else single_quoted
                            else:
                                value = self.convert(spec, *_quoted(found))
                        else:  # a list, an escaped string, a comment inside the field...
                            self.after_field = after_field
                            pos = _SlowReader(self, found.start()).field()
                            after_field = self.after_field
                            break
                        after_field = True
                        if spec.repeated:
                            existing = present.get(name)
                            if existing is not None:
                                existing.append(value)  # not a first occurrence: no position to record
                                continue
                            present[name] = [value]
                        elif name in present:
                            raise self.duplicate(message, name, found.start(1))
                        else:
                            present[name] = value
                        positions[name] = found.start(1)
                        continue
                    # a sub-message: name { or name: {
                    name_pos = found.start(1)
                    sub_type = spec.message
                    if sub_type is None or len(stack) >= max_depth:
                        raise self.open_error(spec, name, name_pos)
                    # Message.parsed inlined: a sub-message is created for every '{'
                    value = new_message(Message)
                    value.type = sub_type
                    value.fields = {}
                    value._line = value._col = 0
                    value._offset = name_pos
                    value._lines = lines
                    value._raw = True
                    if next_hash < name_pos:  # a '#' somewhere before: maybe comments right above
                        value.comments = _comments_before(text, found.start(), name_pos)
                        next_hash = text.find("#", name_pos) % (end + 1)  # -1 (none left) -> end
                    else:
                        value.comments = []
                    value._positions = {}
                    if spec.repeated:
                        existing = present.get(name)
                        if existing is None:
                            present[name] = [value]
                            positions[name] = name_pos
                        else:
                            existing.append(value)
                    elif name in present:
                        raise self.duplicate(message, name, name_pos)
                    else:
                        present[name] = value
                        positions[name] = name_pos
                    frame = _new_frame(
                        _Frame,
                        (value, schema[sub_type], common[sub_type], "}" if opener == "{" else ">", name, name_pos, None),
                    )
                    stack.append(frame)
                    message = value
                    fields = frame[_COMMON]
                    present, positions = value.fields, value._positions
                    after_field = False
                elif closer is not None:
                    after_field = True
                    # One brace, or a run of them with blanks between ("}\n  }"): pop
                    # while they close what is open; close_run reads the rest otherwise.
                    for offset, char in enumerate(closer):
                        if char == frame[_CLOSE] and frame[_LIST_FIELD] is None:
                            stack.pop()
                            frame = stack[-1]
                        elif char in "}>":
                            self.after_field = after_field
                            pos = self.close_run(closer[offset:], found.start(7) + offset, found.end())
                            after_field = self.after_field
                            break
                    else:
                        message = frame[_MESSAGE]
                        fields = frame[_COMMON]
                        if message is not None:
                            present, positions = message.fields, message.raw_positions
                        continue
                    break
                elif separator is not None:
                    if not after_field:
                        raise self.error(found.start(8), f"unexpected '{separator}': a separator may only follow a field")
                    after_field = False
                else:  # only blank text: the end, or something only the slow path reads
                    pos = found.end()
                    if pos >= end:
                        self.finish(pos)
                        return root
                    self.after_field = after_field
                    pos = _SlowReader(self, pos).field()
                    after_field = self.after_field
                    break

    def unusual_field(self, found: "re.Match[str]", name: str, name_pos: int) -> int:
        """A simple field that is unknown, fork-only, or inside a skipped message."""
        _name, colon, token, double_quoted, single_quoted, opener, _closer, _separator = found.groups()
        if opener is None and token is None and double_quoted is None and single_quoted is None:
            return _SlowReader(self, found.start()).field()
        frame = self.stack[-1]
        spec = frame.fields.get(name)
        self.unknown_field(name, name_pos, spec, frame.message is None)
        if opener is not None:
            self.open(spec, name, name_pos, name_pos, self.text[found.start():name_pos], opener, None)
            self.after_field = False
            return found.end()
        value, value_pos = (token, found.start(3)) if token is not None else _quoted(found)
        if not colon:
            raise self.missing_colon(name, spec, value_pos)
        if spec is None or frame.message is None:
            self.check_skipped_value(value, value_pos)
        else:
            self.store(frame.message, spec, name, name_pos, value, value_pos)
        self.after_field = True
        return found.end()

    # -- handlers shared by the fast and the slow path ----------------------

    def store(self, message: Message, spec: FieldSpec, name: str, name_pos: int, token: str, value_pos: int) -> None:
        """Convert a scalar token for ``spec`` and put it into ``message``."""
        value = self.convert(spec, token, value_pos)
        self.put(message, spec, name, name_pos, value, value_pos)

    def convert(self, spec: FieldSpec, token: str, value_pos: int) -> object:
        if token[0] == "$":
            raise self.template_error(value_pos)
        convert = spec.convert
        try:
            if convert is not None:
                try:
                    value: object = convert(token)
                except _ForkValue as fork:
                    self.fork_value(spec, fork.value, value_pos)
                    return fork.value
            elif spec.kind == "message":
                raise _BadValue(f"'{spec.name}' is a message: write {spec.name} {{ ... }}")
            else:
                if token[0] not in "\"'":
                    raise _BadValue(f"expected a quoted string, found '{shorten(token)}'")
                raw = unescape_string(_literal_body(token))
                value = raw if spec.kind == "bytes" else _utf8(raw)
        except _BadValue as bad:
            raise self.error(value_pos, f"invalid value for '{spec.name}' ({spec.kind}): {bad}") from None
        if len(spec.known) < _KNOWN_LIMIT:
            spec.known[token] = value
        return value

    def put(self, message: Message, spec: FieldSpec, name: str, name_pos: int, value: object, value_pos: int) -> None:
        fields = message.fields
        if spec.repeated:
            existing = fields.get(name)
            if existing is None:
                fields[name] = [value]
                message.record_position(name, name_pos)
            else:
                existing.append(value)
        elif name in fields:
            raise self.duplicate(message, name, name_pos)
        else:
            fields[name] = value
            message.record_position(name, name_pos)

    def duplicate(self, message: Message, name: str, name_pos: int) -> InputError:
        first = message.positions.get(name)
        where = f" (first set at {first[0]}:{first[1]})" if first else ""
        return self.error(
            name_pos,
            f"'{shorten(name)}' is set twice in this {message.type}{where}; it is not a repeated field, "
            f"so Caffe's parser refuses the file (Message type \"caffe.{message.type}\" should not "
            f"have multiple \"{shorten(name)}\" fields)",
        )

    def open_error(self, spec: Optional[FieldSpec], name: str, name_pos: int) -> InputError:
        """Why field ``name`` cannot open a message here: too deep, or not a message field."""
        if len(self.stack) >= self.max_depth:
            return self.error(
                name_pos, f"messages are nested more than {self.max_depth} deep; refusing to read further"
            )
        kind = spec.kind if spec is not None else "scalar"
        return self.error(
            name_pos, f"'{shorten(name)}' is a {kind} field, not a message: write {shorten(name)}: <value>"
        )

    def open(
        self,
        spec: Optional[FieldSpec],
        name: str,
        name_pos: int,
        frame_pos: int,
        blank: str,
        opener: str,
        list_field: Optional[FieldSpec],
    ) -> None:
        """Start a sub-message for field ``name`` (skipped when unknown); ``blank`` is the text before it.

        ``frame_pos``: where the "opened at" of an error about its end points.
        """
        stack = self.stack
        if len(stack) >= self.max_depth:
            raise self.open_error(spec, name, name_pos)
        close = "}" if opener == "{" else ">"
        parent = stack[-1]
        if spec is None or parent.message is None:
            stack.append(_Frame(None, _NO_FIELDS, _NO_FIELDS, close, name, frame_pos, list_field))
            return
        if spec.kind != "message":
            raise self.open_error(spec, name, name_pos)
        assert spec.message is not None and parent.message is not None
        comments = _comments_before(self.text, name_pos - len(blank), name_pos) if "#" in blank else []
        child = Message.parsed(spec.message, self.lines, name_pos, comments)
        self.put(parent.message, spec, name, name_pos, child, name_pos)
        stack.append(_Frame(child, self.schema[spec.message], self.common[spec.message], close, name, frame_pos,
                            list_field))

    def close_run(self, run: str, start: int, end: int) -> int:
        """Closing braces separated by blanks (``}\n  }``); return where reading resumes."""
        for offset, char in enumerate(run):
            if char in "}>":
                frame = self.stack[-1]
                if char == frame.close and frame.list_field is None:
                    self.stack.pop()
                    continue
                resume = self.close(char, start + offset, start + offset + 1)
                if frame.list_field is not None:
                    return resume  # the list reader read on from this brace
        self.after_field = True
        return end

    def close(self, closer: str, pos: int, after: int) -> int:
        """Pop the message ``closer`` ends; return where reading resumes."""
        frame = self.stack[-1]
        if frame.close != closer:
            if not frame.close:
                raise self.error(pos, f"unexpected '{closer}': there is no open message to close here")
            raise self.error(
                pos,
                f"expected '{frame.close}' to close '{frame.name}' opened at {self.opened_at(frame)}, "
                f"found '{closer}'",
            )
        self.stack.pop()
        self.after_field = True
        if frame.list_field is None:
            return after
        reader = _SlowReader(self, after)
        reader.continue_list(frame)
        return reader.resume_pos()

    def finish(self, pos: int) -> None:
        frame = self.stack[-1]
        if frame.close:
            raise self.error(
                pos,
                f"expected '{frame.close}' to close '{frame.name}' opened at {self.opened_at(frame)}, "
                "found end of file",
            )

    # -- unknown and fork-only fields -------------------------------------

    def unknown_field(self, name: str, pos: int, spec: Optional[FieldSpec], inside_skipped: bool) -> None:
        """Report a field our schema lacks, or one only the other fork has."""
        if inside_skipped:
            return
        type_name = self.stack[-1].message.type  # type: ignore[union-attr]
        if spec is not None:
            fork = other_fork(self.flavor)
            mine = "BVLC" if fork == "SSD" else "SSD"
            message = (
                f"'{shorten(name)}' exists only in the {fork} fork's caffe.proto: {mine} Caffe's parser would "
                f"stop here (Message type \"caffe.{type_name}\" has no field named \"{shorten(name)}\"); "
                f"read the file with --flavor {fork.lower()} if it is meant for that fork"
            )
            self.report(pos, message, "fork-only-field")
            return
        hint = _did_you_mean(name, self.schema[type_name])
        message = (
            f"Caffe's parser would stop here: Message type \"caffe.{type_name}\" has no field "
            f"named \"{shorten(name)}\"{hint}"
        )
        if self.strict:
            raise self.error(pos, message)
        self.report(pos, message + "; skipped it and its value", "unknown-field")

    def fork_value(self, spec: FieldSpec, value: str, pos: int) -> None:
        fork = other_fork(self.flavor)
        self.report(
            pos,
            f"{spec.name}: {value} is a value only the {fork} fork's caffe.proto defines "
            f"(enum caffe.{spec.enum}); this flavour's Caffe would refuse the file",
            "fork-only-field",
        )

    def report(self, pos: int, message: str, kind: str) -> None:
        if self.strict:
            raise self.error(pos, message)
        self.reported.add(message, kind, lambda: self.location(pos))

    def check_skipped_value(self, token: str, pos: int) -> None:
        """A skipped field's value must still be a value text_format can skip."""
        if token[0] in "\"'":
            try:
                unescape_string(_literal_body(token))
                return
            except _BadValue:
                pass
        elif re.match(_IDENTIFIER_VALUE, token):
            return
        else:
            try:
                value = parse_integer(token)
                if -(2**63) <= value < 2**64:
                    return
            except _BadValue:
                pass
            try:
                parse_float(token)
                return
            except _BadValue:
                pass
        if token[0] == "$":
            raise self.template_error(pos)
        raise self.error(pos, f"'{shorten(token)}' is not a value (expected a number, a name or a quoted string)")

    # -- error messages ---------------------------------------------------

    def missing_colon(self, name: str, spec: Optional[FieldSpec], value_pos: int) -> InputError:
        if spec is not None and spec.kind == "message":
            return self.error(value_pos, f"'{shorten(name)}' is a message: write {shorten(name)} {{ ... }}, found a value")
        return self.error(value_pos, f"expected ':' between '{shorten(name)}' and its value")

    def template_error(self, pos: int) -> InputError:
        match = re.compile(_TEMPLATE_VAR).match(self.text, pos)
        variable = match.group(0) if match else "$"
        return self.error(
            pos,
            f"unsubstituted template variable '{variable}' (it looks like a shell variable): this file is a "
            "template, and Caffe's parser stops here too; run it through the script that fills it in "
            "(or `envsubst`) and lint the result",
        )


def _quoted(found: "re.Match[str]") -> Tuple[str, int]:
    """The quoted string a _FIELD match read, as written (quotes included), and where it starts."""
    group = 4 if found.start(4) >= 0 else 5
    start = found.start(group) - 1
    return found.string[start:found.end(group) + 1], start


def _utf8(raw: bytes) -> str:
    """A string field's value: Caffe keeps bytes that are not UTF-8 (see text_bytes.py)."""
    return raw.decode("utf-8", "surrogateescape")


def _comments_before(text: str, blank_pos: int, name_pos: int) -> List[str]:
    """The '#' comment lines directly above the line at ``name_pos`` (no blank line between)."""
    lines = text[blank_pos:name_pos].split("\n")[:-1]
    starts_own_line = blank_pos == 0 or text[blank_pos - 1] == "\n"
    if lines and not starts_own_line:
        lines = lines[1:]  # the end of the previous token's line: a trailing comment
    block: List[str] = []
    for line in reversed(lines):
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        block.append(stripped[1:].strip())
    block.reverse()
    return block


def _did_you_mean(name: str, fields: Dict[str, FieldSpec]) -> str:
    if len(name) > 64:
        return ""
    return _closest_field(name, tuple(fields))


def shorten(token: str, limit: int = 40) -> str:
    """A token as quoted in a message: long ones cut (a hostile input may hold a 50 MB token)."""
    return token if len(token) <= limit else token[:limit] + f"... ({len(token)} characters)"


#: how alike a field name must be to a misspelt one to be suggested (difflib's ratio)
_CLOSE_ENOUGH = 0.75


@functools.lru_cache(maxsize=256)
def _closest_field(name: str, candidates: Tuple[str, ...]) -> str:
    # difflib.get_close_matches drops every candidate whose quick ratio is below the
    # cutoff before it computes the real one: doing that first here leaves nothing to
    # compare for most unknown fields, and then difflib (1 ms to import) is not imported.
    likely = [candidate for candidate in candidates if _quick_ratio(name, candidate) >= _CLOSE_ENOUGH]
    if not likely:
        return ""
    import difflib

    close = difflib.get_close_matches(name, likely, n=1, cutoff=_CLOSE_ENOUGH)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _quick_ratio(a: str, b: str) -> float:
    """``difflib.SequenceMatcher(None, b, a).quick_ratio()``: an upper bound of the real ratio,
    from the characters the two have in common (counted with repeats), whatever their order."""
    length = len(a) + len(b)
    if not length:
        return 1.0
    available: Dict[str, int] = {}
    for char in a:
        available[char] = available.get(char, 0) + 1
    matches = 0
    for char in b:
        left = available.get(char, 0)
        if left > 0:
            available[char] = left - 1
            matches += 1
    return 2.0 * matches / length


# --------------------------------------------------------------------------
# The slow path: one field (or list continuation) at token level
# --------------------------------------------------------------------------


class _SlowReader:
    """Reads one field token by token, exactly as text_format's tokenizer would."""

    def __init__(self, parser: _Parser, pos: int) -> None:
        self.parser = parser
        self.text = parser.text
        self.pos = pos
        self.blank_pos = pos
        self.token = ""
        self.kind = 0  # index of the matching group in _TOKEN_PATTERN; 0 at end of text
        self.start = pos
        self._match_token = _token_regex().match
        self.advance()

    def advance(self) -> None:
        found = self._match_token(self.text, self.pos)
        assert found is not None  # everything after the blank is optional
        self.blank_pos = self.pos
        self.start = found.end(1)
        self.kind = found.lastindex if found.lastindex and found.lastindex > 1 else 0
        self.token = found.group(self.kind) if self.kind else ""
        self.pos = found.end()

    def take(self, token: str) -> bool:
        if self.token == token and self.kind:
            self.advance()
            return True
        return False

    def describe(self) -> str:
        return f"'{shorten(self.token)}'" if self.kind else "end of file"

    def fail(self, message: str) -> InputError:
        if self.token.startswith("$"):
            return self.parser.template_error(self.start)
        return self.parser.error(self.start, message)

    # -- fields -------------------------------------------------------------

    def field(self) -> int:
        """Read one field starting at the current token; return the position after it."""
        parser = self.parser
        if not self.kind:  # only blanks the fast pattern does not know (form feed...) were left
            return self.pos
        frame = parser.stack[-1]
        name_pos, blank_pos = self.start, self.blank_pos
        if self.token == "[" and self.kind and frame.message is None:
            name = self.extension_name()
        elif self.kind and re.match(_NAME_TOKEN, self.token):
            name = self.token
            self.advance()
        elif self.token == "[" and self.kind:
            raise self.fail(
                f"'[' cannot start a field here: caffe.{frame.message.type if frame.message else ''} "
                "has no extensions"
            )
        else:
            raise self.fail(f"expected a field name, found {self.describe()}")
        spec = frame.fields.get(name)
        if spec is None or spec.fork_only or frame.message is None:
            parser.unknown_field(name, name_pos, spec, frame.message is None)
        if spec is None or frame.message is None:
            self.skip_contents(name, name_pos, blank_pos)
        elif spec.kind == "message":
            self.message_field(spec, name, name_pos, blank_pos)
        else:
            self.scalar_field(spec, name, name_pos)
        parser.after_field = parser.stack[-1] is frame
        return self.resume_pos()

    def extension_name(self) -> str:
        """``[a.b.c]`` or ``[a.b.c/d.e]`` inside a skipped message."""
        self.advance()
        parts = [self.identifier()]
        while self.take("."):
            parts.append(self.identifier())
        if len(parts) == 3 and self.take("/"):
            parts.append("/" + self.identifier())
            while self.take("."):
                parts.append(self.identifier())
        if not self.take("]"):
            raise self.fail(f"expected ']' to end the extension name, found {self.describe()}")
        return "[" + ".".join(parts) + "]"

    def identifier(self) -> str:
        token = self.token
        if not (self.kind and re.match(_IDENTIFIER_VALUE, token)):
            raise self.fail(f"expected an identifier, found {self.describe()}")
        self.advance()
        return token

    def message_field(self, spec: FieldSpec, name: str, name_pos: int, blank_pos: int) -> None:
        self.take(":")
        if spec.repeated and self.take("["):
            if self.take("]"):
                return
            self.open_element(spec, name, name_pos, blank_pos, spec)
            return
        self.open_element(spec, name, name_pos, blank_pos, None)

    def open_element(
        self, spec: Optional[FieldSpec], name: str, name_pos: int, blank_pos: int, list_field: Optional[FieldSpec]
    ) -> None:
        if self.token not in ("{", "<") or not self.kind:
            raise self.fail(f"expected '{{' to open message '{shorten(name)}', found {self.describe()}")
        opener = self.token
        parser = self.parser
        parser.open(
            spec, name, name_pos, name_pos, self.text[blank_pos:name_pos], opener, list_field
        )
        self.pos = self.start + 1
        self.kind = 0  # the caller resumes at self.pos

    def scalar_field(self, spec: FieldSpec, name: str, name_pos: int) -> None:
        if not self.take(":"):
            if self.kind in (2, 3, 4):  # a value: the same message as when the fast path sees it
                raise self.parser.missing_colon(name, spec, self.start)
            raise self.fail(f"expected ':' after '{shorten(name)}' (a {spec.kind} field), found {self.describe()}")
        message = self.parser.stack[-1].message
        assert message is not None
        if spec.repeated and self.take("["):
            if self.take("]"):
                return
            while True:
                self.scalar_value(message, spec, name, name_pos)
                if self.take("]"):
                    return
                if not self.take(","):
                    raise self.fail(f"expected ',' or ']' in the list of '{shorten(name)}', found {self.describe()}")
        self.scalar_value(message, spec, name, name_pos)

    def scalar_value(self, message: Message, spec: FieldSpec, name: str, name_pos: int) -> None:
        value_pos = self.start
        if not self.kind:
            raise self.fail(f"expected a value for '{shorten(name)}', found end of file")
        if spec.kind in ("string", "bytes"):
            raw = self.strings(name)
            try:
                value: object = raw if spec.kind == "bytes" else _utf8(raw)
            except _BadValue as bad:
                raise self.parser.error(value_pos, f"invalid value for '{shorten(name)}': {bad}") from None
        else:
            value = self.parser.convert(spec, self.token, value_pos)
            self.advance()
        self.parser.put(message, spec, name, name_pos, value, value_pos)

    def strings(self, name: str) -> bytes:
        """One or more adjacent quoted literals, concatenated."""
        if self.kind != 4:
            raise self.fail(f"expected a quoted string for '{shorten(name)}', found {self.describe()}")
        parts = []
        while self.kind == 4:
            try:
                parts.append(unescape_string(_literal_body(self.token)))
            except _BadValue as bad:
                raise self.fail(f"invalid value for '{shorten(name)}': {bad}") from None
            self.advance()
        return b"".join(parts)

    # -- lists of messages ----------------------------------------------------

    def continue_list(self, element: _Frame) -> None:
        """After the closing brace of a list element: ``,`` and the next element, or ``]``."""
        parser = self.parser
        parser.after_field = True
        if element.list_field is _SKIPPED_LIST:
            if not self.take("]"):
                self.expect_list_comma(element.name)
                self.skip_list_items(element.name, element.pos)
            return
        if self.take("]"):
            return
        self.expect_list_comma(element.name)
        parent = parser.stack[-1]
        spec = parent.fields.get(element.name)
        self.open_element(spec, element.name, self.start, self.blank_pos, element.list_field)
        parser.after_field = False

    def expect_list_comma(self, name: str) -> None:
        if not self.take(","):
            raise self.fail(f"expected ',' or ']' in the list of '{shorten(name)}', found {self.describe()}")

    def resume_pos(self) -> int:
        """Where the main loop continues: before the blank text preceding the lookahead token."""
        return self.blank_pos if self.kind else self.pos

    # -- skipping unknown fields (text_format's _SkipFieldContents) ------------

    def skip_contents(self, name: str, name_pos: int, blank_pos: int) -> None:
        if self.take(":") and self.token not in ("{", "<"):
            if self.take("["):
                if not self.take("]"):
                    self.skip_list_items(name, name_pos)
            else:
                self.skip_value()
            return
        self.open_element(None, name, name_pos, blank_pos, None)

    def skip_list_items(self, name: str, list_pos: int) -> None:
        """Items of a skipped ``[...]`` list, up to its ']' or a message element."""
        parser = self.parser
        while True:
            if self.token in ("{", "<") and self.kind:
                parser.open(None, name, self.start, list_pos, "", self.token, _SKIPPED_LIST)
                self.pos = self.start + 1
                self.kind = 0
                parser.after_field = False
                return
            self.skip_value()
            if self.take("]"):
                return
            self.expect_list_comma(name)

    def skip_value(self) -> None:
        if self.kind == 4:
            self.strings("(skipped)")
            return
        if not self.kind:
            raise self.fail("expected a value, found end of file")
        self.parser.check_skipped_value(self.token, self.start)
        self.advance()


#: marks a skipped message that is an element of a skipped ``[...]`` list
_SKIPPED_LIST = FieldSpec("(skipped list)", "message", True, None, False, frozenset())
