"""A scripted, flaky model for tests/data/policies/triage.graph."""

from __future__ import annotations

import asyncio


class ModelBusy(Exception):
    """Worth another attempt."""


class ModelError(Exception):
    """Not worth another one."""


SCRIPT: list[str] = []
"""What the next calls do: `busy`, `error`, `slow`, or anything else to answer."""
CALLS: list[str] = []


async def classify(text: str) -> str:
    step = SCRIPT.pop(0) if SCRIPT else "ok"
    CALLS.append(step)
    if step == "busy":
        raise ModelBusy("the model is busy")
    if step == "error":
        raise ModelError("the model is broken")
    if step == "slow":
        await asyncio.sleep(10)
    return "refund" if "refund" in text else "question"
