"""Mermaid state-diagram text for a graph, identical to pydantic_graph 0.0.39's.

Only the text is produced here: rendering it to an image is left to the user, so
the runtime never touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from textwrap import indent
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .nodes import BaseNode

if TYPE_CHECKING:
    from .graph import Graph

__all__ = ("DEFAULT_HIGHLIGHT_CSS", "NodeIdent", "StateDiagramDirection", "generate_code")

DEFAULT_HIGHLIGHT_CSS = "fill:#fdff32"
"""The default CSS for highlighted nodes."""

StateDiagramDirection = Literal["TB", "LR", "RL", "BT"]
"""Direction of flow of the diagram: top-bottom, left-right, right-left, bottom-top."""

NodeIdent: TypeAlias = "type[BaseNode[Any, Any, Any]] | BaseNode[Any, Any, Any] | str"
"""A node named by its class, an instance of it, or its id."""


def generate_code(
    graph: Graph[Any, Any, Any],
    /,
    *,
    start_node: Sequence[NodeIdent] | NodeIdent | None = None,
    highlighted_nodes: Sequence[NodeIdent] | NodeIdent | None = None,
    highlight_css: str = DEFAULT_HIGHLIGHT_CSS,
    title: str | None = None,
    edge_labels: bool = True,
    notes: bool = True,
    direction: StateDiagramDirection | None = None,
) -> str:
    """Generate Mermaid state diagram code for a graph.

    Args:
        graph: The graph to draw.
        start_node: Nodes drawn with an edge from the start state `[*]`.
        highlighted_nodes: Nodes to highlight.
        highlight_css: CSS for highlighted nodes.
        title: The title of the diagram.
        edge_labels: Whether to draw edge labels.
        notes: Whether to draw notes from node docstrings.
        direction: The direction of flow.

    Raises:
        LookupError: A start or highlighted node is not in the graph.
    """
    start_node_ids = set(_node_ids(start_node or ()))
    for node_id in start_node_ids:
        if node_id not in graph.node_defs:
            raise LookupError(f'Start node "{node_id}" is not in the graph.')

    lines: list[str] = ["---", f"title: {title}", "---"] if title else []
    lines.append("stateDiagram-v2")
    if direction is not None:
        lines.append(f"  direction {direction}")
    for node_id, node_def in graph.node_defs.items():
        if node_id in start_node_ids:
            lines.append(f"  [*] --> {node_id}")
        if node_def.returns_base_node:
            lines.extend(f"  {node_id} --> {next_id}" for next_id in graph.node_defs)
        else:
            for next_id, edge in node_def.next_node_edges.items():
                label = f": {edge.label}" if edge_labels and edge.label else ""
                lines.append(f"  {node_id} --> {next_id}{label}")
        if end_edge := node_def.end_edge:
            label = f": {end_edge.label}" if edge_labels and end_edge.label else ""
            lines.append(f"  {node_id} --> [*]{label}")
        if notes and node_def.note:
            lines.append(f"  note right of {node_id}")
            # mermaid shows an error for notes with several paragraphs
            lines.append(indent(re.sub("\n{2,}", "\n", node_def.note), "    "))
            lines.append("  end note")

    if highlighted_nodes:
        lines.append("")
        lines.append(f"classDef highlighted {highlight_css}")
        for node_id in _node_ids(highlighted_nodes):
            if node_id not in graph.node_defs:
                raise LookupError(f'Highlighted node "{node_id}" is not in the graph.')
            lines.append(f"class {node_id} highlighted")
    return "\n".join(lines)


def _node_ids(node_idents: Sequence[NodeIdent] | NodeIdent) -> Iterable[str]:
    single = isinstance(node_idents, str) or not isinstance(node_idents, Sequence)
    idents: Sequence[NodeIdent] = (node_idents,) if single else node_idents  # type: ignore[assignment]
    for node in idents:
        yield node if isinstance(node, str) else node.get_id()
