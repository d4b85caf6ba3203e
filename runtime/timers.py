"""Time in a node: a deadline on what it waits for, a sleep before it runs.

A compiled node declares them as class attributes (`answer_deadline`, `sleep_policy`).
In a plain run (`Graph.run`, `iter`) a sleep is an `asyncio` sleep on the clock
(`runtime.clock`), and a wait nobody can answer lasts until its deadline, when the run
takes the deadline's edge; `answer_within` gives a run driven with `iter` an answer that
may come in time, or not. A durable run parks instead, holding no thread, and the run
database's timers wake it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from . import clock

if TYPE_CHECKING:
    from .graph import GraphRun
    from .nodes import BaseNode, End

__all__ = ("Deadline", "Sleep", "answer_within", "due_time")


@dataclass(frozen=True)
class Deadline:
    """How long a node waits for its answer; its `run` takes the deadline's edge when the answer never came."""

    seconds: float
    text: str
    """As the spec writes it: `48h`."""


@dataclass(frozen=True)
class Sleep:
    """How long a run sleeps before the node runs: `seconds`, or until the node's `sleep_until(ctx)`."""

    seconds: float | None
    text: str
    """As the spec writes it: `30m`, `until state.due`."""


def due_time(node: BaseNode[Any, Any, Any], ctx: Any, now: datetime) -> datetime:
    """When a node that sleeps may run, if it is reached at `now` (aware, UTC)."""
    policy = node.sleep_policy
    assert policy is not None
    if policy.seconds is not None:
        return now + timedelta(seconds=policy.seconds)
    when = node.sleep_until(ctx)
    if not isinstance(when, datetime):
        raise TypeError(f"`sleep {policy.text}` of `{node.get_id()}` gave {type(when).__name__}, not a datetime")
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)  # naive: taken as UTC


async def answer_within(
    run: GraphRun[Any, Any, Any], answer: Awaitable[Mapping[str, Any]]
) -> BaseNode[Any, Any, Any] | End[Any]:
    """Run the waiting `run.next_node` with `answer` if it comes before the node's deadline, else take the deadline.

    The deadline counts from this call, on the clock in use (`runtime.clock`). Returns what
    `run.next` returns. The answer is validated as a durable run validates it.
    """
    from .nodes import BaseNode, supply_waits

    node = run.next_node
    if not isinstance(node, BaseNode) or node.answer_deadline is None:
        raise ValueError("answer_within needs a run waiting at a node with a deadline (`waits (...) within ...`)")
    expiry = clock.current().now() + timedelta(seconds=node.answer_deadline.seconds)
    answered = asyncio.ensure_future(answer)
    timer = asyncio.ensure_future(clock.current().sleep_until(expiry))
    try:
        await asyncio.wait((answered, timer), return_when=asyncio.FIRST_COMPLETED)
    finally:
        timer.cancel()
    if answered.done():
        supply_waits(node, dict(answered.result()))
        return await run.next(node)
    answered.cancel()
    return await run._advance(node, timers=False)  # the deadline has passed: the node takes its edge at once
