"""Guards proved with z3 (the `prove` extra): shadowed, always-false, always-true and repeated conditions.

For each node, the conditions of its branches are encoded over the node's fields,
`state.x` / `deps.x` and the locals assigned before the branches, as z3 terms of the
declared types. Branch k is taken when it is *reached* (every earlier condition was
evaluated without raising and was false) and its own condition evaluates without
raising and holds. Then:

- W410: no input reaches branch k with its condition true — an earlier branch takes
  every case (reported with a witness: a value for which the condition holds);
- W411: the condition can never hold, given the declared types;
- W412: whenever the branch is reached, its condition holds — the branches after it
  are never taken;
- W413: the condition repeats an earlier one word for word.

Soundness comes first: only what is modelled exactly is modelled — int arithmetic,
comparisons, `and`/`or`/`not`, `in` over literal collections, `len` and `in` on
strings, `None` checks, `Literal` and `bool` fields, assignments earlier in the body.
Floats are reals that may also be NaN, and are compared but not computed with (IEEE
rounding is not real arithmetic). Anything else — calls, attributes of imported
objects, float arithmetic — is an unknown: a fresh truth value that may also raise,
and a call makes every `state` field unknown from then on. Unknowns can only make a
claim less likely, so when unsure the prover says nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from dsl import ir
from dsl.diagnostics import Diagnostic
from dsl.unparse import ExprWriter

from .checks import CheckedGraph, walk_expression

__all__ = ("prove_guards",)

_TIMEOUT_MS = 2000  # per query; "unknown" is silence, never a claim
_WRITER = ExprWriter()


class _Opaque(Exception):
    """An expression the prover does not model exactly."""


@dataclass(frozen=True)
class _Value:
    """A Python value as z3 terms: its sort, its term, when it is None, and when evaluating it does not raise."""

    sort: str  # "int", "real", "bool", "str" or "none"
    term: Any
    none: Any
    ok: Any
    nan: Any = None  # reals only: the float is NaN


@dataclass
class _Guard:
    line: int
    text: str
    holds: Any  # evaluated without raising and true
    ok: Any
    exact: bool  # no unknowns inside
    calls: bool  # evaluating it may change `state`


_TRUE, _FALSE = z3.BoolVal(True), z3.BoolVal(False)


def prove_guards(checked: CheckedGraph) -> list[Diagnostic]:
    """Warnings about the branch conditions of every node of a checked spec."""
    found: list[Diagnostic] = []
    for node in checked.spec.nodes:
        found += _NodeProver(checked, node).warnings()
    return found


class _NodeProver:
    def __init__(self, checked: CheckedGraph, node: ir.NodeSpec) -> None:
        self.spec = checked.spec
        self.node = node
        self.fresh = itertools.count()
        self.constraints: list[Any] = []  # what the declared types say about the variables
        self.names: dict[str, Any] = {}  # z3 variable -> how the message names it
        self.variables: dict[str, _Value | None] = {}  # field or local -> its value (None: unknown)
        self.state_generation = 0
        for f in node.all_fields():
            self.variables[f.name] = self.variable(f.name, f.type)

    # ---- variables ---------------------------------------------------------------------------

    def variable(self, shown: str, declared: ir.TypeExpr | None) -> _Value | None:
        """A variable of a declared type, or None when the type is not modelled."""
        if declared is None:
            return None
        key = f"{shown}#{next(self.fresh)}"
        options = declared.options if isinstance(declared, ir.UnionType) else [declared]
        nullable = any(isinstance(o, ir.NamedType) and o.name == "None" for o in options)
        rest = [o for o in options if not (isinstance(o, ir.NamedType) and o.name == "None")]
        if len(rest) != 1:
            return None
        sort, allowed = _sort_of(rest[0])
        if sort is None:
            return None
        make = {"int": z3.Int, "real": z3.Real, "bool": z3.Bool, "str": z3.String}[sort]
        term = make(key)
        self.names[str(term)] = shown
        none = z3.Bool(f"{key}.none") if nullable else _FALSE
        if nullable:
            self.names[str(none)] = f"{shown} is None"
        if allowed is not None:
            self.constraints.append(z3.Or(none, z3.Or([term == _literal(v, sort) for v in allowed])))
        nan = z3.Bool(f"{key}.nan") if sort == "real" else None
        if nan is not None:
            self.names[str(nan)] = f"{shown} is NaN"
        return _Value(sort, term, none, _TRUE, nan)

    def state_field(self, owner: str, name: str) -> _Value | None:
        type_spec = self.spec.state if owner == "state" else self.spec.deps
        if type_spec is None or type_spec.fields is None:
            return None
        key = f"{owner}.{name}" if owner == "deps" else f"{owner}.{name}@{self.state_generation}"
        if key not in self.variables:
            declared = next((f.type for f in type_spec.fields if f.name == name), None)
            self.variables[key] = self.variable(f"{owner}.{name}", declared)
        return self.variables[key]

    def forget_state(self) -> None:
        """A call may have changed any state field: later reads see new unknowns."""
        self.state_generation += 1

    # ---- the body before the branches --------------------------------------------------------------

    def statements(self, statements: list[ir.Statement]) -> None:
        for statement in statements:
            calls = _has_call(statement.value) or statement.awaited
            value = None if statement.awaited else self.try_value(statement.value)
            if calls:
                self.forget_state()
            if isinstance(statement, ir.ExprStmt):
                continue
            target = statement.target
            if statement.op != "=" and value is not None:
                try:
                    value = self.arithmetic(statement.op[:-1], self.value(target), value)
                except _Opaque:
                    value = None
            if isinstance(target, ir.Name):
                self.variables[target.id] = value
            elif _is_state_field(target):
                assert isinstance(target, ir.Attribute)
                key = f"state.{target.attr}@{self.state_generation}"
                self.variables.pop(key, None)  # unknown: a new variable of the field's declared type
                self.variables[key] = value if value is not None else self.state_field("state", target.attr)
            else:
                self.forget_state()  # `state.items[0] = ...` and the like

    def try_value(self, expr: ir.Expr) -> _Value | None:
        try:
            return self.value(expr)
        except _Opaque:
            return None

    # ---- expressions -----------------------------------------------------------------------------

    def value(self, expr: ir.Expr) -> _Value:
        """The exact value of an expression, or `_Opaque`."""
        if isinstance(expr, ir.Constant):
            return _constant(expr.value)
        if isinstance(expr, ir.Name):
            found = self.variables.get(expr.id)
            if found is None:
                raise _Opaque
            return found
        if isinstance(expr, ir.Attribute) and isinstance(expr.value, ir.Name) and expr.value.id in ("state", "deps"):
            found = self.state_field(expr.value.id, expr.attr)
            if found is None:
                raise _Opaque
            return found
        if isinstance(expr, ir.UnaryOp) and expr.op in ("-", "+"):
            operand = self.value(expr.operand)
            zero = _Value("int", z3.IntVal(0), _FALSE, _TRUE)
            return self.arithmetic(expr.op, zero, operand) if expr.op == "-" else self.arithmetic("+", zero, operand)
        if isinstance(expr, ir.BinOp):
            return self.arithmetic(expr.op, self.value(expr.left), self.value(expr.right))
        if isinstance(expr, ir.Call) and isinstance(expr.func, ir.Name) and not expr.keywords and len(expr.args) == 1:
            if expr.func.id == "len":
                text = self.value(expr.args[0])
                if text.sort != "str":
                    raise _Opaque
                return _Value("int", z3.Length(text.term), _FALSE, z3.And(text.ok, z3.Not(text.none)))
            if expr.func.id == "abs":
                number = self.value(expr.args[0])
                if number.sort != "int":
                    raise _Opaque
                term = z3.If(number.term < 0, -number.term, number.term)
                return _Value("int", term, _FALSE, z3.And(number.ok, z3.Not(number.none)))
        if isinstance(expr, (ir.Compare, ir.BoolOp)) or (isinstance(expr, ir.UnaryOp) and expr.op == "not"):
            holds, ok, _ = self.condition(expr)
            return _Value("bool", holds, _FALSE, ok)
        raise _Opaque

    def arithmetic(self, op: str, left: _Value, right: _Value) -> _Value:
        if left.sort == "str" and right.sort == "str" and op == "+":
            return _Value("str", z3.Concat(left.term, right.term), _FALSE, _defined(left, right))
        if {left.sort, right.sort} - {"int", "bool"}:
            raise _Opaque  # floats: IEEE rounding is not real arithmetic; strings: only `+`
        a, b = _as_int(left), _as_int(right)
        ok = _defined(left, right)
        if op in ("+", "-", "*"):
            term = a + b if op == "+" else a - b if op == "-" else a * b
            return _Value("int", term, _FALSE, ok)
        if op in ("//", "%") and isinstance(right.term, z3.IntNumRef) and right.term.as_long() > 0:
            return _Value("int", a / b if op == "//" else a % b, _FALSE, ok)  # floor semantics for b > 0
        raise _Opaque

    def condition(self, expr: ir.Expr) -> tuple[Any, Any, bool]:
        """(holds, evaluates without raising, exact) for an expression used as a condition."""
        if isinstance(expr, ir.BoolOp):
            parts = [self.condition(v) for v in expr.values]
            holds, ok = parts[-1][0], parts[-1][1]
            for part_holds, part_ok, _ in reversed(parts[:-1]):  # short-circuit, right to left
                if expr.op == "and":
                    holds, ok = z3.And(part_holds, holds), z3.And(part_ok, z3.Or(z3.Not(part_holds), ok))
                else:
                    holds, ok = z3.Or(part_holds, holds), z3.And(part_ok, z3.Or(part_holds, ok))
            return holds, ok, all(p[2] for p in parts)
        if isinstance(expr, ir.UnaryOp) and expr.op == "not":
            holds, ok, exact = self.condition(expr.operand)
            return z3.Not(holds), ok, exact
        if isinstance(expr, ir.IfExp):
            test, body, orelse = self.condition(expr.test), self.condition(expr.body), self.condition(expr.orelse)
            holds = z3.If(test[0], body[0], orelse[0])
            ok = z3.And(test[1], z3.If(test[0], body[1], orelse[1]))
            return holds, ok, test[2] and body[2] and orelse[2]
        try:
            if isinstance(expr, ir.Compare):
                holds, ok = self.compare(expr)
                return holds, ok, True
            value = self.value(expr)
            return _truthy(value), value.ok, True
        except _Opaque:
            n = next(self.fresh)
            return z3.Bool(f"unknown#{n}"), z3.Bool(f"unknown#{n}.ok"), False

    def compare(self, expr: ir.Compare) -> tuple[Any, Any]:
        if len(expr.ops) > 1 and any(op in ("in", "not in") for op in expr.ops):
            raise _Opaque  # `a in b < c` is not worth modelling
        left = self.value(expr.left)
        holds, ok = _TRUE, left.ok
        for op, comparator in zip(expr.ops, expr.comparators, strict=True):
            if op in ("in", "not in"):
                step_holds, step_ok = self.membership(left, comparator)
                if op == "not in":
                    step_holds = z3.Not(step_holds)
                right = None
            else:
                right = self.value(comparator)
                step_holds, step_ok = _compare(op, left, right)
            ok = z3.And(ok, z3.Or(z3.Not(holds), step_ok))  # a chain stops at its first false link
            holds = z3.And(holds, step_holds)
            if right is not None:
                left = right
        return holds, ok

    def membership(self, item: _Value, collection: ir.Expr) -> tuple[Any, Any]:
        if isinstance(collection, (ir.ListExpr, ir.TupleExpr, ir.SetExpr, ir.DictExpr)):
            elements = collection.keys if isinstance(collection, ir.DictExpr) else collection.elts
            values = [self.value(e) for e in elements]
            if isinstance(collection, (ir.SetExpr, ir.DictExpr)) and item.sort in ("real",):
                raise _Opaque  # hashing NaN: not worth the care
            tests = [_compare("==", item, v) for v in values]
            holds = z3.Or([t[0] for t in tests]) if tests else _FALSE
            return holds, z3.And(item.ok, *[v.ok for v in values])
        text = self.value(collection)
        if text.sort != "str" or item.sort != "str":
            raise _Opaque
        ok = z3.And(_defined(item, text))
        return z3.Contains(text.term, item.term), ok

    # ---- the claims ------------------------------------------------------------------------------

    def guards(self) -> Iterator[_Guard]:
        for branch in self.node.next:
            if branch.condition is None:
                return
            holds, ok, exact = self.condition(branch.condition)
            calls = _has_call(branch.condition)
            yield _Guard(branch.span.line, _WRITER.expr(branch.condition), z3.And(ok, holds), ok, exact, calls)
            if calls:
                self.forget_state()

    def warnings(self) -> list[Diagnostic]:
        self.statements(self.node.do)
        found: list[Diagnostic] = []
        earlier: list[_Guard] = []
        branches = [b for b in self.node.next if b.condition is not None]
        for branch, guard in zip(branches, self.guards(), strict=True):
            found += self.judge(branch, guard, earlier)
            earlier.append(guard)
        return found

    def judge(self, branch: ir.Branch, guard: _Guard, earlier: list[_Guard]) -> list[Diagnostic]:
        span = branch.condition.span if branch.condition is not None else branch.span
        twin = next((g for g in earlier if g.text == guard.text and not g.calls), None)
        if twin is not None:
            never = " and is never taken" if self.unsat(*self.reach(earlier), guard.holds) else ""
            message = f"this condition repeats the one on line {twin.line}{never}"
            return [Diagnostic.warning("W413", span, message, "remove one, or change what it tests")]
        if self.unsat(guard.holds):
            return [
                Diagnostic.warning(
                    "W411",
                    span,
                    f"`{guard.text}` never holds, given the declared types",
                    "this branch is never taken: fix the condition or remove the branch",
                )
            ]
        reach = self.reach(earlier)
        if earlier and self.unsat(*reach, guard.holds):
            return [self.shadowed(span, guard, earlier)]
        if branch is not self.node.next[-1] and self.unsat(*reach, z3.Not(guard.holds)):
            later = self.node.next[self.node.next.index(branch) + 1]
            when = " when it is reached" if earlier else ""
            return [
                Diagnostic.warning(
                    "W412",
                    span,
                    f"`{guard.text}` always holds{when}, so the branch on line {later.span.line} and any after it "
                    "are never taken",
                    "make it unconditional, or fix the condition",
                )
            ]
        return []

    def reach(self, earlier: list[_Guard]) -> list[Any]:
        """Branch k is reached when every earlier condition evaluated and was false."""
        return [z3.And(g.ok, z3.Not(g.holds)) for g in earlier]

    def shadowed(self, span: ir.Span, guard: _Guard, earlier: list[_Guard]) -> Diagnostic:
        example = self.example(guard)
        taken = None
        if example is not None:
            model, shown = example
            for g in earlier:
                if z3.is_true(model.eval(z3.Not(g.ok), model_completion=True)):
                    taken = f"the condition on line {g.line} (`{g.text}`) raises first"
                    break
                if z3.is_true(model.eval(g.holds, model_completion=True)):
                    taken = f"the branch on line {g.line} (`{g.text}`) is taken first"
                    break
            e_g = f", e.g. {shown}" if shown else ""
        else:
            e_g = ""
        taken = taken or "an earlier branch is taken first"
        message = f"this branch is never taken: whenever `{guard.text}` holds, {taken}{e_g}"
        return Diagnostic.warning("W410", span, message, "reorder the branches, or fix the conditions")

    def example(self, guard: _Guard) -> tuple[Any, str] | None:
        """A model of the guard with every unknown false, and its variables as `x = 21, y = "a"`."""
        solver = self.solver()
        solver.add(guard.holds)
        unknowns = [v for v in _variables(guard.holds) if str(v).startswith("unknown#")]
        solver.add(*[z3.Not(u) for u in unknowns])
        if solver.check() != z3.sat:
            return None
        model = solver.model()
        shown = []
        for variable in sorted(_variables(guard.holds), key=str):
            name = self.names.get(str(variable))
            if name is None:
                continue
            value = model.eval(variable, model_completion=True)
            if name.endswith((" is None", " is NaN")):
                if z3.is_true(value):
                    shown.append(name)
                continue
            shown.append(f"{name} = {_python_text(value)}")
        return model, ", ".join(shown)

    def solver(self) -> Any:
        solver = z3.Solver()
        solver.set("timeout", _TIMEOUT_MS)
        solver.add(*self.constraints)
        return solver

    def unsat(self, *facts: Any) -> bool:
        solver = self.solver()
        solver.add(*facts)
        return bool(solver.check() == z3.unsat)


# ---- helpers ---------------------------------------------------------------------------------------


def _sort_of(declared: ir.TypeExpr) -> tuple[str | None, list[Any] | None]:
    """The z3 sort for a declared type, and the values a `Literal` allows."""
    if isinstance(declared, ir.LiteralType):
        values = [c.value for c in declared.values]
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            return None, None
        kind = kinds.pop()
        sort = {bool: "bool", int: "int", str: "str"}.get(kind)
        return (sort, values) if sort is not None else (None, None)
    if isinstance(declared, ir.NamedType) and declared.args is None:
        return {"int": "int", "float": "real", "bool": "bool", "str": "str"}.get(declared.name), None
    return None, None


def _literal(value: Any, sort: str) -> Any:
    if sort == "bool":
        return z3.BoolVal(bool(value))
    if sort == "int":
        return z3.IntVal(int(value))
    return z3.StringVal(str(value))


def _constant(value: object) -> _Value:
    if value is None:
        return _Value("none", None, _TRUE, _TRUE)
    if isinstance(value, bool):
        return _Value("bool", z3.BoolVal(value), _FALSE, _TRUE)
    if isinstance(value, int):
        return _Value("int", z3.IntVal(value), _FALSE, _TRUE)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise _Opaque
        exact = Fraction(value)  # the double itself, not the decimal written
        return _Value("real", z3.RealVal(f"{exact.numerator}/{exact.denominator}"), _FALSE, _TRUE, _FALSE)
    if isinstance(value, str):
        return _Value("str", z3.StringVal(value), _FALSE, _TRUE)
    raise _Opaque


def _as_int(value: _Value) -> Any:
    return z3.If(value.term, 1, 0) if value.sort == "bool" else value.term


def _as_real(value: _Value) -> Any:
    return value.term if value.sort == "real" else z3.ToReal(_as_int(value))


def _defined(*values: _Value) -> Any:
    """Evaluating them does not raise: each evaluates, and none is None where a value is needed."""
    return z3.And(*[z3.And(v.ok, z3.Not(v.none)) for v in values])


def _truthy(value: _Value) -> Any:
    if value.sort == "none":
        return _FALSE
    own = {
        "bool": lambda: value.term,
        "int": lambda: value.term != 0,
        "real": lambda: z3.Or(value.nan, value.term != 0),
        "str": lambda: z3.Length(value.term) > 0,
    }[value.sort]()
    return z3.And(z3.Not(value.none), own)


_NUMERIC = {"int", "real", "bool"}


def _compare(op: str, left: _Value, right: _Value) -> tuple[Any, Any]:
    """(holds, evaluates without raising) for one comparison."""
    if op in ("is", "is not"):
        if right.sort == "none":
            holds = left.none
        elif left.sort == "none":
            holds = right.none
        else:
            raise _Opaque  # identity of other objects
        return (holds if op == "is" else z3.Not(holds)), z3.And(left.ok, right.ok)
    if op in ("==", "!="):
        holds = _equal(left, right)
        return (holds if op == "==" else z3.Not(holds)), z3.And(left.ok, right.ok)
    # ordering: numbers compare; strings are not modelled; anything else raises `TypeError`
    if left.sort in _NUMERIC and right.sort in _NUMERIC:
        if left.sort == "real" or right.sort == "real":
            a, b = _as_real(left), _as_real(right)
            nan = z3.Or(*[v.nan for v in (left, right) if v.sort == "real"])
        else:
            a, b, nan = _as_int(left), _as_int(right), _FALSE
        ordered = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return z3.And(z3.Not(nan), ordered), _defined(left, right)
    if left.sort == right.sort == "str":
        raise _Opaque
    return _FALSE, _FALSE


def _equal(left: _Value, right: _Value) -> Any:
    """`left == right`, None included (`None == None`; a None is equal to nothing else)."""
    both_none = z3.And(left.none, right.none)
    if left.sort == "none" or right.sort == "none":
        return both_none
    values_equal: Any
    if left.sort in _NUMERIC and right.sort in _NUMERIC:
        if "real" in (left.sort, right.sort):
            nan = z3.Or(*[v.nan for v in (left, right) if v.sort == "real"])
            values_equal = z3.And(z3.Not(nan), _as_real(left) == _as_real(right))
        else:
            values_equal = _as_int(left) == _as_int(right)
    elif left.sort == right.sort == "str":
        values_equal = left.term == right.term
    elif "str" in (left.sort, right.sort):
        values_equal = _FALSE  # a string equals no number
    else:
        raise _Opaque
    return z3.Or(both_none, z3.And(z3.Not(left.none), z3.Not(right.none), values_equal))


def _has_call(expr: ir.Expr) -> bool:
    """Whether evaluating `expr` calls anything but `len` and `abs` (which change nothing)."""
    return any(
        isinstance(e, ir.Call) and not (isinstance(e.func, ir.Name) and e.func.id in ("len", "abs"))
        for e in walk_expression(expr)
    )


def _is_state_field(target: ir.Expr) -> bool:
    return isinstance(target, ir.Attribute) and isinstance(target.value, ir.Name) and target.value.id == "state"


def _variables(term: Any) -> set[Any]:
    """The uninterpreted constants in a z3 term."""
    found: dict[int, Any] = {}
    stack = [term]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node.get_id() in seen:
            continue
        seen.add(node.get_id())
        if z3.is_const(node) and node.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found[node.get_id()] = node
        stack.extend(node.children())
    return set(found.values())


def _python_text(value: Any) -> str:
    """A z3 model value written as Python."""
    if z3.is_true(value):
        return "True"
    if z3.is_false(value):
        return "False"
    if z3.is_int_value(value):
        return str(value.as_long())
    if z3.is_rational_value(value):
        return repr(float(Fraction(value.numerator_as_long(), value.denominator_as_long())))
    if z3.is_string_value(value):
        return repr(value.as_string())
    return str(value)
