"""Hypothesis strategies that build graph IR directly (spans are placeholders)."""

from __future__ import annotations

import keyword
import string
from typing import Any

from hypothesis import strategies as st

from dsl import ir
from dsl.timing import duration_seconds

SPAN = ir.Span(file="<generated>", line=1, column=1, end_line=1, end_column=1)
_RESERVED = {
    "state",
    "deps",
    "self",
    "ctx",
    "End",
    "None",
    "True",
    "False",
    "graph",
    "start",
    "node",
    "from",
    "import",
    "as",
    "await",
    "print",
    "if",
    "else",
}

names = (
    st.text(string.ascii_letters, min_size=1, max_size=8)
    .map(lambda s: s[0].lower() + s[1:])
    .filter(lambda s: not keyword.iskeyword(s) and s not in _RESERVED and s != "on")  # `on` starts an error branch
)
class_names = names.map(lambda s: s[0].upper() + s[1:]).filter(
    lambda s: not keyword.iskeyword(s) and s not in _RESERVED
)
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
format_specs = st.text(alphabet="<>^0123456789.,+-x", min_size=1, max_size=5)


def _constant(value: Any) -> ir.Constant:
    return ir.Constant(span=SPAN, value=value)


constants = st.one_of(
    st.none().map(_constant),
    st.booleans().map(_constant),
    st.integers(min_value=0, max_value=10**12).map(_constant),
    st.floats(min_value=0, allow_nan=False).map(_constant),
    texts.map(_constant),
    st.binary(max_size=8).map(_constant),
)
leaf = st.one_of(names.map(lambda n: ir.Name(span=SPAN, id=n)), constants)


def _fstring(parts: list[Any]) -> ir.FString:
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return ir.FString(span=SPAN, parts=merged)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    non_bool = children.filter(lambda e: not isinstance(e, ir.BoolOp))
    non_compare = children.filter(lambda e: not isinstance(e, ir.Compare))
    simple_field = st.one_of(names.map(lambda n: ir.Name(span=SPAN, id=n)), constants)
    formatted = st.builds(
        lambda value, conversion, spec: ir.FormattedValue(
            span=SPAN, value=value, conversion=conversion, format_spec=spec
        ),
        simple_field,
        st.sampled_from([None, "r", "s", "a"]),
        st.none() | format_specs,
    )
    return st.one_of(
        st.builds(lambda v, a: ir.Attribute(span=SPAN, value=v, attr=a), children, names),
        st.builds(lambda v, i: ir.Subscript(span=SPAN, value=v, index=i), children, children),
        st.builds(
            lambda v, lo, hi: ir.Subscript(span=SPAN, value=v, index=ir.Slice(span=SPAN, lower=lo, upper=hi)),
            children,
            st.none() | children,
            st.none() | children,
        ),
        st.builds(
            lambda f, args, kws: ir.Call(
                span=SPAN, func=f, args=args, keywords=[ir.Keyword(span=SPAN, name=k, value=v) for k, v in kws.items()]
            ),
            children,
            st.lists(children, max_size=3),
            st.dictionaries(names, children, max_size=2),
        ),
        st.builds(
            lambda left, op, right: ir.BinOp(span=SPAN, left=left, op=op, right=right),
            children,
            st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]),
            children,
        ),
        st.builds(lambda op, e: ir.UnaryOp(span=SPAN, op=op, operand=e), st.sampled_from(["-", "+", "not"]), children),
        st.builds(
            lambda op, first, rest: ir.BoolOp(span=SPAN, op=op, values=[first, *rest]),
            st.sampled_from(["and", "or"]),
            non_bool,
            st.lists(children, min_size=1, max_size=3),
        ),
        st.builds(
            lambda left, pairs: ir.Compare(
                span=SPAN, left=left, ops=[p[0] for p in pairs], comparators=[p[1] for p in pairs]
            ),
            non_compare,
            st.lists(
                st.tuples(
                    st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]), children
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        st.builds(lambda b, t, o: ir.IfExp(span=SPAN, body=b, test=t, orelse=o), children, children, children),
        st.lists(children, max_size=3).map(lambda e: ir.ListExpr(span=SPAN, elts=e)),
        st.lists(children, max_size=3).map(lambda e: ir.TupleExpr(span=SPAN, elts=e)),
        st.lists(children, min_size=1, max_size=3).map(lambda e: ir.SetExpr(span=SPAN, elts=e)),
        st.lists(st.tuples(children, children), max_size=3).map(
            lambda kv: ir.DictExpr(span=SPAN, keys=[k for k, _ in kv], values=[v for _, v in kv])
        ),
        st.lists(st.one_of(texts, formatted), max_size=4).map(_fstring),
        st.builds(
            lambda form, element, value, clauses: ir.Comprehension(
                span=SPAN,
                form=form,
                element=element,
                value=value if form == "dict" else None,
                generators=[
                    ir.ComprehensionFor(span=SPAN, targets=targets, iter=it, ifs=ifs) for targets, it, ifs in clauses
                ],
            ),
            st.sampled_from(["list", "set", "dict", "generator"]),
            children,
            children,
            st.lists(
                st.tuples(st.lists(names, min_size=1, max_size=2), children, st.lists(children, max_size=2)),
                min_size=1,
                max_size=2,
            ),
        ),
    )


expressions = st.recursive(leaf, _extend, max_leaves=12)

_simple_types = st.sampled_from(["int", "float", "str", "bool", "bytes", "None", "Any"]).map(
    lambda n: ir.NamedType(span=SPAN, name=n)
)


def _extend_types(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda n, a: ir.NamedType(span=SPAN, name=n, args=[a]), st.sampled_from(["list", "set"]), children),
        st.builds(lambda k, v: ir.NamedType(span=SPAN, name="dict", args=[k, v]), children, children),
        children.map(lambda a: ir.NamedType(span=SPAN, name="tuple", args=[a, ir.EllipsisType(span=SPAN)])),
        st.lists(children.filter(lambda t: not isinstance(t, ir.UnionType)), min_size=2, max_size=3).map(
            lambda o: ir.UnionType(span=SPAN, options=o)
        ),
        st.lists(st.one_of(st.integers(-5, 5), texts, st.booleans()).map(_constant), min_size=1, max_size=3).map(
            lambda v: ir.LiteralType(span=SPAN, values=v)
        ),
    )


types = st.recursive(_simple_types, _extend_types, max_leaves=5)

fields = st.builds(
    lambda n, t, d: ir.FieldSpec(span=SPAN, name=n, type=t, default=d), names, types, st.none() | expressions
)


def _assign_target(name: str, attr: bool) -> ir.Expr:
    if attr:
        return ir.Attribute(span=SPAN, value=ir.Name(span=SPAN, id="state"), attr=name)
    return ir.Name(span=SPAN, id=name)


statements = st.one_of(
    st.builds(
        lambda t, op, v, aw: ir.Assign(span=SPAN, target=t, op=op, value=v, awaited=aw),
        st.builds(_assign_target, names, st.booleans()),
        st.sampled_from(["=", "+=", "-=", "*=", "/=", "//=", "%="]),
        expressions,
        st.booleans(),
    ),
    st.builds(lambda v, aw: ir.ExprStmt(span=SPAN, value=v, awaited=aw), expressions, st.booleans()),
)
fanouts = st.builds(
    lambda limit, tolerate, percent: ir.FanOut(
        span=SPAN, limit=limit, tolerate=tolerate, percent=percent and tolerate is not None
    ),
    st.none() | st.integers(0, 1000),
    st.none() | st.integers(0, 1000),
    st.booleans(),
).filter(lambda f: f.limit is not None or f.tolerate is not None)
transitions = st.builds(
    lambda target, args, kws, label, fanout: ir.Transition(
        span=SPAN,
        target=target,
        target_span=SPAN,
        args=args,
        keywords=[ir.Keyword(span=SPAN, name=k, value=v) for k, v in kws.items()],
        label=label,
        fanout=fanout,
    ),
    st.one_of(class_names, st.just("End")),
    st.lists(expressions, max_size=2),
    st.dictionaries(names, expressions, max_size=2),
    st.none() | texts,
    st.none() | fanouts,
)


def _branch(condition: ir.Expr | None, do: list[Any], then: ir.Transition | list[ir.Branch]) -> ir.Branch:
    if isinstance(then, ir.Transition):
        return ir.Branch(span=SPAN, condition=condition, do=do, to=then)
    return ir.Branch(span=SPAN, condition=condition, do=do, next=then)


def _branches(conditional: list[tuple[ir.Expr, list[Any], Any]], last: tuple[list[Any], Any]) -> list[ir.Branch]:
    """Conditional branches, then an unconditional one; each ends in a transition or in nested branches."""
    return [*(_branch(c, d, t) for c, d, t in conditional), _branch(None, *last)]


def _branch_lists(then: st.SearchStrategy[Any]) -> st.SearchStrategy[list[ir.Branch]]:
    return st.builds(
        _branches,
        st.lists(st.tuples(expressions, st.lists(statements, max_size=2), then), max_size=3),
        st.tuples(st.lists(statements, max_size=2), then),
    )


branch_lists = st.recursive(
    _branch_lists(transitions), lambda nested: _branch_lists(st.one_of(transitions, nested)), max_leaves=4
)


durations = st.sampled_from(["30s", "15m", "48h", "1d", "1h30m", "250ms", "2w"])
plain_transitions = transitions.map(lambda t: t.model_copy(update={"label": None, "fanout": None}))
deadlines = st.builds(
    lambda text, to: ir.Deadline(span=SPAN, seconds=duration_seconds(text) or 0.0, text=text, to=to),
    durations,
    plain_transitions,
)
sleeps = st.one_of(
    durations.map(lambda text: ir.Sleep(span=SPAN, seconds=duration_seconds(text), text=text)),
    expressions.map(lambda until: ir.Sleep(span=SPAN, until=until)),
)
nodes = st.builds(
    lambda name, doc, fs, waits, deadline, sleep, do, branches, checkpoint: ir.NodeSpec(
        span=SPAN,
        name=name,
        name_span=SPAN,
        doc=doc,
        fields=fs,
        waits=waits,
        deadline=deadline if waits else None,  # a deadline is the wait's
        sleep=sleep,
        do=do,
        next=branches,
        checkpoint=checkpoint,
    ).normalized(),
    class_names,
    st.none() | texts,
    st.lists(fields, max_size=3, unique_by=lambda f: f.name),
    st.lists(fields.map(lambda f: f.model_copy(update={"default": None})), max_size=2, unique_by=lambda f: f.name),
    st.none() | deadlines,
    st.none() | sleeps,
    st.lists(statements, max_size=3),
    branch_lists,
    st.booleans(),
)
imports = st.builds(
    lambda module, ns: ir.ImportSpec(
        span=SPAN, module=".".join(module), names=[ir.ImportName(span=SPAN, name=n, alias=a) for n, a in ns]
    ),
    st.lists(names, min_size=1, max_size=3),
    st.lists(st.tuples(names, st.none() | names), min_size=1, max_size=3),
)
type_specs = st.one_of(
    st.builds(
        lambda cls, fs: ir.TypeSpec(span=SPAN, class_name=cls, fields=fs),
        st.none() | class_names,
        st.lists(fields, min_size=1, max_size=3, unique_by=lambda f: f.name),
    ),
    st.lists(class_names, min_size=1, max_size=3).map(lambda parts: ir.TypeSpec(span=SPAN, ref=".".join(parts))),
)
uses = st.builds(
    lambda name, path: ir.UseSpec(span=SPAN, name=name, name_span=SPAN, path=path, path_span=SPAN),
    class_names,
    texts.filter(bool),
)
schedules = st.builds(
    lambda name, every, cron, missed, to: ir.ScheduleSpec(
        span=SPAN,
        name=name,
        name_span=SPAN,
        every=None if cron else duration_seconds(every),
        every_text=None if cron else every,
        cron=cron,
        cron_span=SPAN if cron else None,
        missed=missed,
        to=to,
    ),
    names,
    durations,
    st.none() | st.sampled_from(["0 3 * * *", "*/5 * * * *", "0 9 1 * *"]),
    st.sampled_from(["skip", "once", "all"]),
    plain_transitions,
)
specs = st.builds(
    lambda name, doc, output, start, imps, used, timed, state, deps, ns: ir.GraphSpec(
        span=SPAN,
        name=name,
        name_span=SPAN,
        doc=doc,
        output=output,
        start=start,
        start_span=SPAN if start else None,
        imports=imps,
        uses=used,
        schedules=timed,
        state=state,
        deps=deps,
        nodes=ns,
    ),
    class_names,
    st.none() | texts,
    st.none() | types,
    st.none() | class_names,
    st.lists(imports, max_size=2),
    st.lists(uses, max_size=2, unique_by=lambda u: u.name),
    st.lists(schedules, max_size=2, unique_by=lambda s: s.name),
    st.none() | type_specs,
    st.none() | type_specs,
    st.lists(nodes, max_size=3, unique_by=lambda n: n.name),
)


# ---- specs that pass `check`: what a user writes, drawn as `.graph` text ---------------------------------------

_VALUES = {
    "int": st.integers(-5, 5).map(str),
    "str": st.sampled_from(['"a"', '"b c"', '""']),
    "bool": st.sampled_from(["True", "False"]),
}


@st.composite
def checkable_specs(draw: st.DrawFn) -> str:
    """A `.graph` spec built to pass `check`: typed fields, state, guards, labels, policies, error branches, waits.

    Every value has its declared type, so a run can only end, stop at its step limit or stop at a wait.
    """
    count = draw(st.integers(1, 4))
    nodes = [f"N{i}" for i in range(count)]
    output = draw(st.sampled_from(["int", "str", None]))
    fields = {node: draw(st.lists(st.sampled_from(["int", "str", "bool"]), max_size=2)) for node in nodes}
    counted = draw(st.booleans())
    lines = [f"graph G{' -> ' + output if output else ''}", "start N0", ""]
    if counted:
        lines += ["state:", "    count: int = 0", ""]

    def target(depth_left: int) -> str:
        goes = draw(st.sampled_from([*nodes, "End"]))
        if goes == "End":
            value = draw(_VALUES[output]) if output else "None"
            text = f"End({value})"
        else:
            args = [draw(_VALUES[t]) for t in fields[goes]]
            text = f"{goes}({', '.join(args)})"
        label = draw(st.sampled_from(["", "", "", "", ' : "go"', ' : "other way"']))
        return f"-> {text}{label}"

    for node in nodes:
        params = ", ".join(f"f{i}: {t} = {draw(_VALUES[t])}" for i, t in enumerate(fields[node]))
        header = f"node {node}({params})" if params else f"node {node}"
        if draw(st.integers(0, 4)) == 0:
            header += " waits (ok: bool)"
        policies = []
        if draw(st.booleans()):
            policies.append(f"retry {draw(st.integers(1, 3))}")
        if draw(st.booleans()):
            policies.append(f"timeout {draw(st.sampled_from(['1', '0.5', '20']))}")
        if policies:
            header += " " + ", ".join(policies)
        lines.append(header + ":")
        if draw(st.booleans()):
            lines.append(
                f"    on {draw(st.sampled_from(['ValueError', 'TimeoutError', '(KeyError, ValueError)']))} {target(0)}"
            )
        if counted:
            lines.append("    state.count += 1")
            lines.append(f"    if state.count > {draw(st.integers(3, 30))} {target(0)}")
        for i, kind in enumerate(fields[node]):
            if kind == "int" and draw(st.booleans()):
                lines.append(f"    if f{i} > {draw(st.integers(-3, 3))} {target(0)}")
        lines.append(f"    {target(0)}")
        lines.append("")
    return "\n".join(lines)
