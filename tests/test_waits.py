"""Nodes that wait for a value from outside the graph (`waits (...)`), without durability."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import jsonschema
import pytest

from compiler import load_module
from dsl.ir import strip_spans
from dsl.parse import parse_file
from dsl.schema import document_schema
from graphc.cli import main
from runtime import WAITING, GraphRuntimeError

from .conftest import EXAMPLES, ROOT

REVIEW = EXAMPLES / "review.graph"


def test_the_three_syntaxes_give_one_spec_with_its_waited_fields() -> None:
    specs = [parse_file(EXAMPLES / f"review.{syntax}")[1] for syntax in ("graph", "yaml", "toml")]
    waits = [[strip_spans(f) for f in s.nodes[1].waits] for s in specs]
    assert waits[0] == waits[1] == waits[2]
    assert [f["name"] for f in waits[0]] == ["approved", "comment"]


def test_the_yaml_form_with_waits_is_valid_against_the_schema() -> None:
    import yaml

    jsonschema.validate(yaml.safe_load((EXAMPLES / "review.yaml").read_text()), document_schema())


def test_run_sync_reaching_a_waiting_node_says_which_fields_and_how_to_supply_them() -> None:
    module = load_module(REVIEW)
    with pytest.raises(GraphRuntimeError) as raised:
        module.graph.run_sync(module.Draft())
    message = str(raised.value)
    assert "`Review` waits for `approved` and `comment`" in message
    assert "run.next(node)" in message and "graphc runs resume" in message


def test_iter_lets_the_caller_supply_the_fields_the_pydantic_graph_way() -> None:
    module = load_module(REVIEW)

    async def drive() -> tuple[str, int]:
        async with module.graph.iter(module.Draft()) as run:
            node = await run.next()
            assert isinstance(node, module.Review) and node.approved is WAITING
            node.approved, node.comment = False, "shorter"
            node = await run.next(node)  # back to Draft
            node = await run.next(node)
            node.approved, node.comment = True, ""
            end = await run.next(node)
            return end.data, run.state.revisions

    assert asyncio.run(drive()) == ("first draft\nshorter", 1)


def test_check_lists_the_waiting_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(REVIEW)]) == 0
    assert "review.graph:12: node `Review` waits for approved: bool, comment: str" in capsys.readouterr().err


def test_diagrams_note_what_a_node_waits_for(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", str(REVIEW)]) == 0
    static = capsys.readouterr().out
    assert "    waits for: approved, comment\n  end note" in static
    assert load_module(REVIEW).graph.mermaid_code(start_node="Draft") + "\n" == static
    assert main(["diagram", str(REVIEW), "--format", "dot"]) == 0
    assert 'shape=octagon, label="Review\\nwaits for approved, comment"' in capsys.readouterr().out


def test_graphc_run_asks_on_the_terminal_until_a_value_fits_its_type() -> None:
    answers = "maybe\nno\nplease shorten\ntrue\n\n"
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "run", str(REVIEW)],
        input=answers,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"output": "first draft\nplease shorten", "state": {"revisions": 1}}
    assert "`Review` waits for approved (bool): " in done.stderr
    assert "`approved`: Input should be a valid boolean" in done.stderr


def test_graphc_run_whose_input_ends_at_a_wait_fails_with_a_message() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "run", str(REVIEW)],
        input="true\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert "`Review` waits for `comment` but the input ended" in done.stderr
    assert "Traceback" not in done.stderr
