"""`graphc lsp`: a language server over stdio (the `lsp` extra, pygls), a thin adapter over the pipeline.

No second parser and no second checker: every feature reads what `check` produces —
the `GraphSpec` and its spans, `CheckedGraph`, the diagnostics and their suggestions.
This module is the only one that imports pygls: the documents and their analyses live in
`workspace.Workspace` (one per server), the symbol and rename logic in `symbols`, both
testable without pygls.

Features so far: diagnostics as the document changes (the same as `graphc check`, with
unreachable nodes tagged unnecessary), quick fixes from the diagnostics' suggestions,
formatting (`graphc fmt`), document symbols, folding, go to definition of a node, hover on a node
(signature, docstring, edges in and out), references and rename of nodes, node fields
(keyword arguments that name them included) and state fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from compiler.checks import BUILTINS
from compiler.diagram import DiagramGraph, diagram_of
from dsl import ir
from dsl.diagnostics import CODE_MEANINGS, Diagnostic
from dsl.printer import print_spec
from dsl.source import syntax_of

from .symbols import RenameRefused, node_at, node_expressions, occurrences, rename_spans, symbol_at, walk_all
from .workspace import Analysis, Workspace, path_of

__all__ = ("serve",)

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


class _GraphcServer(LanguageServer):
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


server = _GraphcServer()


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


def _publish(ls: _GraphcServer, uri: str, text: str) -> None:
    analysis = ls.documents.analyse(uri, text)
    path = path_of(uri)
    mine = [d for d in analysis.diagnostics if d.span.file == path]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=[_lsp_diagnostic(d) for d in mine])
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: _GraphcServer, params: types.DidOpenTextDocumentParams) -> None:
    _publish(ls, params.text_document.uri, params.text_document.text)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: _GraphcServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: _GraphcServer, params: types.DidCloseTextDocumentParams) -> None:
    """Forget the document (its analyses and parse pieces), and clear its diagnostics."""
    uri = params.text_document.uri
    ls.documents.forget(uri)
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: _GraphcServer, params: types.DidSaveTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)
    _publish(ls, document.uri, document.source)


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION)
def _code_actions(ls: _GraphcServer, params: types.CodeActionParams) -> list[types.CodeAction]:
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
def _formatting(ls: _GraphcServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
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


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: _GraphcServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    """The graph; its state and deps with their fields; its nodes with their fields."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
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
            children=fields(node.all_fields()),
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


@server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
def _folding(ls: _GraphcServer, params: types.FoldingRangeParams) -> list[types.FoldingRange]:
    """Each node, the state and deps blocks, and each `if` block that spans lines."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    if spec is None:
        return []
    spans = [n.span for n in spec.nodes] + [t.span for t in (spec.state, spec.deps) if t is not None]
    for node in spec.nodes:
        stack = list(node.next)
        while stack:
            branch = stack.pop()
            spans.append(branch.span)
            stack.extend(branch.next)
    return [
        types.FoldingRange(start_line=s.line - 1, end_line=s.end_line - 1, kind=types.FoldingRangeKind.Region)
        for s in sorted(spans, key=lambda s: (s.line, s.end_line))
        if s.end_line > s.line
    ]


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: _GraphcServer, params: types.DefinitionParams) -> types.Location | None:
    """A node's definition, a field's, or an imported name's in its Python module (read, not imported)."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    if spec is None:
        return None
    name = node_at(spec, params.position)
    node = next((n for n in spec.nodes if n.name == name), None)
    if node is not None:
        return types.Location(uri=document.uri, range=_range(node.name_span))
    imported = _imported_at(spec, params.position)
    if imported is not None:
        return _python_definition(spec, *imported)
    symbol = symbol_at(spec, params.position)
    if symbol is not None:
        return types.Location(uri=document.uri, range=_range(occurrences(spec, symbol)[0]))
    return None


def _imported_at(spec: ir.GraphSpec, position: types.Position) -> tuple[str, str] | None:
    """(module, name) of the imported name under the cursor: in an import line or where the spec uses it."""
    line, column = position.line + 1, position.character + 1
    local: dict[str, tuple[str, str]] = {}
    for imp in spec.imports:
        for name in imp.names:
            local[name.local_name] = (imp.module, name.name)
            if name.span.line == line and name.span.column <= column <= name.span.end_column:
                return imp.module, name.name
    for node in spec.nodes:
        for expr in node_expressions(node):
            hits = [
                e
                for e in walk_all(expr)
                if isinstance(e, ir.Name)
                and e.id in local
                and e.span.line == line
                and e.span.column <= column <= e.span.end_column
            ]
            if hits:
                return local[hits[0].id]
    return None


def _python_definition(spec: ir.GraphSpec, module_name: str, name: str) -> types.Location | None:
    import ast
    from pathlib import Path

    from compiler.imports import find_module, module_tree, search_path_for

    module = find_module(module_name, search_path_for(spec.span.file))
    tree = module_tree(module.path) if module is not None and module.path is not None else None
    if module is None or module.path is None or tree is None:
        return None
    for statement in tree.body:
        defined = (
            [statement.name]
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            else [
                t.id
                for t in getattr(statement, "targets", [getattr(statement, "target", None)])
                if isinstance(t, ast.Name)
            ]
        )
        if name in defined:
            start = types.Position(line=statement.lineno - 1, character=statement.col_offset)
            return types.Location(uri=Path(module.path).as_uri(), range=types.Range(start=start, end=start))
    start = types.Position(line=0, character=0)
    return types.Location(uri=Path(module.path).as_uri(), range=types.Range(start=start, end=start))


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: _GraphcServer, params: types.HoverParams) -> types.Hover | None:
    """A node's signature, docstring, and its edges in and out, with their labels."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = ls.documents.analyse(document.uri, document.source)
    if analysis.spec is None:
        return None
    name = node_at(analysis.spec, params.position)
    node = next((n for n in analysis.spec.nodes if n.name == name), None)
    if node is None:
        return _other_hover(analysis, document.lines, params.position)
    fields = ", ".join(f.name for f in node.fields)
    waits = f" waits ({', '.join(f.name for f in node.waits)})" if node.waits else ""
    lines = [f"**node** `{node.name}({fields}){waits}`"]
    if node.doc:
        lines += ["", node.doc]
    if analysis.checked is not None:
        lines += ["", *_edges_text(diagram_of(analysis.checked), node.name)]
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n".join(lines)))


def _other_hover(analysis: Analysis, lines: Sequence[str], position: types.Position) -> types.Hover | None:
    """A field's type and default, or a diagnostic code's meaning."""
    import re

    from dsl.unparse import ExprWriter

    spec = analysis.spec
    assert spec is not None
    symbol = symbol_at(spec, position)
    if symbol is not None:
        if symbol[0] == "field":
            fields = next(n for n in spec.nodes if n.name == symbol[1]).all_fields()
        else:
            type_spec = spec.state if symbol[0] == "state" else spec.deps
            fields = (type_spec.fields or []) if type_spec is not None else []
        field = next(f for f in fields if f.name == symbol[-1])
        owner = f"node `{symbol[1]}`" if symbol[0] == "field" else symbol[0]
        text = f"**{owner}** field `{field.name}: {ExprWriter().field(field)}`"
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))
    line = lines[position.line] if position.line < len(lines) else ""
    for match in re.finditer(r"\b[EW]\d{3}\b", line):
        if match.start() <= position.character <= match.end() and match.group() in CODE_MEANINGS:
            text = f"**{match.group()}**: {CODE_MEANINGS[match.group()]}"
            return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))
    return None


def _edges_text(graph: DiagramGraph, name: str) -> list[str]:
    by_id = {n.id: n for n in graph.nodes}
    me = by_id[name]
    out = [f"→ `{t}`" + (f" ({label})" if label else "") for t, label in me.edges.items()]
    if me.end:
        out.append("→ `End`" + (f" ({me.end_label})" if me.end_label else ""))
    incoming = [f"← `{n.id}`" for n in graph.nodes if name in n.edges]
    reachable = "reachable from `start`" if name in graph.reachable() else "**unreachable** from `start`"
    ending = "can reach `End`" if name in _can_end(graph) else "**no path reaches `End`**"
    return [*out, *incoming, "", f"{reachable}; {ending}"]


def _can_end(graph: DiagramGraph) -> set[str]:
    """Nodes from which some path reaches `End` (hand-written nodes that may go anywhere count)."""
    done = {n.id for n in graph.nodes if n.end or n.any_node}
    changed = True
    while changed:
        changed = False
        for node in graph.nodes:
            if node.id not in done and set(node.edges) & done:
                done.add(node.id)
                changed = True
    return done


# ---- references and rename ------------------------------------------------------------------


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def _references(ls: _GraphcServer, params: types.ReferenceParams) -> list[types.Location]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    symbol = symbol_at(spec, params.position) if spec is not None else None
    if spec is None or symbol is None:
        return []
    spans = occurrences(spec, symbol)
    if not params.context.include_declaration:
        spans = spans[1:]
    return [types.Location(uri=document.uri, range=_range(s)) for s in spans]


@server.feature(types.TEXT_DOCUMENT_RENAME)
def _rename(ls: _GraphcServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    """Rename a node, a node's field or a state field everywhere the spec names it."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    symbol = symbol_at(spec, params.position) if spec is not None else None
    if spec is None or symbol is None:
        return None
    try:
        spans = rename_spans(spec, symbol, params.new_name, document.lines)
    except RenameRefused as refused:
        raise JsonRpcException(str(refused), REQUEST_FAILED) from None
    edits = [types.TextEdit(range=_range(s), new_text=params.new_name) for s in spans]
    return types.WorkspaceEdit(changes={document.uri: edits})


# ---- completion, code lens, call hierarchy ---------------------------------------------------

_KEYWORDS = ("if", "else", "on", "await", "for", "in", "and", "or", "not", "is", "None", "True", "False")


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", ">", " "]))
def _completion(ls: _GraphcServer, params: types.CompletionParams) -> list[types.CompletionItem]:
    """Nodes after `->`, a node's fields inside its call, `state.`/`deps.` fields, else names and keywords."""
    import re

    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = ls.documents.last_good.get(document.uri) or ls.documents.analyse(document.uri, document.source)
    spec = analysis.spec
    if spec is None:
        return []
    line = document.lines[params.position.line] if params.position.line < len(document.lines) else ""
    before = line[: params.position.character]
    nodes = {n.name: n for n in spec.nodes}

    def items(names: list[str], kind: types.CompletionItemKind, suffix: str = "") -> list[types.CompletionItem]:
        return [types.CompletionItem(label=n + suffix, kind=kind) for n in names]

    if re.search(r"->\s*\w*$", before):
        return items([*nodes, "End"], types.CompletionItemKind.Class)
    owner = re.search(r"\b(state|deps)\.\w*$", before)
    if owner is not None:
        type_spec = spec.state if owner.group(1) == "state" else spec.deps
        fields = (type_spec.fields or []) if type_spec is not None else []
        return items([f.name for f in fields], types.CompletionItemKind.Field)
    call = re.search(r"\b(\w+)\([^()]*$", before)
    if call is not None and call.group(1) in nodes:
        return items([f.name for f in nodes[call.group(1)].fields], types.CompletionItemKind.Field, "=")
    current = next((n for n in reversed(spec.nodes) if n.span.line <= params.position.line + 1), None)
    names = [f.name for f in current.all_fields()] if current is not None else []
    if analysis.checked is not None:
        names += [*analysis.checked.imports]
        scope = analysis.checked.scopes.get(current.name) if current is not None else None
        names += sorted(scope.locals) if scope is not None else []
    found = items(names, types.CompletionItemKind.Variable)
    found += items(["state", "deps"], types.CompletionItemKind.Module)
    found += items(sorted(BUILTINS), types.CompletionItemKind.Function)
    return found + items(_keywords_at(document.lines, params.position), types.CompletionItemKind.Keyword)


def _keywords_at(lines: Sequence[str], position: types.Position) -> list[str]:
    """The keywords the grammar accepts at the cursor (lark's interactive parser says which)."""
    from dsl.lark_syntax import keywords_accepted

    before = "".join(lines[: position.line]) + (
        lines[position.line][: position.character] if position.line < len(lines) else ""
    )
    try:
        return keywords_accepted(before)
    except Exception:  # a text lark cannot even start on: offer the usual words
        return list(_KEYWORDS)


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
def _code_lens(ls: _GraphcServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    """Above each node: how many edges lead in and out."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = ls.documents.analyse(document.uri, document.source)
    if analysis.checked is None:
        return []
    graph = diagram_of(analysis.checked)
    lenses = []
    for node in analysis.checked.spec.nodes:
        drawn = next(n for n in graph.nodes if n.id == node.name)
        incoming = sum(node.name in n.edges for n in graph.nodes) + (graph.start == node.name)
        outgoing = len(drawn.edges) + drawn.end
        title = f"{incoming} in · {outgoing} out" + ("" if node.name in graph.reachable() else " · unreachable")
        lenses.append(types.CodeLens(range=_range(node.name_span), command=types.Command(title=title, command="")))
    return lenses


def _hierarchy_item(uri: str, spec: ir.GraphSpec, name: str) -> types.CallHierarchyItem | None:
    node = next((n for n in spec.nodes if n.name == name), None)
    if node is None:
        return None
    return types.CallHierarchyItem(
        name=name,
        kind=types.SymbolKind.Class,
        uri=uri,
        range=_range(node.span),
        selection_range=_range(node.name_span),
        detail="node",
    )


@server.feature(types.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)
def _prepare_hierarchy(ls: _GraphcServer, params: types.CallHierarchyPrepareParams) -> list[types.CallHierarchyItem]:
    """The graph's edges as calls: a node "calls" the nodes it can go to."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    name = node_at(spec, params.position) if spec is not None else None
    item = _hierarchy_item(document.uri, spec, name) if spec is not None and name is not None else None
    return [item] if item is not None else []


def _edge_graph(ls: _GraphcServer, uri: str) -> tuple[ir.GraphSpec, DiagramGraph] | None:
    analysis = ls.documents.analyses.get(uri)
    if analysis is None or analysis.checked is None:
        return None
    return analysis.checked.spec, diagram_of(analysis.checked)


@server.feature(types.CALL_HIERARCHY_OUTGOING_CALLS)
def _outgoing(
    ls: _GraphcServer, params: types.CallHierarchyOutgoingCallsParams
) -> list[types.CallHierarchyOutgoingCall]:
    found = _edge_graph(ls, params.item.uri)
    if found is None:
        return []
    spec, graph = found
    drawn = next((n for n in graph.nodes if n.id == params.item.name), None)
    calls = []
    for target in drawn.edges if drawn is not None else {}:
        item = _hierarchy_item(params.item.uri, spec, target)
        sites = [
            _range(t.target_span)
            for node in spec.nodes
            if node.name == params.item.name
            for t in node.transitions()
            if t.target == target
        ]
        if item is not None:
            calls.append(types.CallHierarchyOutgoingCall(to=item, from_ranges=sites))
    return calls


@server.feature(types.CALL_HIERARCHY_INCOMING_CALLS)
def _incoming(
    ls: _GraphcServer, params: types.CallHierarchyIncomingCallsParams
) -> list[types.CallHierarchyIncomingCall]:
    found = _edge_graph(ls, params.item.uri)
    if found is None:
        return []
    spec, _ = found
    calls = []
    for node in spec.nodes:
        sites = [_range(t.target_span) for t in node.transitions() if t.target == params.item.name]
        item = _hierarchy_item(params.item.uri, spec, node.name)
        if sites and item is not None:
            calls.append(types.CallHierarchyIncomingCall(from_=item, from_ranges=sites))
    return calls


def serve() -> None:
    """Serve over stdin/stdout until the client says exit."""
    server.start_io()
