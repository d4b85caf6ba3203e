"""Durable runs (DBOS, one SQLite file per test): crashes, waits for input, version pinning, the API and the CLI.

The crash test kills real processes with SIGKILL at random points and checks the
resumed run ends exactly as an uninterrupted one: no step lost, none recorded twice.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from compiler import load
from runtime.durable import DurableError, DurableRuns

from .conftest import EXAMPLES, ROOT, graphc

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

DATA = ROOT / "tests" / "data" / "durable"
COUNTER = DATA / "counter.graph"
KILLS = 20
KILLS_PER_RUN = 5


def without_times(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in step.items() if k not in ("start_ts", "duration", "ts")} for step in history]


def plain_run(spec: Path) -> dict[str, Any]:
    done = graphc("run", str(spec), "--history")
    assert done.returncode == 0, done.stderr
    outcome: dict[str, Any] = json.loads(done.stdout)
    return outcome


def test_a_run_killed_at_random_points_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    expected = plain_run(COUNTER)
    db = str(tmp_path / "runs.sqlite")
    rng = random.Random(11)
    kills = 0
    for attempt in range(3 * KILLS):  # a run may end before any kill: as many more runs as it takes
        if kills >= KILLS:
            break
        run_id = f"counter-{attempt}"
        start = ["run", str(COUNTER), "--durable", "--db", db, "--run-id", run_id, "--history"]
        command: list[str] | None = start
        for _ in range(KILLS_PER_RUN):  # then it may finish: a resume replays all it recorded first
            process = subprocess.Popen(
                [sys.executable, "-m", "graphc", *command],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            time.sleep(rng.uniform(0.2, 2.5))  # start-up takes about 1 s, the whole run about 3 s
            if process.poll() is not None:
                error = process.communicate()[1]
                if process.returncode == 2 and "no run" in error:  # the kill came before the run was recorded
                    command = start
                    continue
                assert process.returncode == 0 or "already ended (success)" in error, error  # killed as it ended
                command = None  # it finished on its own
                break
            process.send_signal(signal.SIGKILL)
            process.communicate()
            kills += 1
            command = ["runs", "resume", run_id, "--db", db, "--history"]
        if command is None:
            outcome = finished(db, run_id)
        else:
            done = graphc(*command)
            if done.returncode == 2 and "no run" in done.stderr:  # killed before the run was recorded
                done = graphc(*start)
            if done.returncode == 2 and "already ended (success)" in done.stderr:  # killed as it ended
                outcome = finished(db, run_id)
            else:
                assert done.returncode == 0, done.stderr
                lines = done.stdout.splitlines()
                assert lines[0] == run_id
                outcome = json.loads(lines[1])
        assert outcome["output"] == expected["output"] and outcome["state"] == expected["state"]
        assert without_times(outcome["history"]) == without_times(expected["history"])
    assert kills >= KILLS


def finished(db: str, run_id: str) -> dict[str, Any]:
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    return {"output": shown["output"], "state": shown["state"], "history": shown["history"]}


def test_a_waiting_run_outlives_its_process_refuses_bad_input_and_finishes_with_good(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    started = graphc("run", str(EXAMPLES / "review.graph"), "--durable", "--db", db)
    assert started.returncode == 3, started.stderr
    run_id = started.stdout.strip()
    assert f"graphc runs resume {run_id} --input" in started.stderr

    listed = json.loads(graphc("runs", "list", "--db", db, "--status", "waiting", "--format", "json").stdout)
    assert [(r["id"], r["status"], r["node"], r["graph"]) for r in listed] == [(run_id, "waiting", "Review", "Review")]
    before = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert before["waits_for"]["properties"] == {"approved": {"type": "boolean"}, "comment": {"type": "string"}}

    refused = graphc("runs", "resume", run_id, "--db", db, "--input", '{"approved": "perhaps"}')
    assert refused.returncode == 2
    assert "bad input for `Review`" in refused.stderr and "`comment` is missing" in refused.stderr
    assert "the run is unchanged" in refused.stderr and "Traceback" not in refused.stderr
    assert json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout) == before

    again = graphc("runs", "resume", run_id, "--db", db, "--input", '{"approved": false, "comment": "shorter"}')
    assert again.returncode == 3, again.stderr
    done = graphc("runs", "resume", run_id, "--db", db, "--input", '{"approved": true, "comment": ""}')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[1]) == {"output": "first draft\nshorter", "state": {"revisions": 1}}
    shown = graphc("runs", "show", run_id, "--db", db).stdout
    assert "status   success" in shown and "history  5 steps" in shown


def test_resuming_a_run_after_its_spec_changed_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "review.graph"
    spec.write_text((EXAMPLES / "review.graph").read_text())
    db = str(tmp_path / "runs.sqlite")
    run_id = graphc("run", str(spec), "--durable", "--db", db).stdout.strip()
    spec.write_text(spec.read_text().replace('"approved"', '"accepted"'))
    refused = graphc("runs", "resume", run_id, "--db", db, "--input", '{"approved": true, "comment": ""}')
    assert refused.returncode == 2
    assert "was started with graph version Review-" in refused.stderr
    assert "Restore the spec" in refused.stderr and f"graphc runs cancel {run_id}" in refused.stderr
    assert json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)["status"] == "waiting"


def test_a_node_that_raises_marks_the_run_error_with_type_message_and_spec_line(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    failed = graphc("run", str(DATA / "failing.graph"), "--durable", "--db", db)
    assert failed.returncode == 1
    run_id = failed.stdout.strip()
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert shown["status"] == "error" and shown["node"] == "Divide"
    assert shown["error"] == "ZeroDivisionError: integer division or modulo by zero (in failing.graph, line 8)"
    assert [step["node"]["node_id"] for step in shown["history"]] == ["First"]  # recorded before: kept
    assert "Traceback" not in failed.stderr


def test_cancel_and_the_commands_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    no_database = graphc("runs", "list", "--db", db)  # a misspelt path is the usual cause: said, not an empty table
    assert no_database.returncode == 2 and "there is no run database at" in no_database.stderr
    no_folder = graphc("runs", "list", "--db", str(tmp_path / "missing" / "runs.sqlite"))
    assert no_folder.returncode == 2 and "missing does not exist (a misspelt --db?)" in no_folder.stderr
    empty = graphc("runs", "list", "--db", "")
    assert empty.returncode == 2 and "--db: it is empty" in empty.stderr
    unwritable = graphc("run", str(EXAMPLES / "review.graph"), "--durable", "--db", "/proc/runs.sqlite")
    assert unwritable.returncode == 2 and "cannot create /proc/runs.sqlite: No such file" in unwritable.stderr
    run_id = graphc("run", str(EXAMPLES / "review.graph"), "--durable", "--db", db).stdout.strip()
    missing = graphc("runs", "show", "nope", "--db", db)
    assert missing.returncode == 2 and "no run `nope`" in missing.stderr
    assert graphc("runs", "cancel", run_id, "--db", db).returncode == 0
    assert json.loads(graphc("runs", "list", "--db", db, "--format", "json").stdout)[0]["status"] == "cancelled"
    ended = graphc("runs", "resume", run_id, "--db", db, "--input", "{}")
    assert ended.returncode == 2 and "has already ended (cancelled)" in ended.stderr
    taken = graphc("run", str(EXAMPLES / "review.graph"), "--durable", "--db", db, "--run-id", run_id)
    assert taken.returncode == 2 and f"a run with id `{run_id}` already exists" in taken.stderr
    bad_db = graphc("runs", "list", "--db", "mysql://x/y")
    assert bad_db.returncode == 2 and "unsupported database URL" in bad_db.stderr


def test_the_python_api_starts_waits_resumes_and_reads_history_like_a_plain_run(
    tmp_path: Path, opened: Callable[[str], DurableRuns]
) -> None:
    graph = load(EXAMPLES / "review.graph")
    runs = opened(str(tmp_path / "runs.sqlite"))
    info = runs.start(graph, graph.node_types["Draft"](text="v1"), run_id="api-1")
    assert (info.id, info.status, info.node) == ("api-1", "waiting", "Review")
    with pytest.raises(DurableError, match="waits at `Review` for approved, comment"):
        runs.resume("api-1", graph)
    info = runs.resume("api-1", graph, input={"approved": True, "comment": ""})
    assert (info.status, info.output, info.state) == ("success", "v1", {"revisions": 0})

    durable = runs.history("api-1", graph)
    plain = graph.node_types["Review"]
    assert [type(step.node).__name__ for step in durable[:-1]] == ["Draft", "Review"]  # type: ignore[union-attr]
    assert durable[1].node == plain(text="v1", approved=True, comment="")  # type: ignore[union-attr]
    assert durable[-1].result.data == "v1"  # type: ignore[union-attr]
    assert [r.id for r in runs.list("success")] == ["api-1"]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "examples/review.graph", "--durable"],
        ["runs", "list"],
        ["submit", "examples/review.graph"],
        ["worker", "--id", "w"],
    ],
)
def test_without_dbos_the_durable_commands_say_what_to_install(command: list[str]) -> None:
    blocked = f"import sys; sys.modules['dbos'] = None; from graphc.cli import main; sys.exit(main({command!r}))"
    done = subprocess.run([sys.executable, "-c", blocked], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "durable runs need DBOS" in done.stderr and "pip install 'graphc[durable]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_left_half_made_by_a_killed_process_holds_no_runs(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "runs.sqlite"
    sqlite3.connect(db).close()  # the file exists, DBOS's tables do not
    listed = graphc("runs", "list", "--db", str(db), "--format", "json")
    assert (listed.returncode, json.loads(listed.stdout)) == (0, [])
    missing = graphc("runs", "resume", "r1", "--db", str(db))
    assert missing.returncode == 2 and "no run `r1`" in missing.stderr and "Traceback" not in missing.stderr


def test_a_durable_run_keeps_the_step_limit(tmp_path: Path) -> None:
    import inspect

    from runtime.durable import DEFAULT_MAX_STEPS, DurableRuns

    db = str(tmp_path / "runs.sqlite")
    counter = str(ROOT / "tests" / "data" / "durable" / "counter.graph")
    stopped = graphc("run", counter, "--durable", "--db", db, "--max-steps", "50", "--arg", "last=100000")
    assert stopped.returncode == 1, stopped.stderr
    run_id = stopped.stdout.splitlines()[0]
    assert f"run {run_id} error: stopped after 50 steps without reaching `End` (next node: `Tick`)" in stopped.stderr
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert (shown["status"], shown["steps"]) == ("error", 50)  # recorded as an error, not left running
    unlimited = graphc("run", counter, "--durable", "--db", db, "--max-steps", "0", "--arg", "last=60")
    assert unlimited.returncode == 0 and json.loads(unlimited.stdout.splitlines()[1])["output"] == sum(range(61))
    for api in (DurableRuns.start, DurableRuns.submit):  # the same default as a plain `graphc run`
        assert inspect.signature(api).parameters["max_steps"].default == DEFAULT_MAX_STEPS == 10_000


def test_a_clean_exit_leaves_one_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite"
    commands = [
        ("run", str(EXAMPLES / "review.graph"), "--durable", "--db", str(db), "--run-id", "one"),
        ("runs", "resume", "one", "--db", str(db), "--input", '{"approved": true, "comment": ""}'),
        ("submit", str(EXAMPLES / "fives.graph"), "--db", str(db), "--arg", "foo=3"),
        ("runs", "list", "--db", str(db)),
    ]
    for command in commands:
        done = graphc(*command)
        assert done.returncode in (0, 3), done.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.sqlite"], command  # no -wal, no -shm
    with sqlite3.connect(db) as conn:  # nor a queue row per process that ran a graph
        assert conn.execute("SELECT name FROM queues").fetchall() == []


def test_two_durable_runs_in_one_process_do_not_trip_over_each_other(tmp_path: Path) -> None:
    from compiler import load
    from compiler.workers import Worker
    from runtime.durable import DurableError, DurableRuns

    graph = load(EXAMPLES / "review.graph")
    db = str(tmp_path / "runs.sqlite")
    first, second = DurableRuns(db), DurableRuns(db)
    try:
        info = first.start(graph, graph.node_types["Draft"]())
        assert second.get(info.id).status == "waiting"
        second.close()  # its own connections only: DBOS goes on for `first`
        done = first.resume(info.id, graph, input={"approved": True, "comment": ""})
        assert done.status == "success"
    finally:
        first.close()
    worker = Worker(str(tmp_path / "other.sqlite"), executor_id="solo", allowed_imports=None)
    worker.start()
    try:  # DBOS runs one database per process: said, rather than pulled from under the worker
        with pytest.raises(DurableError, match="already serves as worker solo"):
            DurableRuns(db).start(graph, graph.node_types["Draft"]())
    finally:
        assert worker.stop(grace_seconds=5) == []


@pytest.mark.parametrize(
    "value",
    [
        {"steps": [{"state": {"total": 3, "name": "Zoë ✓"}, "duration": 5.1e-07, "kind": "node"}], "next": None},
        [1, 2.5, True, None, "x", (3, 4), {"nested": [{"deep": -1}]}],
        {"when": datetime(2026, 12, 5, 7, 30, tzinfo=timezone.utc)},  # what JSON does not know goes DBOS's way
        {"tags": {"a"}, "amount": Decimal("1.50")},
    ],
)
def test_what_a_run_records_is_dbos_portable_json_to_the_character(value: Any) -> None:
    from dbos import DBOSPortableJSONSerializer

    from runtime.durable._common import _SERIALIZER

    theirs = DBOSPortableJSONSerializer()
    assert _SERIALIZER.name() == theirs.name()  # the records say which serializer reads them
    assert _SERIALIZER.serialize(value) == theirs.serialize(value)
    assert _SERIALIZER.deserialize(_SERIALIZER.serialize(value)) == theirs.deserialize(theirs.serialize(value))
