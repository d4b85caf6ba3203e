"""IR → source text for expressions, types and statements.

Used by the printer (`fmt`) and, with names mapped, by the code generator: spec
text is never pasted anywhere; it is always re-emitted from the IR, so every
string is escaped and every name is a checked identifier.
"""

from __future__ import annotations

import copy
import math

from . import ir

__all__ = ("ExprWriter", "docstring_literal", "quote_string")

_BINOP_PRECEDENCE = {"+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7, "**": 9}
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\x00"}


def quote_string(value: str, quote: str = '"', also: str = "") -> str:
    """A Python/graph string literal for `value`, escaping quotes, backslashes and unprintables.

    Characters in `also` are escaped too (the enclosing f-string's quote, for nested strings).
    """
    if value.isprintable() and "\\" not in value and quote not in value and not any(ch in value for ch in also):
        return f"{quote}{value}{quote}"  # nothing to escape: `_ESCAPES` holds the backslash and unprintables only
    out = [quote]
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == quote or ch in also:
            out.append("\\" + ch)
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append(quote)
    return "".join(out)


def docstring_literal(text: str) -> str:
    """A triple-quoted docstring when that is safe and readable, else an escaped string literal."""
    safe = '"""' not in text and "\\" not in text and not text.endswith('"') and not text.startswith('"')
    if safe and all(ch.isprintable() or ch == "\n" for ch in text):
        return f'"""{text}"""'
    return quote_string(text)


def _quote_bytes(value: bytes, quote: str = '"', also: str = "") -> str:
    out = ["b" + quote]
    for byte in value:
        ch = chr(byte)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == quote or ch in also:
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    out.append(quote)
    return "".join(out)


def seconds_text(value: float) -> str:
    """A number of seconds as a spec writes it: `20`, `0.5`."""
    return str(int(value)) if value.is_integer() else repr(value)


def exceptions_text(names: list[str]) -> str:
    """Exception classes as `on` and `except` write them: `A`, or `(A, B)`."""
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


def _is_generator(node: ir.Expr) -> bool:
    return isinstance(node, ir.Comprehension) and node.form == "generator"


class ExprWriter:
    """Writes expressions with the fewest parentheses that keep their meaning.

    Subclasses override `name` to map spec names to generated code (e.g. `foo` →
    `self.foo`) and `fstring` to change how f-strings are written.
    """

    def __init__(self, quote: str = '"', also: str = "") -> None:
        self.quote = quote
        self.also = also  # extra characters to escape in strings (set inside f-string fields)
        self.bound: set[str] = set()  # comprehension variables in scope: written as they are

    def name(self, node: ir.Name) -> str:
        """How a bare name is written."""
        return node.id

    def constant(self, value: object) -> str:
        """A literal value."""
        if isinstance(value, str):
            return quote_string(value, self.quote, self.also)
        if isinstance(value, bytes):
            return _quote_bytes(value, self.quote, self.also)
        if isinstance(value, float):
            if math.isinf(value):
                return "1e999" if value > 0 else "-1e999"
            return repr(value)
        return repr(value)

    def expr(self, node: ir.Expr, parent: int = 0) -> str:
        """Write `node` in a context that binds with precedence `parent`."""
        if isinstance(node, ir.Name):
            return node.id if node.id in self.bound else self.name(node)
        if isinstance(node, ir.Constant):
            text = self.constant(node.value)
            negative = isinstance(node.value, (int, float)) and not isinstance(node.value, bool) and node.value < 0
            return f"({text})" if negative and parent >= 8 else text
        if isinstance(node, ir.FString):
            return self.fstring(node)
        if isinstance(node, ir.Attribute):
            return self.attribute(node)
        if isinstance(node, ir.Subscript):
            return f"{self.expr(node.value, 10)}[{self.expr(node.index)}]"
        if isinstance(node, ir.Slice):
            text = f"{self._opt(node.lower)}:{self._opt(node.upper)}"
            return text + (f":{self.expr(node.step)}" if node.step is not None else "")
        if isinstance(node, ir.Call):
            if len(node.args) == 1 and not node.keywords and _is_generator(node.args[0]):
                return f"{self.callee(node.func)}({self.expr(node.args[0])[1:-1]})"  # `f(x for x in xs)`
            parts = [self.expr(a) for a in node.args]
            parts += [f"{k.name}={self.expr(k.value)}" for k in node.keywords]
            return f"{self.callee(node.func)}({', '.join(parts)})"
        if isinstance(node, ir.BinOp):
            level = _BINOP_PRECEDENCE[node.op]
            if node.op == "**":  # right-associative, binds tighter than unary on its left
                text = f"{self.expr(node.left, 10)} ** {self.expr(node.right, 8)}"
            else:
                text = f"{self.expr(node.left, level)} {node.op} {self.expr(node.right, level + 1)}"
            return self._wrap(text, level, parent)
        if isinstance(node, ir.UnaryOp):
            if node.op == "not":
                return self._wrap(f"not {self.expr(node.operand, 4)}", 4, parent)
            return self._wrap(f"{node.op}{self.expr(node.operand, 8)}", 8, parent)
        if isinstance(node, ir.BoolOp):
            level = 3 if node.op == "and" else 2
            return self._wrap(f" {node.op} ".join(self.expr(v, level + 1) for v in node.values), level, parent)
        if isinstance(node, ir.Compare):
            text = self.expr(node.left, 6)
            for op, right in zip(node.ops, node.comparators, strict=True):
                text += f" {op} {self.expr(right, 6)}"
            return self._wrap(text, 5, parent)
        if isinstance(node, ir.IfExp):
            text = f"{self.expr(node.body, 2)} if {self.expr(node.test, 2)} else {self.expr(node.orelse, 1)}"
            return self._wrap(text, 1, parent)
        if isinstance(node, ir.ListExpr):
            return f"[{', '.join(self.expr(e) for e in node.elts)}]"
        if isinstance(node, ir.TupleExpr):
            if len(node.elts) == 1:
                return f"({self.expr(node.elts[0])},)"
            return f"({', '.join(self.expr(e) for e in node.elts)})"
        if isinstance(node, ir.SetExpr):
            return f"{{{', '.join(self.expr(e) for e in node.elts)}}}"
        if isinstance(node, ir.DictExpr):
            items = ", ".join(f"{self.expr(k)}: {self.expr(v)}" for k, v in zip(node.keys, node.values, strict=True))
            return f"{{{items}}}"
        if isinstance(node, ir.Comprehension):
            return self.comprehension(node)
        raise AssertionError(f"unknown expression {node!r}")

    def attribute(self, node: ir.Attribute) -> str:
        """`value.attr`, read."""
        value = self.expr(node.value, 10)
        if isinstance(node.value, ir.Constant) and isinstance(node.value.value, (int, float)):
            value = f"({value})"  # `1.real` would read as a float
        return f"{value}.{node.attr}"

    def callee(self, node: ir.Expr) -> str:
        """What a call calls."""
        return self.expr(node, 10)

    def comprehension(self, node: ir.Comprehension) -> str:
        """`[x for x in xs if x]` and the like; its variables are in scope after their `for`."""
        outer = set(self.bound)
        clauses = []
        try:
            for clause in node.generators:
                iterable = self.expr(clause.iter, 2)  # before its own targets are bound
                self.bound.update(clause.targets)
                text = f"for {', '.join(clause.targets)} in {iterable}"
                clauses.append(" ".join([text, *(f"if {self.expr(c, 2)}" for c in clause.ifs)]))
            element = self.expr(node.element)
            if node.value is not None:
                element = f"{element}: {self.expr(node.value)}"
        finally:
            self.bound.clear()
            self.bound.update(outer)
        brackets = {"list": "[]", "set": "{}", "dict": "{}", "generator": "()"}[node.form]
        return f"{brackets[0]}{element} {' '.join(clauses)}{brackets[1]}"

    def fstring(self, node: ir.FString) -> str:
        """An f-string; fields are written with the other quote so they nest."""
        inner = self.nested("'" if self.quote == '"' else '"', also=self.quote)
        out = ["f", self.quote]
        for part in node.parts:
            if isinstance(part, str):
                out.append(quote_string(part, self.quote)[1:-1].replace("{", "{{").replace("}", "}}"))
                continue
            text = inner.expr(part.value)
            if text.startswith("{"):
                text = f" {text}"  # `{{` would read as a literal brace
            out.append("{" + text)
            if part.conversion:
                out.append("!" + part.conversion)
            if part.format_spec is not None:
                out.append(":" + part.format_spec)
            out.append("}")
        out.append(self.quote)
        return "".join(out)

    def nested(self, quote: str, also: str) -> ExprWriter:
        """A writer for an f-string's fields: this one's names and hooks, other quotes, the same bound names."""
        inner = copy.copy(self)
        inner.quote, inner.also = quote, also
        return inner

    def _opt(self, node: ir.Expr | None) -> str:
        return "" if node is None else self.expr(node)

    @staticmethod
    def _wrap(text: str, level: int, parent: int) -> str:
        return f"({text})" if level < parent else text

    # ---- types, statements, targets ------------------------------------------------------

    def type(self, node: ir.TypeExpr) -> str:
        """A type annotation."""
        if isinstance(node, ir.UnionType):
            return " | ".join(self.type(option) for option in node.options)
        if isinstance(node, ir.LiteralType):
            return f"Literal[{', '.join(self.constant(v.value) for v in node.values)}]"
        if isinstance(node, ir.EllipsisType):
            return "..."
        if node.args is None:
            return node.name
        return f"{node.name}[{', '.join(self.type(a) for a in node.args)}]"

    def statement(self, node: ir.Statement) -> str:
        """A statement of a node body."""
        # `await` applies to the whole expression; Python's binds tighter, so parenthesise
        value = f"await {self.expr(node.value, 10)}" if node.awaited else self.expr(node.value)
        if isinstance(node, ir.ExprStmt):
            return value
        return self.assignment(node.target, node.op, value)

    def assignment(self, target: ir.Expr, op: str, value: str) -> str:
        """`target op value` (`=`, `+=`, ...), `value` already written."""
        return f"{self.expr(target)} {op} {value}"

    def target(self, node: ir.Transition) -> str:
        """`Target(args)` of a transition, without the arrow or label."""
        parts = [self.expr(a) for a in node.args] + [f"{k.name}={self.expr(k.value)}" for k in node.keywords]
        return f"{node.target}({', '.join(parts)})"

    def field(self, node: ir.FieldSpec) -> str:
        """`TYPE [= DEFAULT]` of a field, without its name."""
        text = self.type(node.type)
        return text if node.default is None else f"{text} = {self.expr(node.default)}"
