"""`graphc diagram`: a picture of the graph from the checked spec, without importing its modules."""

from __future__ import annotations

import argparse

from compiler.checks import check_spec
from dsl.diagnostics import did_you_mean
from dsl.parse import parse_source

from ._spec import UsageError, print_diagnostics, read_sources, read_spec, write_out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument(
        "--format",
        choices=("mermaid", "dot", "svg", "png"),
        default="mermaid",
        help="mermaid or Graphviz DOT text, or an image rendered by Graphviz's `dot` (default: mermaid)",
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="write to a file (default: stdout; needed for png)")
    parser.add_argument("--direction", choices=("TB", "LR", "RL", "BT"))
    parser.add_argument("--highlight", action="append", metavar="NODE", help="highlight a node (repeatable)")


def run(args: argparse.Namespace) -> int:
    """A diagram from the checked spec: nothing the spec imports is run."""
    from compiler.diagram import GraphvizMissing, diagram_of, dot_text, mermaid_text, render

    source = read_spec(args.spec)
    read_sources[source.name] = source.text
    checked = check_spec(parse_source(source))
    print_diagnostics(checked.diagnostics, {})
    graph = diagram_of(checked)
    ids = [n.id for n in graph.nodes]
    for name in args.highlight or []:
        if name not in ids:
            hint = did_you_mean(name, ids) or f"nodes: {', '.join(ids)}"
            raise UsageError(f"--highlight: unknown node `{name}`; {hint}")
    if args.format == "mermaid":
        text = mermaid_text(graph, highlighted=args.highlight, direction=args.direction)
        return write_out(args.output, text + "\n")
    dot = dot_text(graph, highlighted=args.highlight, direction=args.direction)
    if args.format == "dot":
        return write_out(args.output, dot)
    if args.format == "png" and args.output is None:
        raise UsageError("--format png writes a binary image: give -o FILE.png")
    try:
        return write_out(args.output, render(dot, args.format))
    except GraphvizMissing as e:
        raise UsageError(str(e)) from None
