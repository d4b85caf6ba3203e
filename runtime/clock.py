"""The time a run reads: the system's, or one a test moves by hand (`ManualClock`) or through a file.

Sleeps, the deadlines of waits and schedules all read `current()`, so a 48-hour deadline
is tested in milliseconds. `GRAPHC_CLOCK_FILE` names a file holding the time (seconds
since the epoch) for every process that reads it: tests that start workers move their clock
by writing it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

__all__ = ("Clock", "FileClock", "ManualClock", "SystemClock", "current", "use_clock")


class Clock(Protocol):
    """What the runtime asks of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once `now()` has reached `when`."""
        ...


class SystemClock:
    """The computer's clock."""

    def now(self) -> datetime:
        """The system's time, in UTC."""
        return datetime.now(timezone.utc)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the system's time reaches `when`."""
        while (left := (when - self.now()).total_seconds()) > 0:  # in steps: the wall clock may jump
            await asyncio.sleep(min(left, 60.0))


class _PollingClock:
    """A clock whose time moves from outside: sleeping polls it in real time."""

    poll_seconds = 0.01

    def now(self) -> datetime:
        """The current time of this clock."""
        raise NotImplementedError

    async def sleep_until(self, when: datetime) -> None:
        """Return once the clock reads `when` or later, looking every `poll_seconds` of real time."""
        while self.now() < when:
            await asyncio.sleep(self.poll_seconds)


class ManualClock(_PollingClock):
    """A clock that moves only when told (`advance`, `set`): for tests, in one process."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2030, 1, 1, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The time it was last moved to."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the time on by `seconds`; returns the new time."""
        with self._lock:
            self._now = datetime.fromtimestamp(self._now.timestamp() + seconds, timezone.utc)
            return self._now

    def set(self, when: datetime) -> None:
        """Move the time to `when`."""
        with self._lock:
            self._now = when


class FileClock(_PollingClock):
    """The time written in a file (seconds since the epoch), read afresh each time: one clock for many processes."""

    poll_seconds = 0.02

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        """The time the file holds now."""
        for _ in range(50):  # a writer replacing the file may leave it empty for a moment
            text = self.path.read_text().strip() if self.path.exists() else ""
            if text:
                return datetime.fromtimestamp(float(text), timezone.utc)
            time.sleep(0.001)
        raise RuntimeError(f"the clock file {self.path} holds no time")

    def set(self, when: datetime | float) -> None:
        """Write the time (atomically: a reader never sees half of it)."""
        seconds = when.timestamp() if isinstance(when, datetime) else when
        temporary = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        temporary.write_text(repr(seconds))
        os.replace(temporary, self.path)


_clock: Clock | None = None


def current() -> Clock:
    """The clock in use: the one `use_clock` set, else `$GRAPHC_CLOCK_FILE`'s, else the system's."""
    global _clock
    if _clock is None:
        path = os.environ.get("GRAPHC_CLOCK_FILE")
        _clock = FileClock(path) if path else SystemClock()
    return _clock


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Make `clock` the one every run in this process reads (threads too), until the block ends."""
    global _clock
    before = _clock
    _clock = clock
    try:
        yield clock
    finally:
        _clock = before
