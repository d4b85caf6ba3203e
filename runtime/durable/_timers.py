"""Waking parked runs on time: a sleep's end, a wait's deadline; and the thread workers run it on.

A run that sleeps or waits with a deadline writes its timer (`graphc_timers`) the first time
it gets there and parks, holding no thread. When the timer is due, whoever fires it claims
the park in `graphc_answers` (`wake` or `deadline`): the claim is atomic, so an answer and a
deadline arriving together, or two processes firing one timer, decide once. The winner
puts the run back on its queue; DBOS fences off any execution a duplicate resume displaced.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from .. import clock
from ._common import WAITING_QUEUE
from ._store import _Store

CLAIM_OF = {"sleep": "wake", "deadline": "deadline"}
"""What a timer of each kind claims its park with."""

POLL_SECONDS = 0.25
"""How often a worker looks for timers due and schedules to tick (real seconds)."""


def fire(store: _Store, client: Any, run_id: str, ordinal: int, kind: str, queue_name: str) -> bool:
    """Fire a due timer: claim its park and put the run back on `queue_name` if it is parked there.

    Returns whether the timer took the park (an answer or a cancel may have come first). A run
    still on its way into the park (it has not parked yet) sees the claim itself and goes on.
    """
    store.claim(run_id, ordinal, CLAIM_OF[kind])
    taken = store.answer(run_id, ordinal)
    won = taken is not None and taken[0] == CLAIM_OF[kind]
    if won:
        found = client.list_workflows(workflow_ids=[run_id], load_input=False, load_output=False)
        if found and found[0].status == "ENQUEUED" and found[0].queue_name == WAITING_QUEUE:
            client.resume_workflow(run_id, queue_name=queue_name)
    store.timer_done(run_id, ordinal)
    return won


class Timekeeper:
    """A worker's thread: fires the submitted runs' due timers and ticks the schedules, every `POLL_SECONDS`."""

    def __init__(self, url: str, client: Any, queue_name: str, tick: Callable[[float], object]) -> None:
        self.store, self.client, self.queue_name, self.tick = _Store(url), client, queue_name, tick
        self.stopped = threading.Event()
        self.failures = 0
        self.thread = threading.Thread(target=self._loop, name="graphc-timekeeper", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stopped.wait(POLL_SECONDS):
            try:
                self.once()
                self.failures = 0
            except Exception:  # the database is away for a moment: the timers are still there after it
                self.failures += 1

    def once(self) -> None:
        """One look: every due timer fired, every schedule ticked."""
        now = clock.current().now().timestamp()
        for run_id, ordinal, kind in self.store.due_timers(now):
            fire(self.store, self.client, run_id, ordinal, kind, self.queue_name)
        self.tick(now)

    def stop(self) -> None:
        """Stop looking (a worker stopping)."""
        self.stopped.set()
        self.thread.join(timeout=5)
