"""`@record`: frozen, slotted, keyword-only data classes that cost little to define.

`dataclasses.dataclass(frozen=True, slots=True)` compiles five methods per class while the
module imports; for the IR's forty classes that was a fifth of `graphc check`. A record
class compiles its `__init__` when it is first instantiated (classes a command never builds
cost nothing), and shares equality, hashing and `repr` (in dataclasses' format) from `Record`.
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

    def __init__(self, **values: Any) -> None:
        cls = type(self)
        cls.__init__ = _compiled_init(cls)  # type: ignore[method-assign]
        cls.__init__(self, **values)

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

    def __getstate__(self) -> tuple[Any, ...]:
        return self._values()

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for (name, _), value in zip(self.__record_fields__, state, strict=True):
            object.__setattr__(self, name, value)


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
    namespace["__init__"] = Record.__init__  # each class compiles its own on first use
    if not frozen:
        namespace.update(__setattr__=object.__setattr__, __delattr__=object.__delattr__, __hash__=None)
    made: type[_R] = type(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


def _compiled_init(cls: type[Record]) -> Callable[..., None]:
    """The `__init__` of a record class: keyword-only arguments, set with `object.__setattr__`."""
    parameters, body = [], []
    context: dict[str, Any] = {"_set": object.__setattr__, "_MISSING": _MISSING}
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
        body.append(f"    _set(self, {name!r}, {name})")
    signature = f"self, *, {', '.join(parameters)}" if parameters else "self"
    source = f"def __init__({signature}):\n" + "\n".join(body or ["    pass"])
    exec(source, context)  # the source is made above from field names only
    init: Callable[..., None] = context["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def replace(instance: _R, **changes: Any) -> _R:
    """A copy of a record with some fields changed."""
    values = {name: getattr(instance, name) for name, _ in instance.__record_fields__}
    values.update(changes)
    return type(instance)(**values)
