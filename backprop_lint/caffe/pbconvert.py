"""Conversions between ``Message`` trees and protobuf messages of our schema.

``to_protobuf`` builds a message of the private-pool class (``backprop_lint.caffe.schema``);
``from_protobuf`` reads one back, and also accepts pycaffe's own
``caffe_pb2.NetParameter`` (another class for the same wire format).
Both import protobuf, so neither is on the fast text path.
"""
from __future__ import annotations

from backprop_lint.caffe import schema
from backprop_lint.caffe.model import Message
from backprop_lint.caffe.schema import tables

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List


def to_protobuf(message: Message) -> Any:
    """A protobuf message of our schema's class holding ``message``'s fields."""
    pb = schema.message_class(message.type)()
    _fill(pb, message)
    return pb


def _fill(pb: Any, message: Message) -> None:
    specs = tables.MESSAGES[message.type]
    for name, value in message.fields.items():
        _number, kind, repeated, type_name, _default, _packed = specs[name]
        if kind == "message":
            if repeated:
                container = getattr(pb, name)
                for element in value:
                    _fill(container.add(), element)
            else:
                child = getattr(pb, name)
                child.SetInParent()
                _fill(child, value)
            continue
        if kind == "enum":
            assert type_name is not None
            numbers = tables.ENUMS[type_name]
            value = [numbers[v] for v in value] if repeated else numbers[value]
        if repeated:
            getattr(pb, name).extend(value)
        else:
            setattr(pb, name, value)


def from_protobuf(pb: Any) -> Message:
    """The ``Message`` tree of a protobuf message (ours or pycaffe's; no positions)."""
    if pb.DESCRIPTOR.file.pool is not schema.descriptor_pool():
        ours = schema.message_class(pb.DESCRIPTOR.name)()
        ours.ParseFromString(pb.SerializeToString())
        pb = ours
    return _read(pb)


def _read(pb: Any) -> Message:
    type_name = pb.DESCRIPTOR.name
    specs = tables.MESSAGES[type_name]
    fields: Dict[str, Any] = {}
    for descriptor, value in pb.ListFields():
        name = descriptor.name
        _number, kind, repeated, field_type, _default, _packed = specs[name]
        if kind == "message":
            fields[name] = [_read(v) for v in value] if repeated else _read(value)
        elif kind == "enum":
            assert field_type is not None
            names = tables.ENUM_NAMES[field_type]
            fields[name] = [names[v] for v in value] if repeated else names[value]
        elif repeated:
            fields[name] = list(value)
        else:
            fields[name] = value
    return Message(type_name, fields)


def unknown_field_numbers(pb: Any) -> List[int]:
    """Numbers of fields in ``pb`` (top level only) that our schema does not know."""
    from google.protobuf import unknown_fields

    return sorted({field.field_number for field in unknown_fields.UnknownFieldSet(pb)})
