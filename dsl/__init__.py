"""graphc's front-ends: `.graph`, YAML and TOML specs → one IR (`dsl.ir.GraphSpec`).

`parse_file(path)` reads and parses any of the three syntaxes; problems are raised
as `DiagnosticError`, carrying every `Diagnostic` found.
"""

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
