"""graphc's runtime: run graphs of nodes with pydantic_graph 0.0.39 semantics.

Needs only pydantic. Compiled graphs import from here; hand-written
pydantic_graph nodes run unchanged once their imports point at `runtime`.
"""

from .exceptions import GraphRuntimeError, GraphSetupError
from .graph import Graph, GraphRun, GraphRunResult
from .loading import load_graph
from .nodes import WAITING, BaseNode, Edge, End, GraphRunContext
from .state import EndStep, HistoryStep, NodeStep, deep_copy_state

__all__ = (
    "WAITING",
    "BaseNode",
    "Edge",
    "End",
    "EndStep",
    "Graph",
    "GraphRun",
    "GraphRunContext",
    "GraphRunResult",
    "GraphRuntimeError",
    "GraphSetupError",
    "HistoryStep",
    "NodeStep",
    "deep_copy_state",
    "load_graph",
)
