"""Diagrams of a checked spec — mermaid text, Graphviz DOT, SVG/PNG through `dot` — without importing it.

The edges come from the spec itself (its branches and error branches, as the generated
`run` annotations list them) and, for hand-written nodes the spec imports, from their
source read with `ast`: nothing the spec imports is run. The mermaid text is the text
`Graph.mermaid_code` gives for the compiled graph (tested on every example).
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from textwrap import indent

from dsl.unparse import ExprWriter
from runtime.mermaid import composite_lines, fork_lines
from runtime.nodes import waits_note

from .checks import CheckedGraph
from .codegen import merged_edges, run_transitions, subgraphs_run
from .imports import find_module, module_tree, search_path_for

__all__ = ("DiagramGraph", "DiagramNode", "GraphvizMissing", "diagram_of", "dot_text", "mermaid_text", "render")

HIGHLIGHT_CSS = "fill:#fdff32"


class GraphvizMissing(Exception):
    """Rendering SVG or PNG needs Graphviz's `dot` program."""


@dataclass
class DiagramNode:
    """A node as a diagram draws it."""

    id: str
    edges: dict[str, str | None] = field(default_factory=dict)
    """Target node id → edge label, in the order `run` lists them."""
    end: bool = False
    end_label: str | None = None
    note: str | None = None
    error_targets: set[str] = field(default_factory=set)
    hand_written: bool = False
    any_node: bool = False
    """Its `run` may return any node (a plain `BaseNode` annotation), or its edges cannot be read."""
    waits: list[str] = field(default_factory=list)
    """The fields it waits for from outside the graph (`waits (...)`)."""
    forks: dict[str, list[str]] = field(default_factory=dict)
    """Edges that run sub-graphs first: target (or `End`) → the used graphs' names."""
    deadline: tuple[str, str] | None = None
    """The wait's deadline edge: (target or `End`, its label)."""
    sleep: str | None = None
    """How the node sleeps before it runs: `1d`, `until state.due`."""


@dataclass
class DiagramGraph:
    """What a diagram shows: the graph's name, its nodes in order, its start node."""

    name: str
    nodes: list[DiagramNode]
    start: str | None
    subgraphs: dict[str, DiagramGraph] = field(default_factory=dict)
    """The graphs its transitions run, by the names the spec gives them."""

    def reachable(self) -> set[str]:
        """Nodes a run from `start` can reach (all of them when there is no start)."""
        by_id = {n.id: n for n in self.nodes}
        if self.start is None or self.start not in by_id:
            return set(by_id)
        seen, todo = {self.start}, [self.start]
        while todo:
            node = by_id[todo.pop()]
            targets = list(by_id) if node.any_node else list(node.edges)
            for target in targets:
                if target in by_id and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen


def diagram_of(checked: CheckedGraph) -> DiagramGraph:
    """The diagram of a checked spec (hand-written nodes read from their source, not imported)."""
    spec = checked.spec
    nodes = []
    for node in spec.nodes:
        waits = [f.name for f in node.waits]
        sleep = None
        if node.sleep is not None:
            sleep = node.sleep.text if node.sleep.until is None else f"until {ExprWriter().expr(node.sleep.until)}"
        notes = [inspect.cleandoc(node.doc) if node.doc is not None else None, waits_note(waits, sleep)]
        drawn = DiagramNode(node.name, note="\n".join(n for n in notes if n) or None, waits=waits, sleep=sleep)
        if node.deadline is not None:
            drawn.deadline = (node.deadline.to.target, f"no answer in {node.deadline.text}")
        _set_edges(drawn, [(t.target, t.label) for t in run_transitions(node)])
        drawn.error_targets = {e.to.target for e in node.errors}
        for transition in run_transitions(node):
            for name in subgraphs_run(transition, checked.uses):
                runs = drawn.forks.setdefault(transition.target, [])
                if name not in runs:
                    runs.append(name)
        nodes.append(drawn)
    search_path = search_path_for(spec.span.file)
    for name in checked.external_nodes:
        imported = checked.imports[name]
        module = next(i.module for i in spec.imports if imported in i.names)
        nodes.append(_hand_written(name, imported.name, module, search_path))
    subgraphs = {name: diagram_of(callee) for name, callee in checked.uses.items()}
    return DiagramGraph(spec.name, nodes, spec.start, subgraphs)


def _set_edges(node: DiagramNode, edges: list[tuple[str, str | None]]) -> None:
    """The edges as the compiled `run` annotation lists them (`End` drawn apart, as mermaid does)."""
    merged = merged_edges(edges)
    node.end = "End" in merged
    node.end_label = merged.pop("End", None)
    node.edges = merged


def _hand_written(local: str, name: str, module_name: str, search_path: tuple[str, ...]) -> DiagramNode:
    """A hand-written node's edges and note, from its module's source."""
    drawn = DiagramNode(local, hand_written=True)
    module = find_module(module_name, search_path)
    if module is None or module.path is None or not module.path.endswith(".py"):
        drawn.any_node = True
        return drawn
    tree = module_tree(module.path)
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name), None) if tree else None
    if cls is None:
        drawn.any_node = True
        return drawn
    notes = any(
        isinstance(s, (ast.Assign, ast.AnnAssign))
        and any(isinstance(t, ast.Name) and t.id == "docstring_notes" for t in _targets(s))
        and isinstance(s.value, ast.Constant)
        and s.value.value is True
        for s in cls.body
    )
    docstring = ast.get_docstring(cls)
    if notes and docstring:
        drawn.note = docstring
    run = next((n for n in cls.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "run"), None)
    if run is None or run.returns is None:
        drawn.any_node = True
        return drawn
    edges = _annotation_edges(run.returns)
    drawn.any_node = any(target == "BaseNode" for target, _ in edges)
    _set_edges(drawn, [(target, label) for target, label in edges if target != "BaseNode"])
    return drawn


def _targets(statement: ast.Assign | ast.AnnAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def _annotation_edges(annotation: ast.expr) -> list[tuple[str, str | None]]:
    """`A | Annotated[B, Edge(label="x")] | End[T]` → [(A, None), (B, "x"), (End, None)]."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _annotation_edges(ast.parse(annotation.value, mode="eval").body)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _annotation_edges(annotation.left) + _annotation_edges(annotation.right)
    if isinstance(annotation, ast.Subscript):
        head = _last_name(annotation.value)
        inner = annotation.slice
        if head == "Union" and isinstance(inner, ast.Tuple):
            return [edge for element in inner.elts for edge in _annotation_edges(element)]
        if head == "Annotated" and isinstance(inner, ast.Tuple) and inner.elts:
            label = next((_edge_label(extra) for extra in inner.elts[1:] if _edge_label(extra)), None)
            return [(target, label) for target, _ in _annotation_edges(inner.elts[0])]
        return [(head, None)] if head else []
    name = _last_name(annotation)
    return [(name, None)] if name else []


def _edge_label(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and _last_name(expr.func) == "Edge":
        for keyword in expr.keywords:
            if keyword.arg == "label" and isinstance(keyword.value, ast.Constant):
                return str(keyword.value.value)
    return None


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def mermaid_text(
    graph: DiagramGraph, *, highlighted: list[str] | None = None, direction: str | None = None, title: bool = True
) -> str:
    """Mermaid state-diagram text, the same as `Graph.mermaid_code(start_node=start)` gives."""
    lines = ["---", f"title: {graph.name}", "---"] if title else []
    lines.append("stateDiagram-v2")
    if direction is not None:
        lines.append(f"  direction {direction}")
    lines += _mermaid_states(graph, graph.start)
    if highlighted:
        lines += ["", f"classDef highlighted {HIGHLIGHT_CSS}", *(f"class {n} highlighted" for n in highlighted)]
    return "\n".join(lines)


def _mermaid_states(graph: DiagramGraph, start: str | None, prefix: str = "") -> list[str]:
    """States and edges, as `runtime.mermaid` draws them: a sub-graph inside its composite state, ids prefixed."""
    lines: list[str] = []
    ids = [n.id for n in graph.nodes]
    used: dict[str, DiagramGraph] = {}
    for node in graph.nodes:
        state = prefix + node.id
        if prefix:
            lines.append(f'  state "{node.id}" as {state}')
        if node.id == start:
            lines.append(f"  [*] --> {state}")
        if node.any_node:
            lines.extend(f"  {state} --> {prefix}{target}" for target in ids)
        else:
            for target, label in node.edges.items():
                if target in node.forks:
                    used.update((name, graph.subgraphs[name]) for name in node.forks[target])
                    lines += fork_lines(state, target, prefix, node.forks[target], label)
                else:
                    lines.append(f"  {state} --> {prefix}{target}{f': {label}' if label else ''}")
        if node.end and "End" in node.forks:
            used.update((name, graph.subgraphs[name]) for name in node.forks["End"])
            lines += fork_lines(state, "End", prefix, node.forks["End"], node.end_label)
        elif node.end:
            lines.append(f"  {state} --> [*]{f': {node.end_label}' if node.end_label else ''}")
        if node.note:
            lines += [f"  note right of {state}", indent(re.sub("\n{2,}", "\n", node.note), "    "), "  end note"]
    for name, sub in used.items():
        lines += composite_lines(prefix + name, _mermaid_states(sub, sub.start, f"{prefix}{name}__"))
    return lines


def dot_text(graph: DiagramGraph, *, highlighted: list[str] | None = None, direction: str | None = None) -> str:
    """Graphviz DOT: the start node bold, error edges dashed red, unreachable nodes grey, notes as tooltips.

    Nodes that wait for outside input are octagons that name what they wait for; a wait's
    deadline edge is dotted orange; a node that sleeps says for how long.
    """
    lines = [
        f"digraph {_quote(graph.name)} {{",
        f"  rankdir={direction or 'TB'}; compound=true;",
        f"  label={_quote(graph.name)}; labelloc=t;",
        '  node [shape=box, style="rounded", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
        '  "[start]" [shape=circle, style=filled, fillcolor=black, label="", width=0.2];',
        '  "[end]" [shape=doublecircle, style=filled, fillcolor=black, label="", width=0.15];',
    ]
    lines += _dot_body(graph, highlighted or [])
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_body(graph: DiagramGraph, highlighted: list[str], prefix: str = "") -> list[str]:
    """A graph's nodes and edges; each sub-graph it runs as a cluster of its own, ids prefixed with its name."""
    reachable = graph.reachable()
    start, end = _quote(f"{prefix}[start]"), _quote(f"{prefix}[end]")
    lines = []
    if prefix:  # the outer graph declares its own start and end
        lines += [
            f'  {start} [shape=circle, style=filled, fillcolor=black, label="", width=0.2];',
            f'  {end} [shape=doublecircle, style=filled, fillcolor=black, label="", width=0.15];',
        ]
    ids = [n.id for n in graph.nodes]
    for node in graph.nodes:
        attributes = []
        styles = ["rounded"]
        if node.id == graph.start:
            attributes.append("penwidth=2")
        if node.id not in reachable:
            styles.append("dashed")
            attributes += ["color=gray60", "fontcolor=gray50"]
        if node.id in highlighted and not prefix:
            styles.append("filled")
            attributes.append('fillcolor="#fdff32"')
        if node.hand_written:
            attributes.append("shape=box3d")
        caption = [node.id, *([f"sleeps {node.sleep}"] if node.sleep else [])]
        if node.waits:  # a run stops here until someone answers: drawn as a stop sign, with what it needs
            caption.append("waits for " + ", ".join(node.waits))
            attributes.append("shape=octagon")
        if len(caption) > 1 or prefix:
            attributes.append(f"label={_quote(chr(10).join(caption))}")
        if node.note:
            attributes.append(f"tooltip={_quote(node.note)}")
        attributes.insert(0, f'style="{",".join(styles)}"')
        lines.append(f"  {_quote(prefix + node.id)} [{', '.join(attributes)}];")
    if graph.start is not None:
        lines.append(f"  {start} -> {_quote(prefix + graph.start)};")
    used: dict[str, DiagramGraph] = {}
    for node in graph.nodes:
        targets: list[tuple[str, str | None]] = [(t, None) for t in ids] if node.any_node else list(node.edges.items())
        if node.end:
            targets.append(("End", node.end_label))
        for target, label in targets:
            attributes = [f"label={_quote(label)}"] if label else []
            if target in node.error_targets:
                attributes += ["style=dashed", "color=firebrick", "fontcolor=firebrick"]
            elif node.deadline == (target, label):  # time running out, not a decision: dotted
                attributes += ["style=dotted", "color=darkorange3", "fontcolor=darkorange3"]
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            to = end if target == "End" else _quote(prefix + target)
            if target not in node.forks:
                lines.append(f"  {_quote(prefix + node.id)} -> {to}{suffix};")
                continue
            # a bar where the runs start, one where they are joined: as UML draws a fork and a join
            fork, join = _quote(f"{prefix}{node.id} fork {target}"), _quote(f"{prefix}{node.id} join {target}")
            bar = 'shape=box, style=filled, fillcolor=black, label="", height=0.06, width=1.2'
            lines += [f"  {fork} [{bar}];", f"  {join} [{bar}];", f"  {_quote(prefix + node.id)} -> {fork}{suffix};"]
            for name in node.forks[target]:
                used[name] = graph.subgraphs[name]
                ids_in, cluster = f"{prefix}{name}__", _quote(f"cluster_{prefix}{name}")
                lines += [
                    f"  {fork} -> {_quote(ids_in + '[start]')} [lhead={cluster}];",
                    f"  {_quote(ids_in + '[end]')} -> {join} [ltail={cluster}];",
                ]
            lines.append(f"  {join} -> {to};")
    for name, sub_graph in used.items():
        inner = _dot_body(sub_graph, highlighted, f"{prefix}{name}__")
        lines += [
            f"  subgraph {_quote(f'cluster_{prefix}{name}')} {{",
            f'    label={_quote(name + " (sub-graph)")}; style="rounded,dashed";',
            *("  " + line for line in inner),
            "  }",
        ]
    return lines


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render(dot: str, image_format: str) -> bytes:
    """SVG or PNG from DOT text, by Graphviz's `dot` (locally: no network).

    Raises:
        GraphvizMissing: `dot` is not installed.
    """
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing("rendering SVG or PNG needs Graphviz's `dot` (Debian/Ubuntu: apt-get install graphviz)")
    done = subprocess.run([program, f"-T{image_format}"], input=dot.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise GraphvizMissing(f"`dot` failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
