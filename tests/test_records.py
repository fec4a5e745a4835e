"""The record base classes behave as the dataclasses they replace."""
from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import pickle
import typing
from typing import Any, List, NamedTuple, Optional

import pytest

from backprop_lint.caffe import records
from backprop_lint.caffe.records import FrozenRecord, Record


class Point(FrozenRecord):
    __slots__ = ("x", "y")
    x: int
    y: int

    def __init__(self, x: int, y: int = 0) -> None:
        self._set(x, y)


class Box(Record):
    __slots__ = ("name", "corners", "note")
    name: str
    corners: List[Point]
    note: Optional[str]

    def __init__(self, name: str, corners: List[Point], note: Optional[str] = None) -> None:
        self.name = name
        self.corners = corners
        self.note = note


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0


@dataclasses.dataclass
class BoxDC:
    name: str
    corners: List[PointDC]
    note: Optional[str] = None


class Pair(NamedTuple):
    left: Point
    right: int


def test_equality_and_repr_match_dataclasses() -> None:
    box, twin = Box("b", [Point(1, 2)]), Box("b", [Point(1, 2)])
    assert box == twin and box != Box("b", [Point(1, 3)])
    assert Point(1) != (1, 0) and Point(1) == Point(1, 0)
    assert repr(box) == repr(BoxDC("b", [PointDC(1, 2)])).replace("DC", "")


def test_frozen_records_are_hashable_and_immutable() -> None:
    assert {Point(1, 2): "a"}[Point(1, 2)] == "a"
    with pytest.raises(AttributeError, match="frozen"):
        Point(1).x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del Point(1).x
    with pytest.raises(TypeError):
        hash(Box("b", []))


def test_replace_copies_and_refuses_unknown_fields() -> None:
    box = Box("b", [Point(1)], note="n")
    other = box.replace(name="c")
    assert other == Box("c", [Point(1)], note="n") and box.name == "b"
    assert other.corners is box.corners  # shared, as dataclasses.replace shares
    assert Point(1, 2).replace(y=5) == Point(1, 5)
    with pytest.raises(TypeError, match="no field colour"):
        box.replace(colour="red")


def test_as_dict_converts_nested_values_like_asdict() -> None:
    box = Box("b", [Point(1, 2)])
    assert box.as_dict() == dataclasses.asdict(BoxDC("b", [PointDC(1, 2)]))
    nested = Box("b", [Pair(Point(3), 4)], None).as_dict()  # type: ignore[list-item]
    assert nested["corners"] == [Pair({"x": 3, "y": 0}, 4)]  # type: ignore[arg-type]


def test_records_copy_and_have_no_instance_dict() -> None:
    box = Box("b", [Point(1)])
    assert copy.deepcopy(box) == box and copy.copy(box) == box
    assert pickle.loads(pickle.dumps(box)) == box
    assert copy.deepcopy(box).corners[0] is not box.corners[0]
    assert not hasattr(box, "__dict__")


def test_a_record_must_declare_and_annotate_its_fields() -> None:
    with pytest.raises(TypeError, match="__slots__"):
        class NoSlots(Record):
            a: int
    with pytest.raises(TypeError, match="without an annotation: b"):
        class Unannotated(Record):
            __slots__ = ("a", "b")
            a: int
    with pytest.raises(TypeError, match="directly"):
        class Derived(Box):
            __slots__ = ()


class Row(records.NamedTuple):
    """A row."""

    name: str
    count: int = 1
    tags: List[str] = []

    def doubled(self) -> int:
        return self.count * 2


class RowNT(typing.NamedTuple):
    """A row."""

    name: str
    count: int = 1
    tags: List[str] = []

    def doubled(self) -> int:
        return self.count * 2


def test_records_named_tuple_is_typing_named_tuple_without_typing() -> None:
    row, twin = Row("a", tags=["x"]), RowNT("a", tags=["x"])
    assert row == twin and repr(row) == repr(twin).replace("RowNT", "Row") and isinstance(row, tuple)
    assert Row._fields == RowNT._fields and Row._field_defaults == RowNT._field_defaults
    assert row.doubled() == 2 and row._replace(count=3) == ("a", 3, ["x"])
    assert Row.__doc__ == "A row." and Row.__qualname__ == "Row" and Row.__module__ == __name__
    assert list(Row.__annotations__) == ["name", "count", "tags"]
    assert pickle.loads(pickle.dumps(row)) == row
    with pytest.raises(TypeError):
        Row()  # type: ignore[call-arg]


def test_lazy_named_tuple_compiles_its_constructor_on_first_call() -> None:
    class Fresh(records.LazyNamedTuple):
        name: str
        count: int = 1

    class Eager(records.NamedTuple):
        name: str
        count: int = 1

    class FreshNT(typing.NamedTuple):
        name: str
        count: int = 1

    assert "__new__" in vars(Eager)  # compiled with the class, as namedtuple does
    assert "__new__" not in vars(Fresh)  # making the class compiled nothing
    assert Fresh._make(["a", 2]) == ("a", 2) and "__new__" not in vars(Fresh)
    assert copy.copy(Fresh._make(["b", 3])) == ("b", 3)  # the first call (copy calls __new__)
    assert "__new__" in vars(Fresh) and Fresh(count=4, name="c") == FreshNT(count=4, name="c")

    def parameters(cls: type) -> List[Any]:
        return [(p.name, p.default, p.kind) for p in inspect.signature(cls).parameters.values()]

    assert parameters(Fresh) == parameters(Eager) == parameters(FreshNT)
    for cls in (Fresh, Eager):
        for wrong in ({}, {"name": "a", "colour": "red"}, {"name": "a", "count": 1, "extra": 2}):
            with pytest.raises(TypeError):
                cls(**wrong)


class Colour(records.NamedConstant):
    __slots__ = ()
    RED: typing.ClassVar[Colour]
    BLUE: typing.ClassVar[Colour]


Colour.RED = Colour("RED", "red")
Colour.BLUE = Colour("BLUE", "blue")


class ColourEnum(enum.Enum):
    RED = "red"
    BLUE = "blue"


def test_named_constants_behave_as_enum_members() -> None:
    for constant, member in ((Colour.RED, ColourEnum.RED), (Colour.BLUE, ColourEnum.BLUE)):
        assert (constant.name, constant.value) == (member.name, member.value)
        assert repr(constant) == repr(member).replace("ColourEnum", "Colour")
        assert copy.copy(constant) is copy.deepcopy(constant) is pickle.loads(pickle.dumps(constant)) is constant
    assert Colour.RED != Colour.BLUE and len({Colour.RED, Colour.RED, Colour.BLUE}) == 2
    with pytest.raises(AttributeError):
        Colour.RED.other = 1  # type: ignore[attr-defined]
