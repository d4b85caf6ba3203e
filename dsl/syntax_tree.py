"""The parse tree the front-ends hand to `expressions.TreeToIR`: `Tree`s of `Token`s.

Both parsers build it: `dsl.graph.lalr` (the fast path, which never imports lark) and lark itself
(error reports, completion), which is given `Tree` as its `tree_class`. `Token` has the
attributes of lark's token the front-ends read, and code that handles tokens takes either
(`str(token)` is the text of both). A tree's extent is the tuple `(line, column, end_line, end_column)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Any

__all__ = ("TOKEN_TYPES", "Position", "Token", "Tree", "position_of")

Position = tuple[int, int, int, int]
"""Line, column, end line and end column (1-based, the end exclusive), as lark counts them."""


class Token:
    """A terminal of the grammar: its text (`value`, and `str(token)`), its type (the terminal's name), where it is.

    Not a `str` subclass like lark's: such an object carries a dictionary, 2.5x the memory of
    these slots, and a spec has a token every few characters. `TOKEN_TYPES` covers both.
    """

    __slots__ = ("column", "end_column", "end_line", "line", "type", "value")

    def __init__(self, kind: str, value: str, line: int, column: int, end_line: int, end_column: int) -> None:
        self.type = kind
        self.value = value
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"

    def __eq__(self, other: object) -> bool:
        """Equal to its text, as lark's tokens are."""
        return self.value == (other.value if isinstance(other, Token) else other)

    def __hash__(self) -> int:
        return hash(self.value)


TOKEN_TYPES = (str, Token)
"""What a token is: ours, or lark's (a `str`)."""


class Tree:
    """A rule's subtree: the rule's name (or alias) and its kept children (`None` for an absent `[part]`)."""

    __slots__ = ("children", "data", "position")

    def __init__(self, data: str, children: list[Any], position: Position | None = None) -> None:
        self.data = data
        self.children = children
        self.position = position
        """Where the subtree starts and ends (None: nothing in it is positioned); set by the parser that built it."""

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
        return value.position
    if isinstance(value, TOKEN_TYPES) and getattr(value, "line", None) is not None:
        token: Any = value
        return (token.line, token.column, token.end_line, token.end_column)
    return None
