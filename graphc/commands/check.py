"""`graphc check`: every error and warning in specs, with the optional type check and guard prover."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from compiler.checks import CheckedGraph, check_spec, waits_text
from dsl.diagnostics import Diagnostic, DiagnosticError
from dsl.parse import parse_source
from dsl.source import SourceFile
from graphc.exits import EXIT_FAILED, EXIT_OK

from ._options import limit_options
from ._spec import UsageError, limits_of, print_diagnostics, read_sources, read_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("specs", nargs="+", metavar="SPEC")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--allow-import", action="append", metavar="MODULE", help="only allow imports from these")
    parser.add_argument(
        "--types",
        action="store_true",
        help="also type-check the spec against the Python it calls, with mypy (needs graphc[types])",
    )
    parser.add_argument(
        "--prove",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="prove branch conditions with z3: shadowed, always true or false, repeated "
        "(default: when graphc[prove] is installed)",
    )
    parser.add_argument(
        "--show-pure",
        action="store_true",
        help="list the pure nodes: a durable run records each in the step of the node before it",
    )
    limit_options(parser)


def _prover(wanted: bool | None) -> Callable[[CheckedGraph, SourceFile], list[Diagnostic]] | None:
    """The guard prover, its verdicts cached by the spec's text (z3 is imported only to prove a new text).

    Without z3 it proves nothing, or, if `--prove` asked for it, it is a usage error.
    """
    if wanted is False:
        return None
    from compiler.proofs import prove_cached

    def prove(checked: CheckedGraph, source: SourceFile) -> list[Diagnostic]:
        try:
            return prove_cached(checked, source.text)
        except ImportError:
            if wanted:
                raise UsageError("--prove needs z3: pip install 'graphc[prove]'") from None
            return []

    return prove


def _type_checker() -> Callable[[CheckedGraph, SourceFile], list[Diagnostic]]:
    try:
        from compiler.typecheck import typecheck
    except ImportError:
        raise UsageError("--types needs mypy: pip install 'graphc[types]'") from None
    return typecheck


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    found: list[Diagnostic] = []
    waits: list[str] = []  # the nodes that wait for outside input: a reviewer wants to see them
    prove = _prover(args.prove)
    typecheck = _type_checker() if args.types else None
    for path in args.specs:
        source = read_spec(path, limits_of(args))
        read_sources[source.name] = source.text
        try:
            spec = parse_source(source, limits=limits_of(args))
            checked = check_spec(spec, allowed_imports=args.allow_import)
            found += checked.diagnostics
            waits += [
                f"{n.name_span.file}:{n.name_span.line}: {waits_text(n)}" for n in spec.nodes if n.waits or n.sleep
            ]
            if args.show_pure:
                waits += [
                    f"{n.name_span.file}:{n.name_span.line}: `{n.name}` is pure: a durable run records it "
                    "with the node before it"
                    for n in spec.nodes
                    if n.name in checked.pure_nodes
                ]
            if prove is not None:
                found += prove(checked, source)
            if typecheck is not None and not any(d.severity == "error" for d in checked.diagnostics):
                found += typecheck(checked, source)
        except DiagnosticError as e:
            found += e.diagnostics
    print_diagnostics(found, {}, args.format)
    errors = sum(d.severity == "error" for d in found)
    if args.format == "text":
        for line in waits:
            print(line, file=sys.stderr)
        warnings = len(found) - errors
        print(
            f"{len(args.specs)} spec{'s' if len(args.specs) != 1 else ''} checked: "
            f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}",
            file=sys.stderr,
        )
    return EXIT_FAILED if errors else EXIT_OK
