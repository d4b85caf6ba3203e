"""graphc's compiler: checks a `GraphSpec` and generates a Python module from it.

`compile_spec(path)` runs the whole pipeline; `load(path)` compiles in memory and
returns the graph, ready to run. Names are imported on first use, so a command that
only checks never pays for code generation or the runtime.
"""

from __future__ import annotations

from dsl.lazy import lazy_exports

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
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

_HOMES = {
    "CheckedGraph": "checks",
    "check_spec": "checks",
    "GeneratedModule": "codegen",
    "generate": "codegen",
    "install_import_hook": "loader",
    "load": "loader",
    "load_module": "loader",
    "compile_source": "pipeline",
    "compile_spec": "pipeline",
}


__getattr__ = lazy_exports(__name__, _HOMES)
