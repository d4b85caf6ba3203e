"""What several commands share: reading a spec, printing diagnostics, the start node, state and deps of a run."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from dsl.diagnostics import Diagnostic, DiagnosticError, did_you_mean, render_json, render_text
from dsl.limits import DEFAULT_LIMITS, Limits
from dsl.source import SourceFile, read_source, syntax_of
from graphc.arguments import ArgumentValueError, json_value, plain_or_json
from graphc.exits import EXIT_FAILED, EXIT_OK

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

# Each command imports what only it needs (code generation, the runtime, YAML printing,
# the schema) inside its handler: start-up is what every `check` and editor save pays.


class UsageError(Exception):
    """A bad argument or request: the message says what to do; exit code 2."""


def limits_of(args: argparse.Namespace) -> Limits:
    if min(args.max_bytes, args.max_depth, args.max_nodes) < 1:
        raise UsageError("--max-bytes, --max-depth and --max-nodes must be positive")
    return Limits(max_bytes=args.max_bytes, max_depth=args.max_depth, max_nodes=args.max_nodes)


def read_spec(path: str, limits: Limits = DEFAULT_LIMITS) -> SourceFile:
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory, not a spec file")
    if syntax_of(path) is None:
        raise UsageError(f"{path}: unknown spec syntax; use .graph, .yaml, .yml or .toml")
    return read_source(path, max_bytes=limits.max_bytes)


read_sources: dict[str, str] = {}
"""Every spec read so far, by name: diagnostics show their lines."""


def print_diagnostics(diagnostics: Sequence[Diagnostic], sources: dict[str, str], fmt: str = "text") -> None:
    if fmt == "json":
        print(render_json(diagnostics))
        return
    if diagnostics:
        print(render_text(diagnostics, {**read_sources, **sources}), file=sys.stderr)


def load_spec(path: str, allowed_imports: list[str] | None = None) -> Any:
    from compiler.loader import load_module

    source = read_spec(path)
    read_sources[source.name] = source.text
    try:
        return load_module(path, allowed_imports=allowed_imports)
    except DiagnosticError:
        raise
    except Exception as e:  # importing what the spec imports failed: the user's environment
        print(f"graphc: error: cannot load {path}: {type(e).__name__}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None


def start_of(args: argparse.Namespace, module: Any) -> tuple[Any, Any, Any]:
    """The graph, start node (`--start`, `--arg`) and state (`--state`) a run is asked for."""
    import pydantic

    graph = module.graph
    start_name = args.start or getattr(getattr(module, "start", None), "__name__", None)
    if start_name is None:
        raise UsageError(f"the spec declares no `start`; pass --start NODE (nodes: {', '.join(graph.node_types)})")
    if start_name not in graph.node_types:
        hint = did_you_mean(start_name, graph.node_types) or f"nodes: {', '.join(graph.node_types)}"
        raise UsageError(f"unknown start node `{start_name}`; {hint}")
    node_class = graph.node_types[start_name]
    fields: dict[str, Any] = {}
    for item in args.arg:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--arg takes NAME=VALUE, got `{item}`")
        fields[name] = argument(plain_or_json, value, f"--arg {name}")
    no_unknown_keys(fields, node_class, f"--arg: `{start_name}`")
    try:
        start = pydantic.TypeAdapter(node_class).validate_python(fields)
    except pydantic.ValidationError as e:
        raise UsageError(f"bad --arg for `{start_name}`: {brief(e)}") from None
    return graph, start, initial(graph.state_type, "state", args.state)


def brief(error: Any) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors())


def field_names(cls: Any) -> list[str] | None:
    """The fields a dataclass or pydantic model takes, or None when that cannot be told."""
    import dataclasses

    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    model_fields = getattr(cls, "model_fields", None)
    return list(model_fields) if isinstance(model_fields, dict) else None


def no_unknown_keys(given: dict[str, Any], cls: Any, what: str) -> None:
    """A misspelt field is an error, never silently the default."""
    names = field_names(cls)
    if names is None:
        return
    for key in given:
        if key not in names:
            hint = did_you_mean(key, names) or ("fields: " + ", ".join(names) if names else "it takes no fields")
            raise UsageError(f"{what} has no field `{key}`; {hint}")


def argument(read: Callable[[str, str], Any], text: str, what: str) -> Any:
    try:
        return read(text, what)
    except ArgumentValueError as e:
        raise UsageError(str(e)) from None


def initial(cls: Any, kind: str, given: str | None) -> Any:
    """The initial state or deps: from JSON if given, else the declared class with its defaults."""
    import pydantic

    declared = cls if isinstance(cls, type) and cls is not type(None) else None
    if given is not None:
        data = argument(json_value, given, f"--{kind}")
        if declared is None:
            raise UsageError(f"the spec declares no {kind}, so --{kind} has nothing to set")
        if not isinstance(data, dict):
            raise UsageError(f"--{kind} must be a JSON object of field values")
        no_unknown_keys(data, declared, f"--{kind}: `{declared.__name__}`")
        try:
            return pydantic.TypeAdapter(declared).validate_python(data)
        except pydantic.ValidationError as e:
            raise UsageError(f"bad --{kind}: {brief(e)}") from None
    if declared is None:
        return None
    try:
        return declared()
    except TypeError as e:
        raise UsageError(f"the {kind} needs values: pass --{kind} JSON ({e})") from None


def write_out(path: str | None, data: bytes | str) -> int:
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
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
    return EXIT_OK
