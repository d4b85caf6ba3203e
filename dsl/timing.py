"""Time as specs write it: durations (`30s`, `15m`, `48h`, `7d`, `2w`, `1h30m`, `250ms`) and cron expressions."""

from __future__ import annotations

import re

__all__ = ("DURATION", "UNITS", "cron_after", "cron_problem", "duration_seconds", "duration_text")

UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
"""Each unit a duration may use, in seconds."""

_PART = r"\d+(?:\.\d+)?(?:ms|s|m|h|d|w)"
DURATION = re.compile(rf"(?:{_PART})+")
"""A whole duration: one or more number-and-unit parts, largest first by convention."""
_PARTS = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def duration_seconds(text: str) -> float | None:
    """The seconds `text` stands for, or None if it is not a duration."""
    if not DURATION.fullmatch(text):
        return None
    return sum(float(number) * UNITS[unit] for number, unit in _PARTS.findall(text))


def duration_text(seconds: float) -> str:
    """A duration in the spec's words, largest units first: `172800` → `2d`, `5400` → `1h30m`."""
    if seconds < 1:
        return f"{round(seconds * 1000):d}ms"
    parts = []
    rest = seconds
    for unit in ("w", "d", "h", "m"):
        count, rest = divmod(rest, UNITS[unit])
        if count:
            parts.append(f"{int(count)}{unit}")
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


def cron_problem(expression: str) -> str | None:
    """What is wrong with a cron expression (5 fields, or 6 with seconds first), or None.

    croniter (which the `durable` extra installs, and which reads the schedules) decides
    when it is installed; without it, only the number of fields is checked.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        return f"`{expression}` has {len(fields)} fields; a cron expression has 5 (minute hour day month weekday)"
    try:
        from croniter import croniter
    except ImportError:  # pragma: no cover - the durable extra is installed wherever schedules run
        return None
    try:
        croniter(expression, second_at_beginning=True)
    except (ValueError, KeyError) as e:
        return str(e) or type(e).__name__
    return None


def cron_after(expression: str, after: float) -> float:
    """The first time (epoch seconds, UTC) strictly after `after` that a cron expression names (needs croniter)."""
    from datetime import datetime, timezone

    from croniter import croniter

    following: float = croniter(
        expression, datetime.fromtimestamp(after, timezone.utc), second_at_beginning=True
    ).get_next(float)
    return following
