"""What each `graphc` command does (`cli` parses the arguments): the only module that prints.

Exit codes: 0 success, 1 errors in a spec (or a failing graph run), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

from dsl.diagnostics import Diagnostic, DiagnosticError, did_you_mean, render_json, render_text
from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.parse import parse_source
from dsl.source import SourceFile, read_source, syntax_of

from .arguments import ArgumentValueError, json_value, plain_or_json
from .checks import CheckedGraph, check_spec, waits_text

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

# Each command imports what only it needs (code generation, the runtime, YAML printing,
# the schema) inside its handler: start-up is what every `check` and editor save pays.

__all__ = ("run_command",)

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    """A bad argument or request: the message says what to do; exit code 2."""


def run_command(args: argparse.Namespace) -> int:
    """Run the command `args` names; returns the exit code."""
    handlers = {
        "compile": _compile,
        "check": _check,
        "run": _run,
        "mermaid": _mermaid,
        "diagram": _diagram,
        "lsp": _lsp,
        "fmt": _fmt,
        "schema": _schema,
        "runs": _runs,
        "submit": _submit,
        "worker": _worker,
    }
    try:
        return handlers[args.command](args)
    except _UsageError as e:
        print(f"graphc {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except DiagnosticError as e:
        _print_diagnostics(e.diagnostics, {})
        return EXIT_SPEC
    except KeyboardInterrupt:
        return 130


def _limits(args: argparse.Namespace) -> Limits:
    if min(args.max_bytes, args.max_depth, args.max_nodes) < 1:
        raise _UsageError("--max-bytes, --max-depth and --max-nodes must be positive")
    return Limits(max_bytes=args.max_bytes, max_depth=args.max_depth, max_nodes=args.max_nodes)


def _read(path: str, limits: Limits = DEFAULT_LIMITS) -> SourceFile:
    if not os.path.exists(path):
        raise _UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise _UsageError(f"{path} is a directory, not a spec file")
    if syntax_of(path) is None:
        raise _UsageError(f"{path}: unknown spec syntax; use .graph, .yaml, .yml or .toml")
    return read_source(path, max_bytes=limits.max_bytes)


_sources: dict[str, str] = {}


def _print_diagnostics(diagnostics: Sequence[Diagnostic], sources: dict[str, str], fmt: str = "text") -> None:
    if fmt == "json":
        print(render_json(diagnostics))
        return
    if diagnostics:
        print(render_text(diagnostics, {**_sources, **sources}), file=sys.stderr)


def _compile(args: argparse.Namespace) -> int:
    from .pipeline import compile_source

    status = EXIT_OK
    if args.output and args.output != "-" and len(args.specs) > 1 and not os.path.isdir(args.output):
        raise _UsageError("-o must be an existing directory when compiling several specs")
    for spec in args.specs:
        source = _read(spec, _limits(args))
        _sources[source.name] = source.text
        try:
            module, checked = compile_source(
                source, target=args.target, allowed_imports=args.allow_import, limits=_limits(args)
            )
        except DiagnosticError as e:
            _print_diagnostics(e.diagnostics, {})
            status = EXIT_SPEC
            continue
        _print_diagnostics(checked.diagnostics, {})
        if args.output == "-":
            sys.stdout.write(module.source)
            continue
        from pathlib import Path  # imported only where a file is written: a tenth of `graphc check`'s start-up

        default_name = f"{Path(spec).stem}_graph.py"
        if args.output is None:
            out = Path(spec).with_name(default_name)
        elif Path(args.output).is_dir():
            out = Path(args.output) / default_name
        else:
            out = Path(args.output)
        try:
            out.write_text(module.source, encoding="utf-8")
        except OSError as e:
            raise _UsageError(f"cannot write {out}: {e.strerror or e}") from None
        print(f"{spec} -> {out}", file=sys.stderr)
    return status


def _prover(wanted: bool | None) -> Callable[[CheckedGraph], list[Diagnostic]] | None:
    """`prove_guards` when z3 is installed; a usage error if `--prove` asked for it and it is not."""
    if wanted is False:
        return None
    try:
        from .guards import prove_guards
    except ImportError:
        if wanted:
            raise _UsageError("--prove needs z3: pip install 'graphc[prove]'") from None
        return None
    return prove_guards


def _type_checker() -> Callable[[CheckedGraph, SourceFile], list[Diagnostic]]:
    try:
        from .typecheck import typecheck
    except ImportError:
        raise _UsageError("--types needs mypy: pip install 'graphc[types]'") from None
    return typecheck


def _check(args: argparse.Namespace) -> int:
    found: list[Diagnostic] = []
    waits: list[str] = []  # the nodes that wait for outside input: a reviewer wants to see them
    prove = _prover(args.prove)
    typecheck = _type_checker() if args.types else None
    for path in args.specs:
        source = _read(path, _limits(args))
        _sources[source.name] = source.text
        try:
            spec = parse_source(source, limits=_limits(args))
            checked = check_spec(spec, allowed_imports=args.allow_import)
            found += checked.diagnostics
            waits += [f"{n.name_span.file}:{n.name_span.line}: {waits_text(n)}" for n in spec.nodes if n.waits]
            if prove is not None:
                found += prove(checked)
            if typecheck is not None and not any(d.severity == "error" for d in checked.diagnostics):
                found += typecheck(checked, source)
        except DiagnosticError as e:
            found += e.diagnostics
    _print_diagnostics(found, {}, args.format)
    errors = sum(d.severity == "error" for d in found)
    if args.format == "text":
        for line in waits:
            print(line, file=sys.stderr)
        warnings = len(found) - errors
        print(
            f"{len(args.specs)} spec{'s' if len(args.specs) != 1 else ''} checked: "
            f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}",
            file=sys.stderr,
        )
    return EXIT_SPEC if errors else EXIT_OK


def _load(path: str, allowed_imports: list[str] | None = None) -> Any:
    from .loader import load_module

    source = _read(path)
    _sources[source.name] = source.text
    try:
        return load_module(path, allowed_imports=allowed_imports)
    except DiagnosticError:
        raise
    except Exception as e:  # importing what the spec imports failed: the user's environment
        print(f"graphc: error: cannot load {path}: {type(e).__name__}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_SPEC) from None


def _runs(args: argparse.Namespace) -> int:
    from .runs import runs_command

    return runs_command(args, _spec_graph)


def _spec_graph(path: str, deps_json: str | None) -> tuple[Any, Any]:
    """The graph of a spec and its deps (declared defaults, then `--deps`), for resuming a run of it."""
    graph = _load(path).graph
    return graph, _initial(graph.deps_type, "deps", deps_json)


def _start_of(args: argparse.Namespace, module: Any) -> tuple[Any, Any, Any]:
    """The graph, start node (`--start`, `--arg`) and state (`--state`) a run is asked for."""
    import pydantic

    graph = module.graph
    start_name = args.start or getattr(getattr(module, "start", None), "__name__", None)
    if start_name is None:
        raise _UsageError(f"the spec declares no `start`; pass --start NODE (nodes: {', '.join(graph.node_types)})")
    if start_name not in graph.node_types:
        hint = did_you_mean(start_name, graph.node_types) or f"nodes: {', '.join(graph.node_types)}"
        raise _UsageError(f"unknown start node `{start_name}`; {hint}")
    node_class = graph.node_types[start_name]
    fields: dict[str, Any] = {}
    for item in args.arg:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise _UsageError(f"--arg takes NAME=VALUE, got `{item}`")
        fields[name] = _argument(plain_or_json, value, f"--arg {name}")
    _no_unknown_keys(fields, node_class, f"--arg: `{start_name}`")
    try:
        start = pydantic.TypeAdapter(node_class).validate_python(fields)
    except pydantic.ValidationError as e:
        raise _UsageError(f"bad --arg for `{start_name}`: {_brief(e)}") from None
    return graph, start, _initial(graph.state_type, "state", args.state)


def _submit(args: argparse.Namespace) -> int:
    from .runs import submit_command

    graph, start, state = _start_of(args, _load(args.spec, args.allow_import))  # deps: the worker's own
    return submit_command(args, graph, start, state, _read(args.spec))


def _worker(args: argparse.Namespace) -> int:
    from .runs import worker_command

    return worker_command(args)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib

    from runtime import End, GraphRuntimeError

    if args.max_steps is not None and args.max_steps < 0:
        raise _UsageError("--max-steps must be 0 (no limit) or more")
    graph, start, state = _start_of(args, _load(args.spec, args.allow_import))
    deps = _initial(graph.deps_type, "deps", args.deps)
    if args.durable:
        from .runs import run_durably

        return run_durably(args, graph, start, state, deps)
    max_steps = DEFAULT_MAX_STEPS if args.max_steps is None else args.max_steps or None
    history: list[Any] = []
    reached: list[Any] = [start]  # the node a run stopped at

    async def drive() -> Any:
        async with graph.iter(start, state=state, deps=deps, history=history, max_steps=max_steps) as run:
            print(f"[start] {run.next_node!r}", file=sys.stderr)
            step = 0
            async for node in run:
                step += 1
                reached[0] = node
                print(f"[{step}] -> {node!r}", file=sys.stderr)
                if not isinstance(node, End) and node.waits_for:
                    _ask_waits(node)
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
        return EXIT_SPEC
    except Exception as e:
        notes = "".join(f"\n  {n}" for n in getattr(e, "__notes__", []))
        print(f"graphc run: the graph failed: {type(e).__name__}: {e}{notes}", file=sys.stderr)
        _print_outcome(args, graph, None, history, failed=True)
        return EXIT_SPEC
    _print_outcome(args, graph, result, result.history, failed=False)
    return EXIT_OK


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


def _brief(error: Any) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors())


def _field_names(cls: Any) -> list[str] | None:
    """The fields a dataclass or pydantic model takes, or None when that cannot be told."""
    import dataclasses

    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    model_fields = getattr(cls, "model_fields", None)
    return list(model_fields) if isinstance(model_fields, dict) else None


def _no_unknown_keys(given: dict[str, Any], cls: Any, what: str) -> None:
    """A misspelt field is an error, never silently the default."""
    names = _field_names(cls)
    if names is None:
        return
    for key in given:
        if key not in names:
            hint = did_you_mean(key, names) or ("fields: " + ", ".join(names) if names else "it takes no fields")
            raise _UsageError(f"{what} has no field `{key}`; {hint}")


def _argument(read: Callable[[str, str], Any], text: str, what: str) -> Any:
    try:
        return read(text, what)
    except ArgumentValueError as e:
        raise _UsageError(str(e)) from None


def _initial(cls: Any, kind: str, given: str | None) -> Any:
    """The initial state or deps: from JSON if given, else the declared class with its defaults."""
    import pydantic

    declared = cls if isinstance(cls, type) and cls is not type(None) else None
    if given is not None:
        data = _argument(json_value, given, f"--{kind}")
        if declared is None:
            raise _UsageError(f"the spec declares no {kind}, so --{kind} has nothing to set")
        if not isinstance(data, dict):
            raise _UsageError(f"--{kind} must be a JSON object of field values")
        _no_unknown_keys(data, declared, f"--{kind}: `{declared.__name__}`")
        try:
            return pydantic.TypeAdapter(declared).validate_python(data)
        except pydantic.ValidationError as e:
            raise _UsageError(f"bad --{kind}: {_brief(e)}") from None
    if declared is None:
        return None
    try:
        return declared()
    except TypeError as e:
        raise _UsageError(f"the {kind} needs values: pass --{kind} JSON ({e})") from None


def _mermaid(args: argparse.Namespace) -> int:
    args.format, args.output = "mermaid", None
    return _diagram(args)


def _diagram(args: argparse.Namespace) -> int:
    """A diagram from the checked spec: nothing the spec imports is run."""
    from .diagram import GraphvizMissing, diagram_of, dot_text, mermaid_text, render

    source = _read(args.spec)
    _sources[source.name] = source.text
    checked = check_spec(parse_source(source))
    _print_diagnostics(checked.diagnostics, {})
    graph = diagram_of(checked)
    ids = [n.id for n in graph.nodes]
    for name in args.highlight or []:
        if name not in ids:
            hint = did_you_mean(name, ids) or f"nodes: {', '.join(ids)}"
            raise _UsageError(f"--highlight: unknown node `{name}`; {hint}")
    if args.format == "mermaid":
        text = mermaid_text(graph, highlighted=args.highlight, direction=args.direction)
        return _write_out(args.output, text + "\n")
    dot = dot_text(graph, highlighted=args.highlight, direction=args.direction)
    if args.format == "dot":
        return _write_out(args.output, dot)
    if args.format == "png" and args.output is None:
        raise _UsageError("--format png writes a binary image: give -o FILE.png")
    try:
        return _write_out(args.output, render(dot, args.format))
    except GraphvizMissing as e:
        raise _UsageError(str(e)) from None


def _write_out(path: str | None, data: bytes | str) -> int:
    """Text or an image to a file, or to stdout (text through `sys.stdout`, whatever it has been replaced by)."""
    if path is None:
        if isinstance(data, str):
            sys.stdout.write(data)
        else:  # svg: text that `dot` gave as bytes (png needs -o)
            sys.stdout.write(data.decode("utf-8", errors="replace"))
        sys.stdout.flush()
        return EXIT_OK
    try:
        with open(path, "wb") as out:
            out.write(data.encode() if isinstance(data, str) else data)
    except OSError as e:
        raise _UsageError(f"cannot write {path}: {e.strerror or e}") from None
    return EXIT_OK


def _fmt(args: argparse.Namespace) -> int:
    if len(args.specs) > 1 and not (args.check or args.write):
        raise _UsageError("several specs need --check or --write (printing them all would run them together)")
    if args.check and args.to:
        raise _UsageError("--check compares a file with its own canonical form; drop --to")
    status = EXIT_OK
    for path in args.specs:
        try:
            status = max(status, _fmt_one(args, path))
        except DiagnosticError as e:  # the other files are still formatted
            _print_diagnostics(e.diagnostics, {})
            status = EXIT_SPEC
    return status


def _fmt_one(args: argparse.Namespace, path: str) -> int:
    from dsl.printer import print_spec

    source = _read(path)
    _sources[source.name] = source.text
    spec = parse_source(source)
    syntax = args.to or source.syntax
    text = print_spec(spec, syntax, schema=args.schema)
    if args.check:
        if text != source.text:
            print(f"{path} is not formatted", file=sys.stderr)
            return EXIT_SPEC
        return EXIT_OK
    if args.write:
        from pathlib import Path

        suffix = {"graph": ".graph", "yaml": ".yaml", "toml": ".toml"}[syntax]
        out = Path(path) if syntax == source.syntax else Path(path).with_suffix(suffix)
        if not out.exists() or out.read_text(encoding="utf-8") != text:  # untouched files keep their time
            out.write_text(text, encoding="utf-8")
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK


def _lsp(args: argparse.Namespace) -> int:
    try:
        from .lsp import serve
    except ImportError:
        raise _UsageError("the language server needs pygls: pip install 'graphc[lsp]'") from None
    serve()
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from dsl.schema import document_schema

    text = json.dumps(document_schema(), indent=2) + "\n"
    return _write_out(args.output, text)
