"""The `.graph` front-end: `SourceFile` → parse tree (`dsl.lalr`) → `GraphSpec`.

The grammar lives in `grammars/graph.lark`. `dsl.lalr` parses well-formed text; anything
else is parsed again by `dsl.lark_syntax`, which reports every syntax error.
"""

from __future__ import annotations

from .. import ir
from ..diagnostics import DiagnosticError, Diagnostics
from ..expressions import STRING_TOKENS, PositionMap, TreeToIR
from ..source import SourceFile
from ..syntax_tree import Tree
from ..timing import duration_seconds
from . import lalr
from .lalr import DECL_START

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("DECL_START", "forget_fragments", "parse_expression", "parse_fragment", "parse_graph", "parse_graph_cached")

"""Where a top-level declaration starts."""


_fragments: dict[tuple[str, str], Tree] = {}
"""Parse trees of fragments by text: positions in them are relative, and converting a tree reads it only."""
_MAX_FRAGMENTS = 20_000


def forget_fragments() -> None:
    """Empty the cache of fragment trees: a parse as a fresh process does it (benchmarks, tests)."""
    _fragments.clear()


def parse_fragment(
    text: str,
    start: str,
    file: str,
    sink: Diagnostics,
    position: PositionMap,
) -> Tree | None:
    """Parse a YAML/TOML string (or f-string field) with one of the grammar's `*_input` rules.

    Errors are recorded in `sink`, positioned through `position`; returns None then.
    """
    if "\n" in text.strip():
        line, column = position(1, 1)
        sink.error(
            "E001",
            ir.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1),
            "an expression must fit on one line",
        )
        return None
    key = (text, start)
    tree = _fragments.get(key)
    if tree is not None:
        return tree
    try:
        tree = lalr.parse(text.strip("\n"), start).tree
    except lalr.NotFast:
        from . import lark_parser as lark_syntax

        tree = lark_syntax.parse_fragment(text, start, file, sink, position)
        if tree is None:
            return None
    if len(_fragments) >= _MAX_FRAGMENTS:
        _fragments.clear()
    _fragments[key] = tree
    return tree


def parse_expression(text: str, file: str, sink: Diagnostics, position: PositionMap) -> ir.Expr | None:
    """Parse one expression string into IR (used for f-string fields and YAML/TOML strings)."""
    tree = parse_fragment(text, "expr_input", file, sink, position)
    if tree is None:
        return None
    return _converter(file, sink, position).expr(tree)


def _converter(file: str, sink: Diagnostics, position: PositionMap | None = None) -> TreeToIR:
    return TreeToIR(file, sink, position, lambda text, pos: parse_expression(text, file, sink, pos))


def parse_graph(source: SourceFile) -> ir.GraphSpec:
    """Parse a `.graph` file into a `GraphSpec`.

    Raises:
        DiagnosticError: with every syntax and shape error found.
    """
    sink = Diagnostics()
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    try:
        parsed = lalr.parse(text)
    except lalr.NotFast:
        from . import lark_parser as lark_syntax

        tree, comments = lark_syntax.parse_module(source, text, sink)
    else:
        tree, comments = parsed.tree, parsed.comments
    decls: list[_Declaration] = [(d, 0, None) for d in tree.children if isinstance(d, Tree)]
    tree.children.clear()  # `build` frees the declarations one by one as it converts them
    return _built(source, sink, decls, comments)


class _Piece:
    """A piece of a file as `parse_graph_cached` keeps it: parse trees, comments, indentation, built nodes."""

    __slots__ = ("comments", "indent", "nodes", "trees")

    def __init__(self, trees: list[Tree], comments: list[tuple[int, int, str]], indent: str | None) -> None:
        self.trees, self.comments, self.indent = trees, comments, indent
        self.nodes: _NodeMemo = {}
        """The nodes built from the trees without a diagnostic, by the line they start on."""


_NodeMemo = dict[int, ir.NodeSpec]
_Declaration = tuple[Tree, int, "_NodeMemo | None"]
"""A declaration's tree, the lines before the text it was parsed from, and where its node may be kept."""

DeclarationCache = dict[str, _Piece]
"""The pieces of a file by their text."""


def parse_graph_cached(source: SourceFile, cache: DeclarationCache) -> ir.GraphSpec | None:
    """`parse_graph` for an editor: only the top-level declarations not in `cache` are parsed.

    A file is cut where a declaration starts (`graph`, `start`, `from`, `state`, `deps`,
    `node` at the start of a line) and each piece parsed on its own, its tree kept in
    `cache` by its text (the cache keeps only this file's pieces). Positions are those of
    the whole file: each piece's are offset while its tree becomes IR. Returns None when a
    piece does not parse on its own — the caller then runs `parse_graph`, whose error
    report is the reference.

    Raises:
        DiagnosticError: with every shape error found after parsing.
    """
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    starts = [m.start() for m in DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    kept: DeclarationCache = {}
    decls: list[_Declaration] = []
    comments: list[tuple[int, int, str]] = []
    indents: set[str] = set()
    offset = 0
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        piece = text[begin:end]
        parsed = kept.get(piece) or cache.get(piece)
        if parsed is None:
            try:
                fresh = lalr.parse(piece)
            except lalr.NotFast:
                return None  # the full parse reports it
            parsed = _Piece([d for d in fresh.tree.children if isinstance(d, Tree)], fresh.comments, fresh.indent)
        if parsed.indent is not None:
            indents.add(parsed.indent)
        if len(indents) > 1:  # tabs in one declaration, spaces in another: the full parse reports where
            return None
        kept[piece] = parsed
        decls += [(d, offset, parsed.nodes) for d in parsed.trees]
        comments += [(line + offset, column, body) for line, column, body in parsed.comments]
        offset += piece.count("\n")
    cache.clear()
    cache.update(kept)
    return _built(source, Diagnostics(), decls, comments)


def _built(
    source: SourceFile, sink: Diagnostics, decls: list[_Declaration], comments: list[tuple[int, int, str]]
) -> ir.GraphSpec:
    try:
        spec = _ModuleBuilder(source, sink).build(decls, comments)
    except RecursionError:
        sink.error(
            "E016",
            ir.Span.start_of(source.name),
            "the spec is nested too deeply to process",
        )
        raise DiagnosticError(sink.items) from None
    sink.raise_if_errors()
    return spec


class _ModuleBuilder:
    """Assembles top-level declarations into a `GraphSpec`, checking their shape."""

    def __init__(self, source: SourceFile, sink: Diagnostics) -> None:
        self.source = source
        self.sink = sink
        self.convert = _converter(source.name, sink)

    def build(self, decls: list[_Declaration], comments: list[tuple[int, int, str]]) -> ir.GraphSpec:
        """The spec from its top-level declarations (nodes built before are taken from their memo)."""
        convert = self.convert
        fields: dict[str, Any] = {"imports": [], "nodes": []}
        graph_decl: Tree | None = None
        seen: dict[str, ir.Span] = {}
        # taken off the list one by one, so each subtree is freed once converted (lower peak memory)
        pending = decls[::-1]
        decls.clear()
        shift = 0
        for index in range(len(pending)):
            decl, offset, memo = pending.pop()
            if offset != shift:
                shift = offset
                convert.shift_lines(offset)
            kind = str(decl.data)
            span = convert.tree_span(decl)
            if kind in ("graph_decl", "start_decl", "state_block", "state_ref", "deps_block", "deps_ref"):
                key = kind.split("_")[0]
                if key in seen:
                    self.sink.error(
                        "E011", span, f"`{key}` is declared twice", f"the first is at line {seen[key].line}"
                    )
                    continue
                seen[key] = span
            if kind == "doc_decl":
                value = convert.string(decl.children[0].children[0])
                if index != 0 or not isinstance(value, ir.Constant) or not isinstance(value.value, str):
                    self.sink.error(
                        "E011", span, "a string here does nothing", "only the first line of a file may be a docstring"
                    )
                else:
                    fields["doc"] = value.value
            elif kind == "graph_decl":
                graph_decl = decl
                name_token, output = decl.children
                fields["name"] = convert.check_name(name_token, "graph name")
                fields["name_span"] = convert.token_span(name_token)
                fields["output"] = convert.type(output) if output is not None else None
            elif kind == "start_decl":
                fields["start"] = str(decl.children[0])
                fields["start_span"] = convert.token_span(decl.children[0])
            elif kind == "import_decl":
                fields["imports"].append(self.import_spec(decl.children[0], span))
            elif kind == "use_decl":
                fields.setdefault("uses", []).append(self.use_spec(decl, span))
            elif kind == "schedule_decl":
                fields.setdefault("schedules", []).append(self.schedule(decl, span))
            elif kind in ("state_block", "deps_block", "state_ref", "deps_ref"):
                fields[kind.split("_")[0]] = self.type_spec(decl, span)
            elif kind == "node_decl":
                fields["nodes"].append(self.node(decl, span) if memo is None else self.kept_node(decl, span, memo))
        if graph_decl is None:
            self.sink.error(
                "E010",
                ir.Span(file=self.source.name, line=1, column=1, end_line=1, end_column=2),
                "missing `graph NAME` declaration",
                "start the spec with e.g. `graph MyFlow`",
            )
            fields.setdefault("name", "Graph")
            fields.setdefault("name_span", ir.Span.start_of(self.source.name))
        fields["comments"] = [self.comment(line, column, body) for line, column, body in comments]
        return ir.GraphSpec(span=ir.Span.start_of(self.source.name), **fields)

    def kept_node(self, decl: Tree, span: ir.Span, memo: _NodeMemo) -> ir.NodeSpec:
        """The node of `decl`, built again only if it moved (an editor re-checks mostly unchanged text).

        Only a node built without a diagnostic is kept: replaying one could differ from the full
        parse, which reports an over-deep expression once per file.
        """
        node = memo.get(span.line)
        if node is None:
            before = len(self.sink.items)
            node = self.node(decl, span)
            if len(self.sink.items) == before:
                if len(memo) > 1:  # where it stood before: keep one
                    memo.clear()
                memo[span.line] = node
        return node

    def use_spec(self, decl: Tree, span: ir.Span) -> ir.UseSpec:
        name_token, path = decl.children
        path_value = self.convert.string(path.children[0])
        if isinstance(path_value, ir.FString) or not isinstance(path_value.value, str):
            self.sink.error("E015", path_value.span, "the path of a used spec must be a plain string")
            text = ""
        else:
            text = path_value.value
        return ir.UseSpec(
            span=span,
            name=self.convert.check_name(name_token, "graph name"),
            name_span=self.convert.token_span(name_token),
            path=text,
            path_span=path_value.span,
        )

    def schedule(self, decl: Tree, span: ir.Span) -> ir.ScheduleSpec:
        convert = self.convert
        name_token, when, missed, target = decl.children
        fields: dict[str, Any] = {}
        if when.data == "every":
            fields["every_text"] = text = str(when.children[0])
            fields["every"] = duration_seconds(text)
        else:
            cron = convert.string(when.children[0].children[0])
            if isinstance(cron, ir.FString) or not isinstance(cron.value, str):
                self.sink.error("E015", cron.span, "a cron expression must be a plain string")
            else:
                fields["cron"], fields["cron_span"] = cron.value, cron.span
        if missed is not None:
            if str(missed) not in MISSED:
                self.sink.error(
                    "E022", convert.token_span(missed), f"`missed {missed}`: say `skip`, `once` or `all`", None
                )
            else:
                fields["missed"] = str(missed)
        return ir.ScheduleSpec(
            span=span,
            name=convert.check_name(name_token, "schedule name"),
            name_span=convert.token_span(name_token),
            to=convert.transition(target, None, convert.tree_span(target)),
            **fields,
        )

    def comment(self, line: int, column: int, body: str) -> ir.Comment:
        own_line = self.source.line(line)[: column - 1].strip() == ""
        span = ir.Span(file=self.source.name, line=line, column=column, end_line=line, end_column=column + len(body))
        return ir.Comment(span=span, text=body, own_line=own_line)

    def import_spec(self, body: Tree, span: ir.Span) -> ir.ImportSpec:
        return import_from_tree(self.convert, body, span)

    def type_spec(self, decl: Tree, span: ir.Span) -> ir.TypeSpec:
        convert = self.convert
        if str(decl.data).endswith("_ref"):
            return ir.TypeSpec(span=span, ref=".".join(str(t) for t in decl.children[0].children))
        class_name_token, *lines = decl.children
        class_name = convert.check_name(class_name_token, "class name") if class_name_token is not None else None
        return ir.TypeSpec(
            span=span,
            class_name=class_name,
            fields=[self.param(line.children[0]) for line in lines if isinstance(line, Tree)],
        )

    def param(self, param: Tree) -> ir.FieldSpec:
        name, type_tree, default = param.children
        return self.convert.field(name, type_tree, default, self.convert.tree_span(param))

    def node(self, decl: Tree, span: ir.Span) -> ir.NodeSpec:
        convert = self.convert
        name_token, params, waits, policies, body = decl.children
        fields = [self.param(p) for p in params.children if p is not None] if params is not None else []
        waited = [self.param(p) for p in waits.children[0].children] if waits is not None else []
        deadline = self.deadline(waits.children[1]) if waits is not None and waits.children[1] is not None else None
        retry, timeout, checkpoint, sleep = self.policies(policies)
        errors = [self.on_error(item) for item in body.children if item.data == "on_error"]
        items = [item for item in body.children if item.data != "on_error"]
        doc = None
        first = items[0] if items else None
        if isinstance(first, Tree) and first.data == "stmt":
            inner = first.children[0]
            if inner.data == "expr_stmt" and getattr(inner.children[0], "type", None) in STRING_TOKENS:
                value = convert.string(inner.children[0])
                if isinstance(value, ir.Constant) and isinstance(value.value, str):
                    doc = value.value
                    items = items[1:]
        statements, branches = self.body(items)
        if not branches:
            self.sink.error(
                "E008",
                convert.token_span(name_token),
                f"node `{name_token}` has no transition",
                "end the node with `-> NextNode(...)` or `-> End(value)`",
            )
        return ir.NodeSpec(
            span=span,
            name=convert.check_name(name_token, "node name"),
            name_span=convert.token_span(name_token),
            doc=doc,
            fields=fields,
            waits=waited,
            retry=retry,
            timeout=timeout,
            deadline=deadline,
            sleep=sleep,
            checkpoint=checkpoint,
            errors=errors,
            do=statements,
            next=branches,
        ).normalized()

    def deadline(self, tree: Tree) -> ir.Deadline:
        duration, target = tree.children
        span = self.convert.tree_span(tree)
        to = self.convert.transition(target, None, self.convert.merge(self.convert.token_span(duration), span))
        return ir.Deadline(span=span, seconds=duration_seconds(str(duration)) or 0.0, text=str(duration), to=to)

    def policies(self, policies: Tree | None) -> tuple[ir.RetryPolicy | None, ir.Timeout | None, bool, ir.Sleep | None]:
        """`retry ...`, `timeout ...`, `checkpoint` and `sleep ...` after a node's fields, each at most once."""
        retry: ir.RetryPolicy | None = None
        timeout: ir.Timeout | None = None
        sleep: ir.Sleep | None = None
        checkpoint = False
        for policy in policies.children if policies is not None else []:
            span = self.convert.tree_span(policy)
            if policy.data == "checkpoint_policy":
                if checkpoint:
                    self.sink.error("E011", span, "`checkpoint` is given twice for this node")
                checkpoint = True
                continue
            if policy.data == "sleep_policy":
                if sleep is not None:
                    self.sink.error("E011", span, "`sleep` is given twice for this node")
                sleep = sleep_from_tree(self.convert, policy.children[0], span)
                continue
            if (retry if policy.data == "retry_policy" else timeout) is not None:
                self.sink.error("E011", span, f"`{str(policy.data).split('_')[0]}` is given twice for this node")
                continue
            if policy.data == "timeout_policy":
                timeout = ir.Timeout(span=span, seconds=float(self.convert.number(policy.children[0])))
                continue
            attempts, backoff, cap, exceptions = policy.children
            retry = ir.RetryPolicy(
                span=span,
                attempts=self.convert.number(attempts),  # type: ignore[arg-type]  # as written: `retry 2.5` stays a float
                backoff=float(self.convert.number(backoff)) if backoff is not None else 0.0,
                max_backoff=float(self.convert.number(cap)) if cap is not None else None,
                on=self.exception_names(exceptions) if exceptions is not None else [],
            )
        return retry, timeout, checkpoint, sleep

    def exception_names(self, exceptions: Tree) -> list[str]:
        return [".".join(str(t) for t in dotted.children) for dotted in exceptions.children if dotted is not None]

    def on_error(self, item: Tree) -> ir.ErrorBranch:
        exceptions, name, arrow = item.children
        return ir.ErrorBranch(
            span=self.convert.tree_span(item),
            exceptions=self.exception_names(exceptions),
            exceptions_span=self.convert.tree_span(exceptions),
            name=self.convert.check_name(name, "exception name") if name is not None else None,
            to=self.arrow(arrow),
        )

    def body(self, items: list[Tree]) -> tuple[list[ir.Statement], list[ir.Branch]]:
        """Statements, then branches, of a node or a block.

        Statements standing after branches run when none of those was taken: with every
        item after them they form an unconditional branch that ends the list.
        """
        statements: list[ir.Statement] = []
        branches: list[ir.Branch] = []
        for index, item in enumerate(items):
            if item.data == "on_error":
                self.sink.error(
                    "E008",
                    self.convert.tree_span(item),
                    "`on` branches belong to the node, not to a block",
                    "put it at the node's top level: it covers the whole node",
                )
                continue
            if item.data != "stmt":
                branches.append(self.branch(item))
                continue
            if not branches:
                statements.append(self.convert.statement(item.children[0]))
                continue
            if branches[-1].condition is None:
                self.sink.error(
                    "E303", self.convert.tree_span(item), "nothing may follow `->` here", "this line is never reached"
                )
                break
            rest_statements, rest_branches = self.body(items[index:])
            if not rest_branches:
                self.sink.error(
                    "E301",
                    rest_statements[-1].span,
                    "these statements are not followed by a transition",
                    "end them with `-> NextNode(...)` or `-> End(value)`",
                )
                break
            span = self.convert.merge(rest_statements[0].span, rest_branches[-1].span)
            branches.append(ir.Branch(span=span, do=rest_statements, next=rest_branches))
            break
        return statements, branches

    def branch(self, item: Tree) -> ir.Branch:
        convert = self.convert
        kind = str(item.data)
        span = convert.tree_span(item)
        if kind == "goto":
            return ir.Branch(span=span, to=self.arrow(item.children[0]))
        if kind == "if_arrow":
            condition, arrow = item.children
            return ir.Branch(span=span, condition=convert.expr(condition), to=self.arrow(arrow))
        condition = convert.expr(item.children[0]) if kind == "if_block" else None
        statements, branches = self.body(list(item.children[-1].children))
        if not branches:
            self.sink.error(
                "E301",
                span,
                "this block does not end with a transition",
                "finish the block with `-> NextNode(...)` or `-> End(value)`",
            )
            end = ir.Transition(span=span, target="End", target_span=span, args=[ir.Constant(span=span, value=None)])
            return ir.Branch(span=span, condition=condition, do=statements, to=end)
        return ir.Branch(span=span, condition=condition, do=statements, next=branches)

    def arrow(self, arrow: Tree) -> ir.Transition:
        target, fanout, label = arrow.children
        return self.convert.transition(target, label, self.convert.tree_span(arrow), fanout)


MISSED = ("skip", "once", "all")
"""What a schedule does with the ticks it missed while no worker was up."""


def sleep_from_tree(convert: TreeToIR, tree: Tree, span: ir.Span) -> ir.Sleep:
    """A `sleep_time` subtree: a duration, or `until EXPR` (shared with the YAML/TOML front-ends)."""
    child = tree.children[0]
    if isinstance(child, Tree):
        return ir.Sleep(span=span, until=convert.expr(child))
    if getattr(child, "type", None) == "DURATION":
        return ir.Sleep(span=span, seconds=duration_seconds(str(child)), text=str(child))
    return ir.Sleep(span=span, until=convert.expr(child))


def import_from_tree(convert: TreeToIR, body: Tree, span: ir.Span) -> ir.ImportSpec:
    """An `ImportSpec` from an `import_body` subtree (shared with the YAML/TOML front-ends)."""
    dotted, *names = body.children
    module = ".".join(str(t) for t in dotted.children)
    for part in dotted.children:
        if convert.nfkc(part, str(part), "module name") and str(part).startswith("_") and str(part) != "__future__":
            convert.sink.error("E012", convert.token_span(part), f"module path `{module}` has a part starting with `_`")
    imported = []
    for entry in names:
        name_token, alias_token = entry.children
        name = str(name_token)
        if convert.nfkc(name_token, name, "imported name") and name.startswith("_"):
            convert.sink.error("E012", convert.token_span(name_token), f"imported name `{name}` starts with `_`")
        alias = convert.check_name(alias_token, "import alias") if alias_token is not None else None
        imported.append(ir.ImportName(span=convert.tree_span(entry), name=name, alias=alias))
    return ir.ImportSpec(span=span, module=module, names=imported, module_span=convert.tree_span(dotted))
