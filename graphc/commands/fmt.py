"""`graphc fmt`: a spec in canonical form, or converted to another syntax."""

from __future__ import annotations

import argparse
import sys

from dsl.diagnostics import DiagnosticError
from dsl.parse import parse_source
from graphc.exits import EXIT_FAILED, EXIT_OK

from ._spec import UsageError, print_diagnostics, read_sources, read_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="one spec, or several with --check or --write")
    parser.add_argument("--to", choices=("graph", "yaml", "toml"), help="syntax to print (default: the spec's own)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not already canonical")
    parser.add_argument("--write", action="store_true", help="rewrite the file (or write the converted file beside it)")

    parser.add_argument(
        "--schema",
        metavar="PATH",
        default="graphc.schema.json",
        help="the JSON Schema the YAML/TOML modeline points at, for yaml-language-server and taplo "
        "(default: graphc.schema.json beside the spec; write it with `graphc schema -o`)",
    )
    parser.add_argument("--no-schema", dest="schema", action="store_const", const=None, help="write no modeline")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    if len(args.specs) > 1 and not (args.check or args.write):
        raise UsageError("several specs need --check or --write (printing them all would run them together)")
    if args.check and args.to:
        raise UsageError("--check compares a file with its own canonical form; drop --to")
    status = EXIT_OK
    for path in args.specs:
        try:
            status = max(status, _fmt_one(args, path))
        except DiagnosticError as e:  # the other files are still formatted
            print_diagnostics(e.diagnostics, {})
            status = EXIT_FAILED
    return status


def _fmt_one(args: argparse.Namespace, path: str) -> int:
    from dsl.printer import print_spec

    source = read_spec(path)
    read_sources[source.name] = source.text
    spec = parse_source(source)
    syntax = args.to or source.syntax
    text = print_spec(spec, syntax, schema=args.schema)
    if args.check:
        if text != source.text:
            print(f"{path} is not formatted", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    if args.write:
        from pathlib import Path

        suffix = {"graph": ".graph", "yaml": ".yaml", "toml": ".toml"}[syntax]
        out = Path(path) if syntax == source.syntax else Path(path).with_suffix(suffix)
        if not out.exists() or out.read_text(encoding="utf-8") != text:  # untouched files keep their time
            out.write_text(text, encoding="utf-8")
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK
