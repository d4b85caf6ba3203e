"""Synthetic specs for the benchmarks: N nodes, each with fields, a statement and three branches."""

from __future__ import annotations


def graph_spec(nodes: int) -> str:
    """A valid `.graph` spec of `nodes` nodes in a ring, each able to end the run."""
    lines = [
        '"""Synthetic benchmark graph."""',
        "graph Bench -> int",
        "start N0",
        "",
        "state BenchState:",
        "    steps: int = 0",
        "    seen: list[str] = []",
    ]
    for i in range(nodes):
        nxt, skip = (i + 1) % nodes, (i + 2) % nodes
        lines += [
            "",
            f'node N{i}(count: int = 0, label: str = "n{i}"):',
            f"    state.steps += count + {i % 7}",
            f'    if count > 100 and label != "stop" -> End(count) : "done {i}"',
            f'    if state.steps % 3 == 0 -> N{skip}(count + 2, label=f"{{label}}-skip")',
            f"    -> N{nxt}(count=count + 1)",
        ]
    return "\n".join(lines) + "\n"
