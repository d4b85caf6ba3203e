"""OpenTelemetry spans for graph runs (`pip install 'graphc[otel]'`): `instrument()` once, then every run is traced.

Spans are named as pydantic_graph names them — `run graph {name}` around a run, `run node
{node}` around each node — with the spec file and line of the node, what it waits for,
each failed attempt a `retry` event (its number and error), a durable run's parks
(`park`: its wait or sleep) and resumptions (`resume`: the wait and what took it: an answer,
the deadline, the timer) as events of its `run graph` span, and errors recorded. A durable
run continues one trace across every process that takes it up: the trace is stored with the
run when it starts, and each process's part of the run is a `run graph` span in it. Spans
go to the global tracer provider, so whatever configured that (the OpenTelemetry SDK with
an exporter, or `logfire.configure()`) receives them; a process that configured one needs
no `instrument()` call at all.

The only module of graphc that imports OpenTelemetry.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace

from runtime import observe

__all__ = ("instrument", "uninstrument")

_lines: dict[type, tuple[str, int] | None] = {}


class _Spans:
    def __init__(self, tracer_provider: trace.TracerProvider | None) -> None:
        self.tracer = trace.get_tracer("graphc", tracer_provider=tracer_provider)

    @contextmanager
    def run(self, graph: Any, carrier: dict[str, str] | None = None) -> Iterator[None]:
        parent = propagate.extract(carrier) if carrier else context.get_current()
        name = graph.name or "graph"
        attributes = {"graphc.graph": name, "graphc.durable": carrier is not None}
        with self.tracer.start_as_current_span(f"run graph {name}", context=parent, attributes=attributes):
            yield

    @contextmanager
    def node(self, graph: Any, node: Any) -> Iterator[None]:
        node_id = node.get_id()
        attributes: dict[str, Any] = {"graphc.graph": graph.name or "graph", "graphc.node": node_id}
        where = _spec_line(type(node))
        if where is not None:
            attributes["graphc.spec.file"], attributes["graphc.spec.line"] = where
        if node.waits_for:
            attributes["graphc.waits_for"] = list(node.waits_for)
        with self.tracer.start_as_current_span(f"run node {node_id}", attributes=attributes):
            yield

    def retry(self, node: Any, attempt: int, error: BaseException) -> None:
        span = trace.get_current_span()  # the node's: the attempts are inside it
        span.add_event(
            "retry",
            {"graphc.attempt": attempt, "exception.type": type(error).__name__, "exception.message": str(error)},
        )
        span.set_attribute("graphc.attempts", attempt + 1)

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        span = trace.get_current_span()  # the `run graph` span of this process's part of a durable run
        span.add_event(name, attributes)
        if name == "resume":
            span.set_attributes({f"graphc.resumed.{k.removeprefix('graphc.')}": v for k, v in attributes.items()})

    def carrier(self, graph: Any) -> dict[str, str]:
        carrier: dict[str, str] = {}
        if trace.get_current_span().get_span_context().is_valid:
            propagate.inject(carrier)
            return carrier
        name = graph.name or "graph"
        with self.tracer.start_as_current_span(f"start graph {name}", attributes={"graphc.graph": name}):
            propagate.inject(carrier)  # the durable run's parts join this trace, wherever they run
        return carrier


def _spec_line(cls: type) -> tuple[str, int] | None:
    """The spec file and line a compiled node's body starts at (its first `# file:line` comment), once per class."""
    if cls not in _lines:
        found = None
        try:
            source = inspect.getsource(cls)
            match = re.search(r"#\s+(\S+\.(?:graph|ya?ml|toml)):(\d+)\s*$", source, re.MULTILINE)
            if match:
                found = (match.group(1), int(match.group(2)))
        except (OSError, TypeError):  # a class without source: no line to give
            pass
        _lines[cls] = found
    return _lines[cls]


def instrument(tracer_provider: trace.TracerProvider | None = None) -> None:
    """Trace every graph run in this process from now on (to `tracer_provider`, default the global one).

    Not needed where the process configures the global tracer provider (`logfire.configure()`,
    or the SDK's `trace.set_tracer_provider`): runs then trace themselves (`runtime.observe.watching`).
    """
    uninstrument()
    observe.follow_configured_tracing = True
    observe.observers.append(_Spans(tracer_provider))


def uninstrument() -> None:
    """Stop tracing runs (also those a configured tracer provider would trace by itself)."""
    observe.follow_configured_tracing = False
    observe.observers[:] = [o for o in observe.observers if not isinstance(o, _Spans)]
