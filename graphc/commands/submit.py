"""`graphc submit`: queue a durable run of a spec for workers."""

from __future__ import annotations

import argparse

from ._options import db_option
from ._spec import load_spec, read_spec, start_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument("--start", metavar="NODE", help="start node (default: the spec's `start`)")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="as for `graphc run`")
    parser.add_argument("--state", metavar="JSON", help="initial state fields as a JSON object")
    parser.add_argument("--run-id", metavar="ID", help="the run's id (default: a new UUID)")
    parser.add_argument(
        "--max-steps", type=int, metavar="N", help="the run fails after N steps (default 10,000; 0: no limit)"
    )
    parser.add_argument("--allow-import", action="append", metavar="MODULE", help="as for `graphc check`")
    db_option(parser)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    from ._durable import submit_command

    graph, start, state = start_of(args, load_spec(args.spec, args.allow_import))  # deps: the worker's own
    return submit_command(args, graph, start, state, read_spec(args.spec))
