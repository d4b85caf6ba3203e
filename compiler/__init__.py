"""graphc's compiler: checks a `GraphSpec` and generates a Python module from it.

`compile_spec(path)` runs the whole pipeline; `load(path)` compiles in memory and
returns the graph, ready to run.
"""

from .checks import CheckedGraph, check_spec
from .codegen import GeneratedModule, generate
from .loader import install_import_hook, load, load_module
from .pipeline import compile_source, compile_spec

__all__ = (
    "CheckedGraph",
    "GeneratedModule",
    "check_spec",
    "compile_source",
    "compile_spec",
    "generate",
    "install_import_hook",
    "load",
    "load_module",
)
