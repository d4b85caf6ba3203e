"""The fast path of every parse: lark's LALR(1) tables for `grammars/graph.lark`, driven here.

lark generates the tables (states, actions, the rules' tree shapes, the lexer's terminals in
its order); `grammars/graph.tables.json` keeps them, so parsing a spec never imports lark (a
third of `graphc check`'s time, before a single table was built). This module lexes with one
regular expression, indents like `graph_syntax`'s indenter and shifts and reduces like lark's
parser, building the same `syntax_tree.Tree` lark would (tests/test_fast_parse.py compares
them on every example, golden case and generated spec).

It only ever accepts: anything unusual — a syntax error, an indentation problem — raises
`NotFast`, and the caller parses the text with lark, whose error report is the reference.

Regenerate the tables after changing the grammar: `python -m dsl.lalr` (a test fails until then).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from operator import itemgetter

from ..record import Record, record
from ..syntax_tree import Position, Token, Tree, position_of

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("DECL_START", "NotFast", "Parsed", "parse", "tables_key")

GRAMMAR_FILE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "grammars", "graph.lark"
)
TABLES_FILE = os.path.join(os.path.dirname(GRAMMAR_FILE), "graph.tables.json")
_FORMAT = 1
DECL_START = re.compile(r"^(graph|start|from|use|schedule|state|deps|node)\b", re.MULTILINE)
"""Where a top-level declaration starts: the editor's parse and lark's error recovery cut a file there."""
_COMMENT = re.compile(r"#[^\n]*")
_TAB_WIDTH = 8
_OPEN = frozenset(("_LPAR", "LSQB", "LBRACE"))
_CLOSE = frozenset(("_RPAR", "RSQB", "RBRACE"))


class NotFast(Exception):
    """The fast path did not accept the text; lark's parse decides (and reports)."""


@record
class Parsed(Record):
    """A parse: the tree, the comments met `(line, column, text)` and the indentation character."""

    tree: Any
    comments: list[tuple[int, int, str]]
    indent: str | None


def tables_key(grammar: str) -> str:
    """What the tables are for: the format of the tables file and the grammar's whole text.

    The text itself, not a digest: comparing it costs less than importing `hashlib`.
    """
    return f"{_FORMAT}\0{grammar}"


@record
class _Rule(Record):
    origin: str
    size: int
    name: str
    expand1: bool
    include: tuple[tuple[int, bool, int], ...] | None  # (child index, splice it, Nones before); None: all as-is
    append_none: int
    unit: bool  # a `?rule: child` reduction: the child stands for the rule, nothing is built
    picks: Callable[[list[Any]], Any] | None  # takes the kept children when two or more, none spliced or absent
    inline: bool  # a `_rule` (lark's own `__x_star` ones too): its children go into its parent's, no subtree


@record
class _Lexer(Record):
    """One state's terminals, as lark's contextual lexer matches them there (the rare exact path)."""

    pattern: re.Pattern[str]
    keywords: dict[str, str]


class _Tables:
    def __init__(self, data: dict[str, Any]) -> None:
        self.states: list[dict[str, int]] = data["states"]
        self.start_states: dict[str, int] = data["start_states"]
        self.end_states: dict[str, int] = data["end_states"]
        self.rules = [
            _Rule(
                origin=r[0],
                size=r[1],
                name=r[2],
                expand1=r[3],
                include=_include(r[4]),
                append_none=r[5],
                unit=_is_unit(r),
                inline=r[0].startswith("_"),
                picks=_picks(r[4], r[5]),
            )
            for r in data["rules"]
        ]
        self.scanner = re.compile(f"(?:{data['pattern']})[ \t]*")
        """The terminals, each with the blanks after it (a third of all matches were blanks alone)."""
        self.keywords: dict[str, str] = data["keywords"]
        self.ignore = frozenset(data["ignore"])
        self.kept = frozenset(data["kept"])
        self.newline = frozenset(data["newline"])
        self._lexer_of_state: list[int] = data["state_lexers"]
        self._lexer_sources: list[tuple[str, dict[str, str]]] = data["lexers"]
        self._lexers: dict[int, _Lexer] = {}
        self.unit_chains: dict[tuple[int, int, str], int] = {}
        """(state below, state on top, lookahead) where a unit reduction is due → the top after all that follow."""

    def after_units(self, below: int, rule: _Rule, kind: str) -> int:
        """The state on top of `below` once `rule` (a unit reduction) and every one it leads to are done."""
        state = self.states[below][rule.origin]
        while True:
            action = self.states[state].get(kind)
            if action is None or action >= 0 or not self.rules[~action].unit:
                return state
            state = self.states[below][self.rules[~action].origin]

    def exact_match(self, state: int, text: str, pos: int) -> tuple[str, str, int]:
        """The token lark's contextual lexer finds at `pos` in `state`: kind, text, end."""
        index = self._lexer_of_state[state]
        lexer = self._lexers.get(index)
        if lexer is None:
            pattern, keywords = self._lexer_sources[index]
            lexer = self._lexers[index] = _Lexer(pattern=re.compile(pattern), keywords=keywords)
        found = lexer.pattern.match(text, pos)
        if found is None:
            raise NotFast
        kind, value = found.lastgroup or "", found.group()
        return lexer.keywords.get(value, kind) if kind == "NAME" else kind, value, found.end()


def _include(raw: list[list[Any]] | None) -> tuple[tuple[int, bool, int], ...] | None:
    return None if raw is None else tuple((i, bool(expand), nones) for i, expand, nones in raw)


def _picks(include: list[list[Any]] | None, append_none: int) -> Callable[[list[Any]], Any] | None:
    if include is None or append_none or len(include) < 2 or any(splice or nones for _, splice, nones in include):
        return None
    return itemgetter(*(index for index, _, _ in include))


def _is_unit(raw: list[Any]) -> bool:
    _, size, _, expand1, include, append_none = raw
    return bool(size == 1 and expand1 and append_none == 0 and (include is None or include == [[0, False, 0]]))


_loaded: _Tables | None = None
_LOCK = threading.Lock()


def _tables() -> _Tables:
    global _loaded
    if _loaded is None:
        with _LOCK:
            if _loaded is None:
                _loaded = _Tables(_read_tables())
    return _loaded


def _read_tables() -> dict[str, Any]:
    """The shipped tables, or (the grammar changed since they were written) tables built by lark now."""
    grammar = _read(GRAMMAR_FILE)
    try:
        data: dict[str, Any] = json.loads(_read(TABLES_FILE))
        if data.get("grammar") == tables_key(grammar):
            return data
    except (OSError, ValueError):
        pass
    from .lark_parser import build_tables  # lark itself, only when the shipped tables are out of date

    return build_tables()


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read()


def parse(text: str, start: str = "module") -> Parsed:
    """Parse `text` from the grammar's rule `start`, or raise `NotFast`."""
    tables = _tables()
    states, rules, unit_chains = tables.states, tables.rules, tables.unit_chains
    state_stack = [tables.start_states[start]]
    end_state = tables.end_states[start]
    values: list[Any] = []
    positions: list[Position | None] = []
    comments: list[tuple[int, int, str]] = []
    indent_style: list[str] = []  # the character the first indented line indents with
    for kind, value, position in _tokens(text, tables, state_stack, comments, indent_style):
        while True:
            action = states[state_stack[-1]].get(kind)
            if action is None:
                raise NotFast
            if action >= 0:
                state_stack.append(action)
                values.append(value)
                positions.append(position)
                break
            rule = rules[~action]
            if rule.unit:
                if kind == "$END":  # (one by one: the parse may end between two)
                    state_stack[-1] = states[state_stack[-2]][rule.origin]
                else:  # a chain of them (an operand climbs ten precedence levels): one step
                    key = (state_stack[-2], state_stack[-1], kind)
                    top = unit_chains.get(key)
                    if top is None:
                        top = unit_chains[key] = tables.after_units(state_stack[-2], rule, kind)
                    state_stack[-1] = top
            else:
                _reduce(rule, states, state_stack, values, positions)
            if kind == "$END" and state_stack[-1] == end_state:
                return Parsed(tree=values[-1], comments=comments, indent=indent_style[0] if indent_style else None)
    raise NotFast  # the token stream always ends with `$END`: not reached


def _reduce(
    rule: _Rule,
    states: list[dict[str, int]],
    state_stack: list[int],
    values: list[Any],
    positions: list[Position | None],
) -> None:
    size = rule.size
    if size:
        children = values[-size:]
        spots = positions[-size:]
        del values[-size:], positions[-size:], state_stack[-size:]
    else:
        children, spots = [], [None]
    include = rule.include
    if include is None:
        kept = children
    elif rule.picks is not None:  # the common shape of a filtered rule, in one call
        kept = list(rule.picks(children))
    else:
        kept = []
        for index, splice, nones in include:
            if nones:
                kept += [None] * nones
            if splice:
                if kept:
                    kept += children[index]  # an inline rule's list
                else:  # grown in place: a repetition `x*` reduces once per item, and copying it each time is quadratic
                    kept = children[index]
            else:
                kept.append(children[index])
        if rule.append_none:
            kept += [None] * rule.append_none
    value: Any
    if rule.inline:
        value = kept
        position = _extent(spots)
    elif rule.expand1 and len(kept) == 1:
        value = kept[0]
        position = position_of(value)
        if position is None and isinstance(value, Tree):  # a subtree of nothing takes this rule's extent
            value.position = position = _extent(spots)
    else:
        position = _extent(spots)
        value = Tree(rule.name, kept, position)
    state_stack.append(states[state_stack[-1]][rule.origin])
    values.append(value)
    positions.append(position)


def _extent(spots: list[Position | None]) -> Position | None:
    """From the start of the first positioned child to the end of the last."""
    first, last = spots[0], spots[-1]  # mostly both are there
    if first is None:
        first = next((spot for spot in spots if spot is not None), None)
        if first is None:
            return None
    if last is None:
        last = next(spot for spot in reversed(spots) if spot is not None)
    return (first[0], first[1], last[2], last[3])


def _tokens(
    text: str,
    tables: _Tables,
    state_stack: list[int],
    comments: list[tuple[int, int, str]],
    indent_style: list[str],
) -> Iterator[tuple[str, Any, Position]]:
    """The tokens of `text`, with `_INDENT`/`_DEDENT` and a final `$END`, as the parser in `state_stack` wants them."""
    states, keywords, kept, ignore, newline = tables.states, tables.keywords, tables.kept, tables.ignore, tables.newline
    match = tables.scanner.match
    end_of_text = len(text)
    pos, line, line_start = 0, 1, 0
    parens = 0
    indents = [0]
    position: Position = (1, 1, 1, 1)
    while pos < end_of_text:
        found = match(text, pos)
        if found is None:
            raise NotFast
        kind = found.lastgroup or ""
        end = found.end(found.lastindex or 0)
        value = text[pos:end]
        after = found.end()  # past the blanks
        accepts = states[state_stack[-1]]
        if kind == "NAME":
            keyword = keywords.get(value)
            if keyword is not None and keyword in accepts:
                kind = keyword
            elif "NAME" not in accepts:
                kind, value, end = tables.exact_match(state_stack[-1], text, pos)
                after = end
        elif kind not in accepts and kind != "_NL" and kind not in ignore:
            kind, value, end = tables.exact_match(state_stack[-1], text, pos)
            after = end
        start_line, column = line, pos - line_start + 1
        if kind in newline:
            newlines = value.count("\n")
            if newlines:
                line += newlines
                line_start = pos + value.rindex("\n") + 1
        pos = after
        if kind in ignore:
            continue
        position = (start_line, column, line, end - line_start + 1)
        if kind != "_NL":
            yield kind, (Token(kind, value, start_line, column, line, position[3]) if kind in kept else None), position
            if kind in _OPEN:
                parens += 1
            elif kind in _CLOSE:
                parens -= 1
            continue
        if "#" in value:
            _collect_comments(value, position, comments)
        if parens > 0:
            continue
        yield kind, None, position
        indent_text = value.rsplit("\n", 1)[1]
        if indent_text:
            _check_indent_style(indent_text, indent_style)
        indent = indent_text.count(" ") + indent_text.count("\t") * _TAB_WIDTH
        if indent > indents[-1]:
            indents.append(indent)
            yield "_INDENT", None, position
            continue
        while indent < indents[-1]:
            indents.pop()
            yield "_DEDENT", None, position
        if indent != indents[-1]:
            raise NotFast
    for _ in indents[1:]:
        yield "_DEDENT", None, position
    yield "$END", None, position


def _collect_comments(value: str, position: Position, comments: list[tuple[int, int, str]]) -> None:
    """The comments inside a line-end token, where the indenter of `graph_syntax` finds them."""
    line, line_start, scanned = position[0], -position[1] + 1, 0
    for found in _COMMENT.finditer(value):
        newlines = value.count("\n", scanned, found.start())
        if newlines:
            line += newlines
            line_start = value.rfind("\n", scanned, found.start()) + 1
        scanned = found.start()
        comments.append((line, found.start() - line_start + 1, found.group().rstrip()))


def _check_indent_style(indent: str, style: list[str]) -> None:
    if not style:
        style.append(indent[0])
    if indent.strip(style[0]):
        raise NotFast  # tabs and spaces mixed: lark's parse reports where


if __name__ == "__main__":  # after a grammar change: `python -m dsl.graph.lalr` writes the tables anew
    from .lark_parser import write_tables

    write_tables()
