"""`graphc runs list|show|resume|cancel|recover`: durable runs in a database."""

from __future__ import annotations

import argparse

from ._options import db_option
from ._spec import initial, load_spec

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    runs_commands = parser.add_subparsers(dest="runs_command", required=True, metavar="COMMAND")
    list_ = runs_commands.add_parser("list", help="the runs: id, graph, status, node, times, version")
    db_option(list_)
    list_.add_argument(
        "--status", choices=("queued", "running", "waiting", "sleeping", "success", "error", "cancelled")
    )
    list_.add_argument("--graph", metavar="NAME", help="only runs of this graph")
    list_.add_argument("--limit", type=int, metavar="N", help="only the N newest runs")
    list_.add_argument("--format", choices=("text", "json"), default="text")
    show = runs_commands.add_parser("show", help="a run's status, what it waits for, and its history")
    show.add_argument("run_id", metavar="RUN")
    db_option(show)
    show.add_argument("--format", choices=("text", "json"), default="text")
    resume = runs_commands.add_parser("resume", help="continue a run that crashed or waits for input")
    resume.add_argument("run_id", metavar="RUN")
    db_option(resume)
    resume.add_argument("--input", metavar="JSON", help="what a waiting run waits for, as a JSON object")
    resume.add_argument(
        "--wait",
        type=int,
        metavar="N",
        help="the wait this input answers (`runs show` prints it); refused if the run has moved past it "
        "(default: the wait the run is at)",
    )
    resume.add_argument("--deps", metavar="JSON", help="deps fields as a JSON object (deps are never stored)")
    resume.add_argument("--history", action="store_true", help="add the run's history to the JSON result")
    resume.add_argument("--output", choices=("json", "text"), default="json", help="as for `graphc run`")
    retry = runs_commands.add_parser(
        "retry", help="a new run of a failed submitted run, from the step that failed (prints its id)"
    )
    retry.add_argument("run_id", metavar="RUN")
    db_option(retry)
    fork = runs_commands.add_parser(
        "fork", help="a new run that keeps a submitted run's first N nodes and goes on (prints its id)"
    )
    fork.add_argument("run_id", metavar="RUN")
    fork.add_argument("--step", type=int, required=True, metavar="N", help="how many of its nodes the new run keeps")
    fork.add_argument("--state", metavar="JSON", help="the state to go on with (default: the state after node N)")
    db_option(fork)
    watch = runs_commands.add_parser("watch", help="a run's steps and changes as they happen, as JSON lines")
    watch.add_argument("run_id", metavar="RUN")
    db_option(watch)
    cancel = runs_commands.add_parser("cancel", help="cancel a run that has not ended")
    cancel.add_argument("run_id", metavar="RUN")
    db_option(cancel)
    recover = runs_commands.add_parser(
        "recover", help="hand the runs of a worker that will not come back to the others"
    )
    recover.add_argument("--executor", required=True, metavar="ID", help="the dead worker's --id")
    db_option(recover)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    from ._durable import runs_command

    return runs_command(args, _spec_graph)


def _spec_graph(path: str, deps_json: str | None) -> tuple[Any, Any]:
    """The graph of a spec and its deps (declared defaults, then `--deps`), for resuming a run of it."""
    graph = load_spec(path).graph
    return graph, initial(graph.deps_type, "deps", deps_json)
