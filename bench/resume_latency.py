"""Resuming a waiting run from a fresh process: `graphc runs resume` beside LangGraph's, and beside `graphc check`.

graphc: the review example, run durably until it waits, then `graphc runs resume RUN --input
...` in a new process each time. LangGraph: a one-node `StateGraph` that calls `interrupt()`,
checkpointed by `SqliteSaver`, resumed with `Command(resume=...)` by a new Python process each
time (its own virtual environment). `graphc check` on the same spec is the start-up reference
(target: resume within 3x of it, and within LangGraph's). Medians of 9, taken in turn.

    python bench/resume_latency.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from peers import venv_python  # noqa: E402

RUNS = 9
SPEC = str(ROOT / "examples" / "review.graph")
PEER_START = """
import sys
from typing import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt
from langgraph.checkpoint.sqlite import SqliteSaver

class State(TypedDict):
    text: str
    approved: bool

def review(state: State) -> dict:
    answer = interrupt({"text": state["text"]})
    return {"approved": answer["approved"]}

builder = StateGraph(State)
builder.add_node("review", review)
builder.add_edge(START, "review")
builder.add_edge("review", END)
with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
    graph = builder.compile(checkpointer=saver)
    for thread in sys.argv[2:]:
        graph.invoke({"text": "first draft", "approved": False}, {"configurable": {"thread_id": thread}})
"""
PEER_RESUME = (
    PEER_START.split("with SqliteSaver")[0].replace("import sys\n", "import sys\nfrom langgraph.types import Command\n")
    + """
with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
    graph = builder.compile(checkpointer=saver)
    out = graph.invoke(Command(resume={"approved": True}), {"configurable": {"thread_id": sys.argv[2]}})
    assert out["approved"] is True, out
"""
)


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stderr
    return elapsed


def main() -> None:
    graphc = shutil.which("graphc")
    base = [graphc] if graphc else [sys.executable, "-m", "graphc"]
    work = Path(tempfile.mkdtemp(prefix="graphc-resume-"))
    db = str(work / "runs.sqlite")
    for n in range(RUNS):
        started = subprocess.run(
            [*base, "run", SPEC, "--durable", "--db", db, "--run-id", f"r{n}"], capture_output=True
        )
        assert started.returncode == 3, started.stderr  # waiting
    peer = venv_python("langgraph", ["langgraph", "langgraph-checkpoint-sqlite", "aiosqlite"])
    peer_db = str(work / "langgraph.sqlite")
    if peer is not None:
        subprocess.run([str(peer), "-c", PEER_START, peer_db, *(f"t{n}" for n in range(RUNS))], check=True)
    times: dict[str, list[float]] = {"graphc check": [], "graphc runs resume": [], "LangGraph resume": []}
    for n in range(RUNS):  # in turn: a busy spell of the machine hits them all alike
        times["graphc check"].append(timed([*base, "check", SPEC, "--no-prove"]))
        answer = '{"approved": true, "comment": ""}'
        times["graphc runs resume"].append(timed([*base, "runs", "resume", f"r{n}", "--db", db, "--input", answer]))
        if peer is not None:
            times["LangGraph resume"].append(timed([str(peer), "-c", PEER_RESUME, peer_db, f"t{n}"]))
    medians = {name: statistics.median(taken) for name, taken in times.items() if taken}
    for name, seconds in medians.items():
        print(f"{name:<24} {seconds * 1000:>7.0f} ms")
    resume, check = medians["graphc runs resume"], medians["graphc check"]
    print(f"\nresume / check: {resume / check:.1f}x (target <= 3x)")
    if "LangGraph resume" in medians:
        print(f"resume / LangGraph's: {resume / medians['LangGraph resume']:.2f}x (target <= 1x)")


if __name__ == "__main__":
    main()
