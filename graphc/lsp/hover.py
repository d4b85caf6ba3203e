"""Hover: a node (signature, docstring, edges in and out, reachability), a field, a diagnostic code."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from compiler.diagram import DiagramGraph, diagram_of
from dsl import ir
from dsl.diagnostics import CODE_MEANINGS
from dsl.timing import DURATION, cron_after, cron_problem, duration_seconds, duration_text

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
    lines += _timers_text(node)
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
    schedule = next((s for s in spec.schedules if s.span.line == position.line + 1), None)
    if schedule is not None:
        return _markdown(_schedule_text(schedule))
    for match in re.finditer(rf"\b{DURATION.pattern}\b", line):
        if match.start() <= position.character <= match.end():
            seconds = duration_seconds(match.group()) or 0.0
            return _markdown(f"**duration** `{match.group()}`: {seconds:,g} s ({duration_text(seconds)})")
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


def _markdown(text: str) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


def _timers_text(node: ir.NodeSpec) -> list[str]:
    """What a node's sleep and deadline do, for its hover."""
    from dsl.unparse import ExprWriter

    out = []
    if node.sleep is not None:
        until = f"until `{ExprWriter().expr(node.sleep.until)}`" if node.sleep.until is not None else node.sleep.text
        out.append(f"Sleeps {until} before it runs (a durable run parks meanwhile, holding nothing).")
    if node.deadline is not None:
        out.append(
            f"Waits {node.deadline.text} at most for its answer; then the run goes to `{node.deadline.to.target}`."
        )
    return ["", *out] if out else []


def _schedule_text(schedule: ir.ScheduleSpec) -> str:
    """A schedule: when it ticks (the next few ticks, for a cron expression), what it starts, missed ticks."""
    from datetime import datetime, timezone

    from dsl.unparse import ExprWriter

    when = f"every {schedule.every_text}" if schedule.cron is None else f"cron `{schedule.cron}` (UTC)"
    text = f"**schedule** `{schedule.name}`: {when}, starting `{ExprWriter().target(schedule.to)}`"
    missed = {"skip": "skipped", "once": "run once for all", "all": "each run, oldest first"}[schedule.missed]
    text += f"\n\nTicks missed while no worker was up: {missed}. Add it with `graphc schedules add`."
    if schedule.cron is not None and cron_problem(schedule.cron) is None:
        try:
            tick = datetime.now(timezone.utc).timestamp()
            ticks = []
            for _ in range(3):
                tick = cron_after(schedule.cron, tick)
                ticks.append(datetime.fromtimestamp(tick, timezone.utc).strftime("%Y-%m-%d %H:%M"))
            text += "\n\nNext ticks: " + ", ".join(ticks)
        except ImportError:  # croniter is the durable extra's
            pass
    return text


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
