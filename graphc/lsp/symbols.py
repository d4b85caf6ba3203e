"""Symbols of a spec and where it names them: what references, definition and rename need, without pygls.

A cursor is anything with 0-based `line` and `character` (an LSP `Position`, or `Cursor`).
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from compiler.checks import BUILTINS, RESERVED, walk_expression
from dsl import ir

__all__ = (
    "Cursor",
    "Place",
    "RenameRefused",
    "Symbol",
    "all_symbols",
    "callee_start",
    "node_at",
    "node_expressions",
    "occurrences",
    "rename_spans",
    "subgraph_calls",
    "symbol_at",
    "walk_all",
)


class Place(Protocol):
    """A place in a document, 0-based: an LSP `Position`, or a `Cursor`."""

    @property
    def line(self) -> int:
        """The line, from 0."""

    @property
    def character(self) -> int:
        """The character in the line, from 0."""


class Cursor(NamedTuple):
    """A place in a document, 0-based as the protocol counts."""

    line: int
    character: int


Symbol = tuple[str, ...]
"""("node", Name), ("field", Node, field), ("state", field), ("deps", field), ("use", Name) — a used graph —
or ("argument", Name, field): a field of a used graph's start node, where this spec's calls name it."""


def node_at(spec: ir.GraphSpec, position: Place) -> str | None:
    """The node named at the cursor: a node's own name, a transition's target, or `start`'s."""
    line, column = position.line + 1, position.character + 1
    spans: list[tuple[ir.Span, str]] = [(n.name_span, n.name) for n in spec.nodes]
    if spec.start is not None and spec.start_span is not None:
        spans.append((spec.start_span, spec.start))
    for node in spec.nodes:
        for transition in node.transitions():
            spans.append((transition.target_span, transition.target))
    for span, name in spans:
        if span.line == line and span.column <= column <= span.end_column:
            return name
    return None


def name_span(span: ir.Span, name: str, *, at_end: bool = False) -> ir.Span:
    """The part of `span` that is `name`: its start (a field, a keyword) or its end (`state.name`)."""
    if at_end:
        return ir.Span(
            file=span.file,
            line=span.end_line,
            column=span.end_column - len(name),
            end_line=span.end_line,
            end_column=span.end_column,
        )
    return ir.Span(
        file=span.file, line=span.line, column=span.column, end_line=span.line, end_column=span.column + len(name)
    )


def node_expressions(node: ir.NodeSpec) -> list[ir.Expr]:
    """Every expression a node's body holds, nested branches and error branches included."""
    out: list[ir.Expr] = []

    def statements(items: list[ir.Statement]) -> None:
        for s in items:
            out.append(s.value)
            if isinstance(s, ir.Assign):
                out.append(s.target)

    def transition(t: ir.Transition) -> None:
        out.extend([*t.args, *(k.value for k in t.keywords)])

    statements(node.do)
    stack = list(node.next)
    while stack:
        branch = stack.pop()
        if branch.condition is not None:
            out.append(branch.condition)
        statements(branch.do)
        if branch.to is not None:
            transition(branch.to)
        stack.extend(branch.next)
    for error in node.errors:
        transition(error.to)
    return out


def names_in(expr: ir.Expr, name: str) -> list[ir.Name]:
    """The `Name`s in `expr` that mean `name` (not a comprehension's own variable of that name)."""
    found = []
    for e in walk_expression(expr, into_comprehensions=False):
        if isinstance(e, ir.Name) and e.id == name:
            found.append(e)
        elif isinstance(e, ir.Comprehension):
            bound = {t for clause in e.generators for t in clause.targets}
            parts = (
                [e.generators[0].iter]
                if name in bound
                else [
                    e.element,
                    *([e.value] if e.value is not None else []),
                    *(x for clause in e.generators for x in [clause.iter, *clause.ifs]),
                ]
            )
            for part in parts:
                found += names_in(part, name)
    return found


def occurrences(spec: ir.GraphSpec, symbol: Symbol) -> list[ir.Span]:
    """Every place that names the symbol: its definition first."""
    kind = symbol[0]
    spans: list[ir.Span] = []
    if kind == "node":
        name = symbol[1]
        spans += [n.name_span for n in spec.nodes if n.name == name]
        if spec.start == name and spec.start_span is not None:
            spans.append(spec.start_span)
        for node in spec.nodes:
            for t in node.transitions():
                if t.target == name:
                    spans.append(t.target_span)
    elif kind == "field":
        owner, field = symbol[1], symbol[2]
        node = next(n for n in spec.nodes if n.name == owner)
        spans += [name_span(f.span, field) for f in node.all_fields() if f.name == field]
        for expr in node_expressions(node):
            spans += [n.span for n in names_in(expr, field)]
        for other in spec.nodes:
            for t in other.transitions():
                if t.target == owner:
                    spans += [name_span(k.span, field) for k in t.keywords if k.name == field]
    elif kind == "use":
        name = symbol[1]
        spans += [u.name_span for u in spec.uses if u.name == name]
        for node in spec.nodes:
            for expr in node_expressions(node):
                spans += [n.span for n in names_in(expr, name)]
    elif kind == "argument":
        spans += [
            name_span(k.span, symbol[2])
            for call in subgraph_calls(spec, symbol[1])
            for k in call.keywords
            if k.name == symbol[2]
        ]
    elif kind in ("state", "deps"):
        field = symbol[1]
        type_spec = spec.state if kind == "state" else spec.deps
        declared = (type_spec.fields or []) if type_spec is not None else []
        spans += [name_span(f.span, field) for f in declared if f.name == field]
        for node in spec.nodes:
            for expr in node_expressions(node):
                spans += [
                    name_span(e.span, field, at_end=True)
                    for e in walk_all(expr)
                    if isinstance(e, ir.Attribute)
                    and e.attr == field
                    and isinstance(e.value, ir.Name)
                    and e.value.id == kind
                ]
    if not spans:
        return []
    definition, *uses = spans
    return [definition, *sorted(set(uses) - {definition}, key=lambda s: (s.line, s.column))]


def subgraph_calls(spec: ir.GraphSpec, name: str) -> list[ir.Call]:
    """The calls that run the used graph `name` (arguments of transitions, or items of their lists)."""
    return [
        e
        for node in spec.nodes
        for expr in node_expressions(node)
        for e in walk_all(expr)
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Name) and e.func.id == name
    ]


def callee_start(callee: ir.GraphSpec) -> ir.NodeSpec | None:
    """A used graph's start node: its fields are what a call of the graph passes."""
    return next((n for n in callee.nodes if n.name == callee.start), None)


def walk_all(expr: ir.Expr) -> list[ir.Expr]:
    """Every expression in `expr`, comprehensions entered."""
    return list(walk_expression(expr))


def symbol_at(spec: ir.GraphSpec, position: Place) -> Symbol | None:
    """The node, node field or state field whose name the cursor is on."""
    node_name = node_at(spec, position)
    if node_name is not None:
        return ("node", node_name)
    for symbol in all_symbols(spec):
        for span in occurrences(spec, symbol):
            if span.line == position.line + 1 and span.column <= position.character + 1 <= span.end_column:
                return symbol
    return None


def all_symbols(spec: ir.GraphSpec) -> list[Symbol]:
    """Every field a spec declares, as a symbol (nodes are found by `node_at`)."""
    symbols: list[Symbol] = [("field", n.name, f.name) for n in spec.nodes for f in n.all_fields()]
    symbols += [("use", u.name) for u in spec.uses]
    symbols += dict.fromkeys(
        ("argument", u.name, k.name) for u in spec.uses for call in subgraph_calls(spec, u.name) for k in call.keywords
    )
    for kind, type_spec in (("state", spec.state), ("deps", spec.deps)):
        if type_spec is not None:
            symbols += [(kind, f.name) for f in type_spec.fields or []]
    return symbols


class RenameRefused(ValueError):
    """A rename that cannot be done; the message says why."""


def rename_spans(spec: ir.GraphSpec, symbol: Symbol, new: str, lines: Sequence[str]) -> list[ir.Span]:
    """The places to rewrite to rename `symbol` to `new`, or RenameRefused.

    Refused: a name a spec may not use, one the scope already takes, and a place where the
    symbol is written otherwise than by its name (in YAML/TOML, a quoted or escaped string).
    """
    if not new.isidentifier() or keyword.iskeyword(new) or new.startswith("_") or new in RESERVED or new == "on":
        raise RenameRefused(f"`{new}` is not a name a spec may use")
    if symbol[0] in ("node", "use"):
        taken = {n.name for n in spec.nodes} | {u.name for u in spec.uses} | set(BUILTINS)
    elif symbol[0] == "field":
        taken = {f.name for n in spec.nodes if n.name == symbol[1] for f in n.all_fields()}
    elif symbol[0] == "argument":  # the used graph's start node decides: see `graphc.lsp.navigation`
        taken = set()
    else:
        type_spec = spec.state if symbol[0] == "state" else spec.deps
        taken = {f.name for f in (type_spec.fields or [])} if type_spec is not None else set()
    if new in taken:
        raise RenameRefused(f"`{new}` is already taken")
    spans = occurrences(spec, symbol)
    for span in spans:
        written = lines[span.line - 1][span.column - 1 : span.end_column - 1] if span.line <= len(lines) else ""
        if span.line != span.end_line or written != symbol[-1]:
            raise RenameRefused(f"`{symbol[-1]}` is written differently at line {span.line}: rename it by hand there")
    return spans
