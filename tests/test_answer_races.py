"""Concurrent answers to one waiting run, in real processes on SQLite and PostgreSQL.

Exactly one answer wins each wait, atomically; the loser is told at once; no answer is
left over for a later wait to take; a cancel racing a resume is never undone by it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from compiler import load
from runtime.durable import DurableError, DurableRuns

from .conftest import EXAMPLES, ROOT, graphc

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

REVIEW = EXAMPLES / "review.graph"
RACE = ROOT / "tests" / "data" / "durable" / "race.py"
RACES = 50
SLOT = 0.4  # seconds between two runs' races: both sides fire within milliseconds of each other


def _database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(tmp_path / "runs.sqlite") if kind == "sqlite" else str(request.getfixturevalue("postgres_db"))


def _waiting_runs(runs: DurableRuns, count: int) -> list[str]:
    graph = load(REVIEW)
    ids = [runs.start(graph, graph.node_types["Draft"](), run_id=f"race-{i}").id for i in range(count)]
    assert {runs.get(i).status for i in ids} == {"waiting"}
    return ids


def _race(db: str, actions: list[str], run_ids: list[str]) -> list[dict[str, dict[str, Any]]]:
    """Each action in a process of its own, all firing at the same slots; each side's outcome per run."""
    start_at = time.time() + 8  # both processes have imported DBOS and connected by then
    sides = [
        subprocess.Popen(
            [sys.executable, str(RACE), db, str(start_at), str(SLOT), action, *run_ids],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for action in actions
    ]
    outcomes = []
    for side in sides:
        out, err = side.communicate(timeout=8 + SLOT * len(run_ids) + 120)
        assert side.returncode == 0, err
        outcomes.append({line["run"]: line for line in map(json.loads, out.splitlines())})
    return outcomes


A = {"approved": False, "comment": "from A"}
B = {"approved": False, "comment": "from B"}


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_exactly_one_answer_wins_each_wait_and_none_is_left_for_the_next(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, opened: Callable[[str], DurableRuns]
) -> None:
    db = _database(kind, tmp_path, request)
    runs = opened(db)
    run_ids = _waiting_runs(runs, RACES)
    first, second = _race(db, [json.dumps(A), json.dumps(B)], run_ids)
    graph = load(REVIEW)
    claimed_at_once = 0  # races both sides saw waiting: decided by the claim itself
    for run_id in run_ids:
        won = [side[run_id] for side in (first, second) if side[run_id]["ok"]]
        lost = [side[run_id] for side in (first, second) if not side[run_id]["ok"]]
        assert len(won) == 1 and len(lost) == 1, (run_id, first[run_id], second[run_id])
        assert "answered by someone else" in lost[0]["message"] or "has moved past wait 1" in lost[0]["message"]
        claimed_at_once += "answered by someone else" in lost[0]["message"]
        winner = "from A" if first[run_id]["ok"] else "from B"
        info = runs.get(run_id)
        assert (info.status, info.wait_ordinal, info.node) == ("waiting", 2, "Review"), info
        # the next wait takes the next answer, never the loser's
        done = runs.resume(run_id, graph, input={"approved": True, "comment": "fine"})
        assert (done.status, done.output, done.state) == ("success", f"first draft\n{winner}", {"revisions": 1})
    assert claimed_at_once >= RACES // 5, f"only {claimed_at_once} of {RACES} races were close"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_cancel_racing_a_resume_stays_a_cancel(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, opened: Callable[[str], DurableRuns]
) -> None:
    db = _database(kind, tmp_path, request)
    runs = opened(db)
    run_ids = _waiting_runs(runs, 20)
    cancels, resumes = _race(db, ["cancel", json.dumps(A)], run_ids)
    for run_id in run_ids:
        cancelled, resumed = cancels[run_id], resumes[run_id]
        assert cancelled["ok"] or resumed["ok"], (cancelled, resumed)
        if cancelled["ok"]:
            assert runs.get(run_id).status == "cancelled"
            assert resumed["ok"] or "cancelled" in resumed["message"]
        with pytest.raises(DurableError, match=r"already ended|cancelled"):
            runs.resume(run_id, load(REVIEW), input={"approved": True, "comment": "late"})


def test_the_losing_command_exits_non_zero_at_once(tmp_path: Path, opened: Callable[[str], DurableRuns]) -> None:
    db = str(tmp_path / "runs.sqlite")
    started = graphc("run", str(REVIEW), "--durable", "--db", db)
    assert started.returncode == 3, started.stderr
    run_id = started.stdout.splitlines()[0]
    commands = [
        [
            sys.executable,
            "-m",
            "graphc",
            "runs",
            "resume",
            run_id,
            "--db",
            db,
            "--input",
            json.dumps(answer),
            "--wait",
            "1",
        ]
        for answer in (A, B)
    ]
    processes = [
        subprocess.Popen(c, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in processes]
    codes = sorted(code for code, _, _ in results)
    assert codes == [2, 3], results  # the winner's run waits again (3), the loser is refused (2)
    loser = next(err for code, _, err in results if code == 2)
    assert "your input was not taken" in loser
    info = opened(db).get(run_id)
    assert (info.status, info.wait_ordinal) == ("waiting", 2)
