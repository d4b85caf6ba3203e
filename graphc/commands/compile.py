"""`graphc compile`: specs to Python modules (`compiler.pipeline`)."""

from __future__ import annotations

import argparse
import os
import sys

from dsl.diagnostics import DiagnosticError
from graphc.exits import EXIT_FAILED, EXIT_OK

from ._options import limit_options
from ._spec import UsageError, limits_of, print_diagnostics, read_sources, read_spec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("specs", nargs="+", metavar="SPEC", help=".graph, .yaml/.yml or .toml files")
    parser.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file (one spec), directory, or - for stdout; default: <spec>_graph.py beside the spec",
    )
    parser.add_argument(
        "--target",
        choices=("runtime", "pydantic_graph", "pydantic_graph2"),
        default="runtime",
        help="library the generated code imports (default: runtime); pydantic_graph: pydantic-graph 0.0.39 to 1.x, "
        "pydantic_graph2: pydantic-graph 2.x (GraphBuilder)",
    )
    parser.add_argument(
        "--allow-import",
        action="append",
        metavar="MODULE",
        help="only allow imports from these modules (repeatable); for untrusted specs",
    )
    limit_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    from compiler.pipeline import compile_source

    status = EXIT_OK
    if args.output and args.output != "-" and len(args.specs) > 1 and not os.path.isdir(args.output):
        raise UsageError("-o must be an existing directory when compiling several specs")
    for spec in args.specs:
        source = read_spec(spec, limits_of(args))
        read_sources[source.name] = source.text
        try:
            module, checked = compile_source(
                source, target=args.target, allowed_imports=args.allow_import, limits=limits_of(args)
            )
        except DiagnosticError as e:
            print_diagnostics(e.diagnostics, {})
            status = EXIT_FAILED
            continue
        print_diagnostics(checked.diagnostics, {})
        if args.output == "-":
            sys.stdout.write(module.source)
            if module.uses:
                print(f"{spec}: the modules of the specs it uses are written only with -o FILE or DIR", file=sys.stderr)
            continue
        from pathlib import Path  # imported only where a file is written: a tenth of `graphc check`'s start-up

        default_name = f"{Path(spec).stem}_graph.py"
        if args.output is None:
            out = Path(spec).with_name(default_name)
        elif Path(args.output).is_dir():
            out = Path(args.output) / default_name
        else:
            out = Path(args.output)
        # the modules of used specs go beside it: it loads them from there, by name and digest
        for path, source_text in [
            *((out.with_name(u.file), u.module.source) for u in module.uses),
            (out, module.source),
        ]:
            try:
                path.write_bytes(source_text.encode())
            except OSError as e:
                raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
        print(f"{spec} -> {out}", file=sys.stderr)
    return status
