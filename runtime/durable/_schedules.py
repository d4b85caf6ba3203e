"""Schedules: runs of a stored spec that workers start on every tick of a cron expression or an interval.

Every worker ticks every schedule (`Timekeeper`); a tick's run has an id made of the
schedule's name and the tick's time (`nightly@2030-01-01T03:00:00Z`), and DBOS keeps one
workflow per id, so however many workers see a tick, one run starts. A tick missed while no
worker was up (found more than `GRACE_SECONDS` late) is, as the schedule says: `skip`ped,
run `once` for all those missed, or run for `all` of them (oldest first, at most
`CATCH_UP_LIMIT` a look).
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dsl.timing import cron_after

from ._common import _SPEC_KEY, _WORKFLOW, DEFAULT_MAX_STEPS, RUNS_QUEUE, DurableError, worker_version
from ._store import _Store

GRACE_SECONDS = 60.0
"""A tick found later than this after its time was missed (no worker was up, or the schedule was paused)."""

CATCH_UP_LIMIT = 1000
"""The most missed ticks `missed all` starts in one look; the rest follow in the next."""


@dataclass
class Schedule:
    """A schedule as `graphc schedules list` shows it."""

    name: str
    graph: str
    spec: str
    every: float | None
    cron: str | None
    missed: str
    paused: bool
    next_tick: datetime
    started: int
    """Runs it has started."""
    last_run: str | None

    @property
    def when(self) -> str:
        """`every 1h` or `cron "0 3 * * *"`."""
        from dsl.timing import duration_text

        return f"every {duration_text(self.every or 0)}" if self.cron is None else f'cron "{self.cron}"'

    def as_json(self) -> dict[str, Any]:
        """The schedule as `--format json` prints it."""
        return {**self.__dict__, "next_tick": self.next_tick.isoformat(), "when": self.when}


def run_id_for(name: str, tick: float) -> str:
    """The id of the run a schedule starts at `tick`: the same in every worker."""
    moment = datetime.fromtimestamp(tick, timezone.utc)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{name}@{moment.strftime('%Y-%m-%dT%H:%M:%S')}{fraction}Z"


def next_tick(every: float | None, cron: str | None, after: float) -> float:
    """The first tick strictly after `after`."""
    if cron is None:
        assert every
        return after + every
    return cron_after(cron, after)


def due_ticks(
    every: float | None, cron: str | None, missed: str, first: float, now: float
) -> tuple[list[float], float]:
    """The ticks to start runs for, from the first due one (`first`) up to `now`, and the next tick after them."""
    ticks: list[float] = []
    tick = first
    if cron is None and every and missed != "all":  # straight to the latest: it may have ticked a million times
        tick = first + ((now - first) // every) * every
    while tick <= now and len(ticks) < (CATCH_UP_LIMIT if missed == "all" else 100_000):
        ticks.append(tick)
        tick = next_tick(every, cron, tick)
    if missed == "all":
        return ticks, tick
    latest = ticks[-1:]
    if missed == "skip" and latest and now - latest[0] > GRACE_SECONDS:
        latest = []
    return latest, tick


class Schedules:
    """The schedules in one run database."""

    def __init__(self, url: str) -> None:
        self.store = _Store(url)

    def add(
        self,
        name: str,
        *,
        digest: str,
        graph: str,
        spec: str,
        start: dict[str, Any],
        state: Any,
        every: float | None,
        cron: str | None,
        missed: str,
        now: float,
        replace: bool = False,
    ) -> Schedule:
        """Store a schedule, first ticking after `now`; DurableError if the name is taken (unless `replace`)."""
        if not name or any(c.isspace() or c == "@" for c in name) or not name.isprintable() or len(name) > 100:
            raise DurableError(f"a schedule's name is 1 to 100 printable characters, no spaces or `@`: {name!r}")
        row = {
            "n": name,
            "d": digest,
            "g": graph,
            "s": spec,
            "st": json.dumps(start),
            "state": json.dumps(state),
            "e": every,
            "c": cron,
            "m": missed,
            "t": next_tick(every, cron, now),
        }
        if replace:
            self.store._execute("DELETE FROM graphc_schedules WHERE name = :n", {"n": name})
        added = self.store._execute(
            "INSERT INTO graphc_schedules (name, digest, graph, spec, start, state, every, cron, missed, next_tick) "
            "VALUES (:n, :d, :g, :s, :st, :state, :e, :c, :m, :t) ON CONFLICT DO NOTHING",
            row,
        )
        if added.rowcount != 1:
            raise DurableError(f"a schedule named `{name}` exists already: delete it first, or pass --replace")
        return self.get(name)

    def list(self) -> builtins.list[Schedule]:
        """Every schedule, by name."""
        rows = self.store._execute(f"SELECT {_COLUMNS} FROM graphc_schedules ORDER BY name", {})
        return [_schedule(row) for row in rows]

    def get(self, name: str) -> Schedule:
        """One schedule; DurableError if there is none by that name."""
        row = self.store._execute(f"SELECT {_COLUMNS} FROM graphc_schedules WHERE name = :n", {"n": name}).fetchone()
        if row is None:
            known = ", ".join(s.name for s in self.list()[:8]) or "none"
            raise DurableError(f"no schedule `{name}` (schedules: {known})")
        return _schedule(row)

    def set_paused(self, name: str, paused: bool) -> Schedule:
        """Pause a schedule (no run starts), or resume it (ticks missed meanwhile go as its `missed` says)."""
        self.get(name)
        self.store._execute("UPDATE graphc_schedules SET paused = :p WHERE name = :n", {"p": int(paused), "n": name})
        return self.get(name)

    def delete(self, name: str) -> None:
        """Remove a schedule; runs it started stay."""
        self.get(name)
        self.store._execute("DELETE FROM graphc_schedules WHERE name = :n", {"n": name})

    def tick(self, client: Any, now: float) -> builtins.list[str]:
        """Start the runs due by `now` (a worker calls this every look); returns the run ids it enqueued."""
        rows = self.store._execute(
            "SELECT name, digest, graph, spec, start, state, every, cron, missed, next_tick FROM graphc_schedules "
            "WHERE paused = 0 AND next_tick <= :t",
            {"t": now},
        ).fetchall()
        started = []
        for name, digest, graph, spec, start, state, every, cron, missed, first in rows:
            ticks, following = due_ticks(every, cron, missed, first, now)
            for tick in ticks:
                run_id = run_id_for(name, tick)
                _enqueue(client, run_id, digest, json.loads(start), json.loads(state), graph, spec, name)
                started.append(run_id)
            self.store._execute(  # only if no other worker moved it on meanwhile (their runs have the same ids)
                "UPDATE graphc_schedules SET next_tick = :f, started = started + :k, last_run = COALESCE(:l, last_run) "
                "WHERE name = :n AND next_tick = :t",
                {"f": following, "k": len(ticks), "l": started[-1] if ticks else None, "n": name, "t": first},
            )
        return started


_COLUMNS = "name, graph, spec, every, cron, missed, paused, next_tick, started, last_run"


def _schedule(row: Any) -> Schedule:
    name, graph, spec, every, cron, missed, paused, tick, started, last_run = row
    return Schedule(
        name=name,
        graph=graph,
        spec=spec,
        every=every,
        cron=cron,
        missed=missed,
        paused=bool(paused),
        next_tick=datetime.fromtimestamp(tick, timezone.utc),
        started=started,
        last_run=last_run,
    )


def _enqueue(client: Any, run_id: str, digest: str, start: Any, state: Any, graph: str, spec: str, name: str) -> None:
    """Queue a tick's run for the workers; a run with that id already (another worker's) is left as it is."""
    attributes = {"graphc_graph": graph, "graphc_spec": spec, "graphc_queued": True, "graphc_schedule": name}
    client.enqueue(
        {
            "queue_name": RUNS_QUEUE,
            "workflow_name": _WORKFLOW,
            "workflow_id": run_id,
            "workflow_id_reuse_policy": "return-existing",
            "app_version": worker_version(),
            "attributes": attributes,
        },
        _SPEC_KEY + digest,
        start,
        state,
        DEFAULT_MAX_STEPS,
    )
