"""Name resolution and checks: `GraphSpec` → `CheckedGraph` + diagnostics.

`CheckedGraph` is a separate type so code generation can only receive a spec that
passed every check. All problems of a spec are collected before raising.
"""

from __future__ import annotations

import builtins
import keyword
from collections.abc import Callable, Iterable, Iterator, Sequence

from dsl import ir
from dsl.diagnostics import Diagnostic, Diagnostics, closest, did_you_mean
from dsl.record import Record, field, record
from dsl.timing import cron_problem
from dsl.unparse import ExprWriter, seconds_text

from .imports import ModuleInfo, find_module, import_origin, is_exception_class, module_candidates, search_path_for

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

    from .uses import UsedSpecs

__all__ = (
    "BUILTINS",
    "PURE_BUILTINS",
    "CheckedGraph",
    "NodeScope",
    "check_spec",
    "pure_node",
    "waits_text",
    "walk_branches",
    "walk_expression",
)

BUILTINS = frozenset(
    [
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "enumerate",
        "float",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "print",
        "range",
        "repr",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
        "zip",
    ]
)
"""Builtins a spec expression may call (`runtime.trust.SAFE_BUILTINS` is the same set: a test holds them equal;
importing it here would load the whole runtime into every `graphc check`)."""

TYPE_NAMES = frozenset(
    [
        "int",
        "float",
        "str",
        "bool",
        "bytes",
        "None",
        "Any",
        "Failure",
        "list",
        "dict",
        "set",
        "frozenset",
        "tuple",
        "object",
        "complex",
    ]
)
_GENERIC_ARITY = {"list": 1, "set": 1, "frozenset": 1, "dict": 2}
TYPING_NAMES = frozenset(["Annotated", "Any", "Literal"])
"""Names from `typing` that generated code may import itself: a spec may import them too."""
RESERVED = frozenset(
    [
        "self",
        "ctx",
        "state",
        "deps",
        "graph",
        "start",
        "End",
        "BaseNode",
        "Edge",
        "Graph",
        "GraphRunContext",
        "Annotated",
        "Any",
        "Literal",
        "dataclass",
        "field",
        "annotations",
        "SPEC_FILE",
        "WAITING",
        "Fork",
        "Failure",
        "Runs",
        "subgraph",
        "SUBGRAPH_STATE",
        "SUBGRAPH_DEPS",
        "Deadline",
        "Sleep",
    ]
)
"""Names generated code uses itself: no node, field, import or local may take them."""
NODE_ATTRIBUTES = frozenset(
    ["run", "run_once", "docstring_notes", "waits_for", "pure", "answer_deadline", "sleep_policy", "sleep_until"]
)
"""What a generated node class defines besides its fields: no field may take these names."""


@record(frozen=False)
class NodeScope(Record):
    """How the names used inside one node resolve."""

    fields: set[str] = field(default_factory=set)
    locals: set[str] = field(default_factory=set)


@record(frozen=False)
class CheckedGraph(Record):
    """A spec that passed every check, with what code generation needs to know about it."""

    spec: ir.GraphSpec
    source_name: str
    imports: dict[str, ir.ImportName]
    external_nodes: list[str]
    """Imported names used as transition targets: hand-written nodes that join the graph."""
    scopes: dict[str, NodeScope]
    allowed_imports: tuple[str, ...] | None = None
    """The allow-list the spec was checked under: its module then runs under `runtime.trust`."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Warnings found while checking."""
    uses: dict[str, CheckedGraph] = field(default_factory=dict)
    """The specs this one runs as sub-graphs, checked, by the names it gives them."""
    pure_nodes: frozenset[str] = frozenset()
    """Nodes whose `run` computes only from their fields, state and deps (`pure_node`): a durable run
    records them in the step of the node before them."""

    @property
    def state_class(self) -> str | None:
        """The state type's name as generated code writes it."""
        return _type_spec_name(self.spec.state, f"{self.spec.name}State")

    @property
    def deps_class(self) -> str | None:
        """The deps type's name as generated code writes it."""
        return _type_spec_name(self.spec.deps, f"{self.spec.name}Deps")


def _type_spec_name(type_spec: ir.TypeSpec | None, default: str) -> str | None:
    if type_spec is None:
        return None
    return type_spec.ref or type_spec.class_name or default


def check_spec(
    spec: ir.GraphSpec,
    *,
    allowed_imports: Iterable[str] | None = None,
    search_path: Sequence[str] | None = None,
    uses: UsedSpecs | None = None,
) -> CheckedGraph:
    """Resolve names and check a spec.

    Args:
        spec: The parsed spec.
        allowed_imports: If given, only these modules (or their submodules) may be imported.
        search_path: Where imported modules are looked for (without importing them); default:
            the spec file's directory, then `sys.path`.
        uses: Where the specs it uses (`use NAME from "PATH"`) come from; default: the disk,
            beside the spec (refused under an allow-list: pass their texts).

    Returns:
        The checked graph; `diagnostics` holds its warnings.

    Raises:
        DiagnosticError: with every error (and warning) found.
    """
    checker = _Checker(spec, allowed_imports, search_path or search_path_for(spec.span.file))
    if spec.uses:
        from .uses import UsedSpecs, check_uses

        checker.uses, problems = check_uses(spec, uses or UsedSpecs(spec.span.file), checker.allowed_imports)
        for problem in problems:
            checker.sink.add(problem)
        checker.unusable = {use.name for use in spec.uses} - set(checker.uses)  # reported once, at the `use`
    checker.run()
    checker.sink.raise_if_errors()
    checked = CheckedGraph(
        spec=spec,
        source_name=spec.span.file,
        imports=checker.imports,
        external_nodes=sorted(checker.external_targets, key=list(checker.imports).index),
        scopes=checker.scopes,
        allowed_imports=checker.allowed_imports,
        uses=checker.uses,
        pure_nodes=frozenset(
            n.name
            for n in spec.nodes
            if pure_node(n, checker.scopes.get(n.name), checker.uses, checker.state_fields or {})
        ),
    )
    checked.diagnostics = list(checker.sink.sorted())
    return checked


class _Checker:
    def __init__(self, spec: ir.GraphSpec, allowed_imports: Iterable[str] | None, search_path: Sequence[str]) -> None:
        self.spec = spec
        self.search_path = search_path
        self.import_modules: dict[str, ModuleInfo] = {}  # local name -> the module it comes from
        self.imported_modules: dict[str, ModuleInfo] = {}  # local name -> the submodule it is (allow-list checks)
        self.sink = Diagnostics()
        self.allowed_imports = None if allowed_imports is None else tuple(allowed_imports)
        self.nodes: dict[str, ir.NodeSpec] = {}
        self.imports: dict[str, ir.ImportName] = {}
        self.used_imports: set[str] = set()
        self.external_targets: set[str] = set()
        self.scopes: dict[str, NodeScope] = {}
        self.current: ir.NodeSpec = (
            spec.nodes[0] if spec.nodes else ir.NodeSpec(span=spec.span, name="", name_span=spec.span)
        )
        self._known_types: set[str] | None = None
        self.uses: dict[str, CheckedGraph] = {}
        self.unusable: set[str] = set()
        self.state_fields = self._field_names(spec.state)
        self.deps_fields = self._field_names(spec.deps)

    @staticmethod
    def _field_names(type_spec: ir.TypeSpec | None) -> dict[str, ir.FieldSpec] | None:
        if type_spec is None or type_spec.fields is None:
            return None
        return {f.name: f for f in type_spec.fields}

    # ---- declarations -------------------------------------------------------------------

    def run(self) -> None:
        self.declarations()
        for node in self.spec.nodes:
            self.node(node)
        self.schedules()
        if not self.sink.has_errors:  # reachability is noise while names are still wrong
            self.flow_warnings()
        for name, imported in self.imports.items():
            if name not in self.used_imports:
                self.sink.warning("W403", imported.span, f"`{name}` is imported but never used")

    def declarations(self) -> None:
        spec = self.spec
        generated = self.generated_classes
        for imp in spec.imports:
            if self.allowed_imports is not None and not self.allowed(imp.module):
                self.sink.error(
                    "E120",
                    imp.span,
                    f"import from `{imp.module}` is not allowed",
                    "allowed modules: " + (", ".join(f"`{m}`" for m in self.allowed_imports) or "none"),
                )
            else:
                self.resolve_import(imp)
            for name in imp.names:
                local = name.local_name
                if local in self.imports:
                    self.sink.error(
                        "E109",
                        name.span,
                        f"`{local}` is imported twice",
                        f"the first import is at line {self.imports[local].span.line}",
                    )
                elif imp.module == "typing" and name.alias is None and local in TYPING_NAMES:
                    self.imports[local] = name  # the same object generated code imports
                elif local in RESERVED or local in generated:
                    self.sink.error(
                        "E107",
                        name.span,
                        f"`{local}` is reserved for generated code",
                        f"import it under another name: `{name.name} as ...`",
                    )
                else:
                    self.imports[local] = name
        for node in spec.nodes:
            if node.name in self.nodes:
                self.sink.error(
                    "E104",
                    node.name_span,
                    f"node `{node.name}` is defined twice",
                    f"the first definition is at line {self.nodes[node.name].name_span.line}",
                )
                continue
            if node.name in generated:
                self.sink.error(
                    "E107",
                    node.name_span,
                    f"node `{node.name}` has the name of the state or deps class",
                    "rename the node or the class",
                )
            elif node.name in RESERVED or node.name in BUILTINS or node.name in TYPE_NAMES:
                self.sink.error(
                    "E107",
                    node.name_span,
                    f"`{node.name}` cannot be a node name",
                    "it is reserved for generated code or a builtin; rename the node",
                )
            elif node.name in self.imports:
                self.sink.error(
                    "E104",
                    node.name_span,
                    f"node `{node.name}` has the name of an import",
                    f"the import is at line {self.imports[node.name].span.line}",
                )
            self.nodes[node.name] = node
        seen_uses: dict[str, ir.UseSpec] = {}
        for use in spec.uses:
            taken = (
                f"the use at line {seen_uses[use.name].span.line}"
                if use.name in seen_uses
                else f"node `{use.name}`"
                if use.name in self.nodes
                else f"the import at line {self.imports[use.name].span.line}"
                if use.name in self.imports
                else "a name generated code or a builtin uses"
                if use.name in RESERVED or use.name in BUILTINS or use.name in TYPE_NAMES or use.name in generated
                else None
            )
            if taken is not None:
                self.sink.error("E104", use.name_span, f"`{use.name}` is taken by {taken}", "use it under another name")
            seen_uses[use.name] = use
        if spec.start is not None and spec.start not in self.nodes and spec.start not in self.imports:
            span = spec.start_span or spec.name_span
            hint, fixes = closest(spec.start, self.nodes, span)
            self.sink.error("E106", span, f"unknown start node `{spec.start}`", hint or _node_list(self.nodes), fixes)
        elif spec.start is None and spec.nodes:
            self.sink.warning(
                "W404",
                spec.name_span,
                f"graph `{spec.name}` declares no start node: `graphc run` and `graph.run()` then need one passed",
                f"add a `start` line after `graph`; {_node_list(self.nodes)}",
            )
        for type_spec in (spec.state, spec.deps):
            if type_spec is not None and type_spec.ref is not None and "." in type_spec.ref:
                self.dotted_reference(type_spec.ref, type_spec.span)
            if type_spec is not None and type_spec.fields is not None:
                self.fields(type_spec.fields, "state" if type_spec is spec.state else "deps")
        if spec.output is not None:
            self.type(spec.output)
        if not spec.nodes:
            self.sink.error("E121", spec.name_span, f"graph `{spec.name}` has no nodes")

    def resolve_import(self, imp: ir.ImportSpec) -> None:
        """E122/E123: the module and each name must exist on the import path (found, not imported)."""
        module = self.find_module(imp.module, imp.module_span or imp.span)
        if module is None:
            return
        for name in imp.names:
            self.import_modules[name.local_name] = module
            if self.allowed_imports is not None:
                self.reexport(module, name)
            if not module.has(name.name):
                public = [n for n in module.names or () if not n.startswith("_")]
                hint, fixes = closest(name.name, public, name.span if name.alias is None else None)
                self.sink.error(
                    "E123",
                    name.span,
                    f"module `{imp.module}` has no name `{name.name}`",
                    hint or f"check the name, or the installed version of `{imp.module}`",
                    fixes,
                )

    def reexport(self, module: ModuleInfo, name: ir.ImportName) -> None:
        """Under an allow-list, E141 for a name `module` itself imports from a module outside the list."""
        origin = import_origin(module, name.name)
        if origin is not None and not self.allowed(origin):
            self.foreign_name(name.span, f"`{name.name}` in `{module.name}`", module, origin)
        elif origin is None and module.submodule_locations:
            submodule = find_module(f"{module.name}.{name.name}", self.search_path)
            if submodule is not None:
                self.imported_modules[name.local_name] = submodule

    def find_module(self, name: str, span: ir.Span) -> ModuleInfo | None:
        """The module `name` on the search path, or None after reporting E122."""
        module = find_module(name, self.search_path)
        if module is None:
            hint, fixes = closest(name, module_candidates(name, self.search_path), span)
            where = "it is neither beside the spec nor on sys.path: install it, or check the name"
            self.sink.error("E122", span, f"cannot find module `{name}`", hint or where, fixes)
        return module

    def dotted_reference(self, name: str, span: ir.Span) -> None:
        """A dotted type such as `pkg.mod.Type`, which generated code imports as `import pkg.mod`."""
        module_name, _, attr = name.rpartition(".")
        if self.allowed_imports is not None and not self.allowed(module_name):
            self.sink.error(
                "E120",
                span,
                f"`{name}` is from `{module_name}`, which is not allowed",
                "allowed modules: " + (", ".join(f"`{m}`" for m in self.allowed_imports) or "none"),
            )
            return
        module = self.find_module(module_name, span)
        if module is not None and not module.has(attr):
            hint = did_you_mean(attr, [n for n in module.names or () if not n.startswith("_")])
            self.sink.error("E123", span, f"module `{module_name}` has no name `{attr}`", hint)

    @property
    def generated_classes(self) -> set[str]:
        """Names of the state and deps classes the module will define (not those it imports)."""
        names = (self._class_name(self.spec.state, "State"), self._class_name(self.spec.deps, "Deps"))
        return {name for name in names if name}

    def _class_name(self, type_spec: ir.TypeSpec | None, suffix: str) -> str | None:
        if type_spec is None or type_spec.ref is not None:
            return None
        return type_spec.class_name or f"{self.spec.name}{suffix}"

    def fields(self, fields: list[ir.FieldSpec], owner: str, waited: frozenset[str] = frozenset()) -> set[str]:
        names: set[str] = set()
        seen_default: ir.FieldSpec | None = None
        for f in fields:
            if f.name in names:
                self.sink.error("E105", f.span, f"field `{f.name}` of {owner} is declared twice")
            elif f.name in RESERVED or f.name in NODE_ATTRIBUTES or f.name.startswith("get_"):
                self.sink.error("E107", f.span, f"`{f.name}` cannot be a field name", "it is used by generated code")
            names.add(f.name)
            self.type(f.type)
            if f.default is not None:
                seen_default = f
                self.expr(f.default, NodeScope(), defined=set(), where="a default value")
            elif seen_default is not None and f.name not in waited:  # a waited-for field is set from outside
                self.sink.error(
                    "E112",
                    f.span,
                    f"field `{f.name}` without a default follows `{seen_default.name}`, which has one",
                    "give it a default, or move it before the fields with defaults",
                )
        return names

    def known_types(self) -> set[str]:
        """Type names a spec may use unqualified (computed once, after the declarations)."""
        if self._known_types is None:
            self._known_types = {*TYPE_NAMES, *self.imports, *self.nodes, *self.generated_classes}
        return self._known_types

    def type(self, node: ir.TypeExpr) -> None:
        if isinstance(node, ir.UnionType):
            for option in node.options:
                self.type(option)
            return
        if isinstance(node, (ir.LiteralType, ir.EllipsisType)):
            if isinstance(node, ir.LiteralType) and "Literal" in self.imports:
                self.used_imports.add("Literal")
            return
        known = self.known_types()
        head = node.name.split(".")[0]
        if "." not in node.name and node.name not in known:
            hint, fixes = closest(node.name, known, node.span if node.args is None else None)
            self.sink.error(
                "E110",
                node.span,
                f"unknown type `{node.name}`",
                hint or "import it with `from module import Name`",
                fixes,
            )
        elif head in self.imports:
            self.used_imports.add(head)
        elif "." in node.name:
            self.dotted_reference(node.name, node.span)
        arity = _GENERIC_ARITY.get(node.name)
        if node.args is not None:
            if arity is not None and len(node.args) != arity:
                self.sink.error(
                    "E111", node.span, f"`{node.name}[...]` takes {arity} type argument{'s' if arity > 1 else ''}"
                )
            for arg in node.args:
                if isinstance(arg, ir.EllipsisType) and node.name != "tuple":
                    self.sink.error("E111", arg.span, "`...` is only allowed in `tuple[T, ...]`")
                self.type(arg)

    # ---- node bodies ------------------------------------------------------------------------

    def node(self, node: ir.NodeSpec) -> None:
        self.current = node
        waited_names = frozenset(f.name for f in node.waits)
        scope = NodeScope(fields=self.fields(node.all_fields(), f"node `{node.name}`", waited_names))
        for waited in node.waits:
            if waited.default is not None:
                self.sink.error(
                    "E207",
                    waited.default.span,
                    f"waited-for field `{waited.name}` cannot have a default",
                    "its value comes from outside the graph when the run reaches the node",
                )
        self.scopes.setdefault(node.name, scope)
        all_locals = set(self._assigned_names(node))
        defined: set[str] = set()
        for statement in node.do:
            self.statement(statement, scope, defined, all_locals)
        if not node.next:
            self.sink.error("E301", node.name_span, f"node `{node.name}` has no branches")
            return
        self.branches(node.next, scope, defined, all_locals, f"node `{node.name}`")
        self.policies(node, scope)
        self.timers(node)

    def timers(self, node: ir.NodeSpec) -> None:
        """E160/E161: a deadline and a sleep, whose expressions see the node's fields, not what it waits for."""
        before = NodeScope(fields={f.name for f in node.fields})  # they are evaluated before the answer comes
        if node.sleep is not None:
            if node.sleep.until is not None:
                self.expr(node.sleep.until, before, set(), set())
            elif not node.sleep.seconds or node.sleep.seconds <= 0:
                self.sink.error("E160", node.sleep.span, "`sleep` needs a positive duration", "like 30s, 15m, 48h")
        deadline = node.deadline
        if deadline is None:
            return
        if not node.waits:
            self.sink.error(
                "E161", deadline.span, f"node `{node.name}` has a deadline but waits for nothing", "add `waits:`"
            )
        if deadline.seconds <= 0:
            self.sink.error("E160", deadline.span, "a wait's deadline needs a positive duration", "like 30s, 15m, 48h")
        calls = [a for a in [*deadline.to.args, *(k.value for k in deadline.to.keywords)] if self._runs_subgraph(a)]
        if calls or deadline.to.fanout is not None:
            self.sink.error(
                "E161",
                deadline.to.span,
                "a deadline's edge cannot run sub-graphs",
                "go to a node that runs them: the deadline only moves the run on",
            )
            return
        self.transition(deadline.to, before, set(), set())

    def _runs_subgraph(self, expr: ir.Expr) -> bool:
        if isinstance(expr, ir.Comprehension):
            expr = expr.element
        return isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and expr.func.id in self.uses

    def schedules(self) -> None:
        """E162: each schedule's timing, and its start node with constant arguments (nothing else exists then)."""
        seen: dict[str, ir.ScheduleSpec] = {}
        for schedule in self.spec.schedules:
            if schedule.name in seen:
                self.sink.error(
                    "E162",
                    schedule.name_span,
                    f"schedule `{schedule.name}` is declared twice",
                    f"the first is at line {seen[schedule.name].span.line}",
                )
            seen.setdefault(schedule.name, schedule)
            if schedule.cron is not None:
                problem = cron_problem(schedule.cron)
                if problem is not None:
                    self.sink.error("E162", schedule.cron_span or schedule.span, f"bad cron expression: {problem}")
            elif not schedule.every or schedule.every <= 0:
                self.sink.error("E162", schedule.span, "`every` needs a positive duration", "like 15m, 1h, 1d")
            to = schedule.to
            if to.is_end or to.target not in self.nodes:
                hint, _ = closest(to.target, list(self.nodes), to.target_span)
                self.sink.error("E162", to.target_span, f"a schedule starts a run at a node, not `{to.target}`", hint)
                continue
            for arg in [*to.args, *(k.value for k in to.keywords)]:
                names = [e for e in walk_expression(arg) if isinstance(e, ir.Name)]
                if names:
                    self.sink.error(
                        "E162",
                        names[0].span,
                        "a schedule's arguments are constants",
                        "no run exists yet when a tick starts one: write the value itself",
                    )
            node = self.nodes[to.target]
            self.arguments(node, f"`{to.target}`", to, waited=[f.name for f in node.waits])

    def policies(self, node: ir.NodeSpec, scope: NodeScope) -> None:
        """`retry` and `timeout` values, the exception classes they and the error branches name, and those branches."""
        if node.retry is not None:
            if node.retry.attempts < 1:
                self.sink.error("E114", node.retry.span, "`retry` needs at least 1 attempt")
            if node.retry.backoff < 0 or (node.retry.max_backoff is not None and node.retry.max_backoff < 0):
                self.sink.error("E114", node.retry.span, "`backoff` and `max` are seconds: they cannot be negative")
            for name in node.retry.on:
                self.exception_class(name, node.retry.span)
        if node.timeout is not None and node.timeout.seconds <= 0:
            self.sink.error("E114", node.timeout.span, "`timeout` must be a positive number of seconds")
        elif node.timeout is not None:
            for call in self._unawaited_calls(node):
                self.sink.warning(
                    "W405",
                    call.span,
                    f"`timeout {seconds_text(node.timeout.seconds)}` cannot interrupt this call: it is not awaited, "
                    "so it runs to its end however long it takes",
                    "a blocking call (`requests`, a database driver, `time.sleep`) holds the node past its timeout: "
                    "await an async function instead, or run the blocking one with `asyncio.to_thread`",
                )
        caught: list[tuple[str, ir.ErrorBranch]] = []
        for error in node.errors:
            classes = [self.exception_class(name, error.exceptions_span) for name in error.exceptions]
            for name, cls in zip(error.exceptions, classes, strict=True):
                broader = next(
                    (
                        (earlier, branch)
                        for earlier, branch in caught
                        if earlier == name or _subclass(cls, _builtin_exception(earlier))
                    ),
                    None,
                )
                if broader is not None:
                    self.sink.error(
                        "E304",
                        error.exceptions_span,
                        f"`{name}` is never caught here",
                        f"the error branch at line {broader[1].span.line} catches `{broader[0]}` first",
                    )
            caught += [(name, error) for name in error.exceptions]
            bound = {error.name} if error.name else set()
            if error.name is not None:
                clash = self._clash(error.name, scope)
                if clash:
                    self.sink.error("E107", error.span, f"`{error.name}` would hide {clash}", "choose another name")
            self.transition(error.to, scope, bound, bound)

    def _unawaited_calls(self, node: ir.NodeSpec) -> Iterator[ir.Call]:
        """Calls of imported code (or of `deps`) in a node that no `await` covers: a timeout cannot stop those."""
        statements = [*node.do, *(s for b in walk_branches(node.next) for s in b.do)]
        expressions: list[ir.Expr] = [b.condition for b in walk_branches(node.next) if b.condition is not None]
        for transition in [*(b.to for b in walk_branches(node.next) if b.to), *(e.to for e in node.errors)]:
            expressions += [*transition.args, *(k.value for k in transition.keywords)]
        for statement in statements:
            if statement.awaited and isinstance(statement.value, ir.Call):  # the awaited call itself may block: no
                call = statement.value
                expressions += [call.func, *call.args, *(k.value for k in call.keywords)]
            else:
                expressions.append(statement.value)
        for expression in expressions:
            for found in walk_expression(expression):
                if isinstance(found, ir.Call) and self._imported_code(found.func):
                    yield found

    def _imported_code(self, callee: ir.Expr) -> bool:
        while isinstance(callee, ir.Attribute):
            callee = callee.value
        return isinstance(callee, ir.Name) and (callee.id in self.imports or callee.id == "deps")

    def exception_class(self, name: str, span: ir.Span) -> _ExceptionClass | None:
        """E130 unless `name` is an exception class: a builtin one, or an imported name (checked where it can be)."""
        head = name.split(".")[0]
        if "." in name:
            self.dotted_reference(name, span)
            return None
        if name in self.imports:
            self.used_imports.add(head)
            imported = self.imports[name]
            module = self.import_modules.get(name)
            if module is not None and is_exception_class(module, imported.name) is False:
                self.sink.error(
                    "E131",
                    span,
                    f"`{name}` is not an exception class",
                    f"`{imported.name}` in `{module.name}` does not derive from `Exception`",
                )
            return None
        builtin = _builtin_exception(name)
        if builtin is None:
            known = [n for n in dir(builtins) if _builtin_exception(n) is not None]
            self.sink.error(
                "E130",
                span,
                f"unknown exception class `{name}`",
                did_you_mean(name, [*known, *self.imports]) or "import it with `from module import Name`",
            )
        return builtin

    def branches(
        self, branches: list[ir.Branch], scope: NodeScope, defined: set[str], all_locals: set[str], owner: str
    ) -> None:
        """One list of branches (a node's, or those nested in an `if` block): tried in order, one always taken."""
        unconditional: ir.Branch | None = None
        for branch in branches:
            if unconditional is not None:
                self.sink.error(
                    "E302",
                    branch.span,
                    "this branch is never taken",
                    f"the unconditional branch at line {unconditional.span.line} always runs first",
                )
            branch_defined = set(defined)
            if branch.condition is not None:
                self.expr(branch.condition, scope, branch_defined, all_locals)
            elif unconditional is None:
                unconditional = branch
            for statement in branch.do:
                self.statement(statement, scope, branch_defined, all_locals)
            if branch.to is not None:
                self.transition(branch.to, scope, branch_defined, all_locals)
            else:
                self.branches(branch.next, scope, branch_defined, all_locals, f"the block at line {branch.span.line}")
        last = branches[-1]
        if last.condition is not None and unconditional is None:
            self.sink.error(
                "E301",
                last.span,
                f"{owner} may fall through: its last branch is conditional",
                "add a final unconditional `-> Target(...)` or an `else:` block",
            )

    @staticmethod
    def _assigned_names(node: ir.NodeSpec) -> Iterator[str]:
        for s in [*node.do, *(s for b in walk_branches(node.next) for s in b.do)]:
            if isinstance(s, ir.Assign) and isinstance(s.target, ir.Name):
                yield s.target.id

    def statement(self, statement: ir.Statement, scope: NodeScope, defined: set[str], all_locals: set[str]) -> None:
        self.expr(statement.value, scope, defined, all_locals)
        if isinstance(statement, ir.ExprStmt):
            return
        target = statement.target
        if isinstance(target, ir.Name):
            name = target.id
            if statement.op != "=":
                self.expr(target, scope, defined, all_locals)
                return
            clash = self._clash(name, scope)
            if clash:
                self.sink.error("E107", target.span, f"local `{name}` would hide {clash}", "choose another name")
            defined.add(name)
            scope.locals.add(name)
        else:
            self.expr(target, scope, defined, all_locals)

    def _clash(self, name: str, scope: NodeScope) -> str | None:
        if name in RESERVED:
            return "a name generated code uses"
        if name in scope.fields:
            return f"the field `{name}`"
        if name in self.imports:
            return f"the import `{name}`"
        if name in self.nodes:
            return f"the node `{name}`"
        if name in BUILTINS or hasattr(builtins, name) or keyword.iskeyword(name):
            return f"the builtin `{name}`"
        return None

    def transition(self, transition: ir.Transition, scope: NodeScope, defined: set[str], all_locals: set[str]) -> None:
        runs: list[tuple[ir.Expr, CheckedGraph, bool]] = []  # (argument, callee, once per item)
        for arg in [*transition.args, *(k.value for k in transition.keywords)]:
            run = self.subgraph_run(arg, scope, defined, all_locals)
            if run is None:
                self.expr(arg, scope, defined, all_locals)
            else:
                runs.append((arg, *run))
        self.fanout(transition, bool(runs))
        target = transition.target
        if transition.is_end:
            self.end(transition, scope)
            if runs and len(transition.args) == 1 and self.spec.output is not None:
                self.joined(
                    transition.args[0], runs[0][1], runs[0][2], self.spec.output, "the graph's output", transition
                )
            return
        node = self.nodes.get(target)
        if node is None:
            if target in self.imports:
                self.used_imports.add(target)
                self.external_targets.add(target)
                return
            hint, fixes = closest(target, [*self.nodes, *self.imports, "End"], transition.target_span)
            self.sink.error("E101", transition.target_span, f"unknown node `{target}`", hint, fixes)
            return
        self.arguments(node, f"`{target}`", transition, waited=[f.name for f in node.waits])
        by_field = dict(zip((f.name for f in node.fields), transition.args, strict=False))
        by_field.update((k.name, k.value) for k in transition.keywords)
        for name, value in by_field.items():
            declared = next((f for f in node.fields if f.name == name), None)
            callee = next(((c, each) for arg, c, each in runs if arg is value), None)
            if declared is not None and callee is not None:
                self.joined(value, *callee, declared.type, f"field `{name}` of `{target}`", transition)

    def arguments(
        self,
        node: ir.NodeSpec,
        what: str,
        call: ir.Transition | ir.Call,
        waited: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        """E201-E204, E207: a transition's (or a sub-graph call's) arguments against the node's fields."""
        fields = [f.name for f in node.fields]
        if len(call.args) > len(fields):
            extra = call.args[len(fields)]
            self.sink.error(
                "E201",
                extra.span,
                f"{what} takes {len(fields)} argument{'s' if len(fields) != 1 else ''} but {len(call.args)} were given",
                _signature(node, self.spec.span.file),
            )
        given = set(fields[: len(call.args)])
        for kw in call.keywords:
            if kw.name in waited:
                self.sink.error(
                    "E207",
                    kw.span,
                    f"field `{kw.name}` of {what} is waited for: it cannot be given here",
                    f"the run stops at {what} until a value for it comes from outside the graph",
                )
            elif kw.name not in fields:
                self.sink.error(
                    "E203",
                    kw.span,
                    f"{what} has no field `{kw.name}`",
                    did_you_mean(kw.name, fields) or _signature(node, self.spec.span.file),
                )
            elif kw.name in given:
                self.sink.error("E204", kw.span, f"field `{kw.name}` of {what} is given twice")
            given.add(kw.name)
        missing = [f.name for f in node.fields if f.default is None and f.name not in given]
        if missing:
            names = ", ".join(f"`{m}`" for m in missing)
            self.sink.error("E202", call.span, f"{what} is missing {names}", _signature(node, self.spec.span.file))

    # ---- sub-graphs ----------------------------------------------------------------------------

    def subgraph_run(
        self, arg: ir.Expr, scope: NodeScope, defined: set[str], all_locals: set[str]
    ) -> tuple[CheckedGraph, bool] | None:
        """A transition's argument that runs a used graph (`Summarize(text)`, `[Fetch(u) for u in urls]`), checked.

        Returns the callee and whether it runs once per item; None for any other argument.
        """
        call, each = arg, False
        if isinstance(arg, ir.Comprehension) and arg.form == "list":
            call, each = arg.element, True
        if not (isinstance(call, ir.Call) and isinstance(call.func, ir.Name) and call.func.id in self.uses):
            return None
        callee = self.uses[call.func.id]
        inner = set(defined)
        if isinstance(arg, ir.Comprehension):
            for clause in arg.generators:
                self.expr(clause.iter, scope, inner, all_locals)
                inner.update(clause.targets)
                for condition in clause.ifs:
                    self.expr(condition, scope, inner, all_locals)
        for value in [*call.args, *(k.value for k in call.keywords)]:
            self.expr(value, scope, inner, all_locals)
        start = next(n for n in callee.spec.nodes if n.name == callee.spec.start)
        self.arguments(start, f"sub-graph `{call.func.id}` (its start `{start.name}`)", call)
        return callee, each

    def fanout(self, transition: ir.Transition, runs: bool) -> None:
        """E156: `limit` and `tolerate` only where sub-graphs run, with numbers that make sense."""
        fanout = transition.fanout
        if fanout is None:
            return
        if not runs:
            self.sink.error(
                "E156",
                fanout.span,
                "`limit` and `tolerate` apply to sub-graph runs, and this transition runs none",
                "call a graph named by `use` in the arguments, or remove them",
            )
        if fanout.limit is not None and fanout.limit < 1:
            self.sink.error("E156", fanout.span, "`limit` must be 1 or more")
        if fanout.percent and fanout.tolerate is not None and fanout.tolerate > 100:
            self.sink.error("E156", fanout.span, "`tolerate` cannot be more than 100%")

    def joined(
        self,
        value: ir.Expr,
        callee: CheckedGraph,
        each: bool,
        declared: ir.TypeExpr,
        where: str,
        transition: ir.Transition,
    ) -> None:
        """E155: what the join receives — the callee's output, or a list of them — fits where it goes."""
        output = _type_text(callee.spec.output) if callee.spec.output is not None else "None"
        tolerated = transition.fanout is not None and bool(transition.fanout.tolerate)
        item = (
            declared.args[0]
            if isinstance(declared, ir.NamedType) and declared.name == "list" and declared.args
            else None
        )
        if not each:
            problem = None if _accepts(declared, output) else f"the sub-graph's output is `{output}`"
        elif item is None or not _accepts(item, output):
            problem = f"a run per item gives `list[{output}]`"
        elif tolerated and not _accepts(item, "Failure"):
            problem = "the failures it tolerates are given to the join as `Failure`"
        else:
            problem = None
        if problem is not None:
            expected = f"list[{output}{' | Failure' if tolerated else ''}]" if each else output
            self.sink.error(
                "E155",
                value.span,
                f"{where} is `{_type_text(declared)}`, which cannot take these results: {problem}",
                f"declare it `{expected}`",
            )

    def end(self, transition: ir.Transition, scope: NodeScope) -> None:
        if len(transition.args) != 1 or transition.keywords:
            self.sink.error(
                "E206",
                transition.span,
                "`End` takes exactly one value",
                "write `End(value)`, or `End(None)` for a graph without output",
            )
            return
        value_type = self.static_type(transition.args[0], scope)
        allowed = _simple_types(self.spec.output) if self.spec.output is not None else {"None"}
        if value_type is None or allowed is None:
            return
        if (
            value_type not in allowed
            and not (value_type == "int" and "float" in allowed)
            and not (value_type == "bool" and "int" in allowed)
        ):
            declared = (
                "None (no `-> TYPE` on `graph`)" if self.spec.output is None else f"`{_type_text(self.spec.output)}`"
            )
            self.sink.error(
                "E205",
                transition.args[0].span,
                f"`End` gets a value of type `{value_type}` but the graph's output is {declared}",
                "change the value, or the output type on the `graph` line",
            )

    def static_type(self, expr: ir.Expr, scope: NodeScope) -> str | None:
        """The simple type of an expression when it is evident, else None."""
        if isinstance(expr, ir.Constant):
            return "None" if expr.value is None else type(expr.value).__name__
        if isinstance(expr, ir.FString):
            return "str"
        if isinstance(expr, (ir.Compare, ir.UnaryOp)) and (not isinstance(expr, ir.UnaryOp) or expr.op == "not"):
            return "bool"
        if isinstance(expr, ir.Name) and expr.id in scope.fields and expr.id not in scope.locals:
            declared = next((f for f in self.current.all_fields() if f.name == expr.id), None)
            if declared is not None and isinstance(declared.type, ir.NamedType) and declared.type.args is None:
                return (
                    declared.type.name
                    if declared.type.name in ("int", "float", "str", "bool", "bytes", "None")
                    else None
                )
        return None

    # ---- expressions ----------------------------------------------------------------------------

    def expr(
        self, expr: ir.Expr, scope: NodeScope, defined: set[str], all_locals: set[str] | None = None, where: str = ""
    ) -> None:
        for node in walk_expression(expr, into_comprehensions=False):
            if isinstance(node, ir.Name):
                self.name(node, scope, defined, all_locals or set(), where)
            elif isinstance(node, ir.Attribute):
                if self.allowed_imports is not None:
                    self.trusted_attribute(node, scope, defined)
                if isinstance(node.value, ir.Name) and not where:
                    self.attribute(node, scope, defined)
            elif isinstance(node, ir.Comprehension):
                self.comprehension(node, scope, defined, all_locals, where)

    def comprehension(
        self, node: ir.Comprehension, scope: NodeScope, defined: set[str], all_locals: set[str] | None, where: str
    ) -> None:
        """A comprehension's variables are in scope after their `for`, and only inside it."""
        inner = set(defined)
        for clause in node.generators:
            self.expr(clause.iter, scope, inner, all_locals, where)
            for target in clause.targets:
                if target in RESERVED:
                    self.sink.error(
                        "E107", clause.span, f"`{target}` cannot be a comprehension variable", "choose another name"
                    )
                inner.add(target)
            for condition in clause.ifs:
                self.expr(condition, scope, inner, all_locals, where)
        self.expr(node.element, scope, inner, all_locals, where)
        if node.value is not None:
            self.expr(node.value, scope, inner, all_locals, where)

    def name(self, node: ir.Name, scope: NodeScope, defined: set[str], all_locals: set[str], where: str) -> None:
        name = node.id
        if where:  # defaults: evaluated once, at class creation
            if name in defined:  # a comprehension's variable
                return
            if name in self.imports:
                self.used_imports.add(name)
            elif name not in BUILTINS:
                self.sink.error(
                    "E102",
                    node.span,
                    f"`{name}` cannot be used in {where}",
                    "defaults may use literals, builtins and imported names",
                )
            return
        if name in defined or name in scope.fields or name in self.unusable:
            return
        if name in self.uses:
            self.sink.error(
                "E153",
                node.span,
                f"sub-graph `{name}` runs only as an argument of a transition",
                f"pass its output to the next node: `-> Next({name}(...))`, or `[{name}(...) for x in items]`",
            )
            return
        if name == "state":
            if self.spec.state is None:
                self.sink.error("E102", node.span, "the graph declares no `state`", "add a `state:` block")
            return
        if name == "deps":
            if self.spec.deps is None:
                self.sink.error("E102", node.span, "the graph declares no `deps`", "add a `deps:` block")
            return
        if name in self.imports:
            self.used_imports.add(name)
            return
        if name in BUILTINS:
            return
        if name in all_locals:
            self.sink.error("E108", node.span, f"local `{name}` is used before it is assigned")
            return
        candidates = [*defined, *scope.fields, *self.imports, *BUILTINS, "state", "deps"]
        hint, fixes = closest(name, candidates, node.span)
        if name in self.nodes:
            hint, fixes = f"`{name}` is a node: transition to it with `-> {name}(...)`", ()
        elif hasattr(builtins, name):
            hint, fixes = f"the builtin `{name}` is not available to specs; import a function that uses it", ()
        self.sink.error("E102", node.span, f"unknown name `{name}`", hint, fixes)

    def attribute(self, node: ir.Attribute, scope: NodeScope, defined: set[str]) -> None:
        assert isinstance(node.value, ir.Name)
        owner = node.value.id
        if owner in defined or owner in scope.fields:
            return
        fields = self.state_fields if owner == "state" else self.deps_fields if owner == "deps" else None
        if fields is not None and node.attr not in fields:
            self.sink.error(
                "E103",
                node.span,
                f"{owner} has no field `{node.attr}`",
                did_you_mean(node.attr, fields) or f"{owner} fields: " + ", ".join(f"`{f}`" for f in fields),
            )

    def trusted_attribute(self, node: ir.Attribute, scope: NodeScope, defined: set[str]) -> None:
        """Under an allow-list: E140 for names that only lead into the interpreter, E141 for another module's names."""
        from runtime.trust import INTROSPECTION_ATTRIBUTES  # here: only specs under an allow-list pay for the runtime

        if node.attr in INTROSPECTION_ATTRIBUTES:
            self.sink.error(
                "E140",
                node.span,
                f"attribute `{node.attr}` is not reachable under an allow-list",
                "frames, code, generators, classes and format strings lead outside what a spec may touch",
            )
            return
        owner = node.value.id if isinstance(node.value, ir.Name) else None
        if owner is None or owner in defined or owner in scope.fields or owner not in self.imported_modules:
            return
        module = self.imported_modules[owner]
        origin = import_origin(module, node.attr)
        if origin is not None and not self.allowed(origin):
            self.foreign_name(node.span, f"`{owner}.{node.attr}`", module, origin)

    def foreign_name(self, span: ir.Span, what: str, module: ModuleInfo, origin: str) -> None:
        """E141: `what`, a name of an allowed `module`, is one it imports from `origin`, outside the list."""
        self.sink.error(
            "E141",
            span,
            f"{what} is `{origin}`'s, which is not in the allow-list",
            f"`{module.name}` imports it from `{origin}`; allow `{origin}` or use `{module.name}`'s own names",
        )

    def allowed(self, module: str) -> bool:
        """Whether the allow-list admits `module`, by the rule the generated module's guard applies."""
        from runtime.trust import in_allow_list  # here: only specs under an allow-list pay for the runtime

        assert self.allowed_imports is not None
        return in_allow_list(self.allowed_imports, module)

    # ---- flow warnings ---------------------------------------------------------------------------

    def flow_warnings(self) -> None:
        edges: dict[str, set[str]] = {}
        open_ended: set[str] = set()  # nodes whose edges are unknown here (hand-written ones)
        for node in self.nodes.values():
            edges[node.name] = {t.target for t in node.transitions()}
        for target in self.external_targets:
            open_ended.add(target)
        if self.spec.start is not None and self.spec.start in self.nodes:
            reached = self._reach(self.spec.start, edges, open_ended)
            if reached is not None:
                for node in self.nodes.values():
                    if node.name not in reached:
                        self.sink.warning(
                            "W401",
                            node.name_span,
                            f"node `{node.name}` is unreachable from the start node `{self.spec.start}`",
                        )
        callers: dict[str, list[str]] = {}  # the edges reversed: who goes to each node
        for name, targets in edges.items():
            for target in targets:
                callers.setdefault(target, []).append(name)
        ends = {"End", *open_ended}
        todo = list(ends)
        while todo:  # backwards from `End`: each node and edge once
            for caller in callers.get(todo.pop(), ()):
                if caller not in ends:
                    ends.add(caller)
                    todo.append(caller)
        for node in self.nodes.values():
            if node.name not in ends:
                self.sink.warning(
                    "W402",
                    node.name_span,
                    f"no path from node `{node.name}` reaches `End`",
                    "a run entering it can never finish",
                )

    @staticmethod
    def _reach(start: str, edges: dict[str, set[str]], open_ended: set[str]) -> set[str] | None:
        seen = {start}
        todo = [start]
        while todo:
            for target in edges.get(todo.pop(), ()):
                if target in open_ended:
                    return None  # a hand-written node may go anywhere
                if target in edges and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen


PURE_BUILTINS = BUILTINS - {"print"}
"""The builtins a pure node may call: they compute, and touch nothing outside."""
_PLAIN_METHODS = {
    "list": frozenset(["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "index", "count"]),
    "dict": frozenset(["get", "keys", "values", "items", "pop", "setdefault", "update", "clear"]),
    "set": frozenset(["add", "discard", "remove", "update", "clear", "union", "intersection", "difference"]),
}
"""Methods of plain data a pure node may call on a field declared with that type: they touch only the value."""


def pure_node(
    node: ir.NodeSpec, scope: NodeScope | None, uses: Iterable[str] = (), state: dict[str, ir.FieldSpec] | None = None
) -> bool:
    """Whether a node only computes from its fields, state and deps: run again, it does the same and nothing more.

    It awaits nothing, waits for nothing, runs no sub-graph, has no retry, timeout or error
    branch, is not marked `checkpoint`, and calls nothing but the builtins in `PURE_BUILTINS`
    and methods of plain data on a state field or node field declared `list`, `dict` or `set`
    (`state.log.append(x)`). Attribute reads and operators are taken to have no effect outside
    (a property that writes a file would break that).
    """
    if node.waits or node.sleep or node.retry or node.timeout or node.errors or node.checkpoint or scope is None:
        return False
    shadowed = set(scope.fields) | set(scope.locals) | set(uses)
    own = {f.name: f for f in node.fields}

    def plain_method(func: ir.Attribute) -> bool:
        value, declared = func.value, None
        if isinstance(value, ir.Attribute) and isinstance(value.value, ir.Name) and value.value.id == "state":
            declared = (state or {}).get(value.attr)
        elif isinstance(value, ir.Name) and value.id not in scope.locals:
            declared = own.get(value.id)
        kind = declared.type.name if declared is not None and isinstance(declared.type, ir.NamedType) else ""
        return func.attr in _PLAIN_METHODS.get(kind, frozenset())

    def pure_call(call: ir.Call) -> bool:
        if isinstance(call.func, ir.Name):
            return call.func.id in PURE_BUILTINS and call.func.id not in shadowed
        return isinstance(call.func, ir.Attribute) and plain_method(call.func)

    statements = [*node.do, *(s for b in walk_branches(node.next) for s in b.do)]
    if any(s.awaited for s in statements):
        return False
    expressions: list[ir.Expr] = [s.value for s in statements]
    expressions += [s.target for s in statements if isinstance(s, ir.Assign)]
    expressions += [b.condition for b in walk_branches(node.next) if b.condition is not None]
    expressions += [a for t in node.transitions() for a in [*t.args, *(k.value for k in t.keywords)]]
    return all(pure_call(e) for expr in expressions for e in walk_expression(expr) if isinstance(e, ir.Call))


def walk_branches(branches: list[ir.Branch]) -> Iterator[ir.Branch]:
    """Every branch of a list and of the lists nested in it, in source order."""
    for branch in branches:
        yield branch
        yield from walk_branches(branch.next)


def walk_expression(expr: ir.Expr, *, into_comprehensions: bool = True) -> Iterator[ir.Expr]:
    """Every expression inside `expr`, itself first (iteratively: trees can be deep).

    With `into_comprehensions=False` a comprehension is yielded but not entered (its
    names are scoped: `_Checker.comprehension` walks it).
    """
    stack: list[ir.Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        children = _CHILDREN.get(type(node))
        if children is None or (node.__class__ is ir.Comprehension and not into_comprehensions):
            continue
        stack.extend(reversed([c for c in children(node) if c is not None]))


def _comprehension_parts(node: Any) -> list[ir.Expr | None]:
    parts = [node.element, node.value]
    for clause in node.generators:
        parts += [clause.iter, *clause.ifs]
    return parts


_CHILDREN: dict[type[ir.Expr], Callable[[Any], list[ir.Expr | None]]] = {
    ir.FString: lambda node: [p.value for p in node.parts if isinstance(p, ir.FormattedValue)],
    ir.Attribute: lambda node: [node.value],
    ir.Subscript: lambda node: [node.value, node.index],
    ir.Slice: lambda node: [node.lower, node.upper, node.step],
    ir.Call: lambda node: [node.func, *node.args, *(k.value for k in node.keywords)],
    ir.BinOp: lambda node: [node.left, node.right],
    ir.UnaryOp: lambda node: [node.operand],
    ir.BoolOp: lambda node: node.values,
    ir.Compare: lambda node: [node.left, *node.comparators],
    ir.IfExp: lambda node: [node.body, node.test, node.orelse],
    ir.ListExpr: lambda node: node.elts,
    ir.TupleExpr: lambda node: node.elts,
    ir.SetExpr: lambda node: node.elts,
    ir.DictExpr: lambda node: [*node.keys, *node.values],
    ir.Comprehension: _comprehension_parts,
}
"""The expressions directly inside each kind of expression, in source order."""


def _simple_types(node: ir.TypeExpr) -> set[str] | None:
    """The simple type names a type admits, or None if it admits something not simple."""
    if isinstance(node, ir.UnionType):
        out: set[str] = set()
        for option in node.options:
            part = _simple_types(option)
            if part is None:
                return None
            out |= part
        return out
    if (
        isinstance(node, ir.NamedType)
        and node.args is None
        and node.name in ("int", "float", "str", "bool", "bytes", "None")
    ):
        return {node.name}
    return None


_ExceptionClass = type[BaseException]


def _builtin_exception(name: str) -> _ExceptionClass | None:
    value = getattr(builtins, name, None)
    return value if isinstance(value, type) and issubclass(value, BaseException) else None


def _subclass(cls: type[BaseException] | None, of: type[BaseException] | None) -> bool:
    return cls is not None and of is not None and issubclass(cls, of)


def _node_list(nodes: Iterable[str], limit: int = 10) -> str:
    """`nodes: `A`, `B`, ...` for hints where no name is close enough to suggest."""
    names = list(nodes)
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return f"nodes: {shown}" + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _accepts(declared: ir.TypeExpr, value: str) -> bool:
    """Whether a value of the type written `value` fits `declared`: the same text, a union option, `Any`, `object`."""
    options = declared.options if isinstance(declared, ir.UnionType) else [declared]
    texts = {_type_text(option) for option in options}
    return bool(texts & {value, "Any", "object"}) or _type_text(declared) == value or set(value.split(" | ")) <= texts


def _type_text(node: ir.TypeExpr) -> str:
    return ExprWriter().type(node)


def waits_text(node: ir.NodeSpec) -> str:
    """What `graphc check` lists of a node that waits or sleeps.

    `node `Review` waits for approved: bool, comment: str`, then `; 48h at most, then Remind`
    for a deadline, `; sleeps 1d first` for a sleep.
    """
    writer = ExprWriter()
    parts = []
    if node.waits:
        parts.append("waits for " + ", ".join(f"{f.name}: {writer.field(f)}" for f in node.waits))
    if node.deadline is not None:
        parts.append(f"{node.deadline.text} at most, then {node.deadline.to.target}")
    if node.sleep is not None:
        until = f"until {writer.expr(node.sleep.until)}" if node.sleep.until is not None else node.sleep.text
        parts.append(f"sleeps {until}" + (" first" if node.waits else ""))
    return f"node `{node.name}` " + "; ".join(parts)


def _signature(node: ir.NodeSpec, caller_file: str | None = None) -> str:
    writer = ExprWriter()
    params = ", ".join(f"{f.name}: {writer.field(f)}" for f in node.fields)
    waits = ", ".join(f"{f.name}: {writer.field(f)}" for f in node.waits)
    header = f"{node.name}({params})" + (f" waits ({waits})" if waits else "")
    where = "" if caller_file in (None, node.name_span.file) else f"{node.name_span.file}, "
    return f"`{header}` is defined at {where}line {node.name_span.line}"
