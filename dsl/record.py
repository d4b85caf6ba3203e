"""`@record`: frozen, slotted, keyword-only data classes that cost little to define.

`dataclasses.dataclass(frozen=True, slots=True)` compiles five methods per class while the
module imports; for the IR's forty classes that was a fifth of `graphc check`. A record
class compiles its constructor when it is first instantiated (classes a command never builds
cost nothing), and shares equality, hashing and `repr` (in dataclasses' format) from `Record`.

A frozen record is built as an instance of a twin class (the record's subclass with the same
layout, whose fields can be set) and then becomes the record: plain attribute stores, where
`object.__setattr__` for each field cost twice the time (the IR of a spec is ~90 records a node).
Type checkers see dataclasses (`dataclass_transform`): frozen, keyword-only.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any, TypeVar, overload

    from typing_extensions import dataclass_transform

    _R = TypeVar("_R", bound="Record")
else:

    def dataclass_transform(**_options: object) -> Callable[[object], object]:
        return lambda decorator: decorator


__all__ = ("Record", "field", "record", "replace")

_MISSING: Any = object()


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is made anew for each instance (`field(default_factory=list)`)."""
    return _Factory(default_factory)


class Record:
    """The base of record classes: immutable, compared, hashed and shown field by field."""

    __slots__ = ()
    __record_fields__: tuple[tuple[str, Any], ...] = ()
    """Each field's name and default (`_MISSING`, a value, or a `_Factory`), in order."""

    if not TYPE_CHECKING:  # type checkers see each record's fields as `__init__`'s (`dataclass_transform`)

        def __new__(cls, **values: Any) -> Any:
            """Compile this class's constructor (`_compiled_new`), then build with it."""
            cls.__new__ = _compiled_new(cls)
            return cls.__new__(cls, **values)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name, _ in self.__record_fields__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name, _ in self.__record_fields__)
        return f"{type(self).__qualname__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        # `copy` and `pickle` would call `cls.__new__(cls)`, which wants the fields
        return _restored, (type(self), self._values())


def _restored(cls: type[Record], values: tuple[Any, ...]) -> Record:
    """A record from its field values, as `pickle` and `copy` rebuild it: by its constructor."""
    return cls(**{name: value for (name, _), value in zip(cls.__record_fields__, values, strict=True)})


if TYPE_CHECKING:

    @overload
    def record(cls: type[_R], /) -> type[_R]: ...

    @overload
    def record(*, frozen: bool = True) -> Callable[[type[_R]], type[_R]]: ...


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def record(cls: type[_R] | None = None, /, *, frozen: bool = True) -> Any:
    """Make `cls` (a subclass of `Record`) a record class: its annotated names are its fields.

    `@record(frozen=False)` makes one whose fields can be set again (and that is not hashable).
    """
    if cls is None:
        return lambda cls: _record(cls, frozen=frozen)
    return _record(cls, frozen=frozen)


def _record(cls: type[_R], *, frozen: bool) -> type[_R]:
    own = list(cls.__dict__.get("__annotations__", {}))  # noqa: RUF063 -- `inspect` costs more than records save
    inherited = {
        name: default for base in reversed(cls.__mro__[1:]) for name, default in vars(base).get("__record_fields__", ())
    }
    namespace = {
        key: value for key, value in cls.__dict__.items() if key not in own and key not in ("__dict__", "__weakref__")
    }
    namespace["__slots__"] = tuple(name for name in own if name not in inherited)
    namespace["__record_fields__"] = (
        *inherited.items(),
        *((name, cls.__dict__.get(name, _MISSING)) for name in own if name not in inherited),
    )
    namespace["__new__"] = Record.__new__  # each class compiles its own on first use
    if not frozen:
        namespace.update(__setattr__=object.__setattr__, __delattr__=object.__delattr__, __hash__=None)
    made: type[_R] = type(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


def _compiled_new(cls: type[Record]) -> Callable[..., Any]:
    """The constructor of a record class: keyword-only arguments, stored in an instance of its twin."""
    frozen = cls.__setattr__ is not object.__setattr__
    mutable = {"__slots__": (), "__setattr__": object.__setattr__, "__delattr__": object.__delattr__}
    twin = type(cls.__name__, (cls,), mutable) if frozen else cls  # (both: they share one type slot)
    parameters, body = [], ["    if cls is not _cls:", "        _unrecorded(cls)", "    self = _new(_twin)"]
    context: dict[str, Any] = {"_new": object.__new__, "_MISSING": _MISSING, "_cls": cls, "_twin": twin}
    context["_unrecorded"] = _unrecorded
    for name, default in cls.__record_fields__:
        if default is _MISSING:
            parameters.append(name)
        elif isinstance(default, _Factory):
            context[f"_make_{name}"] = default.make
            parameters.append(f"{name}=_MISSING")
            body.append(f"    if {name} is _MISSING: {name} = _make_{name}()")
        else:
            context[f"_default_{name}"] = default
            parameters.append(f"{name}=_default_{name}")
        body.append(f"    self.{name} = {name}")
    if frozen:
        body.append("    self.__class__ = cls")
    body.append("    return self")
    signature = f"cls, *, {', '.join(parameters)}" if parameters else "cls"
    source = f"def __new__({signature}):\n" + "\n".join(body)
    exec(source, context)  # the source is made above from field names only
    new: Callable[..., Any] = context["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    return new


def _unrecorded(cls: type[Record]) -> None:
    raise TypeError(f"{cls.__qualname__} subclasses a record class: decorate it with @record")


def replace(instance: _R, **changes: Any) -> _R:
    """A copy of a record with some fields changed."""
    values = {name: getattr(instance, name) for name, _ in instance.__record_fields__}
    values.update(changes)
    return type(instance)(**values)
