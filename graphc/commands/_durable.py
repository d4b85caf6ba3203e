"""`graphc run --durable` and `graphc runs ...`: the command line over `runtime.durable`.

Output follows `graphc run`: stdout gets the run id (first line), then the result alone;
the trace and every message go to stderr. Exit codes: 0 the run ended, 3 it waits for
input, 1 a node failed (or the spec does not load), 2 a bad request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.durable import DurableRuns, RunInfo

from graphc.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, EXIT_WAITING

__all__ = ("open_runs", "run_durably", "runs_command", "submit_command", "worker_command")


SpecGraph = Callable[[str, "str | None"], tuple[Any, Any]]
"""Loads a spec path into (graph, deps), `--deps` JSON applied; exits with a message if it cannot."""


def run_durably(args: argparse.Namespace, graph: Any, start: Any, state: Any, deps: Any) -> int:
    """Start a durable run of a loaded spec and drive it until it ends, fails or waits."""
    runs = open_runs(args.db)
    if runs is None:
        return EXIT_USAGE
    from runtime.durable import DEFAULT_MAX_STEPS

    spec = os.path.abspath(args.spec)
    max_steps = DEFAULT_MAX_STEPS if args.max_steps is None else args.max_steps

    def drive() -> RunInfo:
        return runs.start(graph, start, state=state, deps=deps, run_id=args.run_id, spec=spec, max_steps=max_steps)

    return _finish(args, runs, drive)


def runs_command(args: argparse.Namespace, spec_graph: SpecGraph) -> int:
    """`graphc runs list|show|resume|cancel|recover`."""
    runs = open_runs(args.db)
    if runs is None:
        return EXIT_USAGE
    try:
        return _runs_command(args, spec_graph, runs)
    finally:
        runs.close()  # cleanly: a SQLite database is one file again (no -wal, no -shm)


def _runs_command(args: argparse.Namespace, spec_graph: SpecGraph, runs: DurableRuns) -> int:
    from runtime.durable import DurableError

    try:
        if args.runs_command == "list":
            return _list(args, runs)
        if args.runs_command == "show":
            return _show(args, runs)
        if args.runs_command == "cancel":
            info = runs.cancel(args.run_id)
            print(f"run {info.id}: {info.status}", file=sys.stderr)
            return EXIT_OK
        if args.runs_command == "watch":
            for event in runs.watch(args.run_id):
                print(json.dumps(event), flush=True)
            return EXIT_OK if event.get("status") == "success" else EXIT_FAILED
        if args.runs_command in ("retry", "fork"):
            if args.runs_command == "retry":
                made = runs.retry(args.run_id)
            else:
                state = _json_value(args.state, "--state") if args.state is not None else None
                made = runs.fork(args.run_id, args.step, state)
            print(made.id)
            print(f"graphc runs {args.runs_command}: run {made.id} is on the workers' queue", file=sys.stderr)
            return EXIT_OK
        if args.runs_command == "recover":
            handed = runs.recover(args.executor)
            print(f"{len(handed)} run(s) of {args.executor} back on the queue: {' '.join(handed)}", file=sys.stderr)
            return EXIT_OK
        info = runs.get(args.run_id)
        given = _json_object(args.input)
        if info.queued:
            return _resume_queued(runs, info, given, args.wait)
        if info.spec is None:
            raise DurableError(
                f"run `{info.id}` was not started from a spec file; "
                "resume it from Python with `DurableRuns.resume(run_id, graph, ...)`"
            )
    except DurableError as e:
        print(f"graphc runs {args.runs_command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    graph, deps = spec_graph(info.spec, args.deps)
    return _finish(args, runs, lambda: runs.resume(info.id, graph, deps=deps, input=given, wait=args.wait))


def _resume_queued(runs: DurableRuns, info: RunInfo, given: dict[str, Any] | None, wait: int | None) -> int:
    """A submitted run goes back on the workers' queue (its input checked against the stored spec's types)."""
    from compiler.workers import spec_loader

    graph = None
    if info.status == "waiting":
        name, source, files = runs.stored_spec(info.id)
        try:
            graph = spec_loader()(name, source, files)[0]
        except Exception:  # it compiles on the workers, not here: the recorded schema checks the input's shape
            graph = None
    resumed = runs.resume(info.id, graph, input=given, wait=wait)
    print(info.id)
    print(f"graphc: run {info.id} is back on the queue ({resumed.status})", file=sys.stderr)
    return EXIT_OK


def _json_value(text: str, option: str) -> Any:
    """The JSON value an option holds; DurableError (a bad request) if it is not JSON."""
    from graphc.arguments import ArgumentValueError, json_value
    from runtime.durable import DurableError

    try:
        return json_value(text, option)
    except ArgumentValueError as e:
        raise DurableError(str(e)) from None


def _json_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object `--input` holds, None when it is absent."""
    from runtime.durable import DurableError

    if text is None:
        return None
    value = _json_value(text, "--input")
    if not isinstance(value, dict):
        raise DurableError("--input must be a JSON object of field values")
    return value


def submit_command(args: argparse.Namespace, graph: Any, start: Any, state: Any, source: Any) -> int:
    """`graphc submit`: store the spec, queue the run, print its id."""
    runs = open_runs(args.db)
    if runs is None:
        return EXIT_USAGE
    from compiler.workers import used_sources
    from runtime.durable import DEFAULT_MAX_STEPS, DurableError

    try:
        run_id = runs.submit(
            os.path.basename(source.name),
            source.text,
            graph,
            start,
            state=state,
            run_id=args.run_id,
            spec=os.path.abspath(args.spec),
            max_steps=DEFAULT_MAX_STEPS if args.max_steps is None else args.max_steps,
            spec_files=used_sources(graph, args.spec),
        )
    except DurableError as e:
        print(f"graphc submit: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        runs.close()
    print(run_id)
    return EXIT_OK


def worker_command(args: argparse.Namespace) -> int:
    """`graphc worker`: take submitted runs until SIGTERM/SIGINT; then finish or hand back, and exit 0."""
    import signal
    import threading

    if open_runs(args.db) is None:
        return EXIT_USAGE
    from compiler.workers import Worker
    from runtime.durable import DurableError

    if args.concurrency < 1 or (args.queue_concurrency is not None and args.queue_concurrency < 1):
        print("graphc worker: error: --concurrency and --queue-concurrency must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    # as Celery and RQ do: the modules beside the worker (and under --path) are importable by the specs it runs
    for folder in reversed([os.getcwd(), *(os.path.abspath(p) for p in args.path)]):
        if folder not in sys.path:
            sys.path.insert(0, folder)

    def report(line: str) -> None:
        print(f"graphc worker {args.id}: {line}", file=sys.stderr, flush=True)

    def lost(line: str) -> None:  # two workers must never run under one id: this one leaves at once
        report(f"{line}; stopping")
        os._exit(EXIT_FAILED)

    try:
        worker = Worker(
            args.db,
            executor_id=args.id,
            concurrency=args.concurrency,
            queue_concurrency=args.queue_concurrency,
            allowed_imports=None if args.trust_specs else args.allow_import,
            report=report,
            on_lost=lost,
        )
        worker.start()
    except DurableError as e:
        print(f"graphc worker: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if stopping.is_set():  # the second signal: leave now; DBOS recovers what was held
            os._exit(EXIT_FAILED)
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"graphc worker {args.id}: taking runs (concurrency {args.concurrency})", file=sys.stderr, flush=True)
    while not stopping.wait(0.5):
        pass
    print(f"graphc worker {args.id}: stopping; runs in flight have {args.grace:g} s", file=sys.stderr, flush=True)
    handed = worker.stop(args.grace)
    if handed:
        print(f"graphc worker {args.id}: handed back {' '.join(handed)}", file=sys.stderr)
    return EXIT_OK


def open_runs(db: str | None) -> DurableRuns | None:
    """The runs of `--db`; None after saying why they cannot be opened (DBOS missing, a bad path)."""
    try:
        from runtime.durable import DurableError, DurableRuns
    except ImportError as e:
        print(f"graphc: error: durable runs need DBOS ({e}): pip install 'graphc[durable]'", file=sys.stderr)
        return None
    try:
        return DurableRuns(db, report=lambda line: print(f"graphc: {line}", file=sys.stderr, flush=True))
    except DurableError as e:
        print(f"graphc: error: --db: {e}", file=sys.stderr)
        return None


def _finish(args: argparse.Namespace, runs: DurableRuns, drive: Callable[[], RunInfo]) -> int:
    """Drive the run and report how it stopped (a waiting run's thread here returns at exit)."""
    import contextlib

    from runtime.durable import DatabaseUnavailable, DurableError

    try:
        with contextlib.redirect_stdout(sys.stderr):  # what nodes print never mixes with the run id and result
            info = drive()
        if args.history and info.status == "success":
            info.history = runs.get(info.id, history=True).history
        runs.close()  # cleanly: a SQLite database is one file again (no -wal, no -shm)
    except DatabaseUnavailable as e:  # DBOS's threads wait on the database for ever: leave without them
        if e.run_id is not None:
            print(e.run_id, flush=True)  # as ever, stdout's first line is the run id
        print(f"graphc {args.command}: error: {e}", file=sys.stderr, flush=True)
        os._exit(EXIT_FAILED)
    except DurableError as e:
        print(f"graphc {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(info.id, flush=True)
    if info.status == "success":
        if args.output == "text":
            print(info.output)
        else:
            outcome = {"output": info.output, "state": info.state}
            if args.history:  # read again only when asked for: the whole history can be long
                outcome["history"] = info.history
            print(json.dumps(outcome))
        code = EXIT_OK
    elif info.status == "waiting":
        fields = ", ".join(info.waits_for["properties"]) if info.waits_for else ""
        example = json.dumps(dict.fromkeys((info.waits_for or {}).get("properties", {}), "..."))
        deadline = f" until {_moment(info.wakes)}, when its deadline takes it on" if info.wakes else ""
        print(
            f"graphc: run {info.id} waits at `{info.node}` for {fields}{deadline}; continue it with\n"
            f"  graphc runs resume {info.id} --input '{example}'",
            file=sys.stderr,
        )
        code = EXIT_WAITING
    else:
        print(f"graphc: run {info.id} {info.status}: {info.error or 'at ' + str(info.node)}", file=sys.stderr)
        code = EXIT_FAILED
    return code


def _list(args: argparse.Namespace, runs: DurableRuns) -> int:
    found = [r for r in runs.list(args.status) if args.graph is None or r.graph == args.graph]
    if args.limit is not None:  # the newest, still listed oldest first
        found = (
            sorted(found, key=lambda r: r.started.timestamp() if r.started else 0)[-args.limit :] if args.limit else []
        )
    if args.format == "json":
        print(json.dumps([r.as_json() for r in found], indent=2))
        return EXIT_OK
    rows = [["ID", "GRAPH", "STATUS", "NODE", "STARTED", "UPDATED", "WAKES", "VERSION"]]
    for r in found:
        times = [t.strftime("%Y-%m-%d %H:%M:%S") if t else "-" for t in (r.started, r.updated, r.wakes)]
        rows.append([_shown(r.id), _shown(r.graph), r.status, _shown(r.node or "-"), *times, _shown(r.version)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _moment(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _shown(text: str) -> str:
    """`text` for a terminal: control characters (escapes, newlines) as Python escapes, never raw."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _show(args: argparse.Namespace, runs: DurableRuns) -> int:
    info = runs.get(args.run_id, history=True)
    if args.format == "json":
        print(json.dumps({**info.as_json(), "history": info.history}, indent=2))
        return EXIT_OK
    lines = [
        f"run      {_shown(info.id)}",
        f"graph    {_shown(info.graph)}" + (f" ({_shown(info.spec)})" if info.spec else ""),
        f"status   {info.status}",
        f"node     {_shown(info.node or '-')}",
        f"version  {_shown(info.version)}",
        f"started  {info.started.isoformat() if info.started else '-'}",
        f"updated  {info.updated.isoformat() if info.updated else '-'}",
    ]
    if info.wakes is not None:
        why = "sleeps until" if info.status == "sleeping" else "deadline"
        lines.append(f"{why:<8} {_moment(info.wakes)}")
    if info.waits_for is not None:
        lines.append("waits for (JSON Schema of --input):")
        lines += ["  " + line for line in json.dumps(info.waits_for, indent=2).splitlines()]
    if info.status == "success":
        lines.append(f"output   {json.dumps(info.output)}")
    if info.error:
        lines.append(f"error    {_shown(info.error)}")
    lines.append(f"history  {len(info.history)} steps:")
    lines += _history_lines(info.history, "  ")
    print("\n".join(lines))
    return EXIT_OK


def _history_lines(history: list[dict[str, Any]], indent: str) -> list[str]:
    """A run's steps, one a line; a fork's runs below it, each with its own steps, indented."""
    lines = []
    for number, step in enumerate(history, 1):
        kind = step.get("kind")
        if kind == "end":
            lines.append(f"{indent}{number:>4}. End({json.dumps(step['result']['data'])})")
        elif kind == "fork":
            runs = step["branches"]
            plural = "s" if len(runs) != 1 else ""
            lines.append(f"{indent}{number:>4}. fork: {len(runs)} sub-graph run{plural}, joined at {step['join']}")
            for run in runs:
                where = f"[{run['index']}]" if run["index"] is not None else ""
                outcome = f"error {_shown(run['error'])}" if run["error"] else f"-> {json.dumps(run['output'])}"
                lines.append(f"{indent}        {run['graph']}{where} for `{run['argument']}` {outcome}")
                lines += _history_lines(run["steps"], indent + "        ")
        else:
            lines.append(f"{indent}{number:>4}. {step['node']['node_id']} -> state {json.dumps(step['state'])}")
    return lines
