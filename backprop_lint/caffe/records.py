"""Plain data records: what the stages hand each other, without ``dataclasses``.

A record class lists its fields in ``__slots__`` (in order), annotates them, and
writes its ``__init__`` out. ``Record`` gives it what ``@dataclass`` would
generate: equality and a ``repr`` from the fields, plus ``replace`` and
``as_dict`` (``dataclasses.replace`` / ``asdict``). ``FrozenRecord`` is the
``frozen=True`` form: hashable, and assigning a field raises.

Why not ``@dataclass``: importing ``dataclasses`` (with the ``inspect``, ``ast``,
``dis`` and ``tokenize`` it pulls in) and compiling each class's generated
methods is paid at every start, and was about half of the simulate command's
start-up (README, Performance). A record costs nothing at import.

Rules, checked when a record class is defined: a record derives from ``Record``
or ``FrozenRecord`` directly (no record inherits another's fields), and every
name in ``__slots__`` is annotated, so a type checker sees each field.

``NamedTuple`` is ``typing.NamedTuple`` for type checkers and, at run time, the
same class built without importing ``typing``: for table rows (many of them,
built at import), which a named tuple builds several times faster than a
frozen record.
"""
from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple, TypeVar

    R = TypeVar("R", bound="Record")


class Record:
    """Base of the mutable records (``@dataclass`` with ``eq=True``: unhashable)."""

    __slots__: Tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            return  # FrozenRecord
        if len(cls.__bases__) != 1 or cls.__bases__[0] not in (Record, FrozenRecord):
            raise TypeError(f"record {cls.__qualname__} must derive from Record or FrozenRecord directly")
        if "__slots__" not in cls.__dict__:
            raise TypeError(f"record {cls.__qualname__} must list its fields in __slots__")
        annotated = cls.__dict__.get("__annotations__", {})
        missing = [name for name in cls.__slots__ if name not in annotated]
        if missing:
            raise TypeError(f"record {cls.__qualname__}: fields without an annotation: {', '.join(missing)}")

    def field_values(self) -> Tuple[Any, ...]:
        """The fields' values, in ``__slots__`` order."""
        return tuple([getattr(self, name) for name in self.__slots__])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self.field_values() == other.field_values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({fields})"

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes`` applied (as ``dataclasses.replace``; values are shared, not copied)."""
        cls = type(self)
        unknown = set(changes).difference(cls.__slots__)
        if unknown:
            raise TypeError(f"{cls.__qualname__} has no field {', '.join(sorted(unknown))}")
        copy = cls.__new__(cls)
        for name in cls.__slots__:
            object.__setattr__(copy, name, changes[name] if name in changes else getattr(self, name))
        return copy

    def as_dict(self) -> Dict[str, Any]:
        """The fields as a dict, records, lists, tuples and dicts inside converted too (as ``dataclasses.asdict``)."""
        return {name: _plain(getattr(self, name)) for name in self.__slots__}


#: the frozen records set their fields through object's own __setattr__ (theirs refuses), bound once
_setattr = object.__setattr__


class FrozenRecord(Record):
    """Base of the immutable records (``@dataclass(frozen=True)``): hashable by value.

    Its ``__init__`` sets fields with ``self._set(...)``, in ``__slots__`` order.
    """

    __slots__: Tuple[str, ...] = ()

    def _set(self, *values: Any) -> None:
        for name, value in zip(self.__slots__, values):
            _setattr(self, name, value)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.field_values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__qualname__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__qualname__} is frozen")

    def __reduce__(self) -> Tuple[Any, ...]:
        # copy, deepcopy and pickle would otherwise restore the slots by assignment
        return (_rebuild, (type(self), self.field_values()))


def _rebuild(cls: type, values: Tuple[Any, ...]) -> FrozenRecord:
    record: FrozenRecord = object.__new__(cls)
    FrozenRecord._set(record, *values)
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*[_plain(item) for item in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class _NamedTupleMeta(type):
    """What ``typing.NamedTuple`` does with a class body: ``collections.namedtuple`` of its
    annotated names (their values are the defaults), plus its methods and docstring."""

    def __new__(mcs, name: str, bases: Tuple[type, ...], namespace: Dict[str, Any]) -> Any:
        if not bases:
            return super().__new__(mcs, name, bases, namespace)  # the NamedTuple base itself
        annotations = namespace.get("__annotations__", {})
        fields = list(annotations)
        defaults = [namespace[field] for field in fields if field in namespace]
        row = namedtuple(name, fields, defaults=defaults, module=namespace["__module__"])  # type: ignore[misc]
        row.__annotations__ = annotations
        for key, value in namespace.items():
            if key not in annotations and key not in ("__module__", "__annotations__"):
                setattr(row, key, value)
        return row


if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of a named tuple class, as ``typing.NamedTuple`` (see the module docstring)."""
