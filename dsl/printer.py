"""`GraphSpec` → canonical `.graph`, YAML or TOML text (`graphc fmt`).

Printing then parsing gives back the same IR (spans aside) for every syntax;
`.graph` → `.graph` also keeps comments, placed by the line they annotated.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import ir
from .data import TYPE_CLASS_KEY
from .unparse import ExprWriter, docstring_literal, exceptions_text, quote_string, seconds_text

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

    import yaml

__all__ = ("DEFAULT_SCHEMA", "print_graph", "print_spec", "print_toml", "print_yaml", "spec_to_data")

_WRITER = ExprWriter()
_INDENT = "    "


class _Lines:
    """Output lines, each tagged with the source line it came from, to re-attach comments."""

    def __init__(self, comments: list[ir.Comment]) -> None:
        self.pending = sorted(comments, key=lambda c: (c.span.line, c.span.column))
        self.lines: list[str] = []

    def add(self, text: str, source_line: int | None = None, indent: str = "") -> None:
        trailing = []
        if source_line is not None:
            while self.pending and self.pending[0].span.line <= source_line:
                comment = self.pending.pop(0)
                if comment.own_line or comment.span.line < source_line:
                    self.lines.append(f"{indent}{comment.text}")
                else:
                    trailing.append(comment.text)
        line = f"{indent}{text}" if text else ""
        self.lines.append(f"{line}  {' '.join(trailing)}" if trailing else line)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def text(self) -> str:
        for comment in self.pending:
            self.lines.append(comment.text)
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def print_graph(spec: ir.GraphSpec) -> str:
    """The canonical `.graph` text of a spec."""
    out = _Lines(list(spec.comments))
    if spec.doc is not None:  # a .graph file's docstring is its first line; YAML/TOML keep it by the name
        out.add(docstring_literal(spec.doc), 1 if spec.span.file.endswith(".graph") else spec.name_span.line - 1)
    output = f" -> {_WRITER.type(spec.output)}" if spec.output is not None else ""
    out.add(f"graph {spec.name}{output}", spec.name_span.line)
    if spec.start is not None:
        out.add(f"start {spec.start}", spec.start_span.line if spec.start_span else None)
    if spec.imports:
        out.blank()
        for imp in spec.imports:
            names = ", ".join(n.name + (f" as {n.alias}" if n.alias else "") for n in imp.names)
            out.add(f"from {imp.module} import {names}", imp.span.line)
    if spec.uses:
        out.blank()
        for use in spec.uses:
            out.add(f"use {use.name} from {quote_string(use.path)}", use.span.line)
    if spec.schedules:
        out.blank()
        for schedule in spec.schedules:
            missed = f" missed {schedule.missed}" if schedule.missed != "skip" else ""
            text = f"schedule {schedule.name} {_when_text(schedule)}{missed} {_arrow(schedule.to)}"
            out.add(text, schedule.span.line)
    for keyword, type_spec in (("state", spec.state), ("deps", spec.deps)):
        if type_spec is None:
            continue
        out.blank()
        if type_spec.ref is not None:
            out.add(f"{keyword} = {type_spec.ref}", type_spec.span.line)
            continue
        name = f" {type_spec.class_name}" if type_spec.class_name else ""
        out.add(f"{keyword}{name}:", type_spec.span.line)
        for field in type_spec.fields or []:
            out.add(f"{field.name}: {_WRITER.field(field)}", field.span.line, _INDENT)
    for node in spec.nodes:
        out.blank()
        _print_node(out, node)
    return out.text()


def _print_node(out: _Lines, node: ir.NodeSpec) -> None:
    params = ", ".join(f"{f.name}: {_WRITER.field(f)}" for f in node.fields)
    header = f"node {node.name}({params})" if node.fields else f"node {node.name}"
    if node.waits:
        header += " waits (" + ", ".join(f"{f.name}: {_WRITER.field(f)}" for f in node.waits) + ")"
        if node.deadline is not None:
            header += f" within {node.deadline.text} {_arrow(node.deadline.to)}"
    checkpoint = "checkpoint" if node.checkpoint else ""
    sleep = f"sleep {_sleep_text(node.sleep)}" if node.sleep is not None else ""
    texts = (_retry_text(node.retry), _timeout_text(node.timeout), checkpoint, sleep)
    policies = ", ".join(p for p in texts if p)
    out.add(f"{header} {policies}:" if policies else f"{header}:", node.name_span.line)
    if node.doc is not None:
        out.add(docstring_literal(node.doc), node.name_span.line + 1, _INDENT)
    for error in node.errors:
        name = f" as {error.name}" if error.name else ""
        out.add(f"on {exceptions_text(error.exceptions)}{name} {_arrow(error.to)}", error.span.line, _INDENT)
    for index, statement in enumerate(node.do):
        text = _WRITER.statement(statement)
        if index == 0 and node.doc is None and _reads_as_docstring(statement):
            text = f"({text})"  # a string standing first is a statement here, not the node's docstring
        out.add(text, statement.span.line, _INDENT)
    _print_branches(out, node.next, _INDENT)


def _reads_as_docstring(statement: ir.Statement) -> bool:
    return (
        isinstance(statement, ir.ExprStmt)
        and not statement.awaited
        and isinstance(statement.value, ir.Constant)
        and isinstance(statement.value.value, str)
    )


def _retry_text(retry: ir.RetryPolicy | None) -> str:
    if retry is None:
        return ""
    text = f"retry {retry.attempts}"
    if retry.backoff or retry.max_backoff is not None:
        text += f" backoff {seconds_text(retry.backoff)}"
        if retry.max_backoff is not None:
            text += f" max {seconds_text(retry.max_backoff)}"
    return text + (f" on {exceptions_text(retry.on)}" if retry.on else "")


def _timeout_text(timeout: ir.Timeout | None) -> str:
    return f"timeout {seconds_text(timeout.seconds)}" if timeout is not None else ""


def _sleep_text(sleep: ir.Sleep) -> str:
    """`48h` or `until EXPR`, as `sleep` takes it (in every syntax)."""
    return f"until {_WRITER.expr(sleep.until)}" if sleep.until is not None else sleep.text or ""


def _when_text(schedule: ir.ScheduleSpec) -> str:
    return f"every {schedule.every_text}" if schedule.cron is None else f"cron {quote_string(schedule.cron)}"


def _schedule_data(schedule: ir.ScheduleSpec) -> dict[str, Any]:
    entry: dict[str, Any] = {"every": schedule.every_text} if schedule.cron is None else {"cron": schedule.cron}
    if schedule.missed != "skip":
        entry["missed"] = schedule.missed
    entry["to"] = _target(schedule.to)
    return entry


def _print_branches(out: _Lines, branches: list[ir.Branch], indent: str) -> None:
    """Branches at one depth: `if c -> X` when it fits one line, else `if c:` and a block.

    An unconditional branch ending the list is written flat: its statements stand between
    the branches above and its own `->` (or the branches nested in it).
    """
    for branch in branches:
        if branch.condition is not None and not branch.do and branch.to is not None:
            out.add(f"if {_WRITER.expr(branch.condition)} {_arrow(branch.to)}", branch.span.line, indent)
            continue
        inner = indent
        if branch.condition is not None:
            out.add(f"if {_WRITER.expr(branch.condition)}:", branch.span.line, indent)
            inner = indent + _INDENT
        elif branch is not branches[-1] and (branch.do or branch.next):  # never taken after all, but printable
            out.add("else:", branch.span.line, indent)
            inner = indent + _INDENT
        for statement in branch.do:
            out.add(_WRITER.statement(statement), statement.span.line, inner)
        if branch.to is not None:
            out.add(_arrow(branch.to), branch.to.span.line, inner)
        else:
            _print_branches(out, branch.next, inner)


def _arrow(transition: ir.Transition) -> str:
    label = f" : {quote_string(transition.label)}" if transition.label is not None else ""
    return f"-> {_target(transition)}{label}"


def _target(transition: ir.Transition) -> str:
    """`Target(args)` with its `limit N tolerate M[%]`, as `to:` holds it."""
    text, fanout = _WRITER.target(transition), transition.fanout
    if fanout is None:
        return text
    if fanout.limit is not None:
        text += f" limit {fanout.limit}"
    if fanout.tolerate is not None:
        text += f" tolerate {fanout.tolerate}{'%' if fanout.percent else ''}"
    return text


def spec_to_data(spec: ir.GraphSpec) -> dict[str, Any]:
    """The YAML/TOML document of a spec, as plain data with expression strings."""
    data: dict[str, Any] = {"graph": spec.name}
    if spec.doc is not None:
        data["doc"] = spec.doc
    if spec.output is not None:
        data["output"] = _WRITER.type(spec.output)
    if spec.start is not None:
        data["start"] = spec.start
    if spec.imports:
        data["imports"] = [
            f"from {i.module} import " + ", ".join(n.name + (f" as {n.alias}" if n.alias else "") for n in i.names)
            for i in spec.imports
        ]
    if spec.uses:
        data["uses"] = {use.name: use.path for use in spec.uses}
    if spec.schedules:
        data["schedules"] = {schedule.name: _schedule_data(schedule) for schedule in spec.schedules}
    for key, type_spec in (("state", spec.state), ("deps", spec.deps)):
        if type_spec is None:
            continue
        if type_spec.ref is not None:
            data[key] = type_spec.ref
            continue

        entries: dict[str, str] = {TYPE_CLASS_KEY: type_spec.class_name} if type_spec.class_name else {}
        entries.update({f.name: _WRITER.field(f) for f in type_spec.fields or []})
        data[key] = entries
    nodes: dict[str, Any] = {}
    for node in spec.nodes:
        entry: dict[str, Any] = {}
        if node.doc is not None:
            entry["doc"] = node.doc
        if node.fields:
            entry["fields"] = {f.name: _WRITER.field(f) for f in node.fields}
        if node.waits:
            entry["waits"] = {f.name: _WRITER.field(f) for f in node.waits}
        if node.deadline is not None:
            entry["deadline"] = {"within": node.deadline.text, "to": _target(node.deadline.to)}
        if node.retry is not None:
            entry["retry"] = _retry_data(node.retry)
        if node.timeout is not None:
            entry["timeout"] = _number(node.timeout.seconds)
        if node.checkpoint:
            entry["checkpoint"] = True
        if node.sleep is not None:
            entry["sleep"] = _sleep_text(node.sleep)
        if node.errors:
            entry["errors"] = [_error_data(e) for e in node.errors]
        if node.do:
            entry["do"] = [_WRITER.statement(s) for s in node.do]
        entry["next"] = [_branch_data(b) for b in node.next]
        nodes[node.name] = entry
    data["nodes"] = nodes
    return data


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _retry_data(retry: ir.RetryPolicy) -> int | dict[str, Any]:
    if not (retry.backoff or retry.max_backoff is not None or retry.on):
        return retry.attempts
    entry: dict[str, Any] = {"attempts": retry.attempts}
    if retry.backoff or retry.max_backoff is not None:
        entry["backoff"] = _number(retry.backoff)
    if retry.max_backoff is not None:
        entry["max"] = _number(retry.max_backoff)
    if retry.on:
        entry["catch"] = retry.on[0] if len(retry.on) == 1 else list(retry.on)
    return entry


def _error_data(error: ir.ErrorBranch) -> dict[str, Any]:
    entry: dict[str, Any] = {"catch": error.exceptions[0] if len(error.exceptions) == 1 else list(error.exceptions)}
    if error.name is not None:
        entry["as"] = error.name
    entry["to"] = _target(error.to)
    if error.to.label is not None:
        entry["label"] = error.to.label
    return entry


def _branch_data(branch: ir.Branch) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if branch.condition is not None:
        entry["if"] = _WRITER.expr(branch.condition)
    if branch.do:
        entry["do"] = [_WRITER.statement(s) for s in branch.do]
    if branch.to is None:
        entry["next"] = [_branch_data(b) for b in branch.next]
        return entry
    entry["to"] = _target(branch.to)
    if branch.to.label is not None:
        entry["label"] = branch.to.label
    return entry


@lru_cache(maxsize=1)
def _yaml_dumper() -> type[yaml.SafeDumper]:
    """PyYAML's safe dumper, with double quotes for strings YAML would otherwise fold.

    Made on first use: PyYAML costs `graphc fmt` on a `.graph` file a fifth of its time.
    """
    import yaml

    class YamlDumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        # YAML reads NEL, LS and PS as line breaks inside single-quoted and plain scalars
        style = '"' if any(ch in "\x85\u2028\u2029" or not ch.isprintable() for ch in value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    YamlDumper.add_representer(str, represent_str)
    return YamlDumper


def print_yaml(spec: ir.GraphSpec) -> str:
    """The canonical YAML text of a spec, with its comments."""
    import yaml

    text = yaml.dump(spec_to_data(spec), Dumper=_yaml_dumper(), sort_keys=False, allow_unicode=True, width=1_000_000)
    if not spec.comments:
        return text
    lines = text.splitlines()
    tags: dict[int, int] = {}  # output line -> the source line of the element it starts
    position = 0
    for prefix, source_line in _yaml_anchors(spec):
        found = next((i for i in range(position, len(lines)) if lines[i].startswith(prefix)), None)
        if found is None:
            break  # not expected; the comments left over still end the file
        if source_line is not None:
            tags[found] = source_line
        position = found + 1
    return _with_comments(spec, [(line, tags.get(i)) for i, line in enumerate(lines)])


def _yaml_anchors(spec: ir.GraphSpec) -> list[tuple[str, int | None]]:
    """The start of each line of the YAML form that begins an element, in order, with its source line."""
    anchors: list[tuple[str, int | None]] = [("graph:", spec.name_span.line)]
    if spec.output is not None:
        anchors.append(("output:", spec.output.span.line))
    if spec.start is not None:
        anchors.append(("start:", spec.start_span.line if spec.start_span else None))
    anchors += [("- ", imp.span.line) for imp in spec.imports]
    if spec.uses:
        anchors.append(("uses:", None))
        anchors += [(f"  {use.name}:", use.span.line) for use in spec.uses]
    if spec.schedules:
        anchors.append(("schedules:", None))
        anchors += [(f"  {schedule.name}:", schedule.span.line) for schedule in spec.schedules]
    for key, type_spec in (("state", spec.state), ("deps", spec.deps)):
        if type_spec is not None:
            anchors.append((f"{key}:", type_spec.span.line))
            anchors += [(f"  {f.name}:", f.span.line) for f in type_spec.fields or []]
    anchors.append(("nodes:", None))
    for node in spec.nodes:
        anchors.append((f"  {node.name}:", node.name_span.line))
        anchors += [(f"      {f.name}:", f.span.line) for f in (*node.fields, *node.waits)]
        anchors += [("    - ", e.span.line) for e in node.errors]
        anchors += [("    - ", s.span.line) for s in node.do]
        anchors += _branch_anchors(node.next, "    ")
    return anchors


def _branch_anchors(branches: list[ir.Branch], indent: str) -> list[tuple[str, int | None]]:
    anchors: list[tuple[str, int | None]] = []
    for branch in branches:
        anchors.append((f"{indent}- ", branch.span.line))
        anchors += [(f"{indent}  - ", s.span.line) for s in branch.do]
        if branch.to is None:
            anchors += _branch_anchors(branch.next, indent + "  ")
        elif branch.condition is not None or branch.do:
            anchors.append((f"{indent}  to:", branch.to.span.line))
    return anchors


def _with_comments(spec: ir.GraphSpec, lines: list[tuple[str, int | None]]) -> str:
    """Lines tagged with the source line they came from, with the spec's comments put back among them."""
    out = _Lines(list(spec.comments))
    for line, source_line in lines:
        body = line.lstrip(" ")
        out.add(body, source_line, line[: len(line) - len(body)]) if body else out.blank()
    return out.text()


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE.match(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    if '"' in value and "'" not in value and value.isprintable():
        return f"'{value}'"  # a literal string reads better than escaped quotes
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not ch.isprintable() or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    raise AssertionError(f"unexpected TOML value {value!r}")


def print_toml(spec: ir.GraphSpec) -> str:
    """The canonical TOML text of a spec, with its comments."""
    data = spec_to_data(spec)
    nodes = data.pop("nodes")
    tables = {k: data.pop(k) for k in ("uses", "schedules", "state", "deps") if isinstance(data.get(k), dict)}
    top_lines = {
        "graph": spec.name_span.line,
        "output": spec.output.span.line if spec.output else None,
        "start": spec.start_span.line if spec.start_span else None,
        "imports": spec.imports[0].span.line if spec.imports else None,
    }
    lines: list[tuple[str, int | None]] = [
        (f"{_toml_key(k)} = {_toml_value(v)}", top_lines.get(k)) for k, v in data.items()
    ]
    for key, entries in tables.items():
        if key == "uses":
            field_lines = {use.name: use.span.line for use in spec.uses}
            lines += [("", None), ("[uses]", None)]
            lines += [(f"{_toml_key(k)} = {_toml_value(v)}", field_lines.get(k)) for k, v in entries.items()]
            continue
        if key == "schedules":
            for schedule, (name, entry) in zip(spec.schedules, entries.items(), strict=True):
                lines += [("", None), (f"[schedules.{_toml_key(name)}]", schedule.span.line)]
                lines += [(f"{_toml_key(k)} = {_toml_value(v)}", None) for k, v in entry.items()]
            continue
        type_spec = spec.state if key == "state" else spec.deps
        assert type_spec is not None
        field_lines = {f.name: f.span.line for f in type_spec.fields or []}
        lines += [("", None), (f"[{key}]", type_spec.span.line)]
        lines += [(f"{_toml_key(k)} = {_toml_value(v)}", field_lines.get(k)) for k, v in entries.items()]
    for node_spec, (name, node) in zip(spec.nodes, nodes.items(), strict=True):
        lines += [("", None), (f"[nodes.{_toml_key(name)}]", node_spec.name_span.line)]
        item_lines = {
            "do": [s.span.line for s in node_spec.do],
            "next": [b.span.line for b in node_spec.next],
            "errors": [e.span.line for e in node_spec.errors],
        }
        for key, value in node.items():
            if key in ("next", "errors") or (key == "do" and value):
                lines.append((f"{key} = [", None))
                lines += [(f"    {_toml_value(v)},", at) for v, at in zip(value, item_lines[key], strict=True)]
                lines.append(("]", None))
            else:
                listed = {"fields": node_spec.fields, "waits": node_spec.waits}.get(key)
                lines.append((f"{key} = {_toml_value(value)}", listed[0].span.line if listed else None))
    if not spec.comments:
        return "\n".join(line for line, _ in lines) + "\n"
    return _with_comments(spec, lines)


DEFAULT_SCHEMA = "graphc.schema.json"
"""Where the YAML/TOML forms' modeline says the JSON Schema is (`graphc schema -o graphc.schema.json`)."""
_MODELINES = {"yaml": "# yaml-language-server: $schema={}", "toml": "#:schema {}"}


def print_spec(spec: ir.GraphSpec, syntax: str, *, schema: str | None = DEFAULT_SCHEMA) -> str:
    """Print a spec in `graph`, `yaml` or `toml` syntax.

    The YAML and TOML forms start with the modeline yaml-language-server and taplo read,
    pointing at `schema` (None: no modeline), so editors complete and validate them offline.
    """
    own = [c for c in spec.comments if not c.text.startswith(("# yaml-language-server:", "#:schema"))]
    if len(own) != len(spec.comments):
        spec = spec.model_copy(update={"comments": own})
    printers = {"graph": print_graph, "yaml": print_yaml, "toml": print_toml}
    text = printers[syntax](spec)
    if syntax in _MODELINES and schema is not None:
        text = _MODELINES[syntax].format(schema) + "\n" + text
    return text
