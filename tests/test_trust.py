"""The trust model: a spec under an allow-list reaches only what `runtime.trust` names.

Statically, `tests/golden/trust/` holds escape attempts (frames, code, generators,
coroutines, tracebacks, bound methods' `__self__`, `mro`, format-string walks,
re-exported modules, dotted types, pickling, NFKC identifiers, ...), each refused by
`check` with a located diagnostic. At run time, the guard itself is tested on what a
spec that passes `check` can still try, and a property test walks random attribute
chains from every value a spec may touch.
"""

from __future__ import annotations

import json
import math
import os
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import load
from compiler.checks import check_spec
from dsl.diagnostics import Diagnostic, DiagnosticError, render_text
from dsl.parse import parse_source
from dsl.source import read_source
from runtime.trust import SAFE_BUILTINS, SAFE_METHODS, Trust, TrustError

from .conftest import check_golden

CORPUS = Path(__file__).parent / "golden" / "trust"
ATTEMPTS = sorted(p for p in CORPUS.iterdir() if p.suffix in (".graph", ".yaml", ".toml"))
ALLOWED = ("math", "json")


def diagnose(path: Path) -> str:
    """What `graphc check --allow-import math --allow-import json` reports for a file."""
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        found: list[Diagnostic] = []
        source = read_source(path.name)
        try:
            found = check_spec(parse_source(source), allowed_imports=ALLOWED).diagnostics
        except DiagnosticError as e:
            found = e.diagnostics
        return render_text(found, {source.name: source.text}) + "\n"
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[p.name for p in ATTEMPTS])
def test_check_refuses_every_escape_attempt(attempt: Path, update_golden: bool) -> None:
    report = diagnose(attempt)
    assert "error[" in report, f"{attempt.name} passed the check:\n{report}"
    check_golden(attempt.with_name(attempt.stem + ".expected.txt"), report, update_golden)


def test_the_corpus_is_large_enough() -> None:
    assert len(ATTEMPTS) >= 40


def test_check_and_the_guard_name_the_same_builtins() -> None:
    from compiler.checks import BUILTINS

    assert BUILTINS == SAFE_BUILTINS


def _load(tmp_path: Path, text: str, allowed: tuple[str, ...] = ALLOWED) -> Any:
    spec = tmp_path / "spec.graph"
    spec.write_text(text, encoding="utf-8")
    return load(spec, allowed_imports=allowed)


def _run(graph: Any) -> Any:
    return graph.run_sync().output


def test_what_the_model_names_still_works(tmp_path: Path) -> None:
    graph = _load(
        tmp_path,
        "graph Fine -> str\nstart A\n\nfrom math import sqrt\nfrom json import decoder, dumps\n\n"
        'state S:\n    items: list[int] = [3, 1, 2]\n    text: str = " a,b "\n\n'
        "node A:\n"
        "    state.items.sort()\n"
        '    parts = state.text.strip().split(",")\n'
        '    error = decoder.JSONDecodeError("bad", "x", 0)\n'
        '    -> End(dumps([sqrt(16), parts, state.items, error.msg, error.args[0][:3], {"k": 1}.get("k")]))\n',
    )
    assert json.loads(_run(graph)) == [4.0, ["a", "b"], [1, 2, 3], "bad", "bad", 1]


def test_the_guard_refuses_what_check_cannot_see(tmp_path: Path) -> None:
    graph = _load(
        tmp_path,
        "graph G -> str\nstart A\n\nfrom json import decoder\n\nnode A:\n    -> End(str(decoder.WHITESPACE.pattern))\n",
    )
    with pytest.raises(TrustError, match=r"`re\.Pattern` objects come from outside the allow-list"):
        _run(graph)


def test_a_value_from_outside_is_not_called(tmp_path: Path) -> None:
    graph = _load(
        tmp_path,
        "graph G -> str\nstart A\n\nfrom json import decoder\n\nnode A:\n"
        '    handlers = {"id": decoder.JSONDecoder().parse_int}\n    -> End(str(handlers["id"]("7")))\n',
    )
    assert _run(graph) == "7"  # `int`: a safe builtin
    graph = _load(
        tmp_path,
        "graph G -> str\nstart A\n\nfrom json import decoder\n\nnode A:\n"
        '    found = [decoder.JSONDecoder().parse_constant]\n    -> End(str(found[0]("NaN")))\n',
    )
    with pytest.raises(TrustError, match="callable from outside the allow-list"):
        _run(graph)  # `dict.__getitem__` bound to json's table: not one of plain data's safe methods


@pytest.mark.parametrize(
    ("holder", "refused"),
    [
        ("decoder", "cannot set `.scanstring` on a module"),
        ("decoder.JSONDecoder", "cannot set `.scanstring` on a type"),
    ],
)
def test_nested_writes_are_guarded(tmp_path: Path, holder: str, refused: str) -> None:
    graph = _load(
        tmp_path,
        "graph G -> str\nstart A\n\nfrom json import decoder\n\nstate S:\n    held: object = None\n\n"
        f'node A:\n    state.held = {holder}\n    state.held.scanstring = print\n    -> End("x")\n',
    )
    with pytest.raises(TrustError, match=refused):
        _run(graph)


def test_a_module_outside_the_list_is_refused_at_load_when_check_cannot_see_it(tmp_path: Path) -> None:
    helper = tmp_path / "trusted_helper.py"
    helper.write_text("import importlib\n\nroute = importlib.import_module('os.path')\n", encoding="utf-8")
    with pytest.raises(TrustError, match=r"module `(posixpath|ntpath)`"):
        _load(
            tmp_path,
            "graph G -> str\nstart A\n\nfrom trusted_helper import route\n\nnode A:\n    -> End(str(route))\n",
            allowed=("trusted_helper",),
        )


# ---- the property: random attribute chains never leave what the model names ------------------------------------

_OWN = "spec_module_under_test"
_TRUST = Trust(ALLOWED, _OWN)


def _allowed_module_name(name: object) -> bool:
    return isinstance(name, str) and any(
        n == a or n.startswith(a + ".") for a in ALLOWED for n in (name, name.lstrip("_"))
    )


def _public_names_of_allowed_modules() -> set[int]:
    import json.decoder
    import json.encoder
    import json.scanner

    return {id(v) for m in (math, json, json.decoder, json.encoder, json.scanner) for v in vars(m).values()}


_PUBLIC = _public_names_of_allowed_modules()


def _acceptable(value: Any) -> bool:
    """What a spec may hold: no frame-like object, no module or function from outside the allow-list."""
    if isinstance(value, (types.FrameType, types.CodeType, types.TracebackType, types.GeneratorType)):
        return False
    if isinstance(value, types.ModuleType):
        return _allowed_module_name(value.__name__)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        owner = getattr(value, "__self__", None)
        if owner is not None and not isinstance(owner, types.ModuleType) and type(owner) in SAFE_METHODS:
            return value.__name__ in SAFE_METHODS[type(owner)]
        return (
            id(value) in _PUBLIC
            or _allowed_module_name(getattr(value, "__module__", None))
            or getattr(value, "__name__", None) in SAFE_BUILTINS
        )
    return True


def _roots() -> list[Any]:
    import json.decoder

    return [
        math,
        json,
        json.decoder,
        json.decoder.JSONDecoder(),
        json.decoder.JSONDecodeError("m", "d", 0),
        "text",
        b"bytes",
        3,
        2.5,
        True,
        None,
        [1, "a"],
        (1, 2),
        {"k": [1]},
        {1, 2},
        frozenset([1]),
        range(3),
        ZeroDivisionError("x"),
        (i for i in [1]),
        print,
        len,
    ]


@settings(max_examples=400, deadline=None)
@given(start=st.sampled_from(range(len(_roots()))), picks=st.lists(st.integers(0, 10_000), max_size=6))
def test_random_attribute_chains_never_leave_the_model(start: int, picks: list[int]) -> None:
    value = _roots()[start]
    for pick in picks:
        names = sorted(dir(value))
        if not names:
            return
        name = names[pick % len(names)]
        try:
            value = _TRUST.attr(value, name)
        except TrustError:
            return
        except Exception:  # an attribute that raises on reading (as Python would): the chain ends there
            return
        assert _acceptable(value), f"reached {value!r} through `.{name}`"
        if callable(value) and not isinstance(value, type):
            _TRUST.call(value)  # whatever an attribute read gave, calling it is allowed too
