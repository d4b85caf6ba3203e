"""The parse tree the front-ends hand to `expressions.TreeToIR`: `Tree`s of `Token`s.

Both parsers build it: `dsl.lalr` (the fast path, which never imports lark) and lark itself
(error reports, completion), which is given `Tree` as its `tree_class`. `Token` has the
attributes of lark's token the front-ends read, and like it is a `str`, so code that handles
tokens takes either. A tree's extent is the tuple `(line, column, end_line, end_column)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ("Meta", "Position", "Token", "Tree", "position_of")

Position = tuple[int, int, int, int]
"""Line, column, end line and end column (1-based, the end exclusive), as lark counts them."""


class Token(str):
    """A terminal of the grammar: its text, its type (the terminal's name) and where it is."""

    type: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __new__(cls, kind: str, value: str, line: int, column: int, end_line: int, end_column: int) -> Token:
        """A token of type `kind` (lark's order of arguments, without the offsets)."""
        token = str.__new__(cls, value)
        token.type, token.line, token.column = kind, line, column
        token.end_line, token.end_column = end_line, end_column
        return token

    @property
    def value(self) -> str:
        """The text, as a plain `str` (lark's name)."""
        return str(self)

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"

    def __reduce__(self) -> Any:
        return (Token, (self.type, str(self), self.line, self.column, self.end_line, self.end_column))


class Meta:
    """A tree's extent as lark's `Meta` gives it (`empty` when nothing inside has a position)."""

    def __init__(self, position: Position | None = None) -> None:
        self.empty = position is None
        if position is not None:
            self.line, self.column, self.end_line, self.end_column = position


class Tree:
    """A rule's subtree: the rule's name (or alias) and its kept children (`None` for an absent `[part]`)."""

    __slots__ = ("_meta", "children", "data", "position")

    def __init__(self, data: str, children: list[Any], meta: Meta | None = None) -> None:
        self.data = data
        self.children = children
        self.position: Position | None = None
        """Where the subtree starts and ends; set by the parser that built it."""
        self._meta = meta

    @property
    def meta(self) -> Meta:
        """The extent as lark's `Meta` (lark's `propagate_positions` sets its attributes)."""
        if self._meta is None:
            self._meta = Meta(self.position)
        return self._meta

    def __lark_meta__(self) -> Meta:
        """The extent, for lark's `propagate_positions` (which knows only its own tree class)."""
        return self.meta

    def scan_values(self, predicate: Callable[[Any], bool]) -> Iterator[Any]:
        """The leaves (tokens and placeholders) for which `predicate` holds, in order."""
        for child in self.children:
            if isinstance(child, Tree):
                yield from child.scan_values(predicate)
            elif predicate(child):
                yield child

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tree) and (self.data, self.children) == (other.data, other.children)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


def position_of(value: Any) -> Position | None:
    """The extent of a token or subtree (None for a subtree with nothing positioned inside)."""
    if isinstance(value, Tree):
        if value.position is None and value._meta is not None and not value._meta.empty:
            meta = value._meta
            return (meta.line, meta.column, meta.end_line, meta.end_column)
        return value.position
    if isinstance(value, str) and getattr(value, "line", None) is not None:
        token: Any = value
        return (token.line, token.column, token.end_line, token.end_column)
    return None
