"""Hooks around runs and nodes, for tracing: none by default (nothing to pay), `graphc.otel` adds spans.

An observer gives a context manager around each run (`run`), each node's `run` (`node`), hears
of each retry of a node (`retry`) and of a durable run's parks and resumptions (`event`), and
gives a carrier that lets a durable run continue one trace in the processes that take it up later.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .graph import Graph
    from .nodes import BaseNode

__all__ = ("Observer", "observers", "tell", "watching")


class Observer(Protocol):
    """What a tracer gives the runtime."""

    def run(self, graph: Graph[Any, Any, Any], carrier: dict[str, str] | None = None) -> AbstractContextManager[Any]:
        """Around a run (or, for a durable run, its part in one process: `carrier` links it to the rest)."""
        ...

    def node(self, graph: Graph[Any, Any, Any], node: BaseNode[Any, Any, Any]) -> AbstractContextManager[Any]:
        """Around one node's `run`."""
        ...

    def retry(self, node: BaseNode[Any, Any, Any], attempt: int, error: BaseException) -> None:
        """Attempt number `attempt` of `node` failed with `error`; another follows (its `retry` policy)."""
        ...

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        """Something befell the run between nodes: `park` (it waits or sleeps, leaving this process) or `resume`."""
        ...

    def carrier(self, graph: Graph[Any, Any, Any]) -> dict[str, str]:
        """The trace a durable run about to start belongs to, to store with it (W3C `traceparent`)."""
        ...


observers: list[Observer] = []
"""The observers in this process (`graphc.otel.instrument` adds one); empty, runs pay one check a step."""

follow_configured_tracing = True
"""Whether a run traces itself when the process configured OpenTelemetry (`graphc.otel.uninstrument` clears it)."""


def watching() -> list[Observer]:
    """The observers, once a run is about to start: tracing joins by itself where the process set it up.

    As pydantic_graph's spans need nothing but `logfire.configure()`: when something in the
    process has configured an OpenTelemetry tracer provider (logfire, or the SDK), the first
    run after it installs `graphc.otel`'s observer. The runtime never imports OpenTelemetry:
    it looks only if the process already has, so a process without tracing pays a lookup a run.
    """
    if not observers and follow_configured_tracing:
        trace = sys.modules.get("opentelemetry.trace")
        if trace is not None and type(trace.get_tracer_provider()).__name__ not in _UNCONFIGURED:
            try:
                from graphc.otel import instrument
            except ImportError:  # a compiled graph run without graphc: nothing to trace with
                return observers
            instrument()
    return observers


_UNCONFIGURED = ("ProxyTracerProvider", "NoOpTracerProvider")


def tell(name: str, attributes: dict[str, Any]) -> None:
    """Tell every observer of an `event`."""
    for observer in observers:
        observer.event(name, attributes)
