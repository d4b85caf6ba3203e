"""Pure nodes: the compiler proves which nodes only compute, and a durable run records them with the node before.

The proof is conservative (tested on what makes a node impure); the durable history is the
plain run's, in far fewer recorded steps; a batch killed half-way is run again to the same end;
the step limit and `checkpoint` (a spec's opt-out) hold.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compiler.checks import check_spec
from dsl.parse import parse_source
from dsl.source import read_source, source_from_text

from .conftest import EXAMPLES, ROOT, graphc

PURE_LOOP = ROOT / "tests" / "data" / "durable" / "pure_loop.graph"
NODES = """graph G -> int
start A
from json import dumps

state:
    log: list[str] = []
    seen: dict[str, int] = {}

node A(n: int = 0, tags: set[str] = set()):
    x = len(state.log) + max(n, 1)
    state.log.append(str(x))
    state.seen.update({"a": x})
    tags.add("a")
    -> B(x)

node B(n: int):
    print(n)
    -> C(n)

node C(n: int):
    text = dumps(n)
    -> D(n)

node D(n: int):
    await dumps(n)
    -> E(n)

node E(n: int) retry 2:
    -> F(n)

node F(n: int) waits (ok: bool):
    -> G(n)

node G(n: int) checkpoint:
    -> H(n)

node H(n: int):
    words = "a b".split()
    -> End(len(words) + n)
"""


def test_only_nodes_that_merely_compute_are_pure() -> None:
    checked = check_spec(parse_source(source_from_text("g.graph", NODES)))
    # B prints, C and D call an import, E retries, F waits, G opts out, H calls a method of a local
    assert checked.pure_nodes == {"A"}
    examples = {
        name: check_spec(parse_source(read_source(EXAMPLES / f"{name}.graph"))).pure_nodes
        for name in ("never_42", "support_desk", "review")
    }
    assert examples["never_42"] == {"Increment", "Check42"}
    assert examples["support_desk"] == {"Resolve", "Survey", "Close", "Archive", "Report"}  # Receive builds a Ticket
    assert examples["review"] == {"Draft"}


def test_check_lists_the_pure_nodes() -> None:
    done = graphc("check", "--show-pure", str(EXAMPLES / "never_42.graph"))
    assert "never_42.graph:8: `Increment` is pure: a durable run records it with the node before it" in done.stderr


pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")


def recorded_steps(db: str, run_id: str) -> list[str]:
    from dbos import DBOSClient

    from runtime.durable import database_url

    client = DBOSClient(system_database_url=database_url(db))
    try:
        return [s["function_name"] for s in client.list_workflow_steps(run_id)]
    finally:
        client.destroy()


def without_times(history: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in step.items() if k not in ("start_ts", "duration", "ts")} for step in history]


@pytest.mark.slow
def test_a_pure_loop_is_recorded_in_few_steps_with_the_plain_history(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    plain = json.loads(graphc("run", str(PURE_LOOP), "--history").stdout)
    durable = graphc("run", str(PURE_LOOP), "--durable", "--db", db, "--run-id", "loop", "--history")
    assert durable.returncode == 0, durable.stderr
    outcome = json.loads(durable.stdout.splitlines()[1])
    assert (outcome["output"], outcome["state"]) == (plain["output"], plain["state"])
    assert without_times(outcome["history"]) == without_times(plain["history"])  # 5,001 nodes, the same steps
    steps = recorded_steps(db, "loop")
    assert 5 <= steps.count("graphc.node") <= 60  # a thousand nodes (or half a second) a step, not 5,001
    shown = json.loads(graphc("runs", "show", "loop", "--db", db, "--format", "json").stdout)
    assert shown["steps"] == 5001  # nodes, as before


@pytest.mark.slow
def test_a_pure_batch_killed_half_way_runs_again_to_the_same_end(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    arguments = ["--arg", "last=40000", "--max-steps", "0"]
    plain = json.loads(graphc("run", str(PURE_LOOP), *arguments).stdout)
    killed = 0
    for attempt in range(6):
        run_id = f"loop-{attempt}"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "graphc",
                "run",
                str(PURE_LOOP),
                "--durable",
                "--db",
                db,
                "--run-id",
                run_id,
                *arguments,
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.2 + 0.3 * attempt)  # start-up takes about a second; the run about three
        if process.poll() is not None:
            continue
        process.send_signal(signal.SIGKILL)
        process.wait()
        resumed = graphc("runs", "resume", run_id, "--db", db)
        if resumed.returncode == 2 and "no run" in resumed.stderr:  # killed before the run was recorded
            continue
        killed += 1
        assert resumed.returncode == 0, resumed.stderr
        assert json.loads(resumed.stdout.splitlines()[1]) == plain
    assert killed >= 2


@pytest.mark.slow
def test_the_step_limit_holds_inside_a_batch(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.sqlite")
    stopped = graphc("run", str(PURE_LOOP), "--durable", "--db", db, "--max-steps", "50")
    assert stopped.returncode == 1
    assert "stopped after 50 steps without reaching `End`" in stopped.stderr
    run_id = stopped.stdout.splitlines()[0]
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert (shown["status"], shown["steps"]) == ("error", 50)
