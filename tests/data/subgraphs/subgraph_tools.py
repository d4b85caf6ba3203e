"""What tests/test_subgraphs.py's specs call: work that takes a while, counting how many go at once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

RUNNING = 0
MOST_AT_ONCE = 0
FINISHED: list[int] = []
CANCELLED = 0


def reset() -> None:
    global RUNNING, MOST_AT_ONCE, CANCELLED
    RUNNING = MOST_AT_ONCE = CANCELLED = 0
    FINISHED.clear()


async def work(n: int, delay: float) -> int:
    """`n * 10` after `delay` seconds; a negative `n` raises."""
    global RUNNING, MOST_AT_ONCE, CANCELLED
    RUNNING += 1
    MOST_AT_ONCE = max(MOST_AT_ONCE, RUNNING)
    try:
        await asyncio.sleep(delay)
    except asyncio.CancelledError:
        CANCELLED += 1
        raise
    finally:
        RUNNING -= 1
    if n < 0:
        raise ValueError("no negative items")
    FINISHED.append(n)
    return n * 10


@dataclass
class Settings:
    """Deps a parent and its sub-graph share."""

    prefix: str = "own-"


async def note_item(n: int) -> int:
    """Append `n` to the file `$SUBGRAPH_LOG` (one line per execution), wait `$SUBGRAPH_DELAY` s, give `n * n`."""
    import os

    with open(os.environ["SUBGRAPH_LOG"], "a") as log:
        log.write(f"{n}\n")
    await asyncio.sleep(float(os.environ.get("SUBGRAPH_DELAY", "0.05")))
    if n < 0:
        raise ValueError(f"item {n} is negative")
    return n * n
