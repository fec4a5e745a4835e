#!/usr/bin/env python3
"""Regenerate backprop_lint/caffe/schema/caffe_fds.bin and tables.py from caffe.proto.

Usage: python3 tools/gen_schema.py [--check]

caffe.proto marks fork-specific definitions with trailing comments:
``// ssd-only`` or ``// bvlc-only`` on a field, enum value, or the opening line
of a message/enum (which then covers everything inside it).  Numbers that the
two forks use for different fields are listed in ``SSD_VARIANTS`` below.
"""
from __future__ import annotations

import argparse
import pprint
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "backprop_lint" / "caffe" / "schema"
PROTO = SCHEMA_DIR / "caffe.proto"
FDS = SCHEMA_DIR / "caffe_fds.bin"
TABLES = SCHEMA_DIR / "tables.py"
PROTOC = "/usr/bin/protoc"

# Where the SSD fork's definition of a field number differs from BVLC Caffe's
# (another field, or another default), caffe.proto keeps BVLC's; SSD's is here.
# (message, number) -> (field name, label, kind, type name, default)
SSD_VARIANTS: Dict[Tuple[str, int], Tuple[str, str, str, Optional[str], object]] = {
    ("PoolingParameter", 13): ("ceil_mode", "optional", "bool", None, True),
    ("SolverParameter", 41): ("eval_type", "optional", "string", None, "classification"),
    ("SolverParameter", 42): ("ap_version", "optional", "string", None, "Integral"),
    # same field, different default (BVLC has none)
    ("ConvolutionParameter", 13): ("stride_h", "optional", "uint32", None, 1),
    ("ConvolutionParameter", 14): ("stride_w", "optional", "uint32", None, 1),
}

_KIND_BY_TYPE = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
    7: "fixed32", 8: "bool", 9: "string", 10: "group", 11: "message", 12: "bytes",
    13: "uint32", 14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}
_INTEGER_KINDS = {"int32", "int64", "uint32", "uint64", "sint32", "sint64",
                  "fixed32", "fixed64", "sfixed32", "sfixed64"}


def run_protoc(proto: Path, out: Path) -> None:
    subprocess.run(
        [PROTOC, f"-I{proto.parent}", f"--descriptor_set_out={out}", proto.name],
        check=True, cwd=proto.parent,
    )


def parse_default(kind: str, text: str) -> object:
    if kind in ("float", "double"):
        return float(text)
    if kind in _INTEGER_KINDS:
        return int(text, 0)
    if kind == "bool":
        return text == "true"
    if kind == "bytes":
        return text.encode("latin-1")
    return text  # string, and enum value names


def short_names(full_names: List[str]) -> Dict[str, str]:
    """Map 'caffe.Outer.Inner' to 'Inner' if that is unique, else 'Outer.Inner'."""
    counts: Dict[str, int] = {}
    for name in full_names:
        leaf = name.rsplit(".", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + 1
    result = {}
    for name in full_names:
        leaf = name.rsplit(".", 1)[-1]
        result[name] = leaf if counts[leaf] == 1 else name.split(".", 1)[1]
    return result


def collect(fds_bytes: bytes):  # type: ignore[no-untyped-def]
    from google.protobuf import descriptor_pb2

    fds = descriptor_pb2.FileDescriptorSet.FromString(fds_bytes)
    (file_proto,) = fds.file
    package = file_proto.package
    messages: Dict[str, object] = {}
    enums: Dict[str, object] = {}

    def walk(prefix: str, message_protos, enum_protos) -> None:  # type: ignore[no-untyped-def]
        for enum in enum_protos:
            enums[f"{prefix}.{enum.name}"] = enum
        for message in message_protos:
            full = f"{prefix}.{message.name}"
            messages[full] = message
            walk(full, message.nested_type, message.enum_type)

    walk(package, file_proto.message_type, file_proto.enum_type)
    return messages, enums


def build_tables(fds_bytes: bytes):  # type: ignore[no-untyped-def]
    message_protos, enum_protos = collect(fds_bytes)
    message_short = short_names(sorted(message_protos))
    enum_short = short_names(sorted(enum_protos))
    enum_tables: Dict[str, Dict[str, int]] = {}
    for full, enum in sorted(enum_protos.items()):
        enum_tables[enum_short[full]] = {v.name: v.number for v in enum.value}
    message_tables: Dict[str, Dict[str, tuple]] = {}
    for full, message in sorted(message_protos.items()):
        fields: Dict[str, tuple] = {}
        for f in message.field:
            kind = _KIND_BY_TYPE[f.type]
            type_name: Optional[str] = None
            if kind == "message":
                type_name = message_short[f.type_name.lstrip(".")]
            elif kind == "enum":
                type_name = enum_short[f.type_name.lstrip(".")]
            default = parse_default(kind, f.default_value) if f.HasField("default_value") else None
            repeated = f.label == 3
            packed = f.options.packed if f.options.HasField("packed") else False
            fields[f.name] = (f.number, kind, repeated, type_name, default, packed)
        message_tables[message_short[full]] = fields
    return message_tables, enum_tables


_MARK = re.compile(r"//\s*(ssd|bvlc)-only\s*$")
_OPEN = re.compile(r"^\s*(message|enum)\s+(\w+)\s*\{")
_FIELD = re.compile(r"^\s*(?:optional|repeated|required)\s+[\w.]+\s+(\w+)\s*=")
_VALUE = re.compile(r"^\s*(\w+)\s*=\s*-?\d+")


def fork_marks(proto_text: str) -> Tuple[Set[Tuple[str, str]], Set[Tuple[str, str]]]:
    """(SSD-only, BVLC-only) sets of (message or enum short name, member name)."""
    marked: Dict[str, Set[Tuple[str, str]]] = {"ssd": set(), "bvlc": set()}
    stack: List[Tuple[str, Optional[str]]] = []  # (block name, fork covering it)
    for line in proto_text.splitlines():
        mark = _MARK.search(line)
        fork = mark.group(1) if mark else None
        inherited = stack[-1][1] if stack else None
        opening = _OPEN.match(line)
        if opening:
            stack.append((opening.group(2), fork or inherited))
            if "}" in line:
                stack.pop()
            continue
        if line.strip().startswith("}"):
            stack.pop()
            continue
        member = _FIELD.match(line) or _VALUE.match(line)
        owner_fork = fork or inherited
        if member and stack and owner_fork:
            marked[owner_fork].add((stack[-1][0], member.group(1)))
    return marked["ssd"], marked["bvlc"]


HEADER = '''"""Caffe's protobuf schema as plain Python data.

generated by tools/gen_schema.py, do not edit.

Must not import protobuf: the fast text parser relies on that.
MESSAGES: message -> field -> (number, kind, repeated, type name, explicit default, packed).

The tables are Python literals: an installed package loads them from its
.pyc, unmarshalled with nothing to decode (3.1 M instructions at import; the
same tables as JSON text decoded by ``json.loads`` took 6.0 M). Without a .pyc
(a checkout run with PYTHONDONTWRITEBYTECODE) Python compiles the literals at
every start instead: about 90 M instructions (the JSON text: 12 M).
"""
# fmt: off
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, FrozenSet, Optional, Tuple

    FieldInfo = Tuple[int, str, bool, Optional[str], Any, bool]
'''

FOOTER = '''
ENUM_NAMES: Dict[str, Dict[int, str]] = {
    enum: {number: name for name, number in values.items()} for enum, values in ENUMS.items()
}
'''


def table_literal(table: Dict[str, Dict[str, Any]]) -> str:
    """``table`` (name -> member -> value) as a dict display, one member a line."""
    lines = ["{"]
    for name, members in table.items():
        lines.append(f"    {name!r}: {{")
        lines.extend(f"        {member!r}: {value!r}," for member, value in members.items())
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines)


def pairs_literal(pairs: Set[Tuple[str, str]]) -> str:
    """``pairs`` as a frozenset of a set display, sorted, one pair a line."""
    return "frozenset({\n" + "".join(f"    {pair!r},\n" for pair in sorted(pairs)) + "})"


def render(fds_bytes: bytes, proto_text: str) -> str:
    messages, enums = build_tables(fds_bytes)
    ssd_only, bvlc_only = fork_marks(proto_text)
    fmt = lambda value: pprint.pformat(value, width=100, sort_dicts=False)  # noqa: E731
    parts = [
        HEADER,
        f"MESSAGES: Dict[str, Dict[str, FieldInfo]] = {table_literal(messages)}\n",
        f"ENUMS: Dict[str, Dict[str, int]] = {table_literal(enums)}\n",
        "# (message or enum, field or value) defined only in the SSD fork's caffe.proto",
        f"SSD_ONLY: FrozenSet[Tuple[str, str]] = {pairs_literal(ssd_only)}\n",
        "# (message or enum, field or value) defined only in BVLC Caffe's caffe.proto",
        f"BVLC_ONLY: FrozenSet[Tuple[str, str]] = {pairs_literal(bvlc_only)}\n",
        "# (message, number) that the SSD fork uses for a different field than BVLC:",
        "# -> (name, label, kind, type name, default). MESSAGES holds BVLC's meaning.",
        "SSD_VARIANTS: Dict[Tuple[str, int], Tuple[str, str, str, Optional[str], Any]] = "
        f"{fmt(SSD_VARIANTS)}\n",
        FOOTER,
    ]
    return "\n".join(parts)


def generate() -> Tuple[bytes, str]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "caffe_fds.bin"
        run_protoc(PROTO, out)
        fds_bytes = out.read_bytes()
    return fds_bytes, render(fds_bytes, PROTO.read_text())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether outputs are stale")
    args = parser.parse_args(argv)
    fds_bytes, tables = generate()
    if args.check:
        stale = FDS.read_bytes() != fds_bytes or TABLES.read_text() != tables
        print("stale" if stale else "up to date")
        return 1 if stale else 0
    FDS.write_bytes(fds_bytes)
    TABLES.write_text(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
