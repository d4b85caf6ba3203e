"""Resource limits for untrusted specs: each exceeded limit is a diagnostic, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ("DEFAULT_LIMITS", "Limits", "active_limits", "limits_in_force")


class Limits:
    """How large a spec may be. Exceeding one gives error E009 (bytes), E016 (depth) or E017 (nodes).

    Immutable. A plain class, not a dataclass: `graphc --help` imports it, and `dataclasses`
    (with `inspect`) would cost more than the rest of the help.
    """

    __slots__ = ("max_bytes", "max_depth", "max_nodes")

    max_bytes: int
    """Largest spec file, in bytes (a little over 10 MiB)."""
    max_depth: int
    """Deepest nesting of one expression."""
    max_nodes: int
    """Most nodes in one graph."""

    def __init__(
        self, max_bytes: int = 10 * 1024 * 1024 + 1024, max_depth: int = 100, max_nodes: int = 100_000
    ) -> None:
        for name, value in (("max_bytes", max_bytes), ("max_depth", max_depth), ("max_nodes", max_nodes)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Limits are immutable: make new ones, e.g. Limits(max_depth=50)")

    def _values(self) -> tuple[int, int, int]:
        return (self.max_bytes, self.max_depth, self.max_nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Limits(max_bytes={self.max_bytes}, max_depth={self.max_depth}, max_nodes={self.max_nodes})"


DEFAULT_LIMITS = Limits()
_current: ContextVar[Limits] = ContextVar("graphc_limits", default=DEFAULT_LIMITS)


def active_limits() -> Limits:
    """The limits of the parse under way (per thread and task)."""
    return _current.get()


@contextmanager
def limits_in_force(limits: Limits) -> Iterator[None]:
    """Apply `limits` to everything parsed inside the `with` block."""
    token = _current.set(limits)
    try:
        yield
    finally:
        _current.reset(token)
