"""`graphc`: the command line's arguments. `commands` runs them, and is the only module that prints.

Exit codes: 0 success, 1 errors in a spec (or a failing graph run), 2 usage errors. This module
imports nothing but argparse and the limits' defaults, so `graphc --help` (and a usage error)
answers before any of graphc's pipeline is loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from dsl.limits import DEFAULT_LIMITS

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ("main",)

EXIT_USAGE = 2


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, without importing `shutil` (a tenth of `graphc check`) for the terminal's width.

    argparse makes one for every argument it is given, to check the argument's metavar.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width() - 2)


def _terminal_width() -> int:
    """As `shutil.get_terminal_size().columns`: $COLUMNS if positive, else the terminal's, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


_COMMANDS = {
    "compile": "compile specs to Python modules",
    "check": "report every error and warning in specs",
    "run": "compile a spec in memory and run it, printing each step",
    "submit": "queue a durable run of a spec for workers; prints its id",
    "worker": "run submitted runs until stopped (SIGTERM/SIGINT)",
    "runs": "list, show, resume, cancel and recover durable runs",
    "mermaid": "print the graph as a mermaid state diagram (as `diagram`)",
    "diagram": "draw the graph from the spec alone, without importing its modules",
    "fmt": "print a spec in canonical form, or convert it",
    "lsp": "serve the language server protocol over stdio (needs graphc[lsp])",
    "schema": "print the JSON Schema of the YAML/TOML form",
}
"""Each command and its one-line help."""


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; given a known `command`, for it alone (each command's parser costs start-up time)."""
    parser = _Parser(prog="graphc", description="Compile, check, run and draw declarative graph specs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    names = [command] if command in _COMMANDS else list(_COMMANDS)  # all of them to list, or to reject one
    parsers = {name: commands.add_parser(name, help=_COMMANDS[name]) for name in names}

    if command == "compile":
        compile_ = parsers["compile"]
        compile_.add_argument("specs", nargs="+", metavar="SPEC", help=".graph, .yaml/.yml or .toml files")
        compile_.add_argument(
            "-o",
            "--output",
            metavar="OUT",
            help="output file (one spec), directory, or - for stdout; default: <spec>_graph.py beside the spec",
        )
        compile_.add_argument(
            "--target",
            choices=("runtime", "pydantic_graph", "pydantic_graph2"),
            default="runtime",
            help="library the generated code imports (default: runtime); pydantic_graph: pydantic-graph 0.0.39 to 1.x, "
            "pydantic_graph2: pydantic-graph 2.x (GraphBuilder)",
        )
        compile_.add_argument(
            "--allow-import",
            action="append",
            metavar="MODULE",
            help="only allow imports from these modules (repeatable); for untrusted specs",
        )
        _limit_options(compile_)

    if command == "check":
        check = parsers["check"]
        check.add_argument("specs", nargs="+", metavar="SPEC")
        check.add_argument("--format", choices=("text", "json"), default="text")
        check.add_argument("--allow-import", action="append", metavar="MODULE", help="only allow imports from these")
        check.add_argument(
            "--types",
            action="store_true",
            help="also type-check the spec against the Python it calls, with mypy (needs graphc[types])",
        )
        check.add_argument(
            "--prove",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="prove branch conditions with z3: shadowed, always true or false, repeated "
            "(default: when graphc[prove] is installed)",
        )
        _limit_options(check)

    if command == "run":
        run = parsers["run"]
        run.add_argument("spec", metavar="SPEC")
        run.add_argument("--start", metavar="NODE", help="start node (default: the spec's `start`)")
        run.add_argument(
            "--arg",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a field of the start node; VALUE is JSON, or else a plain string",
        )
        run.add_argument("--state", metavar="JSON", help="initial state fields as a JSON object (others keep defaults)")
        run.add_argument("--deps", metavar="JSON", help="deps fields as a JSON object (others keep defaults)")
        run.add_argument("--history", action="store_true", help="add the run's history to the JSON result")
        run.add_argument(
            "--output",
            choices=("json", "text"),
            default="json",
            help="stdout gets only the result: a JSON object of output and state (default), or the output as text; "
            "the trace and whatever the nodes print go to stderr",
        )
        run.add_argument(
            "--max-steps", type=int, metavar="N", help="stop a run after N steps (default 10,000; 0: no limit)"
        )
        run.add_argument(
            "--allow-import", action="append", metavar="MODULE", help="run an untrusted spec: as for `graphc check`"
        )
        durable = run.add_argument_group(
            "durable runs (need graphc[durable])",
            "exit codes: 0 the run ended, 3 it waits for input (`graphc runs resume`), 1 a node failed",
        )
        durable.add_argument(
            "--durable",
            action="store_true",
            help="record every step in a database: a killed run resumes where it stopped",
        )
        _db_option(durable)
        durable.add_argument("--run-id", metavar="ID", help="the run's id (default: a new UUID)")

    if command == "submit":
        submit = parsers["submit"]
        submit.add_argument("spec", metavar="SPEC")
        submit.add_argument("--start", metavar="NODE", help="start node (default: the spec's `start`)")
        submit.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="as for `graphc run`")
        submit.add_argument("--state", metavar="JSON", help="initial state fields as a JSON object")
        submit.add_argument("--run-id", metavar="ID", help="the run's id (default: a new UUID)")
        submit.add_argument(
            "--max-steps", type=int, metavar="N", help="the run fails after N steps (default 10,000; 0: no limit)"
        )
        submit.add_argument("--allow-import", action="append", metavar="MODULE", help="as for `graphc check`")
        _db_option(submit)

    if command == "worker":
        worker = parsers["worker"]
        _db_option(worker)
        worker.add_argument(
            "--id",
            required=True,
            metavar="ID",
            help="a stable executor id: restarted with it, a worker recovers its runs",
        )
        worker.add_argument(
            "--concurrency", type=int, default=8, metavar="N", help="runs in flight at most (default 8)"
        )
        worker.add_argument(
            "--queue-concurrency", type=int, metavar="N", help="runs in flight across all workers at most"
        )
        worker.add_argument(
            "--path",
            action="append",
            default=[],
            metavar="DIR",
            help="a folder of modules the specs import (repeatable); the current folder always is one",
        )
        trust = worker.add_mutually_exclusive_group()
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
        worker.add_argument(
            "--grace",
            type=float,
            default=30.0,
            metavar="SECONDS",
            help="on SIGTERM/SIGINT, how long runs in flight may finish before they are handed back (default 30)",
        )

    if command == "runs":
        runs = parsers["runs"]
        runs_commands = runs.add_subparsers(dest="runs_command", required=True, metavar="COMMAND")
        list_ = runs_commands.add_parser("list", help="the runs: id, graph, status, node, times, version")
        _db_option(list_)
        list_.add_argument("--status", choices=("running", "waiting", "success", "error", "cancelled"))
        list_.add_argument("--format", choices=("text", "json"), default="text")
        show = runs_commands.add_parser("show", help="a run's status, what it waits for, and its history")
        show.add_argument("run_id", metavar="RUN")
        _db_option(show)
        show.add_argument("--format", choices=("text", "json"), default="text")
        resume = runs_commands.add_parser("resume", help="continue a run that crashed or waits for input")
        resume.add_argument("run_id", metavar="RUN")
        _db_option(resume)
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
        cancel = runs_commands.add_parser("cancel", help="cancel a run that has not ended")
        cancel.add_argument("run_id", metavar="RUN")
        _db_option(cancel)
        recover = runs_commands.add_parser(
            "recover", help="hand the runs of a worker that will not come back to the others"
        )
        recover.add_argument("--executor", required=True, metavar="ID", help="the dead worker's --id")
        _db_option(recover)

    if command == "mermaid":
        mermaid = parsers["mermaid"]
        mermaid.add_argument("spec", metavar="SPEC")
        mermaid.add_argument("--direction", choices=("TB", "LR", "RL", "BT"))
        mermaid.add_argument("--highlight", action="append", metavar="NODE", help="highlight a node (repeatable)")

    if command == "diagram":
        diagram = parsers["diagram"]
        diagram.add_argument("spec", metavar="SPEC")
        diagram.add_argument(
            "--format",
            choices=("mermaid", "dot", "svg", "png"),
            default="mermaid",
            help="mermaid or Graphviz DOT text, or an image rendered by Graphviz's `dot` (default: mermaid)",
        )
        diagram.add_argument("-o", "--output", metavar="OUT", help="write to a file (default: stdout; needed for png)")
        diagram.add_argument("--direction", choices=("TB", "LR", "RL", "BT"))
        diagram.add_argument("--highlight", action="append", metavar="NODE", help="highlight a node (repeatable)")

    if command == "fmt":
        fmt = parsers["fmt"]
        fmt.add_argument("specs", nargs="+", metavar="SPEC", help="one spec, or several with --check or --write")
        fmt.add_argument("--to", choices=("graph", "yaml", "toml"), help="syntax to print (default: the spec's own)")
        fmt.add_argument("--check", action="store_true", help="exit 1 if the file is not already canonical")
        fmt.add_argument(
            "--write", action="store_true", help="rewrite the file (or write the converted file beside it)"
        )

        fmt.add_argument(
            "--schema",
            metavar="PATH",
            default="graphc.schema.json",
            help="the JSON Schema the YAML/TOML modeline points at, for yaml-language-server and taplo "
            "(default: graphc.schema.json beside the spec; write it with `graphc schema -o`)",
        )
        fmt.add_argument("--no-schema", dest="schema", action="store_const", const=None, help="write no modeline")

    if command == "schema":
        schema = parsers["schema"]
        schema.add_argument("-o", "--output", metavar="PATH", help="write it to a file (e.g. graphc.schema.json)")

    return parser


def _db_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="where durable runs are kept: sqlite:///PATH or a file path, or postgresql://... "
        "(default: $GRAPHC_DB, else graphc-runs.sqlite in the current directory)",
    )


def _limit_options(parser: argparse.ArgumentParser) -> None:
    defaults = DEFAULT_LIMITS
    for flag, default, what in (
        ("--max-bytes", defaults.max_bytes, "largest spec file, in bytes"),
        ("--max-depth", defaults.max_depth, "deepest expression nesting"),
        ("--max-nodes", defaults.max_nodes, "most nodes in a graph"),
    ):
        parser.add_argument(flag, type=int, default=default, metavar="N", help=f"{what} (default {default:,})")


def main(argv: Sequence[str] | None = None) -> int:
    """Run graphc with `argv` (default: the process arguments); returns the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = arguments[0] if arguments and not arguments[0].startswith("-") else None
    args = _build_parser(command).parse_args(arguments)
    from dsl.parse import own_the_process

    from .commands import run_command

    own_the_process()  # graphc's own process: parsing may pause the garbage collector (`dsl.parse.paused_gc`)
    try:
        code = run_command(args)
        sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported as a traceback
    except BrokenPipeError:  # the reader went away (`graphc runs list | head -1`): stop quietly, as git does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for git
    return code


if __name__ == "__main__":
    sys.exit(main())
