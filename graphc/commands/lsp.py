"""`graphc lsp`: the language server over stdio."""

from __future__ import annotations

import argparse

from graphc.exits import EXIT_OK

from ._spec import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    try:
        from graphc.lsp.server import serve
    except ImportError:
        raise UsageError("the language server needs pygls: pip install 'graphc[lsp]'") from None
    serve()
    return EXIT_OK
