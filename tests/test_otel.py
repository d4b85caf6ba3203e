"""OpenTelemetry spans (`graphc.otel`): named as pydantic_graph names them; a durable run in one trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the tracing tests need the OpenTelemetry SDK")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import graphc.otel
from compiler import load, load_module

from .conftest import EXAMPLES, ROOT

REVIEW = EXAMPLES / "review.graph"
FAILING = ROOT / "tests" / "data" / "durable" / "failing.graph"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    graphc.otel.instrument(provider)
    try:
        yield exporter
    finally:
        graphc.otel.uninstrument()


def test_a_run_is_a_span_and_each_node_one_inside_it(spans: InMemorySpanExporter) -> None:
    graph = load(EXAMPLES / "fives.graph")
    graph.run_sync(graph.node_types["DivisibleBy5"](foo=4))
    finished = spans.get_finished_spans()
    run = next(s for s in finished if s.name.startswith("run graph "))
    nodes = [s for s in finished if s.name.startswith("run node ")]
    assert run.name == f"run graph {graph.name}" and nodes
    assert all(s.parent is not None and s.parent.span_id == run.context.span_id for s in nodes)
    assert all(s.context.trace_id == run.context.trace_id for s in nodes)
    first = nodes[0].attributes or {}
    assert first["graphc.spec.file"] == "fives.graph" and isinstance(first["graphc.spec.line"], int)


def test_a_failing_node_s_span_records_the_error(spans: InMemorySpanExporter) -> None:
    graph = load(FAILING)
    with pytest.raises(ZeroDivisionError):
        graph.run_sync()
    failed = next(s for s in spans.get_finished_spans() if s.name == "run node Divide")
    assert failed.status.status_code == StatusCode.ERROR
    assert any(event.name == "exception" for event in failed.events)


def test_nothing_is_traced_once_uninstrumented() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    graphc.otel.instrument(provider)
    graphc.otel.uninstrument()
    graph = load(EXAMPLES / "fives.graph")
    graph.run_sync(graph.node_types["DivisibleBy5"](foo=4))
    assert exporter.get_finished_spans() == ()


CONFIGURED_ONLY = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from compiler import load

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # what logfire.configure() does; graphc.otel is never called
graph = load("examples/fives.graph")
graph.run_sync(graph.node_types["DivisibleBy5"](foo=4))
print(sorted({s.name.split()[0] + " " + s.name.split()[1] for s in exporter.get_finished_spans()}))
"""


def test_a_process_that_configured_tracing_needs_nothing_else() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CONFIGURED_ONLY], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['run graph', 'run node']"


@pytest.mark.slow
def test_a_durable_run_continues_one_trace_in_the_process_that_resumes_it(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    pytest.importorskip("dbos", reason="durable runs need DBOS")
    from runtime.durable import DurableRuns

    db = str(tmp_path / "runs.sqlite")
    graph = load(REVIEW)
    runs = DurableRuns(db)
    try:
        info = runs.start(graph, graph.node_types["Draft"](), run_id="traced", spec=str(REVIEW))
    finally:
        runs.close()
    assert info.status == "waiting"
    here = spans.get_finished_spans()
    started = next(s for s in here if s.name == "start graph Review")
    part_one = [s for s in here if s.name == "run graph Review"]
    assert part_one and part_one[0].parent is not None and part_one[0].parent.span_id == started.context.span_id
    parked = next(e for e in part_one[0].events if e.name == "park")
    assert dict(parked.attributes or {}) == {"graphc.node": "Review", "graphc.wait": 1, "graphc.park": "waiting"}
    out = tmp_path / "spans.jsonl"
    script = ROOT / "tests" / "data" / "durable" / "traced_resume.py"
    done = subprocess.run(
        [sys.executable, str(script), db, "traced", str(REVIEW), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "success", done.stderr
    there: list[dict[str, Any]] = [json.loads(line) for line in out.read_text().splitlines()]
    assert {s["trace"] for s in there} == {started.context.trace_id}  # one trace, two processes
    part_two = next(s for s in there if s["name"] == "run graph Review")
    assert part_two["parent"] == started.context.span_id
    assert part_two["events"]["resume"] == {"graphc.node": "Review", "graphc.wait": 1, "graphc.by": "answer"}
    assert {s["name"] for s in there} >= {"run node Review", "run graph Review"}


def test_each_retry_is_an_event_of_its_node_s_span(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "data" / "policies"))
    import flaky_model  # type: ignore[import-not-found]

    flaky_model.SCRIPT[:] = ["busy", "busy"]
    module = load_module(ROOT / "tests" / "data" / "policies" / "triage.graph")
    result = asyncio.run(module.graph.run(module.Classify(), state=module.TriageState()))
    assert result.output == "refunded: refund please"
    classify = next(s for s in spans.get_finished_spans() if s.name == "run node Classify")
    retries = [e for e in classify.events if e.name == "retry"]
    assert [e.attributes["graphc.attempt"] for e in retries] == [1, 2]  # type: ignore[index]
    assert retries[0].attributes["exception.type"] == "ModelBusy"  # type: ignore[index]
    assert (classify.attributes or {})["graphc.attempts"] == 3


def test_graphc_run_says_each_retry_in_its_trace(tmp_path: Path) -> None:
    folder = tmp_path / "triage"
    folder.mkdir()
    for name in ("triage.graph", "flaky_model.py"):
        (folder / name).write_text((ROOT / "tests" / "data" / "policies" / name).read_text())
    script = "import flaky_model\nflaky_model.SCRIPT[:] = ['busy']\n"
    (folder / "sitecustomize.py").write_text(script)  # the model is busy at first, in the run's own process
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "run", str(folder / "triage.graph")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "`Classify` attempt 1 failed (ModelBusy: the model is busy); retrying" in done.stderr
