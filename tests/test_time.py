"""Time in a spec: deadlines on waits, sleeps and schedules — the language, the checks, and plain runs.

Plain runs read the injectable clock (`runtime.clock`), so a week of deadlines passes in
milliseconds. Durable runs, workers and schedules: tests/test_time_durable.py.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler import load
from compiler.diagram import diagram_of, dot_text, mermaid_text
from compiler.pipeline import compile_source, compile_spec
from dsl.ir import strip_spans
from dsl.parse import parse_source
from dsl.printer import print_spec
from dsl.source import read_source, source_from_text
from dsl.timing import duration_seconds, duration_text
from runtime import answer_within
from runtime.clock import FileClock, ManualClock, use_clock

from .conftest import EXAMPLES, ROOT, assert_mypy_strict, check_golden, graphc
from .test_diagnostics_golden import diagnose

GOLDEN = ROOT / "tests" / "golden" / "time"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".graph", ".yaml", ".toml"))
INVOICE = EXAMPLES / "invoice" / "invoice"


@pytest.mark.parametrize("spec", CASES, ids=[p.name for p in CASES])
def test_diagnostics_match_golden(spec: Path, update_golden: bool) -> None:
    report = diagnose(spec)
    assert "error[" in report
    check_golden(spec.with_name(spec.stem + ".expected.txt"), report, update_golden)


# ---- the language --------------------------------------------------------------------------------


def test_the_invoice_example_holds_the_same_spec_in_each_syntax() -> None:
    specs = {s: parse_source(read_source(f"{INVOICE}.{s}")) for s in ("graph", "yaml", "toml")}
    assert strip_spans(specs["yaml"]) == strip_spans(specs["graph"]) == strip_spans(specs["toml"])
    for syntax, spec in specs.items():  # each already in its canonical form
        schema = "../graphc.schema.json" if syntax != "graph" else None
        assert print_spec(spec, syntax, schema=schema) == Path(f"{INVOICE}.{syntax}").read_text()
    approve = next(n for n in specs["graph"].nodes if n.name == "Approve")
    assert approve.deadline is not None and (approve.deadline.seconds, approve.deadline.to.target) == (172800, "Remind")
    schedule = specs["graph"].schedules[0]
    assert (schedule.name, schedule.cron, schedule.missed, schedule.to.target) == (
        "retainer",
        "0 9 1 * *",
        "once",
        "Submit",
    )


@pytest.mark.parametrize("syntax", ["graph", "yaml", "toml"])
def test_printing_and_parsing_again_gives_the_same_spec(syntax: str) -> None:
    text = """graph G -> int
start A

from datetime import datetime

schedule often every 1h30m -> A(n=2)
schedule daily cron "0 3 * * *" missed all -> A()

node A(n: int = 0, due: datetime | None = None) waits (ok: bool) within 2d -> B(n + 1) retry 2, sleep 15m:
    -> B(n)

node B(n: int, at: datetime = datetime(2030, 1, 1)) sleep until at:
    -> End(n)
"""
    spec = parse_source(source_from_text("g.graph", text))
    printed = print_spec(spec, syntax)
    again = parse_source(source_from_text(f"g.{syntax}", printed))
    assert strip_spans(again) == strip_spans(spec)
    assert print_spec(again, syntax) == printed


def test_time_words_stay_names_elsewhere() -> None:
    """`within`, `sleep`, `until`, `every`, `cron`, `missed` are keywords only where time is written."""
    text = (
        "graph G -> int\n"
        "start A\n"
        "\n"
        "node A(sleep: int = 1, every: int = 2, until: int = 3):\n"
        "    within = sleep + every + until\n"
        "    -> End(within)\n"
    )
    spec = parse_source(source_from_text("g.graph", text))
    assert [f.name for f in spec.nodes[0].fields] == ["sleep", "every", "until"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("48h", 172800), ("2d", 172800), ("1w", 604800), ("1h30m", 5400), ("250ms", 0.25)],
)
def test_durations_read_as_written(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds
    assert duration_seconds(duration_text(seconds)) == seconds


@given(st.integers(min_value=1, max_value=10**8))
def test_a_duration_printed_reads_back_the_same(seconds: int) -> None:
    assert duration_seconds(duration_text(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "10", "h", "1 h", "1.h", "-5m", "1y", "5mm", "1h 30m"])
def test_what_is_not_a_duration(text: str) -> None:
    assert duration_seconds(text) is None


# ---- compiling -----------------------------------------------------------------------------------


def test_the_invoice_compiles_to_the_golden_module(update_golden: bool, tmp_path: Path) -> None:
    module = compile_spec(Path(f"{INVOICE}.graph"))
    check_golden(ROOT / "tests" / "golden" / "compile" / "invoice.runtime.expected.py", module.source, update_golden)
    (tmp_path / "invoice_graph.py").write_text(module.source)
    assert_mypy_strict(tmp_path, ["invoice_graph.py"])


@pytest.mark.parametrize("target", ["pydantic_graph", "pydantic_graph2"])
def test_the_pydantic_graph_targets_refuse_timers(target: str, tmp_path: Path) -> None:
    result = graphc("compile", f"{INVOICE}.graph", "--target", target, "-o", str(tmp_path / "out.py"))
    assert result.returncode == 1, result.stderr
    assert "error[E163]: `within` cannot be compiled for --target" in result.stderr
    assert "error[E163]: `sleep` cannot be compiled" in result.stderr
    assert "invoice.graph:17:" in result.stderr  # where the deadline is written


def test_diagrams_draw_deadlines_and_sleeps() -> None:
    drawn = diagram_of(compile_source(read_source(f"{INVOICE}.graph"))[1])
    dot = dot_text(drawn)
    assert '"Approve" -> "Remind" [label="no answer in 48h", style=dotted, color=darkorange3' in dot
    assert r'"Pay" [style="rounded", label="Pay\nsleeps 1d"' in dot
    text = mermaid_text(drawn)
    assert "Approve --> Remind: no answer in 48h" in text
    assert "Escalate --> [*]: rejected by the director / no answer in 7d" in text
    assert "sleeps 1d" in text
    graph = load(Path(f"{INVOICE}.graph"))
    assert graph.mermaid_code(start_node=graph.node_types["Submit"]) == text


# ---- plain runs on a clock of the test's own -------------------------------------------------------


async def _run_on(clock: ManualClock, work: Any, step_hours: float = 6) -> Any:
    """Await `work` while the clock moves on `step_hours` whenever the run sleeps."""
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.sleep(0.02)
        clock.advance(step_hours * 3600)
    return task.result()


def test_a_plain_run_nobody_answers_waits_out_each_deadline() -> None:
    graph = load(Path(f"{INVOICE}.graph"))
    clock = ManualClock()
    with use_clock(clock):
        start = clock.now()
        result = asyncio.run(_run_on(clock, graph.run(graph.node_types["Submit"](invoice="INV-1", amount=10.0))))
    assert result.output == "expired INV-1"
    assert result.state.trail == ["submitted INV-1 for 10.00", "reminder 1", "reminder 2", "reminder 3"]
    assert clock.now() - start >= timedelta(days=14)  # 3 x 48h, a day, a week
    assert clock.now() - start < timedelta(days=14, hours=12)
    steps = [s.node.get_id() for s in result.history if s.kind == "node"]
    assert steps == ["Submit", "Approve", "Remind", "Approve", "Remind", "Approve", "Remind", "LastCall", "Escalate"]
    again = graph.load_history(graph.dump_history(result.history))  # nodes nobody answered keep their fields unset
    assert graph.dump_history(again) == graph.dump_history(result.history)
    assert "approved" not in json.loads(graph.dump_history(result.history))[1]["node"]


def test_answer_within_takes_an_answer_that_comes_in_time_and_the_deadline_otherwise() -> None:
    graph = load(Path(f"{INVOICE}.graph"))
    clock = ManualClock()

    async def drive(answer_after_hours: float) -> Any:
        async with graph.iter(graph.node_types["Submit"](invoice="INV-2", amount=5.0)) as run:
            await run.next()  # Submit: the run now waits at Approve

            async def answer() -> dict[str, Any]:
                await clock.sleep_until(clock.now() + timedelta(hours=answer_after_hours))
                return {"approved": True, "note": None}

            return await answer_within(run, answer())

    with use_clock(clock):
        assert type(asyncio.run(_run_on(clock, drive(1), step_hours=0.5))).__name__ == "Pay"
        assert type(asyncio.run(_run_on(clock, drive(50), step_hours=0.5))).__name__ == "Remind"


def test_a_plain_sleep_until_a_time_from_the_state(tmp_path: Path) -> None:
    spec = """graph Due -> str
start Book

from datetime import datetime, timedelta

state:
    due: datetime | None = None

node Book(at: str):
    state.due = datetime.fromisoformat(at) + timedelta(hours=12)
    -> Remind()

node Remind() sleep until state.due:
    -> End("reminded")
"""
    (tmp_path / "due.graph").write_text(spec)
    graph = load(tmp_path / "due.graph", allowed_imports=["datetime"])
    clock = ManualClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    with use_clock(clock):
        result = asyncio.run(_run_on(clock, graph.run(graph.node_types["Book"](at="2030-01-03T00:00:00+00:00")), 1))
    assert result.output == "reminded"
    assert datetime(2030, 1, 3, 12, tzinfo=timezone.utc) <= clock.now() <= datetime(2030, 1, 3, 13, tzinfo=timezone.utc)


def test_a_file_clock_is_shared_by_whoever_reads_the_file(tmp_path: Path) -> None:
    clock = FileClock(tmp_path / "clock")
    clock.set(datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc))
    assert FileClock(tmp_path / "clock").now() == datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_a_plain_run_from_the_command_line_sleeps(tmp_path: Path) -> None:
    spec = tmp_path / "nap.graph"
    spec.write_text("graph Nap -> int\nstart A\n\nnode A(n: int = 2) sleep 1s:\n    -> End(n)\n")
    result = graphc("run", str(spec), "--output", "text")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2" and "`A` sleeps 1s" in result.stderr


def test_a_plain_run_from_the_command_line_asks_until_the_deadline() -> None:
    spec = str(ROOT / "tests" / "data" / "time" / "deadline.graph")
    answered = graphc("run", spec, "--output", "text", stdin="yes\n")
    assert answered.returncode == 0 and answered.stdout.strip() == "yes", answered.stderr
    assert "`Ask` waits 2s at most for its answer" in answered.stderr
    unanswered = graphc("run", spec, "--output", "text")  # the input ends at once: the deadline takes the wait
    assert unanswered.returncode == 0, unanswered.stderr
    assert unanswered.stdout.strip() == "nudged 1 time(s) about ready?"
    assert "the input ended; the wait lasts until its deadline" in unanswered.stderr
