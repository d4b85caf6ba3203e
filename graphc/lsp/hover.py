"""Hover: a node (signature, docstring, edges in and out, reachability), a field, a diagnostic code."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from compiler.diagram import DiagramGraph, diagram_of
from dsl.diagnostics import CODE_MEANINGS

from .server import GraphcServer, server
from .symbols import callee_start, node_at, symbol_at
from .workspace import Analysis


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: GraphcServer, params: types.HoverParams) -> types.Hover | None:
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
    if symbol is not None and symbol[0] in ("use", "argument"):
        return _used_hover(analysis, symbol)
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


def _used_hover(analysis: Analysis, symbol: tuple[str, ...]) -> types.Hover | None:
    """A used graph: where it comes from, what a call passes and what it gives; or the field a keyword names."""
    from dsl.unparse import ExprWriter

    callee = analysis.checked.uses.get(symbol[1]) if analysis.checked is not None else None
    start = callee_start(callee.spec) if callee is not None else None
    if callee is None or start is None:
        return None
    spec, writer = callee.spec, ExprWriter()
    if symbol[0] == "argument":
        field = next((f for f in start.fields if f.name == symbol[2]), None)
        if field is None:
            return None
        text = f"**sub-graph `{symbol[1]}`** field `{field.name}: {writer.field(field)}` (of `{start.name}`)"
    else:
        fields = ", ".join(f"{f.name}: {writer.field(f)}" for f in start.fields)
        output = writer.type(spec.output) if spec.output is not None else "None"
        use = next(u for u in analysis.spec.uses if u.name == symbol[1]) if analysis.spec is not None else None
        origin = f" from `{use.path}`" if use is not None else ""
        text = f"**sub-graph** `{symbol[1]}`{origin}: graph `{spec.name}`, `{start.name}({fields}) -> {output}`"
        if spec.doc:
            text += f"\n\n{spec.doc}"
        text += "\n\nAs a transition's argument it runs once; as `[...for x in xs]`, once per item."
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


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
