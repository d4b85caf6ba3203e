"""Sub-graphs and fan-out: `use NAME from "PATH"`, transitions that run used graphs, and their joins.

The language (all three syntaxes, `fmt`), the checks (golden diagnostics), the runtime (order,
limits, failures, cancellation, state, history), compiled modules and the loader's cache,
diagrams, and the targets that refuse them. Durable runs and workers: tests/test_subgraphs_durable.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import load
from compiler.diagram import diagram_of, mermaid_text
from compiler.pipeline import compile_source, compile_spec
from dsl.diagnostics import DiagnosticError
from dsl.ir import strip_spans
from dsl.parse import parse_source
from dsl.printer import print_spec
from dsl.source import read_source, source_from_text
from runtime import End
from runtime.fanout import Failure, ForkFailed, ForkStep

from .conftest import EXAMPLES, ROOT, assert_mypy_strict, check_golden, graphc
from .test_diagnostics_golden import diagnose

GOLDEN = ROOT / "tests" / "golden" / "subgraphs"
CASES = sorted(p for p in GOLDEN.iterdir() if p.suffix in (".graph", ".yaml", ".toml"))
ETL, AGENT = EXAMPLES / "etl", EXAMPLES / "agent"
TOOLS = ROOT / "tests" / "data" / "subgraphs"


@pytest.mark.parametrize("spec", CASES, ids=[p.name for p in CASES])
def test_diagnostics_match_golden(spec: Path, update_golden: bool) -> None:
    report = diagnose(spec)
    assert "error[" in report
    check_golden(spec.with_name(spec.stem + ".expected.txt"), report, update_golden)


# ---- the language --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["etl/etl", "etl/fetch_page", "agent/agent", "agent/summarize"])
def test_the_three_syntaxes_hold_the_same_spec(name: str) -> None:
    specs = {s: parse_source(read_source(EXAMPLES / f"{name}.{s}")) for s in ("graph", "yaml", "toml")}
    plain = {s: strip_spans(spec) for s, spec in specs.items()}
    for data in plain.values():  # each form uses its own syntax's files
        for use in data["uses"]:
            use["path"] = use["path"].rsplit(".", 1)[0]
    assert plain["yaml"] == plain["graph"] == plain["toml"]
    for syntax, spec in specs.items():  # and each is already in its canonical form
        schema = "../graphc.schema.json" if syntax != "graph" else None
        assert print_spec(spec, syntax, schema=schema) == (EXAMPLES / f"{name}.{syntax}").read_text()


@pytest.mark.parametrize("syntax", ["graph", "yaml", "toml"])
def test_printing_and_parsing_again_gives_the_same_spec(syntax: str) -> None:
    text = """graph G -> int
start A

use Sub from "sub.graph"
use Other from "lib/other.graph"

node A(xs: list[int] = []):
    if xs -> B([Sub(n=x) for x in xs if x > 0], one=Other(x=1)) limit 3 tolerate 25% : "fan"
    -> End(Sub(n=0)) tolerate 1

node B(all: list[int | Failure], one: int):
    -> End(len(all) + one)
"""
    spec = parse_source(source_from_text("g.graph", text))
    printed = print_spec(spec, syntax)
    again = parse_source(source_from_text(f"g.{syntax}", printed))
    assert strip_spans(again) == strip_spans(spec)
    assert print_spec(again, syntax) == printed
    fanout = spec.nodes[0].next[0].to.fanout
    assert fanout is not None and (fanout.limit, fanout.tolerate, fanout.percent) == (3, 25, True)


def test_use_and_limit_stay_names_elsewhere() -> None:
    """`use`, `limit` and `tolerate` are keywords only where they start a declaration or follow a target."""
    text = (
        "graph G -> int\n"
        "start A\n"
        "\n"
        "node A(use: int = 1, limit: int = 2):\n"
        "    tolerate = use + limit\n"
        "    -> End(tolerate)\n"
    )
    spec = parse_source(source_from_text("g.graph", text))
    assert [f.name for f in spec.nodes[0].fields] == ["use", "limit"]


# ---- running -----------------------------------------------------------------------------------------


def write_specs(folder: Path, **specs: str) -> Path:
    for name, text in specs.items():
        (folder / f"{name}.graph").write_text(text)
    return folder


SLOW_ITEM = """graph Item -> int
start Work

from subgraph_tools import work

node Work(n: int, delay: float = 0.0):
    result = await work(n, delay)
    -> End(result)
"""


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.syspath_prepend(str(TOOLS))
    import subgraph_tools

    subgraph_tools.reset()
    return subgraph_tools


def fan(
    tmp_path: Path,
    options: str = "",
    join_type: str = "list[int]",
    items: str = "[Item(n=n, delay=d) for n, d in pairs]",
) -> object:
    folder = write_specs(
        tmp_path,
        item=SLOW_ITEM,
        fan=f"""graph Fan -> int
start Go
use Item from "item.graph"

state:
    seen: int = 0

node Go(pairs: list[tuple[int, float]] = []):
    state.seen += 1
    -> Join({items}) {options}

node Join(results: {join_type}):
    state.seen += 1
    -> End(len(results))
""",
    )
    return load(folder / "fan.graph", use_disk_cache=False)


def test_outputs_come_in_input_order_whatever_order_the_runs_end(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path)
    pairs = [(n, 0.05 - n * 0.01) for n in range(5)]  # the last item ends first
    run = graph.run_sync(graph.node_types["Go"](pairs=pairs))
    join = next(s for s in run.history if getattr(s, "kind", "") == "node" and s.node.get_id() == "Join")
    assert join.node.results == [n * 10 for n in range(5)]
    assert tools.FINISHED == [4, 3, 2, 1, 0]  # type: ignore[attr-defined]
    assert run.state.seen == 2


def test_at_most_limit_runs_go_at_once(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path, "limit 3")
    graph.run_sync(graph.node_types["Go"](pairs=[(n, 0.02) for n in range(12)]))
    assert tools.MOST_AT_ONCE == 3  # type: ignore[attr-defined]
    unbounded = fan(tmp_path / "unbounded" if (tmp_path / "unbounded").mkdir() is None else tmp_path)
    tools.reset()  # type: ignore[attr-defined]
    unbounded.run_sync(unbounded.node_types["Go"](pairs=[(n, 0.02) for n in range(12)]))
    assert tools.MOST_AT_ONCE == 12  # type: ignore[attr-defined]


def test_the_first_failure_fails_the_fork_and_cancels_the_rest(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path)
    pairs = [(n, 5.0) for n in range(6)] + [(-1, 0.01)]  # n < 0 raises
    started = time.monotonic()
    with pytest.raises(ForkFailed) as raised:
        graph.run_sync(graph.node_types["Go"](pairs=pairs))
    assert time.monotonic() - started < 2  # the five-second ones were cancelled
    assert tools.CANCELLED == 6  # type: ignore[attr-defined]
    assert "sub-graph `Item` (item 6) failed: ValueError: no negative items" in str(raised.value)
    assert raised.value.__notes__ == ["in fan.graph, line 10"]  # the transition that forked


def test_tolerated_failures_reach_the_join(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path, "tolerate 2", "list[int | Failure]")
    run = graph.run_sync(graph.node_types["Go"](pairs=[(1, 0), (-1, 0), (2, 0), (-2, 0)]))
    assert run.output == 4
    fork = next(s for s in run.history if isinstance(s, ForkStep))
    assert [b.error is None for b in fork.branches] == [True, False, True, False]
    join = run.history[-2].node  # type: ignore[union-attr]
    assert join.results[0] == 10 and join.results[2] == 20
    assert join.results[1] == Failure("Item", 1, "ValueError", "no negative items")
    with pytest.raises(ForkFailed):  # a third failure is one too many
        graph.run_sync(graph.node_types["Go"](pairs=[(-1, 0), (-2, 0), (-3, 0)]))


def test_a_percentage_of_failures(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path, "tolerate 25%", "list[int | Failure]")
    assert graph.run_sync(graph.node_types["Go"](pairs=[(-1, 0), (1, 0), (2, 0), (3, 0)])).output == 4
    with pytest.raises(ForkFailed):
        graph.run_sync(graph.node_types["Go"](pairs=[(-1, 0), (-2, 0), (2, 0), (3, 0)]))


def test_parallel_branches_join_by_name() -> None:
    graph = load(AGENT / "agent.graph", use_disk_cache=False)
    run = graph.run_sync()
    assert run.output.startswith("What is this about? In short: Graphs of nodes. In full: Graphs of nodes run")
    fork = run.history[1]
    assert isinstance(fork, ForkStep) and fork.join == "Answer"
    assert [(b.argument, b.index, b.output) for b in fork.branches] == [
        ("brief", None, "Graphs of nodes"),
        ("full", None, "Graphs of nodes run by a small runtime, durable on DBOS, checked"),
    ]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.01), min_size=1, max_size=8))
def test_the_final_state_is_the_same_whatever_the_interleaving(delays: list[float]) -> None:
    """Runs cannot touch the caller's state: only the join writes it, once, with outputs in input order."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        import sys

        sys.path.insert(0, str(TOOLS))
        try:
            graph = fan(Path(folder))
            run = graph.run_sync(graph.node_types["Go"](pairs=list(enumerate(delays))))
            ordered = graph.run_sync(graph.node_types["Go"](pairs=[(n, 0.0) for n in range(len(delays))]))
        finally:
            sys.path.remove(str(TOOLS))
    assert (run.output, run.state) == (ordered.output, ordered.state) == (len(delays), run.state)
    assert run.history[-2].node == ordered.history[-2].node  # type: ignore[union-attr]


def test_one_next_runs_the_node_and_its_fork_and_returns_the_join(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path)

    async def drive() -> list[str]:
        seen = []
        async with graph.iter(graph.node_types["Go"](pairs=[(1, 0), (2, 0)])) as run:
            node = await run.next()
            seen.append(f"{node.get_id()} {node.results}")  # type: ignore[union-attr]
            assert [step.kind for step in run.history] == ["node", "fork"]
            end = await run.next()
            assert isinstance(end, End)
            seen.append(str(end.data))
        return seen

    assert asyncio.run(drive()) == ["Join [10, 20]", "2"]


def test_history_round_trips_and_keeps_each_runs_steps(tmp_path: Path, tools: object) -> None:
    graph = fan(tmp_path)
    run = graph.run_sync(graph.node_types["Go"](pairs=[(1, 0), (2, 0)]))
    dumped = graph.dump_history(run.history)
    assert graph.dump_history(graph.load_history(dumped)) == dumped
    fork = json.loads(dumped)[1]
    assert fork["kind"] == "fork" and fork["join"] == "Join"
    assert [(b["argument"], b["index"], [s["kind"] for s in b["steps"]]) for b in fork["branches"]] == [
        ("results", 0, ["node", "end"]),
        ("results", 1, ["node", "end"]),
    ]
    assert fork["branches"][1]["steps"][0]["node"] == {"n": 2, "delay": 0.0, "node_id": "Work"}


def test_a_sub_graph_gets_the_callers_deps_when_it_declares_the_same_type(tmp_path: Path, tools: object) -> None:
    write_specs(
        tmp_path,
        child=(
            "graph Child -> str\n"
            "start C\n"
            "from subgraph_tools import Settings\n"
            "deps = Settings\n"
            "\n"
            "node C(x: int):\n"
            '    -> End(f"{deps.prefix}{x}")\n'
        ),
        parent=(
            "graph Parent -> str\n"
            "start P\n"
            "from subgraph_tools import Settings\n"
            "deps = Settings\n"
            'use Child from "child.graph"\n'
            "\n"
            "node P(x: int = 1):\n"
            "    -> End(Child(x=x))\n"
        ),
    )
    graph = load(tmp_path / "parent.graph", use_disk_cache=False)
    assert graph.run_sync(deps=tools.Settings(prefix="caller-")).output == "caller-1"  # type: ignore[attr-defined]


def test_sub_graphs_nest(tmp_path: Path, tools: object) -> None:
    write_specs(
        tmp_path,
        item=SLOW_ITEM,
        middle=(
            "graph Middle -> int\n"
            "start M\n"
            'use Item from "item.graph"\n'
            "\n"
            "node M(n: int):\n"
            "    -> Sum([Item(n=n + k) for k in range(3)])\n"
            "\n"
            "node Sum(xs: list[int]):\n"
            "    -> End(sum(xs))\n"
        ),
        top=(
            "graph Top -> int\n"
            "start T\n"
            'use Middle from "middle.graph"\n'
            "\n"
            "node T(ns: list[int] = [1, 2]):\n"
            "    -> Total([Middle(n=n) for n in ns])\n"
            "\n"
            "node Total(xs: list[int]):\n"
            "    -> End(sum(xs))\n"
        ),
    )
    graph = load(tmp_path / "top.graph", use_disk_cache=False)
    run = graph.run_sync()
    assert run.output == (10 + 20 + 30) + (20 + 30 + 40)
    middle = run.history[1].branches[1]  # type: ignore[union-attr]
    assert [s["kind"] for s in middle.steps] == ["node", "fork", "node", "end"]
    assert [b["output"] for b in middle.steps[1]["branches"]] == [20, 30, 40]
    _, checked = compile_source(read_source(tmp_path / "top.graph"))
    drawn = mermaid_text(diagram_of(checked))
    assert drawn == graph.mermaid_code(start_node="T")
    assert "    state Middle__Item {" in drawn and '      state "Work" as Middle__Item__Work' in drawn


# ---- compiled modules, the loader --------------------------------------------------------------------


def test_compile_writes_the_used_modules_beside_and_they_run_anywhere(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = graphc("compile", str(ETL / "etl.graph"), "-o", str(out / "etl.py"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["etl.py", "fetch_page_graph.py"]
    script = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "from runtime import load_graph\n"
        "print(load_graph(sys.argv[3]).run_sync().output)\n"
    )
    import subprocess
    import sys

    def run_it() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, str(ETL), str(ROOT), str(out / "etl.py")],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=False,
        )

    ran = run_it()
    assert ran.stdout.strip() == "indexed 20 pages, 210 words", ran.stderr
    (out / "fetch_page_graph.py").write_text((out / "fetch_page_graph.py").read_text() + "\n# edited\n")
    stale = run_it()
    assert (
        "fetch_page_graph.py is not the module this one was compiled with; compile the calling spec again"
        in stale.stderr
    )


def test_the_loaders_cache_follows_the_used_specs(tmp_path: Path) -> None:
    write_specs(
        tmp_path,
        child="graph Child -> int\nstart C\n\nnode C(x: int):\n    -> End(x + 1)\n",
        parent=(
            "graph Parent -> int\n"
            "start P\n"
            'use Child from "child.graph"\n'
            "\n"
            "node P(x: int = 1):\n"
            "    -> End(Child(x=x))\n"
        ),
    )
    assert load(tmp_path / "parent.graph").run_sync().output == 2
    assert load(tmp_path / "parent.graph").run_sync().output == 2
    (tmp_path / "child.graph").write_text("graph Child -> int\nstart C\n\nnode C(x: int):\n    -> End(x + 100)\n")
    assert load(tmp_path / "parent.graph").run_sync().output == 101


def test_under_an_allow_list_only_the_given_texts_are_used(tmp_path: Path) -> None:
    write_specs(
        tmp_path,
        parent=(
            "graph Parent -> int\n"
            "start P\n"
            'use Child from "../secret.graph"\n'
            "\n"
            "node P(x: int = 1):\n"
            "    -> End(Child(x=x))\n"
        ),
    )
    (tmp_path.parent / "secret.graph").write_text("graph Child -> int\nstart C\n\nnode C(x: int):\n    -> End(x)\n")
    with pytest.raises(DiagnosticError) as raised:
        load(tmp_path / "parent.graph", allowed_imports=[], sources={}, use_disk_cache=False)
    assert raised.value.diagnostics[0].code == "E150"
    assert "`../secret.graph` is not among the specs given with this one" in raised.value.diagnostics[0].message
    child = "graph Child -> int\nstart C\n\nnode C(x: int):\n    -> End(x * 7)\n"
    graph = load(
        tmp_path / "parent.graph", allowed_imports=[], sources={"../secret.graph": child}, use_disk_cache=False
    )
    assert graph.run_sync().output == 7  # the given text, not the file


@pytest.mark.parametrize("target", ["runtime", "pydantic_graph", "pydantic_graph2"])
@pytest.mark.parametrize("spec", [ETL / "etl.graph", AGENT / "agent.graph"], ids=["etl", "agent"])
def test_generated_code_matches_golden(spec: Path, target: str, update_golden: bool) -> None:
    """The runtime's modules return a `Fork`; pydantic_graph's run the sub-graphs in the node (`run_subgraphs`)."""
    module = compile_spec(spec, target=target)  # type: ignore[arg-type]
    golden = ROOT / "tests" / "golden" / "compile" / "subgraphs"
    check_golden(golden / f"{spec.stem}.{target}.expected.py", module.source, update_golden)
    for used in module.uses:
        check_golden(
            golden / f"{spec.stem}.{target}.{used.file.removesuffix('.py')}.expected.py",
            used.module.source,
            update_golden,
        )


def test_generated_modules_pass_mypy_strict(tmp_path: Path) -> None:
    files = []
    for spec in (ETL / "etl.graph", AGENT / "agent.graph"):
        for target in ("runtime", "pydantic_graph"):
            folder = tmp_path / f"{spec.stem}_{target}"
            folder.mkdir()
            module = compile_spec(spec, target=target)  # type: ignore[arg-type]
            for used in module.uses:
                (folder / used.file).write_text(used.module.source)
            (folder / f"{spec.stem}_{target}.py").write_text(module.source)
            files.append(f"{folder.name}/{spec.stem}_{target}.py")
    shutil.copy(ETL / "etl_tools.py", tmp_path / "etl_tools.py")
    assert_mypy_strict(tmp_path, files)


def test_diagrams_draw_the_fork_the_join_and_the_sub_graph(tmp_path: Path) -> None:
    _, checked = compile_source(read_source(ETL / "etl.graph"))
    drawn = mermaid_text(diagram_of(checked))
    assert drawn == load(ETL / "etl.graph", use_disk_cache=False).mermaid_code(start_node="Plan")
    assert "  state Plan_fork_Index <<fork>>" in drawn and "  state Plan_join_Index <<join>>" in drawn
    assert "  Plan --> Plan_fork_Index: each URL" in drawn
    assert "  state FetchPage {" in drawn and '    state "Download" as FetchPage__Download' in drawn
    dot = graphc("diagram", str(ETL / "etl.graph"), "--format", "dot")
    assert 'subgraph "cluster_FetchPage"' in dot.stdout and '"Plan fork Index" -> "FetchPage__[start]"' in dot.stdout


def test_check_types_sees_through_sub_graph_runs() -> None:
    """`graphc check --types` type-checks a spec that runs sub-graphs (and the prover finds no guard in them)."""
    done = graphc("check", "--types", str(ETL / "etl.graph"), str(AGENT / "agent.graph"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 specs checked: 0 errors, 0 warnings" in done.stderr


def test_under_an_allow_list_a_join_reads_its_failures(tmp_path: Path) -> None:
    """A tolerated failure is plain data the trust model names: its fields can be read under an allow-list."""
    write_specs(
        tmp_path,
        child="graph Child -> int\nstart C\n\nnode C(x: int):\n    -> End(10 // x)\n",
        parent=(
            'graph Parent -> str\nstart P\nuse Child from "child.graph"\n\n'
            "node P(xs: list[int] = [1, 0, 2]):\n"
            "    -> J([Child(x=x) for x in xs]) tolerate 1\n\n"
            "node J(values: list[int | Failure]):\n"
            '    -> End(", ".join([v.error + ": " + v.message for v in values if not isinstance(v, int)]))\n'
        ),
    )
    sources = {"child.graph": (tmp_path / "child.graph").read_text()}
    graph = load(tmp_path / "parent.graph", allowed_imports=[], sources=sources, use_disk_cache=False)
    assert graph.run_sync().output == "ZeroDivisionError: integer division or modulo by zero"


def test_a_spec_used_along_many_paths_is_checked_once(tmp_path: Path) -> None:
    """25 levels, each using the next twice: 2**25 paths, 26 checks (a submitted spec cannot stall a worker so)."""
    sources = {}
    for level in range(25):
        sources[f"l{level}.graph"] = (
            f'graph L{level} -> int\nstart N\nuse A from "l{level + 1}.graph"\nuse B from "l{level + 1}.graph"\n\n'
            "node N(x: int = 1):\n    -> End(A(x=x), B(x=x))\n".replace("End(A(x=x), B(x=x))", "S(A(x=x), B(x=x))")
            + "\nnode S(a: int, b: int):\n    -> End(a + b)\n"
        )
    sources["l25.graph"] = "graph L25 -> int\nstart N\n\nnode N(x: int = 1):\n    -> End(x)\n"
    (tmp_path / "l0.graph").write_text(sources.pop("l0.graph"))
    started = time.monotonic()
    module, _ = compile_source(read_source(tmp_path / "l0.graph"), allowed_imports=[], sources=sources)
    assert time.monotonic() - started < 30
    assert len(module.uses) == 25


def test_specs_nested_too_deep_are_refused_with_a_diagnostic(tmp_path: Path) -> None:
    sources = {
        f"l{level}.graph": f'graph L{level} -> int\nstart N\nuse A from "l{level + 1}.graph"\n\n'
        "node N(x: int = 1):\n    -> End(A(x=x))\n"
        for level in range(1, 2000)
    }
    sources["l2000.graph"] = "graph L2000 -> int\nstart N\n\nnode N(x: int = 1):\n    -> End(x)\n"
    (tmp_path / "l0.graph").write_text(
        'graph L0 -> int\nstart N\nuse A from "l1.graph"\n\nnode N(x: int = 1):\n    -> End(A(x=x))\n'
    )
    with pytest.raises(DiagnosticError) as raised:
        compile_source(read_source(tmp_path / "l0.graph"), sources=sources)
    assert any("specs use specs more than 32 deep here" in d.message for d in raised.value.diagnostics)
