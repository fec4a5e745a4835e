"""Stage 1, load: a path, text, bytes or NetParameter object -> ``LoadedNet``.

Caffe's counterparts are ``ReadProtoFromTextFile`` and ``ReadProtoFromBinaryFile``
(src/caffe/util/io.cpp). Text goes through our fast parser (``textproto``, no
protobuf import); binary NetParameters and protobuf objects go through protobuf.

Which reader ``load(source)`` uses:

* ``Message``: taken as is (a copy is not made).
* a protobuf message (ours or pycaffe's ``caffe_pb2.NetParameter``): converted.
* ``bytes``: binary if it does not decode as UTF-8 text, or if it does but the
  text parse fails and the bytes parse as a binary NetParameter.
* ``os.PathLike``: a file, read as bytes as above; ``.caffemodel`` and
  ``.binaryproto`` files are always binary.
* ``str``: prototxt *text* when it contains a newline or a ``{``, otherwise a
  path. Use ``load_text`` or ``load_file`` to say which explicitly.
"""
from __future__ import annotations

import os

from backprop_lint.caffe import text_bytes, textproto
from backprop_lint.caffe.files import FileSnapshot, SizeLimit, read_regular_bytes, read_regular_file, too_big
from backprop_lint.caffe.model import InputError, LoadedNet, Location, Message, Warning_

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple, Union

    Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Message, Any]

#: text files bigger than this are refused: real nets are under 1 MB, and a degenerate
#: text of tiny messages costs about 40 bytes of memory per byte of input
DEFAULT_MAX_TEXT_BYTES = 16 * 1024 * 1024
#: binary files (weights included) bigger than this are refused; protobuf's own cap is 2 GB
DEFAULT_MAX_BINARY_BYTES = 1024 * 1024 * 1024
BINARY_LIMIT_REASON = (
    "binary nets (a .caffemodel with its weights) are read up to this size, which holds the largest "
    "public Caffe models (VGG-16 is about 550 MB) while protobuf refuses any message over 2 GB "
    "(raise max_binary_bytes if this one really is a net)"
)
BINARY_SUFFIXES = (".caffemodel", ".binaryproto", ".pb")


def load(
    source: Source,
    *,
    flavor: str = "bvlc",
    strict: bool = False,
    file: Optional[str] = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
    max_depth: int = textproto.DEFAULT_MAX_DEPTH,
    packs: Tuple[str, ...] = (),
) -> LoadedNet:
    """Read a NetParameter from any supported source (see the module docstring).

    ``packs``: layer packs whose fork's schema fields the text parser knows too
    (binary nets are read with the base schema).
    """
    if isinstance(source, Message):
        return load_message(source, flavor=flavor, strict=strict, file=file)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return load_bytes(
            bytes(source), flavor=flavor, strict=strict, file=file or "<bytes>",
            max_text_bytes=max_text_bytes, max_binary_bytes=max_binary_bytes, max_depth=max_depth,
            packs=packs,
        )
    if isinstance(source, str) and ("\n" in source or "{" in source):
        return load_text(source, flavor=flavor, strict=strict, file=file or "<string>",
                         max_text_bytes=max_text_bytes, max_depth=max_depth, packs=packs)
    if isinstance(source, (str, os.PathLike)):
        return load_file(source, flavor=flavor, strict=strict, file=file, max_text_bytes=max_text_bytes,
                         max_binary_bytes=max_binary_bytes, max_depth=max_depth, packs=packs)
    if hasattr(source, "SerializeToString") and hasattr(source, "DESCRIPTOR"):
        return load_message(source, flavor=flavor, strict=strict, file=file)
    raise TypeError(f"cannot load a NetParameter from a {type(source).__name__}")


def load_text(
    text: str,
    *,
    flavor: str = "bvlc",
    strict: bool = False,
    file: str = "<string>",
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_depth: int = textproto.DEFAULT_MAX_DEPTH,
    packs: Tuple[str, ...] = (),
) -> LoadedNet:
    """Parse prototxt text. An empty text is an empty net, as in Caffe."""
    if len(text) > max_text_bytes:
        raise _too_big(file, len(text), max_text_bytes, "characters")
    nul = text.find("\x00")
    if nul >= 0:  # protobuf's tokenizer stops at a NUL even inside a comment
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        raise InputError("Invalid control characters encountered in text: a NUL byte, which protobuf's "
                         "text parser (and so Caffe) refuses even inside a comment; remove it",
                         Location(file, line, col))
    net, warnings = textproto.parse(text, file=file, flavor=flavor, strict=strict, max_depth=max_depth,
                                    packs=packs)
    return LoadedNet(net=net, file=file, source_format="text", text=text, warnings=warnings)


def load_file(
    path: Union[str, "os.PathLike[str]"],
    *,
    flavor: str = "bvlc",
    strict: bool = False,
    file: Optional[str] = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
    max_depth: int = textproto.DEFAULT_MAX_DEPTH,
    packs: Tuple[str, ...] = (),
) -> LoadedNet:
    """Read a .prototxt (text) or .caffemodel/.binaryproto (binary) file."""
    name = file if file is not None else os.fspath(path)
    limit, inspect = _read_rules(path, name, max_text_bytes, max_binary_bytes)
    data, _ = read_regular_bytes(path, limit, name=name, inspect=inspect)
    if _binary_by_name(path):
        return load_binary(data, flavor=flavor, strict=strict, file=name)
    return load_bytes(data, flavor=flavor, strict=strict, file=name, max_text_bytes=max_text_bytes,
                      max_binary_bytes=max_binary_bytes, max_depth=max_depth, packs=packs)


def read_net_file(
    path: Union[str, "os.PathLike[str]"],
    *,
    name: Optional[str] = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
) -> Tuple[bytes, FileSnapshot]:
    """A net file's bytes, under the text or binary size limit, and its identity when read."""
    limit, inspect = _read_rules(path, name, max_text_bytes, max_binary_bytes)
    return read_regular_file(path, limit, name=name, inspect=inspect)


def read_net_bytes(
    path: Union[str, "os.PathLike[str]"],
    *,
    name: Optional[str] = None,
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
) -> bytes:
    """``read_net_file`` without the snapshot, for a reader that never writes the file back."""
    limit, inspect = _read_rules(path, name, max_text_bytes, max_binary_bytes)
    return read_regular_bytes(path, limit, name=name, inspect=inspect)[0]


def _binary_by_name(path: Union[str, "os.PathLike[str]"]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in BINARY_SUFFIXES


def _read_rules(
    path: Union[str, "os.PathLike[str]"], name: Optional[str], max_text_bytes: int, max_binary_bytes: int
) -> Tuple[Callable[[bytes], SizeLimit], Callable[[bytes, int, Callable[[int, int], bytes]], None]]:
    """How a net file is read: its size limit and the check run before it is read whole,
    both chosen from its name and first bytes (``name``: shown in errors, else the path)."""
    binary_by_name = _binary_by_name(path)
    display = name if name is not None else os.fspath(path)
    return (_size_limit(binary_by_name, max_text_bytes, max_binary_bytes),
            _binary_check(binary_by_name, max_text_bytes, display))


def _size_limit(binary_by_name: bool, max_text_bytes: int, max_binary_bytes: int) -> Callable[[bytes], SizeLimit]:
    """The size limit of a net file, chosen from its name and first bytes."""

    def limit_for(head: bytes) -> SizeLimit:
        if not binary_by_name and _looks_like_text(head):
            return SizeLimit(max_text_bytes)
        return SizeLimit(max_binary_bytes, BINARY_LIMIT_REASON)

    return limit_for


def _binary_check(
    binary_by_name: bool, max_text_bytes: int, file: str
) -> Callable[[bytes, int, Callable[[int, int], bytes]], None]:
    """Before a file that can only be a binary net is read whole (its name says so, or it is too
    big for text and does not start like text), refuse it if its top-level fields break
    protobuf's wire format: 200 MB of something else are refused after a few reads."""

    def check(head: bytes, size: int, read: Callable[[int, int], bytes]) -> None:
        if binary_by_name or (size > max_text_bytes and not _looks_like_text(head)):
            from backprop_lint.caffe import binary_net  # only a file that can only be binary

            binary_net.check_top_level(read, size, file)

    return check


def load_bytes(
    data: bytes,
    *,
    flavor: str = "bvlc",
    strict: bool = False,
    file: str = "<bytes>",
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES,
    max_binary_bytes: int = DEFAULT_MAX_BINARY_BYTES,
    max_depth: int = textproto.DEFAULT_MAX_DEPTH,
    packs: Tuple[str, ...] = (),
) -> LoadedNet:
    """Text or binary NetParameter bytes: text when they look like text and parse.

    Text need not be UTF-8: Caffe keeps any bytes in comments and strings (text_bytes.py).
    """
    if len(data) > max_text_bytes:  # binary, or refused: either way before a text-sized copy is decoded
        if _looks_like_text(data):
            raise _too_big(file, len(data), max_text_bytes, "bytes")
        if len(data) > max_binary_bytes:
            raise _too_big(file, len(data), max_binary_bytes, "bytes", BINARY_LIMIT_REASON)
        return load_binary(data, flavor=flavor, strict=strict, file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if _looks_like_text(data):
            return load_text(text_bytes.decode(data), flavor=flavor, strict=strict, file=file,
                             max_text_bytes=max_text_bytes, max_depth=max_depth, packs=packs)
        if len(data) > max_binary_bytes:
            raise _too_big(file, len(data), max_binary_bytes, "bytes", BINARY_LIMIT_REASON) from None
        return load_binary(data, flavor=flavor, strict=strict, file=file)
    try:
        return load_text(text, flavor=flavor, strict=strict, file=file,
                         max_text_bytes=max_text_bytes, max_depth=max_depth, packs=packs)
    except InputError:
        if _looks_like_text(data):
            raise
        try:  # valid UTF-8 by chance, but really a (small) binary NetParameter
            return load_binary(data, flavor=flavor, strict=strict, file=file)
        except InputError:
            raise InputError("not a text or binary NetParameter", Location(file)) from None


def load_binary(data: bytes, *, flavor: str = "bvlc", strict: bool = False, file: str = "<bytes>") -> LoadedNet:
    """A serialized NetParameter (e.g. a .caffemodel), read with protobuf.

    Weight values are dropped (blob shapes kept): no stage needs them, and a
    caffemodel holds millions of them. They are left out before protobuf parses
    the bytes (``binary_net.without_weights``), so the memory is about the file's
    size. Fields only the other Caffe fork defines are dropped with a warning,
    since that fork's binary reader ignores them.
    """
    from google.protobuf.message import DecodeError

    from backprop_lint.caffe import pbconvert
    from backprop_lint.caffe.schema import net_parameter_class

    net_class = net_parameter_class()
    from backprop_lint.caffe import binary_net

    without_weights = binary_net.without_weights(data, file)
    try:
        pb = net_class.FromString(data if without_weights is None else without_weights)
    except DecodeError as error:
        raise InputError(
            f"not a text or binary NetParameter (protobuf: {error or 'cannot decode'})", Location(file)
        ) from None
    _drop_weight_values(pb)
    warnings: List[Warning_] = []
    unknown = pbconvert.unknown_field_numbers(pb)
    if unknown:
        numbers = ", ".join(str(number) for number in unknown)
        warnings.append(Warning_(
            f"NetParameter has fields our schema does not know (numbers {numbers}); "
            "Caffe's binary reader keeps them without using them", Location(file), "unknown-field"))
    net = pbconvert.from_protobuf(pb)
    _drop_fork_only_fields(net, flavor, strict, file, warnings)
    return LoadedNet(net=net, file=file, source_format="binary", text=None, warnings=warnings)


def load_message(
    source: Any, *, flavor: str = "bvlc", strict: bool = False, file: Optional[str] = None
) -> LoadedNet:
    """A ``Message`` (taken as is) or a protobuf NetParameter (ours or pycaffe's)."""
    name = file or "<NetParameter>"
    if isinstance(source, Message):
        if source.type != textproto.ROOT_MESSAGE:
            raise InputError(f"expected a NetParameter message, got a {source.type}", Location(name))
        return LoadedNet(net=source, file=name, source_format="message")
    if source.DESCRIPTOR.name != textproto.ROOT_MESSAGE:
        raise InputError(f"expected a NetParameter message, got a {source.DESCRIPTOR.full_name}", Location(name))
    from backprop_lint.caffe import pbconvert

    net = pbconvert.from_protobuf(source)
    warnings: List[Warning_] = []
    _drop_fork_only_fields(net, flavor, strict, name, warnings)
    return LoadedNet(net=net, file=name, source_format="message", warnings=warnings)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


_too_big = too_big


_looks_like_text = text_bytes.looks_like_text


def _drop_weight_values(pb: Any) -> None:
    for layers in (pb.layer, pb.layers):
        for layer in layers:
            for blob in layer.blobs:
                for values in ("data", "diff", "double_data", "double_diff"):
                    blob.ClearField(values)


def _drop_fork_only_fields(
    message: Message, flavor: str, strict: bool, file: str, warnings: List[Warning_]
) -> None:
    """Remove fields of the other fork's schema (that fork's binary reader ignores them)."""
    specs = textproto.compiled_schema(flavor)[message.type]
    for name in list(message.fields):
        value = message.fields[name]
        if specs[name].fork_only:
            del message.fields[name]
            text = (
                f"'{name}' in {message.type} exists only in the {textproto.other_fork(flavor)} fork's "
                f"caffe.proto; {flavor.upper()} Caffe ignores it in a binary NetParameter"
            )
            if strict:
                raise InputError(text, Location(file))
            warnings.append(Warning_(text, Location(file), "fork-only-field"))
            continue
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, Message):
                _drop_fork_only_fields(child, flavor, strict, file, warnings)
