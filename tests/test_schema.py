"""The schema tables, the checked-in descriptor set and the private pool agree."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Set

import pytest

from backprop_lint.caffe import schema
from backprop_lint.caffe.model import default_of
from backprop_lint.caffe.schema import tables

REPO = Path(__file__).resolve().parent.parent
ORACLE_PYTHON = Path(os.environ.get("CAFFE_ORACLE_HOME", Path.home() / ".cache/caffe-oracle")) / "python"
_KIND_BY_TYPE = {1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
                 7: "fixed32", 8: "bool", 9: "string", 11: "message", 12: "bytes", 13: "uint32",
                 14: "enum", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64"}


def test_tables_import_without_protobuf() -> None:
    code = "import sys, backprop_lint.caffe.schema.tables; print(any(m.startswith('google') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_generated_files_are_in_sync() -> None:
    if not Path("/usr/bin/protoc").exists():
        pytest.skip("protoc absent: cannot regenerate tables.py")
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import gen_schema
    finally:
        sys.path.pop(0)
    fds_bytes, text = gen_schema.generate()
    assert (REPO / "backprop_lint/caffe/schema/tables.py").read_text() == text
    assert (REPO / "backprop_lint/caffe/schema/caffe_fds.bin").read_bytes() == fds_bytes


def _label(f: Any) -> str:
    return "repeated" if f.is_repeated else "required" if f.is_required else "optional"


def _all_descriptors(descriptor: Any) -> Iterator[Any]:
    yield descriptor
    for nested in descriptor.nested_types:
        yield from _all_descriptors(nested)


def test_tables_agree_with_descriptors_field_by_field() -> None:
    pool = schema.descriptor_pool()
    file_desc = pool.FindFileByName("caffe.proto")
    seen = 0
    for top in file_desc.message_types_by_name.values():
        for desc in _all_descriptors(top):
            table = tables.MESSAGES[desc.name if desc.name in tables.MESSAGES else desc.full_name[6:]]
            assert set(table) == {f.name for f in desc.fields}
            for f in desc.fields:
                number, kind, repeated, type_name, _default, _packed = table[f.name]
                assert (number, kind, repeated) == (f.number, _KIND_BY_TYPE[f.type], f.is_repeated)
                if kind in ("message", "enum"):
                    target = f.message_type or f.enum_type
                    assert target.full_name.endswith(type_name)
                elif f.has_default_value and not repeated:
                    ours = default_of(desc.name, f.name)
                    if kind == "float":  # descriptors hold float defaults rounded to 32 bits
                        ours = struct.unpack("f", struct.pack("f", ours))[0]
                    if kind == "enum":
                        ours = f.enum_type.values_by_name[ours].number
                    assert ours == f.default_value
                seen += 1
    assert seen == sum(len(fields) for fields in tables.MESSAGES.values())


def test_hand_checked_bvlc_facts() -> None:
    layer = tables.MESSAGES["LayerParameter"]
    assert layer["propagate_down"][:3] == (11, "bool", True)
    assert layer["loss_weight"][:3] == (5, "float", True)
    assert layer["param"][:4] == (6, "message", True, "ParamSpec")
    assert tables.MESSAGES["NetParameter"]["force_backward"][0] == 5
    assert default_of("NetParameter", "force_backward") is False
    assert default_of("ParamSpec", "lr_mult") == 1.0
    assert tables.MESSAGES["V1LayerParameter"]["blobs_lr"][:3] == (7, "float", True)
    assert tables.MESSAGES["BlobShape"]["dim"][5] is True  # packed
    assert default_of("NetState", "phase") == "TEST"
    assert default_of("NetStateRule", "phase") == "TRAIN"  # first enum value
    assert default_of("LayerParameter", "bottom") == []
    assert default_of("LayerParameter", "convolution_param").type == "ConvolutionParameter"
    assert ("LayerParameter", "prior_box_param") in tables.SSD_ONLY
    assert ("LayerParameter", "clip_param") in tables.BVLC_ONLY
    assert tables.SSD_VARIANTS[("PoolingParameter", 13)][0] == "ceil_mode"


def _real_caffe_pb2() -> Any:
    if not (ORACLE_PYTHON / "caffe" / "proto" / "caffe_pb2.py").exists():
        return None
    for module in list(sys.modules.values()):
        # pycaffe may already be imported (as caffe.proto.caffe_pb2) by another test in this
        # process: its file is then in the default pool, and importing it again would fail.
        descriptor = getattr(module, "DESCRIPTOR", None)
        if getattr(descriptor, "name", None) == "caffe/proto/caffe.proto" and hasattr(module, "NetParameter"):
            return module
    sys.path.insert(0, str(ORACLE_PYTHON / "caffe" / "proto"))
    try:
        import caffe_pb2  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    return caffe_pb2


def test_private_pool_coexists_with_default_pool_registration() -> None:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    default = descriptor_pool.Default()
    if _real_caffe_pb2() is None:
        try:
            default.FindMessageTypeByName("caffe.NetParameter")
        except KeyError:
            fds = descriptor_pb2.FileDescriptorSet.FromString(schema.FDS_PATH.read_bytes())
            default.Add(fds.file[0])  # what importing pycaffe's caffe_pb2 does
    public_cls = message_factory.GetMessageClass(default.FindMessageTypeByName("caffe.NetParameter"))
    ours = schema.net_parameter_class()
    assert ours is not public_cls
    assert ours.DESCRIPTOR.file.pool is schema.descriptor_pool()
    net = ours()
    clip = net.layer.add(name="a", type="Clip").clip_param
    clip.min, clip.max = 0.0, 6.0
    assert ours.FromString(net.SerializeToString()).layer[0].name == "a"


def _reachable(desc: Any, seen: Set[str]) -> Iterator[Any]:
    if desc.full_name in seen:
        return
    seen.add(desc.full_name)
    yield desc
    for f in desc.fields:
        if f.message_type is not None:
            yield from _reachable(f.message_type, seen)


def test_matches_real_pycaffe_ssd_flavour() -> None:
    caffe_pb2 = _real_caffe_pb2()
    if caffe_pb2 is None:
        pytest.skip(f"real pycaffe not built at {ORACLE_PYTHON}")
    theirs_root = caffe_pb2.NetParameter.DESCRIPTOR
    mismatches: Dict[str, Any] = {}
    for theirs in _reachable(theirs_root, set()):
        ours = schema.descriptor_pool().FindMessageTypeByName(theirs.full_name)
        ours_by_number = {f.number: f for f in ours.fields}
        for f in theirs.fields:
            got = ours_by_number.get(f.number)
            short = theirs.name
            variant = tables.SSD_VARIANTS.get((short, f.number))
            want = (f.name, _label(f), _KIND_BY_TYPE[f.type], f.default_value if f.has_default_value else None)
            if variant is not None:
                enum_default = variant[4]
                have = (variant[0], variant[1], variant[2], enum_default)
            elif got is None:
                have = None
            else:
                have = (got.name, _label(got), _KIND_BY_TYPE[got.type],
                        got.default_value if got.has_default_value else None)
            if have != want:
                mismatches[f"{theirs.full_name}.{f.name}"] = (want, have)
        assert ours.fields or not theirs.fields
    assert mismatches == {}
