"""Durable runs: a graph run as a DBOS workflow, each node one recorded step (`pip install 'graphc[durable]'`).

The only module of graphc that imports DBOS. A run's id is its workflow id; each node's
`run` is one DBOS step whose recorded output is the history step it adds, the state after
it and the next node — plain JSON (DBOS's portable serializer, not pickle), so a stored
run is readable and loads back typed. A killed process loses at most the node it was in:
`DurableRuns.resume` replays the recorded steps without running them and goes on from
the state after the last one (at-least-once for a node interrupted mid-way).

A node that waits for outside input (`waits (...)` in a spec) stops the run there with
status `waiting`: the workflow records what it waits for and blocks in `DBOS.recv`;
the process may exit. `resume(..., input=...)` validates the input against the declared
types, sends it to the run and puts the run back on this process's own queue, where the
replay finds the message and goes on.

A run is pinned to its graph's version (the generated module's digest and graphc's
version, DBOS's `application_version`): resuming it with a different graph is refused.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import inspect
import json
import os
import queue
import socket
import sys
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pydantic
from dbos import (
    DBOS,
    DBOSClient,
    DBOSPortableJSONSerializer,
    PortableWorkflowError,
    SetWorkflowAttributes,
    SetWorkflowID,
    WorkflowStatus,
)

from .graph import Graph
from .nodes import BaseNode, End, unset_waits, validate_waits, waited_types
from .state import HistoryStep

__all__ = (
    "DEFAULT_DB_FILE",
    "STATUSES",
    "DurableError",
    "DurableRuns",
    "RunInfo",
    "database_url",
    "graph_version",
)

DEFAULT_DB_FILE = "graphc-runs.sqlite"
"""The SQLite file (in the current directory) that holds runs when neither `--db` nor `$GRAPHC_DB` says."""
STATUSES = ("running", "waiting", "success", "error", "cancelled")
"""A run's status as `graphc runs list` shows it."""

_WORKFLOW = "graphc.run"
_NODE_STEP = "graphc.node"
_INPUT_TOPIC = "graphc.input"
_WAIT_EVENT = "graphc.waiting"
_WAIT_SECONDS = 365 * 24 * 3600.0  # a recv's timeout: a run waits for a person for as long as it takes
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


class DurableError(Exception):
    """A durable-run request that cannot be carried out; the message says why and what to do."""


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
    spec: str | None = None
    """The spec file the run was started from, when it was started from one."""
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
    history: list[Any] = field(default_factory=list, repr=False)
    """The history as `Graph.dump_history` writes it, when asked for."""

    def as_json(self) -> dict[str, Any]:
        """The run as `graphc runs show --format json` prints it."""
        data = {k: v for k, v in self.__dict__.items() if k != "history"}
        data["started"] = self.started.isoformat() if self.started else None
        data["updated"] = self.updated.isoformat() if self.updated else None
        return data


def database_url(db: str | None) -> str:
    """The system database a `--db` value means: a URL, or a SQLite file path (default: `$GRAPHC_DB`, then a file)."""
    db = db or os.environ.get("GRAPHC_DB") or DEFAULT_DB_FILE
    if db.startswith("postgres://"):
        db = "postgresql://" + db.removeprefix("postgres://")
    if db.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        return db
    if "://" in db:
        raise DurableError(f"unsupported database URL `{db}`: use sqlite:///PATH, a file path, or postgresql://...")
    return "sqlite:///" + str(Path(db).resolve())


def graph_version(graph: Graph[Any, Any, Any]) -> str:
    """The version a run of `graph` is pinned to: the digest of its nodes' module source and graphc's version."""
    sources = []
    for module_name in sorted({cls.__module__ for cls in graph.node_types.values()}):
        module = sys.modules.get(module_name)
        try:
            sources.append(inspect.getsource(module) if module is not None else module_name)
        except (OSError, TypeError):  # no source to read: the classes' shapes stand in for it
            sources.append(module_name + repr(sorted(graph.node_types)))
    digest = hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]
    return f"{graph.name or 'graph'}-{digest}-graphc{_graphc_version()}"


def _graphc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphc")
    except PackageNotFoundError:
        return "dev"


# ---- what the workflow needs in this process -------------------------------------------


@dataclass
class _Loaded:
    """A graph this process can run: its codec for JSON and the deps its runs use here."""

    graph: Graph[Any, Any, Any]
    deps: Any
    spec: str | None

    def node(self, data: dict[str, Any]) -> BaseNode[Any, Any, Any]:
        node: BaseNode[Any, Any, Any] = _adapter(self.graph.node_types[data["node"]]).validate_python(data["data"])
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


def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    """One validator/serialiser per node or state class: building one costs a millisecond, a step far less."""
    adapter = _adapters.get(tp)
    if adapter is None:
        adapter = _adapters[tp] = pydantic.TypeAdapter(tp)
    return adapter


_loaded: dict[str, _Loaded] = {}
_signals: dict[str, queue.Queue[tuple[str, Any]]] = {}
"""Per run started or resumed from this process: where its workflow says it waits or has finished."""
_waiting_here: set[str] = set()
"""Runs whose workflow is blocked in `recv` in this process: input sent to them needs no resume."""
_LEAVE = {"graphc": "leave"}
"""What this process sends its own waiting runs as it exits: their threads return, the runs stay waiting."""
_leaving = threading.Event()


class _Leave(BaseException):
    """Ends a waiting run's execution in this process without an outcome (DBOS records none for it)."""


def _leave_waiting_runs() -> None:
    """At exit: wake the runs blocked in `recv` here, so the interpreter need not wait for their threads."""
    _leaving.set()
    for run_id in list(_waiting_here):
        with contextlib.suppress(Exception):
            DBOS.send(run_id, _LEAVE, _INPUT_TOPIC)


@DBOS.workflow(name=_WORKFLOW)
def _run_workflow(version: str, start: dict[str, Any], state: Any) -> Any:
    """A whole run; replayed from the recorded steps when resumed."""
    run_id = DBOS.workflow_id
    assert run_id is not None
    try:
        loaded = _loaded.get(version)
        if loaded is None:
            raise PortableWorkflowError(
                f"this process cannot run graph version {version}", "GraphVersionError", data={"version": version}
            )
        node, current = loaded.node(start), loaded.state(state)
        waits = 0  # the waits passed so far: a replay passes the same ones again
        loop = asyncio.new_event_loop()  # one loop for the run's nodes, so deps bound to a loop keep working
        try:
            while True:
                if node.waits_for and unset_waits(node):
                    waits += 1
                    values = _input_for(run_id, node, waits)
                    node = loaded.node({"node": node.get_id(), "data": {**loaded.dump_node(node)["data"], **values}})
                out = _node_step(loaded, node, current, loop)
                current = loaded.state(out["state"])
                if out["next"] is None:
                    return out["steps"][-1]["result"]["data"]
                node = loaded.node(out["next"])
        finally:
            loop.close()
    finally:
        if (signal := _signals.get(run_id)) is not None:
            signal.put(("finished", None))


def _input_for(run_id: str, node: BaseNode[Any, Any, Any], ordinal: int) -> dict[str, Any]:
    """Record what the run waits for, then block until a valid input arrives (the process may exit meanwhile)."""
    info = {"node": node.get_id(), "schema": waits_schema(type(node)), "ordinal": ordinal}
    DBOS.set_event(_WAIT_EVENT, info)
    if (signal := _signals.get(run_id)) is not None:
        signal.put(("waiting", ordinal))
    _waiting_here.add(run_id)
    try:
        while True:
            message = DBOS.recv(_INPUT_TOPIC, timeout_seconds=_WAIT_SECONDS)
            if _leaving.is_set():
                raise _Leave
            if isinstance(message, dict) and message != _LEAVE:
                with contextlib.suppress(ValueError):  # checked before it was sent; a stray message is skipped
                    validate_waits(type(node), message)
                    break
    finally:
        _waiting_here.discard(run_id)
    DBOS.set_event(_WAIT_EVENT, None)
    return message


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
        notes = [str(n) for n in getattr(e, "__notes__", [])]
        message = f"{type(e).__name__}: {e}" + "".join(f" ({n})" for n in notes)
        raise PortableWorkflowError(message, type(e).__name__, data={"node": node.get_id()}) from None
    return {
        "steps": json.loads(loaded.graph.dump_history(history)),
        "state": loaded.dump_state(state),
        "next": None if isinstance(next_node, End) else loaded.dump_node(next_node),
    }


def waits_schema(cls: type[BaseNode[Any, Any, Any]]) -> dict[str, Any]:
    """The JSON Schema of the input a node waits for: an object with one required property per field."""
    properties = {name: pydantic.TypeAdapter(tp).json_schema() for name, tp in waited_types(cls).items()}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


# ---- the engine: one DBOS per process -----------------------------------------------------


@dataclass
class _Engine:
    url: str
    version: str
    queue_name: str


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _launch(url: str, version: str) -> _Engine:
    """DBOS configured for this database and graph version, launched once per process (relaunched on change).

    Each process gets an executor id and a queue of its own: DBOS then recovers nothing
    behind the user's back at launch, and a run resumed here runs here.
    """
    global _engine
    with _engine_lock:
        if _engine is not None and (_engine.url, _engine.version) == (url, version):
            return _engine
        if _engine is not None:
            DBOS.destroy(destroy_registry=False)
        executor_id = f"graphc-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        queue_name = f"graphc-{executor_id}"
        DBOS(
            config={
                "name": "graphc",
                "system_database_url": url,
                "system_database_engine": _sqlite_engine(url) if url.startswith("sqlite:") else None,
                "application_version": version,
                "executor_id": executor_id,
                "serializer": _SERIALIZER,
                "log_level": os.environ.get("GRAPHC_DBOS_LOG_LEVEL", "CRITICAL"),
                "notification_listener_polling_interval_sec": 0.05,
            }
        )
        try:
            DBOS.launch()
            DBOS.register_queue(queue_name, polling_interval_sec=0.05)
        except Exception as e:
            DBOS.destroy(destroy_registry=False)
            raise DurableError(f"cannot open the run database {_shown(url)}: {e}") from None
        if _engine is None:  # before the executor's own exit hook joins the threads (these run in reverse)
            threading._register_atexit(_leave_waiting_runs)  # type: ignore[attr-defined]
        _engine = _Engine(url, version, queue_name)
        return _engine


def _sqlite_engine(url: str) -> Any:
    """DBOS's SQLite engine, in WAL mode with `synchronous=NORMAL`.

    A commit survives a killed process (what durable runs promise) without an fsync per
    step; only an OS crash or power loss may lose the last steps.
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


def _shown(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.split("@")[-1]


# ---- the API --------------------------------------------------------------------------------


class DurableRuns:
    """The durable runs in one database: start, look up, resume, cancel.

    Example:
        runs = DurableRuns("runs.sqlite")
        info = runs.start(graph, Draft(), deps=deps)      # runs until `End` or a wait
        if info.status == "waiting":
            info = runs.resume(info.id, graph, deps=deps, input={"approved": True, "comment": ""})
        history = runs.history(info.id, graph)
    """

    def __init__(self, db: str | None = None) -> None:
        """Open the runs of `db`: a URL (`sqlite:///...`, `postgresql://...`) or a SQLite file path.

        Args:
            db: Where the runs are kept; default `$GRAPHC_DB`, else `graphc-runs.sqlite` here.
        """
        self.url = database_url(db)
        self._client: DBOSClient | None = None

    # -- running

    def start(
        self,
        graph: Graph[Any, Any, Any],
        start_node: BaseNode[Any, Any, Any] | None = None,
        *,
        state: Any = None,
        deps: Any = None,
        run_id: str | None = None,
        spec: str | None = None,
    ) -> RunInfo:
        """Start a run and drive it until it ends, fails or waits for input.

        Args:
            graph: The graph (from `compiler.load`, or a compiled module's `graph`).
            start_node: The first node; default: the graph's start node.
            state: The initial state; default: a fresh one.
            deps: The dependencies; not stored (pass them again to `resume`).
            run_id: The run's id (default: a new UUID); an existing id is refused.
            spec: The spec file it comes from, recorded so `graphc runs resume` can load it again.
        """
        loaded = self._register(graph, deps, spec)
        node = start_node if start_node is not None else graph._default_start_node()
        if state is None and graph.default_state is not None:
            state = graph._fresh_state()
        engine = _launch(self.url, graph_version(graph))
        run_id = run_id or str(uuid.uuid4())
        if self._status(run_id) is not None:
            raise DurableError(f"a run with id `{run_id}` already exists; choose another --run-id")
        signal = _signals[run_id] = queue.Queue()
        attributes = {"graphc_graph": graph.name or "graph", "graphc_spec": spec or ""}
        with SetWorkflowID(run_id), SetWorkflowAttributes(attributes):
            DBOS.start_workflow(_run_workflow, engine.version, loaded.dump_node(node), loaded.dump_state(state))
        return self._outcome(run_id, signal, answered=0)

    def resume(
        self,
        run_id: str,
        graph: Graph[Any, Any, Any],
        *,
        deps: Any = None,
        input: dict[str, Any] | None = None,
        spec: str | None = None,
    ) -> RunInfo:
        """Continue a run that crashed or waits for input, until it ends, fails or waits again.

        Args:
            run_id: The run.
            graph: The same graph it was started with (same version).
            deps: The dependencies for the rest of the run.
            input: For a waiting run: a value for each waited-for field (JSON-like), validated first.
            spec: The spec file, as given to `start`.

        Raises:
            DurableError: no such run, it has ended, the graph is another version, or the input
                is missing or invalid — in which case nothing changes.
        """
        info = self.get(run_id)
        if info.status in ("success", "error", "cancelled"):
            raise DurableError(f"run `{run_id}` has already ended ({info.status}); there is nothing to resume")
        version = graph_version(graph)
        if info.version != version:
            raise DurableError(
                f"run `{run_id}` was started with graph version {info.version}, but this graph is {version}: "
                "its recorded steps cannot be replayed through changed code. Restore the spec (and graphc) "
                f"it was started with to resume it, or cancel it (`graphc runs cancel {run_id}`) and start a new run"
            )
        answered = 0  # a replay passes the waits up to this one again: those do not stop it
        if info.status == "waiting":
            assert info.node is not None
            answered = info.wait_ordinal
            if input is None:
                fields = ", ".join(info.waits_for["properties"]) if info.waits_for else ""
                raise DurableError(
                    f"run `{run_id}` waits at `{info.node}` for {fields}: pass them with --input JSON "
                    f"(schema: `graphc runs show {run_id}`)"
                )
            try:
                validate_waits(graph.node_types[info.node], input)
            except ValueError as e:
                raise DurableError(f"{e}; the run is unchanged") from None
        elif input is not None:
            raise DurableError(f"run `{run_id}` is not waiting for input ({info.status}); resume it without --input")
        self._register(graph, deps, spec)
        engine = _launch(self.url, version)
        signal = _signals[run_id] = queue.Queue()
        if run_id in _waiting_here:  # blocked in `recv` right here: the message wakes it
            DBOS.send(run_id, input, _INPUT_TOPIC)
        else:
            if input is not None:
                DBOS.send(run_id, input, _INPUT_TOPIC)
            DBOS.resume_workflow(run_id, queue_name=engine.queue_name)
        return self._outcome(run_id, signal, answered=answered)

    def _register(self, graph: Graph[Any, Any, Any], deps: Any, spec: str | None) -> _Loaded:
        loaded = _loaded[graph_version(graph)] = _Loaded(graph, deps, spec)
        return loaded

    def _outcome(self, run_id: str, signal: queue.Queue[tuple[str, Any]], *, answered: int) -> RunInfo:
        """Wait until the run's workflow here says it waits (beyond wait `answered`) or has finished."""
        try:
            while True:
                try:
                    kind, ordinal = signal.get(timeout=0.5)
                except queue.Empty:
                    status = self._status(run_id)
                    if status is not None and _DBOS_STATUS.get(status.status) in ("success", "error", "cancelled"):
                        break
                    continue
                if kind == "finished":  # its outcome is being recorded: wait for that
                    with contextlib.suppress(Exception):  # a failure is read back by `get`
                        DBOS.retrieve_workflow(run_id).get_result(polling_interval_sec=0.02)
                if kind == "finished" or ordinal > answered:
                    break
        finally:
            _signals.pop(run_id, None)
        return self.get(run_id)

    # -- looking up

    def get(self, run_id: str, *, history: bool = False) -> RunInfo:
        """The run's status, node, what it waits for, output or error (and its history JSON if asked).

        Raises:
            DurableError: there is no such run.
        """
        status = self._status(run_id)
        if status is None:
            raise DurableError(f"no run `{run_id}` in {_shown(self.url)}" + self._known_ids_hint())
        return self._info(status, history=history)

    def list(self, status: str | None = None) -> builtins.list[RunInfo]:
        """The runs in the database, oldest first, optionally only those with one status."""
        if status is not None and status not in STATUSES:
            raise DurableError(f"unknown status `{status}`; one of {', '.join(STATUSES)}")
        client = self._db()
        if client is None:
            return []
        runs = [self._info(s) for s in client.list_workflows(name=_WORKFLOW, load_input=True, load_output=True)]
        return [r for r in runs if status is None or r.status == status]

    def history(self, run_id: str, graph: Graph[Any, Any, Any]) -> builtins.list[HistoryStep[Any, Any]]:
        """The run's history, typed: the same `NodeStep`/`EndStep` list a plain run of the graph produces."""
        return graph.load_history(json.dumps(self.get(run_id, history=True).history))

    def cancel(self, run_id: str) -> RunInfo:
        """Cancel a run that has not ended; a cancelled run is never resumed."""
        info = self.get(run_id)
        if info.status in ("success", "error", "cancelled"):
            raise DurableError(f"run `{run_id}` has already ended ({info.status})")
        client = self._db()
        assert client is not None
        client.cancel_workflow(run_id)
        return self.get(run_id)

    def close(self) -> None:
        """Release the connection used for look-ups."""
        if self._client is not None:
            self._client.destroy()
            self._client = None

    # -- reading the system database

    def _db(self) -> DBOSClient | None:
        """A client on the system database; None when it does not exist yet (no run was ever started)."""
        if self._client is None:
            if self.url.startswith("sqlite:///") and not Path(self.url.removeprefix("sqlite:///")).exists():
                return None
            try:
                self._client = DBOSClient(system_database_url=self.url, serializer=_SERIALIZER)
            except Exception as e:
                raise DurableError(f"cannot open the run database {_shown(self.url)}: {e}") from None
        return self._client

    def _status(self, run_id: str) -> WorkflowStatus | None:
        client = self._db()
        if client is None:
            return None
        found = client.list_workflows(workflow_ids=[run_id], load_input=True, load_output=True)
        return found[0] if found and found[0].name == _WORKFLOW else None

    def _known_ids_hint(self) -> str:
        client = self._db()
        ids = [s.workflow_id for s in client.list_workflows(name=_WORKFLOW, load_input=False)] if client else []
        return f" (runs there: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''})" if ids else " (it has no runs)"

    def _info(self, wf: WorkflowStatus, *, history: bool = False) -> RunInfo:
        client = self._db()
        assert client is not None
        status = _DBOS_STATUS.get(wf.status, "running")
        attributes = wf.attributes or {}
        waiting = None
        if status == "running":
            waiting = client.get_event(wf.workflow_id, _WAIT_EVENT, timeout_seconds=0)
            if waiting:
                status = "waiting"
        steps = [s for s in client.list_workflow_steps(wf.workflow_id) if s["function_name"] == _NODE_STEP]
        outputs = [s["output"] for s in steps if isinstance(s["output"], dict)]
        inputs: dict[str, Any] = dict(wf.input or {})
        start = list(inputs.get("args") or [])
        state = outputs[-1]["state"] if outputs else (start[2] if len(start) > 2 else None)
        if waiting:
            node: str | None = waiting["node"]
        elif outputs:
            node = outputs[-1]["next"]["node"] if outputs[-1]["next"] else "End"
        else:
            node = start[1]["node"] if len(start) > 1 and isinstance(start[1], dict) else None
        error = None
        if wf.error is not None:
            error = str(wf.error)
        return RunInfo(
            id=wf.workflow_id,
            graph=attributes.get("graphc_graph", "?"),
            status=status,
            node=node,
            version=wf.app_version or "",
            started=_time(wf.created_at),
            updated=_time(wf.updated_at),
            spec=attributes.get("graphc_spec") or None,
            waits_for=waiting["schema"] if waiting else None,
            wait_ordinal=waiting["ordinal"] if waiting else 0,
            output=wf.output if status == "success" else None,
            state=state,
            error=error,
            history=[step for out in outputs for step in out["steps"]] if history else [],
        )


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc) if epoch_ms is not None else None
