"""Property tests: printing a spec in any syntax and parsing it back gives the same IR."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from dsl import ir
from dsl.diagnostics import DiagnosticError, render_text
from dsl.parse import parse_source
from dsl.printer import print_spec
from dsl.source import source_from_text

from .strategies import expressions, specs

SYNTAXES = ("graph", "yaml", "toml")


def reparse(spec: ir.GraphSpec, syntax: str) -> ir.GraphSpec:
    text = print_spec(spec, syntax)
    name = f"generated.{syntax}"
    try:
        return parse_source(source_from_text(name, text))
    except DiagnosticError as e:  # pragma: no cover - shown when the property fails
        raise AssertionError(
            f"printed {syntax} did not parse:\n{text}\n{render_text(e.diagnostics, {name: text})}"
        ) from e


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_print_then_parse_gives_back_the_spec_in_every_syntax(spec: ir.GraphSpec) -> None:
    expected = ir.strip_spans(spec)
    for syntax in SYNTAXES:
        again = reparse(spec, syntax)
        assert ir.strip_spans(again) == expected, syntax
        # and the printed form is canonical: printing again changes nothing
        assert print_spec(again, syntax) == print_spec(spec, syntax)


@settings(max_examples=300, deadline=None)
@given(expressions)
def test_expressions_survive_every_syntax(expression: ir.Expr) -> None:
    node = ir.NodeSpec(
        span=expression.span,
        name="N",
        name_span=expression.span,
        next=[
            ir.Branch(
                span=expression.span,
                to=ir.Transition(span=expression.span, target="End", target_span=expression.span, args=[expression]),
            )
        ],
    )
    spec = ir.GraphSpec(span=expression.span, name="G", name_span=expression.span, nodes=[node])
    for syntax in SYNTAXES:
        assert ir.strip_spans(reparse(spec, syntax)) == ir.strip_spans(spec), syntax
