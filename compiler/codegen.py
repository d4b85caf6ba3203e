"""`CheckedGraph` → `GeneratedModule`: the Python source of a compiled spec.

Decisions live here, in Python; `templates/module.py.jinja` only lays the pieces
out. Every expression is re-emitted from the IR by `ExprWriter`, never copied from
the spec text. Output is deterministic: the same spec gives the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import PurePath
from typing import Literal

import jinja2

from dsl import ir
from dsl.unparse import ExprWriter, docstring_literal, exceptions_text, quote_string, seconds_text

from .checks import CheckedGraph, NodeScope
from .layout import LINE_LENGTH, fit, fit_item

__all__ = (
    "GeneratedModule",
    "Target",
    "UsedModule",
    "error_edge",
    "generate",
    "merged_edges",
    "reachable_transitions",
    "run_transitions",
    "subgraph_call",
    "subgraphs_run",
)

Target = Literal["runtime", "pydantic_graph", "pydantic_graph2"]
"""`runtime`; `pydantic_graph` for pydantic-graph 0.0.39 to 1.x (its `Graph(nodes=...)`);
`pydantic_graph2` for pydantic-graph 2.x, where `BaseNode` classes join a graph through `GraphBuilder`."""
_ATOMIC_TYPES = {"int", "float", "str", "bool", "bytes", "None", "complex"}
_I = "    "


@dataclass(frozen=True)
class GeneratedModule:
    """Python source generated from a spec."""

    source: str
    spec_file: str
    graph_name: str
    target: Target
    uses: tuple[UsedModule, ...] = ()
    """The modules of the specs it runs as sub-graphs, theirs included, each once, used ones first."""


@dataclass(frozen=True)
class UsedModule:
    """The module of a spec another runs as a sub-graph: written beside it as `file`, known by `digest`."""

    file: str
    """Its file name, as `graphc compile` writes it beside the module that uses it (`fetch_graph.py`)."""
    spec_path: str
    """The used spec's file, as the user's `use` line leads to it."""
    module: GeneratedModule
    digest: str
    """The SHA-256 of its source (UTF-8): the module that uses it refuses any other."""


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("compiler", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("module.py.jinja")


class TargetLibrary:
    """The library a generated module runs on, and the hooks code generation calls where libraries differ.

    As sqlglot's dialect generators override a table of transforms, each target overrides
    only what its library needs: the names it imports, the helpers its modules carry, how a
    waited-for field starts, and how the graph is built. `TARGETS` maps a target's name to it.
    """

    name: Target = "runtime"
    package = "runtime"
    """The package generated code imports its node base class, `End` and graph from."""
    carries_helpers = False
    """Whether modules carry copies of graphc's helpers (spec-line notes, policies) instead of importing them."""

    def library_names(self, *, labels: bool, waits: bool) -> list[str]:
        """What `from <package> import ...` names, in isort's order."""
        names = ["BaseNode", "End", "Graph", "GraphRunContext"]
        if labels:
            names.insert(1, "Edge")
        if waits:
            names.insert(0, "WAITING")  # constants first
        return names

    def library_imports(self, names: list[str], helpers: list[str], *, labels: bool) -> list[str]:
        """The import lines of the library and of graphc's helpers."""
        lines = [f"from {self.package} import {', '.join(names)}"]
        if helpers:
            lines.append(f"from runtime.policies import {', '.join(helpers)}")
        return lines

    def extra_typing_names(self, helpers: list[str]) -> set[str]:
        """`typing` names the carried helpers need."""
        return set()

    def prelude(self, helpers: list[str], *, labels: bool) -> list[str]:
        """Code between the module's constants and its classes (helpers a module carries)."""
        return []

    def waited_field(self, text: str) -> str:
        """A field the run fills from outside before the node runs."""
        return f"{text} = WAITING  # waited for: set it before the node runs"

    def graph_arguments(self, generator: _Generator) -> list[str]:
        """`Graph(...)` arguments beyond `nodes` and `name`: the runtime's own extensions."""
        spec, checked = generator.spec, generator.checked
        args = []
        if spec.start is not None:
            args.append(f"start_node={spec.start}")
        if checked.deps_class is not None:
            args.append(f"deps_type={generator.deps}")
        if spec.state is not None and spec.state.fields is not None:
            args.append(f"default_state={generator.state}")  # a run given no state gets a fresh one
        return args

    def specialised_snapshot(self) -> bool:
        """Whether the graph takes a `snapshot_state` copier (pydantic_graph 1.x does not)."""
        return True

    def graph(self, generator: _Generator, nodes: list[str], specialised_snapshot: bool) -> list[str]:
        """The lines that build `graph`."""
        spec = generator.spec
        args = [f"nodes={_tuple(nodes)}", f"name={quote_string(spec.name)}"]
        if specialised_snapshot:
            args.append("snapshot_state=snapshot_state")
        args += self.graph_arguments(generator)
        lines = fit(f"graph: Graph[{generator.state}, {generator.deps}, {generator.output}]", " = Graph(", "")
        for arg in args:
            arg_lines = fit_item(arg, _I)
            lines += [*arg_lines[:-1], arg_lines[-1] + ","]
        lines.append(")")
        return lines


class PydanticGraph(TargetLibrary):
    """pydantic-graph 0.0.39 to 1.x: the same module, importing `pydantic_graph` and carrying graphc's helpers."""

    name: Target = "pydantic_graph"
    package = "pydantic_graph"
    carries_helpers = True

    def library_names(self, *, labels: bool, waits: bool) -> list[str]:
        return ["BaseNode", "End", "Graph", "GraphRunContext"]

    def library_imports(self, names: list[str], helpers: list[str], *, labels: bool) -> list[str]:
        lines = [f"from {self.package} import {', '.join(names)}"]
        if labels:
            lines.append("from pydantic_graph import Edge as _Edge")
        return lines

    def extra_typing_names(self, helpers: list[str]) -> set[str]:
        names = {"Any"}  # in the spec-location helpers
        if {"keep_state", "with_timeout"} & set(helpers):
            names.add("TypeVar")
        return names

    def prelude(self, helpers: list[str], *, labels: bool) -> list[str]:
        blocks = [_HASHABLE_EDGE] if labels else []
        blocks.append(_location_helpers())  # the runtime notes spec lines on errors itself
        if helpers:
            blocks.append(_policy_helper_source(tuple(helpers)))
        return blocks

    def waited_field(self, text: str) -> str:
        # pydantic_graph has no marker for it: `None` until the caller sets it
        return f"{text} = None  # type: ignore[assignment]  # waited for: set it before the node runs"

    def graph_arguments(self, generator: _Generator) -> list[str]:
        return []

    def specialised_snapshot(self) -> bool:
        return False  # the default deep copy gives the same history

    def graph(self, generator: _Generator, nodes: list[str], specialised_snapshot: bool) -> list[str]:
        lines = super().graph(generator, nodes, specialised_snapshot)
        return lines + _locate_errors(generator.spec)


class PydanticGraph2(PydanticGraph):
    """pydantic-graph 2.x: the node classes joined through a `GraphBuilder`; a run's `inputs` is the start node."""

    name: Target = "pydantic_graph2"

    def library_names(self, *, labels: bool, waits: bool) -> list[str]:
        return ["BaseNode", "End", "GraphBuilder", "GraphRunContext"]

    def library_imports(self, names: list[str], helpers: list[str], *, labels: bool) -> list[str]:
        lines = super().library_imports(names, helpers, labels=labels)
        lines.insert(1, "from pydantic_graph.step import NodeStep")
        return lines

    def graph(self, generator: _Generator, nodes: list[str], specialised_snapshot: bool) -> list[str]:
        spec, checked = generator.spec, generator.checked
        start = spec.start or nodes[0]
        arguments = {
            "name": quote_string(spec.name),
            "state_type": checked.state_class or "type(None)",
            "deps_type": checked.deps_class or "type(None)",
            "input_type": start,
            "output_type": generator.output if spec.output is not None else "type(None)",
        }
        lines = ["_builder = GraphBuilder(", *(f"{_I}{k}={v}," for k, v in arguments.items()), ")"]
        return [
            *lines,
            f"_builder.add(_builder.edge_from(_builder.start_node).to(NodeStep({start})))",
            *fit(f"_nodes = {_tuple(nodes)}", "", ""),
            "_builder.add(*(_builder.node(node) for node in _nodes))",
            "graph = _builder.build()",
            f'"""Run it with `await graph.run(inputs={start}(...), state=..., deps=...)`: the output comes back."""',
            *_locate_errors(spec),
        ]


TARGETS: dict[str, TargetLibrary] = {t.name: t for t in (TargetLibrary(), PydanticGraph(), PydanticGraph2())}
"""Each target by name."""


def _locate_errors(spec: ir.GraphSpec) -> list[str]:
    """pydantic_graph modules add the spec-line notes to a node's exceptions themselves."""
    return fit(f"locate_node_errors({_tuple([n.name for n in spec.nodes])}, __file__, SPEC_FILE)", "", "")


class _TrustedWriter(ExprWriter):
    """Writes expressions; under an allow-list, reads, writes and calls go through `_trust` (`runtime.trust`).

    `typed_roots` are the names whose attributes the checks already vouch for (`state` and
    `deps` when the spec declares their fields): those are read and written directly.
    """

    def __init__(self, quote: str = '"', *, trust: bool = False, typed_roots: frozenset[str] = frozenset()) -> None:
        super().__init__(quote)
        self.trust = trust
        self.typed_roots = typed_roots

    def attribute(self, node: ir.Attribute) -> str:
        if not self.trust or self._typed(node.value):
            return super().attribute(node)
        return f"_trust.attr({self.expr(node.value)}, {quote_string(node.attr)})"

    def callee(self, node: ir.Expr) -> str:
        if not self.trust or isinstance(node, ir.Attribute) or (isinstance(node, ir.Name) and self.named(node)):
            return super().callee(node)
        return f"_trust.call({self.expr(node)})"

    def assignment(self, target: ir.Expr, op: str, value: str) -> str:
        if not self.trust or not isinstance(target, ir.Attribute) or self._typed(target.value):
            return super().assignment(target, op, value)
        obj, attr = self.expr(target.value), quote_string(target.attr)
        if op == "=":
            return f"_trust.setattr({obj}, {attr}, {value})"
        return f"_trust.augment({obj}, {attr}, {quote_string(op)}, {value})"

    def named(self, node: ir.Name) -> bool:
        """Whether a name is one the spec's imports or the builtins define (vetted when the module loads)."""
        return node.id not in self.bound

    def _typed(self, node: ir.Expr) -> bool:
        return isinstance(node, ir.Name) and node.id in self.typed_roots and node.id not in self.bound


class _NodeWriter(_TrustedWriter):
    """Writes a node's expressions: fields as `self.x`, state as `ctx.state`, locals as themselves."""

    def __init__(
        self,
        scope: NodeScope,
        locals_: set[str],
        quote: str = '"',
        *,
        trust: bool = False,
        typed_roots: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(quote, trust=trust, typed_roots=typed_roots)
        self.scope = scope
        self.locals = locals_

    def name(self, node: ir.Name) -> str:
        if node.id in self.locals:
            return node.id
        if node.id in self.scope.fields:
            return f"self.{node.id}"
        if node.id in ("state", "deps"):
            return f"ctx.{node.id}"
        return node.id

    def named(self, node: ir.Name) -> bool:
        return super().named(node) and node.id not in (*self.locals, *self.scope.fields, "state", "deps")

    def fstring(self, node: ir.FString) -> str:
        # Python < 3.12 forbids backslashes and the enclosing quote inside f-string fields;
        # when a field needs either, build the string with format() instead.
        inner = self.nested("'", also='"')
        fields = [inner.expr(p.value) for p in node.parts if isinstance(p, ir.FormattedValue)]
        if not any("\\" in text or '"' in text or "{" in text for text in fields) and not any(
            isinstance(p, ir.FormattedValue)
            and p.format_spec is not None
            and ("\\" in p.format_spec or '"' in p.format_spec)
            for p in node.parts
        ):
            return super().fstring(node)
        pieces = []
        for part in node.parts:
            if isinstance(part, str):
                pieces.append(quote_string(part))
                continue
            value = self.expr(part.value)
            if part.conversion:
                value = {"r": "repr", "s": "str", "a": "ascii"}[part.conversion] + f"({value})"
            spec = f", {quote_string(part.format_spec)}" if part.format_spec else ""
            pieces.append(f"format({value}{spec})")  # what f"{value:spec}" calls
        return '"".join([' + ", ".join(pieces) + "])"


def generate(checked: CheckedGraph, *, target: Target = "runtime") -> GeneratedModule:
    """Render the Python module for a checked spec.

    Args:
        checked: The output of `check_spec`.
        target: `runtime` (default) or `pydantic_graph`, the library the module imports.
    """
    if target != "runtime" and checked.allowed_imports is not None:
        raise ValueError("an allow-list is enforced by graphc's runtime: compile with `--target runtime`")
    if target != "runtime":
        _refuse_timers(checked.spec, target)
    files: dict[str, str] = {}  # used spec -> the file its module is written to
    used: dict[str, UsedModule] = {}
    _generate_used(checked, target, files, used)
    return replace(_Generator(checked, target, files, used).module(), uses=tuple(used.values()))


def _refuse_timers(spec: ir.GraphSpec, target: Target) -> None:
    """E163: pydantic_graph has no timers: a deadline or a sleep there would silently mean nothing."""
    from dsl.diagnostics import Diagnostic, DiagnosticError

    found = [
        Diagnostic.error(
            "E163",
            timer.span,
            f"`{what}` cannot be compiled for --target {target}: pydantic_graph has no timers",
            "compile with `--target runtime` (the default), whose durable runs keep time across restarts",
        )
        for node in spec.nodes
        for what, timer in (("within", node.deadline), ("sleep", node.sleep))
        if timer is not None
    ]
    if found:
        raise DiagnosticError(found)


def _generate_used(checked: CheckedGraph, target: Target, files: dict[str, str], used: dict[str, UsedModule]) -> None:
    """The modules of the specs `checked` uses, theirs first, each generated once (by file name)."""
    for callee in checked.uses.values():
        if callee.source_name in files:
            continue
        stem = re.sub(r"\W", "_", PurePath(callee.source_name).stem)
        name = f"{stem}_graph.py"
        taken = set(files.values())
        count = 1
        while name in taken:
            count += 1
            name = f"{stem}_graph_{count}.py"
        files[callee.source_name] = name
        _generate_used(callee, target, files, used)
        module = _Generator(callee, target, files, used, as_used=True).module()
        digest = hashlib.sha256(module.source.encode()).hexdigest()
        used[callee.source_name] = UsedModule(file=name, spec_path=callee.source_name, module=module, digest=digest)


class _Generator:
    def __init__(
        self,
        checked: CheckedGraph,
        target: Target,
        files: dict[str, str] | None = None,
        used: dict[str, UsedModule] | None = None,
        *,
        as_used: bool = False,
    ) -> None:
        self.checked = checked
        self.as_used = as_used
        """Whether another spec runs this one as a sub-graph (a pydantic_graph module then names its types)."""
        self.used = {name: (used or {})[callee.source_name] for name, callee in checked.uses.items()}
        self.spec = checked.spec
        self.target = target
        self.library = TARGETS[target]
        self.file = PurePath(checked.source_name).name
        self.types = ExprWriter()
        self.trust = checked.allowed_imports is not None
        self.typed_roots = frozenset(
            name
            for name, declared in (("state", self.spec.state), ("deps", self.spec.deps))
            if declared is not None and declared.fields is not None
        )
        self.uses_labels = any(t.label is not None for n in self.spec.nodes for t in run_transitions(n))
        self.state = checked.state_class or "None"
        self.deps = checked.deps_class or "None"
        self.output = self.types.type(self.spec.output) if self.spec.output is not None else "None"

    def line_comment(self, span: ir.Span) -> str:
        return f"  # {self.file}:{span.line}"

    def module(self) -> GeneratedModule:
        spec = self.spec
        library = self.library
        classes = [
            c
            for c in (
                self._type_class(spec.state, self.checked.state_class, "state"),
                self._type_class(spec.deps, self.checked.deps_class, "dependencies"),
            )
            if c
        ]
        classes += [self._node(node) for node in spec.nodes]
        uses_factory = any(_needs_factory(f) for f in self._fields())
        std = ["from dataclasses import dataclass, field" if uses_factory else "from dataclasses import dataclass"]
        helpers = self._policy_helpers()
        if "backoff_delay" in helpers:
            std.insert(0, "import asyncio")
        if library.carries_helpers and "with_timeout" in helpers:
            std.insert(len(std) - 1, "from collections.abc import Coroutine")
        typing_names = set(self._typing_imports()) | library.extra_typing_names(helpers)
        if self.uses_labels or self.used:
            typing_names.add("Annotated")
        if self._uses_typing_name("Literal"):
            typing_names.add("Literal")
        if self._uses_typing_name("Any"):
            typing_names.add("Any")
        if typing_names:
            std.append(f"from typing import {', '.join(sorted(typing_names))}")
        waits = any(n.waits for n in spec.nodes)
        library_names = library.library_names(labels=self.uses_labels, waits=waits)
        timers = [name for name, used in (("Deadline", self._any("deadline")), ("Sleep", self._any("sleep"))) if used]
        if timers:
            constants = [n for n in library_names if n.isupper()]
            library_names = constants + sorted([n for n in library_names if not n.isupper()] + timers)
        if any(n.sleep is not None and n.sleep.until is not None for n in spec.nodes) and not any(
            name.local_name == "datetime" for imp in spec.imports for name in imp.names
        ):
            std.insert(len(std) - (1 if typing_names else 0), "from datetime import datetime")
        runtime_imports = library.library_imports(library_names, helpers, labels=self.uses_labels)
        fanout = self._fanout_names()
        if fanout and not library.carries_helpers:  # pydantic_graph modules carry their own
            runtime_imports.append(f"from runtime.fanout import {', '.join(fanout)}")
        if self.trust:
            runtime_imports.append("from runtime.trust import Trust")
        user_imports = []
        dotted_modules = sorted(self._dotted_modules())
        user_imports += [f"import {m}" for m in dotted_modules]
        for imp in spec.imports:
            if imp.module == "typing" and all(n.alias is None for n in imp.names):
                continue  # merged into the module's own `from typing import` line
            names = ", ".join(n.name + (f" as {n.alias}" if n.alias else "") for n in imp.names)
            line = f"from {imp.module} import {names}"
            if len(line) > LINE_LENGTH:  # as ruff format wraps it
                line = f"from {imp.module} import (\n" + "".join(f"{_I}{name},\n" for name in names.split(", ")) + ")"
            user_imports.append(line)
        prelude = library.prelude(helpers, labels=self.uses_labels)
        if self.trust:
            prelude.insert(0, self._trust_block())
        if self.library.carries_helpers and (self.used or "Failure" in self._fanout_names()):
            carried = ("Failure", "ForkFailed", "gather_limited", "run_subgraphs", "load_subgraph_module")
            prelude.append(_runtime_source("fanout", carried if self.used else carried[:1]))
        if self.used:
            prelude.append(self._subgraphs())
        snapshot = self._snapshot() if library.specialised_snapshot() else None
        if snapshot:  # after the state class it copies, before the nodes
            classes.insert(len(classes) - len(spec.nodes), snapshot)
        exports = ["graph", *(n.name for n in spec.nodes)]
        exports += [
            c
            for c, t in ((self.checked.state_class, spec.state), (self.checked.deps_class, spec.deps))
            if c and t is not None and t.ref is None
        ]
        if spec.start is not None:
            exports.append("start")
        doc = spec.doc if spec.doc is not None else f"The {spec.name} graph."
        source = _template().render(
            source_name=self.file,
            module_doc=docstring_literal(doc),
            std_imports=std,
            runtime_imports=runtime_imports,
            user_imports=user_imports,
            exports="__all__ = (\n" + "".join(f"{_I}{quote_string(e)},\n" for e in exports) + ")",
            spec_file=quote_string(self.file),
            prelude=prelude,
            classes=classes,
            graph=self._graph(snapshot is not None),
        )
        return GeneratedModule(source=source, spec_file=self.file, graph_name=spec.name, target=self.target)

    def _any(self, timer: str) -> bool:
        return any(getattr(node, timer) is not None for node in self.spec.nodes)

    def _fanout_names(self) -> list[str]:
        """What the module imports from `runtime.fanout`: `Failure` for its types, `Fork` and `subgraph` to run them."""
        names = []
        if any(
            isinstance(t, ir.NamedType) and t.name == "Failure"
            for declared in self._declared_types()
            for t in _walk_types(declared)
        ):
            names.append("Failure")
        if self.used:
            names += ["Fork", "Runs", "subgraph"]
        return names

    def _subgraphs(self) -> str:
        """`Name = subgraph(...)` for each used spec: its module, pinned by digest."""
        lines = []
        loader = "load_subgraph_module" if self.library.carries_helpers else "subgraph"
        for use in self.spec.uses:
            module = self.used[use.name]
            call = (
                f"{use.name} = {loader}({quote_string(use.name)}, __file__, {quote_string(module.file)}, "
                f"{quote_string(module.digest)})"
            )
            lines += fit(call, "", "")
            lines.append(f'"""The graph of {module.module.spec_file}, which transitions run as a sub-graph."""')
        return "\n".join(lines)

    def subgraphs_run(self, transition: ir.Transition) -> list[str]:
        """The used graphs a transition runs before its target, in order."""
        return subgraphs_run(transition, self.used)

    def forks(self, transition: ir.Transition) -> bool:
        """Whether a transition runs sub-graphs before its target."""
        return bool(self.subgraphs_run(transition))

    def transition_code(self, transition: ir.Transition, writer: _NodeWriter) -> list[str]:
        """`return Target(args)`, or the `Fork(...)` that runs the sub-graphs in its arguments first.

        A module for pydantic_graph, which has no fork, runs them itself (`run_subgraphs`, which it
        carries) and returns the target: two statements.
        """
        if not self.forks(transition):
            return [f"return {writer.target(transition)}"]
        if self.library.carries_helpers:
            return self._run_here(transition, writer)

        def argument(value: ir.Expr) -> str:
            runs = subgraph_call(value, self.used)
            if runs is None:
                return writer.expr(value)
            name, call, comprehension = runs
            start = call.model_copy(update={"func": ir.Name(span=call.func.span, id=f"{name}.start")})
            if comprehension is None:
                return f"{name}.run({writer.expr(start)})"
            return f"{name}.map({writer.expr(comprehension.model_copy(update={'element': start}))})"

        parts = ["End" if transition.is_end else transition.target]
        if transition.args:
            parts.append(f"args=[{', '.join(argument(a) for a in transition.args)}]")
        if transition.keywords:
            items = ", ".join(f"{quote_string(k.name)}: {argument(k.value)}" for k in transition.keywords)
            parts.append(f"keywords={{{items}}}")
        parts += _fanout_arguments(transition.fanout)
        return [f"return Fork({', '.join(parts)})"]

    def _run_here(self, transition: ir.Transition, writer: _NodeWriter) -> list[str]:
        """`_outputs = await run_subgraphs([...])`, then `return Target(...)` taking each from `_outputs`."""
        runs: list[str] = []

        def argument(value: ir.Expr) -> ir.Expr:
            found = subgraph_call(value, self.used)
            if found is None:
                return value
            name, call, comprehension = found
            start = call.model_copy(update={"func": ir.Name(span=call.func.span, id=f"{name}.start")})
            starts = (
                f"[{writer.expr(start)}]"
                if comprehension is None
                else writer.expr(comprehension.model_copy(update={"element": start}))
            )
            runs.append(f"({name}, {starts})")
            taken = f"_outputs[{len(runs) - 1}]" + ("[0]" if comprehension is None else "")
            return ir.Name(span=value.span, id=taken)

        joined = transition.model_copy(
            update={
                "args": [argument(a) for a in transition.args],
                "keywords": [k.model_copy(update={"value": argument(k.value)}) for k in transition.keywords],
            }
        )
        call = ", ".join([f"[{', '.join(runs)}]", "ctx.deps", *_fanout_arguments(transition.fanout)])
        return [f"_outputs = await run_subgraphs({call})", f"return {writer.target(joined)}"]

    def _trust_block(self) -> str:
        """The module's `Trust`, and the check that each imported name is its module's own (no re-export)."""
        allowed = sorted(self.checked.allowed_imports or ())
        lines = fit(f"_trust = Trust({_tuple([quote_string(m) for m in allowed])}, __name__)", "", "")
        lines.append('"""What this spec may reach: it was compiled under an allow-list (`runtime.trust`)."""')
        for imp in self.spec.imports:
            names = ", ".join(f"{quote_string(n.local_name)}: {n.local_name}" for n in imp.names)
            lines += fit(f"_trust.check_imports({quote_string(imp.module)}, {{{names}}})", "", "")
        return "\n".join(lines)

    def _fields(self) -> list[ir.FieldSpec]:
        """Every field the module declares: on nodes, and on inline state and deps classes."""
        fields = [f for n in self.spec.nodes for f in n.fields]
        return fields + [f for t in (self.spec.state, self.spec.deps) if t and t.fields for f in t.fields]

    def _declared_types(self) -> list[ir.TypeExpr]:
        """Every type the spec writes: node, state and deps fields, and the output."""
        types = [f.type for f in self._fields()]
        if self.spec.output is not None:
            types.append(self.spec.output)
        return types

    def _uses_typing_name(self, name: str) -> bool:
        """Whether a declared type uses `Literal[...]` or `Any`, which are always available."""
        return any(
            isinstance(t, ir.LiteralType) if name == "Literal" else isinstance(t, ir.NamedType) and t.name == name
            for declared in self._declared_types()
            for t in _walk_types(declared)
        )

    def _typing_imports(self) -> list[str]:
        """Names the spec imports from `typing` without an alias."""
        return [
            n.name
            for imp in self.spec.imports
            if imp.module == "typing" and all(n.alias is None for n in imp.names)
            for n in imp.names
        ]

    def _policy_helpers(self) -> list[str]:
        """The `runtime.policies` helpers the nodes' policies and error branches call, in a fixed order."""
        used: set[str] = set()
        for node in self.spec.nodes:
            if node.retry is not None or node.errors:
                used |= {"keep_state", "restore_state"}
            if node.retry is not None and node.retry.backoff:
                used.add("backoff_delay")
            if node.timeout is not None:
                used.add("with_timeout")
            if node.retry is not None and not self.library.carries_helpers:  # graphc's runtime tells its observers
                used.add("retrying")
        names = ("backoff_delay", "keep_state", "restore_state", "retrying", "with_timeout")
        return [name for name in names if name in used]

    def _dotted_modules(self) -> set[str]:
        refs = [t.ref for t in (self.spec.state, self.spec.deps) if t is not None and t.ref]
        for node in self.spec.nodes:  # exception classes named by their module
            refs += [*(node.retry.on if node.retry else []), *(n for e in node.errors for n in e.exceptions)]
        names = [
            t.name for declared in self._declared_types() for t in _walk_types(declared) if isinstance(t, ir.NamedType)
        ]
        return {
            name.rsplit(".", 1)[0]
            for name in [*refs, *names]
            if "." in name and name.split(".")[0] not in self.checked.imports
        }

    def _type_class(self, type_spec: ir.TypeSpec | None, name: str | None, what: str) -> str | None:
        if type_spec is None or type_spec.fields is None or name is None:
            return None
        lines = ["@dataclass", f"class {name}:", f'{_I}"""The graph\'s {what}."""', ""]
        lines += [line for f in type_spec.fields for line in fit(self._field(f), "", _I)]
        return "\n".join(lines)

    def _field(self, f: ir.FieldSpec) -> str:
        text = f"{f.name}: {self.types.type(f.type)}"
        if f.default is None:
            return text
        default = _TrustedWriter(trust=self.trust).expr(f.default)
        if _needs_factory(f):
            return f"{text} = field(default_factory={_factory(f.default, default, self.trust)})"
        return f"{text} = {default}"

    def _waited_field(self, f: ir.FieldSpec) -> str:
        """A field the run fills from outside before the node runs: unset until then."""
        return self.library.waited_field(f"{f.name}: {self.types.type(f.type)}")

    def _snapshot(self) -> str | None:
        """A state copy specialised to the declared field types, when they allow one."""
        state = self.spec.state
        if state is None or state.fields is None or self.checked.state_class is None:
            return None
        parts = []
        for f in state.fields:
            copier = _copier(f.type)
            if copier is None:
                return None
            parts.append(f"{f.name}={copier.format(f'state.{f.name}')}")
        cls = self.checked.state_class
        call = f"{_I}return {cls}({', '.join(parts)})"
        if len(call) > LINE_LENGTH:
            call = f"{_I}return {cls}(\n" + "".join(f"{_I * 2}{p},\n" for p in parts) + f"{_I})"
        return (
            f"def snapshot_state(state: {cls}) -> {cls}:\n"
            f'{_I}"""Copy the state for history: the same result as a deep copy, for these field types."""\n'
            f"{call}"
        )

    def _node(self, node: ir.NodeSpec) -> str:
        scope = self.checked.scopes[node.name]
        writer = _NodeWriter(scope, scope.locals, trust=self.trust, typed_roots=self.typed_roots)
        lines = ["@dataclass", *fit(f"class {node.name}(BaseNode[{self.state}, {self.deps}, {self.output}]):", "", "")]
        if node.doc is not None:
            lines += [f"{_I}{docstring_literal(node.doc)}", "", f"{_I}docstring_notes = True"]
        if node.fields:
            if node.doc is not None:
                lines.append("")
            lines += [line for f in node.fields for line in fit(self._field(f), "", _I)]
        pure = node.name in self.checked.pure_nodes and not self.library.carries_helpers
        if pure:
            if node.doc is not None and not node.fields:
                lines.append("")
            lines.append(f"{_I}pure = True  # its run only computes: a durable run records it with the node before it")
        if node.waits:
            if node.doc is not None and not node.fields:
                lines.append("")
            lines += [line for f in node.waits for line in fit(self._waited_field(f), "", _I)]
            names = [quote_string(f.name) for f in node.waits]
            listed = f"{names[0]}," if len(names) == 1 else ", ".join(names)
            lines.append(f"{_I}waits_for = ({listed})")
        timers = self._timer_attributes(node, writer)
        if timers:
            if not (node.fields or node.waits or pure):
                lines.append("")
            lines += timers
        if node.doc is not None or node.fields or node.waits or pure or timers:
            lines.append("")
        body: list[tuple[str, str, ir.Span]] = []  # (indent, statement, where it comes from)
        for statement in node.do:
            body.append(("", writer.statement(statement), statement.span))
        self._branches(node.next, writer, "", body)
        transitions = list(reachable_transitions(node.next))
        if _has_policy(node):
            # `run` applies the policies around `run_once`, which holds the spec's own body
            lines.append(self._signature("run", run_transitions(node)))
            lines += self._deadline_check(node, writer)
            lines += self._policy_body(node, writer)
            lines += ["", self._signature("run_once", transitions)]
            lines.append(f'{_I * 2}"""One attempt: the body of the node as the spec writes it."""')
        else:
            lines.append(self._signature("run", run_transitions(node)))
            lines += self._deadline_check(node, writer)
        for indent, code, span in body:
            lines += fit(code, self.line_comment(span), _I * 2 + indent)
        return "\n".join(lines)

    def _timer_attributes(self, node: ir.NodeSpec, writer: _NodeWriter) -> list[str]:
        """`answer_deadline` and `sleep_policy` (with `sleep_until` when the spec computes the time)."""
        lines = []
        if node.deadline is not None:
            deadline = node.deadline
            code = f"answer_deadline = Deadline({seconds_text(deadline.seconds)}, {quote_string(deadline.text)})"
            lines += fit(code, self.line_comment(deadline.span), _I)
        sleep = node.sleep
        if sleep is None:
            return lines
        if sleep.until is None:
            code = f"sleep_policy = Sleep({seconds_text(sleep.seconds or 0)}, {quote_string(sleep.text or '')})"
            return lines + fit(code, self.line_comment(sleep.span), _I)
        text = f"until {self.types.expr(sleep.until)}"
        lines += fit(f"sleep_policy = Sleep(None, {quote_string(text)})", self.line_comment(sleep.span), _I)
        context = f"ctx: GraphRunContext[{self.state}, {self.deps}]"
        lines += ["", f"{_I}def sleep_until(self, {context}) -> datetime:"]
        return lines + fit(f"return {writer.expr(sleep.until)}", self.line_comment(sleep.until.span), _I * 2)

    def _deadline_check(self, node: ir.NodeSpec, writer: _NodeWriter) -> list[str]:
        """First in `run`: no answer came before the deadline, so the node takes the deadline's edge."""
        if node.deadline is None:
            return []
        where = self.line_comment(node.deadline.span)
        lines = [f"{_I * 2}if self.{node.waits[0].name} is WAITING:  # no answer within {node.deadline.text}"]
        for code in self.transition_code(node.deadline.to, writer):
            lines += fit(code, where, _I * 3)
        return lines

    def _policy_body(self, node: ir.NodeSpec, writer: _NodeWriter) -> list[str]:
        """A retry loop and `try`/`except` for the error branches, as a careful person would write them."""
        retry, timeout = node.retry, node.timeout
        where = self.line_comment((retry or timeout or node.errors[0]).span)
        call = "self.run_once(ctx)"
        if timeout is not None:
            call = f"with_timeout({call}, {seconds_text(timeout.seconds)})"
        code: list[str] = []
        if retry is not None or node.errors:
            code.append(f"_checkpoint = keep_state(ctx.state){where}")  # what a failed attempt changed is undone
        if retry is None:
            attempt = [f"return await {call}{where}"]
        else:
            caught = exceptions_text(retry.on) if retry.on else "Exception"
            told = not self.library.carries_helpers  # traces and `graphc run` show each retry
            attempt = [
                "_attempt = 1",
                "while True:",
                f"{_I}try:",
                f"{_I * 2}return await {call}{where}",
                f"{_I}except {caught}{' as _error' if told else ''}:",
                f"{_I * 2}restore_state(ctx.state, _checkpoint)",
                f"{_I * 2}if _attempt == {retry.attempts}:",
                f"{_I * 3}raise",
                *([f"{_I * 2}retrying(self, _attempt, _error)"] if told else []),
            ]
            if retry.backoff:
                cap = seconds_text(retry.max_backoff) if retry.max_backoff is not None else "None"
                attempt.append(
                    f"{_I}await asyncio.sleep(backoff_delay(_attempt, {seconds_text(retry.backoff)}, {cap}))"
                )
            attempt.append(f"{_I}_attempt += 1")
        if not node.errors:
            return [f"{_I * 2}{line}" for line in code + attempt]
        code += ["try:", *(f"{_I}{line}" for line in attempt)]
        lines = [f"{_I * 2}{line}" for line in code]
        for error in node.errors:
            name = f" as {error.name}" if error.name else ""
            error_writer = _NodeWriter(
                writer.scope, {error.name} if error.name else set(), trust=self.trust, typed_roots=self.typed_roots
            )
            lines.append(f"{_I * 2}except {exceptions_text(error.exceptions)}{name}:{self.line_comment(error.span)}")
            lines.append(f"{_I * 3}restore_state(ctx.state, _checkpoint)")
            for statement in self.transition_code(error.to, error_writer):
                lines += fit(statement, self.line_comment(error.to.span), _I * 3)
        return lines

    def _branches(
        self, branches: list[ir.Branch], writer: _NodeWriter, indent: str, body: list[tuple[str, str, ir.Span]]
    ) -> None:
        """`if` blocks ending in `return Target(...)` or in further blocks; the unconditional branch last."""
        for branch in branches:
            inner = indent
            if branch.condition is not None:
                body.append((indent, f"if {writer.expr(branch.condition)}:", branch.span))
                inner = indent + _I
            body += [(inner, writer.statement(s), s.span) for s in branch.do]
            if branch.to is not None:
                body += [(inner, code, branch.to.span) for code in self.transition_code(branch.to, writer)]
            else:
                self._branches(branch.next, writer, inner, body)
            if branch.condition is None:
                break  # checks guarantee nothing reachable follows

    def _signature(self, method: str, transitions: list[ir.Transition]) -> str:
        """A node method's signature, wrapped the way ruff format would when it is too long."""
        returns = " | ".join(self._return_types(transitions))
        context = f"ctx: GraphRunContext[{self.state}, {self.deps}]"
        signature = f"{_I}async def {method}(self, {context}) -> {returns}:"
        if len(signature) <= LINE_LENGTH:
            return signature
        if len(f"{_I}) -> {returns}:") > LINE_LENGTH:  # the union too, in parentheses
            returns = "(\n" + "\n".join(fit_item(returns, _I * 2)) + f"\n{_I})"
        return f"{_I}async def {method}(\n{_I * 2}self, {context}\n{_I}) -> {returns}:"

    def _return_types(self, transitions: list[ir.Transition]) -> list[str]:
        out = []
        runs: dict[str, list[str]] = {}  # `Fork[Join]` -> the graphs its transitions run, in order
        for t in transitions:
            for name in self.subgraphs_run(t):
                known = runs.setdefault(f"Fork[{t.target}]", [])
                if name not in known:
                    known.append(name)
        forking = not self.library.carries_helpers  # a pydantic_graph module's node returns the join itself
        edges = ((f"Fork[{t.target}]" if forking and self.forks(t) else t.target, t.label) for t in transitions)
        for name, label in merged_edges(edges).items():
            text = name.replace("End", f"End[{self.output}]") if name in ("End", "Fork[End]") else name
            extras = [f"Edge(label={quote_string(label)})"] if label is not None else []
            if name in runs:
                extras.append(f"Runs({', '.join(runs[name])})")
            out.append(f"Annotated[{text}, {', '.join(extras)}]" if extras else text)
        return out

    def _graph(self, specialised_snapshot: bool) -> str:
        spec = self.spec
        nodes = [n.name for n in spec.nodes] + self.checked.external_nodes
        lines = self.library.graph(self, nodes, specialised_snapshot)
        if spec.start is not None:
            lines += ["", f"start = {spec.start}", '"""The node a run starts from by default."""']
        if self.as_used and self.library.carries_helpers:  # what `run_subgraphs` makes for each run of it
            lines += ["", f"SUBGRAPH_STATE = {self.checked.state_class or 'None'}"]
            lines += [f"SUBGRAPH_DEPS = {self.checked.deps_class or 'None'}"]
            lines.append('"""A run of this graph as a sub-graph: a fresh state, and deps of this type."""')
        return "\n".join(lines)


def subgraph_call(expr: ir.Expr, uses: Container[str]) -> tuple[str, ir.Call, ir.Comprehension | None] | None:
    """(the used graph's name, its call, the comprehension around it) when `expr` runs a sub-graph."""
    comprehension = expr if isinstance(expr, ir.Comprehension) and expr.form == "list" else None
    call = comprehension.element if comprehension is not None else expr
    if isinstance(call, ir.Call) and isinstance(call.func, ir.Name) and call.func.id in uses:
        return call.func.id, call, comprehension
    return None


def subgraphs_run(transition: ir.Transition, uses: Container[str]) -> list[str]:
    """The used graphs (names in `uses`) a transition runs before its target, in order."""
    values = [*transition.args, *(k.value for k in transition.keywords)]
    return [runs[0] for runs in (subgraph_call(v, uses) for v in values) if runs is not None]


def _fanout_arguments(fanout: ir.FanOut | None) -> list[str]:
    """`limit=N`, `tolerate=N` or `tolerate_percent=N`, as `Fork` and `run_subgraphs` take them."""
    if fanout is None:
        return []
    out = [f"limit={fanout.limit}"] if fanout.limit is not None else []
    if fanout.tolerate:
        out.append(f"tolerate_percent={fanout.tolerate}" if fanout.percent else f"tolerate={fanout.tolerate}")
    return out


def _tuple(names: list[str]) -> str:
    """A tuple of names as ruff format writes it: `(A,)` for one, `(A, B)` for more (no magic trailing comma)."""
    return f"({names[0]},)" if len(names) == 1 else f"({', '.join(names)})"  # `()` for none


def _policy_helper_source(names: tuple[str, ...]) -> str:
    """`runtime.policies` helpers, copied into pydantic_graph modules."""
    type_var = ['_Value = TypeVar("_Value")'] if {"keep_state", "with_timeout"} & set(names) else []
    return "\n\n\n".join([*type_var, _runtime_source("policies", names)])


def _location_helpers() -> str:
    """The runtime's spec-location helpers, copied into pydantic_graph modules."""
    return _runtime_source("locations", ("add_spec_note", "locate_node_errors"))


@lru_cache(maxsize=8)
def _runtime_source(module: str, names: tuple[str, ...]) -> str:
    """The source of some functions of a `runtime` module (imported only when a module needs the copies)."""
    found = importlib.import_module(f"runtime.{module}")
    return "\n\n\n".join(inspect.getsource(getattr(found, name)).strip() for name in names)


_HASHABLE_EDGE = '''class Edge(_Edge):
    """pydantic_graph 0.0.39's `Edge` is unhashable, which breaks unions of labelled edges."""

    def __hash__(self) -> int:
        return hash(self.label)'''


def _needs_factory(f: ir.FieldSpec) -> bool:
    """Whether the field's default must be built per instance: anything but an immutable literal."""
    return f.default is not None and not _immutable_literal(f.default)


def _immutable_literal(expr: ir.Expr) -> bool:
    """A constant, a signed number, or a tuple of those: safe to share between instances."""
    if isinstance(expr, ir.Constant):
        return True
    if isinstance(expr, ir.UnaryOp) and expr.op in ("-", "+"):
        return isinstance(expr.operand, ir.Constant)
    return isinstance(expr, ir.TupleExpr) and all(_immutable_literal(e) for e in expr.elts)


def _factory(default: ir.Expr, text: str, trust: bool) -> str:
    """What builds a fresh default: `list` for `[]`, `Model` for `Model()` (not under an allow-list), else a lambda."""
    if isinstance(default, (ir.ListExpr, ir.SetExpr, ir.DictExpr)) and not (
        getattr(default, "elts", None) or getattr(default, "keys", None)
    ):
        return {ir.ListExpr: "list", ir.DictExpr: "dict", ir.SetExpr: "set"}[type(default)]
    if (
        isinstance(default, ir.Call)
        and not (default.args or default.keywords)
        and _is_dotted(default.func)
        and not trust
    ):
        return ExprWriter().expr(default.func)
    return f"lambda: {text}"


def merged_edges(edges: Iterable[tuple[str, str | None]]) -> dict[str, str | None]:
    """One edge per target, in the order first met, its distinct labels joined by ` / `: how `run` shows them."""
    labels: dict[str, list[str]] = {}
    for target, label in edges:
        known = labels.setdefault(target, [])
        if label is not None and label not in known:
            known.append(label)
    return {target: " / ".join(known) or None for target, known in labels.items()}


def run_transitions(node: ir.NodeSpec) -> list[ir.Transition]:
    """What a node's `run` can return: its reachable transitions, its (labelled) error branches', its deadline's."""
    deadline = [deadline_edge(node.deadline)] if node.deadline is not None else []
    return [*reachable_transitions(node.next), *(error_edge(e) for e in node.errors), *deadline]


def deadline_edge(deadline: ir.Deadline) -> ir.Transition:
    """A wait's deadline as an edge, labelled `no answer in 48h`."""
    return deadline.to.model_copy(update={"label": f"no answer in {deadline.text}"})


def error_edge(error: ir.ErrorBranch) -> ir.Transition:
    """An error branch's transition, labelled `on ErrorType` unless the spec labels it: error edges stand out."""
    if error.to.label is not None:
        return error.to
    return error.to.model_copy(update={"label": f"on {exceptions_text(error.exceptions)}"})


def _has_policy(node: ir.NodeSpec) -> bool:
    return node.retry is not None or node.timeout is not None or bool(node.errors)


def reachable_transitions(branches: list[ir.Branch]) -> Iterator[ir.Transition]:
    """The transitions a run can take, nested ones included: none after an unconditional branch."""
    for branch in branches:
        if branch.to is not None:
            yield branch.to
        else:
            yield from reachable_transitions(branch.next)
        if branch.condition is None:
            return


def _is_dotted(expr: ir.Expr) -> bool:
    """`name` or `name.attr.attr`: a class or function a factory may name directly."""
    while isinstance(expr, ir.Attribute):
        expr = expr.value
    return isinstance(expr, ir.Name)


def _walk_types(t: ir.TypeExpr) -> Iterator[ir.TypeExpr]:
    """`t` and every type nested in it."""
    yield t
    if isinstance(t, ir.UnionType):
        for option in t.options:
            yield from _walk_types(option)
    elif isinstance(t, ir.NamedType):
        for arg in t.args or []:
            yield from _walk_types(arg)


def _copier(t: ir.TypeExpr) -> str | None:
    """A format string copying a value of type `t` like deepcopy would, or None if unknown."""
    if isinstance(t, ir.LiteralType) or (isinstance(t, ir.NamedType) and t.name in _ATOMIC_TYPES and t.args is None):
        return "{}"
    if isinstance(t, ir.UnionType):
        return "{}" if all(_copier(o) == "{}" for o in t.options) else None
    if isinstance(t, ir.NamedType) and t.args is not None:
        if t.name == "tuple" and all(_copier(a) == "{}" or isinstance(a, ir.EllipsisType) for a in t.args):
            return "{}"
        if t.name in ("list", "set") and _copier(t.args[0]) == "{}":
            return t.name + "({})"
        if t.name == "dict" and len(t.args) == 2 and all(_copier(a) == "{}" for a in t.args):
            return "dict({})"
    return None
