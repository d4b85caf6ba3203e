"""The fast path (`dsl.graph.lalr`) builds exactly lark's tree, or steps aside for lark.

Compared on every example and golden case, on mutants of them (most of which do not parse)
and on generated specs in all their printed forms: same accept/reject, same tree, tokens and
positions, same comments.
"""

from __future__ import annotations

import functools
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dsl.graph import lalr
from dsl.graph import lark_parser as lark_syntax
from dsl.printer import print_spec
from dsl.syntax_tree import TOKEN_TYPES, Tree
from dsl.unparse import ExprWriter

from .conftest import EXAMPLES
from .fuzzing import mutate
from .strategies import expressions, specs
from .test_parse import EVERYTHING

GOLDEN = Path(__file__).parent / "golden"
FRAGMENT_STARTS = ("expr_input", "type_input", "stmt_input", "target_input", "field_input", "import_input")


def _shape(value: Any) -> Any:
    """A tree as plain data: rule names, tokens with their types and positions, subtree extents."""
    if isinstance(value, Tree):
        return (str(value.data), value.position, [_shape(child) for child in value.children])
    if isinstance(value, TOKEN_TYPES):
        token: Any = value
        return (token.type, str(token), token.line, token.column, token.end_line, token.end_column)
    return value


@functools.lru_cache(maxsize=1)
def _reference() -> Any:
    """lark, positioning subtrees its own way."""
    return lark_syntax.build_parser(lark_positions=True)


def _lark(text: str, start: str) -> tuple[Any, list[tuple[int, int, str]]] | None:
    parser = _reference()
    try:
        tree = parser.parse(text, start=start)
    except Exception:
        return None
    return _shape(lark_syntax._ours(tree)), list(parser.options.postlex.comments)


def assert_same_as_lark(text: str, start: str = "module") -> bool:
    """Whether lark accepts `text`; fails if the fast path disagrees in any way."""
    expected = _lark(text, start)
    try:
        parsed = lalr.parse(text, start)
    except lalr.NotFast:
        assert expected is None, f"the fast path rejects what lark accepts:\n{text}"
        return False
    assert expected is not None, f"the fast path accepts what lark rejects:\n{text}"
    assert (_shape(parsed.tree), parsed.comments) == expected
    return True


def _corpus() -> list[str]:
    paths = sorted(EXAMPLES.glob("*.graph")) + sorted(GOLDEN.rglob("*.graph"))
    return [path.read_text(encoding="utf-8", errors="replace") for path in paths] + [EVERYTHING]


def test_corpus_and_its_mutants() -> None:
    texts = _corpus()
    accepted = sum(assert_same_as_lark(text) for text in texts)
    assert accepted > 50  # the examples and the round-trip goldens at least
    rng = random.Random(7)
    seeds = [text.encode() for text in texts]
    mutants = [mutate(rng.choice(seeds), rng).decode(errors="replace") for _ in range(400)]
    assert 0 < sum(assert_same_as_lark(text) for text in mutants) < len(mutants)


@pytest.mark.parametrize(
    "text",
    [
        "graph G\nstart A\nnodeA(x: int):\n    -> End(x)\n",  # lark's contextual lexer reads `node` + `A` here
        "graph G\nstart A\nnode A(state: int, graph: str, on: int):\n    -> End(state)\n",  # keywords as names
        "graph G\nnode A:\n    x = (1 +\n  # inside brackets\n    2)\n    -> End(x)  # trailing\n",
        "graph G\nnode A:\n    x = f(a+=1)\n    -> End(x)\n",  # `+=` where only `+` fits
        "graph G\nnode A:\n    x = a->b\n    -> End(x)\n",
        "graph G\nnode A:\n\tx = 1\n        -> End(x)\n",  # tabs, then spaces
        "graph G\nnode A:\n    if x:\n        -> End(1)\n  -> End(2)\n",  # a dedent to no level
        "graph G\nnode A:\n    x = 1 \\\n      + 2\n    -> End(x)\n",  # a continued line
        '# only a comment\ngraph G\nnode A:\n    """doc"""\n    -> End(rb"x" if"y" else 0)\n',
        "graph G\nnode A:\n    -> End(x)",  # no final line end
        "",
    ],
)
def test_edge_cases(text: str) -> None:
    assert_same_as_lark(text)


@given(specs)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_specs(spec: Any) -> None:
    assert assert_same_as_lark(print_spec(spec, "graph"))


@given(expressions)
@settings(max_examples=150, deadline=None)
def test_generated_expressions(expr: Any) -> None:
    assert assert_same_as_lark(ExprWriter().expr(expr), "expr_input")


@pytest.mark.parametrize("start", FRAGMENT_STARTS)
def test_fragments(start: str) -> None:
    samples = {
        "expr_input": ["a + b * -c ** 2", "f(x, *y)", "[x for x in xs if x]", "{'a': 1}", "a if b else", "x := 1"],
        "type_input": ["dict[str, list[int]] | None", "Literal['a', -1, True]", "int |"],
        "stmt_input": ["state.count += 1", "await f(x)", "x = y = 1"],
        "target_input": ["Next(a, b=1)", "End(None)", "Next("],
        "field_input": ["int = 3", "list[str] = []", "= 3"],
        "import_input": ["from a.b import c as d, e", "import x"],
    }[start]
    accepted = [assert_same_as_lark(text, start) for text in samples]  # each compared, not the first that parses
    assert any(accepted) and not all(accepted), accepted  # and the rejections agree too


def test_the_lark_internals_we_read_are_there() -> None:
    """`dsl.graph.lark_parser.build_tables` reads lark's internals, so lark is pinned: this says what moved."""
    import lark

    assert lark.__version__.startswith("1.3."), f"lark {lark.__version__}: graphc reads lark 1.3's internals"
    parser = lark_syntax.build_parser(lark_positions=True)
    paths = {
        "parser.parser.parser.parser.parse_table.states": lambda: parser.parser.parser.parser.parse_table.states,
        "...parse_table.start_states": lambda: parser.parser.parser.parser.parse_table.start_states,
        "parser.parser.lexer.lexer.lexers": lambda: parser.parser.lexer.lexer.lexers,
        "parser.parser.lexer.lexer.root_lexer": lambda: parser.parser.lexer.lexer.root_lexer,
        "parser.rules[0].expansion": lambda: parser.rules[0].expansion,
        "parser.rules[0].options.keep_all_tokens": lambda: parser.rules[0].options.keep_all_tokens,
    }
    for path, read in paths.items():
        try:
            read()
        except AttributeError as e:
            pytest.fail(f"lark {lark.__version__} moved `{path}` ({e}): update dsl/lalr.py and the pin in pyproject")
    action, _ = next(iter(parser.parser.parser.parser.parse_table.states[0].values()))
    assert action.name in ("Shift", "Reduce"), action


def test_the_shipped_tables_are_those_of_the_grammar() -> None:
    """After a grammar change, `python -m dsl.graph.lalr` writes them anew (lark numbers states anew each run)."""
    shipped = json.loads(Path(lalr.TABLES_FILE).read_text(encoding="utf-8"))
    assert shipped["grammar"] == lalr.tables_key(Path(lalr.GRAMMAR_FILE).read_text(encoding="utf-8"))
    built = lark_syntax.build_tables()
    assert (len(shipped["states"]), shipped["rules"]) == (len(built["states"]), built["rules"])


def test_parsing_a_spec_does_not_import_lark() -> None:
    code = (
        "import sys; from dsl.parse import parse_file; from compiler.checks import check_spec; "
        f"check_spec(parse_file({str(EXAMPLES / 'support_desk.graph')!r})[1]); "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'lark'], 'lark was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
