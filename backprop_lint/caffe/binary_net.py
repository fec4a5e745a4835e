"""Binary NetParameters (.caffemodel) walked at the protobuf wire-format level.

A .caffemodel is mostly the weight values of its layers' blobs (VGG-16: 528 MB),
which no stage reads. Two walks keep a big binary net's cost about its size:

* ``check_top_level``: the NetParameter's top-level fields, tag by tag, their
  payloads skipped unread. A file that is not a NetParameter (200 MB of
  something else) is refused at the first field the wire format says is broken,
  with its byte offset, before the file is read whole.
* ``without_weights``: the same NetParameter without its blobs' weight values
  (``BlobProto`` data, diff, double_data, double_diff; shapes kept), as slices
  of the bytes: protobuf then parses kilobytes instead of building hundreds of
  megabytes of floats. None for a form this walk leaves to protobuf (groups,
  weights written one value per field).

Only what protobuf itself refuses is refused here (``tests/test_binary_net.py``
compares the verdicts); anything inside the fields copied unread is left to it.
"""
from __future__ import annotations

from backprop_lint.caffe.model import InputError, Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Iterator, List, Tuple, Union

    Chunk = Union[bytes, memoryview]
    #: (offset, count) -> the bytes there (fewer at the end)
    Read = Callable[[int, int], Chunk]

WIRE_VARINT, WIRE_FIXED64, WIRE_LENGTH, WIRE_START_GROUP, WIRE_END_GROUP, WIRE_FIXED32 = range(6)
#: NetParameter's layer fields (``layer = 100``, V1 ``layers = 2``) -> their layer's ``blobs``
#: field (LayerParameter 7, V1LayerParameter 6)
LAYER_BLOBS = {100: 7, 2: 6}
#: BlobProto's weight values: field number -> bytes per value (data, diff: float; double_*)
WEIGHT_VALUES = {5: 4, 6: 4, 8: 8, 9: 8}
_FIXED_WIRE = {4: WIRE_FIXED32, 8: WIRE_FIXED64}


class _LeftToProtobuf(Exception):
    """A form the walk does not take: protobuf reads the whole file instead."""


def check_top_level(read: "Read", size: int, file: str) -> None:
    """Refuse (``InputError``) a NetParameter whose top-level fields break the wire format."""
    try:
        for _ in _fields(read, 0, size, file):
            pass
    except _LeftToProtobuf:
        return


def without_weights(data: bytes, file: str) -> "bytes | None":
    """``data`` (a serialized NetParameter) without its blobs' weight values; None: parse it whole."""
    view = memoryview(data)

    def read(offset: int, count: int) -> "Chunk":
        return view[offset:offset + count]

    parts: "List[Chunk]" = []
    try:
        for number, wire, start, payload, end in _fields(read, 0, len(data), file):
            blobs = LAYER_BLOBS.get(number)
            if blobs is not None and wire == WIRE_LENGTH:
                _append_field(parts, number, _layer_without_weights(read, payload, end, blobs, file))
            else:
                parts.append(view[start:end])
    except _LeftToProtobuf:
        return None
    return b"".join(parts)


def _layer_without_weights(read: "Read", start: int, end: int, blobs: int, file: str) -> bytes:
    parts: "List[Chunk]" = []
    for number, wire, field_start, payload, field_end in _fields(read, start, end, file):
        if number == blobs and wire == WIRE_LENGTH:
            _append_field(parts, number, _blob_without_weights(read, payload, field_end, file))
        else:
            parts.append(read(field_start, field_end - field_start))
    return b"".join(parts)


def _blob_without_weights(read: "Read", start: int, end: int, file: str) -> bytes:
    parts: "List[Chunk]" = []
    for number, wire, field_start, payload, field_end in _fields(read, start, end, file):
        width = WEIGHT_VALUES.get(number)
        if width is None:
            parts.append(read(field_start, field_end - field_start))
        elif wire == WIRE_LENGTH:  # packed values: dropped
            if (field_end - payload) % width:
                raise _broken(file, field_start, f"blob weight values of {field_end - payload} bytes, "
                                                 f"not a whole number of {width}-byte values")
        elif wire == _FIXED_WIRE[width]:
            raise _LeftToProtobuf  # one value per field (not packed): rare, and a Python loop per value here
        else:  # another wire type: protobuf keeps it as an unknown field
            parts.append(read(field_start, field_end - field_start))
    return b"".join(parts)


def _append_field(parts: "List[Chunk]", number: int, payload: bytes) -> None:
    parts.append(_varint_bytes(number << 3 | WIRE_LENGTH) + _varint_bytes(len(payload)))
    parts.append(payload)


def _fields(read: "Read", start: int, end: int, file: str) -> "Iterator[Tuple[int, int, int, int, int]]":
    """(number, wire type, field start, payload start, field end) of each field in ``[start, end)``."""
    at = start
    while at < end:
        tag, payload = _varint(read, at, end, file)
        number, wire = tag >> 3, tag & 7
        if number == 0 or tag > 0xFFFFFFFF:
            raise _broken(file, at, f"a field tag ({tag}) that is not a valid field number")
        if wire == WIRE_VARINT:
            field_end = _varint(read, payload, end, file)[1]
        elif wire == WIRE_FIXED64:
            field_end = payload + 8
        elif wire == WIRE_FIXED32:
            field_end = payload + 4
        elif wire == WIRE_LENGTH:
            length, payload = _varint(read, payload, end, file)
            field_end = payload + length
        elif wire == WIRE_START_GROUP:
            raise _LeftToProtobuf
        elif wire == WIRE_END_GROUP:
            raise _broken(file, at, f"field {number} ends a group that was never started")
        else:
            raise _broken(file, at, f"field {number} has wire type {wire}, which does not exist")
        if field_end > end:
            where = "the file" if start == 0 else "its message"  # a nested message starts after its tag
            raise _broken(file, at, f"field {number} ends at byte {field_end}, past the end of {where} (byte {end})")
        yield number, wire, at, payload, field_end
        at = field_end


def _varint(read: "Read", at: int, end: int, file: str) -> "Tuple[int, int]":
    """The varint at ``at`` and the offset after it."""
    value = 0
    for index, byte in enumerate(read(at, min(10, end - at))):
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, at + index + 1
    if end - at < 10:
        raise _broken(file, at, "a number runs past the end of its message")
    raise _broken(file, at, "a number longer than 10 bytes")


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _broken(file: str, offset: int, reason: str) -> InputError:
    return InputError(
        f"not a text or binary NetParameter: the protobuf wire format breaks at byte {offset}: {reason}",
        Location(file),
    )
