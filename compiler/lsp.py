"""`graphc lsp`: a language server over stdio (the `lsp` extra, pygls), a thin adapter over the pipeline.

No second parser and no second checker: every feature reads what `check` produces —
the `GraphSpec` and its spans, `CheckedGraph`, the diagnostics and their suggestions.
This module is the only one that imports pygls.

Features so far: diagnostics as the document changes (the same as `graphc check`, with
unreachable nodes tagged unnecessary), quick fixes from the diagnostics' suggestions,
formatting (`graphc fmt`), document symbols, go to definition of a node, hover on a node
(signature, docstring, edges in and out).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from dsl import ir
from dsl.diagnostics import Diagnostic, DiagnosticError
from dsl.parse import parse_source
from dsl.printer import print_spec
from dsl.source import source_from_text, syntax_of

from .checks import CheckedGraph, check_spec
from .diagram import DiagramGraph, diagram_of

__all__ = ("serve",)

server = LanguageServer("graphc", "0.1.0")


@dataclass
class _Analysis:
    """What one version of a document gave: its spec (if it parsed), its checked graph (if it checked)."""

    spec: ir.GraphSpec | None
    checked: CheckedGraph | None
    diagnostics: list[Diagnostic]


_analyses: dict[str, _Analysis] = {}


def _path(uri: str) -> str:
    return unquote(urlparse(uri).path) if uri.startswith("file:") else uri


def _analyse(uri: str, text: str) -> _Analysis:
    path = _path(uri)
    spec = checked = None
    try:
        source = source_from_text(path, text, syntax_of(path) or "graph")
        spec = parse_source(source)
        checked = check_spec(spec)
        found = checked.diagnostics
    except DiagnosticError as e:
        found = e.diagnostics
    analysis = _Analysis(spec, checked, found)
    _analyses[uri] = analysis
    return analysis


def _range(span: ir.Span) -> types.Range:
    return types.Range(
        start=types.Position(line=span.line - 1, character=span.column - 1),
        end=types.Position(line=span.end_line - 1, character=span.end_column - 1),
    )


def _lsp_diagnostic(d: Diagnostic) -> types.Diagnostic:
    tags = [types.DiagnosticTag.Unnecessary] if d.code in ("W401", "W403") else None
    return types.Diagnostic(
        range=_range(d.span),
        message=d.message + (f"\n{d.hint}" if d.hint else ""),
        severity=types.DiagnosticSeverity.Error if d.severity == "error" else types.DiagnosticSeverity.Warning,
        code=d.code,
        source="graphc",
        tags=tags,
        data=[{"replacement": s.replacement, "range": _range(s.span)} for s in d.suggestions] or None,
    )


def _publish(ls: LanguageServer, uri: str, text: str) -> None:
    analysis = _analyse(uri, text)
    path = _path(uri)
    mine = [d for d in analysis.diagnostics if d.span.file == path]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[_lsp_diagnostic(d) for d in mine])
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri, params.text_document.text)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION)
def _code_actions(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
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
def _formatting(ls: LanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    """The document as `graphc fmt` prints it; nothing while it does not parse."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = _analyse(document.uri, document.source)
    if analysis.spec is None:
        return None
    syntax = syntax_of(_path(document.uri)) or "graph"
    text = print_spec(analysis.spec, syntax)
    if text == document.source:
        return []
    end = types.Position(line=len(document.lines), character=0)
    return [types.TextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end), new_text=text)]


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: LanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    """The graph; its state and deps with their fields; its nodes with their fields."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = _analyse(document.uri, document.source).spec
    if spec is None:
        return []

    def fields(items: list[ir.FieldSpec]) -> list[types.DocumentSymbol]:
        return [
            types.DocumentSymbol(
                name=f.name, kind=types.SymbolKind.Field, range=_range(f.span), selection_range=_range(f.span)
            )
            for f in items
        ]

    children = []
    for keyword, type_spec in (("state", spec.state), ("deps", spec.deps)):
        if type_spec is not None:
            children.append(
                types.DocumentSymbol(
                    name=type_spec.class_name or type_spec.ref or keyword,
                    detail=keyword,
                    kind=types.SymbolKind.Struct,
                    range=_range(type_spec.span),
                    selection_range=_range(type_spec.span),
                    children=fields(type_spec.fields or []),
                )
            )
    children += [
        types.DocumentSymbol(
            name=node.name,
            detail="node",
            kind=types.SymbolKind.Class,
            range=_range(node.span),
            selection_range=_range(node.name_span),
            children=fields(node.fields),
        )
        for node in spec.nodes
    ]
    whole = _range(spec.span)
    whole.end = types.Position(line=len(document.lines), character=0)
    graph = types.DocumentSymbol(
        name=spec.name,
        detail="graph",
        kind=types.SymbolKind.Module,
        range=whole,
        selection_range=_range(spec.name_span),
        children=children,
    )
    return [graph]


def _node_at(spec: ir.GraphSpec, position: types.Position) -> str | None:
    """The node named at the cursor: a node's own name, a transition's target, or `start`'s."""
    line, column = position.line + 1, position.character + 1
    spans: list[tuple[ir.Span, str]] = [(n.name_span, n.name) for n in spec.nodes]
    if spec.start is not None and spec.start_span is not None:
        spans.append((spec.start_span, spec.start))
    for node in spec.nodes:
        for transition in [*_transitions(node.next), *(e.to for e in node.errors)]:
            spans.append((transition.target_span, transition.target))
    for span, name in spans:
        if span.line == line and span.column <= column <= span.end_column:
            return name
    return None


def _transitions(branches: list[ir.Branch]) -> list[ir.Transition]:
    return [t for b in branches for t in b.transitions()]


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = _analyse(document.uri, document.source).spec
    name = _node_at(spec, params.position) if spec is not None else None
    node = next((n for n in spec.nodes if n.name == name), None) if spec is not None else None
    return types.Location(uri=document.uri, range=_range(node.name_span)) if node is not None else None


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
    """A node's signature, docstring, and its edges in and out, with their labels."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = _analyse(document.uri, document.source)
    if analysis.spec is None:
        return None
    name = _node_at(analysis.spec, params.position)
    node = next((n for n in analysis.spec.nodes if n.name == name), None)
    if node is None:
        return None
    fields = ", ".join(f.name for f in node.fields)
    lines = [f"**node** `{node.name}({fields})`"]
    if node.doc:
        lines += ["", node.doc]
    if analysis.checked is not None:
        lines += ["", *_edges_text(diagram_of(analysis.checked), node.name)]
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n".join(lines)))


def _edges_text(graph: DiagramGraph, name: str) -> list[str]:
    by_id = {n.id: n for n in graph.nodes}
    me = by_id[name]
    out = [f"→ `{t}`" + (f" ({label})" if label else "") for t, label in me.edges.items()]
    if me.end:
        out.append("→ `End`" + (f" ({me.end_label})" if me.end_label else ""))
    incoming = [f"← `{n.id}`" for n in graph.nodes if name in n.edges]
    reachable = "reachable from `start`" if name in graph.reachable() else "**unreachable** from `start`"
    return [*out, *incoming, "", reachable]


def serve() -> None:
    """Serve over stdin/stdout until the client says exit."""
    server.start_io()
