"""A Pygments lexer for `.graph` files: `pygmentize -l graph flow.graph`.

Registered through the `pygments.lexers` entry point; Pygments imports this module
itself, so nothing else of graphc does (and graphc does not depend on Pygments).
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

__all__ = ("GraphLexer",)

_DECLARATIONS = ("graph", "start", "state", "deps", "node", "use", "schedule")
_KEYWORDS = (
    "from",
    "import",
    "as",
    "if",
    "else",
    "on",
    "retry",
    "backoff",
    "max",
    "timeout",
    "checkpoint",
    "limit",
    "tolerate",
    "within",
    "sleep",
    "until",
    "every",
    "cron",
    "missed",
    "await",
    "for",
    "in",
)
_OPERATORS = ("and", "or", "not", "in", "is")
_STRING_PREFIX = r"(?i:[rbfu]|rb|br|fr|rf)?"


class GraphLexer(RegexLexer):  # type: ignore[misc]  # Pygments ships no type information
    """graphc's declarative graph language."""

    name = "graphc"
    aliases: ClassVar[list[str]] = ["graph", "graphc"]
    filenames: ClassVar[list[str]] = ["*.graph"]
    mimetypes: ClassVar[list[str]] = ["text/x-graphc"]
    priority = 0.5  # Pygments' Roboconf lexer claims `*.graph` too; ours is the one installed for it

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*$", Comment.Single),
            (_STRING_PREFIX + r'"""', String.Doc, "triple_double"),
            (_STRING_PREFIX + r"'''", String.Doc, "triple_single"),
            (_STRING_PREFIX + r'"([^"\\\n]|\\.)*"', String.Double),
            (_STRING_PREFIX + r"'([^'\\\n]|\\.)*'", String.Single),
            (r"(node|graph)(\s+)([^\W\d]\w*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(start)(\s+)([^\W\d]\w*)", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(->)(\s*)(End|[^\W\d]\w*)", bygroups(Operator, Whitespace, Name.Class)),
            (words(_DECLARATIONS, suffix=r"\b"), Keyword.Declaration),
            (words(("True", "False", "None"), suffix=r"\b"), Keyword.Constant),
            (words(_OPERATORS, suffix=r"\b"), Operator.Word),
            (words(_KEYWORDS, suffix=r"\b"), Keyword),
            (r"\b(state|deps)(?=\.)", Name.Builtin.Pseudo),
            (r"(\d+(\.\d+)?(ms|s|m|h|d|w))+\b", Number),  # a duration: `48h`, `1h30m`
            (r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+", Number),
            (r"((\d[\d_]*)?\.\d[\d_]*|\d[\d_]*\.?)([eE][+-]?\d[\d_]*)?", Number),
            (r"[^\W\d]\w*", Name),
            (r"->|\*\*|//|[-+*/%<>=!|&^~]=?|:=?", Operator),
            (r"[()\[\]{},.]", Punctuation),
            (r"\\\n", Text),  # a line continuation
            (r".", Error),  # a character the language has no use for
        ],
        "triple_double": [(r'"""', String.Doc, "#pop"), (r'\\.|[^"\\]+|"', String.Doc)],
        "triple_single": [(r"'''", String.Doc, "#pop"), (r"\\.|[^'\\]+|'", String.Doc)],
    }
