"""Resume a waiting run of review.graph in this process, traced: spans as JSON lines to a file (for test_otel)."""

import json
import sys

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import graphc.otel
from compiler import load
from runtime.durable import DurableRuns

db, run_id, spec, out = sys.argv[1:5]
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
graphc.otel.instrument(provider)
runs = DurableRuns(db)
info = runs.resume(run_id, load(spec), input={"approved": True, "comment": ""})
runs.close()
with open(out, "w") as handle:
    for span in exporter.get_finished_spans():
        parent = span.parent.span_id if span.parent else None
        events = {e.name: dict(e.attributes or {}) for e in span.events}
        line = {"name": span.name, "trace": span.context.trace_id, "parent": parent, "events": events}
        handle.write(json.dumps(line) + "\n")
print(info.status)
