"""`graphc worker`: take submitted runs until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse

from ._options import db_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    db_option(parser)
    parser.add_argument(
        "--id",
        required=True,
        metavar="ID",
        help="a stable executor id: restarted with it, a worker recovers its runs",
    )
    parser.add_argument("--concurrency", type=int, default=8, metavar="N", help="runs in flight at most (default 8)")
    parser.add_argument("--queue-concurrency", type=int, metavar="N", help="runs in flight across all workers at most")
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of modules the specs import (repeatable); the current folder always is one",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module specs may import (repeatable); by default they may import none, and every spec runs "
        "under the trust model (README: Trust model)",
    )
    trust.add_argument(
        "--trust-specs",
        action="store_true",
        help="specs may import anything and run unguarded: only where whoever can submit may run code here",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, how long runs in flight may finish before they are handed back (default 30)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    from ._durable import worker_command

    return worker_command(args)
