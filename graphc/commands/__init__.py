"""The commands, one module each, found by name without importing the others (as pip's `_internal/commands`).

A command module has `add_arguments(parser)` and `run(args) -> int` (the exit code); it
imports what only it needs when it runs, so `graphc check` pays for no other command.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Protocol

    class Command(Protocol):
        """What a command module offers."""

        add_arguments: Callable[[argparse.ArgumentParser], None]
        run: Callable[[argparse.Namespace], int]


__all__ = ("COMMANDS", "command")

COMMANDS = {
    "compile": "compile specs to Python modules",
    "check": "report every error and warning in specs",
    "run": "compile a spec in memory and run it, printing each step",
    "submit": "queue a durable run of a spec for workers; prints its id",
    "worker": "run submitted runs until stopped (SIGTERM/SIGINT)",
    "runs": "list, show, resume, cancel and recover durable runs",
    "schedules": "add, list, pause, resume and delete schedules: runs workers start on time",
    "serve": "the HTTP API and web console over a run database (needs graphc[serve])",
    "tokens": "add, list and revoke the access tokens of graphc serve",
    "mermaid": "print the graph as a mermaid state diagram (as `diagram`)",
    "diagram": "draw the graph from the spec alone, without importing its modules",
    "fmt": "print a spec in canonical form, or convert it",
    "lsp": "serve the language server protocol over stdio (needs graphc[lsp])",
    "schema": "print the JSON Schema of the YAML/TOML form",
}
"""Each command and its one-line help; its module is `graphc.commands.<name>`."""


def command(name: str) -> Command:
    """The module of the command `name` (imported on first use)."""
    module: Command = importlib.import_module(f"graphc.commands.{name}")
    return module
