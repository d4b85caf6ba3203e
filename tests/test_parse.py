"""The front-ends: every construct of SPEC section 2 parses, with positions, in all three syntaxes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dsl import ir
from dsl.diagnostics import DiagnosticError
from dsl.graph import lalr
from dsl.graph import lark_parser as lark_syntax
from dsl.parse import parse_source
from dsl.printer import print_spec
from dsl.source import source_from_text

from .conftest import EXAMPLES
from .fuzzing import mutate

EVERYTHING = '''"""Module doc."""
graph Everything -> int | None
start First

from pkg.mod import helper, Other as Alias

state:
    count: int = 0
    names: list[str] = []
    mode: Literal["a", "b", 3] = "a"

deps = pkg.deps.Deps

node First(a: int, b: str = "x", c: tuple[int, ...] = (1, 2), d: dict[str, float | None] = {}):
    """Node doc."""
    total = a + 1 if b else -a ** 2
    value = await helper(total, key=b[1:], other=[x for_ in ()]) if False else None
    state.count += total
    state.names.append(f"{b!r:>4} and {{braces}}")
    await helper()
    if not (a in c and b not in d) or a is None -> First(1, b="y") : "again"
    if total >= 3 and 1 < a <= 5:
        state.count -= 1
        -> End(total)
    print({1, 2}, {"k": a}, (), (a,), d.get("k"), c[0:2:1])
    -> Alias(a)
'''


def parse(text: str, name: str = "spec.graph") -> ir.GraphSpec:
    return parse_source(source_from_text(name, text))


def test_every_construct_parses() -> None:
    text = EVERYTHING.replace("[x for_ in ()]", "[]")
    spec = parse(text)
    assert spec.doc == "Module doc." and spec.start == "First"
    assert isinstance(spec.output, ir.UnionType)
    assert [(i.module, [(n.name, n.alias) for n in i.names]) for i in spec.imports] == [
        ("pkg.mod", [("helper", None), ("Other", "Alias")])
    ]
    assert spec.state is not None and [f.name for f in spec.state.fields or []] == ["count", "names", "mode"]
    assert spec.deps is not None and spec.deps.ref == "pkg.deps.Deps"
    [node] = spec.nodes
    assert node.doc == "Node doc." and [f.name for f in node.fields] == ["a", "b", "c", "d"]
    assert [type(s).__name__ for s in node.do] == ["Assign", "Assign", "Assign", "ExprStmt", "ExprStmt"]
    assert node.do[1].awaited is True and node.do[4].awaited is True  # `await` covers the whole expression
    assert print_spec(spec, "graph").count("await (helper(") == 1
    assert [b.condition is None for b in node.next] == [False, False, True]
    assert node.next[0].to.label == "again" and node.next[0].to.keywords[0].name == "b"
    assert [type(s).__name__ for s in node.next[1].do] == ["Assign"]
    assert node.next[2].to.target == "Alias" and len(node.next[2].do) == 1  # the final `->` keeps its statements


def test_spans_point_at_the_source() -> None:
    spec = parse(EVERYTHING.replace("[x for_ in ()]", "[]"))
    node = spec.nodes[0]
    assert (node.name_span.line, node.name_span.column) == (14, 6)
    condition = node.next[0].condition
    assert condition is not None and (condition.span.line, condition.span.column) == (21, 8)
    assert (node.next[2].to.target_span.line, node.next[2].to.target_span.column) == (26, 8)


def test_model_copy_changes_the_copy_only() -> None:
    spec = parse("graph G\n\nnode A:\n    -> End(1)\n\nnode B:\n    -> End(2)\n")
    first, second = (node.next[0] for node in spec.nodes)
    changed = first.model_copy(update={"condition": ir.Name(span=first.span, id="ok")})
    assert changed.condition == ir.Name(span=first.span, id="ok") and changed.to is first.to
    assert first.condition is None and second.condition is None
    with pytest.raises(AttributeError):
        first.condition = None  # type: ignore[misc]  # frozen


def test_else_block_is_the_final_branch() -> None:
    spec = parse(
        "graph G\n\nnode A(n: int):\n    if n > 0 -> End(None)\n    else:\n        print(n)\n        -> End(None)\n"
    )
    last = spec.nodes[0].next[-1]
    assert last.condition is None and len(last.do) == 1


@pytest.mark.parametrize("syntax", ["yaml", "toml"])
def test_positions_inside_yaml_and_toml_strings(syntax: str) -> None:
    source = (EXAMPLES / f"fives.{syntax}").read_text()
    spec = parse(source, f"fives.{syntax}")
    condition = spec.nodes[0].next[0].condition
    assert isinstance(condition, ir.Compare)
    lines = source.split("\n")
    line = lines[condition.span.line - 1]
    assert line[condition.span.column - 1 :].startswith("foo % 5 == 0")
    # and an error inside a string points into it
    broken = source.replace("foo % 5 == 0", "foo % % 5")
    with pytest.raises(DiagnosticError) as caught:
        parse(broken, f"fives.{syntax}")
    [d] = caught.value.diagnostics
    assert broken.split("\n")[d.span.line - 1][d.span.column - 1 :].startswith("% 5")


def test_the_three_syntaxes_give_one_ir() -> None:
    for example in EXAMPLES.glob("*.graph"):
        specs = [
            parse(example.with_suffix(s).read_text(), example.with_suffix(s).name) for s in (".graph", ".yaml", ".toml")
        ]
        assert ir.strip_spans(specs[1]) == ir.strip_spans(specs[0]) == ir.strip_spans(specs[2])


def test_comments_survive_fmt() -> None:
    text = "# leading\ngraph G  # the graph\n\nnode A:\n    # before\n    x = 1  # trailing\n    -> End(None)\n# last\n"
    assert print_spec(parse(text), "graph") == text


def test_crlf_bom_and_tabs() -> None:
    text = "\ufeffgraph G\r\n\r\nnode A:\r\n\tx = 1\r\n\t-> End(None)\r\n"
    assert parse(text).nodes[0].do[0].span.line == 4


def test_all_errors_of_a_file_are_reported() -> None:
    with pytest.raises(DiagnosticError) as caught:
        parse(
            "graph G\n\nnode A:\n    x = = 1\n    -> End(1)\n\n"
            "node B:\n    y = )\n    -> End(1)\n\nnode C:\n    -> End(1) 2\n"
        )
    assert [d.span.line for d in caught.value.diagnostics] == [4, 8, 12]


def _parse_everything(texts: list[tuple[str, str]]) -> list[str]:
    """Each text's IR, spans included, or its diagnostics."""
    results = []
    for name, text in texts:
        try:
            results.append(repr(parse_source(source_from_text(name, text))))
        except DiagnosticError as e:
            results.append(repr(e.diagnostics))
    return results


def test_positions_match_larks_propagate_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path (`dsl.graph.lalr`) and `lark_syntax`'s lean positions give the spans lark's own way gives."""
    golden = Path(__file__).parent / "golden" / "diagnostics"
    paths = sorted(EXAMPLES.glob("*.graph")) + sorted(golden.glob("*.graph")) + sorted(golden.glob("*.yaml"))
    texts = [(path.name, path.read_text(encoding="utf-8", errors="replace")) for path in paths]
    rng = random.Random(3)
    seeds = [text.encode() for name, text in texts if not name.startswith(("check_", "syntax_", "shape_"))]
    texts += [("mutant.graph", mutate(rng.choice(seeds), rng).decode(errors="replace")) for _ in range(300)]
    texts.append(("everything.graph", EVERYTHING))
    tree = lark_syntax._parser().parse("a + b", start="expr_input")
    assert tree.position == (1, 1, 1, 6)  # the lean path is in use with this lark
    ours = _parse_everything(texts)

    def not_fast(text: str, start: str = "module") -> lalr.Parsed:
        raise lalr.NotFast

    monkeypatch.setattr(lalr, "parse", not_fast)
    assert _parse_everything(texts) == ours  # lark with the lean positions
    reference = lark_syntax.build_parser(lark_positions=True)
    monkeypatch.setattr(lark_syntax, "_parser", lambda: reference)
    assert _parse_everything(texts) == ours


@pytest.mark.parametrize(
    ("literal", "parts"),
    [
        ('f"a{x}b"', ["a", "b"]),
        ('f"tab\\t{x}"', ["tab\t"]),  # an escape is evaluated
        ('rf"tab\\t{x}"', ["tab\\t"]),  # not in a raw string
        ('f"""say "{x}" """', ['say "', '" ']),  # a quote just before a field (Python reads it so)
        ('f"""\\t"{x}"""', ['\t"']),
        ("f\"{ {'}': x}['}'] }.\"", ["."]),  # a brace in a string inside a field does not end it
        ('f"{x != 2}!{x:>4}"', ["!"]),
    ],
)
def test_fstring_literal_parts(literal: str, parts: list[str]) -> None:
    spec = parse(f"graph G\nnode A:\n    x = 1\n    y = {literal}\n    -> End(y)\n")
    statement = spec.nodes[0].do[1]
    assert isinstance(statement, ir.Assign) and isinstance(statement.value, ir.FString)
    assert [part for part in statement.value.parts if isinstance(part, str)] == parts
