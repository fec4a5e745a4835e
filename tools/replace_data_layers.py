#!/usr/bin/env python3
"""Rewrite a Caffe net so that real Caffe can load it without any dataset.

Data layers (Data, ImageData, WindowData, HDF5Data, AnnotatedData, VideoData,
MemoryData, fork data layers, and Python data layers whose top shapes are
given in the override table) are replaced, in place and at the text level, by
a layer that needs no files:

* V2 nets (``layer {}``): an ``Input`` layer with the same name, tops and
  include/exclude rules, shapes in ``input_param``;
* V1 nets (``layers { type: DATA }``): a ``DUMMY_DATA`` layer (V1 has no
  Input type) with the same name, tops and rules, gaussian data, zero labels;
* V0 nets (``layers { layer { type: "data" } }``): net-level ``input`` /
  ``input_dim`` fields (V0 layers have no phase rules).

Everything else in the file is left byte for byte as it was.

Shapes come from the layer's own parameters (batch size, crop size, resize,
``is_color``, MemoryData's dims, known datasets such as MNIST and CIFAR), or
from the per-file override table ``fixtures/oracle_inputs/shapes.json``:

    {"<file name>": {"note": "why", "layers": {"<layer name>": {"<top>": [dims]}}}}

usage: replace_data_layers.py NET [-o OUT] [--shapes FILE] [--max-batch N]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backprop_lint.caffe.model import InputError, Location, UnsupportedInput  # noqa: E402

DEFAULT_SHAPES = REPO / "fixtures" / "oracle_inputs" / "shapes.json"

V2_DATA_TYPES = {"Data", "ImageData", "WindowData", "HDF5Data", "AnnotatedData", "VideoData", "MemoryData"}
V1_DATA_TYPES = {"DATA", "IMAGE_DATA", "WINDOW_DATA", "HDF5_DATA", "MEMORY_DATA"}
V0_DATA_TYPES = {"data", "images", "window_data", "hdf5_data"}
#: layers that already need no dataset
SELF_CONTAINED_TYPES = {"Input", "DummyData", "DUMMY_DATA"}

DEFAULT_IMAGE_SIDE = 224
MNIST_SCALE = 0.00390625  # 1/256: the LeNet examples' pixel scaling

# Overrides: layer name -> top name -> shape
LayerShapes = Dict[str, Dict[str, List[int]]]

# ---------------------------------------------------------------------------
# A minimal protobuf text-format reader that keeps every field's text span
# ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<word>[A-Za-z0-9_.+\-]+)|(?P<punct>[{}<>\[\]:;,])"""
)


@dataclass
class Token:
    kind: str  # "string" | "word" | "punct"
    text: str
    start: int
    end: int


@dataclass
class Node:
    """One field as written: ``name: value`` or ``name { children }``."""

    name: str
    start: int  # offset of the field name
    end: int  # offset just past the value or the closing brace
    scalar: Optional[Token] = None
    children: List["Node"] = field(default_factory=list)

    def all(self, name: str) -> List["Node"]:
        return [child for child in self.children if child.name == name]

    def first(self, name: str) -> Optional["Node"]:
        found = self.all(name)
        return found[0] if found else None

    def value(self, name: str) -> Optional[str]:
        """The decoded scalar of the first field called ``name`` (strings unquoted)."""
        node = self.first(name)
        return None if node is None or node.scalar is None else scalar_text(node.scalar)

    def values(self, name: str) -> List[str]:
        return [scalar_text(node.scalar) for node in self.all(name) if node.scalar is not None]

    def walk(self) -> Iterator["Node"]:
        for child in self.children:
            yield child
            yield from child.walk()


def scalar_text(token: Token) -> str:
    if token.kind != "string":
        return token.text
    return re.sub(r"\\(.)", r"\1", token.text[1:-1])


def location_of(text: str, offset: int, file_name: str) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(file_name, line, col)


def tokenize(text: str, file_name: str) -> List[Token]:
    tokens: List[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise InputError(f"unexpected character {text[position]!r}", location_of(text, position, file_name))
        kind = match.lastgroup
        if kind is not None:
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        position = match.end()
    return tokens


class _Reader:
    def __init__(self, text: str, file_name: str) -> None:
        self.text = text
        self.file_name = file_name
        self.tokens = tokenize(text, file_name)
        self.index = 0

    def error(self, message: str, offset: Optional[int] = None) -> InputError:
        if offset is None:
            offset = self.tokens[self.index].start if self.index < len(self.tokens) else len(self.text)
        return InputError(message, location_of(self.text, offset, self.file_name))

    def peek(self) -> Optional[Token]:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next_is_string(self) -> bool:
        upcoming = self.peek()
        return upcoming is not None and upcoming.kind == "string"

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error("unexpected end of file")
        self.index += 1
        return token

    def fields(self, closing: Optional[str]) -> List[Node]:
        nodes: List[Node] = []
        while True:
            token = self.peek()
            if token is None:
                if closing is not None:
                    raise self.error(f"missing '{closing}'")
                return nodes
            if token.kind == "punct" and token.text in (";", ","):
                self.index += 1
                continue
            if closing is not None and token.kind == "punct" and token.text == closing:
                self.index += 1
                return nodes
            nodes.append(self.field())

    def field(self) -> Node:
        name = self.take()
        if name.kind != "word":
            raise self.error(f"expected a field name, found {name.text!r}", name.start)
        token = self.take()
        has_colon = token.kind == "punct" and token.text == ":"
        if has_colon:
            token = self.take()
        if token.kind == "punct" and token.text in ("{", "<"):
            children = self.fields("}" if token.text == "{" else ">")
            return Node(name.text, name.start, self.tokens[self.index - 1].end, children=children)
        if token.kind == "punct" and token.text == "[":
            return self.list_value(name)
        if not has_colon or token.kind == "punct":
            raise self.error(f"expected a value for '{name.text}'", token.start)
        while token.kind == "string" and self.next_is_string():
            token = self.take()  # adjacent string literals: keep the span, the last part is enough here
        return Node(name.text, name.start, token.end, scalar=token)

    def list_value(self, name: Token) -> Node:
        # `name: [a, b]` stands for repeated scalars; keep the first, the span covers all
        first: Optional[Token] = None
        while True:
            token = self.take()
            if token.kind == "punct" and token.text == "]":
                return Node(name.text, name.start, token.end, scalar=first)
            if token.kind != "punct" and first is None:
                first = token


def parse_text(text: str, file_name: str = "<string>") -> List[Node]:
    """The top-level fields of a NetParameter text, with their spans."""
    return _Reader(text, file_name).fields(None)


# ---------------------------------------------------------------------------
# Which layers are data layers, and their top shapes
# ---------------------------------------------------------------------------


class CannotReplace(UnsupportedInput):
    """A data layer whose top shapes cannot be inferred (and are not in the override table)."""

    def __init__(self, message: str, location: Optional[Location] = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.message = message
        self.location = location


@dataclass
class Replacement:
    layer: str
    original_type: str
    shapes: Dict[str, List[int]]  # top -> shape, in top order
    labels: List[str]  # tops that hold labels (class indices)
    inferred: bool  # False when the shapes came from the override table
    location: Location


@dataclass
class ReplacedNet:
    text: str
    replacements: List[Replacement]

    @property
    def label_blobs(self) -> List[str]:
        """Every replaced top holding labels, once each (for the oracle's --label)."""
        seen: List[str] = []
        for replacement in self.replacements:
            seen.extend(blob for blob in replacement.labels if blob not in seen)
        return seen


@dataclass
class DataLayer:
    node: Node  # the whole `layer {}` / `layers {}` block
    params: Node  # where the layer's own fields are (the inner `layer {}` for V0)
    format: str  # "V0" | "V1" | "V2"
    type: str
    name: str
    tops: List[str]


def layer_format(top_level: Sequence[Node]) -> str:
    layers = [node for node in top_level if node.name == "layers"]
    if not layers:
        return "V2"
    return "V0" if any(node.first("layer") is not None for node in layers) else "V1"


def is_python_data_layer(layer: Node) -> bool:
    return layer.value("type") == "Python" and not layer.all("bottom")


def find_data_layers(top_level: Sequence[Node], overrides: LayerShapes) -> List[DataLayer]:
    found: List[DataLayer] = []
    net_format = layer_format(top_level)
    for node in top_level:
        if node.name not in ("layer", "layers") or node.scalar is not None:
            continue
        params = node.first("layer") if net_format == "V0" else node
        if params is None:
            continue
        layer_type = params.value("type") or ""
        name = params.value("name") or ""
        tops = node.values("top")
        if not is_data_layer(params, layer_type, net_format, name in overrides):
            continue
        found.append(DataLayer(node, params, net_format, layer_type, name, tops))
    return found


def is_data_layer(params: Node, layer_type: str, net_format: str, overridden: bool) -> bool:
    if layer_type in SELF_CONTAINED_TYPES:
        return False
    if net_format == "V0":
        return layer_type in V0_DATA_TYPES
    if net_format == "V1":
        return layer_type in V1_DATA_TYPES
    if layer_type in V2_DATA_TYPES or is_python_data_layer(params):
        return True
    # fork data layers (ImageSegData, ImageLabelmapData, ...): no bottoms, a *Data type
    return overridden or (layer_type.endswith("Data") and not params.all("bottom"))


def number(node: Node, *names: str) -> Optional[float]:
    """The first of ``names`` found anywhere inside ``node`` (depth-first), as a number."""
    for name in names:
        for child in node.walk():
            if child.name == name and child.scalar is not None:
                try:
                    return float(scalar_text(child.scalar))
                except ValueError:
                    continue
    return None


def text_of(node: Node, *names: str) -> str:
    for child in node.walk():
        if child.name in names and child.scalar is not None:
            return scalar_text(child.scalar)
    return ""


def looks_like_mnist(params: Node) -> bool:
    source = text_of(params, "source").lower()
    if "mnist" in source:
        return True
    crop = number(params, "crop_size", "cropsize")
    return number(params, "scale") == MNIST_SCALE and not crop and "cifar" not in source


def image_shape(params: Node) -> Tuple[int, int, int]:
    """(channels, height, width) of the images a data layer produces."""
    memory = params.first("memory_data_param")
    if memory is not None:
        dims = [int(dim) for dim in (number(memory, name) for name in ("channels", "height", "width")) if dim]
        if len(dims) == 3:
            return dims[0], dims[1], dims[2]
    if looks_like_mnist(params):
        return 1, 28, 28
    is_color = text_of(params, "is_color")
    channels = 1 if is_color == "false" else 3
    crop = number(params, "crop_size", "cropsize")
    if crop:
        return channels, int(crop), int(crop)
    if "cifar" in text_of(params, "source").lower():
        return channels, 32, 32
    for resize in ("resize_param", "image_data_param"):  # SSD's resize_param {height width}
        node = next((child for child in params.walk() if child.name == resize), None)
        resize_height = number(node, "height", "new_height") if node is not None else None
        resize_width = number(node, "width", "new_width") if node is not None else None
        if resize_height and resize_width:
            return channels, int(resize_height), int(resize_width)
    return channels, DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE


def produces_label_maps(layer_type: str) -> bool:
    """Segmentation data layers of the forks (ImageSegData, ImageLabelmapData, DenseImageData)."""
    return any(hint in layer_type for hint in ("Seg", "Labelmap", "Dense"))


def is_label_name(blob: str) -> bool:
    return "label" in blob.lower()


def infer_shapes(layer: DataLayer, max_batch: Optional[int], file_name: str, text: str) -> Tuple[Dict[str, List[int]], List[str]]:
    where = location_of(text, layer.node.start, file_name)
    if layer.type in ("HDF5Data", "HDF5_DATA", "hdf5_data"):
        raise CannotReplace(f"HDF5 data layer '{layer.name}': top shapes are in the HDF5 files; "
                            "give them in the override table", where)
    if layer.type == "Python":
        module = f"{text_of(layer.params, 'module') or '?'}.{text_of(layer.params, 'layer') or '?'}"
        raise CannotReplace(f"Python data layer '{layer.name}' ({module}): top shapes unknown; "
                            "give them in the override table", where)
    if not layer.tops:
        raise CannotReplace(f"data layer '{layer.name}' has no top", where)
    batch = int(number(layer.params, "batch_size", "batchsize") or 1)
    if max_batch is not None:
        batch = min(batch, max_batch)
    channels, height, width = image_shape(layer.params)
    shapes: Dict[str, List[int]] = {}
    labels: List[str] = []
    for index, top in enumerate(layer.tops):
        if index == 0 and not (len(layer.tops) == 1 and is_label_name(top)):
            shapes[top] = [batch, channels, height, width]
        elif index == 0:  # a data layer of its own for a label map (segmentation)
            shapes[top] = [batch, 1, height, width]
            labels.append(top)
        elif layer.type == "AnnotatedData":
            shapes[top] = [1, 1, 1, 8]  # one ground-truth box: SSD's 8-wide rows
            labels.append(top)
        elif produces_label_maps(layer.type):
            shapes[top] = [batch, 1, height, width]
            labels.append(top)
        else:
            shapes[top] = [batch]
            labels.append(top)
    return shapes, labels


def override_shapes(layer: DataLayer, overrides: LayerShapes, file_name: str, text: str) -> Dict[str, List[int]]:
    given = overrides[layer.name]
    missing = [top for top in layer.tops if top not in given]
    if missing:
        raise CannotReplace(f"override for layer '{layer.name}' lacks tops {missing}",
                            location_of(text, layer.node.start, file_name))
    return {top: [int(dim) for dim in given[top]] for top in layer.tops}


# ---------------------------------------------------------------------------
# Writing the replacement text
# ---------------------------------------------------------------------------


def indentation_at(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    prefix = text[line_start:offset]
    return prefix if prefix.strip() == "" else ""


def kept_fields(text: str, node: Node, names: Sequence[str]) -> List[str]:
    """The original text of these fields (include/exclude rules, phase), verbatim."""
    return [" ".join(text[child.start:child.end].split()) for child in node.children if child.name in names]


def shape_text(shape: Sequence[int]) -> str:
    return "shape { " + " ".join(f"dim: {dim}" for dim in shape) + " }"


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def v2_input_layer(text: str, layer: DataLayer, shapes: Mapping[str, List[int]], indent: str) -> str:
    inner = indent + "  "
    lines = [
        "layer {",
        f"{inner}# was a {layer.type} layer: replaced by tools/replace_data_layers.py so Caffe needs no dataset",
        f"{inner}name: {quoted(layer.name)}",
        f'{inner}type: "Input"',
        *(f"{inner}top: {quoted(top)}" for top in layer.tops),
        *(inner + rule for rule in kept_fields(text, layer.node, ("include", "exclude", "phase"))),
        f"{inner}input_param {{ " + " ".join(shape_text(shapes[top]) for top in layer.tops) + " }",
        f"{indent}}}",
    ]
    return "\n".join(lines)


def v1_dummy_layer(text: str, layer: DataLayer, shapes: Mapping[str, List[int]], labels: Sequence[str], indent: str) -> str:
    inner = indent + "  "
    fillers = " ".join(
        'data_filler { type: "constant" value: 0 }' if top in labels else 'data_filler { type: "gaussian" std: 1 }'
        for top in layer.tops
    )
    lines = [
        "layers {",
        f"{inner}# was a {layer.type} layer: replaced by tools/replace_data_layers.py so Caffe needs no dataset",
        f"{inner}name: {quoted(layer.name)}",
        f"{inner}type: DUMMY_DATA",
        *(f"{inner}top: {quoted(top)}" for top in layer.tops),
        *(inner + rule for rule in kept_fields(text, layer.node, ("include", "exclude"))),
        f"{inner}dummy_data_param {{ " + " ".join(shape_text(shapes[top]) for top in layer.tops) + f" {fillers} }}",
        f"{indent}}}",
    ]
    return "\n".join(lines)


def v0_net_inputs(layer: DataLayer, shapes: Mapping[str, List[int]], indent: str) -> str:
    lines = [f"# was a {layer.type} layer '{layer.name}': replaced by tools/replace_data_layers.py"]
    for top in layer.tops:
        dims = (list(shapes[top]) + [1, 1, 1])[:4]  # V0 inputs are always 4-D
        lines.append(f"{indent}input: {quoted(top)}")
        lines.extend(f"{indent}input_dim: {dim}" for dim in dims)
    return "\n".join(lines)


def replacement_text(text: str, layer: DataLayer, shapes: Mapping[str, List[int]], labels: Sequence[str]) -> str:
    indent = indentation_at(text, layer.node.start)
    if layer.format == "V2":
        return v2_input_layer(text, layer, shapes, indent)
    if layer.format == "V1":
        return v1_dummy_layer(text, layer, shapes, labels, indent)
    return v0_net_inputs(layer, shapes, indent)


def replace_data_layers(
    text: str,
    file_name: str = "<string>",
    overrides: Optional[LayerShapes] = None,
    max_batch: Optional[int] = None,
    label_overrides: Sequence[str] = (),
) -> ReplacedNet:
    """Replace every data layer of the net in ``text``; see the module docstring.

    ``overrides``: this file's entry of the override table (layer -> top -> shape),
    used instead of inference; ``label_overrides``: tops of overridden layers that
    hold labels (besides those named like labels). ``max_batch`` caps inferred batch sizes (a smaller
    batch changes no backward decision and makes a forward pass cheap).
    Raises InputError for unreadable text, CannotReplace when shapes are unknown.
    """
    overrides = overrides or {}
    layers = find_data_layers(parse_text(text, file_name), overrides)
    replacements: List[Replacement] = []
    pieces: List[str] = []
    position = 0
    for layer in layers:
        where = location_of(text, layer.node.start, file_name)
        if layer.name in overrides:
            shapes = override_shapes(layer, overrides, file_name, text)
            labels = [top for top in layer.tops if top in label_overrides or (top != layer.tops[0] and is_label_name(top))]
            inferred = False
        else:
            shapes, labels = infer_shapes(layer, max_batch, file_name, text)
            inferred = True
        pieces.append(text[position:layer.node.start])
        pieces.append(replacement_text(text, layer, shapes, labels))
        position = layer.node.end
        replacements.append(Replacement(layer.name, layer.type, shapes, labels, inferred, where))
    pieces.append(text[position:])
    return ReplacedNet("".join(pieces), replacements)


@dataclass
class FileOverride:
    """One file's entry of the override table."""

    layers: LayerShapes
    labels: List[str]
    note: str = ""


def load_overrides(path: Path = DEFAULT_SHAPES) -> Dict[str, FileOverride]:
    """The override table: file name -> its layers' top shapes (and which tops are labels)."""
    if not path.is_file():
        return {}
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"override table is not JSON: {error.msg}", Location(str(path), error.lineno, error.colno)) from None
    return {
        name: FileOverride(entry.get("layers", {}), list(entry.get("labels", [])), entry.get("note", ""))
        for name, entry in table.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Replace a net's data layers so real Caffe loads it without data.")
    parser.add_argument("net", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    parser.add_argument("--shapes", type=Path, default=DEFAULT_SHAPES, help="override table (JSON)")
    parser.add_argument("--max-batch", type=int, help="cap inferred batch sizes")
    options = parser.parse_args(argv)
    try:
        text = options.net.read_text(encoding="utf-8")
        entry = load_overrides(options.shapes).get(options.net.name, FileOverride({}, []))
        result = replace_data_layers(text, str(options.net), entry.layers, options.max_batch, entry.labels)
    except OSError as error:
        print(f"{options.net}: error: {error.strerror}", file=sys.stderr)
        return 1
    except (InputError, CannotReplace) as error:
        print(error if isinstance(error, InputError) else f"error: {error}", file=sys.stderr)
        return 1
    for replacement in result.replacements:
        how = "inferred" if replacement.inferred else "from the override table"
        print(f"{replacement.location}: {replacement.original_type} '{replacement.layer}' -> "
              f"{replacement.shapes} ({how})", file=sys.stderr)
    if options.output:
        options.output.write_text(result.text, encoding="utf-8")
    else:
        sys.stdout.write(result.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
