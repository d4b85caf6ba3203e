"""Parse tree (`syntax_tree`) → IR for expressions, types, statements and targets, shared by all front-ends.

`TreeToIR` turns the subtrees every syntax shares into IR models. Positions are
mapped into the file the text came from, so an expression inside a YAML string
points into the YAML file.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from collections.abc import Callable, Iterator

from . import ir
from .diagnostics import Diagnostics
from .limits import active_limits
from .syntax_tree import TOKEN_TYPES, Token, Tree

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any, cast
else:
    Any = object  # at run time only `cast`'s first argument

    def cast(_type: object, value: object) -> object:
        """`typing.cast` (which only returns `value`), without importing `typing`."""
        return value


__all__ = ("STRING_TOKENS", "PositionMap", "TreeToIR")

PositionMap = Callable[[int, int], tuple[int, int]]
"""Maps a (line, column) of the parsed text to a (line, column) of the file."""

STRING_TOKENS = frozenset(("STRING", "LONG_STRING"))
"""The terminals of string literals (an operand is the token itself, elsewhere a `string` subtree of one)."""
_STRING_PREFIXES = {"", "r", "u", "b", "br", "rb", "f", "fr", "rf"}
_PREFIX = re.compile(r"[a-zA-Z]*")
_FSTRING_SPECIAL = re.compile(r"[{}\\]")
_FSTRING_RAW_SPECIAL = re.compile(r"[{}]")
"""What an f-string's text is scanned for; the characters between are literal text."""
_NESTING = re.compile(r"[\"'(\[{]")
"""What opens a string or bracket: text without any is all at top level (`_top_level`)."""
_BINOPS = {"+", "-", "*", "/", "//", "%", "**"}


LANGUAGE_KEYWORDS = frozenset(["on"])
"""Words of the graph language that could start a statement, so no name may take them."""


def as_token(child: object) -> Token:
    """A tree child the grammar guarantees to be a token (ours, or lark's)."""
    assert isinstance(child, TOKEN_TYPES), child
    return cast(Token, child)


def _top_level(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """The characters of `text` outside brackets and string literals, with their indexes.

    A closing bracket with nothing open (the `}` ending an f-string field) counts as outside.
    """
    depth = 0
    quote: str | None = None
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}" and depth:
            depth -= 1
        elif not depth:
            yield i, ch
        i += 1


def _identity(line: int, column: int) -> tuple[int, int]:
    return line, column


class TreeToIR:
    """Converts lark trees of the shared sub-grammar into IR, recording problems in `sink`."""

    def __init__(
        self,
        file: str,
        sink: Diagnostics,
        position: PositionMap | None = None,
        parse_expression: Callable[[str, PositionMap], ir.Expr | None] | None = None,
    ) -> None:
        self.file = file
        self.sink = sink
        self.position = position or _identity
        self.line_shift: int | None = 0 if position is None else None
        """Set when `position` only moves lines down by this many: spans are then made without calling it."""
        self.max_depth = active_limits().max_depth
        self._depth = 0
        self._too_deep_reported = False
        self._valid_names: set[str] = set()
        # f-string replacement fields are parsed by the caller's parser
        self.parse_expression = parse_expression

    # ---- spans -------------------------------------------------------------------------

    def shift_lines(self, lines: int) -> None:
        """Positions from now on are in a piece of the file that starts `lines` lines into it."""

        def position(line: int, column: int) -> tuple[int, int]:
            return line + lines, column

        self.position, self.line_shift = position, lines

    def span(self, line: int, column: int, end_line: int, end_column: int) -> ir.Span:
        """A span of the file from positions in the parsed text."""
        shift = self.line_shift
        if shift is not None:
            if shift:  # (else the token's own numbers: `line + 0` would be a new int object for each span)
                line, end_line = line + shift, end_line + shift
            return ir.Span(file=self.file, line=line, column=column, end_line=end_line, end_column=end_column)
        line, column = self.position(line, column)
        end_line, end_column = self.position(end_line, end_column)
        return ir.Span(file=self.file, line=line, column=column, end_line=end_line, end_column=end_column)

    def token_span(self, child: object) -> ir.Span:
        """The span of one token."""
        token = as_token(child)
        return self.span(
            token.line or 1, token.column or 1, token.end_line or token.line or 1, token.end_column or token.column or 1
        )

    def tree_span(self, tree: Tree | Token) -> ir.Span:
        """The span of a subtree, from its first to its last token."""
        if isinstance(tree, TOKEN_TYPES):
            return self.token_span(tree)
        position = tree.position
        if position is not None:
            return self.span(*position)
        first = last = None
        for token in tree.scan_values(lambda v: isinstance(v, TOKEN_TYPES)):
            if first is None:
                first = token
            last = token
        if first is None or last is None:
            return self.span(1, 1, 1, 1)
        return self.span(first.line or 1, first.column or 1, last.end_line or 1, last.end_column or 1)

    def merge(self, start: ir.Span, end: ir.Span) -> ir.Span:
        """The span from the start of one to the end of another."""
        return ir.Span(
            file=self.file, line=start.line, column=start.column, end_line=end.end_line, end_column=end.end_column
        )

    # ---- names ---------------------------------------------------------------------------

    def check_name(self, child: object, what: str = "name") -> str:
        """Validate a user-chosen name: no leading underscore, no Python keyword."""
        name = child.value if child.__class__ is Token else str(child)
        if name in self._valid_names:  # most names recur: check each once
            return name
        token = as_token(child)
        if not self.nfkc(token, name, what):
            pass
        elif not name.isidentifier():  # names from YAML/TOML keys do not go through the lexer
            self.sink.error(
                "E013",
                self.token_span(token),
                f"`{name}` is not a valid {what}",
                "use letters, digits and underscores, not starting with a digit",
            )
        elif name.startswith("_"):
            self.sink.error(
                "E012",
                self.token_span(token),
                f"{what} `{name}` starts with `_`",
                "names starting with `_` are reserved; rename it",
            )
        elif keyword.iskeyword(name):
            self.sink.error("E013", self.token_span(token), f"`{name}` is a Python keyword and cannot be a {what}")
        elif name in LANGUAGE_KEYWORDS:
            self.sink.error(
                "E013", self.token_span(token), f"`{name}` is a keyword of the language and cannot be a {what}"
            )
        else:
            self._valid_names.add(name)
        return name

    def nfkc(self, token: object, name: str, what: str) -> bool:
        """E018 unless `name` is written as Python reads it.

        Python folds identifiers to NFKC (`ｆｏｏ` is `foo`), so a name the checks saw
        could otherwise be another name in generated code.
        """
        if name.isascii() or unicodedata.is_normalized("NFKC", name):
            return True
        folded = unicodedata.normalize("NFKC", name)
        self.sink.error(
            "E018",
            self.token_span(as_token(token)),
            f"{what} `{name}` is not written as Python reads it",
            f"Python reads it as `{folded}`; write that",
        )
        return False

    # ---- expressions -------------------------------------------------------------------------

    def expr(self, node: Tree | Token) -> ir.Expr:
        """Convert an expression subtree (at most `max_depth` levels deep)."""
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                return self._too_deep(node)
            if not isinstance(node, Tree):  # an operand: a NAME, NUMBER or string token (`?atom` builds no subtree)
                kind = getattr(node, "type", None)
                if kind == "NUMBER":
                    return ir.Constant(span=self.token_span(node), value=self.number(node))
                if kind in STRING_TOKENS:
                    return self.string(node)
                return ir.Name(span=self.token_span(node), id=self.check_name(node))
            convert = _EXPR_RULES.get(node.data)
            if convert is None:
                raise AssertionError(f"unexpected expression rule {node.data}")
            return convert(self, node, self.tree_span(node), node.children)
        finally:
            self._depth -= 1

    def _too_deep(self, node: Tree | Token) -> ir.Expr:
        positioned = isinstance(node, TOKEN_TYPES) or node.position is not None
        span = self.tree_span(node) if positioned else self.span(1, 1, 1, 1)
        if not self._too_deep_reported:
            self._too_deep_reported = True
            self.sink.error(
                "E016",
                span,
                f"expression nested more than {self.max_depth} levels deep",
                "split it into locals, or compute it in an imported function",
            )
        return ir.Constant(span=span, value=None)

    # one method per expression rule, called with the tree, its span and its children

    def _constant(self, node: Tree, span: ir.Span, _c: list[Any]) -> ir.Expr:
        return ir.Constant(span=span, value=None if node.data == "const_none" else node.data == "const_true")

    def _getattr(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        attr = c[1]
        name = str(attr)
        if self.nfkc(attr, name, "attribute") and name.startswith("_"):
            self.sink.error(
                "E012",
                self.token_span(attr),
                f"attribute `{name}` starts with `_`",
                "private and dunder attributes are not reachable from a spec",
            )
        return ir.Attribute(span=span, value=self.expr(c[0]), attr=name)

    def _call(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        args, keywords = self.arguments(c[1])
        return ir.Call(span=span, func=self.expr(c[0]), args=args, keywords=keywords)

    def _getitem(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.Subscript(span=span, value=self.expr(c[0]), index=self.expr(c[1]))

    def _slice(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        lower, upper, step = (self.expr(x) if x is not None else None for x in c)
        return ir.Slice(span=span, lower=lower, upper=upper, step=step)

    def _binop(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        op: Any = str(c[1])
        assert op in _BINOPS
        return ir.BinOp(span=span, left=self.expr(c[0]), op=op, right=self.expr(c[2]))

    def _unary(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        op: Any = str(c[0])
        return ir.UnaryOp(span=span, op=op, operand=self.expr(c[1]))

    def _not(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.UnaryOp(span=span, op="not", operand=self.expr(c[0]))

    def _inner(self, _node: Tree, _span: ir.Span, c: list[Any]) -> ir.Expr:
        return self.expr(c[0])  # `(x)`, and the input rule of a fragment

    # chains flatten only when unparenthesised: `(a < b) < c` is not `a < b < c`

    def _bool_op(self, node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        rule = node.data
        left = self.expr(c[0])
        chained = isinstance(left, ir.BoolOp) and isinstance(c[0], Tree) and c[0].data == rule
        values = left.values if isinstance(left, ir.BoolOp) and chained else [left]
        return ir.BoolOp(span=span, op="and" if rule == "and_op" else "or", values=[*values, self.expr(c[1])])

    def _compare(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        left = self.expr(c[0])
        op: Any = " ".join(str(t) for t in c[1].children)
        if isinstance(left, ir.Compare) and isinstance(c[0], Tree) and c[0].data == "compare":
            return ir.Compare(
                span=span, left=left.left, ops=[*left.ops, op], comparators=[*left.comparators, self.expr(c[2])]
            )
        return ir.Compare(span=span, left=left, ops=[op], comparators=[self.expr(c[2])])

    def _ifexp(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.IfExp(span=span, body=self.expr(c[0]), test=self.expr(c[1]), orelse=self.expr(c[2]))

    def _list(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.ListExpr(span=span, elts=[self.expr(x) for x in c if x is not None])

    def _tuple(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.TupleExpr(span=span, elts=[self.expr(x) for x in c if x is not None])

    def _set(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        return ir.SetExpr(span=span, elts=[self.expr(x) for x in c if x is not None])

    def _dict(self, _node: Tree, span: ir.Span, c: list[Any]) -> ir.Expr:
        items = [x for x in c if x is not None]
        return ir.DictExpr(
            span=span,
            keys=[self.expr(i.children[0]) for i in items],
            values=[self.expr(i.children[1]) for i in items],
        )

    def _comprehension(self, node: Tree, span: ir.Span, _c: list[Any]) -> ir.Expr:
        return self.comprehension(node.data, node, span)

    def comprehension(self, rule: str, node: Tree, span: ir.Span) -> ir.Comprehension:
        """A list, set or dict comprehension, or a generator expression (re-emitted like any expression)."""
        head, *clauses = node.children
        form = {"list_comp": "list", "set_comp": "set", "dict_comp": "dict"}.get(rule, "generator")
        element, value = (head.children[0], head.children[1]) if form == "dict" else (head, None)
        generators = []
        for clause in clauses:
            target, iterable, *ifs = clause.children
            names = [self.check_name(t, "comprehension variable") for t in target.children if t is not None]
            generators.append(
                ir.ComprehensionFor(
                    span=self.tree_span(clause),
                    targets=names,
                    iter=self.expr(iterable),
                    ifs=[self.expr(i.children[0]) for i in ifs],
                )
            )
        return ir.Comprehension(
            span=span,
            form=cast(Any, form),
            element=self.expr(element),
            value=self.expr(value) if value is not None else None,
            generators=generators,
        )

    def arguments(self, node: Tree | None) -> tuple[list[ir.Expr], list[ir.Keyword]]:
        """Positional and keyword arguments of a call or target."""
        args: list[ir.Expr] = []
        keywords: list[ir.Keyword] = []
        if node is None:
            return args, keywords
        if node.data == "generator_argument":  # `f(x for x in xs)`: the generator is the sole argument
            return [self.expr(node)], keywords
        seen: set[str] = set()
        for argument in node.children:
            if argument is None:
                continue
            first, value = (
                argument.children
                if isinstance(argument, Tree) and argument.data == "keyword_argument"
                else (argument, None)
            )
            if value is None:
                expr = self.expr(first)
                if keywords:
                    self.sink.error("E001", expr.span, "positional argument follows keyword argument")
                args.append(expr)
                continue
            if isinstance(first, Tree) or getattr(first, "type", None) != "NAME":
                self.sink.error(
                    "E001",
                    self.tree_span(first),
                    "a keyword argument must be a plain name",
                    "write `name=value`, as in `Node(count=1)`",
                )
                continue
            name_token = first
            name = self.check_name(name_token, "keyword")
            if name in seen:
                self.sink.error("E204", self.token_span(name_token), f"keyword argument `{name}` is repeated")
            seen.add(name)
            keywords.append(ir.Keyword(span=self.tree_span(argument), name=name, value=self.expr(value)))
        return args, keywords

    def number(self, child: object) -> int | float:
        """The value of a NUMBER token."""
        token = as_token(child)
        text = str(token)
        if text.isdigit() and text.isascii() and (text[0] != "0" or len(text) == 1):
            return int(text)  # the common case, without compiling anything
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            self.sink.error("E007", self.token_span(token), f"invalid number `{token}`")
            return 0
        return cast("int | float", value)

    def string(self, child: object) -> ir.Constant | ir.FString:
        """A string, bytes or f-string literal."""
        token = as_token(child)
        text = str(token)
        span = self.token_span(token)
        prefix = "" if text[0] in "'\"" else _PREFIX.match(text).group()  # type: ignore[union-attr]  # matches always
        letters = prefix.lower()
        if letters not in _STRING_PREFIXES:
            self.sink.error("E007", span, f"unknown string prefix `{prefix}`", "use one of r, b, f, rb, fr")
            return ir.Constant(span=span, value="")
        if "f" in letters:
            return self.fstring(token, letters, span)
        if letters in ("", "u") and "\\" not in text:  # the common case, without compiling anything
            quote = 3 if text[len(letters) : len(letters) + 3] in ('"""', "'''") else 1
            return ir.Constant(span=span, value=text[len(letters) + quote : len(text) - quote])
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as e:
            self.sink.error("E007", span, f"invalid string literal: {e.msg if isinstance(e, SyntaxError) else e}")
            return ir.Constant(span=span, value="")
        return ir.Constant(span=span, value=cast("str | bytes", value))

    def fstring(self, token: Token, letters: str, span: ir.Span) -> ir.FString:
        """Split an f-string (`token`, spanning `span`) into literal text and formatted values, parsing each field."""
        text = str(token)
        body_start = len(letters)
        quote = (
            text[body_start : body_start + 3]
            if text[body_start : body_start + 3] in ('"""', "'''")
            else text[body_start]
        )
        body = text[body_start + len(quote) : len(text) - len(quote)]
        offset0 = body_start + len(quote)
        raw = "r" in letters
        special = (_FSTRING_RAW_SPECIAL if raw else _FSTRING_SPECIAL).search
        parts: list[str | ir.FormattedValue] = []
        literal: list[str] = []
        i = 0

        def flush() -> None:
            if literal:
                chunk = "".join(literal)
                literal.clear()
                if not raw and ("\\" in chunk or "\r" in chunk):  # (else the text is its value)
                    try:
                        # (a mark before the closing quote: the text may end with a quote of its own)
                        chunk = ast.literal_eval(quote + chunk + "_" + quote)[:-1]
                    except (ValueError, SyntaxError):
                        self.sink.error("E006", span, "invalid escape in f-string")
                if parts and isinstance(parts[-1], str):
                    parts[-1] += chunk
                else:
                    parts.append(chunk)

        while i < len(body):
            found = special(body, i)
            if found is None:  # the rest is literal text
                literal.append(body[i:])
                break
            if found.start() > i:
                literal.append(body[i : found.start()])
                i = found.start()
            ch = body[i]
            if ch == "\\" and not raw and i + 1 < len(body):
                literal.append(body[i : i + 2])
                i += 2
                continue
            if ch in "{}" and body[i + 1 : i + 2] == ch:
                literal.append(ch)
                i += 2
                continue
            if ch == "}":
                self.sink.error(
                    "E006", span, "single `}` is not allowed in an f-string", "write `}}` for a literal brace"
                )
                i += 1
                continue
            if ch != "{":  # a backslash ending the text
                literal.append(ch)
                i += 1
                continue
            end = self._field_end(body, i + 1)
            if end is None:
                self.sink.error("E006", span, "f-string: expecting `}`")
                return ir.FString(span=span, parts=[*parts])
            flush()
            field = self._formatted_value(token, span, body[i + 1 : end], offset0 + i + 1)
            if field is not None:
                parts.append(field)
            i = end + 1
        flush()
        return ir.FString(span=span, parts=parts)

    @staticmethod
    def _field_end(body: str, start: int) -> int | None:
        """Index of the `}` closing a replacement field that starts at `start`."""
        end = body.find("}", start)
        if end != -1 and _NESTING.search(body, start, end) is None:  # the common case: nothing nested before it
            return end
        return next((i for i, ch in _top_level(body, start) if ch == "}"), None)

    def _formatted_value(self, token: Token, span: ir.Span, field: str, offset: int) -> ir.FormattedValue | None:
        expr_text, conversion, spec = field, None, None
        for j, ch in enumerate(field) if _NESTING.search(field) is None else _top_level(field):
            if ch == "!" and field[j + 1 : j + 2] != "=":
                expr_text, rest = field[:j], field[j + 1 :]
                conversion, _, spec_text = rest.partition(":")
                spec = spec_text if ":" in rest else None
                break
            if ch == ":":
                expr_text, spec = field[:j], field[j + 1 :]
                break
        if expr_text.rstrip().endswith("=") and not expr_text.rstrip().endswith(("==", "!=", "<=", ">=")):
            self.sink.error("E006", span, "self-documenting `{expr=}` fields are not supported in f-strings")
            return None
        if conversion is not None and conversion not in ("r", "s", "a"):
            self.sink.error("E006", span, f"f-string conversion `!{conversion}` is not one of !r, !s, !a")
            return None
        if spec is not None and ("{" in spec or "}" in spec):
            self.sink.error("E006", span, "nested replacement fields in an f-string format spec are not supported")
            return None
        if not expr_text.strip():
            self.sink.error("E006", span, "f-string: empty expression not allowed")
            return None
        if self.parse_expression is None:
            raise AssertionError("f-strings need an expression parser")
        # position of the field inside the file: count lines within the token text
        token_text = str(token)
        before = token_text[:offset]
        line = (token.line or 1) + before.count("\n")
        column = (offset - before.rfind("\n")) if "\n" in before else (token.column or 1) + offset

        def inner(line_in: int, column_in: int) -> tuple[int, int]:
            file_line = line + line_in - 1
            file_column = column + column_in - 1 if line_in == 1 else column_in
            return self.position(file_line, file_column)

        value = self.parse_expression(expr_text, inner)
        if value is None:
            return None
        return ir.FormattedValue(span=value.span, value=value, conversion=cast(Any, conversion), format_spec=spec)

    # ---- types ------------------------------------------------------------------------------

    def type(self, node: Tree) -> ir.TypeExpr:
        """Convert a type subtree."""
        rule = str(node.data)
        span = self.tree_span(node)
        c = node.children
        if rule == "type_input":
            return self.type(c[0])
        if rule == "union_type":
            return ir.UnionType(span=span, options=[self.type(x) for x in c])
        if rule == "none_type":
            return ir.NamedType(span=span, name="None")
        if rule == "ellipsis_type":
            return ir.EllipsisType(span=span)
        if rule == "named_type":
            name = ".".join(str(t) for t in c[0].children)
            for part in c[0].children:
                if self.nfkc(part, str(part), "type name") and str(part).startswith("_"):
                    self.sink.error("E012", self.token_span(part), f"type name `{name}` has a part starting with `_`")
            raw_args = [x for x in c[1:] if x is not None]
            if name == "Literal":
                return ir.LiteralType(span=span, values=[self.literal_value(x) for x in raw_args])
            return ir.NamedType(span=span, name=name, args=[self.type(x) for x in raw_args] if raw_args else None)
        if rule.startswith("literal"):
            self.sink.error("E015", span, "a literal value is only allowed inside `Literal[...]`")
            return ir.NamedType(span=span, name="Any")
        raise AssertionError(f"unexpected type rule {rule}")

    def literal_value(self, node: Tree) -> ir.Constant:
        """A value inside `Literal[...]`."""
        rule = str(node.data)
        span = self.tree_span(node)
        if rule == "literal_arg":
            child = node.children[0]
            if isinstance(child, Tree):
                value = self.string(child.children[0])
                if isinstance(value, ir.FString):
                    self.sink.error("E015", span, "f-strings are not allowed in `Literal[...]`")
                    return ir.Constant(span=span, value="")
                return value
            return ir.Constant(span=span, value=self.number(child))
        if rule == "literal_signed":
            sign, number = node.children
            number_value = self.number(number)
            return ir.Constant(span=span, value=-number_value if str(sign) == "-" else number_value)
        if rule in ("literal_true", "literal_false"):
            return ir.Constant(span=span, value=rule == "literal_true")
        if rule == "none_type":
            return ir.Constant(span=span, value=None)
        self.sink.error("E015", span, "`Literal[...]` takes literal values: strings, numbers, True, False, None")
        return ir.Constant(span=span, value=None)

    # ---- statements and targets ---------------------------------------------------------------

    def statement(self, node: Tree) -> ir.Statement:
        """Convert a simple statement (expression, assignment, augmented assignment)."""
        rule = str(node.data)
        span = self.tree_span(node)
        c = node.children
        if rule == "stmt_input" or rule == "stmt":
            return self.statement(c[0])
        if rule == "expr_stmt":
            value, awaited = self.value(c[0])
            return ir.ExprStmt(span=span, value=value, awaited=awaited)
        target_tree, value_tree = c[0], c[-1]
        op = "=" if rule == "assign_stmt" else str(c[1])
        target, target_awaited = self.value(target_tree)
        value, awaited = self.value(value_tree)
        if target_awaited or not self.assignable(target, augmented=op != "="):
            self.sink.error(
                "E014",
                target.span,
                "cannot assign to this expression",
                "assign to a local name (`total = ...`) or to state (`state.total = ...`)",
            )
        return ir.Assign(span=span, target=target, op=cast(Any, op), value=value, awaited=awaited)

    def value(self, node: Tree | Token) -> tuple[ir.Expr, bool]:
        """An expression that may be preceded by `await`."""
        if isinstance(node, Tree) and node.data == "await_expr":
            return self.expr(node.children[0]), True
        return self.expr(node), False

    @staticmethod
    def assignable(target: ir.Expr, *, augmented: bool) -> bool:
        """Locals and paths into `state` can be assigned."""
        if isinstance(target, ir.Name):
            return target.id not in ("state", "deps")
        node: ir.Expr = target
        while isinstance(node, (ir.Attribute, ir.Subscript)):
            node = node.value
        return isinstance(node, ir.Name) and node.id == "state" and not isinstance(target, ir.Name)

    def transition(self, target: Tree, label: Tree | None, span: ir.Span, fanout: Tree | None = None) -> ir.Transition:
        """Convert `Target(args) [limit N] [tolerate M[%]] [: "label"]`."""
        name_token, arguments = target.children
        args, keywords = self.arguments(arguments)
        label_text: str | None = None
        if label is not None:
            label_value = self.string(label.children[0])
            if isinstance(label_value, ir.FString) or not isinstance(label_value.value, str):
                self.sink.error("E015", label_value.span, "an edge label must be a plain string")
            else:
                label_text = label_value.value
        name = str(name_token)
        if name != "End":
            self.check_name(name_token, "node name")
        return ir.Transition(
            span=span,
            target=name,
            target_span=self.token_span(name_token),
            args=args,
            keywords=keywords,
            label=label_text,
            fanout=self.fanout(fanout) if fanout is not None else None,
        )

    def fanout(self, tree: Tree) -> ir.FanOut:
        """`limit N`, `tolerate M` or `tolerate M%`, or both: whole numbers (checked later)."""
        limit = tolerate = None
        percent = False
        for clause in tree.children:
            if not isinstance(clause, Tree):
                continue
            number, *rest = clause.children
            value = self.number(number)
            if not isinstance(value, int) or isinstance(value, bool):
                self.sink.error("E156", self.token_span(number), f"`{number}` is not a whole number")
                value = 0
            if clause.data == "limit_clause":
                limit = value
            else:
                tolerate = value
                if rest and rest[0] is not None:
                    if str(rest[0]) != "%":
                        self.sink.error("E001", self.token_span(rest[0]), f"unexpected `{rest[0]}` after `tolerate`")
                    percent = True
        return ir.FanOut(span=self.tree_span(tree), limit=limit, tolerate=tolerate, percent=percent)

    def field(self, name_token: object, type_tree: Tree, default: Tree | None, span: ir.Span) -> ir.FieldSpec:
        """A field declaration `name: TYPE [= DEFAULT]`."""
        return ir.FieldSpec(
            span=span,
            name=self.check_name(name_token, "field name"),
            type=self.type(type_tree),
            default=self.expr(default) if default is not None else None,
        )


_EXPR_RULES: dict[str, Callable[[TreeToIR, Tree, ir.Span, list[Any]], ir.Expr]] = {
    "const_none": TreeToIR._constant,
    "const_true": TreeToIR._constant,
    "const_false": TreeToIR._constant,
    "getattr": TreeToIR._getattr,
    "call": TreeToIR._call,
    "getitem": TreeToIR._getitem,
    "slice": TreeToIR._slice,
    "binop": TreeToIR._binop,
    "unary": TreeToIR._unary,
    "not_op": TreeToIR._not,
    "paren": TreeToIR._inner,
    "expr_input": TreeToIR._inner,
    "and_op": TreeToIR._bool_op,
    "or_op": TreeToIR._bool_op,
    "compare": TreeToIR._compare,
    "ifexp": TreeToIR._ifexp,
    "list": TreeToIR._list,
    "tuple": TreeToIR._tuple,
    "set": TreeToIR._set,
    "dict": TreeToIR._dict,
    **dict.fromkeys(("list_comp", "set_comp", "dict_comp", "generator", "generator_argument"), TreeToIR._comprehension),
}
"""How each expression rule becomes IR."""
