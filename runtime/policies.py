"""Helpers for node policies (`retry`, `timeout`) and error branches in compiled specs.

Generated nodes spell their retry loop and `try`/`except` out; these four small
functions are what that code calls. Each imports what it needs inside itself, so
modules compiled for pydantic_graph can carry a copy of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ("backoff_delay", "keep_state", "restore_state", "retrying", "with_timeout")

_Value = TypeVar("_Value")


def keep_state(state: _Value) -> _Value:
    """A deep copy of the state as a node starts, to undo what a failed attempt changed."""
    import copy

    return copy.deepcopy(state)


def restore_state(state: object, kept: object) -> None:
    """Put `kept`'s field values back into `state` in place (the run holds `state` itself)."""
    import copy
    import dataclasses

    if state is None or kept is None:
        return
    names = [f.name for f in dataclasses.fields(kept)] if dataclasses.is_dataclass(kept) else list(vars(kept))
    for name in names:
        object.__setattr__(state, name, copy.deepcopy(getattr(kept, name)))


async def with_timeout(work: Coroutine[Any, Any, _Value], seconds: float) -> _Value:
    """Await `work` for at most `seconds`; on expiry raise the builtin `TimeoutError` (on every Python)."""
    import asyncio

    try:
        return await asyncio.wait_for(work, seconds)
    except asyncio.TimeoutError:  # a distinct class before Python 3.11
        raise TimeoutError(f"the node took longer than its timeout of {seconds:g} s") from None


def backoff_delay(attempt: int, base: float, cap: float | None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): exponential, capped, with jitter."""
    import random

    delay: float = base * 2.0 ** (attempt - 1)
    if cap is not None:
        delay = min(delay, cap)
    return delay * random.uniform(0.5, 1.0)  # jitter: attempts of many runs do not stay in step


def retrying(node: Any, attempt: int, error: BaseException) -> None:
    """Attempt `attempt` of `node` failed with `error` and another follows: the observers hear of it.

    Traces record it, `graphc run` prints it, and the node's step in the history keeps it
    (`NodeStep.retries`). Only modules compiled for graphc's runtime call it.
    """
    from .observe import observers
    from .state import FailedAttempt

    failed = FailedAttempt(attempt, type(error).__name__, str(error))
    with contextlib.suppress(AttributeError):  # a node class with `__slots__` keeps none
        node.failed_attempts = [*(node.failed_attempts or [])[: attempt - 1], failed]

    for observer in observers:
        observer.retry(node, attempt, error)
