"""`graphc schema`: the JSON Schema of the YAML/TOML form."""

from __future__ import annotations

import argparse
import json

from ._spec import write_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("-o", "--output", metavar="PATH", help="write it to a file (e.g. graphc.schema.json)")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    from dsl.schema import document_schema

    text = json.dumps(document_schema(), indent=2) + "\n"
    return write_out(args.output, text)
