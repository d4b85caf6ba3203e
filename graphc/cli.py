"""`graphc`: the command line. It builds the parser of the one command it is given and runs that command.

Exit codes are in `graphc.exits`. This module imports nothing but argparse and the command
registry, so `graphc --help` (and a usage error) answers before any of graphc's pipeline
is loaded; a command's own module is imported only to run it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from graphc.commands import COMMANDS, command
from graphc.exits import EXIT_BROKEN_PIPE, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ("main",)


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


def _build_parser(name: str | None = None) -> argparse.ArgumentParser:
    """The parser; given a known command `name`, for it alone (each command's arguments cost start-up time)."""
    parser = _Parser(prog="graphc", description="Compile, check, run and draw declarative graph specs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    names = [name] if name in COMMANDS else list(COMMANDS)  # all of them to list, or to reject one
    for each in names:
        subparser = commands.add_parser(each, help=COMMANDS[each])
        if each == name:
            command(each).add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run graphc with `argv` (default: the process arguments); returns the exit code."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    name = arguments[0] if arguments and not arguments[0].startswith("-") else None
    args = _build_parser(name).parse_args(arguments)
    from dsl.diagnostics import DiagnosticError
    from dsl.parse import own_the_process

    from .commands._spec import UsageError, print_diagnostics

    own_the_process()  # graphc's own process: parsing may pause the garbage collector (`dsl.parse.paused_gc`)
    try:
        code = command(args.command).run(args)
        if not sys.stdout.closed:  # the language server's client closes it as the session ends
            sys.stdout.flush()  # here, not at exit, where a closed pipe could only be reported as a traceback
    except BrokenPipeError:  # the reader went away (`graphc runs list | head -1`): stop quietly, as git does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except UsageError as e:
        print(f"graphc {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DiagnosticError as e:
        print_diagnostics(e.diagnostics, {})
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
