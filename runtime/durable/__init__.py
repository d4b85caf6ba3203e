"""Durable runs: a graph run as a DBOS workflow, each node one recorded step (`pip install 'graphc[durable]'`).

The only module of graphc that imports DBOS. A run's id is its workflow id; each node's
`run` is one DBOS step whose recorded output is the history step it adds, the state after
it and the next node — plain JSON (DBOS's portable serializer, not pickle), so a stored
run is readable and loads back typed. A killed process loses at most the node it was in:
a resumed run replays the recorded steps without running them and goes on from the state
after the last one (at-least-once for a node interrupted mid-way).

Two ways to run:
- In this process (`DurableRuns.start` / `resume`): the run is pinned to its graph's
  version (DBOS's `application_version`: the generated module's digest and graphc's
  version), so changed code never replays an old run's steps.
- On workers (`DurableRuns.submit` / `serve`): the spec's source is stored with the run
  (content-addressed, once per distinct spec) and the run goes on DBOS's queue
  `graphc-runs`; any worker of this graphc version compiles the stored spec (through a
  loader the caller gives, so this module needs no compiler) and runs it. A worker
  restarted with the same executor id recovers what it held (DBOS's own recovery).

A node that waits for outside input (`waits (...)`) parks the run: its workflow records
what it waits for, moves the run to the queue `graphc-waiting` that nobody dequeues from
and returns its thread — nothing is held in memory, no worker slot is taken. `resume`
with input validates it against the declared types,
claims that wait (`graphc_answers`: one answer per wait) and puts the run back on a queue,
where the replay reads the answer and goes on.

A node that sleeps, or a wait with a deadline, parks the same way and writes a timer
(`graphc_timers`); whoever fires it claims the park as an answer would (`_timers`): the
process that drives the run, or for submitted runs the workers, which also start the runs
of schedules (`_schedules`).

A transition that runs sub-graphs forks: see `_forks` (each run recorded once as it ends,
here or, for submitted runs, as workflows of their own that spread over the workers).

The package: `_common` (names, settings, errors), `_store` (graphc's tables), `_engine`
(DBOS in this process), `_workflow` (the run as a workflow), `_forks` (its forks),
`_timers` and `_schedules` (time), `_runs` (`DurableRuns`).
"""

from ._common import (
    DEFAULT_DB_FILE,
    DEFAULT_MAX_STEPS,
    MAX_RUN_ID,
    OUTAGE_SECONDS,
    STATUSES,
    DatabaseUnavailable,
    DurableError,
    SpecLoader,
    database_url,
    graph_version,
    spec_digest,
)
from ._runs import DurableRuns, RunInfo
from ._schedules import Schedule
from ._store import database_engine
from ._workflow import waits_schema

__all__ = (
    "DEFAULT_DB_FILE",
    "DEFAULT_MAX_STEPS",
    "MAX_RUN_ID",
    "OUTAGE_SECONDS",
    "STATUSES",
    "DatabaseUnavailable",
    "DurableError",
    "DurableRuns",
    "RunInfo",
    "Schedule",
    "SpecLoader",
    "database_engine",
    "database_url",
    "graph_version",
    "spec_digest",
    "waits_schema",
)
