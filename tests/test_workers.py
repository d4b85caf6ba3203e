"""Workers: real `graphc worker` processes on a real PostgreSQL (a database per test) and on one SQLite file.

Every run ends `success` exactly once with the right output, its ten steps each recorded
once; killed workers lose nothing: restarted with their id they finish what they held,
and `graphc runs recover` gives a dead one's runs to the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("dbos", reason="workers need DBOS: pip install 'graphc[durable]'")

from compiler import load
from compiler.workers import Worker, submit
from dsl.source import read_source
from runtime.durable import DurableRuns, RunInfo

from .conftest import EXAMPLES, ROOT, graphc
from .worker_processes import Workers

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

SLEEPY = ROOT / "tests" / "data" / "durable" / "sleepy.graph"
COUNTER = ROOT / "tests" / "data" / "durable" / "counter.graph"
FAILING = ROOT / "tests" / "data" / "durable" / "failing.graph"
ESCAPE = ROOT / "tests" / "golden" / "trust" / "generator_frame.graph"


def expected_output(seed: int) -> int:
    return sum(seed + n for n in range(10))


def submit_sleepy(runs: DurableRuns, count: int, *, pause: float, first_seed: int = 0) -> dict[str, int]:
    graph = load(SLEEPY)
    source = read_source(SLEEPY)
    step = graph.node_types["Step"]
    seeds = {}
    for seed in range(first_seed, first_seed + count):
        run_id = runs.submit("sleepy.graph", source.text, graph, step(0, seed, pause), run_id=f"sleepy-{seed}")
        seeds[run_id] = seed
    return seeds


def wait_for(runs: DurableRuns, done: Callable[[list[RunInfo]], bool], timeout: float = 180) -> list[RunInfo]:
    deadline = time.monotonic() + timeout
    while True:
        found = runs.list()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def assert_each_ran_once(runs: DurableRuns, seeds: dict[str, int]) -> list[RunInfo]:
    infos = [runs.get(run_id, history=True) for run_id in seeds]
    for info in infos:
        assert info.status == "success", (info.id, info.status, info.error)
        assert info.output == expected_output(seeds[info.id])
        assert info.steps == 10  # none lost, none recorded twice
        assert [step["node"]["n"] for step in info.history[:-1]] == list(range(10))
    return infos


def all_ended(ids: set[str]) -> Callable[[list[RunInfo]], bool]:
    return lambda found: all(r.status in ("success", "error") for r in found if r.id in ids)


def test_three_workers_share_300_runs_and_each_runs_once(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    runs = opened(postgres_db)
    seeds = submit_sleepy(runs, 300, pause=0.01)
    pool = workers(postgres_db)
    for name in ("w1", "w2", "w3"):
        pool.start(name, "--concurrency", "8")
    wait_for(runs, all_ended(set(seeds)))
    infos = assert_each_ran_once(runs, seeds)
    by_worker = Counter(info.executor for info in infos)
    assert set(by_worker) == {"w1", "w2", "w3"}
    assert min(by_worker.values()) >= 60, by_worker  # each at least 20%


def test_killed_workers_lose_nothing(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    runs = opened(postgres_db)
    pool = workers(postgres_db)
    # a worker killed mid-run and restarted with the same id finishes what it held
    held = submit_sleepy(runs, 6, pause=0.15)
    pool.start("w1", "--concurrency", "8")
    wait_for(runs, lambda found: sum(r.steps >= 2 for r in found) >= 3, timeout=60)
    pool.kill("w1")
    interrupted = [r for r in runs.list() if r.status == "running" and r.executor == "w1"]
    assert interrupted, "the kill came too late to interrupt anything"
    pool.start("w1", "--concurrency", "8")
    wait_for(runs, all_ended(set(held)))
    assert_each_ran_once(runs, held)
    pool.kill("w1", signal.SIGTERM)

    # a worker killed for good: `runs recover` gives its runs to the others
    lost = submit_sleepy(runs, 4, pause=0.15, first_seed=100)
    pool.start("doomed", "--concurrency", "8")
    wait_for(runs, lambda found: sum(r.steps >= 2 for r in found if r.id in lost) >= 2, timeout=60)
    pool.kill("doomed")
    pool.start("w2", "--concurrency", "8")
    pool.wait_until_taking("w2")
    assert all(runs.get(run_id).status != "success" for run_id in lost if runs.get(run_id).executor == "doomed")
    recovered = graphc("runs", "recover", "--executor", "doomed", "--db", postgres_db)
    assert recovered.returncode == 0, recovered.stderr
    assert "back on the queue" in recovered.stderr
    wait_for(runs, all_ended(set(lost)))
    assert {info.executor for info in assert_each_ran_once(runs, lost)} == {"w2"}


def test_a_waiting_run_resumed_on_postgres_is_finished_by_a_worker(
    postgres_db: str, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    submitted = graphc("submit", str(EXAMPLES / "review.graph"), "--db", postgres_db, "--arg", "text=v1")
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    pool = workers(postgres_db)
    pool.start("w1")
    runs = opened(postgres_db)
    wait_for(runs, lambda found: found[0].status == "waiting", timeout=60)
    refused = graphc("runs", "resume", run_id, "--db", postgres_db, "--input", '{"approved": "maybe", "comment": ""}')
    assert refused.returncode == 2 and "Input should be a valid boolean" in refused.stderr
    resumed = graphc("runs", "resume", run_id, "--db", postgres_db, "--input", '{"approved": true, "comment": ""}')
    assert resumed.returncode == 0, resumed.stderr
    [info] = wait_for(runs, lambda found: found[0].status == "success", timeout=60)
    assert (info.status, info.output, info.executor) == ("success", "v1", "w1")


def test_two_workers_on_one_sqlite_file(
    tmp_path: Path, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    runs = opened(db)
    seeds = submit_sleepy(runs, 20, pause=0.1)  # enough work that `a` is not done before `b` has started
    pool = workers(db)
    pool.start("a", "--concurrency", "4")
    pool.start("b", "--concurrency", "4")
    wait_for(runs, all_ended(set(seeds)), timeout=120)
    infos = assert_each_ran_once(runs, seeds)
    assert {info.executor for info in infos} == {"a", "b"}
    assert pool.kill("a", signal.SIGTERM) == 0 and pool.kill("b", signal.SIGINT) == 0  # a clean stop exits 0


def test_a_run_that_fails_is_marked_error_and_the_worker_goes_on(
    tmp_path: Path, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    submitted = [
        graphc("submit", str(SLEEPY), "--db", db, "--run-id", "imports-asyncio"),  # outside --allow-import
        graphc("submit", str(FAILING), "--db", db, "--run-id", "raises"),
        graphc("submit", str(COUNTER), "--db", db, "--run-id", "fine", "--arg", "last=5"),
        graphc("submit", str(COUNTER), "--db", db, "--run-id", "loops", "--arg", "last=99999", "--max-steps", "30"),
        graphc("submit", str(ESCAPE), "--db", db, "--run-id", "escape"),  # the submitter trusts it; workers do not
    ]
    assert all(done.returncode == 0 for done in submitted), [done.stderr for done in submitted]
    pool = workers(db)
    pool.start("strict", "--allow-import", "math")
    runs = opened(db)
    wait_for(runs, all_ended({"imports-asyncio", "raises", "fine", "loops", "escape"}), timeout=60)
    escape = runs.get("escape")
    assert escape.status == "error" and "generator_frame.graph:6:9: error[E140]: attribute `f_globals`" in str(
        escape.error
    )
    refused, raised, fine = runs.get("imports-asyncio"), runs.get("raises"), runs.get("fine")
    loops = runs.get("loops")
    assert (loops.status, loops.steps) == ("error", 30) and "stopped after 30 steps" in str(loops.error)
    assert (refused.status, refused.error) == (
        "error",
        "the spec does not compile here: sleepy.graph:5:1: error[E120]: import from `asyncio` is not allowed",
    )
    assert (raised.status, raised.error) == (
        "error",
        "ZeroDivisionError: integer division or modulo by zero (in failing.graph, line 8)",
    )
    assert (fine.status, fine.output) == ("success", 15)
    log = (tmp_path / "strict.log").read_text()  # the operator hears of it, with the run and the diagnostic
    assert "graphc worker strict: run imports-asyncio: the spec does not compile here: sleepy.graph:5:1" in log


def test_a_second_live_worker_with_a_held_id_is_refused(tmp_path: Path, workers: Callable[[str], Workers]) -> None:
    db = str(tmp_path / "runs.sqlite")
    pool = workers(db)
    pool.start("twin")
    pool.wait_until_taking("twin")
    second = graphc("worker", "--db", db, "--id", "twin")
    assert second.returncode == 2
    assert "a worker with id `twin` is already running (process" in second.stderr
    assert "give this one another --id, or stop that one first" in second.stderr
    pool.kill("twin")  # killed: restarted here at once, it takes its id back (its process is gone)
    pool.start("twin")
    pool.wait_until_taking("twin")
    assert pool.kill("twin", signal.SIGTERM) == 0  # a clean stop gives the id up
    pool.start("twin")
    pool.wait_until_taking("twin")


def test_a_worker_finds_the_modules_beside_it_and_under_path(
    tmp_path: Path, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    flows, tools = tmp_path / "flows", tmp_path / "tools"
    flows.mkdir(), tools.mkdir()
    (flows / "nearby.py").write_text("def double(n: int) -> int:\n    return 2 * n\n")
    (tools / "faraway.py").write_text("def add_one(n: int) -> int:\n    return n + 1\n")
    for name, module, function in (("near", "nearby", "double"), ("far", "faraway", "add_one")):
        (flows / f"{name}.graph").write_text(
            f"graph G -> int\nstart A\n\nfrom {module} import {function}\n\n"
            f"node A(n: int = 20):\n    -> End({function}(n))\n"
        )
    db = str(tmp_path / "runs.sqlite")
    submitting = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (ROOT, tools)))}  # `submit` compiles it too
    for name in ("near", "far"):
        command = ["submit", str(flows / f"{name}.graph"), "--db", db, "--run-id", name]
        done = subprocess.run(
            [sys.executable, "-m", "graphc", *command],
            capture_output=True,
            text=True,
            env=submitting,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    pool = workers(db)
    pool.start("beside", "--allow-import", "nearby", "--allow-import", "faraway", "--path", str(tools), cwd=flows)
    runs = opened(db)
    wait_for(runs, all_ended({"near", "far"}), timeout=60)
    assert [(runs.get(n).status, runs.get(n).output) for n in ("near", "far")] == [("success", 40), ("success", 21)]


def test_a_spec_altered_in_the_database_fails_its_run_with_a_message(
    tmp_path: Path, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    import sqlite3

    db = str(tmp_path / "runs.sqlite")
    assert graphc("submit", str(COUNTER), "--db", db, "--run-id", "altered", "--arg", "last=5").returncode == 0
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE graphc_specs SET source = replace(source, 'last', 'final')")
    workers(db).start("reader")
    runs = opened(db)
    [info] = wait_for(runs, all_ended({"altered"}), timeout=60)
    assert info.status == "error" and "was altered in the database: it no longer matches its digest" in str(info.error)


def test_sigterm_hands_back_what_cannot_finish_in_the_grace_time(
    tmp_path: Path, workers: Callable[[str], Workers], opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    runs = opened(db)
    seeds = submit_sleepy(runs, 4, pause=0.3)
    pool = workers(db)
    pool.start("leaving", "--concurrency", "4", "--grace", "0.5")
    wait_for(runs, lambda found: all(r.steps >= 1 for r in found), timeout=60)
    started = time.monotonic()
    assert pool.kill("leaving", signal.SIGTERM) == 0
    assert time.monotonic() - started < 15
    assert {r.status for r in runs.list()} == {"queued"}  # handed back, not lost
    assert "handed back" in (tmp_path / "leaving.log").read_text()
    pool.start("taking-over")
    wait_for(runs, all_ended(set(seeds)))
    assert {info.executor for info in assert_each_ran_once(runs, seeds)} == {"taking-over"}


def test_the_python_api_submits_a_loaded_graph_and_runs_a_worker_in_this_program(
    tmp_path: Path, opened: Callable[[str], DurableRuns]
) -> None:
    db = str(tmp_path / "runs.sqlite")
    run_id = submit(load(SLEEPY), db=db, args={"seed": 3, "pause": 0.0})
    worker = Worker(db, executor_id="in-process", concurrency=2, allowed_imports=["asyncio"])
    worker.start()
    try:
        [info] = wait_for(opened(db), lambda found: found[0].status == "success", timeout=60)
    finally:
        assert worker.stop(grace_seconds=5) == []
    assert (info.id, info.output, info.executor) == (run_id, expected_output(3), "in-process")
