"""Code lenses with each node's edge counts, and the call hierarchy over the graph's edges."""

from __future__ import annotations

from lsprotocol import types

from compiler.diagram import DiagramGraph, diagram_of
from dsl import ir

from .server import GraphcServer, lsp_range, server
from .symbols import node_at


@server.feature(types.TEXT_DOCUMENT_CODE_LENS)
def _code_lens(ls: GraphcServer, params: types.CodeLensParams) -> list[types.CodeLens]:
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
        lenses.append(types.CodeLens(range=lsp_range(node.name_span), command=types.Command(title=title, command="")))
    return lenses


def _hierarchy_item(uri: str, spec: ir.GraphSpec, name: str) -> types.CallHierarchyItem | None:
    node = next((n for n in spec.nodes if n.name == name), None)
    if node is None:
        return None
    return types.CallHierarchyItem(
        name=name,
        kind=types.SymbolKind.Class,
        uri=uri,
        range=lsp_range(node.span),
        selection_range=lsp_range(node.name_span),
        detail="node",
    )


@server.feature(types.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)
def _prepare_hierarchy(ls: GraphcServer, params: types.CallHierarchyPrepareParams) -> list[types.CallHierarchyItem]:
    """The graph's edges as calls: a node "calls" the nodes it can go to."""
    document = ls.workspace.get_text_document(params.text_document.uri)
    spec = ls.documents.analyse(document.uri, document.source).spec
    name = node_at(spec, params.position) if spec is not None else None
    item = _hierarchy_item(document.uri, spec, name) if spec is not None and name is not None else None
    return [item] if item is not None else []


def _edge_graph(ls: GraphcServer, uri: str) -> tuple[ir.GraphSpec, DiagramGraph] | None:
    analysis = ls.documents.analyses.get(uri)
    if analysis is None or analysis.checked is None:
        return None
    return analysis.checked.spec, diagram_of(analysis.checked)


@server.feature(types.CALL_HIERARCHY_OUTGOING_CALLS)
def _outgoing(
    ls: GraphcServer, params: types.CallHierarchyOutgoingCallsParams
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
            lsp_range(t.target_span)
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
    ls: GraphcServer, params: types.CallHierarchyIncomingCallsParams
) -> list[types.CallHierarchyIncomingCall]:
    found = _edge_graph(ls, params.item.uri)
    if found is None:
        return []
    spec, _ = found
    calls = []
    for node in spec.nodes:
        sites = [lsp_range(t.target_span) for t in node.transitions() if t.target == params.item.name]
        item = _hierarchy_item(params.item.uri, spec, node.name)
        if sites and item is not None:
            calls.append(types.CallHierarchyIncomingCall(from_=item, from_ranges=sites))
    return calls
