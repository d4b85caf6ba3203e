"""Run history: `NodeStep`, `EndStep`, and how state is snapshotted into them."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, NamedTuple, Union

import pydantic
from pydantic_core import core_schema
from typing_extensions import TypeVar

from .fanout import ForkStep
from .nodes import BaseNode, End, RunEndT, unset_waits

__all__ = ("EndStep", "ForkStep", "HistoryStep", "NodeStep", "StateT", "deep_copy_state", "nodes_schema_var")

StateT = TypeVar("StateT", default=None)
"""Type variable for the state in a graph."""

_ATOMIC: frozenset[type] = frozenset({type(None), int, float, bool, complex, str, bytes})
_plain_class_cache: dict[type, frozenset[str] | None] = {}
_set_attribute = object.__setattr__


def _plain_dataclass_descriptors(cls: type) -> frozenset[str] | None:
    """None unless `copy.deepcopy` of an instance just copies its `__dict__` entry by entry.

    For such a class, the names of its data descriptors (properties and the like):
    the fast path writes attributes with `object.__setattr__`, which (unlike
    deepcopy's `__dict__.update`) would call those, so entries with these names
    send the copy to `copy.deepcopy`.
    """
    if cls in _plain_class_cache:
        return _plain_class_cache[cls]
    plain = (
        hasattr(cls, "__dataclass_fields__")
        and not any(klass.__dict__.get("__slots__") for klass in cls.__mro__)  # slot values live outside __dict__
        and getattr(cls, "__deepcopy__", None) is None
        and getattr(cls, "__reduce_ex__", None) is object.__reduce_ex__
        and getattr(cls, "__reduce__", None) is object.__reduce__
        and getattr(cls, "__getstate__", None) is getattr(object, "__getstate__", None)
        and getattr(cls, "__setstate__", None) is None
    )
    # deepcopy honours __deepcopy__/__reduce_ex__/__getstate__; only classes without them are copied here
    verdict = (
        frozenset(
            name
            for klass in cls.__mro__
            for name, attribute in vars(klass).items()
            if hasattr(type(attribute), "__set__") and name not in ("__dict__", "__weakref__")
        )
        if plain
        else None
    )
    _plain_class_cache[cls] = verdict
    return verdict


class _NeedsDeepCopy(Exception):
    pass


def _copy_value(value: Any, seen: set[int]) -> Any:
    """Copy `value` exactly as `copy.deepcopy` would, for the shapes state usually has.

    Raises `_NeedsDeepCopy` for anything else, including shared references, whose
    identity `deepcopy` preserves and this fast path would not.
    """
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if id(value) in seen:
        raise _NeedsDeepCopy
    seen.add(id(value))
    if cls is list:
        return [_copy_value(item, seen) for item in value]
    if cls is dict:
        return {_copy_value(k, seen): _copy_value(v, seen) for k, v in value.items()}
    if cls is tuple:
        return tuple(_copy_value(item, seen) for item in value)
    if cls is set:
        return {_copy_value(item, seen) for item in value}
    descriptors = _plain_dataclass_descriptors(cls)
    if descriptors is not None:
        clone = object.__new__(cls)
        for name, item in value.__dict__.items():
            if name in descriptors:
                raise _NeedsDeepCopy
            _set_attribute(clone, name, _copy_value(item, seen))
        return clone
    raise _NeedsDeepCopy


def deep_copy_state(state: StateT) -> StateT:
    """Default snapshot: a deep copy of the state (`None` stays `None`).

    Dataclasses, lists, dicts, tuples and sets of plain values are copied by a fast
    path that gives the same result as `copy.deepcopy`; anything else goes to
    `copy.deepcopy` itself.
    """
    return state_copier(type(state))(state)  # type: ignore[no-any-return]


def state_copier(cls: type) -> Callable[[Any], Any]:
    """`deep_copy_state` for states of class `cls`, made once per class (a run keeps it: a step pays no look-up)."""
    return _snapshots(cls).copy


StatePacker = tuple[Callable[[Any], "tuple[Any, ...] | None"], Callable[..., Any]]
"""`state_packer`'s answer: `pack` (a state's field values, or None) and `unpack` (a copy from them)."""


def state_packer(cls: type) -> StatePacker | None:
    """For a plain dataclass `cls`: `pack`, its instance's field values or None, and `unpack`, their copy.

    `unpack(*pack(state))` equals `deep_copy_state(state)` (every value is immutable), so
    history can keep the tuple and build the copy when it is read (`NodeStep.state`). A
    tuple of plain values is an object the garbage collector stops tracking; the copy is not.
    None: `cls` is no plain dataclass (its states are copied at once).
    """
    return _snapshots(cls).packer


class _Snapshots(NamedTuple):
    copy: Callable[[Any], Any]
    packer: StatePacker | None


def _snapshots(cls: type) -> _Snapshots:
    try:
        return _copiers[cls]
    except KeyError:
        if len(_copiers) >= _COPIERS_KEPT:  # bounded: a process that loads specs for ever keeps only the latest
            del _copiers[next(iter(_copiers))]
        snapshots = _copiers[cls] = _flat_snapshots(cls) or _Snapshots(_slow_copy, None)
        return snapshots


def _slow_copy(state: Any) -> Any:
    if state is None:
        return state
    try:
        return _copy_value(state, set())
    except _NeedsDeepCopy:
        return copy.deepcopy(state)


_copiers: dict[type, _Snapshots] = {}
_COPIERS_KEPT = 512
"""State classes whose copier is kept (a copier holds its class: weak keys would keep every class alive)."""


def _flat_snapshots(cls: type) -> _Snapshots | None:
    """For a plain dataclass: its copier, packer and unpacker made for the class, so a step pays no loop for them.

    They handle an instance whose attributes are exactly its fields, each holding an immutable
    value; `copy` hands any other to `_slow_copy`, `pack` returns None for it. The copy equals
    `copy.deepcopy`'s; its attributes are set in the fields' order.
    """
    descriptors = _plain_dataclass_descriptors(cls)
    if descriptors is None:
        return None
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    if not names or len(names) > 64 or any(n in descriptors or not n.isidentifier() for n in names):
        return None
    values = [f"v{i}" for i in range(len(names))]
    init = getattr(cls, "__init__", None)
    if (  # dataclasses' own __init__ only stores its arguments: calling it is the cheapest copy
        getattr(getattr(init, "__code__", None), "co_filename", None) == "<string>"
        and not hasattr(cls, "__post_init__")
        and all(f.init for f in fields)
    ):
        arguments = [v if not f.kw_only else f"{f.name}={v}" for v, f in zip(values, fields, strict=True)]
        build = [f"return _cls({', '.join(arguments)})"]
    else:
        build = [
            "clone = _new(_cls)",
            *(f"_set(clone, {n!r}, {v})" for v, n in zip(values, names, strict=True)),
            "return clone",
        ]

    def flat(name: str, then: list[str], otherwise: str) -> list[str]:
        """A function reading the fields into `v0`… and, when all are immutable, doing `then`."""
        return [
            f"def {name}(state):",
            "    d = state.__dict__",
            f"    if len(d) == {len(names)}:",
            "        try:",
            *(f"            {v} = d[{n!r}]" for v, n in zip(values, names, strict=True)),
            "        except KeyError:",
            f"            return {otherwise}",
            f"        if {' and '.join(f'type({v}) in _atomic' for v in values)}:",
            *(f"            {line}" for line in then),
            f"    return {otherwise}",
        ]

    source = "\n".join(
        [
            f"def unpack({', '.join(values)}):",
            *(f"    {line}" for line in build),
            *flat("copy", build, "_slow(state)"),
            *flat("pack", [f"return ({', '.join(values)},)"], "None"),
        ]
    )
    context: dict[str, Any] = {
        "_atomic": _ATOMIC,
        "_new": object.__new__,
        "_set": _set_attribute,
        "_cls": cls,
        "_slow": _slow_copy,
    }
    exec(source, context)  # made above from the class's field names, each checked to be an identifier
    return _Snapshots(context["copy"], (context["pack"], context["unpack"]))


def _now_utc() -> datetime:
    return datetime.now(tz=timezone.utc)


class _NodeSchema:
    """Pydantic schema for a node of the graph named by `nodes_schema_var`, tagged with `node_id`."""

    def __get_pydantic_core_schema__(
        self, _source_type: Any, handler: pydantic.GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        try:
            nodes = nodes_schema_var.get()
        except LookupError as e:
            raise RuntimeError(
                "Unable to build a Pydantic schema for `NodeStep` or `HistoryStep` without setting "
                "`nodes_schema_var`; use `Graph.dump_history` / `Graph.load_history`."
            ) from e
        nodes_type: Any
        if len(nodes) == 1:
            nodes_type = nodes[0]
        else:
            tagged = tuple(Annotated[node, pydantic.Tag(node.get_id())] for node in nodes)
            nodes_type = Annotated[Union[tagged], pydantic.Discriminator(_node_discriminator)]  # noqa: UP007
        schema: core_schema.CoreSchema = handler(nodes_type)
        schema["serialization"] = core_schema.wrap_serializer_function_ser_schema(  # type: ignore[index,typeddict-unknown-key,unused-ignore]
            function=_serialize_node,
            info_arg=True,
            return_schema=core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema()),
        )
        return schema


def _node_discriminator(node_data: Any) -> str | None:
    if isinstance(node_data, dict):
        node_id = node_data.get("node_id")
        return node_id if isinstance(node_id, str) else None
    if isinstance(node_data, BaseNode):
        return node_data.get_id()
    return None


def _serialize_node(
    node: Any, handler: pydantic.SerializerFunctionWrapHandler, info: core_schema.SerializationInfo
) -> dict[str, Any]:
    unset = unset_waits(node) if isinstance(node, BaseNode) and node.waits_for else None
    if unset:  # a wait that ran out (its deadline passed): the fields nobody answered are left out, as unset
        adapter = pydantic.TypeAdapter(type(node))
        node_dict: dict[str, Any] = adapter.dump_python(
            node, mode="json" if info.mode_is_json() else "python", exclude=set(unset)
        )
    else:
        node_dict = handler(node)
    node_dict["node_id"] = node.get_id()
    return node_dict


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """An attempt of a node that failed before another (its `retry` policy) succeeded."""

    attempt: int
    """Its number, from 1."""
    error: str
    """The exception's class."""
    message: str
    """What it said."""


def _none(value: Any) -> bool:
    return value is None


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_building = threading.Lock()


class _Recorded:
    """What a run records for a step, and what history builds from it when first read.

    A run sets `_packed`/`_unpack` (the state's field values and the function that copies
    them back, from `state_packer`) and `_ns` (`time.time_ns()`), leaving the `state` and
    `start_ts` slots empty, and leaves fields at their default (`kind`, …) unset: a step
    costs a run fewer objects and stores (the in-memory hot path). Reading an empty slot
    comes here, which builds the value and keeps it. A step made by `__init__` has every
    field set and never comes here.
    """

    __slots__ = ("_ns", "_packed", "_unpack")
    _ns: int
    _packed: tuple[Any, ...]
    _unpack: Callable[..., Any]

    def _build(self, name: str) -> Any:
        with _building:  # one copy of a state, however many threads read it first at once
            try:
                return object.__getattribute__(self, name)  # built meanwhile by the thread that held the lock
            except AttributeError:
                pass
            try:
                if name == "state":
                    value = self._unpack(*self._packed)
                elif name == "start_ts":  # floored to the microsecond, as `datetime.now` is
                    value = _EPOCH + timedelta(microseconds=self._ns // 1000)
                elif name in _FIELD_DEFAULTS:  # a field the run left at its default
                    value = _FIELD_DEFAULTS[name]
                else:
                    raise AttributeError(name)
            except AttributeError:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None
            setattr(self, name, value)
            if name == "state":
                del self._packed, self._unpack
            elif name == "start_ts":
                del self._ns
            return value

    if not TYPE_CHECKING:  # to a type checker a step has its fields and no others
        __getattr__ = _build


@dataclass(slots=True)
class NodeStep(_Recorded, Generic[StateT, RunEndT]):
    """History step describing the execution of a node in a graph."""

    state: StateT
    """The state of the graph after the node has been run."""
    node: Annotated[BaseNode[StateT, Any, RunEndT], _NodeSchema()]
    """The node that was run."""
    start_ts: datetime = field(default_factory=_now_utc)
    """The timestamp when the node started running."""
    duration: float | None = None
    """The duration of the node run in seconds."""
    kind: Literal["node"] = "node"
    """The kind of history step, used as a discriminator when deserializing history."""
    snapshot_state: Annotated[Callable[[StateT], StateT], pydantic.Field(exclude=True, repr=False)] = field(
        default=deep_copy_state, repr=False
    )
    """Function used to snapshot the state."""
    retries: Annotated[list[FailedAttempt] | None, pydantic.Field(exclude_if=_none)] = None
    """The attempts that failed before the node succeeded (its `retry` policy); None: it succeeded at once."""

    def __post_init__(self) -> None:
        # Snapshot so later changes to the live state do not rewrite history.
        self.state = self.snapshot_state(self.state)

    def data_snapshot(self) -> BaseNode[StateT, Any, RunEndT]:
        """Return a deep copy of the node, for summarising history."""
        return copy.deepcopy(self.node)


_FIELD_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(NodeStep) if f.default is not dataclasses.MISSING
}
"""The fields of `NodeStep` with a default, which a run leaves unset when it is the default."""


@dataclass(slots=True)
class EndStep(Generic[RunEndT]):
    """History step describing the end of a graph run."""

    result: End[RunEndT]
    """The result of the graph run."""
    ts: datetime = field(default_factory=_now_utc)
    """The timestamp when the graph run ended."""
    kind: Literal["end"] = "end"
    """The kind of history step, used as a discriminator when deserializing history."""

    def data_snapshot(self) -> End[RunEndT]:
        """Return a deep copy of the result, for summarising history."""
        return copy.deepcopy(self.result)


HistoryStep = Union[NodeStep[StateT, RunEndT], EndStep[RunEndT], ForkStep]  # noqa: UP007
"""A step in the history of a graph run (`ForkStep` only in runs of specs that run sub-graphs)."""

nodes_schema_var: ContextVar[Sequence[type[BaseNode[Any, Any, Any]]]] = ContextVar("nodes_schema_var")
"""The node classes a history schema is being built for."""
