"""graphc's front-ends: `.graph`, YAML and TOML specs → one IR (`dsl.ir.GraphSpec`).

`parse_file(path)` reads and parses any of the three syntaxes; problems are raised
as `DiagnosticError`, carrying every `Diagnostic` found. Names are imported on first use.
"""

from __future__ import annotations

from .lazy import lazy_exports

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from .diagnostics import Diagnostic, DiagnosticError, render_json, render_text
    from .ir import GraphSpec
    from .parse import parse_file, parse_source
    from .printer import print_spec
    from .source import SourceFile, read_source

__all__ = (
    "Diagnostic",
    "DiagnosticError",
    "GraphSpec",
    "SourceFile",
    "parse_file",
    "parse_source",
    "print_spec",
    "read_source",
    "render_json",
    "render_text",
)

_HOMES = {
    "Diagnostic": "diagnostics",
    "DiagnosticError": "diagnostics",
    "render_json": "diagnostics",
    "render_text": "diagnostics",
    "GraphSpec": "ir",
    "parse_file": "parse",
    "parse_source": "parse",
    "print_spec": "printer",
    "SourceFile": "source",
    "read_source": "source",
}


__getattr__ = lazy_exports(__name__, _HOMES)
