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
with input validates it against the declared types, sends it to the run (DBOS messages),
marks that wait answered and puts the run back on a queue, where the replay finds the
message and goes on.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import inspect
import json
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import pydantic
from dbos import (
    DBOS,
    DBOSClient,
    DBOSPortableJSONSerializer,
    EnqueueOptions,
    PortableWorkflowError,
    SetWorkflowAttributes,
    SetWorkflowID,
    WorkflowStatus,
)

from .graph import Graph
from .nodes import BaseNode, End, optional_waits, supply_waits, unset_waits, validate_waits, waited_types
from .state import HistoryStep

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
    "SpecLoader",
    "database_url",
    "graph_version",
    "spec_digest",
)

DEFAULT_DB_FILE = "graphc-runs.sqlite"
"""The SQLite file (in the current directory) that holds runs when neither `--db` nor `$GRAPHC_DB` says."""
STATUSES = ("running", "waiting", "success", "error", "cancelled")
"""A run's status as `graphc runs list` shows it."""
RUNS_QUEUE = "graphc-runs"
"""The queue workers take submitted runs from."""
WAITING_QUEUE = "graphc-waiting"
"""Where a run waiting for input is parked: nobody dequeues from it."""

DEFAULT_MAX_STEPS = 10_000
"""A durable run fails after this many steps unless told otherwise (as `graphc run` stops a plain one)."""
MAX_RUN_ID = 200
"""A run id's length at most (ids are printable and have no spaces: they are typed and listed)."""

SpecLoader = Callable[[str, str], tuple[Graph[Any, Any, Any], Any]]
"""Compiles a stored spec (file name, source) into its graph and the deps its runs get; raises if it cannot."""

_LOG_LEVEL = os.environ.get("GRAPHC_DBOS_LOG_LEVEL", "CRITICAL")
"""What of DBOS's own log reaches the console: graphc reports what goes wrong itself, once and briefly."""


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
_WORKFLOW = "graphc.run"
_NODE_STEP = "graphc.node"
_WAIT_EVENT = "graphc.waiting"
_SPEC_KEY = "spec:"
_SERIALIZER = DBOSPortableJSONSerializer()
_DBOS_STATUS = {
    "PENDING": "running",
    "ENQUEUED": "running",
    "DELAYED": "running",
    "SUCCESS": "success",
    "ERROR": "error",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "error",
    "CANCELLED": "cancelled",
}
_ENDED = ("success", "error", "cancelled")


class DurableError(Exception):
    """A durable-run request that cannot be carried out; the message says why and what to do."""


class DatabaseUnavailable(DurableError):
    """The run database cannot be reached (a server down, a network cut); nothing was changed by the request."""

    run_id: str | None = None
    """The run that was left as recorded, when one was under way."""


OUTAGE_SECONDS = float(os.environ.get("GRAPHC_DB_OUTAGE_SECONDS", "60"))
"""How long a run driven from this process waits for its database to come back before it gives up (left resumable)."""


@contextlib.contextmanager
def _reachable(url: str) -> Any:
    """Database look-ups whose connection errors become `DatabaseUnavailable`, with the reason in words."""
    import sqlalchemy

    try:
        yield
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]  # the driver's first line says it
        raise DatabaseUnavailable(f"the run database {_shown(url)} cannot be reached ({reason})") from None


@dataclass
class RunInfo:
    """What the database knows of one run."""

    id: str
    graph: str
    status: str
    """One of `STATUSES`."""
    node: str | None
    """The node it runs or waits at next; `End` once it ended."""
    version: str
    started: datetime | None
    updated: datetime | None
    executor: str | None = None
    """The process (executor id) that ran it last."""
    spec: str | None = None
    """The spec file it was started or submitted from."""
    queued: bool = False
    """Whether it runs on workers (`submit`) rather than in the process that started it."""
    waits_for: dict[str, Any] | None = None
    """When waiting: the JSON Schema of the input it waits for (an object with one property per field)."""
    wait_ordinal: int = 0
    """When waiting: which of the run's waits this is (1 for the first)."""
    output: Any = None
    """The `End` value (as JSON) once the run succeeded."""
    state: Any = None
    """The state (as JSON) after the last recorded step."""
    error: str | None = None
    """The failure (type, message, spec line) once the run failed."""
    steps: int = 0
    """Nodes run (recorded steps)."""
    history: list[Any] = field(default_factory=list, repr=False)
    """The history as `Graph.dump_history` writes it, when asked for."""

    def as_json(self) -> dict[str, Any]:
        """The run as `graphc runs show --format json` prints it (without the history)."""
        data = {k: v for k, v in self.__dict__.items() if k != "history"}
        data["started"] = self.started.isoformat() if self.started else None
        data["updated"] = self.updated.isoformat() if self.updated else None
        return data


def database_url(db: str | None) -> str:
    """The system database a `--db` value means: a URL, or a SQLite file path (default: `$GRAPHC_DB`, then a file)."""
    if db == "":
        raise DurableError("it is empty; give a SQLite file path or a postgresql:// URL")
    db = db or os.environ.get("GRAPHC_DB") or DEFAULT_DB_FILE
    if db.startswith("postgres://"):
        db = "postgresql://" + db.removeprefix("postgres://")
    if db.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        return db
    if "://" in db:
        raise DurableError(f"unsupported database URL `{db}`: use sqlite:///PATH, a file path, or postgresql://...")
    return "sqlite:///" + str(Path(db).resolve())


def graph_version(graph: Graph[Any, Any, Any]) -> str:
    """The version a run of `graph` in this process is pinned to: its nodes' module source digest, graphc's version."""
    sources = []
    for module_name in sorted({cls.__module__ for cls in graph.node_types.values()}):
        module = sys.modules.get(module_name)
        try:
            sources.append(inspect.getsource(module) if module is not None else module_name)
        except (OSError, TypeError):  # no source to read: the classes' shapes stand in for it
            sources.append(module_name + repr(sorted(graph.node_types)))
    digest = hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]
    return f"{graph.name or 'graph'}-{digest}-graphc{_graphc_version()}"


def worker_version() -> str:
    """The version of submitted runs and of the workers that take them: graphc's own."""
    return f"graphc-{_graphc_version()}-workers"


def _graphc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphc")
    except PackageNotFoundError:
        return "dev"


# ---- the graphs this process can run ----------------------------------------------------------


@dataclass
class _Loaded:
    """A graph this process can run: its codec for JSON and the deps its runs use here."""

    graph: Graph[Any, Any, Any]
    deps: Any

    def node(self, data: dict[str, Any]) -> BaseNode[Any, Any, Any]:
        cls = self.graph.node_types.get(data["node"])
        if cls is None:
            raise ValueError(
                f"the run is at node `{data['node']}`, which graph `{self.graph.name}` does not have: "
                "the spec it runs is not the one it was started with"
            )
        node: BaseNode[Any, Any, Any] = _adapter(cls).validate_python(data["data"])
        return node

    def dump_node(self, node: BaseNode[Any, Any, Any]) -> dict[str, Any]:
        unset = set(unset_waits(node))
        data = _adapter(type(node)).dump_python(node, mode="json", exclude=unset or None)
        return {"node": node.get_id(), "data": data}

    def state(self, data: Any) -> Any:
        return _adapter(self.graph.state_type).validate_python(data)

    def dump_state(self, state: Any) -> Any:
        return _adapter(self.graph.state_type).dump_python(state, mode="json")


_adapters: dict[Any, pydantic.TypeAdapter[Any]] = {}
_ADAPTERS_KEPT = 512
"""Bounded: a worker that compiles specs for weeks keeps only the latest classes' adapters."""


def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    """One validator/serialiser per node or state class: building one costs a millisecond, a step far less."""
    adapter = _adapters.get(tp)
    if adapter is None:
        if len(_adapters) >= _ADAPTERS_KEPT:
            del _adapters[next(iter(_adapters))]
        adapter = _adapters[tp] = pydantic.TypeAdapter(tp)
    return adapter


_loaded: dict[str, _Loaded] = {}
"""By graph key: a local graph's version, or `spec:DIGEST` for a stored spec."""
_signals: dict[str, queue.Queue[tuple[str, int]]] = {}
"""Per run started or resumed from this process: where its workflow says it parked at a wait or finished."""


class _Heartbeat:
    """Renews a worker's lease in a thread of its own until stopped; says so if another worker took the id over."""

    def __init__(self, store: _Store, executor_id: str, token: str, on_lost: Callable[[str], None] | None) -> None:
        self.store, self.executor_id, self.token, self.on_lost = store, executor_id, token, on_lost
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"graphc-lease-{executor_id}", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stopped.wait(LEASE_SECONDS / 5):
            try:
                held = self.store.renew(self.executor_id, self.token)
            except Exception:  # the database is away for a moment: the lease lasts longer than a beat
                continue
            if not held:
                if self.on_lost is not None:
                    self.on_lost(f"another worker took over the id `{self.executor_id}` (this one stalled)")
                return

    def stop(self) -> None:
        """Stop renewing and give the id up."""
        self.stopped.set()
        self.thread.join(timeout=5)
        with contextlib.suppress(Exception):  # the database is away: the lease then expires by itself
            self.store.release(self.executor_id, self.token)


class _Parked(BaseException):
    """Leaves a run's workflow without an outcome (DBOS records none): the run waits on `WAITING_QUEUE`."""


_loading = threading.Lock()


def _graph_for(key: str) -> _Loaded:
    loaded = _loaded.get(key)
    if loaded is not None:
        return loaded
    with _loading:  # the runs of one new spec arrive together: compile it once
        loaded = _loaded.get(key)
        return loaded if loaded is not None else _load_stored(key)


def _load_stored(key: str) -> _Loaded:
    engine = _current_engine()
    if not key.startswith(_SPEC_KEY) or engine.load_spec is None:
        raise PortableWorkflowError(f"this process cannot run graph {key}", "GraphVersionError", data={"key": key})
    digest = key.removeprefix(_SPEC_KEY)
    try:
        stored = _Store(engine.url).get(digest)
    except DurableError as e:
        raise PortableWorkflowError(str(e), "SpecAltered", data={"key": key}) from None
    if stored is None:
        raise PortableWorkflowError(f"the spec {digest} is not in the database", "SpecMissing", data={"key": key})
    name, source = stored
    try:
        graph, deps = engine.load_spec(name, source)
    except Exception as e:  # the stored spec does not compile here (an import outside --allow-import, say)
        message = f"the spec does not compile here: {e}"
        if engine.report is not None:
            engine.report(f"run {DBOS.workflow_id}: {message}")
        raise PortableWorkflowError(message, type(e).__name__, data={"key": key}) from None
    loaded = _loaded[key] = _Loaded(graph, deps)
    return loaded


@DBOS.workflow(name=_WORKFLOW)
def _run_workflow(key: str, start: dict[str, Any], state: Any, max_steps: int | None = DEFAULT_MAX_STEPS) -> Any:
    """A whole run; replayed from the recorded steps when resumed. It fails after `max_steps` nodes (None: never)."""
    run_id = DBOS.workflow_id
    assert run_id is not None
    outcome: tuple[str, int] = ("finished", 0)
    try:
        loaded = _graph_for(key)
        node, current = loaded.node(start), loaded.state(state)
        waits = 0  # the waits passed so far: a replay passes the same ones again
        steps = 0
        loop = asyncio.new_event_loop()  # one loop for the run's nodes, so deps bound to a loop keep working
        try:
            while True:
                if max_steps and steps >= max_steps:
                    raise PortableWorkflowError(
                        f"stopped after {max_steps:,} steps without reaching `End` (next node: `{node.get_id()}`); "
                        "raise the limit with --max-steps N, or 0 for none",
                        "StepLimit",
                        data={"node": node.get_id()},
                    )
                steps += 1
                if node.waits_for and unset_waits(node):
                    waits += 1
                    supply_waits(node, _input_for(run_id, node, waits))
                out = _node_step(loaded, node, current, loop)
                current = loaded.state(out["state"])
                if out["next"] is None:
                    return out["steps"][-1]["result"]["data"]
                node = loaded.node(out["next"])
        finally:
            loop.close()
    except _Parked:
        outcome = ("waiting", waits)
        raise
    finally:
        if (signal := _signals.get(run_id)) is not None:
            signal.put(outcome)


def _input_for(run_id: str, node: BaseNode[Any, Any, Any], ordinal: int) -> dict[str, Any]:
    """The answer to wait number `ordinal`: read from `graphc_answers` if it was given, else the run is parked.

    The answer row never changes once written, so a replay reads the same answer; it is read
    outside the workflow's record (no step is recorded).
    """
    DBOS.set_event(_WAIT_EVENT, {"node": node.get_id(), "schema": waits_schema(type(node)), "ordinal": ordinal})
    engine = _current_engine()
    store = _Store(engine.url)
    answer = store.answer(run_id, ordinal)
    if answer is None:
        engine.client.resume_workflow(run_id, queue_name=WAITING_QUEUE)
        answer = store.answer(run_id, ordinal)
        if answer is not None and answer[0] == "answer":  # answered while parking: back to work
            engine.client.resume_workflow(run_id, queue_name=engine.home_queue(run_id))
        raise _Parked
    kind, value = answer
    if kind == "cancel" or value is None:  # cancelled at this wait: the canceller ends the workflow
        raise _Parked
    DBOS.set_event(_WAIT_EVENT, None)
    return value


@DBOS.step(name=_NODE_STEP)
def _node_step(
    loaded: _Loaded, node: BaseNode[Any, Any, Any], state: Any, loop: asyncio.AbstractEventLoop
) -> dict[str, Any]:
    """Run one node; what DBOS records is JSON: the history steps, the state after and the next node."""
    history: list[HistoryStep[Any, Any]] = []
    try:
        next_node = loop.run_until_complete(
            loaded.graph.next(node, history, state=state, deps=loaded.deps, infer_name=False)
        )
    except Exception as e:
        notes = "".join(f" ({n})" for n in getattr(e, "__notes__", []))
        message = f"{type(e).__name__}: {e}{notes}"
        raise PortableWorkflowError(message, type(e).__name__, data={"node": node.get_id()}) from None
    return {
        "steps": json.loads(loaded.graph.dump_history(history)),
        "state": loaded.dump_state(state),
        "next": None if isinstance(next_node, End) else loaded.dump_node(next_node),
    }


def waits_schema(cls: type[BaseNode[Any, Any, Any]]) -> dict[str, Any]:
    """The JSON Schema of the input a node waits for: one property per field, required unless its type admits None."""
    properties = {name: pydantic.TypeAdapter(tp).json_schema() for name, tp in waited_types(cls).items()}
    optional = optional_waits(cls)
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


# ---- the spec store: submitted specs, content-addressed -----------------------------------------


def spec_digest(name: str, source: str) -> str:
    """A submitted spec's key: the digest of its file name and source (the store's, and workers' on-disk copies')."""
    return hashlib.sha256(f"{name}\0{source}".encode()).hexdigest()


class _Store:
    """graphc's tables beside DBOS's: submitted specs (content-addressed) and the answers to waits.

    `graphc_answers` holds at most one row per (run, wait): the first answer wins, atomically
    (the primary key), so two people answering one wait at the same moment cannot both be
    taken, and an answer is bound to the wait it answers — a later wait never reads it. A
    row of kind `cancel` is a cancellation: it takes the wait it claims from any answer,
    and (as wait 0) tells a run revived by a racing resume that it was cancelled.
    """

    _engines: ClassVar[dict[str, Any]] = {}
    _lock = threading.Lock()
    _TABLES = (
        "CREATE TABLE IF NOT EXISTS graphc_specs "
        "(digest VARCHAR(64) PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS graphc_answers (run_id VARCHAR(255) NOT NULL, ordinal INTEGER NOT NULL, "
        "kind VARCHAR(16) NOT NULL, input TEXT, PRIMARY KEY (run_id, ordinal))",
        "CREATE TABLE IF NOT EXISTS graphc_workers (executor_id VARCHAR(255) PRIMARY KEY, host VARCHAR(255) NOT NULL, "
        "pid INTEGER NOT NULL, token VARCHAR(64) NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)",
    )

    def __init__(self, url: str) -> None:
        import sqlalchemy

        with self._lock:
            engine = self._engines.get(url)
            if engine is None:
                if url.startswith("sqlite:"):
                    engine = _sqlite_engine(url)  # as DBOS's: writers wait for each other rather than fail
                else:
                    driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
                    engine = sqlalchemy.create_engine(
                        driver_url, pool_pre_ping=True, connect_args={"connect_timeout": 10}
                    )
                for attempt in range(3):  # two processes creating the tables at once: one of them retries
                    try:
                        with engine.begin() as connection:
                            for statement in self._TABLES:
                                connection.execute(sqlalchemy.text(statement))
                        break
                    except sqlalchemy.exc.IntegrityError:
                        if attempt == 2:
                            raise
                self._engines[url] = engine
        self.engine = engine

    @classmethod
    def dispose(cls, url: str) -> None:
        """Close the connections to `url` (a later use opens them again)."""
        with cls._lock:
            engine = cls._engines.pop(url, None)
        if engine is not None:
            engine.dispose()

    def _execute(self, statement: str, parameters: dict[str, Any]) -> Any:
        import sqlalchemy

        with self.engine.begin() as connection:
            return connection.execute(sqlalchemy.text(statement), parameters)

    def put(self, name: str, source: str) -> str:
        digest = spec_digest(name, source)
        statement = "INSERT INTO graphc_specs (digest, name, source) VALUES (:d, :n, :s) ON CONFLICT DO NOTHING"
        self._execute(statement, {"d": digest, "n": name, "s": source})  # a spec stored before stays as it is
        return digest

    def get(self, digest: str) -> tuple[str, str] | None:
        """A stored spec's file name and source; DurableError if the row no longer matches its digest."""
        row = self._execute("SELECT name, source FROM graphc_specs WHERE digest = :d", {"d": digest}).fetchone()
        if row is None:
            return None
        if spec_digest(row[0], row[1]) != digest:
            raise DurableError(
                f"the stored spec {digest[:12]} was altered in the database: it no longer matches its digest"
            )
        return row[0], row[1]

    def claim(self, run_id: str, ordinal: int, kind: str, input: dict[str, Any] | None = None) -> bool:
        """Record `kind` (`answer` with its input, or `cancel`) for wait `ordinal`; False if it was taken already."""
        statement = (
            "INSERT INTO graphc_answers (run_id, ordinal, kind, input) VALUES (:r, :o, :k, :i) ON CONFLICT DO NOTHING"
        )
        text = None if input is None else json.dumps(input)
        return bool(self._execute(statement, {"r": run_id, "o": ordinal, "k": kind, "i": text}).rowcount == 1)

    def answer(self, run_id: str, ordinal: int) -> tuple[str, dict[str, Any] | None] | None:
        """What took wait `ordinal` of the run: (`answer`, input) or (`cancel`, None); None while nobody answered."""
        row = self._execute(
            "SELECT kind, input FROM graphc_answers WHERE run_id = :r AND ordinal = :o", {"r": run_id, "o": ordinal}
        ).fetchone()
        if row is None:
            return None
        return row[0], None if row[1] is None else json.loads(row[1])

    def cancelled(self, run_id: str) -> bool:
        """Whether the run was cancelled (a `cancel` row for wait 0)."""
        return self.answer(run_id, 0) is not None

    # -- worker leases: one live worker per executor id

    def lease(self, executor_id: str, token: str) -> None:
        """Hold `executor_id` for this process, or DurableError if a live worker holds it.

        The holder is live while its heartbeat is fresh and, on this host, its process exists:
        a worker killed and restarted here at once takes its id back without waiting.
        """
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        row = {"e": executor_id, "h": host, "p": pid, "t": token, "b": now}
        taken = self._execute(
            "INSERT INTO graphc_workers (executor_id, host, pid, token, heartbeat) VALUES (:e, :h, :p, :t, :b) "
            "ON CONFLICT DO NOTHING",
            row,
        )
        if taken.rowcount == 1:
            return
        held = self._execute(
            "SELECT host, pid, token, heartbeat FROM graphc_workers WHERE executor_id = :e", {"e": executor_id}
        ).fetchone()
        if held is not None and _holder_alive(held[0], held[1], now - held[3]):
            raise DurableError(
                f"a worker with id `{executor_id}` is already running (process {held[1]} on {held[0]}, "
                f"seen {max(0.0, now - held[3]):.0f} s ago): give this one another --id, or stop that one first"
            )
        stale = {**row, "old": held[2] if held is not None else ""}
        moved = self._execute(
            "UPDATE graphc_workers SET host = :h, pid = :p, token = :t, heartbeat = :b "
            "WHERE executor_id = :e AND token = :old",
            stale,
        )
        if moved.rowcount != 1:  # another new worker took it over first
            raise DurableError(
                f"another worker with id `{executor_id}` started at the same moment; give this one another --id"
            )

    def renew(self, executor_id: str, token: str) -> bool:
        """Refresh this process's lease; False if another worker has taken the id over."""
        renewed = self._execute(
            "UPDATE graphc_workers SET heartbeat = :b WHERE executor_id = :e AND token = :t",
            {"b": time.time(), "e": executor_id, "t": token},
        )
        return bool(renewed.rowcount == 1)

    def release(self, executor_id: str, token: str) -> None:
        """Give the id up (a clean stop)."""
        self._execute(
            "DELETE FROM graphc_workers WHERE executor_id = :e AND token = :t", {"e": executor_id, "t": token}
        )


LEASE_SECONDS = 15.0
"""A worker's heartbeat older than this means it is gone (it renews every `LEASE_SECONDS / 5`)."""


def _holder_alive(host: str, pid: int, silent_for: float) -> bool:
    if silent_for > LEASE_SECONDS:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# ---- the engine: one DBOS per process -----------------------------------------------------------


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

    def attributes(self, run_id: str) -> dict[str, Any]:
        """The run's graphc attributes, read outside any workflow's record."""
        found = self.client.list_workflows(workflow_ids=[run_id], load_input=False, load_output=False)
        return (found[0].attributes or {}) if found else {}

    def home_queue(self, run_id: str) -> str:
        return RUNS_QUEUE if self.attributes(run_id).get("graphc_queued") else self.queue_name


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
            return engine
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
            }
        )
        try:
            DBOS.listen_queues([queue_name])
            DBOS.launch()  # a worker's launch recovers its id's runs on DBOS's threads: they wait for `_engine`
            DBOS.register_queue(
                queue_name,
                polling_interval_sec=0.05 if not worker else 0.1,
                worker_concurrency=worker_concurrency,
                global_concurrency=global_concurrency,
            )
            client = DBOSClient(system_database_url=url, serializer=_SERIALIZER)
        except Exception as e:
            DBOS.destroy(destroy_registry=False)
            raise DurableError(f"cannot open the run database {_shown(url)}: {_reason(e)}") from None
        _engine = _Engine(url, version, executor_id, queue_name, client, load_spec, report, sqlite)
        return _engine


def _current_engine() -> _Engine:
    """The engine, for a workflow on DBOS's threads: one recovered during `_launch` waits until it is set."""
    with _engine_lock:  # `_launch` holds it from before DBOS launches until the engine is set
        engine = _engine
    if engine is None:
        raise PortableWorkflowError("DBOS was stopped in this process", "EngineStopped")
    return engine


def _stop_engine() -> _Engine | None:
    """Destroy DBOS in this process; return the engine it ran, whose client is still open (call with the lock)."""
    global _engine
    engine, _engine = _engine, None
    if engine is not None:
        DBOS.destroy(destroy_registry=False)
        if engine.sqlite is not None:
            engine.sqlite.dispose()
    return engine


def _sqlite_engine(url: str) -> Any:
    """DBOS's SQLite engine, in WAL mode with `synchronous=NORMAL`.

    A commit survives a killed process (what durable runs promise) without an fsync per
    step; only an operating-system crash or power loss may lose the last steps.
    """
    import sqlalchemy
    from sqlalchemy import event

    engine = sqlalchemy.create_engine(url)

    @event.listens_for(engine, "connect")
    def configure(connection: Any, record: Any) -> None:
        connection.isolation_level = "IMMEDIATE"  # as DBOS's own engine: writers queue up
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def _sqlite_file_problem(url: str, *, create: bool) -> str | None:
    """Why a SQLite run database cannot be used, in words (None when it can, or for other databases)."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    if path.exists():
        return None
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist (a misspelt --db?)"
    if not create:
        return f"there is no run database at {path} (a misspelt --db? `graphc run SPEC --durable` makes one)"
    try:  # the operating system's own reason, which SQLite reduces to "unable to open database file"
        path.open("ab").close()
    except OSError as e:
        return f"cannot create {path}: {e.strerror or e}"
    path.unlink(missing_ok=True)
    return None


def _reason(error: Exception) -> str:
    """An error's message without SQLAlchemy's trailing link and wrapper class."""
    text = str(error).split("\n(Background on this error")[0]
    return re.sub(r"^\(\w+(\.\w+)*\) ", "", text).replace("\n\t", " ").strip()


def _shown(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.split("@")[-1]


# ---- the API --------------------------------------------------------------------------------


class DurableRuns:
    """The durable runs in one database: start, submit, look up, resume, cancel, recover, serve.

    Example:
        runs = DurableRuns("runs.sqlite")
        info = runs.start(graph, Draft(), deps=deps)      # runs here until `End` or a wait
        if info.status == "waiting":
            info = runs.resume(info.id, graph, deps=deps, input={"approved": True, "comment": ""})
        history = runs.history(info.id, graph)
    """

    def __init__(self, db: str | None = None, *, report: Callable[[str], None] | None = None) -> None:
        """Open the runs of `db`: a URL (`sqlite:///...`, `postgresql://...`) or a SQLite file path.

        Args:
            db: Where the runs are kept; default `$GRAPHC_DB`, else `graphc-runs.sqlite` here.
            report: Told, a line at a time, what its operator must hear of: the database away and back,
                a submitted spec that does not compile on this worker.
        """
        self.url = database_url(db)
        self.report = report
        self._client: DBOSClient | None = None
        self._heartbeat: _Heartbeat | None = None

    # -- running here

    def start(
        self,
        graph: Graph[Any, Any, Any],
        start_node: BaseNode[Any, Any, Any] | None = None,
        *,
        state: Any = None,
        deps: Any = None,
        run_id: str | None = None,
        spec: str | None = None,
        max_steps: int | None = DEFAULT_MAX_STEPS,
    ) -> RunInfo:
        """Start a run in this process and drive it until it ends, fails or waits for input.

        Args:
            graph: The graph (from `compiler.load`, or a compiled module's `graph`).
            start_node: The first node; default: the graph's start node.
            state: The initial state; default: a fresh one.
            deps: The dependencies; not stored (pass them again to `resume`).
            run_id: The run's id (default: a new UUID); an existing id is refused.
            spec: The spec file it comes from, recorded so `graphc runs resume` can load it again.
            max_steps: The run fails (status `error`, the message saying so) after this many nodes; None: no limit.
        """
        version = graph_version(graph)
        loaded = _loaded[version] = _Loaded(graph, deps)
        node, state = self._start_of(graph, start_node, state)
        engine = _launch(self.url, version)
        run_id = self._new_id(run_id)
        signal = _signals[run_id] = queue.Queue()
        attributes = {"graphc_graph": graph.name or "graph", "graphc_spec": spec or ""}
        with SetWorkflowID(run_id), SetWorkflowAttributes(attributes):
            DBOS.start_workflow(
                _run_workflow, engine.version, loaded.dump_node(node), loaded.dump_state(state), max_steps or None
            )
        return self._outcome(run_id, signal, answered=0)

    def resume(
        self,
        run_id: str,
        graph: Graph[Any, Any, Any] | None = None,
        *,
        deps: Any = None,
        input: dict[str, Any] | None = None,
        wait: int | None = None,
    ) -> RunInfo:
        """Continue a run that crashed or waits for input.

        A run started here (`start`) continues in this process, until it ends, fails or waits
        again; pass the same `graph` and the deps. A submitted run goes back on the workers'
        queue and this returns at once.

        Args:
            run_id: The run.
            graph: For a run started with `start`: the same graph (same version).
            deps: The dependencies for the rest of the run.
            input: For a waiting run: a value for each waited-for field (JSON-like), validated first.
                Exactly one answer is taken per wait: if another took it first, this raises.
            wait: The wait `input` answers (`RunInfo.wait_ordinal`, as shown when it was read): refused
                if the run has moved past it. Default: whichever wait the run is at now.

        Raises:
            DurableError: no such run, it has ended, the graph is another version, the input is
                missing or invalid, or another answer took the wait — in which case nothing changes.
        """
        info = self.get(run_id)
        if wait is not None and input is not None and (info.status != "waiting" or info.wait_ordinal != wait):
            now = f"waits at wait {info.wait_ordinal}" if info.status == "waiting" else f"is {info.status}"
            raise DurableError(
                f"run `{run_id}` has moved past wait {wait} (it {now}): your input was not taken; "
                f"see `graphc runs show {run_id}`"
            )
        if info.status in _ENDED:
            raise DurableError(f"run `{run_id}` has already ended ({info.status}); there is nothing to resume")
        if not info.queued:
            if graph is None:
                raise DurableError(f"run `{run_id}` runs in the process that resumes it: pass its graph")
            version = graph_version(graph)
            if info.version != version:
                raise DurableError(
                    f"run `{run_id}` was started with graph version {info.version}, but this graph is {version}: "
                    "its recorded steps cannot be replayed through changed code. Restore the spec (and graphc) "
                    f"it was started with to resume it, or cancel it (`graphc runs cancel {run_id}`) "
                    "and start a new run"
                )
        answered = 0  # a replay passes the waits up to this one again: those do not stop it
        if info.status == "waiting":
            answered = info.wait_ordinal
            self._check_input(info, input, graph)
        elif input is not None:
            raise DurableError(f"run `{run_id}` is not waiting for input ({info.status}); resume it without --input")
        client = self._db()
        assert client is not None
        if input is not None:
            self._answer(info, input)
        if info.queued:
            client.resume_workflow(run_id, queue_name=RUNS_QUEUE)
            self._not_cancelled_meanwhile(client, run_id)
            return self.get(run_id)
        assert graph is not None
        _loaded[info.version] = _Loaded(graph, deps)
        engine = _launch(self.url, info.version)
        signal = _signals[run_id] = queue.Queue()
        engine.client.resume_workflow(run_id, queue_name=engine.queue_name)
        self._not_cancelled_meanwhile(client, run_id)
        return self._outcome(run_id, signal, answered=answered)

    def _check_input(self, info: RunInfo, input: dict[str, Any] | None, graph: Graph[Any, Any, Any] | None) -> None:
        assert info.node is not None
        if input is None:
            fields = ", ".join(info.waits_for["properties"]) if info.waits_for else ""
            raise DurableError(
                f"run `{info.id}` waits at `{info.node}` for {fields}: pass them with --input JSON "
                f"(schema: `graphc runs show {info.id}`)"
            )
        problems = _schema_problems(input, info.waits_for or {})
        if graph is not None:
            try:
                validate_waits(graph.node_types[info.node], input)
            except ValueError as e:
                problems = [str(e)]
        if problems:
            raise DurableError(f"{'; '.join(problems)}; the run is unchanged")

    def _answer(self, info: RunInfo, input: dict[str, Any]) -> None:
        """Take the run's current wait with `input`, or raise if another answer or a cancel took it first."""
        store = _Store(self.url)
        if store.claim(info.id, info.wait_ordinal, "answer", input):
            return
        taken = store.answer(info.id, info.wait_ordinal)
        if taken is not None and taken[0] == "cancel":
            raise DurableError(f"run `{info.id}` was cancelled; your input was not taken")
        raise DurableError(
            f"the wait at `{info.node}` (wait {info.wait_ordinal} of run `{info.id}`) was answered by someone else "
            f"a moment ago; your input was not taken. The run has moved on: see `graphc runs show {info.id}`"
        )

    def _not_cancelled_meanwhile(self, client: DBOSClient, run_id: str) -> None:
        """A cancel that landed between the answer and the resume stays a cancel: the resume must not revive it."""
        if _Store(self.url).cancelled(run_id):
            client.cancel_workflow(run_id)
            raise DurableError(f"run `{run_id}` was cancelled while it was being resumed; it stays cancelled")

    def _start_of(
        self, graph: Graph[Any, Any, Any], start_node: BaseNode[Any, Any, Any] | None, state: Any
    ) -> tuple[BaseNode[Any, Any, Any], Any]:
        node = start_node if start_node is not None else graph._default_start_node()
        if state is None and graph.default_state is not None:
            state = graph._fresh_state()
        return node, state

    def _new_id(self, run_id: str | None) -> str:
        run_id = str(uuid.uuid4()) if run_id is None else run_id
        if not 0 < len(run_id) <= MAX_RUN_ID or not run_id.isprintable() or any(c.isspace() for c in run_id):
            raise DurableError(
                f"a run id is 1 to {MAX_RUN_ID} printable characters without spaces; got {run_id[:40]!r}"
            )
        if self._status(run_id) is not None:
            raise DurableError(f"a run with id `{run_id}` already exists; choose another --run-id")
        return run_id

    def _outcome(self, run_id: str, signal: queue.Queue[tuple[str, int]], *, answered: int) -> RunInfo:
        """Wait until the run's workflow here parks (at a wait beyond `answered`) or finishes.

        While the database is away the run waits for it (DBOS retries its writes), and this says
        so through `report`; after `OUTAGE_SECONDS` it gives up with `DatabaseUnavailable`, the
        run left as recorded, to be resumed once the database is back.
        """
        outage: float | None = None  # since when the database has been away
        said = 0.0
        try:
            while True:
                try:
                    kind, ordinal = signal.get(timeout=0.5)
                except queue.Empty:
                    try:
                        status = self._status(run_id)
                    except DatabaseUnavailable as e:
                        now = time.monotonic()
                        outage = outage or now
                        if now - outage > OUTAGE_SECONDS:
                            gave_up = DatabaseUnavailable(
                                f"{e}; gave up after {OUTAGE_SECONDS:g} s. Run `{run_id}` is left as recorded: "
                                f"`graphc runs resume {run_id}` continues it once the database is back"
                            )
                            gave_up.run_id = run_id
                            raise gave_up from None
                        if now - said >= 10:
                            said = now
                            self._say(f"{e} ({now - outage:.0f} s); run `{run_id}` waits for it")
                        continue
                    if outage is not None:
                        outage = None
                        self._say(f"the run database is back; run `{run_id}` goes on")
                    if status is not None and _DBOS_STATUS.get(status.status) in _ENDED:
                        break
                    continue
                if kind == "finished":  # its outcome is being recorded: wait for that
                    self._settled(run_id)
                    break
                if ordinal > answered:
                    break
        finally:
            _signals.pop(run_id, None)
        return self.get(run_id)

    def _say(self, line: str) -> None:
        if self.report is not None:
            self.report(line)

    def _settled(self, run_id: str) -> None:
        for _ in range(500):
            status = self._status(run_id)
            if status is None or status.status not in ("PENDING", "ENQUEUED"):
                return
            time.sleep(0.01)

    # -- running on workers

    def submit(
        self,
        spec_name: str,
        spec_source: str,
        graph: Graph[Any, Any, Any],
        start_node: BaseNode[Any, Any, Any] | None = None,
        *,
        state: Any = None,
        run_id: str | None = None,
        spec: str | None = None,
        max_steps: int | None = DEFAULT_MAX_STEPS,
    ) -> str:
        """Queue a run of a spec for workers; returns the run id.

        The spec's source is stored with the run (once per distinct spec), so a worker needs
        only the database and the Python modules the spec imports. `graph` is the spec
        compiled here, to build and check the start node and state.

        Args:
            spec_name: The spec's file name (its line notes name it).
            spec_source: The spec's text.
            graph: The spec compiled (`compiler.load`).
            start_node: The first node; default: the graph's start node.
            state: The initial state; default: a fresh one.
            run_id: The run's id (default: a new UUID); an existing id is refused.
            spec: The spec file's path, shown by `runs list` / `show`.
            max_steps: As for `start`.
        """
        node, state = self._start_of(graph, start_node, state)
        codec = _Loaded(graph, None)
        self._db(create=True)
        digest = _Store(self.url).put(spec_name, spec_source)
        run_id = self._new_id(run_id)
        client = self._db()
        assert client is not None
        attributes = {
            "graphc_graph": graph.name or "graph",
            "graphc_spec": spec or spec_name,
            "graphc_queued": True,
        }
        options: EnqueueOptions = {
            "queue_name": RUNS_QUEUE,
            "workflow_name": _WORKFLOW,
            "workflow_id": run_id,
            "app_version": worker_version(),
            "attributes": attributes,
        }
        client.enqueue(options, _SPEC_KEY + digest, codec.dump_node(node), codec.dump_state(state), max_steps or None)
        return run_id

    def serve(
        self,
        load_spec: SpecLoader,
        *,
        executor_id: str,
        concurrency: int | None = None,
        queue_concurrency: int | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        """Make this process a worker: it takes submitted runs until `stop_serving` (at most `concurrency` at once).

        Returns once the worker runs; runs happen on DBOS's threads. Runs that a worker with
        this executor id held when it died are recovered first (DBOS's recovery).

        Args:
            load_spec: Compiles a stored spec into its graph and deps.
            executor_id: A stable id: restarted with the same one, the worker recovers its runs.
            concurrency: Runs in flight in this worker at most.
            queue_concurrency: Runs in flight across all workers at most.
            on_lost: Told if another worker takes this one's id over (this one stalled past its lease).

        Raises:
            DurableError: another live worker holds `executor_id` (a lease in the database), or the
                database cannot be opened.
        """
        if (problem := _sqlite_file_problem(self.url, create=True)) is not None:
            raise DurableError(f"cannot open the run database: {problem}")
        store, token = _Store(self.url), uuid.uuid4().hex
        store.lease(executor_id, token)
        self._heartbeat = _Heartbeat(store, executor_id, token, on_lost)
        _launch(
            self.url,
            worker_version(),
            executor_id=executor_id,
            worker_concurrency=concurrency,
            global_concurrency=queue_concurrency,
            load_spec=load_spec,
            report=self.report,
        )

    def in_flight(self) -> builtins.list[str]:
        """The runs this worker process is running now (PENDING under its executor id)."""
        engine = _engine
        if engine is None:
            return []
        return [
            s.workflow_id
            for s in engine.client.list_workflows(status="PENDING", executor_id=engine.executor_id, load_input=False)
        ]

    def stop_serving(self, grace_seconds: float) -> builtins.list[str]:
        """Stop taking runs; wait up to `grace_seconds` for those in flight, hand the rest back; return those."""
        if _engine is None:
            return []
        deadline = time.monotonic() + grace_seconds
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.1)
        handed = self.in_flight()
        with _engine_lock:
            engine = _stop_engine()
        if engine is None:
            return []
        for run_id in handed:  # back on the queue; this worker's executions are fenced off by DBOS
            engine.client.resume_workflow(run_id, queue_name=RUNS_QUEUE)
        engine.client.destroy()
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        return handed

    def recover(self, executor_id: str) -> builtins.list[str]:
        """Hand the runs of a worker that will never come back (its executor id) to the other workers."""
        client = self._db()
        if client is None:
            return []
        held = client.list_workflows(status="PENDING", executor_id=executor_id, name=_WORKFLOW, load_input=False)
        for status in held:
            client.resume_workflow(status.workflow_id, queue_name=RUNS_QUEUE)
        return [s.workflow_id for s in held]

    # -- looking up

    def get(self, run_id: str, *, history: bool = False) -> RunInfo:
        """The run's status, node, what it waits for, output or error (and its history JSON if asked).

        Raises:
            DurableError: there is no such run.
        """
        status = self._status(run_id)
        if status is None:
            raise DurableError(f"no run `{run_id}` in {_shown(self.url)}" + self._known_ids_hint())
        with _reachable(self.url):
            return self._info(status, history=history)

    def list(self, status: str | None = None) -> builtins.list[RunInfo]:
        """The runs in the database, oldest first, optionally only those with one status.

        Cheap for many runs: for runs that ended, `state` and `steps` are left out (`get` has them).
        """
        if status is not None and status not in STATUSES:
            raise DurableError(f"unknown status `{status}`; one of {', '.join(STATUSES)}")
        client = self._db()
        if client is None:
            return []
        with _reachable(self.url):
            workflows = client.list_workflows(name=_WORKFLOW, load_input=True, load_output=True)
            runs = [self._info(s, detail=False) for s in workflows]
        return [r for r in runs if status is None or r.status == status]

    def history(self, run_id: str, graph: Graph[Any, Any, Any]) -> builtins.list[HistoryStep[Any, Any]]:
        """The run's history, typed: the same `NodeStep`/`EndStep` list a plain run of the graph produces."""
        return graph.load_history(json.dumps(self.get(run_id, history=True).history))

    def stored_spec(self, run_id: str) -> tuple[str, str]:
        """The file name and source of the spec a submitted run runs."""
        status = self._status(run_id)
        start = _inputs(status) if status is not None else []
        key = start[0] if start else ""
        stored = _Store(self.url).get(key.removeprefix(_SPEC_KEY)) if key.startswith(_SPEC_KEY) else None
        if stored is None:
            raise DurableError(f"run `{run_id}` has no stored spec")
        return stored

    def cancel(self, run_id: str) -> RunInfo:
        """Cancel a run that has not ended; a cancelled run is never resumed."""
        info = self.get(run_id)
        if info.status in _ENDED:
            raise DurableError(f"run `{run_id}` has already ended ({info.status})")
        client = self._db()
        assert client is not None
        store = _Store(self.url)
        store.claim(run_id, 0, "cancel")  # seen by a resume racing this one: it cancels again after reviving
        if info.status == "waiting":
            store.claim(run_id, info.wait_ordinal, "cancel")  # no answer can take this wait any more
        client.cancel_workflow(run_id)
        return self.get(run_id)

    def close(self) -> None:
        """Release the connection used for look-ups, and stop DBOS in this process (the next run starts it again)."""
        if self._client is not None:
            self._client.destroy()
            self._client = None
        with _engine_lock:
            if (engine := _stop_engine()) is not None:
                engine.client.destroy()
        _Store.dispose(self.url)  # the last connection closed: SQLite folds its write-ahead log back into the file

    # -- reading the system database

    def _db(self, *, create: bool = False) -> DBOSClient | None:
        """A client on the system database; None when it does not exist yet (unless `create`)."""
        if self._client is None:
            if (problem := _sqlite_file_problem(self.url, create=create)) is not None:
                raise DurableError(f"cannot open the run database: {problem}")
            if create:
                _migrate(self.url)
            try:
                client = DBOSClient(system_database_url=self.url, serializer=_SERIALIZER, retry_connection_errors=False)
            except Exception as e:
                raise DurableError(f"cannot open the run database {_shown(self.url)}: {_reason(e)}") from None
            try:  # a database whose creation a killed process left half done has no runs yet
                client.list_workflows(limit=1, load_input=False, load_output=False)
            except Exception as e:
                client.destroy()
                if "no such table" in str(e) or "does not exist" in str(e):
                    return None
                raise DurableError(f"cannot read the run database {_shown(self.url)}: {_reason(e)}") from None
            self._client = client
        return self._client

    def _status(self, run_id: str) -> WorkflowStatus | None:
        client = self._db()
        if client is None:
            return None
        with _reachable(self.url):
            found = client.list_workflows(workflow_ids=[run_id], load_input=True, load_output=True)
        return found[0] if found and found[0].name == _WORKFLOW else None

    def _known_ids_hint(self) -> str:
        client = self._db()
        ids = [s.workflow_id for s in client.list_workflows(name=_WORKFLOW, load_input=False)] if client else []
        return f" (runs there: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''})" if ids else " (it has no runs)"

    def _info(self, wf: WorkflowStatus, *, history: bool = False, detail: bool = True) -> RunInfo:
        """What a workflow row says of its run; without `detail`, an ended run's steps are not read."""
        client = self._db()
        assert client is not None
        attributes = wf.attributes or {}
        status = _DBOS_STATUS.get(wf.status, "running")
        if wf.status == "ENQUEUED" and wf.queue_name == WAITING_QUEUE:
            status = "waiting"
        waiting = client.get_event(wf.workflow_id, _WAIT_EVENT, timeout_seconds=0) if status == "waiting" else None
        outputs: builtins.list[dict[str, Any]] = []
        if detail or history or status in ("running", "cancelled"):
            steps = [s for s in client.list_workflow_steps(wf.workflow_id) if s["function_name"] == _NODE_STEP]
            outputs = [s["output"] for s in steps if isinstance(s["output"], dict)]
        start = _inputs(wf)
        failed_at = getattr(wf.error, "data", None)
        if waiting:
            node: str | None = waiting["node"]
        elif status == "success":
            node = "End"
        elif isinstance(failed_at, dict) and "node" in failed_at:
            node = failed_at["node"]
        elif outputs:
            node = outputs[-1]["next"]["node"] if outputs[-1]["next"] else "End"
        else:
            node = start[1]["node"] if len(start) > 1 and isinstance(start[1], dict) else None
        return RunInfo(
            id=wf.workflow_id,
            graph=attributes.get("graphc_graph", "?"),
            status=status,
            node=node,
            version=wf.app_version or "",
            started=_time(wf.created_at),
            updated=_time(wf.updated_at),
            executor=wf.executor_id,
            spec=attributes.get("graphc_spec") or None,
            queued=bool(attributes.get("graphc_queued")),
            waits_for=waiting["schema"] if waiting else None,
            wait_ordinal=waiting["ordinal"] if waiting else 0,
            output=wf.output if status == "success" else None,
            state=outputs[-1]["state"] if outputs else (start[2] if len(start) > 2 else None),
            error=str(wf.error) if wf.error is not None else None,
            steps=len(outputs),
            history=[step for out in outputs for step in out["steps"]] if history else [],
        )


def _migrate(url: str) -> None:
    """Create DBOS's tables in a database nobody launched DBOS on yet (a client never does)."""
    try:
        DBOS.migrate(url)
    except Exception as e:
        raise DurableError(f"cannot prepare the run database {_shown(url)}: {_reason(e)}") from None


def _schema_problems(value: dict[str, Any], schema: dict[str, Any]) -> builtins.list[str]:
    """What a worker-run's input lacks or has too much of, by the recorded schema (the worker checks types)."""
    properties = schema.get("properties", {})
    required = schema.get("required", list(properties))
    problems = [f"`{name}` is missing" for name in required if name not in value]
    problems += [f"`{name}` is not a field the run waits for" for name in value if name not in properties]
    return problems


def _inputs(wf: WorkflowStatus) -> builtins.list[Any]:
    """The run workflow's arguments: graph key, start node, state."""
    inputs: dict[str, Any] = dict(wf.input or {})
    return builtins.list(inputs.get("args") or [])


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc) if epoch_ms is not None else None
