"""`graphc lsp`: a language server over stdio (the `lsp` extra, pygls), a thin adapter over the pipeline.

No second parser and no second checker: every feature reads what `check` produces —
the `GraphSpec` and its spans, `CheckedGraph`, the diagnostics and their suggestions.
This module holds the server and its protocol; each family of features is a module of
its own that registers on it (`documents`, `navigation`, `hover`, `completion`,
`hierarchy`). The documents and their analyses live in `workspace.Workspace` (one per
server), the symbol and rename logic in `symbols`: both need no pygls.

Features so far: diagnostics as the document changes (the same as `graphc check`, with
unreachable nodes tagged unnecessary), quick fixes from the diagnostics' suggestions,
formatting (`graphc fmt`), document symbols, folding, go to definition of a node, hover on a node
(signature, docstring, edges in and out), references and rename of nodes, node fields
(keyword arguments that name them included) and state fields.
"""

from __future__ import annotations

from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from dsl import ir

from .workspace import Workspace

__all__ = ("GraphcServer", "lsp_range", "serve", "server")

_ANSWERED = object()
"""What a request becomes once `_AnsweringProtocol` has answered it with an error."""
REQUEST_FAILED = -32803
"""LSP's code for a request that was understood but cannot be carried out (a rename to a taken name)."""


class _AnsweringProtocol(LanguageServerProtocol):
    """Answers every request: one whose params do not fit its method gets error -32602 (pygls only logs it)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if not ("id" in data and "method" in data):
                raise
            reason = error.__cause__ or error
            message = f"invalid params for `{data['method']}`: {str(reason).splitlines()[0] if str(reason) else ''}"
            self._send_response(data["id"], error=types.ResponseError(code=-32602, message=message.rstrip(": ")))
            return _ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is not _ANSWERED:
            super().handle_message(message)


class GraphcServer(LanguageServer):
    """pygls's server, holding its session: the documents it has open and what they gave."""

    def __init__(self) -> None:
        super().__init__("graphc", _version(), protocol_cls=_AnsweringProtocol)
        self.documents = Workspace()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphc")
    except PackageNotFoundError:
        return "dev"


server = GraphcServer()


def lsp_range(span: ir.Span) -> types.Range:
    """A spec span (1-based) as the protocol's range (0-based)."""
    return types.Range(
        start=types.Position(line=span.line - 1, character=span.column - 1),
        end=types.Position(line=span.end_line - 1, character=span.end_column - 1),
    )


def serve() -> None:
    """Serve over stdin/stdout until the client says exit."""
    from . import completion, documents, hierarchy, hover, navigation  # noqa: F401  (each registers its features)

    server.start_io()
