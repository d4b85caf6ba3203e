"""Options several commands share."""

from __future__ import annotations

import argparse

from dsl.limits import DEFAULT_LIMITS


def db_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """`--db URL`: where durable runs are kept."""
    parser.add_argument(
        "--db",
        metavar="URL",
        help="where durable runs are kept: sqlite:///PATH or a file path, or postgresql://... "
        "(default: $GRAPHC_DB, else graphc-runs.sqlite in the current directory)",
    )


def limit_options(parser: argparse.ArgumentParser) -> None:
    """`--max-bytes`, `--max-depth`, `--max-nodes`: the limits on a spec."""
    defaults = DEFAULT_LIMITS
    for flag, default, what in (
        ("--max-bytes", defaults.max_bytes, "largest spec file, in bytes"),
        ("--max-depth", defaults.max_depth, "deepest expression nesting"),
        ("--max-nodes", defaults.max_nodes, "most nodes in a graph"),
    ):
        parser.add_argument(flag, type=int, default=default, metavar="N", help=f"{what} (default {default:,})")
