"""Time in durable runs: deadlines and sleeps park and wake on time, schedules start one run per tick.

A clock the test moves (`ManualClock` in this process, `FileClock` for workers) passes
weeks in milliseconds; the real-time tests use seconds and SIGKILL.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from compiler import load
from runtime.clock import FileClock, ManualClock, use_clock
from runtime.durable import DurableError, DurableRuns
from runtime.durable._common import database_url
from runtime.durable._schedules import GRACE_SECONDS, Schedules, due_ticks, run_id_for
from runtime.durable._store import _Store

from .conftest import EXAMPLES, ROOT, graphc
from .worker_processes import Workers

pytestmark = pytest.mark.slow  # real databases and processes

INVOICE = EXAMPLES / "invoice" / "invoice.graph"
DATA = ROOT / "tests" / "data" / "time"
HOUR = 3600.0
START = datetime(2030, 1, 1, tzinfo=timezone.utc)


@contextmanager
def moving(clock: ManualClock, seconds: float) -> Iterator[None]:
    """The clock moves on `seconds` every 10 ms of real time while the block runs (a sleep the run does)."""
    stop = threading.Event()

    def move() -> None:
        while not stop.wait(0.01):
            clock.advance(seconds)

    mover = threading.Thread(target=move)
    mover.start()
    try:
        yield
    finally:
        stop.set()
        mover.join()


def claims(db: str, run_id: str) -> list[str]:
    """What took each park of a run, in order (`graphc_answers`)."""
    rows = _Store(database_url(db))._execute(
        "SELECT kind FROM graphc_answers WHERE run_id = :r AND ordinal > 0 ORDER BY ordinal", {"r": run_id}
    )
    return [str(kind) for (kind,) in rows]


def nodes_of(history: list[dict[str, Any]]) -> list[str]:
    return [step["node"]["node_id"] for step in history if step["kind"] == "node"]


# ---- a run driven from this process, on a clock the test moves --------------------------------------


@pytest.mark.parametrize("syntax", ["graph", "yaml", "toml"])
def test_an_invoice_nobody_answers_is_reminded_escalated_and_expires(
    syntax: str, tmp_path: Path, opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    graph = load(INVOICE.with_suffix(f".{syntax}"))
    clock = ManualClock(START)
    with use_clock(clock):
        runs = opened(db)
        info = runs.start(graph, graph.node_types["Submit"](invoice="INV-7", amount=99.5), run_id="inv")
        assert (info.status, info.node, info.wakes) == ("waiting", "Approve", START + timedelta(hours=48))
        with pytest.raises(DurableError, match="waits at `Approve` for approved, note"):
            runs.resume("inv", graph)  # before its deadline, a wait needs an answer
        waits = []
        while info.status == "waiting":
            waits.append((info.node, info.wakes))
            clock.set(info.wakes + timedelta(seconds=1))  # nobody answers: the deadline takes each wait
            info = runs.resume("inv", graph)
        assert info.status == "success" and info.output == "expired INV-7"
    assert [node for node, _ in waits] == ["Approve", "Approve", "Approve", "LastCall", "Escalate"]
    assert waits[3][1] == START + timedelta(hours=144, seconds=3) + timedelta(days=1)  # a week after it came
    history = runs.get("inv", history=True).history
    assert nodes_of(history) == [
        "Submit", "Approve", "Remind", "Approve", "Remind", "Approve", "Remind", "LastCall", "Escalate"
    ]  # fmt: skip
    assert claims(db, "inv") == ["deadline"] * 5  # each wait taken once, by its deadline
    assert info.state["trail"] == ["submitted INV-7 for 99.50", "reminder 1", "reminder 2", "reminder 3"]


def test_an_answer_after_the_deadline_is_refused_and_the_run_takes_the_deadline_edge(
    tmp_path: Path, opened: Callable[[str], DurableRuns]
) -> None:
    graph = load(INVOICE)
    clock = ManualClock(START)
    with use_clock(clock):
        runs = opened(str(tmp_path / "runs.sqlite"))
        runs.start(graph, graph.node_types["Submit"](invoice="INV-8", amount=1.0), run_id="late")
        clock.advance(49 * HOUR)
        with pytest.raises(DurableError, match=r"ran out at 2030-01-03 00:00:00 UTC: your input was not taken"):
            runs.resume("late", graph, input={"approved": True, "note": None})
        info = runs.resume("late", graph)
    assert (info.status, info.node, info.wait_ordinal) == ("waiting", "Approve", 2)
    assert info.wakes == START + timedelta(hours=49 + 48)
    assert info.state["trail"][-1] == "reminder 1"


def test_an_approved_invoice_sleeps_a_day_then_is_paid(tmp_path: Path, opened: Callable[[str], DurableRuns]) -> None:
    graph = load(INVOICE)
    clock = ManualClock(START)
    with use_clock(clock):
        runs = opened(str(tmp_path / "runs.sqlite"))
        runs.start(graph, graph.node_types["Submit"](invoice="INV-9", amount=12.0), run_id="paid")
        clock.advance(5 * HOUR)
        with moving(clock, 600):  # the run sleeps a day on this clock: ten minutes every 10 ms
            info = runs.resume("paid", graph, input={"approved": True, "note": "fine"})
        assert info.status == "success" and info.output == "paid INV-9"
        assert clock.now() >= START + timedelta(hours=5 + 24)
    assert nodes_of(runs.get("paid", history=True).history) == ["Submit", "Approve", "Pay"]
    assert claims(str(tmp_path / "runs.sqlite"), "paid") == ["answer", "wake"]


def test_a_durable_sleep_until_a_time_the_state_holds(tmp_path: Path, opened: Callable[[str], DurableRuns]) -> None:
    spec = tmp_path / "due.graph"
    spec.write_text(
        "graph Due -> str\nstart Book\n\nfrom datetime import datetime\n\nstate:\n    due: datetime | None = None\n\n"
        "node Book(at: datetime):\n    state.due = at\n    -> Remind()\n\n"
        'node Remind() sleep until state.due:\n    -> End("reminded")\n'
    )
    graph = load(spec)
    clock = ManualClock(START)
    with use_clock(clock), moving(clock, 600):
        runs = opened(str(tmp_path / "runs.sqlite"))
        info = runs.start(graph, graph.node_types["Book"](at=START + timedelta(days=3)), run_id="due")
        assert info.status == "success" and info.output == "reminded"
        assert clock.now() >= START + timedelta(days=3)
    timers = _Store(database_url(str(tmp_path / "runs.sqlite")))._execute("SELECT due FROM graphc_timers", {})
    assert [due for (due,) in timers] == [(START + timedelta(days=3)).timestamp()]


# ---- workers, on a clock in a file ----------------------------------------------------------------


@pytest.fixture
def file_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileClock:
    """A clock in a file every process started from here reads (`GRAPHC_CLOCK_FILE`)."""
    clock = FileClock(tmp_path / "clock")
    clock.set(START)
    monkeypatch.setenv("GRAPHC_CLOCK_FILE", str(clock.path))
    return clock


def run_json(db: str, run_id: str) -> dict[str, Any]:
    result = graphc("runs", "show", run_id, "--db", db, "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def woke_at(history: list[dict[str, Any]]) -> datetime:
    """When the node after the sleep started (its step's timestamp: real time)."""
    doze = next(step for step in history if step["kind"] == "node" and step["node"]["node_id"] == "Doze")
    return datetime.fromisoformat(doze["start_ts"].replace("Z", "+00:00"))


def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_a_submitted_invoice_on_a_worker_wakes_by_the_workers_clock(
    tmp_path: Path, file_clock: FileClock, workers: Callable[[str], Workers]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    submitted = graphc(
        "submit", str(INVOICE), "--db", db, "--run-id", "inv", "--arg", "invoice=INV-1", "--arg", "amount=5"
    )
    assert submitted.returncode == 0, submitted.stderr
    pool = workers(db)
    pool.start("w1")
    first = until(lambda: (r := run_json(db, "inv"))["status"] == "waiting" and r)
    assert (first["node"], first["wakes"]) == ("Approve", (START + timedelta(hours=48)).isoformat())
    file_clock.set(START + timedelta(hours=48, seconds=1))  # the worker's timekeeper takes the wait by its deadline
    second = until(lambda: (r := run_json(db, "inv"))["wait_ordinal"] == 2 and r["status"] == "waiting" and r)
    assert second["state"]["trail"][-1] == "reminder 1"
    refused = graphc("runs", "resume", "inv", "--db", db, "--input", '{"approved": true}', "--wait", "1")
    assert refused.returncode == 2 and "has moved past wait 1" in refused.stderr
    answered = graphc("runs", "resume", "inv", "--db", db, "--input", '{"approved": true, "note": null}')
    assert answered.returncode == 0, answered.stderr
    asleep = until(lambda: (r := run_json(db, "inv"))["status"] == "sleeping" and r)
    assert asleep["node"] == "Pay" and asleep["wakes"] == (START + timedelta(hours=72, seconds=1)).isoformat()
    nudged = graphc("runs", "resume", "inv", "--db", db)
    assert nudged.returncode == 2 and "a worker wakes it then" in nudged.stderr
    listed = graphc("runs", "list", "--db", db, "--status", "sleeping")
    assert "inv" in listed.stdout and "2030-01-04 00:00:01" in listed.stdout
    file_clock.set(START + timedelta(hours=72, seconds=1))
    done = until(lambda: (r := run_json(db, "inv"))["status"] == "success" and r)
    assert done["output"] == "paid INV-1"
    assert claims(db, "inv") == ["deadline", "answer", "wake"]


def test_a_cancelled_sleeping_run_never_wakes(
    tmp_path: Path, file_clock: FileClock, workers: Callable[[str], Workers]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    assert graphc("submit", str(DATA / "nap.graph"), "--db", db, "--run-id", "nap").returncode == 0
    workers(db).start("w1")
    until(lambda: run_json(db, "nap")["status"] == "sleeping")
    assert graphc("runs", "cancel", "nap", "--db", db).returncode == 0
    file_clock.set(START + timedelta(hours=1))  # long past its due time
    time.sleep(1.5)  # the worker's timekeeper has looked several times
    assert run_json(db, "nap")["status"] == "cancelled"
    assert claims(db, "nap") == ["cancel"]


def test_a_sleeping_run_whose_worker_was_killed_wakes_on_time_after_a_restart(
    tmp_path: Path, workers: Callable[[str], Workers]
) -> None:
    """Real time: a run sleeping 3 s holds no process; killed with SIGKILL and restarted, it wakes within 1 s of due."""
    db = str(tmp_path / "runs.sqlite")
    pool = workers(db)
    pool.start("w1")
    pool.wait_until_taking("w1")
    assert graphc("submit", str(DATA / "nap.graph"), "--db", db, "--run-id", "nap").returncode == 0
    asleep = until(lambda: (r := run_json(db, "nap"))["status"] == "sleeping" and r)
    due = datetime.fromisoformat(asleep["wakes"])
    pool.kill("w1", signal.SIGKILL)
    pool.start("w1")  # the same id: it recovers whatever w1 held (nothing: a sleeping run holds nothing)
    done = until(lambda: (r := run_json(db, "nap"))["status"] == "success" and r)
    woke = woke_at(done["history"])
    assert due <= woke <= due + timedelta(seconds=1), (due, woke)
    assert done["output"] == 2


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_deadline_takes_its_edge_once_when_two_processes_resume_at_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, workers: Callable[[str], Workers]
) -> None:
    """Real time: a 2 s deadline; at its end a worker's timekeeper and two `runs resume` all reach for the wait."""
    db = str(tmp_path / "runs.sqlite") if kind == "sqlite" else str(request.getfixturevalue("postgres_db"))
    assert graphc("submit", str(DATA / "deadline.graph"), "--db", db, "--run-id", "ask").returncode == 0
    pool = workers(db)
    pool.start("w1")
    waiting = until(lambda: (r := run_json(db, "ask"))["status"] == "waiting" and r)
    due = datetime.fromisoformat(waiting["wakes"]).timestamp()
    resume = [sys.executable, "-m", "graphc", "runs", "resume", "ask", "--db", db]
    time.sleep(max(0.0, due - time.time() - 1))  # the processes start a second early: importing takes that long
    racers = [
        subprocess.Popen(resume, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    for racer in racers:
        racer.communicate(timeout=120)
    done = until(lambda: (r := run_json(db, "ask"))["status"] == "success" and r)
    assert done["output"] == "nudged 1 time(s) about ready?"
    assert nodes_of(done["history"]) == ["Ask", "Nudge"]
    assert claims(db, "ask") == ["deadline"]


def test_a_local_run_killed_while_asleep_resumes_and_wakes_on_time(tmp_path: Path) -> None:
    """Real time: `graphc run --durable` killed during a 3 s sleep; `runs resume` wakes it at its due time."""
    db = str(tmp_path / "runs.sqlite")
    start = [sys.executable, "-m", "graphc", "run", str(DATA / "nap.graph"), "--durable", "--db", db, "--run-id", "nap"]
    process = subprocess.Popen(start, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    asleep = until(lambda: Path(db).exists() and (r := run_json(db, "nap"))["status"] == "sleeping" and r)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    resumed = graphc("runs", "resume", "nap", "--db", db)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[1])["output"] == 2
    woke = woke_at(run_json(db, "nap")["history"])
    due = datetime.fromisoformat(asleep["wakes"])
    assert due <= woke <= due + timedelta(seconds=1), (due, woke)


# ---- schedules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missed", "expected"),
    [("skip", []), ("once", [5 * HOUR]), ("all", [HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 5 * HOUR])],
)
def test_ticks_missed_while_no_worker_was_up(missed: str, expected: list[float]) -> None:
    now = 5 * HOUR + GRACE_SECONDS + 1  # the 5th tick is late too
    ticks, following = due_ticks(HOUR, None, missed, HOUR, now)
    assert ticks == expected and following == 6 * HOUR
    on_time, _ = due_ticks(HOUR, None, "skip", HOUR, 5 * HOUR + 1)
    assert on_time == [5 * HOUR]  # the tick just due still runs


def test_cron_ticks_follow_the_expression() -> None:
    first = datetime(2030, 1, 1, 9, tzinfo=timezone.utc).timestamp()
    now = datetime(2030, 1, 3, 9, 0, 30, tzinfo=timezone.utc).timestamp()
    ticks, following = due_ticks(None, "0 9 * * *", "all", first, now)
    assert [datetime.fromtimestamp(t, timezone.utc).day for t in ticks] == [1, 2, 3]
    assert datetime.fromtimestamp(following, timezone.utc) == datetime(2030, 1, 4, 9, tzinfo=timezone.utc)
    assert run_id_for("nightly", first) == "nightly@2030-01-01T09:00:00Z"


def test_two_workers_start_exactly_one_run_per_tick(
    file_clock: FileClock, postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    db = postgres_db
    added = graphc("schedules", "add", str(DATA / "tick.graph"), "--db", db)
    assert added.returncode == 0, added.stderr
    assert "schedule hourly: every 1h, next at 2030-01-01 01:00:00 UTC" in added.stdout
    pool = workers(db)
    for name in ("w1", "w2"):
        pool.start(name)
    for name in ("w1", "w2"):
        pool.wait_until_taking(name)
    for hour in range(1, 6):
        file_clock.set(START + timedelta(hours=hour))
        run_id = f"hourly@2030-01-01T{hour:02d}:00:00Z"
        until(lambda run_id=run_id: run_json(db, run_id)["status"] == "success")  # type: ignore[misc]
        time.sleep(0.6)  # both workers have looked at the clock since
    runs = opened(db)
    ids = sorted(r.id for r in runs.list())
    assert ids == [f"hourly@2030-01-01T{h:02d}:00:00Z" for h in range(1, 6)]
    assert {runs.get(i).output for i in ids} == {7}
    assert runs.schedules()[0].started == 5
    paused = graphc("schedules", "pause", "hourly", "--db", db)
    assert paused.returncode == 0 and "paused" in paused.stderr
    file_clock.set(START + timedelta(hours=8))
    time.sleep(1)
    listed = graphc("schedules", "list", "--db", db, "--format", "json")
    assert json.loads(listed.stdout)[0]["paused"] is True and json.loads(listed.stdout)[0]["started"] == 5
    assert graphc("schedules", "resume", "hourly", "--db", db).returncode == 0  # missed: skip; 08:00 is on time
    until(lambda: run_json(db, "hourly@2030-01-01T08:00:00Z")["status"] == "success")
    assert graphc("schedules", "delete", "hourly", "--db", db).returncode == 0
    assert len(runs.list()) == 6 and runs.schedules() == []


def test_a_schedule_that_catches_up_starts_each_missed_tick(
    tmp_path: Path, opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    graph = load(DATA / "tick.graph")
    runs = opened(db)
    with use_clock(ManualClock(START)):
        runs.schedule("catch", "tick.graph", (DATA / "tick.graph").read_text(), graph, every=HOUR, missed="all")
    client = runs._db()
    started = Schedules(runs.url).tick(client, START.timestamp() + 4 * HOUR + 10 * GRACE_SECONDS)
    assert started == [f"catch@2030-01-01T{h:02d}:00:00Z" for h in range(1, 5)]
    assert Schedules(runs.url).tick(client, START.timestamp() + 4 * HOUR + 20 * GRACE_SECONDS) == []  # once each
    assert {r.status for r in runs.list()} == {"queued"}  # for workers
