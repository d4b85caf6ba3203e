"""What the API and the console do with runs: read one for showing, answer its wait, cancel it, draw it."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from .store import Caller, ConsoleStore


class Refused(Exception):
    """A request the run cannot take: `status` is the HTTP status (404 no run, 409 conflict, 422 bad input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Step:
    """One step of a run's history as the console shows it."""

    number: int
    kind: str
    node: str
    data: dict[str, Any]
    state: Any
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    """(field, before, after) for each state field the step changed."""
    started: str | None = None
    retries: list[dict[str, Any]] = field(default_factory=list)
    """The attempts that failed before the node succeeded: attempt, error, message."""


def run_json(runs: Any, store: ConsoleStore, run_id: str) -> dict[str, Any]:
    """A run with its history: each step's node, the state after it and what changed; who answered its waits."""
    info = _get(runs, run_id, history=True)
    data: dict[str, Any] = info.as_json()
    data["history"] = [step.__dict__ for step in steps_of(info.history)]
    data["path"] = path_of(info)
    data["answered_by"] = store.authors(run_id)
    return data


def steps_of(history: list[dict[str, Any]]) -> list[Step]:
    """The history's steps, each with the state after it and the state fields it changed."""
    steps: list[Step] = []
    before = None
    for number, step in enumerate(history, 1):
        kind = step.get("kind", "node")
        if kind == "end":
            steps.append(Step(number, "end", "End", {"output": step["result"]["data"]}, before))
        elif kind == "fork":
            steps.append(Step(number, "fork", f"fork → {step['join']}", {"runs": len(step["branches"])}, before))
        else:
            node = dict(step["node"])
            name = node.pop("node_id")
            state = step.get("state")
            changes = _changes(before, state)
            retries = step.get("retries") or []
            steps.append(Step(number, "node", name, node, state, changes, step.get("start_ts"), retries))
            before = state
    return steps


def _changes(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    if not isinstance(after, dict):
        return [] if before == after else [("state", before, after)]
    before = before if isinstance(before, dict) else {}
    return [(k, before.get(k), v) for k, v in after.items() if before.get(k) != v]


def path_of(info: Any) -> list[str]:
    """The nodes the run has been through, in order, then the one it is at."""
    path = [s["node"]["node_id"] for s in info.history if s.get("kind") == "node"]
    if info.node and info.node != "End" and (not path or info.status in ("waiting", "sleeping")):
        path.append(info.node)
    return path


def _get(runs: Any, run_id: str, *, history: bool = False) -> Any:
    from runtime.durable import DurableError

    try:
        return runs.get(run_id, history=history)
    except DurableError as e:
        raise Refused(404, str(e)) from None


def answer(runs: Any, store: ConsoleStore, caller: Caller, run_id: str, values: Any, wait: int | None) -> Any:
    """Give the wait of a run `values` (a JSON object), as `caller`; the run is unchanged on a bad answer."""
    from runtime.durable import DurableError

    info = _get(runs, run_id)
    if info.status != "waiting":
        raise Refused(409, f"run `{run_id}` is not waiting for an answer ({info.status})")
    if not info.queued:
        raise Refused(409, f"run `{run_id}` runs in the process that started it: `graphc runs resume {run_id}` there")
    if not isinstance(values, dict):
        raise Refused(422, "the answer is a JSON object of the waited-for fields")
    problems = input_problems(runs, info, values)
    if problems:
        raise Refused(422, "; ".join(problems))
    try:
        runs.resume(run_id, None, input=values, wait=wait if wait is not None else info.wait_ordinal)
    except DurableError as e:
        raise Refused(409, str(e)) from None
    store.answered_by(run_id, info.wait_ordinal, caller.name)
    return runs.get(run_id)


def input_problems(runs: Any, info: Any, values: dict[str, Any]) -> list[str]:
    """What is wrong with an answer: by the stored spec's types where it compiles here, else by the schema."""
    from runtime.nodes import validate_waits

    schema = info.waits_for or {}
    properties = schema.get("properties", {})
    problems = [f"`{name}` is missing" for name in schema.get("required", []) if name not in values]
    problems += [f"`{name}` is not a field the run waits for" for name in values if name not in properties]
    if problems:
        return problems
    graph = stored_graph(runs, info.id)
    if graph is not None and info.node in graph.node_types:
        try:
            validate_waits(graph.node_types[info.node], values)
        except ValueError as e:
            return [str(e)]
    return []


def stored_graph(runs: Any, run_id: str) -> Any:
    """The graph of a submitted run's stored spec, compiled here under an empty allow-list; None if it cannot be."""
    from compiler.workers import spec_loader

    try:
        name, source, files = runs.stored_spec(run_id)
        return spec_loader(allowed_imports=[])(name, source, files)[0]
    except Exception:  # it imports modules: only workers may run those; the schema checks the shape
        return None


def cancel(runs: Any, run_id: str) -> Any:
    """Cancel a run that has not ended."""
    from runtime.durable import DurableError

    _get(runs, run_id)
    try:
        return runs.cancel(run_id)
    except DurableError as e:
        raise Refused(409, str(e)) from None


def retry(runs: Any, run_id: str) -> Any:
    """A new run of a failed submitted run, from the step that failed."""
    from runtime.durable import DurableError

    _get(runs, run_id)
    try:
        return runs.retry(run_id)
    except DurableError as e:
        raise Refused(409, str(e)) from None


def fork(runs: Any, run_id: str, step: Any, state: Any) -> Any:
    """A new run that keeps a submitted run's first `step` nodes and goes on from there (with `state`, if given)."""
    from runtime.durable import DurableError

    _get(runs, run_id)
    if not isinstance(step, int) or isinstance(step, bool):
        raise Refused(422, "`step` is the number of nodes the new run keeps: a whole number")
    try:
        return runs.fork(run_id, step, state)
    except DurableError as e:
        raise Refused(409, str(e)) from None


@dataclass
class SpecView:
    """What the run page shows of the run's spec: the diagram (SVG) and the lines of the node it is at."""

    svg: str | None = None
    file: str | None = None
    first_line: int = 0
    lines: list[str] = field(default_factory=list)


def spec_view(runs: Any, info: Any, path: list[str]) -> SpecView:
    """The run's diagram, drawn from its spec (no module imported) with `path` highlighted, and its node's lines."""
    from compiler.diagram import GraphvizMissing, diagram_of, dot_text, render
    from compiler.pipeline import compile_source
    from dsl.diagnostics import DiagnosticError
    from dsl.source import source_from_text

    try:
        name, source, files = runs.stored_spec(info.id)
    except Exception:
        if not info.spec:
            return SpecView()
        try:
            with open(info.spec, encoding="utf-8") as handle:
                name, source, files = info.spec, handle.read(), None
        except OSError:
            return SpecView()
    try:
        _, checked = compile_source(source_from_text(name, source), sources=files)
    except (DiagnosticError, ValueError):
        return SpecView()
    view = SpecView(file=name.rsplit("/", 1)[-1])
    node = next((n for n in checked.spec.nodes if n.name == info.node), None)
    if node is not None:
        text = source.splitlines()
        first, last = node.span.line, max(node.span.end_line - 1, node.span.line)
        lines = text[first - 1 : last]
        while len(lines) > 1 and not lines[-1].strip():  # the blank lines before the next declaration
            lines.pop()
        view.first_line, view.lines = first, lines
    with contextlib.suppress(GraphvizMissing):  # the page says there is no diagram
        view.svg = render(dot_text(diagram_of(checked), highlighted=path), "svg").decode()
    return view


def form_fields(schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The inputs of a wait's form, from its JSON Schema: name, input kind, required, choices."""
    out = []
    for name, prop in (schema or {}).get("properties", {}).items():
        kinds = {p.get("type") for p in prop.get("anyOf", [prop])}
        nullable = "null" in kinds
        kinds.discard("null")
        kind = kinds.pop() if len(kinds) == 1 else "json"
        choices = prop.get("enum")
        out.append(
            {
                "name": name,
                "kind": "choice" if choices else kind,
                "choices": choices or [],
                "required": name in (schema or {}).get("required", []),
                "nullable": nullable,
                "schema": json.dumps(prop),
            }
        )
    return out


def form_values(fields: list[dict[str, Any]], form: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """An answer from a submitted form, typed by the schema; what could not be read."""
    values: dict[str, Any] = {}
    problems = []
    for spec in fields:
        name, kind = spec["name"], spec["kind"]
        text = form.get(name, "")
        if kind == "boolean":
            values[name] = text == "true"
            continue
        if text == "" and (spec["nullable"] or not spec["required"]):
            values[name] = None if spec["nullable"] else ""
            if not spec["nullable"]:
                values.pop(name)
            continue
        try:
            if kind == "integer":
                values[name] = int(text)
            elif kind == "number":
                values[name] = float(text)
            elif kind in ("string", "choice"):
                values[name] = text
            else:
                values[name] = json.loads(text)
        except ValueError:
            problems.append(f"`{name}`: `{text}` is not {'a whole number' if kind == 'integer' else 'a ' + kind}")
    return values, problems


def start(runs: Any, caller: Caller, body: dict[str, Any], allowed_imports: list[str]) -> Any:
    """Queue a run for the workers, as `graphc submit` does; the run as it is now.

    The spec is the one the newest submitted run of `graph` runs (operator), or one sent in
    the body as `source` with its file `name` and the specs it uses as `files` (admin: a spec
    sent is new code for the workers). It is compiled here under the server's allow-list,
    to build the start node (`start`, default the spec's; `args`) and the `state`.
    """
    import pydantic

    from compiler.workers import spec_loader
    from graphc.commands._spec import brief
    from runtime.durable import DEFAULT_MAX_STEPS, DurableError

    if "source" in body:
        if not caller.may("admin"):
            why = f"starting a run of a spec sent with the request needs the admin role; yours is {caller.role}"
            raise Refused(403, why)
        name, source, files = _sent_spec(body)
    elif isinstance(body.get("graph"), str):
        name, source, files = _stored_spec(runs, body["graph"])
    else:
        raise Refused(422, "name the `graph` whose stored spec to run, or send its `source`")
    try:
        graph = spec_loader(allowed_imports)(name, source, files)[0]
    except ValueError as e:
        raise Refused(422, f"the spec does not compile here: {e}") from None
    start_name = body.get("start") or (graph.start_node.get_id() if graph.start_node else None)
    if not isinstance(start_name, str) or start_name not in graph.node_types:
        known = ", ".join(graph.node_types)
        why = "`start` names a node of the graph" if start_name else "the spec has no `start`; name one"
        raise Refused(422, f"{why} ({known})")
    args, state = body.get("args") or {}, body.get("state")
    if state is not None and graph.state_type is type(None):
        raise Refused(422, "the graph has no state: leave `state` out")
    try:
        node = pydantic.TypeAdapter(graph.node_types[start_name]).validate_python(args)
        if state is not None:
            state = pydantic.TypeAdapter(graph.state_type).validate_python(state)
    except pydantic.ValidationError as e:
        raise Refused(422, f"bad `args` or `state`: {brief(e)}") from None
    max_steps = body.get("max_steps", DEFAULT_MAX_STEPS)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 0:
        raise Refused(422, "`max_steps` is a whole number, 0 for no limit")
    try:
        run_id = runs.submit(
            name, source, graph, node, state=state, run_id=body.get("run_id"), max_steps=max_steps, spec_files=files
        )
    except DurableError as e:
        raise Refused(409, str(e)) from None
    return runs.get(run_id)


def newest_first(found: list[Any]) -> list[Any]:
    """Runs, the latest started first."""
    return sorted(found, key=lambda r: r.started.timestamp() if r.started else 0, reverse=True)


def _sent_spec(body: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    name, source, files = body.get("name", "spec.graph"), body["source"], body.get("files") or {}
    from dsl.source import FORMATS

    if not isinstance(name, str) or "/" in name or "\\" in name or not name.endswith(tuple(FORMATS)):
        raise Refused(422, f"`name` is the spec's file name, ending in {', '.join(FORMATS)}")
    if not isinstance(source, str) or not isinstance(files, dict):
        raise Refused(422, "`source` is the spec's text; `files` maps the paths of the specs it uses to their text")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise Refused(422, "`files` maps paths to texts")
    return name, source, files


def _stored_spec(runs: Any, graph: str) -> tuple[str, str, dict[str, str]]:
    """The spec of the newest submitted run of `graph`."""
    from runtime.durable import DurableError

    for info in newest_first(runs.list()):
        if info.graph == graph and info.queued:
            with contextlib.suppress(DurableError):
                name, source, files = runs.stored_spec(info.id)
                return name, source, files
    why = f"no spec of graph `{graph}` is stored: submit a run of it first (graphc submit), or send its `source`"
    raise Refused(404, why)
