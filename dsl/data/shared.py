"""The YAML / TOML forms: located data (`DataNode`) → `GraphSpec`.

Both front-ends turn their text into a tree of `DataNode`s that know where each
value (and each character of a single-line string) sits in the file; this module
checks the shape of that tree and parses its strings with the `.graph` grammar's
`*_input` rules, so every syntax accepts exactly the same expressions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import ir
from ..diagnostics import Diagnostics, did_you_mean
from ..expressions import PositionMap, TreeToIR
from ..graph.syntax import MISSED, import_from_tree, parse_expression, parse_fragment, sleep_from_tree
from ..source import SourceFile
from ..syntax_tree import Token, Tree
from ..timing import duration_seconds
from . import TYPE_CLASS_KEY

__all__ = ("GRAPH_KEYS", "NODE_KEYS", "DataNode", "data_to_spec")

GRAPH_KEYS = ("graph", "doc", "output", "start", "imports", "uses", "schedules", "state", "deps", "nodes")
NODE_KEYS = (
    "doc", "fields", "waits", "deadline", "retry", "timeout", "checkpoint", "sleep", "errors", "do", "next"
)  # fmt: skip
DEADLINE_KEYS = ("within", "to")
SCHEDULE_KEYS = ("every", "cron", "missed", "to")
RETRY_KEYS = ("attempts", "backoff", "max", "catch")
ERROR_KEYS = ("catch", "as", "to", "label")  # not `on`: YAML 1.1 reads a bare `on` as true
BRANCH_KEYS = ("if", "do", "to", "label", "next")


@dataclass
class DataNode:
    """A value of the YAML/TOML document with its position.

    `value` is a str/int/float/bool/None, a list of `DataNode`, or a dict of key →
    `DataNode` (with `key_spans` for the keys). `content` maps positions inside a
    single-line string to the file; None when the string's text cannot be mapped
    exactly (escapes, folding), in which case the string's own start is used.
    """

    value: Any
    span: ir.Span
    key_spans: dict[str, ir.Span] = field(default_factory=dict)
    content: tuple[int, int] | None = None

    def position_map(self) -> PositionMap:
        """Where a (line, column) of this string's text lies in the file."""
        if self.content is None:
            start = (self.span.line, self.span.column)
            return lambda line, column: start
        base_line, base_column = self.content
        return lambda line, column: (base_line + line - 1, base_column + column - 1 if line == 1 else column)


_KIND_NAMES = {
    str: "a string",
    list: "a list",
    dict: "a mapping",
    bool: "true/false",
    int: "a number",
    float: "a number",
}


class _Builder:
    def __init__(self, file: str, sink: Diagnostics) -> None:
        self.file = file
        self.sink = sink

    # ---- shape helpers -------------------------------------------------------------------

    def expect(self, node: DataNode, kind: type, what: str) -> bool:
        if isinstance(node.value, kind) and not (kind is int and isinstance(node.value, bool)):
            return True
        got = "nothing" if node.value is None else _KIND_NAMES.get(type(node.value), type(node.value).__name__)
        self.sink.error("E022", node.span, f"{what} must be {_KIND_NAMES[kind]}, not {got}")
        return False

    def keys(self, node: DataNode, allowed: tuple[str, ...], what: str) -> dict[str, DataNode]:
        entries: dict[str, DataNode] = node.value
        for key in entries:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or "allowed keys: " + ", ".join(f"`{k}`" for k in allowed)
                self.sink.error("E021", node.key_spans.get(key, node.span), f"unknown key `{key}` in {what}", hint)
        return {k: v for k, v in entries.items() if k in allowed}

    def text(self, node: DataNode, what: str) -> str | None:
        return node.value if self.expect(node, str, what) else None

    def converter(self, node: DataNode) -> TreeToIR:
        position = node.position_map()
        return TreeToIR(
            self.file, self.sink, position, lambda text, pos: parse_expression(text, self.file, self.sink, pos)
        )

    def fragment(self, node: DataNode, start: str, what: str) -> tuple[Tree, TreeToIR] | None:
        text = self.text(node, what)
        if text is None:
            return None
        if not text.strip():
            self.sink.error("E022", node.span, f"{what} is empty")
            return None
        tree = parse_fragment(text, start, self.file, self.sink, node.position_map())
        return None if tree is None else (tree, self.converter(node))

    def expr(self, node: DataNode, what: str) -> ir.Expr | None:
        parsed = self.fragment(node, "expr_input", what)
        return parsed[1].expr(parsed[0]) if parsed else None

    def type(self, node: DataNode, what: str) -> ir.TypeExpr | None:
        parsed = self.fragment(node, "type_input", what)
        return parsed[1].type(parsed[0]) if parsed else None

    def statements(self, node: DataNode | None) -> list[ir.Statement]:
        if node is None or not self.expect(node, list, "`do`"):
            return []
        out = []
        for item in node.value:
            parsed = self.fragment(item, "stmt_input", "a statement")
            if parsed:
                out.append(parsed[1].statement(parsed[0]))
        return out

    def fields(self, node: DataNode, what: str, *, allow_class: bool = False) -> tuple[list[ir.FieldSpec], str | None]:
        if not self.expect(node, dict, what):
            return [], None
        out = []
        class_name = None
        for name, value in node.value.items():
            key_span = node.key_spans.get(name, node.span)
            if allow_class and name == TYPE_CLASS_KEY:
                class_name = self.text(value, "`class`")
                if class_name is not None:
                    TreeToIR(self.file, self.sink).check_name(_name_token(class_name, value.span), "class name")
                continue
            parsed = self.fragment(value, "field_input", f"the type of field `{name}`")
            if not parsed:
                continue
            tree, convert = parsed
            type_tree, default = tree.children
            if not name.isidentifier():
                self.sink.error("E022", key_span, f"`{name}` is not a valid field name")
                continue
            TreeToIR(self.file, self.sink).check_name(_name_token(name, key_span), "field name")
            span = ir.Span(
                file=self.file,
                line=key_span.line,
                column=key_span.column,
                end_line=value.span.end_line,
                end_column=value.span.end_column,
            )
            default_expr = convert.expr(default) if default is not None else None
            out.append(ir.FieldSpec(span=span, name=name, type=convert.type(type_tree), default=default_expr))
        return out, class_name

    # ---- the document ------------------------------------------------------------------------

    def spec(self, root: DataNode) -> ir.GraphSpec | None:
        if not self.expect(root, dict, "the document"):
            return None
        top = self.keys(root, GRAPH_KEYS, "the graph")
        fields: dict[str, Any] = {}
        if "graph" not in top:
            self.sink.error("E023", root.span, "missing key `graph` (the graph's name)")
            return None
        name = self.text(top["graph"], "`graph`")
        if name is not None and not name.isidentifier():
            self.sink.error("E022", top["graph"].span, f"`{name}` is not a valid graph name")
        fields["name"] = name or "Graph"
        fields["name_span"] = top["graph"].span
        if "doc" in top:
            fields["doc"] = self.text(top["doc"], "`doc`")
        if "output" in top and top["output"].value is not None:
            fields["output"] = self.type(top["output"], "`output`")
        if "start" in top:
            fields["start"] = self.text(top["start"], "`start`")
            fields["start_span"] = top["start"].span
        fields["imports"] = self.imports(top.get("imports"))
        if "uses" in top:
            fields["uses"] = self.uses(top["uses"])
        if "schedules" in top:
            fields["schedules"] = self.schedules(top["schedules"])
        for key in ("state", "deps"):
            if key in top:
                fields[key] = self.type_spec(top[key], key)
        fields["nodes"] = self.nodes(top.get("nodes"))
        return ir.GraphSpec(span=root.span, **fields)

    def imports(self, node: DataNode | None) -> list[ir.ImportSpec]:
        if node is None or not self.expect(node, list, "`imports`"):
            return []
        out = []
        for item in node.value:
            parsed = self.fragment(item, "import_input", "an import")
            if parsed:
                tree, convert = parsed
                out.append(import_from_tree(convert, tree.children[0], item.span))
        return out

    def uses(self, node: DataNode) -> list[ir.UseSpec]:
        """`uses: {Summarize: summarize.graph}`: the graphs transitions run as sub-graphs, by name."""
        if not self.expect(node, dict, "`uses`"):
            return []
        out = []
        for name, path in node.value.items():
            name_span = node.key_spans.get(name, node.span)
            if not name.isidentifier():
                self.sink.error("E022", name_span, f"`{name}` is not a valid graph name")
                continue
            text = self.text(path, f"the path of `{name}`")
            if text is not None:
                out.append(ir.UseSpec(span=name_span, name=name, name_span=name_span, path=text, path_span=path.span))
        return out

    def duration(self, node: DataNode, what: str) -> tuple[float, str] | None:
        """`48h`: its seconds and its text; a number alone is refused (its unit would be a guess)."""
        text = str(node.value) if isinstance(node.value, (int, float)) and not isinstance(node.value, bool) else None
        text = text or self.text(node, what)
        seconds = duration_seconds(text.strip()) if text is not None else None
        if text is not None and seconds is None:
            self.sink.error("E022", node.span, f"{what}: `{text}` is not a duration", "like 30s, 15m, 48h or 7d")
        return (seconds, text.strip()) if seconds is not None and text is not None else None

    def schedules(self, node: DataNode) -> list[ir.ScheduleSpec]:
        """`schedules: {nightly: {cron: "0 3 * * *", missed: once, to: "Report()"}}`."""
        if not self.expect(node, dict, "`schedules`"):
            return []
        out = []
        for name, body in node.value.items():
            name_span = node.key_spans.get(name, node.span)
            if not self.expect(body, dict, f"schedule `{name}`"):
                continue
            entries = self.keys(body, SCHEDULE_KEYS, f"schedule `{name}`")
            if "to" not in entries or ("every" in entries) == ("cron" in entries):
                self.sink.error("E023", body.span, "a schedule needs `to:` and one of `every:` or `cron:`")
                continue
            fields: dict[str, Any] = {}
            if "every" in entries:
                duration = self.duration(entries["every"], "`every`")
                if duration is None:
                    continue
                fields["every"], fields["every_text"] = duration
            elif (cron := self.text(entries["cron"], "`cron`")) is not None:
                fields["cron"], fields["cron_span"] = cron, entries["cron"].span
            if "missed" in entries and (missed := self.text(entries["missed"], "`missed`")) is not None:
                if missed not in MISSED:
                    self.sink.error("E022", entries["missed"].span, f"`missed: {missed}`: say skip, once or all")
                else:
                    fields["missed"] = missed
            to = self.target(entries)
            if to is None:
                continue
            TreeToIR(self.file, self.sink).check_name(_name_token(name, name_span), "schedule name")
            out.append(ir.ScheduleSpec(span=name_span, name=name, name_span=name_span, to=to, **fields))
        return out

    def deadline(self, node: DataNode) -> ir.Deadline | None:
        """`deadline: {within: 48h, to: "Remind(invoice)"}`."""
        if not self.expect(node, dict, "`deadline`"):
            return None
        entries = self.keys(node, DEADLINE_KEYS, "`deadline`")
        if "within" not in entries or "to" not in entries:
            self.sink.error("E023", node.span, "a deadline needs `within:` (a duration) and `to:` (where the run goes)")
            return None
        duration, to = self.duration(entries["within"], "`within`"), self.target(entries)
        if duration is None or to is None:
            return None
        return ir.Deadline(span=node.span, seconds=duration[0], text=duration[1], to=to)

    def sleep(self, node: DataNode) -> ir.Sleep | None:
        """`sleep: 48h` or `sleep: until state.due_date`."""
        if isinstance(node.value, str) and node.value.strip().startswith("until"):
            parsed = self.fragment(node, "sleep_input", "`sleep`")
            return sleep_from_tree(parsed[1], parsed[0].children[0], node.span) if parsed else None
        duration = self.duration(node, "`sleep`")
        return ir.Sleep(span=node.span, seconds=duration[0], text=duration[1]) if duration else None

    def type_spec(self, node: DataNode, key: str) -> ir.TypeSpec | None:
        if isinstance(node.value, str):
            ref = node.value.strip()
            if not all(part.isidentifier() for part in ref.split(".")):
                self.sink.error("E022", node.span, f"`{key}` must be a dotted type name or a mapping of fields")
                return None
            return ir.TypeSpec(span=node.span, ref=ref)
        fields, class_name = self.fields(node, f"`{key}`", allow_class=True)
        if not fields:
            if class_name is not None:
                self.sink.error("E022", node.span, f"`{key}` declares a class but no fields")
            return None
        return ir.TypeSpec(span=node.span, class_name=class_name, fields=fields)

    def nodes(self, node: DataNode | None) -> list[ir.NodeSpec]:
        if node is None or not self.expect(node, dict, "`nodes`"):
            return []
        out = []
        for name, body in node.value.items():
            name_span = node.key_spans.get(name, node.span)
            if body.value is None:
                body = DataNode({}, body.span)
            if not self.expect(body, dict, f"node `{name}`"):
                continue
            entries = self.keys(body, NODE_KEYS, f"node `{name}`")
            doc = self.text(entries["doc"], "`doc`") if "doc" in entries else None
            fields = self.fields(entries["fields"], "`fields`")[0] if "fields" in entries else []
            branches = self.branches(entries.get("next"), name, name_span)
            TreeToIR(self.file, self.sink).check_name(_name_token(name, name_span), "node name")
            out.append(
                ir.NodeSpec(
                    span=body.span,
                    name=name,
                    name_span=name_span,
                    doc=doc,
                    fields=fields,
                    waits=self.fields(entries["waits"], "`waits`")[0] if "waits" in entries else [],
                    retry=self.retry(entries["retry"]) if "retry" in entries else None,
                    timeout=self.timeout(entries["timeout"]) if "timeout" in entries else None,
                    deadline=self.deadline(entries["deadline"]) if "deadline" in entries else None,
                    sleep=self.sleep(entries["sleep"]) if "sleep" in entries else None,
                    checkpoint=self.flag(entries["checkpoint"], "`checkpoint`") if "checkpoint" in entries else False,
                    errors=self.errors(entries["errors"]) if "errors" in entries else [],
                    do=self.statements(entries.get("do")),
                    next=branches,
                ).normalized()
            )
        return out

    def flag(self, node: DataNode, what: str) -> bool:
        """A true/false value."""
        return bool(node.value) if self.expect(node, bool, what) else False

    def number(self, node: DataNode, what: str) -> float | None:
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        self.expect(node, float, what)
        return None

    def retry(self, node: DataNode) -> ir.RetryPolicy | None:
        """`retry: 3` or `retry: {attempts: 3, backoff: 0.5, max: 10, catch: [Busy]}`."""
        if isinstance(node.value, int) and not isinstance(node.value, bool):
            return ir.RetryPolicy(span=node.span, attempts=node.value)
        if not self.expect(node, dict, "`retry`"):
            return None
        entries = self.keys(node, RETRY_KEYS, "`retry`")
        if "attempts" not in entries or not self.expect(entries["attempts"], int, "`attempts`"):
            if "attempts" not in entries:
                self.sink.error("E023", node.span, "`retry` needs `attempts:`")
            return None
        backoff = self.number(entries["backoff"], "`backoff`") if "backoff" in entries else 0.0
        cap = self.number(entries["max"], "`max`") if "max" in entries else None
        return ir.RetryPolicy(
            span=node.span,
            attempts=entries["attempts"].value,
            backoff=backoff or 0.0,
            max_backoff=cap,
            on=self.exception_names(entries["catch"]) if "catch" in entries else [],
        )

    def timeout(self, node: DataNode) -> ir.Timeout | None:
        seconds = self.number(node, "`timeout`")
        return ir.Timeout(span=node.span, seconds=seconds) if seconds is not None else None

    def exception_names(self, node: DataNode) -> list[str]:
        """`catch: Busy` or `catch: [Busy, pkg.Flaky]`."""
        items = node.value if isinstance(node.value, list) else [node]
        return [text for item in items if (text := self.text(item, "an exception name")) is not None]

    def errors(self, node: DataNode) -> list[ir.ErrorBranch]:
        """`errors: [{catch: ModelError, as: error, to: "Escalate(...)", label: ...}]`."""
        if not self.expect(node, list, "`errors`"):
            return []
        out = []
        for item in node.value:
            if not self.expect(item, dict, "an error branch"):
                continue
            entries = self.keys(item, ERROR_KEYS, "an error branch")
            if "catch" not in entries or "to" not in entries:
                self.sink.error("E023", item.span, "an error branch needs `catch:` (exception classes) and `to:`")
                continue
            transition = self.target(entries)
            if transition is None:
                continue
            name = self.text(entries["as"], "`as`") if "as" in entries else None
            if name is not None:
                self.converter(entries["as"]).check_name(_name_token(name, entries["as"].span), "exception name")
            out.append(
                ir.ErrorBranch(
                    span=item.span,
                    exceptions=self.exception_names(entries["catch"]),
                    exceptions_span=entries["catch"].span,
                    name=name,
                    to=transition,
                )
            )
        return out

    def target(self, entries: dict[str, DataNode]) -> ir.Transition | None:
        """`to:` (with its `label:`) of a branch or an error branch."""
        parsed = self.fragment(entries["to"], "target_input", "`to`")
        if not parsed:
            return None
        tree, convert = parsed
        transition = convert.transition(tree.children[0], None, entries["to"].span, tree.children[1])
        if "label" in entries:
            transition = transition.model_copy(update={"label": self.text(entries["label"], "`label`")})
        return transition

    def branches(self, node: DataNode | None, name: str, name_span: ir.Span) -> list[ir.Branch]:
        if node is None:
            self.sink.error(
                "E008",
                name_span,
                f"node `{name}` has no transition",
                "give it a `next:` list ending with `{to: NextNode(...)}`",
            )
            return []
        return self.branch_list(node)

    def branch_list(self, node: DataNode) -> list[ir.Branch]:
        """A `next:` list: of a node, or nested in a branch that goes on branching."""
        if not self.expect(node, list, "`next`"):
            return []
        out = []
        for item in node.value:
            if not self.expect(item, dict, "a branch"):
                continue
            entries = self.keys(item, BRANCH_KEYS, "a branch")
            if "to" not in entries and "next" not in entries:
                self.sink.error("E023", item.span, "a branch needs `to:` (its target) or `next:` (nested branches)")
                continue
            condition = self.expr(entries["if"], "`if`") if "if" in entries else None
            statements = self.statements(entries.get("do"))
            if "next" in entries:
                if "to" in entries or "label" in entries:
                    key = "to" if "to" in entries else "label"
                    self.sink.error(
                        "E023", entries[key].span, f"a branch with `next:` has no `{key}:`", "its nested branches do"
                    )
                    continue
                nested = self.branch_list(entries["next"])
                if nested:
                    out.append(ir.Branch(span=item.span, condition=condition, do=statements, next=nested))
                continue
            transition = self.target(entries)
            if transition is None:
                continue
            out.append(ir.Branch(span=item.span, condition=condition, do=statements, to=transition))
        return out


def _name_token(name: str, span: ir.Span) -> Any:
    return Token("NAME", name, line=span.line, column=span.column, end_line=span.end_line, end_column=span.end_column)


def data_to_spec(root: DataNode, source: SourceFile, comments: Iterable[tuple[int, str]] = ()) -> ir.GraphSpec:
    """Build a `GraphSpec` from a located YAML/TOML document.

    Args:
        root: The document.
        source: Its text.
        comments: Its `#` comments as (offset in the text, text), kept so `fmt` can put them back.

    Raises:
        DiagnosticError: with every shape and syntax error found.
    """
    sink = Diagnostics()
    spec = _Builder(source.name, sink).spec(root)
    sink.raise_if_errors()
    assert spec is not None
    located = [_comment(source, offset, text) for offset, text in sorted(comments)]
    return spec.model_copy(update={"comments": located}) if located else spec


def _comment(source: SourceFile, offset: int, text: str) -> ir.Comment:
    line = source.text.count("\n", 0, offset) + 1
    column = offset - (source.text.rfind("\n", 0, offset) + 1) + 1
    span = ir.Span(file=source.name, line=line, column=column, end_line=line, end_column=column + len(text))
    return ir.Comment(span=span, text=text, own_line=source.line(line)[: column - 1].strip() == "")
