"""`graphc run`: compile a spec in memory and run it, the step trace on stderr and the result alone on stdout."""

from __future__ import annotations

import argparse
import json
import sys

from graphc.arguments import plain_or_json
from graphc.exits import EXIT_FAILED, EXIT_OK

from ._options import db_option
from ._spec import UsageError, initial, load_spec, start_of

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("spec", metavar="SPEC")
    parser.add_argument("--start", metavar="NODE", help="start node (default: the spec's `start`)")
    parser.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a field of the start node; VALUE is JSON, or else a plain string",
    )
    parser.add_argument("--state", metavar="JSON", help="initial state fields as a JSON object (others keep defaults)")
    parser.add_argument("--deps", metavar="JSON", help="deps fields as a JSON object (others keep defaults)")
    parser.add_argument("--history", action="store_true", help="add the run's history to the JSON result")
    parser.add_argument(
        "--output",
        choices=("json", "text"),
        default="json",
        help="stdout gets only the result: a JSON object of output and state (default), or the output as text; "
        "the trace and whatever the nodes print go to stderr",
    )
    parser.add_argument(
        "--max-steps", type=int, metavar="N", help="stop a run after N steps (default 10,000; 0: no limit)"
    )
    parser.add_argument(
        "--allow-import", action="append", metavar="MODULE", help="run an untrusted spec: as for `graphc check`"
    )
    durable = parser.add_argument_group(
        "durable runs (need graphc[durable])",
        "exit codes: 0 the run ended, 3 it waits for input (`graphc runs resume`), 1 a node failed",
    )
    durable.add_argument(
        "--durable",
        action="store_true",
        help="record every step in a database: a killed run resumes where it stopped",
    )
    db_option(durable)
    durable.add_argument("--run-id", metavar="ID", help="the run's id (default: a new UUID)")


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    if args.max_steps is not None and args.max_steps < 0:
        raise UsageError("--max-steps must be 0 (no limit) or more")
    graph, start, state = start_of(args, load_spec(args.spec, args.allow_import))
    deps = initial(graph.deps_type, "deps", args.deps)
    if args.durable:
        from ._durable import run_durably

        return run_durably(args, graph, start, state, deps)
    from runtime import observe

    said = _RetryTrace()
    observe.observers.append(said)  # the retries of this run, said on stderr as they happen
    try:
        return _run_plainly(args, graph, start, state, deps)
    finally:
        observe.observers.remove(said)


def _run_plainly(args: argparse.Namespace, graph: Any, start: Any, state: Any, deps: Any) -> int:
    """Run the graph in this process, telling each step on stderr; the result on stdout."""
    import asyncio
    import contextlib

    from runtime import End, GraphRuntimeError, answer_within
    from runtime.nodes import unset_waits

    max_steps = DEFAULT_MAX_STEPS if args.max_steps is None else args.max_steps or None
    history: list[Any] = []
    reached: list[Any] = [start]  # the node a run stopped at

    async def drive() -> Any:
        async with graph.iter(start, state=state, deps=deps, history=history, max_steps=max_steps) as run:
            print(f"[start] {run.next_node!r}", file=sys.stderr)
            step = 0
            node = run.next_node
            while not isinstance(node, End):
                if node.sleep_policy is not None:
                    print(f"[{step}] `{node.get_id()}` sleeps {node.sleep_policy.text}", file=sys.stderr)
                if node.waits_for and unset_waits(node) and node.answer_deadline is not None:
                    node = await answer_within(run, _asked_in_time(node))  # the deadline's edge if no answer
                else:
                    if node.waits_for and unset_waits(node):
                        _ask_waits(node)
                    node = await run.next(node)
                step += 1
                reached[0] = node
                for fork in (s for s in history[-2:] if getattr(s, "kind", None) == "fork"):
                    print(f"[{step}] {_fork_summary(fork)}", file=sys.stderr)
                print(f"[{step}] -> {node!r}", file=sys.stderr)
            return run.result

    try:
        with contextlib.redirect_stdout(sys.stderr):  # what nodes print never mixes with the result
            result = asyncio.run(drive())
    except GraphRuntimeError as e:
        if max_steps is None or "max_steps" not in str(e):
            print(f"graphc run: {e}", file=sys.stderr)
        else:
            print(
                f"graphc run: stopped after {max_steps:,} steps without reaching `End` "
                f"(next node: `{reached[0]!r}`); raise the limit with --max-steps N, or 0 for none",
                file=sys.stderr,
            )
        _print_outcome(args, graph, None, history, failed=True)
        return EXIT_FAILED
    except Exception as e:
        notes = "".join(f"\n  {n}" for n in getattr(e, "__notes__", []))
        print(f"graphc run: the graph failed: {type(e).__name__}: {e}{notes}", file=sys.stderr)
        _print_outcome(args, graph, None, history, failed=True)
        return EXIT_FAILED
    _print_outcome(args, graph, result, result.history, failed=False)
    return EXIT_OK


class _RetryTrace:
    """An observer that prints each retry of a node in the trace: `Classify attempt 1 failed (...); retrying`."""

    def run(self, graph: Any, carrier: Any = None) -> Any:
        import contextlib

        return contextlib.nullcontext()

    node = run

    def retry(self, node: Any, attempt: int, error: BaseException) -> None:
        print(
            f"    `{node.get_id()}` attempt {attempt} failed ({type(error).__name__}: {error}); retrying",
            file=sys.stderr,
        )

    def event(self, name: str, attributes: dict[str, Any]) -> None:
        pass  # a plain run neither parks nor resumes

    def carrier(self, graph: Any) -> dict[str, str]:
        return {}


def _fork_summary(fork: Any) -> str:
    """`fork: 20 runs of FetchPage, 2 failed (tolerated)`: what a fork ran before its join."""
    graphs = ", ".join(dict.fromkeys(b.graph for b in fork.branches))
    failed = sum(b.error is not None for b in fork.branches)
    runs = len(fork.branches)
    tolerated = f", {failed} failed (tolerated)" if failed else ""
    return f"fork: {runs} run{'s' if runs != 1 else ''} of {graphs}{tolerated}, in {fork.duration:.3f} s"


def _asked_in_time(node: Any) -> Any:
    """The answers typed for a node whose wait has a deadline: a future the terminal fills, if it does in time.

    The terminal is read on a thread of its own that the run does not wait for: when the
    deadline comes first, the run goes on and the thread is left reading until the process ends.
    """
    import asyncio
    import copy
    import threading

    from runtime import GraphRuntimeError

    loop = asyncio.get_running_loop()
    answered: asyncio.Future[dict[str, Any]] = loop.create_future()
    print(f"`{node.get_id()}` waits {node.answer_deadline.text} at most for its answer", file=sys.stderr)

    def ask() -> None:
        shadow = copy.copy(node)  # the node itself is the run's: a late answer must not change it
        try:
            _ask_waits(shadow)
        except GraphRuntimeError:  # the input ended: nobody can answer now, so the deadline will
            print(f"\n`{node.get_id()}`: the input ended; the wait lasts until its deadline", file=sys.stderr)
            return
        values = {name: getattr(shadow, name) for name in node.waits_for}

        def give() -> None:
            if not answered.done():
                answered.set_result(values)

        loop.call_soon_threadsafe(give)

    threading.Thread(target=ask, name="graphc-ask", daemon=True).start()
    return answered


def _ask_waits(node: Any) -> None:
    """Ask on the terminal for the values a node waits for, each validated against its type until it fits."""
    from runtime import GraphRuntimeError
    from runtime.nodes import type_name, validate_waits, waited_types

    for name, tp in waited_types(type(node)).items():
        while True:
            print(f"`{node.get_id()}` waits for {name} ({type_name(tp)}): ", end="", file=sys.stderr)
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:
                raise GraphRuntimeError(f"`{node.get_id()}` waits for `{name}` but the input ended")
            try:  # leniently: a person types `no` for a `bool`, `42` for a text
                value = validate_waits(
                    type(node), {name: plain_or_json(line.rstrip("\n"), name)}, partial=True, strict=False
                )
            except ValueError as e:
                print(f"graphc run: {e}", file=sys.stderr)
                continue
            setattr(node, name, value[name])
            break


DEFAULT_MAX_STEPS = 10_000
"""`graphc run` stops a run after this many steps unless `--max-steps` says otherwise."""


def _print_outcome(args: argparse.Namespace, graph: Any, result: Any, history: list[Any], *, failed: bool) -> None:
    """The run's result on stdout, alone: one JSON document (or, with `--output text`, the output)."""
    import typing

    import pydantic

    if args.output == "text":
        if not failed:
            print(result.output)
        return
    outcome: dict[str, Any] = {} if failed else {"output": result.output, "state": result.state}
    if args.history:
        outcome["history"] = json.loads(graph.dump_history(history))
    if outcome:
        # objects JSON has no form for (a client in state, say) are shown by their repr
        print(json.dumps(pydantic.TypeAdapter(typing.Any).dump_python(outcome, mode="json", fallback=repr)))
