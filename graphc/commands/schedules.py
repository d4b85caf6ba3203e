"""`graphc schedules add|list|pause|resume|delete`: runs that workers start on time."""

from __future__ import annotations

import argparse

from ._options import db_option

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

    from dsl import ir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    commands = parser.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    add = commands.add_parser(
        "add",
        help="store a spec and its schedules (those it declares, or one given here)",
        description="Without --every or --cron, adds every schedule the spec declares (`schedule NAME ...`).",
    )
    add.add_argument("spec", metavar="SPEC")
    add.add_argument("--name", metavar="NAME", help="the schedule's name (with --every or --cron)")
    when = add.add_mutually_exclusive_group()
    when.add_argument("--every", metavar="DURATION", help="an interval: 15m, 1h, 1d")
    when.add_argument("--cron", metavar="EXPR", help='a cron expression, in UTC: "0 9 * * 1-5"')
    add.add_argument("--missed", choices=("skip", "once", "all"), help="ticks missed while no worker was up")
    add.add_argument("--start", metavar="NODE", help="start node (default: the spec's `start`)")
    add.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="as for `graphc run`")
    add.add_argument("--state", metavar="JSON", help="initial state fields as a JSON object")
    add.add_argument("--replace", action="store_true", help="replace schedules of the same names")
    add.add_argument("--allow-import", action="append", metavar="MODULE", help="as for `graphc check`")
    db_option(add)
    list_ = commands.add_parser("list", help="every schedule: when it ticks, its next tick, runs started")
    list_.add_argument("--format", choices=("text", "json"), default="text")
    db_option(list_)
    for name, text in (
        ("pause", "stop a schedule starting runs"),
        ("resume", "start a paused schedule again (missed ticks go as its `missed` says)"),
        ("delete", "remove a schedule (its runs stay)"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("name", metavar="NAME")
        db_option(sub)


def run(args: argparse.Namespace) -> int:
    """Run the command; returns its exit code."""
    import json
    import sys

    from graphc.exits import EXIT_OK, EXIT_USAGE

    from ._durable import open_runs

    runs = open_runs(args.db)
    if runs is None:
        return EXIT_USAGE
    from runtime.durable import DurableError

    try:
        if args.schedules_command == "add":
            for schedule in _add(args, runs):
                print(f"schedule {schedule.name}: {schedule.when}, next at {_moment(schedule.next_tick)}")
        elif args.schedules_command == "list":
            found = runs.schedules()
            if args.format == "json":
                print(json.dumps([s.as_json() for s in found], indent=2))
            else:
                _table(found)
        elif args.schedules_command == "delete":
            runs.delete_schedule(args.name)
            print(f"schedule {args.name}: deleted", file=sys.stderr)
        else:
            schedule = runs.pause_schedule(args.name, args.schedules_command == "pause")
            state = "paused" if schedule.paused else f"active, next at {_moment(schedule.next_tick)}"
            print(f"schedule {schedule.name}: {state}", file=sys.stderr)
    except DurableError as e:
        print(f"graphc schedules {args.schedules_command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        runs.close()
    return EXIT_OK


def _add(args: argparse.Namespace, runs: Any) -> list[Any]:
    """The schedules asked for, added: the one the options describe, or those the spec declares."""
    import os

    from compiler.workers import used_sources
    from dsl.parse import parse_file
    from dsl.timing import duration_seconds

    from ._spec import UsageError, load_spec, read_spec, start_of

    module = load_spec(args.spec, args.allow_import)
    source = read_spec(args.spec)
    common = {
        "spec": os.path.abspath(args.spec),
        "spec_files": used_sources(module.graph, args.spec),
        "replace": args.replace,
    }
    if args.every is not None or args.cron is not None:
        if not args.name:
            raise UsageError("--every and --cron need --name")
        every = duration_seconds(args.every) if args.every is not None else None
        if args.every is not None and every is None:
            raise UsageError(f"--every: `{args.every}` is not a duration (like 15m, 1h, 1d)")
        graph, start, state = start_of(args, module)
        return [
            runs.schedule(
                args.name,
                os.path.basename(source.name),
                source.text,
                graph,
                start,
                state=state,
                every=every,
                cron=args.cron,
                missed=args.missed or "skip",
                **common,
            )
        ]
    declared = parse_file(args.spec)[1].schedules
    if not declared:
        raise UsageError(f"{args.spec} declares no `schedule`; pass --name with --every or --cron")
    added = []
    for schedule in declared:
        start = _declared_start(module.graph, schedule)
        added.append(
            runs.schedule(
                schedule.name,
                os.path.basename(source.name),
                source.text,
                module.graph,
                start,
                every=schedule.every,
                cron=schedule.cron,
                missed=args.missed or schedule.missed,
                **common,
            )
        )
    return added


def _declared_start(graph: Any, schedule: ir.ScheduleSpec) -> Any:
    """The start node a declared schedule names, its constant arguments evaluated."""
    import ast
    import dataclasses

    import pydantic

    from dsl.unparse import ExprWriter

    from ._spec import UsageError

    node_class = graph.node_types[schedule.to.target]
    writer = ExprWriter()
    names = [f.name for f in dataclasses.fields(node_class) if f.name not in node_class.waits_for]
    values = dict(zip(names, (ast.literal_eval(writer.expr(a)) for a in schedule.to.args), strict=False))
    values.update((k.name, ast.literal_eval(writer.expr(k.value))) for k in schedule.to.keywords)
    try:
        return pydantic.TypeAdapter(node_class).validate_python(values)
    except (pydantic.ValidationError, ValueError) as e:
        raise UsageError(f"schedule `{schedule.name}`: bad arguments for `{schedule.to.target}`: {e}") from None


def _moment(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _table(found: list[Any]) -> None:
    rows = [["NAME", "GRAPH", "WHEN", "MISSED", "STATE", "NEXT", "RUNS", "LAST RUN"]]
    for s in found:
        state = "paused" if s.paused else "active"
        rows.append([s.name, s.graph, s.when, s.missed, state, _moment(s.next_tick), str(s.started), s.last_run or "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
