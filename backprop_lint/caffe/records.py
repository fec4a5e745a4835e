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
frozen record. The methods ``collections.namedtuple`` writes into each class
are written once, on a shared base. ``LazyNamedTuple`` is the same, except
that the constructor with the class's signature, which namedtuple compiles
from source when the class is made (1.1 M instructions for the layer table's
35-field row, about 0.2 M for a small one), is compiled on the class's first
call: for rows that a start builds otherwise (``_make``, ``tuple.__new__``)
or not at all, so that a run never pays for it.

``NamedConstant`` is the base of a small ``Enum`` without ``enum``'s cost
(making an Enum class of seven members costs 0.7 M instructions at every
start): a class whose instances are its named constants, compared with
``is``, each with the ``name`` and ``value`` an Enum member has.
"""
from __future__ import annotations

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


try:
    from _collections import _tuplegetter  # what collections.namedtuple's fields are
except ImportError:  # another interpreter than CPython
    from operator import itemgetter

    def _tuplegetter(index: int, doc: str) -> Any:  # type: ignore[no-redef]
        return property(itemgetter(index), doc=doc)


_tuple_new = tuple.__new__


class _NamedTupleBase(tuple):
    """What ``collections.namedtuple`` writes into every class it makes, written once here.

    Its ``__new__`` serves a ``LazyNamedTuple`` class until the first call: it compiles
    the class's own constructor (``Row(name, count=1)``) and puts it on the class.
    """

    __slots__ = ()
    # set on each class (not annotated here, so that they are no field of it for typing)
    _fields = ()  # type: Tuple[str, ...]
    _field_defaults = {}  # type: Dict[str, Any]

    def __new__(cls, *values: Any, **named: Any) -> Any:
        new = _compiled_new(cls.__qualname__, cls._fields, cls._field_defaults)
        cls.__new__ = staticmethod(new)  # type: ignore[assignment]
        return new(cls, *values, **named)

    @classmethod
    def _make(cls, iterable: Any) -> Any:
        row = _tuple_new(cls, iterable)
        if len(row) != len(cls._fields):
            raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(row)}")
        return row

    def _replace(self, /, **changes: Any) -> Any:
        row = self._make(map(changes.pop, self._fields, self))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return row

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self))
        return f"{type(self).__name__}({fields})"

    def _asdict(self) -> Dict[str, Any]:
        return dict(zip(self._fields, self))

    def __getnewargs__(self) -> Tuple[Any, ...]:
        return tuple(self)


def _compiled_new(qualname: str, fields: Tuple[str, ...], defaults: Dict[str, Any]) -> Any:
    """``lambda _cls, name, count=1: _tuple_new(_cls, (name, count, ))``, named ``__new__``."""
    parameters = "".join(f", {name}" for name in fields)
    items = "".join(f"{name}, " for name in fields)
    new = eval(f"lambda _cls{parameters}: _tuple_new(_cls, ({items}))", {"_tuple_new": _tuple_new, "__builtins__": {}})
    new.__name__ = "__new__"
    new.__qualname__ = f"{qualname}.__new__"
    new.__defaults__ = tuple(defaults.values()) or None
    return new


class _NamedTupleMeta(type):
    """What ``typing.NamedTuple`` does with a class body: a named tuple class of its annotated
    names (their values are the defaults), plus its methods and docstring."""

    def __new__(mcs, name: str, bases: Tuple[type, ...], namespace: Dict[str, Any]) -> Any:
        if not bases:
            return super().__new__(mcs, name, bases, namespace)  # the NamedTuple base itself
        annotations = namespace.get("__annotations__", {})
        fields = tuple(annotations)
        defaults = {field: namespace[field] for field in fields if field in namespace}
        if list(defaults) != list(fields[len(fields) - len(defaults):]):
            raise TypeError(f"{name}: a field without a default follows one with a default")
        if any(field.startswith("_") for field in fields):
            raise ValueError(f"{name}: field names cannot start with an underscore")
        body: Dict[str, Any] = {"__doc__": f"{name}({', '.join(fields)})"}
        body.update((key, value) for key, value in namespace.items() if key not in defaults)
        body.update(__slots__=(), _fields=fields, _field_defaults=defaults, __match_args__=fields)
        if bases[0] is not LazyNamedTuple:
            body["__new__"] = _compiled_new(body.get("__qualname__", name), fields, defaults)
        for index, field in enumerate(fields):
            body[field] = _tuplegetter(index, f"Alias for field number {index}")
        return type(name, (_NamedTupleBase,), body)


if TYPE_CHECKING:
    from typing import NamedTuple as LazyNamedTuple
    from typing import NamedTuple as NamedTuple
else:
    class NamedTuple(metaclass=_NamedTupleMeta):
        """Base of a named tuple class, as ``typing.NamedTuple`` (see the module docstring)."""

    class LazyNamedTuple(metaclass=_NamedTupleMeta):
        """``NamedTuple`` whose constructor is compiled on the class's first call (see the module docstring)."""


class NamedConstant:
    """One of the named constants of a subclass, as an Enum member: ``name``, ``value``, compared with ``is``.

    The subclass annotates its constants as ``ClassVar``s and assigns them after its body
    (``Colour.RED = Colour("RED", "red")``). Copies and pickles are the constant itself.
    """

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value!r}>"

    def __reduce__(self) -> Tuple[Any, ...]:
        return getattr, (type(self), self.name)
