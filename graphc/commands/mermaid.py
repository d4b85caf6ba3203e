"""`graphc mermaid`: the mermaid diagram, as `graphc diagram` draws it."""

from __future__ import annotations

import argparse

from .diagram import run as diagram


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument("--direction", choices=("TB", "LR", "RL", "BT"))
    parser.add_argument("--highlight", action="append", metavar="NODE", help="highlight a node (repeatable)")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    args.format, args.output = "mermaid", None
    return diagram(args)
