"""Sub-graphs in durable runs and on workers: each run of a fork a workflow of its own.

A 100-item map killed with SIGKILL mid-way and resumed records every item's steps once and
joins the same result; failures fail the run or reach the join as tolerated; cancelling a
run cancels its runs still going; on PostgreSQL the items of one run spread over workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from runtime.durable import DurableRuns

from .conftest import EXAMPLES, ROOT, graphc
from .test_workers import wait_for
from .worker_processes import Workers

pytestmark = pytest.mark.slow  # real processes and databases

DATA = ROOT / "tests" / "data" / "subgraphs"


def env(log: Path, delay: float = 0.05) -> dict[str, str]:
    return {**os.environ, "SUBGRAPH_LOG": str(log), "SUBGRAPH_DELAY": str(delay), "PYTHONPATH": str(ROOT)}


def recorded_items(db: str, run_id: str) -> list[tuple[int, int]]:
    """(step, position) of each sub-graph run of a local run recorded in `graphc_items`."""
    import sqlite3

    try:
        with sqlite3.connect(db) as connection:
            rows = connection.execute("SELECT step, position FROM graphc_items WHERE run_id = ?", (run_id,)).fetchall()
    except sqlite3.OperationalError:  # the tables are not made yet
        return []
    return sorted(rows)


@pytest.mark.parametrize("started", [12, 50, 88])
def test_a_hundred_item_map_killed_mid_way_resumes_with_each_item_recorded_once(tmp_path: Path, started: int) -> None:
    db, log = str(tmp_path / "runs.sqlite"), tmp_path / "items.log"
    start = [sys.executable, "-m", "graphc", "run", str(DATA / "hundred.graph"), "--durable", "--db", db]
    process = subprocess.Popen([*start, "--run-id", "hundred"], cwd=ROOT, env=env(log), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not log.exists() or len(log.read_text().split()) < started:  # that many items have started
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    before = Counter(log.read_text().split())
    assert started <= len(before) < 100
    kept = [position for _, position in recorded_items(db, "hundred")]  # recorded before the kill
    assert len(kept) >= started - 20  # all but those in flight (10) or ended in the last 20 ms
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "runs", "resume", "hundred", "--db", db, "--history"],
        cwd=ROOT,
        env=env(log),
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[1])
    assert outcome["output"] == sum(n * n for n in range(100)) and outcome["state"] == {"joined": 1}
    ran = Counter(log.read_text().split())
    assert set(ran) == {str(n) for n in range(100)}
    assert all(ran[str(n)] == 1 for n in kept)  # what was recorded is never run again
    again = [n for n, times in ran.items() if times > 1]
    assert all(int(n) not in kept and ran[n] == 2 for n in again)  # the others at most once more
    fork = outcome["history"][1]
    assert fork["kind"] == "fork" and [b["index"] for b in fork["branches"]] == list(range(100))
    assert all([s["kind"] for s in b["steps"]] == ["node", "end"] for b in fork["branches"])
    assert recorded_items(db, "hundred") == [(1, n) for n in range(100)]  # each recorded once


def test_a_failing_item_fails_the_run_and_tolerated_ones_reach_the_join(tmp_path: Path) -> None:
    db, log = str(tmp_path / "runs.sqlite"), tmp_path / "items.log"
    spec = str(DATA / "failing.graph")
    strict = subprocess.run(
        [sys.executable, "-m", "graphc", "run", spec, "--durable", "--db", db, "--run-id", "strict"],
        cwd=ROOT,
        env=env(log),
        capture_output=True,
        text=True,
        check=False,
    )
    assert strict.returncode == 1
    assert "ForkFailed: sub-graph `Logged` (item 1) failed" in strict.stderr and "item -2 is negative" in strict.stderr
    shown = json.loads(graphc("runs", "show", "strict", "--db", db, "--format", "json").stdout)
    assert shown["status"] == "error" and shown["node"] == "Spread"
    tolerant = subprocess.run(
        [sys.executable, "-m", "graphc", "run", spec, "--durable", "--db", db, "--arg", "tolerant=true", "--history"],
        cwd=ROOT,
        env=env(log),
        capture_output=True,
        text=True,
        check=False,
    )
    assert tolerant.returncode == 0, tolerant.stderr
    outcome = json.loads(tolerant.stdout.splitlines()[1])
    assert outcome["output"] == 2
    join = outcome["history"][2]["node"]
    assert join["values"][1] == {"graph": "Logged", "index": 1, "error": "ValueError", "message": "item -2 is negative"}


def test_cancelling_a_run_cancels_its_sub_graph_runs(tmp_path: Path) -> None:
    db, log = str(tmp_path / "runs.sqlite"), tmp_path / "items.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graphc",
            "run",
            str(DATA / "hundred.graph"),
            "--durable",
            "--db",
            db,
            "--run-id",
            "slow",
        ],
        cwd=ROOT,
        env=env(log, delay=30),
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not log.exists() or len(log.read_text().split()) < 10:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        cancelled = graphc("runs", "cancel", "slow", "--db", db)
        assert cancelled.returncode == 0, cancelled.stderr
        runs = DurableRuns(db)
        try:
            assert runs.get("slow").status == "cancelled"
            assert runs._unfinished_sub_runs("slow") == []
            assert [r.id for r in runs.list()] == ["slow"]  # sub-graph runs are not listed as runs
        finally:
            runs.close()
    finally:
        if process.poll() is None:
            process.kill()


def test_the_items_of_one_run_spread_over_two_workers(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns], tmp_path: Path
) -> None:
    from compiler.workers import submit

    log = tmp_path / "items.log"
    os.environ["SUBGRAPH_LOG"], os.environ["SUBGRAPH_DELAY"] = str(log), "0.2"
    try:
        pool = workers(postgres_db)
        for name in ("w1", "w2"):
            pool.start(name, "--allow-import", "subgraph_tools", "--path", str(DATA))
            pool.wait_until_taking(name)
        run_id = submit(DATA / "hundred.graph", db=postgres_db, args={"count": 40}, allowed_imports=["subgraph_tools"])
    finally:
        del os.environ["SUBGRAPH_LOG"], os.environ["SUBGRAPH_DELAY"]
    runs = opened(postgres_db)
    wait_for(runs, lambda found: all(r.status in ("success", "error") for r in found if r.id == run_id))
    info = runs.get(run_id, history=True)
    assert info.status == "success", info.error
    assert info.output == sum(n * n for n in range(40))
    from dbos import DBOSClient

    client = DBOSClient(system_database_url=postgres_db)
    try:
        items = client.list_workflows(workflow_id_prefix=f"{run_id}:", load_input=False, load_output=False)
        assert len(items) == 40
        assert {w.executor_id for w in items} == {"w1", "w2"}  # spread over both
        assert all(w.parent_workflow_id == run_id for w in items)
    finally:
        client.destroy()


def test_the_etl_example_on_two_workers(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    pool = workers(postgres_db)
    folder = EXAMPLES / "etl"
    for name in ("w1", "w2"):
        pool.start(name, "--allow-import", "etl_tools", "--path", str(folder))
    submitted = graphc("submit", str(folder / "etl.graph"), "--db", postgres_db, "--allow-import", "etl_tools")
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    runs = opened(postgres_db)
    wait_for(runs, lambda found: all(r.status in ("success", "error") for r in found if r.id == run_id))
    info = runs.get(run_id, history=True)
    assert (info.status, info.output) == ("success", "indexed 20 pages, 210 words"), info.error
    fork = info.history[1]
    retried = [b for b in fork["branches"] if b["index"] % 3 == 0]
    assert all(b["output"] == b["index"] + 1 for b in fork["branches"])
    assert len(retried) == 7


def test_the_etl_example_killed_mid_fork_resumes_to_the_same_output(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    spec = str(EXAMPLES / "etl" / "etl.graph")
    slow = {**os.environ, "PYTHONPATH": str(ROOT), "ETL_DOWNLOAD_SECONDS": "0.3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "graphc", "run", spec, "--durable", "--db", db, "--run-id", "etl"],
        cwd=ROOT,
        env=slow,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (Path(db).exists() and recorded_items(db, "etl")):  # some pages are in, the rest are not
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < len(recorded_items(db, "etl")) < 20
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "runs", "resume", "etl", "--db", db],
        cwd=ROOT,
        env=slow,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[1]) == {
        "output": "indexed 20 pages, 210 words",
        "state": {"indexed": 20},
    }


def test_the_agent_example_durable_and_on_two_workers(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns], tmp_path: Path
) -> None:
    spec = str(EXAMPLES / "agent" / "agent.graph")
    plain = json.loads(graphc("run", spec).stdout)
    durable = graphc("run", spec, "--durable", "--db", str(tmp_path / "runs.sqlite"))
    assert durable.returncode == 0, durable.stderr
    assert json.loads(durable.stdout.splitlines()[1]) == plain
    pool = workers(postgres_db)
    for name in ("w1", "w2"):
        pool.start(name)
    submitted = graphc("submit", spec, "--db", postgres_db)
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    runs = opened(postgres_db)
    wait_for(runs, lambda found: all(r.status in ("success", "error") for r in found if r.id == run_id))
    info = runs.get(run_id, history=True)
    assert (info.status, info.output) == ("success", plain["output"]), info.error
    assert [b["argument"] for b in info.history[1]["branches"]] == ["brief", "full"]
