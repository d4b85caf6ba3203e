"""Diagnostics as a document changes, quick fixes from their suggestions, and formatting."""

from __future__ import annotations

from lsprotocol import types

from dsl.diagnostics import Diagnostic
from dsl.printer import print_spec
from dsl.source import syntax_of

from .server import GraphcServer, lsp_range, server
from .workspace import path_of


def _lsp_diagnostic(d: Diagnostic) -> types.Diagnostic:
    tags = [types.DiagnosticTag.Unnecessary] if d.code in ("W401", "W403") else None
    return types.Diagnostic(
        range=lsp_range(d.span),
        message=d.message + (f"\n{d.hint}" if d.hint else ""),
        severity=types.DiagnosticSeverity.Error if d.severity == "error" else types.DiagnosticSeverity.Warning,
        code=d.code,
        source="graphc",
        tags=tags,
        data=[{"replacement": s.replacement, "range": lsp_range(s.span)} for s in d.suggestions] or None,
    )


def _publish(ls: GraphcServer, uri: str, text: str) -> None:
    analysis = ls.documents.analyse(uri, text)
    path = path_of(uri)
    mine = [d for d in analysis.diagnostics if d.span.file == path]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[_lsp_diagnostic(d) for d in mine])
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: GraphcServer, params: types.DidOpenTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri, params.text_document.text)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: GraphcServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: GraphcServer, params: types.DidCloseTextDocumentParams) -> None:
    """Forget the document (its analyses and parse pieces), and clear its diagnostics."""
    uri = params.text_document.uri
    ls.documents.forget(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: GraphcServer, params: types.DidSaveTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION)
def _code_actions(ls: GraphcServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """Each did-you-mean of a diagnostic in range, as a quick fix."""
    actions: list[types.CodeAction] = []
    for diagnostic in params.context.diagnostics:
        for suggestion in diagnostic.data or []:
            replacement = suggestion["replacement"]
            edit = types.TextEdit(range=_converted_range(suggestion["range"]), new_text=replacement)
            actions.append(
                types.CodeAction(
                    title=f"Replace with `{replacement}`",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: [edit]}),
                    is_preferred=len(actions) == 0,
                )
            )
    return actions


def _converted_range(value: object) -> types.Range:
    if isinstance(value, types.Range):
        return value
    assert isinstance(value, dict)
    start, end = value["start"], value["end"]
    return types.Range(
        start=types.Position(line=start["line"], character=start["character"]),
        end=types.Position(line=end["line"], character=end["character"]),
    )


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def _formatting(ls: GraphcServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    """The document as `graphc fmt` prints it; nothing while it does not parse."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = ls.documents.analyse(document.uri, document.source)
    if analysis.spec is None:
        return None
    syntax = syntax_of(path_of(document.uri)) or "graph"
    text = print_spec(analysis.spec, syntax)
    if text == document.source:
        return []
    end = types.Position(line=len(document.lines), character=0)
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=text)]
