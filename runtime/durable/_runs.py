"""`DurableRuns`, the public API over the rest, and `RunInfo`."""

from __future__ import annotations

import builtins
import json
import queue
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dbos import (
    DBOS,
    DBOSClient,
    EnqueueOptions,
    SetWorkflowAttributes,
    SetWorkflowID,
    WorkflowStatus,
)

from .. import clock, observe
from ..graph import Graph
from ..nodes import BaseNode, validate_waits
from ..state import HistoryStep
from ._common import (
    _DBOS_STATUS,
    _ENDED,
    _FORK_STEP,
    _NODE_STEP,
    _SERIALIZER,
    _SPEC_KEY,
    _WAIT_EVENT,
    _WORKFLOW,
    DEFAULT_MAX_STEPS,
    ITEMS_QUEUE,
    MAX_RUN_ID,
    OUTAGE_SECONDS,
    RUNS_QUEUE,
    STATUSES,
    WAITING_QUEUE,
    DatabaseUnavailable,
    DurableError,
    SpecLoader,
    _migrate,
    _reachable,
    _reason,
    _shown,
    _sqlite_file_problem,
    database_url,
    graph_version,
    worker_version,
)
from ._engine import _engine_lock, _launch, _release_engine, _signals, _stop_engine, active_engine
from ._schedules import Schedule, Schedules
from ._store import _Heartbeat, _Store
from ._timers import Timekeeper, fire
from ._workflow import _Loaded, _loaded, _run_workflow, warm_up


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
    """When waiting or sleeping: which of the run's parks (waits and sleeps) this is (1 for the first)."""
    wakes: datetime | None = None
    """When sleeping: when it wakes; when waiting with a deadline: when the deadline takes the wait."""
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
        data["wakes"] = self.wakes.isoformat() if self.wakes else None
        return data


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
        self._timekeeper: Timekeeper | None = None

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
        engine = _launch(self.url, version, user=id(self))
        run_id = self._new_id(run_id)
        signal = _signals[run_id] = queue.Queue()
        attributes = {"graphc_graph": graph.name or "graph", "graphc_spec": spec or "", **_trace_of(graph)}
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
        answered = 0  # a replay passes the parks up to this one again: those do not stop it
        deadline_passed = info.status == "waiting" and info.wakes is not None and info.wakes <= clock.current().now()
        if info.status == "sleeping":
            if info.queued:
                raise DurableError(
                    f"run `{run_id}` sleeps until {_when(info.wakes)}; a worker wakes it then (nothing to resume)"
                )
            if input is not None:
                raise DurableError(f"run `{run_id}` sleeps (until {_when(info.wakes)}): it waits for no input")
            answered = info.wait_ordinal
        elif deadline_passed:
            answered = info.wait_ordinal
            self._take_deadline(info)
            if input is not None:
                raise DurableError(
                    f"the wait at `{info.node}` (wait {info.wait_ordinal} of run `{run_id}`) ran out at "
                    f"{_when(info.wakes)}: your input was not taken, and the run goes on along its deadline's edge"
                    + (f" (`graphc runs resume {run_id}` continues it)" if not info.queued else "")
                )
            if info.queued:
                return self.get(run_id)
        elif info.status == "waiting":
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
        engine = _launch(self.url, info.version, user=id(self))
        signal = _signals[run_id] = queue.Queue()
        for sub_run in self._unfinished_sub_runs(run_id):  # a crash left them on the queue of a process now gone
            engine.client.resume_workflow(sub_run, queue_name=engine.queue_name)
        engine.client.resume_workflow(run_id, queue_name=engine.queue_name)
        warm_up(graph)  # while DBOS's queue hands the run to this process
        self._not_cancelled_meanwhile(client, run_id)
        return self._outcome(run_id, signal, answered=answered)

    def _unfinished_sub_runs(self, run_id: str) -> builtins.list[str]:
        """The sub-graph runs of a run's forks (theirs too) that have not ended: their ids start `RUN:`."""
        client = self._db()
        assert client is not None
        found = client.list_workflows(
            workflow_id_prefix=f"{run_id}:", status=["PENDING", "ENQUEUED"], load_input=False, load_output=False
        )
        return [s.workflow_id for s in found]

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

    def _take_deadline(self, info: RunInfo) -> None:
        """The wait ran out: the deadline takes it (unless an answer or cancel came first); a worker's run goes on."""
        client, store = self._db(), _Store(self.url)
        if info.queued:
            fire(store, client, info.id, info.wait_ordinal, "deadline", RUNS_QUEUE)
        else:  # the resume that follows runs it here
            store.claim(info.id, info.wait_ordinal, "deadline")
            store.timer_done(info.id, info.wait_ordinal)
        taken = store.answer(info.id, info.wait_ordinal)
        if taken is not None and taken[0] == "cancel":
            raise DurableError(f"run `{info.id}` was cancelled; there is nothing to resume")

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
                if kind == "sleeping":  # this process is the run's: it wakes it when the sleep ends
                    self._wake_when_due(run_id, ordinal)
                    continue
                if ordinal > answered:
                    break
        finally:
            _signals.pop(run_id, None)
        return self._get_when_back(run_id)

    def _wake_when_due(self, run_id: str, ordinal: int) -> None:
        """Sleep (on the clock in use) until the run's sleep `ordinal` ends, then wake the run on this process's queue.

        Returns early if the run was cancelled meanwhile. Killed here, the run stays parked:
        `resume` continues it, sleeping what is left.
        """
        store, engine = _Store(self.url), active_engine()
        assert engine is not None
        said = False
        while True:
            row = store._execute(
                "SELECT due FROM graphc_timers WHERE run_id = :r AND ordinal = :o", {"r": run_id, "o": ordinal}
            ).fetchone()
            left = float(row[0]) - clock.current().now().timestamp() if row is not None else 0.0
            taken = store.answer(run_id, ordinal)
            if taken is not None and taken[0] == "cancel":
                return
            if left <= 0:
                fire(store, engine.client, run_id, ordinal, "sleep", engine.queue_name)
                return
            if not said and row is not None:
                said = True
                self._say(f"run `{run_id}` sleeps until {_when(datetime.fromtimestamp(float(row[0]), timezone.utc))}")
            time.sleep(min(left, 0.5) if isinstance(clock.current(), clock.SystemClock) else 0.01)

    def _get_when_back(self, run_id: str) -> RunInfo:
        """`get`, once more on a connection of its own if the first met one the database dropped in an outage.

        A pooled connection opened before an outage fails the first time it is used after it
        (SQLAlchemy then drops it); the database itself is back, as the status just read shows.
        """
        deadline = time.monotonic() + OUTAGE_SECONDS
        while True:
            try:
                return self.get(run_id)
            except DatabaseUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

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
        spec_files: Mapping[str, str] | None = None,
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
            spec_files: The specs it runs as sub-graphs (`use`), by path relative to it → text: stored
                with it, so a worker compiles it from the database alone.
        """
        node, state = self._start_of(graph, start_node, state)
        codec = _Loaded(graph, None)
        self._db(create=True)
        digest = _Store(self.url).put(spec_name, spec_source, spec_files)
        run_id = self._new_id(run_id)
        client = self._db()
        assert client is not None
        attributes = {
            "graphc_graph": graph.name or "graph",
            "graphc_spec": spec or spec_name,
            "graphc_queued": True,
            **_trace_of(graph),
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
        engine = _launch(
            self.url,
            worker_version(),
            executor_id=executor_id,
            worker_concurrency=concurrency,
            global_concurrency=queue_concurrency,
            load_spec=load_spec,
            report=self.report,
            user=id(self),
        )
        schedules = Schedules(self.url)
        self._timekeeper = Timekeeper(
            self.url, engine.client, RUNS_QUEUE, lambda now: schedules.tick(engine.client, now)
        )

    def in_flight(self) -> builtins.list[str]:
        """The runs this worker process is running now (PENDING under its executor id)."""
        engine = active_engine()
        if engine is None:
            return []
        return [
            s.workflow_id
            for s in engine.client.list_workflows(status="PENDING", executor_id=engine.executor_id, load_input=False)
        ]

    def stop_serving(self, grace_seconds: float) -> builtins.list[str]:
        """Stop taking runs; wait up to `grace_seconds` for those in flight, hand the rest back; return those."""
        if active_engine() is None:
            return []
        deadline = time.monotonic() + grace_seconds
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.1)
        handed = self.in_flight()
        if self._timekeeper is not None:
            self._timekeeper.stop()
            self._timekeeper = None
        with _engine_lock:
            engine = _stop_engine()
        if engine is None:
            return []
        held = engine.client.list_workflows(workflow_ids=handed, load_input=False, load_output=False) if handed else []
        for status in held:  # back on the queue; this worker's executions are fenced off by DBOS
            queue_name = ITEMS_QUEUE if status.parent_workflow_id else RUNS_QUEUE
            engine.client.resume_workflow(status.workflow_id, queue_name=queue_name)
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
            queue_name = ITEMS_QUEUE if status.parent_workflow_id else RUNS_QUEUE
            client.resume_workflow(status.workflow_id, queue_name=queue_name)
        return [s.workflow_id for s in held]

    # -- retrying and forking submitted runs: a new run that keeps the first steps and goes on from there

    def retry(self, run_id: str) -> RunInfo:
        """A new run of a failed submitted run that keeps its recorded steps and runs again from the one that failed.

        The new run is `RUN.retry-N`, on the workers' queue; the failed run stays as it was.
        """
        info = self.get(run_id)
        if info.status != "error":
            raise DurableError(f"run `{run_id}` has not failed ({info.status}): fork it from a step instead")
        return self._fork(info, None, None, "retry")

    def fork(self, run_id: str, step: int, state: Any = None) -> RunInfo:
        """A new run of a submitted run that keeps its first `step` nodes and goes on from there, on the workers.

        Args:
            run_id: The run to fork (it stays as it is).
            step: How many of its nodes the new run keeps (0: none; it starts where the run started).
            state: The state (JSON) the new run goes on with, instead of the state after node `step`.
        """
        if step < 0 or (state is not None and step == 0):
            raise DurableError("--step is 1 or more to go on with an edited state (0: start again as it started)")
        return self._fork(self.get(run_id), step, state, "fork")

    def _fork(self, info: RunInfo, step: int | None, state: Any, kind: str) -> RunInfo:
        if not info.queued:
            raise DurableError(
                f"run `{info.id}` ran in the process that started it: only submitted runs (on workers) are forked"
            )
        client = self._db()
        assert client is not None
        operations = client.list_workflow_steps(info.id)
        start, kept = _fork_point(operations, step, info.id)
        parks = (
            sum(1 for s in operations if s["function_name"] == "DBOS.setEvent" and s["function_id"] < start) + 1
        ) // 2
        taken = {
            s.workflow_id for s in client.list_workflows(workflow_id_prefix=f"{info.id}.{kind}-", load_input=False)
        }
        new_id = next(f"{info.id}.{kind}-{n}" for n in range(1, len(taken) + 2) if f"{info.id}.{kind}-{n}" not in taken)
        with SetWorkflowID(new_id):  # parked until it is ready: no worker takes it half made
            client.fork_workflow(info.id, start, application_version=info.version, queue_name=WAITING_QUEUE)
        _Store(self.url).copy_answers(info.id, new_id, parks)
        if state is not None:
            _replace_state(client, new_id, kept, state)
        client.resume_workflow(new_id, queue_name=RUNS_QUEUE)
        return self.get(new_id)

    # -- schedules: runs workers start on time

    def schedule(
        self,
        name: str,
        spec_name: str,
        spec_source: str,
        graph: Graph[Any, Any, Any],
        start_node: BaseNode[Any, Any, Any] | None = None,
        *,
        every: float | None = None,
        cron: str | None = None,
        missed: str = "skip",
        state: Any = None,
        spec: str | None = None,
        spec_files: Mapping[str, str] | None = None,
        replace: bool = False,
    ) -> Schedule:
        """Have workers start a run of a spec on every tick: `every` seconds, or on a `cron` expression (UTC).

        The spec is stored as `submit` stores it; each tick's run starts at `start_node` with
        `state` (default: the graph's start and a fresh state), as it is now.

        Args:
            name: The schedule's name; its runs are named `NAME@TIME`.
            spec_name: The spec's file name (its line notes name it).
            spec_source: The spec's text.
            graph: The spec compiled (`compiler.load`), to build and check the start node and state.
            start_node: The node each run starts at; default: the graph's start node.
            every: Seconds between ticks (at least 1), the first one interval from now.
            cron: A cron expression (5 fields, or 6 with seconds first), in UTC.
            state: The state each run starts with; default: a fresh one.
            spec: The spec file's path, shown by `runs list` / `show`.
            spec_files: The specs it runs as sub-graphs, as for `submit`.
            missed: Ticks missed while no worker was up (or the schedule was paused): `skip`, `once`, `all`.
            replace: Replace a schedule of that name rather than refuse.
        """
        from dsl.timing import cron_problem

        if (every is None) == (cron is None):
            raise DurableError("a schedule needs one of an interval (`every`) or a cron expression")
        if cron is not None and (problem := cron_problem(cron)) is not None:
            raise DurableError(f"bad cron expression: {problem}")
        if every is not None and every < 1:
            raise DurableError("a schedule's interval is at least 1 s")
        if missed not in ("skip", "once", "all"):
            raise DurableError(f"`missed` is skip, once or all, not {missed!r}")
        node, state = self._start_of(graph, start_node, state)
        codec = _Loaded(graph, None)
        self._db(create=True)
        digest = _Store(self.url).put(spec_name, spec_source, spec_files)
        return Schedules(self.url).add(
            name,
            digest=digest,
            graph=graph.name or "graph",
            spec=spec or spec_name,
            start=codec.dump_node(node),
            state=codec.dump_state(state),
            every=every,
            cron=cron,
            missed=missed,
            now=float(int(clock.current().now().timestamp())),  # ticks on whole seconds: run ids read better
            replace=replace,
        )

    def schedules(self) -> builtins.list[Schedule]:
        """Every schedule in the database, by name."""
        return Schedules(self.url).list() if self._db() is not None else []

    def pause_schedule(self, name: str, paused: bool = True) -> Schedule:
        """Stop a schedule starting runs (`paused=False`: start again; missed ticks go as it says)."""
        return Schedules(self.url).set_paused(name, paused)

    def delete_schedule(self, name: str) -> None:
        """Remove a schedule; the runs it started stay."""
        Schedules(self.url).delete(name)

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
            workflows = client.list_workflows(name=_WORKFLOW, has_parent=False, load_input=True, load_output=True)
            runs = [self._info(s, detail=False) for s in workflows]
        return [r for r in runs if status is None or r.status == status]

    def watch(self, run_id: str, *, poll_seconds: float = 0.5) -> Iterator[dict[str, Any]]:
        """A run's events as they happen, until it ends: its steps, then each change of status, node or wake time.

        `{"event": "step", "number": N, "step": {...}}` for each step of its history (those
        recorded before too), `{"event": "status", "status", "node", "wakes", "wait"}` when
        they change; the last event is the status it ended with.
        """
        seen, last = 0, None
        while True:
            info = self.get(run_id, history=True)
            for number, step in enumerate(info.history[seen:], seen + 1):
                yield {"event": "step", "run": run_id, "number": number, "step": step}
            seen = len(info.history)
            status = {
                "event": "status",
                "run": run_id,
                "status": info.status,
                "node": info.node,
                "wakes": info.wakes.isoformat() if info.wakes else None,
                "wait": info.wait_ordinal or None,
            }
            if status != last:
                yield {**status, **({"output": info.output} if info.status == "success" else {})}
                last = status
            if info.status in _ENDED:
                return
            time.sleep(poll_seconds)

    def history(self, run_id: str, graph: Graph[Any, Any, Any]) -> builtins.list[HistoryStep[Any, Any]]:
        """The run's history, typed: the same `NodeStep`/`EndStep` list a plain run of the graph produces."""
        return graph.load_history(json.dumps(self.get(run_id, history=True).history))

    def stored_spec(self, run_id: str) -> tuple[str, str, dict[str, str]]:
        """The file name, source and used specs (path → text) of the spec a submitted run runs."""
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
        if info.status in ("waiting", "sleeping"):
            store.claim(run_id, info.wait_ordinal, "cancel")  # no answer nor timer can take this park any more
        client.cancel_workflow(run_id)
        for sub_run in self._unfinished_sub_runs(run_id):
            client.cancel_workflow(sub_run)
        return self.get(run_id)

    def close(self) -> None:
        """Release the connection used for look-ups, and stop DBOS in this process (the next run starts it again)."""
        if self._client is not None:
            self._client.destroy()
            self._client = None
        with _engine_lock:
            if (engine := _release_engine(id(self))) is not None:
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
        listed = client.list_workflows(name=_WORKFLOW, has_parent=False, load_input=False) if client else []
        ids = [s.workflow_id for s in listed]
        return f" (runs there: {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''})" if ids else " (it has no runs)"

    def _info(self, wf: WorkflowStatus, *, history: bool = False, detail: bool = True) -> RunInfo:
        """What a workflow row says of its run; without `detail`, an ended run's steps are not read."""
        client = self._db()
        assert client is not None
        attributes = wf.attributes or {}
        status = _DBOS_STATUS.get(wf.status, "running")
        if wf.status == "ENQUEUED":  # parked at a wait or a sleep, or on a queue that no process has taken it from
            status = "waiting" if wf.queue_name == WAITING_QUEUE else "queued"
        waiting = client.get_event(wf.workflow_id, _WAIT_EVENT, timeout_seconds=0) if status == "waiting" else None
        wakes = waiting.get("sleeps_until", waiting.get("deadline")) if waiting else None
        if waiting and "sleeps_until" in waiting:
            status = "sleeping"
        outputs: builtins.list[dict[str, Any]] = []
        if detail or history or status in ("running", "cancelled"):
            steps = [
                s for s in client.list_workflow_steps(wf.workflow_id) if s["function_name"] in (_NODE_STEP, _FORK_STEP)
            ]
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
            waits_for=waiting.get("schema") if waiting else None,
            wait_ordinal=waiting["ordinal"] if waiting else 0,
            wakes=datetime.fromtimestamp(wakes, tz=timezone.utc) if wakes is not None else None,
            output=wf.output if status == "success" else None,
            state=outputs[-1]["state"] if outputs else (start[2] if len(start) > 2 else None),
            error=str(wf.error) if wf.error is not None else None,
            steps=sum(step.get("kind") == "node" for out in outputs for step in out["steps"]),
            history=[step for out in outputs for step in out["steps"]] if history else [],
        )


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


def _trace_of(graph: Graph[Any, Any, Any]) -> dict[str, Any]:
    """The trace a run joins, stored with it so every process that takes it up continues it (when traced)."""
    for observer in observe.watching():
        carrier = observer.carrier(graph)
        if carrier:  # an observer that does not trace (a printer) gives none
            return {"graphc_trace": carrier}
    return {}


def _fork_point(operations: builtins.list[Any], step: int | None, run_id: str) -> tuple[int, int | None]:
    """Where a fork starts (the DBOS step it runs first) and the recorded step whose state it goes on from.

    `step` None: from the node step that failed (else after the last one recorded), the waits
    before it kept with their answers. A step records a node and the pure nodes after it: a
    fork starts at a step's beginning only.
    """
    records = [s for s in operations if s["function_name"] in (_NODE_STEP, _FORK_STEP)]
    done = [s for s in records if s["error"] is None]
    if step is None:
        failed = next((s for s in records if s["error"] is not None), None)
        start = (
            failed["function_id"] if failed is not None else max((s["function_id"] for s in operations), default=0) + 1
        )
        return start, done[-1]["function_id"] if done else None
    count = 0
    for record in done:
        if count == step:
            kept = _last(done, record)
            return _after(kept), kept
        count += sum(h.get("kind") == "node" for h in record["output"]["steps"])
        if count > step:
            raise DurableError(
                f"node {step} of run `{run_id}` was recorded with the pure nodes after it, in one step "
                f"(nodes {count - sum(h.get('kind') == 'node' for h in record['output']['steps']) + 1}-{count}): "
                "fork at the start of a step"
            )
    if count == step:
        kept = done[-1]["function_id"] if done else None
        return _after(kept), kept
    raise DurableError(f"run `{run_id}` recorded {count} node(s): there is no node {step} to fork after")


def _after(kept: int | None) -> int:
    """The first DBOS step after node step `kept` (None: the run's first), where a fork keeping it starts.

    So the wait or sleep of the node after the kept ones is met afresh, not replayed with its answer.
    """
    return kept + 1 if kept is not None else 1


def _last(done: builtins.list[Any], record: Any) -> int | None:
    before = [s["function_id"] for s in done if s["function_id"] < record["function_id"]]
    return before[-1] if before else None


def _replace_state(client: DBOSClient, run_id: str, step: int | None, state: Any) -> None:
    """The state a forked run goes on with: written into the copy of the step it goes on from (its record alone)."""
    import sqlalchemy as sa

    if step is None:
        raise DurableError("the fork keeps no step whose state could be replaced")
    database = client._sys_db  # DBOS keeps no API to edit a copied step: its table, as DBOS wrote it
    table = database.tables.operation_outputs
    where = (table.c.workflow_uuid == run_id) & (table.c.function_id == step)
    with database.engine.begin() as connection:
        output = connection.execute(sa.select(table.c.output).where(where)).scalar_one()
        record = _SERIALIZER.deserialize(output)
        record["state"] = state
        if record["steps"] and record["steps"][-1].get("kind") == "node":
            record["steps"][-1]["state"] = state
        connection.execute(sa.update(table).where(where).values(output=_SERIALIZER.serialize(record)))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "?"


def _time(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc) if epoch_ms is not None else None
