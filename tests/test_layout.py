"""Long generated statements are laid out as `ruff format` would lay them out."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compiler.layout import LINE_LENGTH, fit
from compiler.pipeline import compile_spec
from dsl import ir
from dsl.unparse import ExprWriter

from .strategies import expressions

GOLDEN = Path(__file__).parent / "golden" / "compile"
RUFF = [sys.executable, "-m", "ruff", "format", "--isolated", "--line-length", str(LINE_LENGTH)]
LONG = "y" * 70
SHAPES = [
    "print({padding}, {a})",
    "ctx.state.items.append({padding}, {a}, {b})",
    "value = compute({padding}, {a}, key={b})",
    "return Target({padding}, {a}, {b})",
    "if check({padding}, {a}, {b}):",
    "ctx.state.count += helper({padding}, [{a}, {b}])",
]
CASES = [
    f'print(f"{LONG} {{value:0.2f}} and some more words to go past the line")',
    f'ctx.state.log.append("{LONG}" if self.rating is None else f"rated {{self.rating}} {LONG[:20]}")',
    f"helper(first_argument, second_argument, third_argument, fourth_argument, {LONG[:30]})",
    f"helper(first_argument_{LONG}, second_argument_{LONG}, third=[1, 2, 3])",
    f"outer(inner(first_argument_{LONG}, second_argument_{LONG}), key=value)",
    f"outer(inner(first_argument_{LONG}, second_argument_{LONG}))",
    f"result = await lookup.find(ctx.deps.catalogue, name=self.product, default=None, limit={len(LONG)} * 2, x=1)",
    f'ctx.state.total += compute(ctx.state.values[0], ctx.state.values[1], factor={len(LONG)}, label="{LONG[:40]}")',
    f'return Review(self.ticket, notes=[*self.notes, "{LONG}"] if False else ["{LONG[:30]}"])',
    f'if matches(self.subject, "{LONG}", case_sensitive=False, other="{LONG[:20]}"):',
    f"value = ({LONG}_some_long_name_for_a_value_that_goes_past_the_line_length_limit_{LONG[:20]},)",
    f"total = first_value_{LONG} + compute(second_value_{LONG})",
    f"total = first_value_{LONG} + second_value_{LONG} * compute(third_value_{LONG[:10]})",
    f"if ctx.state.total > 1000000 and exists(self.first_{LONG[:30]}) and isdir(self.second_{LONG[:30]}) or x:",
    f"if ctx.state.total > 1000000 and exists(self.first_{LONG[:30]}) and isdir(self.second_{LONG[:30]}):",
    f"if self.count_of_things_{LONG} >= limit_of_{LONG[:30]}:",
    f"return End(self.total_{LONG[:40]}) if self.count_of_things_{LONG[:30]} else End(None)",
    f"value: dict[str, list[tuple[int, int, int, int, int, int, int, int, {LONG[:20]}]]] = field(default_factory=dict)",
    f"ctx.state.log.append(self.first_{LONG[:40]} + self.second_{LONG[:40]} + self.third_{LONG[:40]})",
]


@pytest.fixture(scope="module")
def ruff() -> list[str]:
    """The ruff command (ruff is part of the test extra), checked to run."""
    subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, check=True)
    return RUFF


def ruff_layout(ruff: list[str], code: str, comment: str, depth: int) -> list[str]:
    """How ruff lays out `code` + `comment` nested `depth` blocks deep."""
    scaffold = [f"{'    ' * level}if True:" for level in range(depth)]
    module = "\n".join([*scaffold, f"{'    ' * depth}{code}{comment}"]) + "\n"
    if code.endswith(":"):
        module += f"{'    ' * (depth + 1)}pass\n"
    formatted = subprocess.run([*ruff, "-"], input=module, capture_output=True, text=True, check=True).stdout
    lines = formatted.splitlines()[depth:]
    return lines[:-1] if code.endswith(":") else lines


@pytest.mark.parametrize("code", CASES)
@pytest.mark.parametrize("depth", [3, 4])
def test_long_statements_are_split_like_ruff(ruff: list[str], code: str, depth: int) -> None:
    comment = "  # flow.graph:12"
    ours = fit(code, comment, "    " * depth)
    assert len(ours) > 1  # long enough to be split
    assert ours == ruff_layout(ruff, code, comment, depth)


def test_short_statements_stay_on_one_line() -> None:
    assert fit("x = f(a, b)", "  # flow.graph:3", "            ") == ["            x = f(a, b)  # flow.graph:3"]


def test_every_golden_module_is_ruff_formatted(ruff: list[str], tmp_path: Path) -> None:
    for path in GOLDEN.glob("*.py"):
        (tmp_path / path.name).write_text(path.read_text())
    for target in ("runtime", "pydantic_graph"):  # and a spec whose every line can run long
        module = compile_spec(Path(__file__).parent / "data" / "long_lines.graph", target=target)
        (tmp_path / f"long_lines_{target}.py").write_text(module.source)
    result = subprocess.run([*ruff, "--check", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(expressions, expressions, st.sampled_from(SHAPES))
def test_split_statements_mean_what_the_one_line_form_means(first: ir.Expr, second: ir.Expr, shape: str) -> None:
    writer = ExprWriter()
    code = shape.format(padding="padding_" + "p" * 90, a=writer.expr(first), b=writer.expr(second))
    lines = fit(code, "  # flow.graph:9", "    ")
    body = "        pass" if code.endswith(":") else "    pass"
    split = "\n".join(["if True:", *lines, body])
    whole = "\n".join(["if True:", f"    {code}", body])
    try:
        meaning = ast.dump(ast.parse(whole))
    except SyntaxError:  # `ExprWriter` writes spec text: some f-strings are not Python before 3.12
        assume(False)
    assert ast.dump(ast.parse(split)) == meaning


def test_the_long_lines_spec_runs() -> None:
    import compiler

    module = compiler.load_module(Path(__file__).parent / "data" / "long_lines.graph")
    result = module.graph.run_sync(state=module.LongLinesState())
    assert result.output is not None and result.output["result"] == [(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 4)]
