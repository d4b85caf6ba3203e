"""The language server's symbol and rename logic, tested without pygls (`graphc.lsp.symbols`, `.workspace`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from graphc.lsp.symbols import Cursor, RenameRefused, occurrences, rename_spans, symbol_at
from graphc.lsp.workspace import Workspace

from .conftest import ROOT

TEXT = (
    "graph G -> int\nstart Count\n\nstate:\n    total: int = 0\n\n"
    "node Count(step: int = 1, limit: int = 3):\n"
    "    state.total += step\n"
    "    if state.total >= limit -> End(state.total)\n"
    "    -> Count(step=step, limit=[step for step in range(limit)][-1] + 1)\n"
)
LINES = TEXT.split("\n")


def _spec():  # type: ignore[no-untyped-def]
    analysis = Workspace().analyse("file:///count.graph", TEXT)
    assert analysis.spec is not None and analysis.checked is not None
    return analysis.spec


def _renamed(cursor: Cursor, new: str) -> str:
    spec = _spec()
    symbol = symbol_at(spec, cursor)
    assert symbol is not None
    lines = list(LINES)
    for span in sorted(rename_spans(spec, symbol, new, LINES), key=lambda s: (s.line, -s.column)):
        line = lines[span.line - 1]
        lines[span.line - 1] = line[: span.column - 1] + new + line[span.end_column - 1 :]
    return "\n".join(lines)


def test_a_field_rename_spares_a_comprehension_variable_of_the_same_name() -> None:
    renamed = _renamed(Cursor(7, 22), "amount")  # on `step` in `state.total += step`
    assert "node Count(amount: int = 1" in renamed and "state.total += amount" in renamed
    assert "-> Count(amount=amount, limit=[step for step in range(limit)][-1] + 1)" in renamed


def test_node_and_state_renames() -> None:
    assert "start Tally" in _renamed(Cursor(6, 6), "Tally")
    assert _renamed(Cursor(4, 5), "sum_so_far").count("state.sum_so_far") == 3
    references = occurrences(_spec(), ("state", "total"))
    assert [s.line for s in references] == [5, 8, 9, 9]


@pytest.mark.parametrize(("new", "said"), [("limit", "already taken"), ("1bad", "not a name"), ("state", "not a name")])
def test_a_rename_is_refused_with_a_reason(new: str, said: str) -> None:
    spec = _spec()
    with pytest.raises(RenameRefused, match=said):
        rename_spans(spec, ("field", "Count", "step"), new, LINES)


def test_the_workspace_forgets_a_closed_document() -> None:
    workspace = Workspace()
    workspace.analyse("file:///a.graph", TEXT)
    assert set(workspace.analyses) == set(workspace.last_good) == set(workspace.pieces) == {"file:///a.graph"}
    workspace.forget("file:///a.graph")
    assert not (workspace.analyses or workspace.last_good or workspace.pieces)


def test_the_logic_needs_no_pygls() -> None:
    code = (
        "import sys; import graphc.lsp.symbols, graphc.lsp.workspace; "
        "assert not [m for m in sys.modules if m.split('.')[0] in ('pygls', 'lsprotocol')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
