"""Nodes, the `End` marker, edge labels and the context a node runs with."""

from __future__ import annotations

import inspect
import types
import typing
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, is_dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic

from typing_extensions import Never, TypeAliasType, TypeVar

from .exceptions import GraphSetupError
from .timers import Deadline, Sleep  # read by `typing.get_type_hints` at run time

if TYPE_CHECKING:
    from datetime import datetime

    from .fanout import Fork
    from .state import StateT
else:
    StateT = TypeVar("StateT", default=None)

__all__ = (
    "WAITING",
    "BaseNode",
    "DepsT",
    "Edge",
    "End",
    "GraphRunContext",
    "NodeDef",
    "RunEndT",
    "supply_waits",
    "type_name",
    "unset_waits",
    "validate_waits",
    "waited_types",
    "waits_note",
)


class _Waiting:
    """The value of a waited-for field until the run's caller supplies it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "WAITING"

    def __copy__(self) -> _Waiting:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Waiting:
        return self

    def __reduce__(self) -> str:
        return "WAITING"


WAITING: Any = _Waiting()
"""The default of a waited-for field (`waits (...)` in a spec): typed `Any` so it fits any field type."""

RunEndT = TypeVar("RunEndT", covariant=True, default=None)
"""Covariant type variable for the output of a graph run."""
NodeRunEndT = TypeVar("NodeRunEndT", covariant=True, default=Never)
"""Covariant type variable for the `End` data a node's `run` may return."""
DepsT = TypeVar("DepsT", default=None, contravariant=True)
"""Type variable for the dependencies of a graph and its nodes."""


@dataclass
class GraphRunContext(Generic[StateT, DepsT]):
    """What a node's `run` receives: the run's state and dependencies."""

    state: StateT
    """The state of the graph."""
    deps: DepsT
    """Dependencies for the graph."""


class BaseNode(ABC, Generic[StateT, DepsT, NodeRunEndT]):
    """Base class for a node.

    Subclasses are usually dataclasses; the return annotation of `run` declares the
    node's outgoing edges.
    """

    docstring_notes: ClassVar[bool] = False
    """Set to `True` to render the class docstring as a note in mermaid diagrams."""
    waits_for: ClassVar[tuple[str, ...]] = ()
    """Fields a value from outside the graph fills before the node runs (`WAITING` until then)."""
    answer_deadline: ClassVar[Deadline | None] = None
    """How long the node waits for what it `waits_for`; then its `run` takes the deadline's edge (fields unset)."""
    sleep_policy: ClassVar[Sleep | None] = None
    """A sleep before the node runs: for `sleep_policy.seconds`, or until `sleep_until(ctx)`."""
    failed_attempts: ClassVar[list[Any] | None] = None
    """The failed attempts of this node's current run (its `retry` policy), set by `runtime.policies.retrying`
    and moved to the run's history (`NodeStep.retries`) when the node has run."""
    pure: ClassVar[bool] = False
    """Whether `run` only computes from the node's fields, state and deps (the compiler proves it): a
    durable run records such a node in the step of the node before it, as replaying it gives the same."""

    @abstractmethod
    async def run(
        self, ctx: GraphRunContext[StateT, DepsT]
    ) -> BaseNode[StateT, DepsT, Any] | End[NodeRunEndT] | Fork[Any]:
        """Run the node and return the next node, or `End` to finish the run (or a `Fork`: sub-graphs, then its join).

        Args:
            ctx: The graph context.
        """

    def sleep_until(self, ctx: GraphRunContext[StateT, DepsT]) -> datetime:
        """When a node whose sleep is `until EXPR` may run (compiled nodes compute it from the spec)."""
        raise NotImplementedError(f"`{self.get_id()}` sleeps until a time it does not define")

    @classmethod
    def get_id(cls) -> str:
        """Get the ID of the node: its class name unless overridden."""
        return cls.__name__

    @classmethod
    def get_note(cls) -> str | None:
        """Get the note shown beside the node in mermaid diagrams.

        By default the cleaned class docstring when `docstring_notes` is set,
        ignoring the docstring `dataclass` generates from the signature; then
        what the node waits for, if anything (`waits_for`).
        """
        waits = waits_note(cls.waits_for, cls.sleep_policy.text if cls.sleep_policy is not None else None)
        if not cls.docstring_notes:
            return waits
        docstring = cls.__doc__
        # dataclasses get an automatic docstring, their signature: not a note
        if not docstring or (is_dataclass(cls) and docstring.startswith(f"{cls.__name__}(")):  # type: ignore[unreachable,unused-ignore]
            return waits
        return inspect.cleandoc(docstring) + (f"\n{waits}" if waits else "")

    @classmethod
    def get_node_def(cls, local_ns: dict[str, Any] | None) -> NodeDef[StateT, DepsT, NodeRunEndT]:
        """Read the node's edges from the return annotation of `run`.

        Args:
            local_ns: Extra names for resolving string annotations, usually the
                namespace the graph was defined in.
        """
        type_hints = typing.get_type_hints(cls.run, localns=local_ns, include_extras=True)
        try:
            return_hint = type_hints["return"]
        except KeyError as e:
            raise GraphSetupError(f"Node {cls} is missing a return type hint on its `run` method") from e

        from .fanout import Fork, Runs  # the fan-out module builds on this one

        next_node_edges: dict[str, Edge] = {}
        end_edge: Edge | None = None
        returns_base_node = False
        forks: dict[str, tuple[Any, ...]] = {}
        for member in _union_members(return_hint):
            return_type, annotations = _unpack_annotated(member)
            edge = next((a for a in annotations if isinstance(a, Edge)), Edge(None))
            origin = typing.get_origin(return_type) or return_type
            if origin is Fork:  # `Annotated[Fork[Join], Runs(A, B)]`: sub-graphs A and B run, then Join
                return_type = typing.get_args(return_type)[0]
                origin = typing.get_origin(return_type) or return_type
                join = "End" if origin is End else origin.get_id()
                forks[join] = next((a.graphs for a in annotations if isinstance(a, Runs)), ())
            if origin is End:
                end_edge = edge
            elif origin is BaseNode:
                returns_base_node = True
            elif isinstance(origin, type) and issubclass(origin, BaseNode):
                next_node_edges[origin.get_id()] = edge
            else:
                raise GraphSetupError(f"Invalid return type: {return_type}")
        return NodeDef(cls, cls.get_id(), cls.get_note(), next_node_edges, end_edge, returns_base_node, forks)


def _union_members(tp: Any) -> tuple[Any, ...]:
    if isinstance(tp, TypeAliasType):
        tp = tp.__value__
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _unpack_annotated(tp: Any) -> tuple[Any, list[Any]]:
    if typing.get_origin(tp) is typing.Annotated:
        inner, *metadata = typing.get_args(tp)
        return inner, metadata
    return tp, []


@dataclass
class End(Generic[RunEndT]):
    """Returned by a node to end the run; `data` becomes the run's output."""

    data: RunEndT
    """Data to return from the graph."""


@dataclass(frozen=True)
class Edge:
    """Annotation that labels an edge: `Annotated[NextNode, Edge(label="why")]`.

    Unlike pydantic_graph 0.0.39's, this `Edge` is hashable, so return unions
    holding several labelled edges build on every Python version.
    """

    label: str | None
    """Label for the edge."""


@dataclass
class NodeDef(Generic[StateT, DepsT, NodeRunEndT]):
    """A node as the graph sees it: its class, id, note and outgoing edges."""

    node: type[BaseNode[StateT, DepsT, NodeRunEndT]]
    """The node class."""
    node_id: str
    """ID of the node."""
    note: str | None
    """Note rendered beside the node in mermaid diagrams."""
    next_node_edges: dict[str, Edge]
    """IDs of the nodes that can run next, with their edge labels."""
    end_edge: Edge | None
    """The edge to the end of the run, if the node can return `End`."""
    returns_base_node: bool
    """Whether `run` is annotated as returning any `BaseNode`."""
    forks: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """Edges that fork, by the node id (or `End`) they join at: the sub-graphs (`SubGraph`) run first."""


def waits_note(fields: tuple[str, ...] | list[str], sleep: str | None = None) -> str | None:
    """The lines a diagram adds to the note of a node that sleeps (`sleep`: `1d`, `until ...`) or waits."""
    lines = [f"sleeps {sleep}"] if sleep else []
    lines += [f"waits for: {', '.join(fields)}"] if fields else []
    return "\n".join(lines) or None


def waited_types(cls: type[BaseNode[Any, Any, Any]]) -> dict[str, Any]:
    """The declared type of each field `cls` waits for, resolved in the class's module."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {name: hints.get(name, Any) for name in cls.waits_for}


def optional_waits(cls: type[BaseNode[Any, Any, Any]]) -> set[str]:
    """The waited-for fields whose type admits None (`str | None`): an answer may leave them out."""
    import pydantic

    optional = set()
    for name, adapter in _wait_adapters(cls).items():
        try:
            adapter.validate_python(None)
        except pydantic.ValidationError:
            continue
        optional.add(name)
    return optional


_adapters: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _wait_adapters(cls: type[BaseNode[Any, Any, Any]]) -> dict[str, Any]:
    """A pydantic `TypeAdapter` per waited-for field of `cls`, built once per class (a tenth of a resume)."""
    adapters = _adapters.get(cls)
    if adapters is None:
        import pydantic

        adapters = _adapters[cls] = {name: pydantic.TypeAdapter(tp) for name, tp in waited_types(cls).items()}
    return adapters


def validate_waits(
    cls: type[BaseNode[Any, Any, Any]], values: dict[str, Any], *, partial: bool = False, strict: bool = True
) -> dict[str, Any]:
    """`values` (JSON-like) validated against the types of the fields `cls` waits for.

    Strictly by default, as the JSON Schema `waits_schema` publishes them: `"yes"` is no `bool`,
    `"1"` no `int`. A field whose type admits `None` (`str | None`) is optional and is None when
    left out.

    Args:
        cls: The node class.
        values: A value for each waited-for field (`partial`: for some of them).
        partial: Whether fields may be left out.
        strict: False for answers a person types (`no` for a `bool`), as `graphc run` asks them.

    Raises:
        ValueError: naming each field that is missing, unknown or of the wrong type.
    """
    import json

    import pydantic

    adapters = _wait_adapters(cls)  # by waited-for field: the types' hints are read again only for an error
    optional = optional_waits(cls)
    problems = [f"`{name}` is not a field `{cls.get_id()}` waits for" for name in values if name not in adapters]
    problems += [
        f"`{name}` is missing" for name in adapters if name not in values and name not in optional and not partial
    ]
    validated: dict[str, Any] = {} if partial else {name: None for name in optional if name not in values}
    for name, value in values.items():
        if (adapter := adapters.get(name)) is not None:
            try:
                text = json.dumps(value)
            except (TypeError, ValueError):  # not JSON-like (set from Python): validated as it is
                text = None
            try:
                validated[name] = (
                    adapter.validate_json(text, strict=strict)
                    if text is not None
                    else adapter.validate_python(value, strict=strict)
                )
            except pydantic.ValidationError as e:
                details = "; ".join(_located(err["loc"], err["msg"]) for err in e.errors())
                problems.append(f"`{name}`: {details}")
    if problems:
        expected = ", ".join(f"{name}: {type_name(t)}" for name, t in waited_types(cls).items())
        raise ValueError(f"bad input for `{cls.get_id()}` ({expected}): " + "; ".join(problems))
    return validated


def _located(loc: tuple[int | str, ...], message: str) -> str:
    return f"{'.'.join(map(str, loc))}: {message}" if loc else message


def supply_waits(node: BaseNode[Any, Any, Any], values: dict[str, Any]) -> None:
    """Set the fields `node` waits for from `values`, validated (see `validate_waits`); unchanged on error."""
    for name, value in validate_waits(type(node), values).items():
        setattr(node, name, value)


def type_name(tp: Any) -> str:
    """A type as a person writes it: `bool`, `list[str]`."""
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def unset_waits(node: BaseNode[Any, Any, Any]) -> list[str]:
    """The waited-for fields of `node` that nothing has set yet."""
    return [name for name in node.waits_for if getattr(node, name, WAITING) is WAITING]
