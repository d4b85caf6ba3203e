"""graphc's runtime: run graphs of nodes with pydantic_graph 0.0.39 semantics.

Needs only pydantic. Compiled graphs import from here; hand-written
pydantic_graph nodes run unchanged once their imports point at `runtime`.
"""

from .exceptions import GraphRuntimeError, GraphSetupError
from .graph import Graph, GraphRun, GraphRunResult
from .loading import load_graph
from .nodes import WAITING, BaseNode, Edge, End, GraphRunContext
from .state import EndStep, HistoryStep, NodeStep, deep_copy_state
from .timers import Deadline, Sleep, answer_within

__all__ = (
    "WAITING",
    "BaseNode",
    "Deadline",
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
    "Sleep",
    "answer_within",
    "deep_copy_state",
    "load_graph",
)
