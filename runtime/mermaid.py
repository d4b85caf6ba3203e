"""Mermaid state-diagram text for a graph, identical to pydantic_graph 0.0.39's.

`generate_code` gives the text. `request_image` / `save_image` render it with the
mermaid.ink service as pydantic_graph does — the runtime's only network access, made
only when they are called, through httpx (an optional dependency).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from textwrap import indent
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypedDict

from typing_extensions import Unpack

from .nodes import BaseNode

if TYPE_CHECKING:
    from .graph import Graph

__all__ = (
    "DEFAULT_HIGHLIGHT_CSS",
    "MermaidConfig",
    "NodeIdent",
    "StateDiagramDirection",
    "generate_code",
    "request_image",
    "save_image",
)

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
    lines += _graph_lines(graph, start_node_ids, edge_labels=edge_labels, notes=notes)

    if highlighted_nodes:
        lines.append("")
        lines.append(f"classDef highlighted {highlight_css}")
        for node_id in _node_ids(highlighted_nodes):
            if node_id not in graph.node_defs:
                raise LookupError(f'Highlighted node "{node_id}" is not in the graph.')
            lines.append(f"class {node_id} highlighted")
    return "\n".join(lines)


def _graph_lines(
    graph: Graph[Any, Any, Any], start_ids: set[str], *, edge_labels: bool, notes: bool, prefix: str = ""
) -> list[str]:
    """The states and edges of a graph; a sub-graph's are drawn inside its composite state, ids prefixed."""
    lines: list[str] = []
    subgraphs: dict[str, Graph[Any, Any, Any]] = {}
    for node_id, node_def in graph.node_defs.items():
        state = prefix + node_id
        if prefix:
            lines.append(f'  state "{node_id}" as {state}')
        if node_id in start_ids:
            lines.append(f"  [*] --> {state}")
        if node_def.returns_base_node:
            lines.extend(f"  {state} --> {prefix}{next_id}" for next_id in graph.node_defs)
        else:
            for next_id, edge in node_def.next_node_edges.items():
                runs = node_def.forks.get(next_id)
                if runs is not None:
                    subgraphs.update((sub.name, sub.graph) for sub in runs)
                    names = [sub.name for sub in runs]
                    lines += fork_lines(state, next_id, prefix, names, edge.label if edge_labels else None)
                    continue
                label = f": {edge.label}" if edge_labels and edge.label else ""
                lines.append(f"  {state} --> {prefix}{next_id}{label}")
        if end_edge := node_def.end_edge:
            runs = node_def.forks.get("End")
            if runs is not None:
                subgraphs.update((sub.name, sub.graph) for sub in runs)
                names = [sub.name for sub in runs]
                lines += fork_lines(state, "End", prefix, names, end_edge.label if edge_labels else None)
            else:
                label = f": {end_edge.label}" if edge_labels and end_edge.label else ""
                lines.append(f"  {state} --> [*]{label}")
        if notes and node_def.note:
            lines.append(f"  note right of {state}")
            # mermaid shows an error for notes with several paragraphs
            lines.append(indent(re.sub("\n{2,}", "\n", node_def.note), "    "))
            lines.append("  end note")
    for name, sub in subgraphs.items():
        start = {sub.start_node.get_id()} if sub.start_node is not None else set()
        inner = _graph_lines(sub, start, edge_labels=edge_labels, notes=notes, prefix=f"{prefix}{name}__")
        lines += composite_lines(prefix + name, inner)
    return lines


def fork_lines(state: str, join: str, prefix: str, subgraphs: list[str], label: str | None) -> list[str]:
    """A forking edge: `state` to a fork, the fork to each sub-graph, each to a join, the join to `join`."""
    fork, joined = f"{state}_fork_{join}", f"{state}_join_{join}"
    target = "[*]" if join == "End" else prefix + join
    lines = [f"  state {fork} <<fork>>", f"  state {joined} <<join>>"]
    lines.append(f"  {state} --> {fork}{f': {label}' if label else ''}")
    for name in dict.fromkeys(subgraphs):
        lines += [f"  {fork} --> {prefix}{name}", f"  {prefix}{name} --> {joined}"]
    lines.append(f"  {joined} --> {target}")
    return lines


def composite_lines(state: str, inner: list[str]) -> list[str]:
    """A sub-graph as a composite state holding its own states and edges."""
    return [f"  state {state} {{", *("  " + line for line in inner), "  }"]


def _node_ids(node_idents: Sequence[NodeIdent] | NodeIdent) -> Iterable[str]:
    single = isinstance(node_idents, str) or not isinstance(node_idents, Sequence)
    idents: Sequence[NodeIdent] = (node_idents,) if single else node_idents  # type: ignore[assignment]
    for node in idents:
        yield node if isinstance(node, str) else node.get_id()


class MermaidConfig(TypedDict, total=False):
    """How `Graph.mermaid_image` / `mermaid_save` draw and render: pydantic_graph 0.0.39's options."""

    start_node: Sequence[NodeIdent] | NodeIdent
    highlighted_nodes: Sequence[NodeIdent] | NodeIdent
    highlight_css: str
    title: str | None
    edge_labels: bool
    notes: bool
    image_type: Literal["jpeg", "png", "webp", "svg", "pdf"]
    pdf_fit: bool
    pdf_landscape: bool
    pdf_paper: Literal["letter", "legal", "tabloid", "ledger", "a0", "a1", "a2", "a3", "a4", "a5", "a6"]
    background_color: str
    theme: Literal["default", "neutral", "dark", "forest"]
    width: int
    height: int
    scale: float
    httpx_client: Any
    """An `httpx.Client` to send the request with (tests pass one with a mock transport)."""
    direction: StateDiagramDirection


def request_image(graph: Graph[Any, Any, Any], /, **kwargs: Unpack[MermaidConfig]) -> bytes:
    """Render the graph's mermaid text to an image with the mermaid.ink service, as pydantic_graph 0.0.39 does.

    The only network access in the runtime, made only when called; needs `httpx`
    (`pip install 'graphc[images]'`). For offline pictures: `graphc diagram --format svg`.

    Raises:
        httpx.HTTPStatusError: the service answered with an error.
    """
    try:
        import httpx
    except ImportError:  # pragma: no cover -- the test extra has httpx
        raise ImportError("rendering with mermaid.ink needs httpx: pip install 'graphc[images]'") from None
    code = generate_code(
        graph,
        start_node=kwargs.get("start_node"),
        highlighted_nodes=kwargs.get("highlighted_nodes"),
        highlight_css=kwargs.get("highlight_css", DEFAULT_HIGHLIGHT_CSS),
        title=kwargs.get("title"),
        edge_labels=kwargs.get("edge_labels", True),
        notes=kwargs.get("notes", True),
        direction=kwargs.get("direction"),
    )
    encoded = base64.b64encode(code.encode()).decode()
    params: dict[str, str | float] = {}
    image_type = kwargs.get("image_type")
    if image_type == "pdf":
        url = f"https://mermaid.ink/pdf/{encoded}"
        for flag, name in (("pdf_fit", "fit"), ("pdf_landscape", "landscape")):
            if kwargs.get(flag):
                params[name] = ""
        if paper := kwargs.get("pdf_paper"):
            params["paper"] = paper
    elif image_type == "svg":
        url = f"https://mermaid.ink/svg/{encoded}"
    else:
        url = f"https://mermaid.ink/img/{encoded}"
        if image_type:
            params["type"] = image_type
    for option, name in (("background_color", "bgColor"), ("theme", "theme"), ("width", "width"), ("height", "height")):
        if value := kwargs.get(option):
            params[name] = value  # type: ignore[assignment]
    if scale := kwargs.get("scale"):
        params["scale"] = scale
    client = kwargs.get("httpx_client") or httpx.Client()
    response = client.get(url, params=params)
    if not response.is_success:
        raise httpx.HTTPStatusError(
            f"{response.status_code} error generating image:\n{response.text}",
            request=response.request,
            response=response,
        )
    return bytes(response.content)


def save_image(path: Path | str, graph: Graph[Any, Any, Any], /, **kwargs: Unpack[MermaidConfig]) -> None:
    """`request_image`, saved to `path`; the image type follows the file's suffix unless given."""
    path = Path(path)
    if "image_type" not in kwargs:
        suffix = path.suffix.lower()[1:]
        if suffix in ("png", "webp", "svg", "pdf"):  # .jpg/.jpeg: the service's default
            kwargs["image_type"] = suffix  # type: ignore[typeddict-item]
    path.write_bytes(request_image(graph, **kwargs))
