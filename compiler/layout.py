"""Lay out a generated statement that is too long the way `ruff format` would.

Codegen writes each statement on one line, followed by its `# spec:LINE` comment.
When that is longer than `LINE_LENGTH`, the statement is split inside the bracket
pair it ends with (ruff's "right-hand split"): the bracket's contents go on their
own lines, one item per line with a trailing comma when they do not fit on one,
and items that are still too long are split the same way.

Where ruff would rather split at operators (`a + b`, `x and y`, comparisons) or
add parentheses, the line is left long: valid and readable, only not what ruff
prints. `tests/test_compile_examples.py` checks the examples' output with ruff.
"""

from __future__ import annotations

import io
import keyword
import tokenize

__all__ = ("LINE_LENGTH", "fit")

LINE_LENGTH = 120
"""Generated lines are kept within this length where the layout is graphc's own choice."""

_INDENT = "    "
_CLOSING = {"(": ")", "[": "]", "{": "}"}
_UNARY = {"-", "+", "~", "not"}
# black's and ruff's split priorities: the lowest-precedence operators are split first
_PRIORITY = {
    "if": 16, "else": 16,
    "or": 14, "and": 14,
    "<": 10, ">": 10, "==": 10, "!=": 10, "<=": 10, ">=": 10, "in": 10, "not": 10, "is": 10,
    "|": 9, "^": 8, "&": 7, "<<": 6, ">>": 6,
    "+": 5, "-": 5,
    "*": 4, "/": 4, "//": 4, "%": 4, "@": 4,
    "**": 1,
}  # fmt: skip
_ASSIGNMENT = {"=", "+=", "-=", "*=", "/=", "//=", "%=", "**="}


def fit(code: str, comment: str, indent: str) -> list[str]:
    """The lines for one statement `code` and its trailing `comment`, at `indent`."""
    if len(indent) + len(code) + len(comment) <= LINE_LENGTH:
        return [indent + code + comment]
    prefix, expression, suffix = _statement_parts(code)
    # `if`, `return` and assignments have optional parentheses around their expression;
    # ruff splits at the expression's last bracket only when it has no operators
    if prefix and _has_delimiters(expression):
        return [indent + code + comment]
    split = _right_hand_split(expression, indent)
    if split is None:
        return [indent + code + comment]
    split[0] = indent + prefix + split[0].lstrip()
    split[-1] += suffix + comment
    return split


def _statement_parts(code: str) -> tuple[str, str, str]:
    """`code` as prefix (`if `, `return `, `target = `), expression and suffix (`:`)."""
    if code.startswith("if ") and code.endswith(":"):
        return "if ", code[3:-1], ":"
    if code.startswith("return "):
        return "return ", code[7:], ""
    depth = 0
    for token in _tokens(code):
        if token.type != tokenize.OP:
            continue
        if token.string in _CLOSING:
            depth += 1
        elif token.string in _CLOSING.values():
            depth -= 1
        elif depth == 0 and token.string in _ASSIGNMENT:
            end = token.end[1]
            return code[:end] + " ", code[end:].lstrip(), ""
    return "", code, ""


def _right_hand_split(expression: str, indent: str) -> list[str] | None:
    """`expression` split inside the bracket pair it ends with, or None if it does not end with one."""
    pair = _last_bracket_pair(expression)
    if pair is None:
        return None
    opening, closing = pair
    inner = expression[opening + 1 : closing]
    return [indent + expression[: opening + 1], *_fit_inside(inner, indent + _INDENT), indent + expression[closing:]]


def _fit_inside(inner: str, indent: str) -> list[str]:
    """The contents of a split bracket pair, at `indent`."""
    items = _top_level_items(inner)
    trailing_comma = inner.rstrip().endswith(",")  # only a one-element tuple's, from `ExprWriter`
    if len(items) > 1:
        if len(indent) + len(inner) <= LINE_LENGTH:
            return [indent + inner]
        lines: list[str] = []
        for item in items:
            item_lines = _fit_item(item, indent)
            item_lines[-1] += ","
            lines += item_lines
        return lines
    lines = _fit_item(items[0], indent)
    if trailing_comma:
        lines[-1] += ","
    return lines


def _fit_item(item: str, indent: str, *, after_cut: bool = False) -> list[str]:
    """One item inside brackets: split before its operators of lowest precedence, else at its last bracket.

    `after_cut`: `item` is a part of a split item, starting with the operator it was cut at.
    """
    if len(indent) + len(item) <= LINE_LENGTH:
        return [indent + item]
    cuts = _delimiter_cuts(item, after_cut)
    if cuts:
        starts = [0, *cuts]
        parts = [item[start:end].strip() for start, end in zip(starts, [*cuts, len(item)], strict=True)]
        return [line for i, part in enumerate(parts) for line in _fit_item(part, indent, after_cut=i > 0)]
    return _right_hand_split(item, indent) or [indent + item]


def _tokens(code: str) -> list[tokenize.TokenInfo]:
    """The tokens of one line of code, without those inside f-strings (Python 3.12+ yields them)."""
    tokens, fstring_depth = [], 0
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        kind = tokenize.tok_name[token.type]
        if kind == "FSTRING_START":
            fstring_depth += 1
        elif kind == "FSTRING_END":
            fstring_depth -= 1
        elif fstring_depth == 0 and token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            tokens.append(token)
    return tokens


def _last_bracket_pair(expression: str) -> tuple[int, int] | None:
    """Offsets of the non-empty bracket pair `expression` ends with, if it ends with one."""
    stack: list[int] = []
    pair: tuple[int, int] | None = None
    for token in _tokens(expression):
        if token.type == tokenize.OP and token.string in _CLOSING:
            stack.append(token.start[1])
        elif token.type == tokenize.OP and token.string in _CLOSING.values():
            opening = stack.pop()
            if not stack:
                pair = (opening, token.start[1])
        elif not stack:
            pair = None  # something follows the last top-level bracket pair
    if pair is None or pair[1] != len(expression) - 1 or pair[1] == pair[0] + 1:
        return None
    return pair


def _top_level_items(inner: str) -> list[str]:
    """`inner` split at its top-level commas (a trailing comma makes no empty item)."""
    depth, cuts = 0, [-1]
    for token in _tokens(inner):
        if token.type != tokenize.OP:
            continue
        if token.string in _CLOSING:
            depth += 1
        elif token.string in _CLOSING.values():
            depth -= 1
        elif token.string == "," and depth == 0:
            cuts.append(token.start[1])
    items = [inner[start + 1 : end].strip() for start, end in zip(cuts, [*cuts[1:], len(inner)], strict=True)]
    return [item for item in items if item]


def _has_delimiters(expression: str) -> bool:
    """Whether `expression` has a binary operator, comparison, boolean or conditional outside brackets."""
    return bool(_delimiters(expression))


def _delimiter_cuts(expression: str, after_cut: bool) -> list[int]:
    """Where to break `expression`: before each operator of its lowest precedence, as ruff does.

    A part that starts with such an operator (`after_cut`) is not broken again by it.
    """
    delimiters = _delimiters(expression, after_cut)
    if not delimiters:
        return []
    lowest = max(priority for priority, _ in delimiters)
    return [offset for priority, offset in delimiters if priority == lowest and offset > 0]


def _delimiters(expression: str, after_cut: bool = False) -> list[tuple[int, int]]:
    """(priority, offset) of each operator outside brackets; a higher priority binds less tightly.

    With `after_cut`, an operator `expression` starts with is binary, not unary.
    """
    depth = 0
    found: list[tuple[int, int]] = []
    previous: tokenize.TokenInfo | None = None
    for token in _tokens(expression):
        text, offset = token.string, token.start[1]
        if token.type == tokenize.OP and text in _CLOSING:
            depth += 1
        elif token.type == tokenize.OP and text in _CLOSING.values():
            depth -= 1
        elif depth == 0 and text in _PRIORITY and (token.type == tokenize.OP or keyword.iskeyword(text)):
            if previous is None:
                unary = text in _UNARY and not after_cut
            else:  # after an operator or a keyword, a `-` or `not` applies to what follows
                unary = text in _UNARY and (
                    (previous.type == tokenize.OP and previous.string not in _CLOSING.values())
                    or (keyword.iskeyword(previous.string) and previous.string not in ("None", "True", "False"))
                )
            # `not in` and `is not` are one comparison each, cut before their first word
            if not unary and not (text == "in" and previous is not None and previous.string == "not"):
                found.append((_PRIORITY[text], offset))
        previous = token
    return found
