"""Document symbols, folding, go to definition (into Python modules too), references and rename."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from compiler.checks import CheckedGraph
from dsl import ir

from .server import REQUEST_FAILED, GraphcServer, lsp_range, server
from .symbols import (
    RenameRefused,
    Symbol,
    callee_start,
    name_span,
    node_at,
    node_expressions,
    occurrences,
    rename_spans,
    symbol_at,
    walk_all,
)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def _symbols(ls: GraphcServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    """The graph; its state and deps with their fields; its nodes with their fields."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    if spec is None:
        return []

    def fields(items: list[ir.FieldSpec]) -> list[types.DocumentSymbol]:
        return [
            types.DocumentSymbol(
                name=f.name, kind=types.SymbolKind.Field, range=lsp_range(f.span), selection_range=lsp_range(f.span)
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
                    range=lsp_range(type_spec.span),
                    selection_range=lsp_range(type_spec.span),
                    children=fields(type_spec.fields or []),
                )
            )
    children += [
        types.DocumentSymbol(
            name=node.name,
            detail="node",
            kind=types.SymbolKind.Class,
            range=lsp_range(node.span),
            selection_range=lsp_range(node.name_span),
            children=fields(node.all_fields()),
        )
        for node in spec.nodes
    ]
    whole = lsp_range(spec.span)
    whole.end = types.Position(line=len(document.lines), character=0)
    graph = types.DocumentSymbol(
        name=spec.name,
        detail="graph",
        kind=types.SymbolKind.Module,
        range=whole,
        selection_range=lsp_range(spec.name_span),
        children=children,
    )
    return [graph]


@server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
def _folding(ls: GraphcServer, params: types.FoldingRangeParams) -> list[types.FoldingRange]:
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
def _definition(ls: GraphcServer, params: types.DefinitionParams) -> types.Location | None:
    """A node's definition, a field's, or an imported name's in its Python module (read, not imported)."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    if spec is None:
        return None
    name = node_at(spec, params.position)
    node = next((n for n in spec.nodes if n.name == name), None)
    if node is not None:
        return types.Location(uri=document.uri, range=lsp_range(node.name_span))
    imported = _imported_at(spec, params.position)
    if imported is not None:
        return _python_definition(spec, *imported)
    symbol = symbol_at(spec, params.position)
    if symbol is not None and symbol[0] in ("use", "argument"):
        return _in_used_spec(ls.documents.analyse(document.uri, document.source).checked, symbol)
    if symbol is not None:
        return types.Location(uri=document.uri, range=lsp_range(occurrences(spec, symbol)[0]))
    return None


def _in_used_spec(checked: CheckedGraph | None, symbol: Symbol) -> types.Location | None:
    """A used graph's start node, or the field of it that a call's keyword names, in the used spec's file."""
    callee = checked.uses.get(symbol[1]) if checked is not None else None
    start = callee_start(callee.spec) if callee is not None else None
    if callee is None or start is None:
        return None
    span = start.name_span
    if symbol[0] == "argument":
        span = next((name_span(f.span, f.name) for f in start.fields if f.name == symbol[2]), span)
    return types.Location(uri=Path(callee.source_name).resolve().as_uri(), range=lsp_range(span))


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


@server.feature(types.TEXT_DOCUMENT_REFERENCES)
def _references(ls: GraphcServer, params: types.ReferenceParams) -> list[types.Location]:
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    symbol = symbol_at(spec, params.position) if spec is not None else None
    if spec is None or symbol is None:
        return []
    spans = occurrences(spec, symbol)
    if not params.context.include_declaration:
        spans = spans[1:]
    return [types.Location(uri=document.uri, range=lsp_range(s)) for s in spans]


@server.feature(types.TEXT_DOCUMENT_RENAME)
def _rename(ls: GraphcServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    """Rename a node, a node's field or a state field everywhere the spec names it."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    symbol = symbol_at(spec, params.position) if spec is not None else None
    if spec is None or symbol is None:
        return None
    try:
        spans = rename_spans(spec, symbol, params.new_name, document.lines)
        changes = {document.uri: [types.TextEdit(range=lsp_range(s), new_text=params.new_name) for s in spans]}
        if symbol[0] == "argument":  # the field itself, in the used spec: its declaration and its node's uses
            checked = ls.documents.analyse(document.uri, document.source).checked
            changes.update(_rename_in_used_spec(ls, checked, symbol, params.new_name))
    except RenameRefused as refused:
        raise JsonRpcException(str(refused), REQUEST_FAILED) from None
    return types.WorkspaceEdit(changes=changes)


def _rename_in_used_spec(
    ls: GraphcServer, checked: CheckedGraph | None, symbol: Symbol, new: str
) -> dict[str, list[types.TextEdit]]:
    """The edits in a used spec's file that rename a field of its start node (its own text, open or on disk)."""
    callee = checked.uses.get(symbol[1]) if checked is not None else None
    start = callee_start(callee.spec) if callee is not None else None
    if callee is None or start is None:
        raise RenameRefused(f"`{symbol[1]}` does not check: fix the used spec first")
    uri = Path(callee.source_name).resolve().as_uri()
    lines = ls.workspace.get_text_document(uri).lines
    spans = rename_spans(callee.spec, ("field", start.name, symbol[2]), new, lines)
    return {uri: [types.TextEdit(range=lsp_range(s), new_text=new) for s in spans]}
