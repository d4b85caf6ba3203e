"""Runs on workers: submit a spec's run to a database, serve submitted runs (`runtime.durable` + the loader).

run_id = submit("flows/triage.graph", db="postgresql://app@db/graphc", args={"ticket_id": 42})
worker = Worker("postgresql://app@db/graphc", executor_id="worker-a", concurrency=8)
worker.start()          # runs go on on DBOS's threads
...
worker.stop(grace_seconds=30)   # finish or hand back what it holds
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from dsl.cachedir import cache_dir
from dsl.diagnostics import DiagnosticError
from dsl.source import read_source
from runtime import Graph

from .loader import load_module
from .uses import source_key

__all__ = ("Worker", "default_deps", "spec_loader", "submit", "used_sources")


def default_deps(graph: Graph[Any, Any, Any]) -> Any:
    """The deps a run gets where nobody passes them: the spec's deps class with its defaults, else None."""
    cls = graph.deps_type
    return cls() if isinstance(cls, type) and cls is not type(None) else None


def spec_loader(allowed_imports: Iterable[str] | None = None) -> Any:
    """How a worker compiles a stored spec: written once under the cache folder, loaded through the loader's cache."""
    allowed = None if allowed_imports is None else sorted(allowed_imports)

    def load(name: str, source: str, files: Mapping[str, str]) -> tuple[Graph[Any, Any, Any], Any]:
        from runtime.durable import spec_digest  # a worker has it loaded already

        digest = spec_digest(name, source, files)
        path = cache_dir() / "specs" / digest[:32] / Path(name).name
        if not path.exists():  # written whole or not at all: other workers read it at the same time
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            partial.write_text(source, encoding="utf-8")
            os.replace(partial, path)
        try:
            # the specs it uses come from the database only: never from this worker's disk
            graph = load_module(path, allowed_imports=allowed, sources=files).graph
        except DiagnosticError as e:  # named as the user wrote it, not by the cache path
            errors = [d for d in e.diagnostics if d.severity == "error"]
            raise ValueError(
                "; ".join(f"{name}:{d.span.line}:{d.span.column}: error[{d.code}]: {d.message}" for d in errors)
            ) from None
        return graph, default_deps(graph)

    return load


def submit(
    spec: str | Path | Graph[Any, Any, Any],
    *,
    db: str | None = None,
    start: str | None = None,
    args: dict[str, Any] | None = None,
    state: Any = None,
    run_id: str | None = None,
    allowed_imports: Iterable[str] | None = None,
) -> str:
    """Queue a run of the spec at `spec` for workers; returns the run id.

    Args:
        spec: The spec file (`.graph`, `.yaml`, `.toml`), or a graph `compiler.load` made from one;
            the spec's source is stored with the run.
        db: The database (a URL or SQLite path; default `$GRAPHC_DB`, else `graphc-runs.sqlite`).
        start: The start node's name (default: the spec's `start`).
        args: The start node's fields.
        state: The initial state (default: a fresh one).
        run_id: The run's id (default: a new UUID).
        allowed_imports: As for `compiler.load`: checked here and on the worker.
    """
    from runtime.durable import DurableError, DurableRuns

    if isinstance(spec, Graph):
        spec = _spec_of(spec)
    module = load_module(spec, allowed_imports=allowed_imports)
    graph = module.graph
    name = start or getattr(getattr(module, "start", None), "__name__", None)
    if name is None or name not in graph.node_types:
        raise DurableError(f"no start node `{name}` in {spec}; pass start=")
    node = graph.node_types[name](**(args or {}))
    source = read_source(spec)
    runs = DurableRuns(db)
    try:
        return runs.submit(
            Path(source.name).name,
            source.text,
            graph,
            node,
            state=state,
            run_id=run_id,
            spec=str(Path(spec).resolve()),
            spec_files=used_sources(graph, spec),
        )
    finally:
        runs.close()


def used_sources(graph: Graph[Any, Any, Any], spec: str | Path) -> dict[str, str]:
    """The texts of the specs a loaded spec uses, by path relative to its folder: what a worker compiles it with."""
    import sys

    folder = Path(spec).resolve().parent
    module = next((sys.modules.get(cls.__module__) for cls in graph.node_types.values()), None)
    files = {}
    for used in getattr(module, "__graphc_uses__", []):
        path = Path(used["path"]).resolve()
        files[source_key(os.path.relpath(path, folder))] = read_source(path).text
    return files


def _spec_of(graph: Graph[Any, Any, Any]) -> str:
    import sys

    for cls in graph.node_types.values():
        path = getattr(sys.modules.get(cls.__module__), "__graphc_spec__", None)
        if path is not None:
            return str(path)
    raise ValueError("this graph was not loaded from a spec by `compiler.load`: pass the spec's path")


class Worker:
    """A worker inside this program: it takes submitted runs from the database's queue on DBOS's threads."""

    def __init__(
        self,
        db: str | None = None,
        *,
        executor_id: str,
        concurrency: int | None = None,
        queue_concurrency: int | None = None,
        allowed_imports: Iterable[str] | None = (),
        report: Callable[[str], None] | None = None,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        """Describe the worker; `start` makes it take runs.

        Args:
            db: The database (as for `submit`).
            executor_id: A stable id: restarted with it, the worker recovers the runs it held.
            concurrency: Runs in flight in this worker at most (default: no limit).
            queue_concurrency: Runs in flight across all workers at most.
            allowed_imports: The modules specs may import (default: none); a spec importing another fails
                its run with E120, and every spec runs under `runtime.trust`. None: specs are trusted
                (any import, no guard) — only where whoever can submit may run code on this machine.
            report: Told, in a line naming the run, when a run's spec does not compile on this worker
                (the run fails with the same message).
            on_lost: Told if another worker took this one's id over while it stalled.
        """
        from runtime.durable import DurableRuns

        self.runs = DurableRuns(db, report=report)
        self.executor_id = executor_id
        self.concurrency = concurrency
        self.queue_concurrency = queue_concurrency
        self.allowed_imports = allowed_imports
        self.on_lost = on_lost

    def start(self) -> None:
        """Take runs (first those this executor id held when it died)."""
        self.runs.serve(
            spec_loader(self.allowed_imports),
            executor_id=self.executor_id,
            concurrency=self.concurrency,
            queue_concurrency=self.queue_concurrency,
            on_lost=self.on_lost,
        )

    def stop(self, grace_seconds: float = 30.0) -> list[str]:
        """Take no more runs, let those in flight finish for `grace_seconds`, hand the rest back; return those."""
        handed = self.runs.stop_serving(grace_seconds)
        self.runs.close()
        return handed
