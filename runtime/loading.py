"""Importing a compiled graph module from a file path."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .exceptions import GraphSetupError
from .graph import Graph

__all__ = ("load_graph", "load_module")


def load_module(path: str | Path) -> ModuleType:
    """Import the Python module at `path` under a name derived from its resolved path.

    The module is registered in `sys.modules` before it runs, as dataclasses need.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"No such graph module: {path}")
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:12]
    module_name = f"_graphc_loaded_{file.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise GraphSetupError(f"Cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def load_graph(path: str | Path) -> Graph[Any, Any, Any]:
    """Import a compiled graph module from a file path and return its `graph`.

    Args:
        path: A Python file defining a module-level `graph` (as `graphc compile` writes).
    """
    module = load_module(path)
    graph = getattr(module, "graph", None)
    if not isinstance(graph, Graph):
        graphs = [value for value in vars(module).values() if isinstance(value, Graph)]
        if len(graphs) != 1:
            raise GraphSetupError(f"{path} defines no module-level `graph` (found {len(graphs)} Graph objects)")
        graph = graphs[0]
    return graph
