"""Lay out a generated line that is too long the way `ruff format` (line length 120) would.

Codegen writes each statement on one line, followed by its `# spec:LINE` comment.
When that is too long, `fit` splits it like ruff: inside the bracket pair the
statement ends with (the "right-hand split"), its contents on one line or one item
per line with a trailing comma; an item still too long is split before its
operators of lowest precedence, or else inside its own last brackets. An `if`,
`return` or assignment whose expression has operators is instead wrapped in
parentheses, unless ruff would leave those out. Every split is inside brackets,
so the meaning never changes. Ruff's finer rules (call chains, spacing in slices
and around `**`) are not copied: `tests/test_layout.py` checks the cases above and
the examples' modules against ruff itself.
"""

from __future__ import annotations

import io
import keyword
import tokenize
from collections.abc import Iterator

__all__ = ("LINE_LENGTH", "fit", "fit_item")

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


def fit(code: str, trailer: str, indent: str) -> list[str]:
    """The lines for one statement `code` at `indent`.

    `trailer` ends the last line and counts towards its length, as a comment does for
    ruff: the statement's `# spec:LINE` comment, or code the caller goes on with.
    """
    if len(indent) + len(code) + len(trailer) <= LINE_LENGTH:
        return [indent + code + trailer]
    prefix, expression, suffix, optional_parentheses = _statement_parts(code)
    pair = _last_bracket_pair(expression)
    delimiters = _delimiters(expression) if optional_parentheses else []
    if delimiters and not _may_omit_parentheses(delimiters, pair, len(indent) + len(prefix)):
        # `if (` / the condition split before its operators / `):`, and likewise for values
        inner = fit_item(expression, indent + _INDENT)
        return [f"{indent}{prefix}(", *inner, f"{indent}){suffix}{trailer}"]
    if pair is None:
        atom = indent + _INDENT + expression + trailer
        if optional_parentheses and prefix and len(atom) <= LINE_LENGTH:  # ruff parenthesises a long atom
            return [f"{indent}{prefix}(", atom, f"{indent}){suffix}"]
        return [indent + code + trailer]
    split = _right_hand_split(expression, pair, indent)
    split[0] = indent + prefix + split[0].lstrip()
    split[-1] += suffix + trailer
    return split


def _may_omit_parentheses(delimiters: list[tuple[int, int]], pair: tuple[int, int] | None, head: int) -> bool:
    """Whether ruff splits at the last bracket rather than adding parentheses around an expression.

    It does when one operator binds least and the expression ends with brackets that open
    within the line.
    """
    lowest = max(priority for priority, _ in delimiters)
    if pair is None or sum(1 for priority, _ in delimiters if priority == lowest) > 1:
        return False
    return head + pair[0] + 1 <= LINE_LENGTH


def _statement_parts(code: str) -> tuple[str, str, str, bool]:
    """`code` as prefix (`if `, `return `, `target = `), expression and suffix (`:`).

    The last part says whether the expression has the optional parentheses ruff may add.
    """
    suffix = ":" if code.endswith(":") else ""
    body = code[: len(code) - len(suffix)]
    if body.startswith("if "):
        return "if ", body[3:], suffix, True
    if body.startswith("return "):
        return "return ", body[7:], suffix, True
    for depth, token in _scan(body):
        if depth == 0 and token.type == tokenize.OP and token.string in _ASSIGNMENT:
            end = token.end[1]
            return body[:end] + " ", body[end:].lstrip(), suffix, True
    return "", body, suffix, False


def _right_hand_split(expression: str, pair: tuple[int, int], indent: str) -> list[str]:
    """`expression` split inside `pair`, the bracket pair it ends with (from `_last_bracket_pair`)."""
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
            item_lines = fit_item(item, indent)
            item_lines[-1] += ","
            lines += item_lines
        return lines
    lines = fit_item(items[0], indent)
    if trailing_comma:
        lines[-1] += ","
    return lines


def fit_item(item: str, indent: str, *, after_cut: bool = False) -> list[str]:
    """The lines for one item inside brackets, at `indent`.

    Split before its operators of lowest precedence, else at its last bracket pair.

    `after_cut`: `item` is a part of a split item, starting with the operator it was cut at.
    """
    if len(indent) + len(item) <= LINE_LENGTH:
        return [indent + item]
    cuts = _delimiter_cuts(item, after_cut)
    if cuts:
        starts = [0, *cuts]
        parts = [item[start:end].strip() for start, end in zip(starts, [*cuts, len(item)], strict=True)]
        return [line for i, part in enumerate(parts) for line in fit_item(part, indent, after_cut=i > 0)]
    pair = _last_bracket_pair(item)
    return _right_hand_split(item, pair, indent) if pair is not None else [indent + item]


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


def _scan(code: str) -> Iterator[tuple[int, tokenize.TokenInfo]]:
    """Each token of `code` with its bracket depth (a bracket counts as outside the pair it makes)."""
    depth = 0
    for token in _tokens(code):
        if token.type == tokenize.OP and token.string in _CLOSING.values():
            depth -= 1
        yield depth, token
        if token.type == tokenize.OP and token.string in _CLOSING:
            depth += 1


def _last_bracket_pair(expression: str) -> tuple[int, int] | None:
    """Offsets of the non-empty bracket pair `expression` ends with, if it ends with one."""
    opening = 0
    pair: tuple[int, int] | None = None
    for depth, token in _scan(expression):
        if depth > 0:
            continue
        if token.type == tokenize.OP and token.string in _CLOSING:
            opening = token.start[1]
        elif token.type == tokenize.OP and token.string in _CLOSING.values():
            pair = (opening, token.start[1])
        else:
            pair = None  # something follows the last top-level bracket pair
    if pair is None or pair[1] != len(expression) - 1 or pair[1] == pair[0] + 1:
        return None
    return pair


def _top_level_items(inner: str) -> list[str]:
    """`inner` split at its top-level commas (a trailing comma makes no empty item).

    A comprehension is one item: the commas of `for a, b in ...` separate its targets.
    """
    tokens = list(_scan(inner))
    if any(depth == 0 and token.string == "for" for depth, token in tokens):
        return [inner.strip()]
    commas = [token.start[1] for depth, token in tokens if depth == 0 and token.string == ","]
    cuts = [-1, *commas]
    items = [inner[start + 1 : end].strip() for start, end in zip(cuts, [*commas, len(inner)], strict=True)]
    return [item for item in items if item]


def _delimiter_cuts(expression: str, after_cut: bool) -> list[int]:
    """Where to break `expression`: before each operator of its lowest precedence, as ruff does.

    A part that starts with the operator it was cut at (`after_cut`) is broken at its other ones.
    """
    delimiters = [(priority, offset) for priority, offset in _delimiters(expression, after_cut) if offset > 0]
    if not delimiters:
        return []
    lowest = max(priority for priority, _ in delimiters)
    return [offset for priority, offset in delimiters if priority == lowest]


def _delimiters(expression: str, after_cut: bool = False) -> list[tuple[int, int]]:
    """(priority, offset) of each operator outside brackets; a higher priority binds less tightly.

    With `after_cut`, an operator `expression` starts with is binary, not unary.
    """
    found: list[tuple[int, int]] = []
    previous: tokenize.TokenInfo | None = None
    for depth, token in _scan(expression):
        text, offset = token.string, token.start[1]
        if depth == 0 and text in _PRIORITY and (token.type == tokenize.OP or keyword.iskeyword(text)):
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
