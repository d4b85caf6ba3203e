"""Resource limits for untrusted specs: each exceeded limit is a diagnostic, never a crash."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .record import Record, record

__all__ = ("DEFAULT_LIMITS", "Limits", "active_limits", "limits_in_force")


@record
class Limits(Record):
    """How large a spec may be. Exceeding one gives error E009 (bytes), E016 (depth) or E017 (nodes)."""

    max_bytes: int = 10 * 1024 * 1024 + 1024
    """Largest spec file, in bytes (a little over 10 MiB)."""
    max_depth: int = 100
    """Deepest nesting of one expression."""
    max_nodes: int = 100_000
    """Most nodes in one graph."""


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
