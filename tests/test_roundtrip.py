"""Property tests: printing a spec in any syntax and parsing it back gives the same IR."""

from __future__ import annotations

import pytest
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


COMMENTED = '''# Before everything.
"""A documented graph."""
graph Commented -> int  # after the graph line
start A

from math import floor  # a trailing comment on an import

# Above the state.
state CommentedState:
    # above a field
    count: int = 0  # beside a field

node A(n: int = 1):  # beside a node
    # above a statement
    state.count += n  # beside a statement
    if n > 3 -> End(floor(n))  # beside a branch
    # above the last branch
    -> B(n + 1)

node B(n: int):
    -> A(n)
# At the very end.
'''


@pytest.mark.parametrize("via", ["yaml", "toml"])
def test_comments_survive_conversion_between_all_three_syntaxes(via: str) -> None:
    spec = parse_source(source_from_text("commented.graph", COMMENTED))
    converted = print_spec(spec, via)
    texts = [c.text for c in spec.comments]
    for text in texts:
        assert text in converted, (text, converted)
    again = parse_source(source_from_text(f"commented.{via}", converted))
    modeline, *rest = [c.text for c in again.comments]  # the schema modeline comes first
    assert modeline.endswith("graphc.schema.json") and rest == texts
    assert print_spec(again, via) == converted  # the converted file is already canonical
    other = "toml" if via == "yaml" else "yaml"
    back = parse_source(source_from_text(f"c.{other}", print_spec(again, other, schema=None)))
    assert [c.text for c in back.comments] == texts  # one modeline replaces another: none here
    assert print_spec(again, "graph") == print_spec(spec, "graph")  # back to the same .graph text
