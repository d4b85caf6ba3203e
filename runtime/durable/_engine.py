"""DBOS in this process: launched once per database and version, and stopped."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dbos import (
    DBOS,
    DBOSClient,
    PortableWorkflowError,
)
from dbos._dbos import _get_dbos_instance

from ._common import (
    _LOG_LEVEL,
    _SERIALIZER,
    ITEMS_QUEUE,
    RUNS_QUEUE,
    DurableError,
    SpecLoader,
    _reason,
    _shown,
    _sqlite_engine,
    _sqlite_file_problem,
)
from ._statements import install as install_statements


class _DatabaseAway(logging.Handler):
    """Passes DBOS's "database connection failed, retrying" warnings to the engine's `report`, one each 10 s."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        engine = _engine
        message = record.getMessage()
        if engine is None or engine.report is None or not message.startswith("Database connection failed"):
            return
        if time.monotonic() - self.said >= 10:
            self.said = time.monotonic()
            reason = message.removeprefix("Database connection failed: ").split("\n")[0]
            engine.report(f"the run database {_shown(engine.url)} cannot be reached ({reason}); DBOS retries")


logging.getLogger("dbos").addHandler(_DatabaseAway())


@dataclass
class _Engine:
    url: str
    version: str
    executor_id: str
    queue_name: str
    """Where this process takes runs from: its own queue, or `RUNS_QUEUE` for a worker."""
    client: DBOSClient
    """For what a workflow must do without recording it as a step (parking)."""
    load_spec: SpecLoader | None = None
    report: Callable[[str], None] | None = None
    """Where a worker says what went wrong with a run that its operator must hear of (a spec that does not compile)."""
    sqlite: Any = None
    """The SQLite engine given to DBOS, disposed when DBOS stops (DBOS disposes only engines it made)."""
    users: set[int] = field(default_factory=set)
    """The `DurableRuns` (by id) that use it: one closing does not stop it under another."""

    def attributes(self, run_id: str) -> dict[str, Any]:
        """The run's graphc attributes, read outside any workflow's record."""
        found = self.client.list_workflows(workflow_ids=[run_id], load_input=False, load_output=False)
        return (found[0].attributes or {}) if found else {}

    def home_queue(self, run_id: str) -> str:
        return RUNS_QUEUE if self.attributes(run_id).get("graphc_queued") else self.queue_name


_signals: dict[str, queue.Queue[tuple[str, int]]] = {}
"""Per run started or resumed from this process: where its workflow says it parked at a wait or finished."""
_engine: _Engine | None = None


_engine_lock = threading.Lock()


def _launch(
    url: str,
    version: str,
    *,
    executor_id: str | None = None,
    worker_concurrency: int | None = None,
    global_concurrency: int | None = None,
    load_spec: SpecLoader | None = None,
    report: Callable[[str], None] | None = None,
    user: int = 0,
) -> _Engine:
    """DBOS configured for this database and version, launched once per process (relaunched on change).

    A process that runs graphs itself gets an executor id and a queue of its own: DBOS then
    recovers nothing behind the user's back at launch, and a run resumed here runs here. A
    worker (`executor_id` given) takes runs from `RUNS_QUEUE` and, at launch, recovers the
    runs its executor id held when it died.
    """
    global _engine
    with _engine_lock:
        engine = _engine
        if engine is not None and (engine.url, engine.version) == (url, version) and executor_id is None:
            engine.users.add(user)
            return engine
        if engine is not None and (_signals or engine.load_spec is not None):
            # DBOS runs one database and version per process: relaunching would pull runs in flight from under them
            serving = "serves as worker " + engine.executor_id if engine.load_spec is not None else "drives runs"
            raise DurableError(
                f"this process already {serving} on {_shown(engine.url)} (version {engine.version}); DBOS runs "
                "one database and graph version per process: wait for those runs, or use another process"
            )
        if (stopped := _stop_engine()) is not None:
            stopped.client.destroy()
        if (problem := _sqlite_file_problem(url, create=True)) is not None:
            raise DurableError(f"cannot open the run database: {problem}")
        worker = executor_id is not None
        executor_id = executor_id or f"graphc-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        queue_name = RUNS_QUEUE if worker else f"graphc-local-{executor_id}"
        sqlite = _sqlite_engine(url) if url.startswith("sqlite:") else None  # ours to dispose: DBOS does not
        DBOS(
            config={
                "name": "graphc",
                "system_database_url": url,
                "system_database_engine": sqlite,
                "application_version": version,
                "executor_id": executor_id,
                "serializer": _SERIALIZER,
                "log_level": "WARNING",  # for `_DatabaseAway`; the console gets `_LOG_LEVEL`
                "console_log_level": _LOG_LEVEL,
                "notification_listener_polling_interval_sec": 0.05,
                # PostgreSQL: no "SELECT 1" before each use of a pooled connection, a round trip of the ~10 a
                # step makes (+8-14% steps/s); a connection the server dropped fails its statement instead,
                # SQLAlchemy discards the pool, and DBOS retries the write on a new connection
                "db_engine_kwargs": {"pool_pre_ping": False},
            }
        )
        queues: dict[str, dict[str, Any]] = {
            queue_name: {
                # a worker takes at most its free slots a look: runs of tens of ms waited for the next one
                # (0.1 s capped a worker at --concurrency 2 to 20 short runs/s); idle, a look is one small transaction
                "polling_interval_sec": 0.05,
                "worker_concurrency": worker_concurrency,
                "global_concurrency": global_concurrency,
            }
        }
        if worker:  # sub-graph runs: unbounded here, so a run waiting on its items never holds their slots
            queues[ITEMS_QUEUE] = {"polling_interval_sec": 0.05}
        try:
            DBOS.listen_queues(list(queues))
            client = DBOSClient(system_database_url=url, serializer=_SERIALIZER, application_name="graphc")
            _register_early(client, queues)
            DBOS.launch()  # a worker's launch recovers its id's runs on DBOS's threads: they wait for `_engine`
            install_statements(_get_dbos_instance()._sys_db)
            for name, settings in queues.items():
                DBOS.register_queue(name, **settings)
        except Exception as e:
            DBOS.destroy(destroy_registry=False)
            raise DurableError(f"cannot open the run database {_shown(url)}: {_reason(e)}") from None
        _engine = _Engine(url, version, executor_id, queue_name, client, load_spec, report, sqlite, {user})
        return _engine


def _register_early(client: DBOSClient, queues: dict[str, dict[str, Any]]) -> None:
    """Register the queues before DBOS launches, where the database has DBOS's tables already.

    DBOS's queue thread looks for queues registered in the database when it starts, then once
    a second: registered only after the launch, a run resumed onto this process's queue waited
    for that second (a third of `graphc runs resume`).
    """
    try:
        for name, settings in queues.items():
            client.register_queue(name, **settings)
    except Exception:  # a new database: its tables are made by the launch, which registers them after
        pass


def active_engine() -> _Engine | None:
    """The engine this process runs, if any (read where the global itself cannot be imported)."""
    return _engine


def _current_engine() -> _Engine:
    """The engine, for a workflow on DBOS's threads: one recovered during `_launch` waits until it is set."""
    with _engine_lock:  # `_launch` holds it from before DBOS launches until the engine is set
        engine = _engine
    if engine is None:
        raise PortableWorkflowError("DBOS was stopped in this process", "EngineStopped")
    return engine


def _release_engine(user: int) -> _Engine | None:
    """`user` no longer needs DBOS: stop it if no other `DurableRuns` uses it (call with the lock)."""
    engine = _engine
    if engine is None:
        return None
    engine.users.discard(user)
    return _stop_engine() if not engine.users else None


def _stop_engine() -> _Engine | None:
    """Destroy DBOS in this process; return the engine it ran, whose client is still open (call with the lock)."""
    global _engine
    engine, _engine = _engine, None
    if engine is not None:
        DBOS.destroy(destroy_registry=False)
        if engine.queue_name != RUNS_QUEUE:  # this process's own queue goes with it: one row per process otherwise
            with contextlib.suppress(Exception):  # the database is away: the row only lingers
                engine.client.delete_queue(engine.queue_name)
        if engine.sqlite is not None:
            engine.sqlite.dispose()
    return engine
