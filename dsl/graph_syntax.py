"""The `.graph` front-end: `SourceFile` → lark tree (private) → `GraphSpec`.

The grammar lives in `grammars/graph.lark`. Blocks come from an indenter that
also collects comments (so `fmt` can keep them). After a syntax error, parsing
resumes at the next top-level declaration, so one run reports an error per
broken declaration.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter
from lark.tree import Meta

from grammars import read_grammar

from . import ir
from .cachedir import cache_dir
from .diagnostics import DiagnosticError, Diagnostics, Suggestion, close_names, did_you_mean
from .expressions import PositionMap, TreeToIR
from .source import SourceFile

__all__ = ("MAX_ERRORS", "build_parser", "keywords_accepted", "parse_fragment", "parse_graph")

_PARSE_LOCK = threading.RLock()

MAX_ERRORS = 50
"""Syntax errors reported per file before giving up."""

_DECL_START = re.compile(r"^(graph|start|from|state|deps|node)\b", re.MULTILINE)
_FORBIDDEN = "not part of the graph language: move that logic into a Python function the spec imports"
_FORBIDDEN_WORDS: dict[str, tuple[str, str]] = {
    "lambda": ("lambdas are not allowed in graph expressions", _FORBIDDEN),
    "for": ("`for` loops are not part of the language", "use a comprehension, or route back to a node"),
    "yield": ("`yield` is not allowed in graph expressions", _FORBIDDEN),
    "return": (
        "`return` is not part of the language",
        "end a branch with `-> Target(...)`, or `-> End(value)` to finish the run",
    ),
    "def": ("functions cannot be defined in a spec", "define it in Python and import it: `from module import name`"),
    "class": ("classes cannot be defined in a spec", "define it in Python and import it: `from module import Name`"),
    "import": ("plain `import` is not part of the language", "write `from module import name` at the top level"),
    "while": ("loops are not part of the language", "route back to a node instead: `-> ThisNode(...)`"),
    "with": ("`with` blocks are not part of the language", _FORBIDDEN),
    "try": ("`try` blocks are not part of the language", _FORBIDDEN),
    "async": ("`async` is not needed", "node bodies may `await` directly"),
    "global": ("`global` is not part of the language", "keep shared data in `state`"),
    "elif": (
        "`elif` is not part of the language",
        "write another `if COND -> Target(...)` branch: branches are tried in order",
    ),
}
_TOKEN_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "LONG_STRING": "a string",
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "end of block",
    "$END": "end of file",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "an operator",
    "AUG_OP": "`+=` (or another augmented assignment)",
    "_ARROW": "`->`",
    "_LPAR": "`(`",
    "_RPAR": "`)`",
}


class _IndentProblem(Exception):
    def __init__(self, line: int, column: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint


class _GraphIndenter(Indenter):
    """Python-style INDENT/DEDENT tokens, comment collection, and located dedent errors."""

    NL_type = "_NL"
    OPEN_PAREN_types = ["_LPAR", "LSQB", "LBRACE"]  # noqa: RUF012 -- lark's interface
    CLOSE_PAREN_types = ["_RPAR", "RSQB", "RBRACE"]  # noqa: RUF012
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def __init__(self) -> None:
        super().__init__()
        self.comments: list[tuple[int, int, str]] = []
        self.style: tuple[str, int] | None = None  # the first indented line's character and line number

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        """Start a new parse: forget the previous parse's comments and indentation style."""
        self.comments = []
        self.style = None
        processed: Iterator[Token] = super().process(stream)  # type: ignore[no-untyped-call]
        return processed

    def handle_NL(self, token: Token) -> Iterator[Token]:
        """Collect comments, then emit INDENT/DEDENT like lark's Indenter, with located errors."""
        value = str(token)
        line, line_start, scanned = token.line or 1, -(token.column or 1) + 1, 0
        for match in re.finditer(r"#[^\n]*", value):  # one pass: a token may hold a million comment lines
            newlines = value.count("\n", scanned, match.start())
            if newlines:
                line += newlines
                line_start = value.rfind("\n", scanned, match.start()) + 1
            scanned = match.start()
            self.comments.append((line, match.start() - line_start + 1, match.group().rstrip()))
        if self.paren_level > 0:
            return
        yield token
        indent_str = value.rsplit("\n", 1)[1]
        if indent_str:
            self._check_indent_style(indent_str, token.end_line or token.line or 1)
        indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
            return
        while indent < self.indent_level[-1]:
            self.indent_level.pop()
            yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
        if indent != self.indent_level[-1]:
            line = token.end_line or token.line or 1
            raise _IndentProblem(
                line,
                len(indent_str) + 1,
                "unindent does not match any outer indentation level",
                "indent with the same spaces as the enclosing block",
            )

    def _check_indent_style(self, indent: str, line: int) -> None:
        """Indentation is all tabs or all spaces, file-wide: a tab's width is a guess that misleads."""
        char = indent[0]
        if self.style is None:
            self.style = (char, line)
        first_char, first_line = self.style
        mixed = next((i for i, c in enumerate(indent) if c != first_char), None)
        if mixed is not None:
            what = {"\t": "tabs", " ": "spaces"}
            raise _IndentProblem(
                line,
                mixed + 1,
                f"indentation mixes tabs and spaces: this line has {what[indent[mixed]]}, "
                f"line {first_line} indents with {what[first_char]}",
                "indent with one of them only (`graphc fmt` writes 4 spaces per level)",
            )


class _Position(Meta):
    """Where a subtree starts and ends: the part of lark's `Meta` the front-end reads, slotted."""

    __slots__ = ("column", "empty", "end_column", "end_line", "line")

    def __init__(self, line: int, column: int, end_line: int, end_column: int) -> None:
        self.line, self.column, self.end_line, self.end_column = line, column, end_line, end_column
        self.empty = False


def _first_position(children: Iterable[Any]) -> Any:
    """The first child with a position: a token, or a subtree positioned by `_positioned`.

    Typed `Any`: lark types a token's numbers as optional.
    """
    for child in children:
        if type(child) is Token:
            return child
        if type(child) is Tree and type(child._meta) is _Position:
            return child._meta
    return None


def _positioned(build: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    """Wrap a reduction callback so each new tree knows its extent.

    Gives the same positions as lark's `propagate_positions` for this grammar
    (tests/test_parse.py compares the two), from the unfiltered children, so
    dropped keywords and brackets count, in about a third of its time: a
    subtree passed through unchanged keeps its position, and only the four
    numbers the front-end reads are kept.
    """

    def callback(children: list[Any]) -> Any:
        result = build(children)
        if type(result) is not Tree or result._meta is not None:
            return result  # a token, or a subtree passed through (`?rule`) that has its position
        first = _first_position(children)
        if first is not None:  # else nothing inside has a position (an empty optional part)
            last = _first_position(reversed(children))
            result._meta = _Position(first.line, first.column, last.end_line, last.end_column)
        return result

    return callback


def build_parser(*, lark_positions: bool = False) -> Lark:
    """The grammar's LALR parser; subtrees carry positions.

    By default `_positioned` sets them; with `lark_positions` (or should lark's
    internals differ from those of 1.2 and 1.3) lark's own `propagate_positions`.
    """

    def make(**options: Any) -> Lark:
        return Lark(
            read_grammar("graph.lark"),
            parser="lalr",
            lexer="contextual",
            start=["module", "expr_input", "type_input", "stmt_input", "target_input", "field_input", "import_input"],
            postlex=_GraphIndenter(),
            maybe_placeholders=True,
            **options,
        )

    if not lark_positions:
        parser = _cached(make)
        automaton = getattr(getattr(parser.parser, "parser", None), "parser", None)
        callbacks = getattr(automaton, "callbacks", None)  # rule -> tree builder, called on each reduction
        if isinstance(callbacks, dict):
            for rule, build in callbacks.items():
                callbacks[rule] = _positioned(build)
            return parser
    return make(propagate_positions=True)


def _cached(make: Callable[..., Lark]) -> Lark:
    """The parser from lark's cache of its tables in graphc's cache folder (10x faster than building them).

    lark keys the file by the grammar, the options and its own version, and rebuilds it when any differs.
    """
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return make(cache=str(folder / "graph-parser.lark-cache"))
    except Exception:  # an unwritable or damaged cache costs time, never the parse
        return make()


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return build_parser()


class _Problem(NamedTuple):
    """A syntax error, positioned within the text that was parsed."""

    code: str
    line: int
    column: int
    width: int
    message: str
    hint: str | None
    fix: str | None = None
    """A replacement for the offending text (a misspelt keyword)."""


_WALRUS = "assignment expressions (`:=`) are not allowed"
_STAR = "star-arguments and unpacking are not allowed"


def _forbidden(line: int, column: int, width: int, message: str, hint: str = _FORBIDDEN) -> _Problem:
    return _Problem("E005", line, column, width, message, hint)


def _syntax_errors(error: UnexpectedInput | _IndentProblem, text: str) -> list[_Problem]:
    """The problems a parse failure stands for: the failure, then any other forbidden construct on its line.

    The parser stops at the first one; a line such as `x = (n := 3) + f(*xs)` deserves both.
    """
    first = _syntax_error(error, text)
    if first.code != "E005":
        return [first]
    lines = text.split("\n")
    line_text = lines[first.line - 1] if 0 < first.line <= len(lines) else ""
    return [first, *(p for p in _forbidden_on_line(line_text, first.line) if p.column != first.column)]


_HIDE_STRINGS = re.compile(r"""[a-zA-Z]{0,2}("([^"\\]|\\.)*"|'([^'\\]|\\.)*')""")
_FORBIDDEN_ON_LINE = re.compile(r"(?P<walrus>:=)|[(,]\s*(?P<star>\*\*?)(?=\s*[\w(\[{])|\b(?P<word>lambda|yield)\b")


def _forbidden_on_line(line_text: str, line: int) -> Iterator[_Problem]:
    """Every `:=`, star-argument, `lambda` and `yield` on a line, outside strings."""
    code = _HIDE_STRINGS.sub(lambda m: " " * len(m.group()), line_text)
    for match in _FORBIDDEN_ON_LINE.finditer(code):
        if match.group("walrus"):
            yield _forbidden(line, match.start("walrus") + 1, 2, _WALRUS)
        elif match.group("star"):
            yield _forbidden(line, match.start("star") + 1, len(match.group("star")), _STAR)
        else:
            word = match.group("word")
            yield _forbidden(line, match.start("word") + 1, len(word), *_FORBIDDEN_WORDS[word])


def _syntax_error(error: UnexpectedInput | _IndentProblem, text: str) -> _Problem:
    """Code, position, message and hint for a parse failure."""
    if isinstance(error, _IndentProblem):
        return _Problem("E003", error.line, error.column, 1, error.message, error.hint)
    line = error.line if isinstance(error.line, int) and error.line > 0 else 1
    column = error.column if isinstance(error.column, int) and error.column > 0 else 1
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream or 0
        char = text[pos] if 0 <= pos < len(text) else ""
        if char == "=" and text[pos - 1 : pos] == ":":
            return _forbidden(line, column - 1, 2, _WALRUS)
        if char in "\"'":
            hint = "close the string on the same line, or use triple quotes"
            return _Problem("E001", line, column, 1, "unterminated string", hint)
        if char == "\t" or char == " ":
            return _Problem("E001", line, column, 1, "unexpected indentation", None)
        shown = repr(char)[1:-1] if char.isprintable() else f"\\u{ord(char):04x}" if char else "end of file"
        return _Problem("E001", line, column, 1, f"unexpected character `{shown}`", None)
    if isinstance(error, UnexpectedToken):
        token = error.token
        value = str(token)
        if token.type in ("_INDENT", "_DEDENT"):  # these borrow the position of the preceding line end
            line, column = (token.end_line or line), len(value.replace("\t", " " * 8)) + 1
        line_text = text.split("\n")[line - 1] if 0 < line <= text.count("\n") + 1 else ""
        if value == ":" and line_text[column : column + 1] == "=":
            return _forbidden(line, column, 2, _WALRUS)
        if token.type == "NAME" and value in _FORBIDDEN_WORDS:
            return _forbidden(line, column, len(value), *_FORBIDDEN_WORDS[value])
        previous = re.search(r"(\w+)\W*$", line_text[: column - 1])
        if previous and previous.group(1) in _FORBIDDEN_WORDS:
            word = previous.group(1)
            return _forbidden(line, previous.start(1) + 1, len(word), *_FORBIDDEN_WORDS[word])
        if token.type in ("MUL_OP", "POW_OP") and "NAME" in error.expected:
            return _forbidden(line, column, len(value), _STAR)
        if token.type == "_INDENT":
            return _Problem("E001", line, column, 1, "unexpected indentation", "indent only the lines of a block")
        if token.type == "_DEDENT" or token.type == "$END":
            what = "end of block" if token.type == "_DEDENT" else "end of file"
            return _Problem("E001", line, column, 1, f"unexpected {what}", _expected_hint(error.expected))
        shown = "end of line" if token.type == "_NL" else f"`{value}`"
        width = 1 if token.type == "_NL" else max(1, len(value))
        keywords = _close_keywords(token, error.expected)
        advice = did_you_mean(str(token), keywords) if keywords else _expected_hint(error.expected)
        return _Problem("E001", line, column, width, f"unexpected {shown}", advice, keywords[0] if keywords else None)
    if isinstance(error, UnexpectedEOF):
        return _Problem("E001", line, column, 1, "unexpected end of input", _expected_hint(error.expected))
    return _Problem("E001", line, column, 1, "syntax error", None)


def _close_keywords(token: Token, expected: Any) -> list[str]:
    """Keywords the grammar expects here that a misspelt name is close to (`nod` → `node`)."""
    if token.type != "NAME":
        return []
    words = [p.value for _, p in _expected_patterns(expected) if p.type == "str" and str(p.value).isalpha()]
    return close_names(str(token), words)


def _expected_patterns(expected: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """The terminals a parser expected, with their patterns."""
    parser = _parser()
    for terminal in expected:
        try:
            yield terminal, parser.get_terminal(terminal).pattern
        except KeyError:
            continue


def _expected_hint(expected: Any) -> str | None:
    names = {_TOKEN_NAMES[t] for t in expected if t in _TOKEN_NAMES}
    for terminal, pattern in _expected_patterns(t for t in expected if t not in _TOKEN_NAMES):
        names.add(f"`{pattern.value}`" if pattern.type == "str" else terminal.lower())
    if not names or len(names) > 8:
        return None
    return "expected " + ", ".join(sorted(names))


_fragments: dict[tuple[str, str], Tree[Any]] = {}
"""Parse trees of fragments by text: positions in them are relative, and converting a tree reads it only."""
_MAX_FRAGMENTS = 20_000


def parse_fragment(
    text: str,
    start: str,
    file: str,
    sink: Diagnostics,
    position: PositionMap,
) -> Tree[Any] | None:
    """Parse a YAML/TOML string (or f-string field) with one of the grammar's `*_input` rules.

    Errors are recorded in `sink`, positioned through `position`; returns None then.
    """
    if "\n" in text.strip():
        line, column = position(1, 1)
        sink.error(
            "E001",
            ir.Span(file=file, line=line, column=column, end_line=line, end_column=column + 1),
            "an expression must fit on one line",
        )
        return None
    key = (text, start)
    tree = _fragments.get(key)
    if tree is not None:
        return tree
    try:
        with _PARSE_LOCK:
            tree = _parser().parse(text.strip("\n"), start=start)
        if len(_fragments) >= _MAX_FRAGMENTS:
            _fragments.clear()
        _fragments[key] = tree
        return tree
    except (UnexpectedInput, _IndentProblem) as e:
        for problem in _syntax_errors(e, text):
            file_line, file_column = position(problem.line, problem.column)
            end_column = file_column + problem.width
            span = ir.Span(file=file, line=file_line, column=file_column, end_line=file_line, end_column=end_column)
            sink.error(problem.code, span, problem.message, problem.hint)
        return None


def _feed(parser: Lark, text: str, until: int | None, interactive: Any = None) -> int:
    """Feed `text`'s tokens (up to index `until`) to an interactive parse; the index of the last non-dedent fed."""
    interactive = interactive or parser.parse_interactive(text, start="module")
    last_real = -1
    try:
        for index, token in enumerate(interactive.lexer_thread.lex(interactive.parser_state)):
            if until is not None and index > until:
                break
            interactive.feed_token(token)
            if token.type != "_DEDENT":
                last_real = index
    except (UnexpectedInput, _IndentProblem):
        pass  # the text stops mid-way: what was accepted just before is the answer
    return last_real


def keywords_accepted(text: str) -> list[str]:
    """The keywords the grammar accepts after `text` (a `.graph` file up to a cursor), for completion."""
    parser = _parser()
    with _PARSE_LOCK:  # the indenter keeps per-parse state
        # the text's end closes its blocks, but the cursor still stands in the last one: feed the
        # tokens up to the last that is not such a closing `_DEDENT` (found in a first pass)
        last_real = _feed(parser, text, None)
        interactive = parser.parse_interactive(text, start="module")
        _feed(parser, text, last_real, interactive)
        accepted: set[str] = interactive.accepts()  # type: ignore[no-untyped-call]
    return sorted(
        str(pattern.value)
        for _, pattern in _expected_patterns(accepted)
        if pattern.type == "str" and str(pattern.value).isalpha()
    )


def parse_expression(text: str, file: str, sink: Diagnostics, position: PositionMap) -> ir.Expr | None:
    """Parse one expression string into IR (used for f-string fields and YAML/TOML strings)."""
    tree = parse_fragment(text, "expr_input", file, sink, position)
    if tree is None:
        return None
    return _converter(file, sink, position).expr(tree)


def _converter(file: str, sink: Diagnostics, position: PositionMap) -> TreeToIR:
    return TreeToIR(file, sink, position, lambda text, pos: parse_expression(text, file, sink, pos))


def parse_graph(source: SourceFile) -> ir.GraphSpec:
    """Parse a `.graph` file into a `GraphSpec`.

    Raises:
        DiagnosticError: with every syntax and shape error found.
    """
    sink = Diagnostics()
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    trees: list[tuple[Tree[Any], int]] = []
    comments: list[tuple[int, int, str]] = []
    offset = 0  # lines skipped before the chunk being parsed
    remaining = text
    parser = _parser()
    indenter = parser.options.postlex
    assert isinstance(indenter, _GraphIndenter)
    while True:
        try:
            with _PARSE_LOCK:  # the indenter keeps per-parse state
                trees.append((parser.parse(remaining, start="module"), offset))
                comments.extend((line + offset, column, body) for line, column, body in indenter.comments)
            break
        except (UnexpectedInput, _IndentProblem) as e:
            problems = _syntax_errors(e, remaining)
            for problem in problems:
                at, column = problem.line + offset, problem.column
                span = ir.Span(file=source.name, line=at, column=column, end_line=at, end_column=column + problem.width)
                fixes = (Suggestion(replacement=problem.fix, span=span),) if problem.fix else ()
                sink.error(problem.code, span, problem.message, problem.hint, fixes)
            line = problems[0].line
            if len(sink.items) >= MAX_ERRORS:
                break
            lines_before = remaining.split("\n", line)[:line]
            resume_from = sum(len(part) + 1 for part in lines_before)
            match = _DECL_START.search(remaining, min(resume_from, len(remaining)))
            if match is None:
                break
            skipped = remaining.count("\n", 0, match.start())
            remaining = remaining[match.start() :]
            offset += skipped
    sink.raise_if_errors()
    tree, _ = trees[0]
    del trees
    decls = [(d, 0) for d in tree.children if isinstance(d, Tree)]
    tree.children.clear()  # `build` frees the declarations one by one as it converts them
    return _built(source, sink, decls, comments)


DeclarationCache = dict[str, tuple[list[Tree[Any]], list[tuple[int, int, str]], str | None]]
"""Parse trees of top-level declarations, their comments and indentation character, by their text."""


def parse_graph_cached(source: SourceFile, cache: DeclarationCache) -> ir.GraphSpec | None:
    """`parse_graph` for an editor: only the top-level declarations not in `cache` are parsed.

    A file is cut where a declaration starts (`graph`, `start`, `from`, `state`, `deps`,
    `node` at the start of a line) and each piece parsed on its own, its tree kept in
    `cache` by its text (the cache keeps only this file's pieces). Positions are those of
    the whole file: each piece's are offset while its tree becomes IR. Returns None when a
    piece does not parse on its own — the caller then runs `parse_graph`, whose error
    report is the reference.

    Raises:
        DiagnosticError: with every shape error found after parsing.
    """
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    starts = [m.start() for m in _DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    parser = _parser()
    indenter = parser.options.postlex
    assert isinstance(indenter, _GraphIndenter)
    kept: DeclarationCache = {}
    decls: list[tuple[Tree[Any], int]] = []
    comments: list[tuple[int, int, str]] = []
    indents: set[str] = set()
    offset = 0
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        piece = text[begin:end]
        parsed = kept.get(piece) or cache.get(piece)
        if parsed is None:
            try:
                with _PARSE_LOCK:  # the indenter keeps per-parse state
                    tree = parser.parse(piece, start="module")
                    style = indenter.style[0] if indenter.style is not None else None
                    parsed = ([d for d in tree.children if isinstance(d, Tree)], list(indenter.comments), style)
            except (UnexpectedInput, _IndentProblem):
                return None
        if parsed[2] is not None:
            indents.add(parsed[2])
        if len(indents) > 1:  # tabs in one declaration, spaces in another: the full parse reports where
            return None
        kept[piece] = parsed
        decls += [(d, offset) for d in parsed[0]]
        comments += [(line + offset, column, body) for line, column, body in parsed[1]]
        offset += piece.count("\n")
    cache.clear()
    cache.update(kept)
    return _built(source, Diagnostics(), decls, comments)


def _built(
    source: SourceFile, sink: Diagnostics, decls: list[tuple[Tree[Any], int]], comments: list[tuple[int, int, str]]
) -> ir.GraphSpec:
    try:
        spec = _ModuleBuilder(source, sink).build(decls, comments)
    except RecursionError:
        sink.error(
            "E016",
            ir.Span.start_of(source.name),
            "the spec is nested too deeply to process",
        )
        raise DiagnosticError(sink.items) from None
    sink.raise_if_errors()
    return spec


def _shifted(lines: int) -> PositionMap:
    """Positions in a piece of a file that starts `lines` lines into it, as positions in the file."""

    def position(line: int, column: int) -> tuple[int, int]:
        return line + lines, column

    return position


class _ModuleBuilder:
    """Assembles top-level declarations into a `GraphSpec`, checking their shape."""

    def __init__(self, source: SourceFile, sink: Diagnostics) -> None:
        self.source = source
        self.sink = sink
        self.convert = _converter(source.name, sink, lambda line, column: (line, column))

    def build(self, decls: list[tuple[Tree[Any], int]], comments: list[tuple[int, int, str]]) -> ir.GraphSpec:
        """The spec from its top-level declarations, each with the lines before the text it was parsed from."""
        convert = self.convert
        fields: dict[str, Any] = {"imports": [], "nodes": []}
        graph_decl: Tree[Any] | None = None
        seen: dict[str, ir.Span] = {}
        # taken off the list one by one, so each subtree is freed once converted (lower peak memory)
        pending = decls[::-1]
        decls.clear()
        shift = 0
        for index in range(len(pending)):
            decl, offset = pending.pop()
            if offset != shift:
                shift = offset
                convert.position = _shifted(offset)
            kind = str(decl.data)
            span = convert.tree_span(decl)
            if kind in ("graph_decl", "start_decl", "state_block", "state_ref", "deps_block", "deps_ref"):
                key = kind.split("_")[0]
                if key in seen:
                    self.sink.error(
                        "E011", span, f"`{key}` is declared twice", f"the first is at line {seen[key].line}"
                    )
                    continue
                seen[key] = span
            if kind == "doc_decl":
                value = convert.string(decl.children[0].children[0])
                if index != 0 or not isinstance(value, ir.Constant) or not isinstance(value.value, str):
                    self.sink.error(
                        "E011", span, "a string here does nothing", "only the first line of a file may be a docstring"
                    )
                else:
                    fields["doc"] = value.value
            elif kind == "graph_decl":
                graph_decl = decl
                name_token, output = decl.children
                fields["name"] = convert.check_name(name_token, "graph name")
                fields["name_span"] = convert.token_span(name_token)
                fields["output"] = convert.type(output) if output is not None else None
            elif kind == "start_decl":
                fields["start"] = str(decl.children[0])
                fields["start_span"] = convert.token_span(decl.children[0])
            elif kind == "import_decl":
                fields["imports"].append(self.import_spec(decl.children[0], span))
            elif kind in ("state_block", "deps_block", "state_ref", "deps_ref"):
                fields[kind.split("_")[0]] = self.type_spec(decl, span)
            elif kind == "node_decl":
                fields["nodes"].append(self.node(decl, span))
        if graph_decl is None:
            self.sink.error(
                "E010",
                ir.Span(file=self.source.name, line=1, column=1, end_line=1, end_column=2),
                "missing `graph NAME` declaration",
                "start the spec with e.g. `graph MyFlow`",
            )
            fields.setdefault("name", "Graph")
            fields.setdefault("name_span", ir.Span.start_of(self.source.name))
        fields["comments"] = [self.comment(line, column, body) for line, column, body in comments]
        return ir.GraphSpec(span=ir.Span.start_of(self.source.name), **fields)

    def comment(self, line: int, column: int, body: str) -> ir.Comment:
        own_line = self.source.line(line)[: column - 1].strip() == ""
        span = ir.Span(file=self.source.name, line=line, column=column, end_line=line, end_column=column + len(body))
        return ir.Comment(span=span, text=body, own_line=own_line)

    def import_spec(self, body: Tree[Any], span: ir.Span) -> ir.ImportSpec:
        return import_from_tree(self.convert, body, span)

    def type_spec(self, decl: Tree[Any], span: ir.Span) -> ir.TypeSpec:
        convert = self.convert
        if str(decl.data).endswith("_ref"):
            return ir.TypeSpec(span=span, ref=".".join(str(t) for t in decl.children[0].children))
        class_name_token, *lines = decl.children
        class_name = convert.check_name(class_name_token, "class name") if class_name_token is not None else None
        return ir.TypeSpec(
            span=span,
            class_name=class_name,
            fields=[self.param(line.children[0]) for line in lines if isinstance(line, Tree)],
        )

    def param(self, param: Tree[Any]) -> ir.FieldSpec:
        name, type_tree, default = param.children
        return self.convert.field(name, type_tree, default, self.convert.tree_span(param))

    def node(self, decl: Tree[Any], span: ir.Span) -> ir.NodeSpec:
        convert = self.convert
        name_token, params, waits, policies, body = decl.children
        fields = [self.param(p) for p in params.children if p is not None] if params is not None else []
        waited = [self.param(p) for p in waits.children[0].children] if waits is not None else []
        retry, timeout = self.policies(policies)
        errors = [self.on_error(item) for item in body.children if item.data == "on_error"]
        items = [item for item in body.children if item.data != "on_error"]
        doc = None
        first = items[0] if items else None
        if isinstance(first, Tree) and first.data == "stmt":
            inner = first.children[0]
            if inner.data == "expr_stmt" and isinstance(inner.children[0], Tree) and inner.children[0].data == "string":
                value = convert.string(inner.children[0].children[0])
                if isinstance(value, ir.Constant) and isinstance(value.value, str):
                    doc = value.value
                    items = items[1:]
        statements, branches = self.body(items)
        if not branches:
            self.sink.error(
                "E008",
                convert.token_span(name_token),
                f"node `{name_token}` has no transition",
                "end the node with `-> NextNode(...)` or `-> End(value)`",
            )
        return ir.NodeSpec(
            span=span,
            name=convert.check_name(name_token, "node name"),
            name_span=convert.token_span(name_token),
            doc=doc,
            fields=fields,
            waits=waited,
            retry=retry,
            timeout=timeout,
            errors=errors,
            do=statements,
            next=branches,
        ).normalized()

    def policies(self, policies: Tree[Any] | None) -> tuple[ir.RetryPolicy | None, ir.Timeout | None]:
        """`retry ...` and `timeout ...` after a node's fields, each at most once."""
        retry: ir.RetryPolicy | None = None
        timeout: ir.Timeout | None = None
        for policy in policies.children if policies is not None else []:
            span = self.convert.tree_span(policy)
            if (retry if policy.data == "retry_policy" else timeout) is not None:
                self.sink.error("E011", span, f"`{str(policy.data).split('_')[0]}` is given twice for this node")
                continue
            if policy.data == "timeout_policy":
                timeout = ir.Timeout(span=span, seconds=float(self.convert.number(policy.children[0])))
                continue
            attempts, backoff, cap, exceptions = policy.children
            retry = ir.RetryPolicy(
                span=span,
                attempts=cast(int, self.convert.number(attempts)),
                backoff=float(self.convert.number(backoff)) if backoff is not None else 0.0,
                max_backoff=float(self.convert.number(cap)) if cap is not None else None,
                on=self.exception_names(exceptions) if exceptions is not None else [],
            )
        return retry, timeout

    def exception_names(self, exceptions: Tree[Any]) -> list[str]:
        return [".".join(str(t) for t in dotted.children) for dotted in exceptions.children if dotted is not None]

    def on_error(self, item: Tree[Any]) -> ir.ErrorBranch:
        exceptions, name, arrow = item.children
        return ir.ErrorBranch(
            span=self.convert.tree_span(item),
            exceptions=self.exception_names(exceptions),
            exceptions_span=self.convert.tree_span(exceptions),
            name=self.convert.check_name(name, "exception name") if name is not None else None,
            to=self.arrow(arrow),
        )

    def body(self, items: list[Tree[Any]]) -> tuple[list[ir.Statement], list[ir.Branch]]:
        """Statements, then branches, of a node or a block.

        Statements standing after branches run when none of those was taken: with every
        item after them they form an unconditional branch that ends the list.
        """
        statements: list[ir.Statement] = []
        branches: list[ir.Branch] = []
        for index, item in enumerate(items):
            if item.data == "on_error":
                self.sink.error(
                    "E008",
                    self.convert.tree_span(item),
                    "`on` branches belong to the node, not to a block",
                    "put it at the node's top level: it covers the whole node",
                )
                continue
            if item.data != "stmt":
                branches.append(self.branch(item))
                continue
            if not branches:
                statements.append(self.convert.statement(item.children[0]))
                continue
            if branches[-1].condition is None:
                self.sink.error(
                    "E303", self.convert.tree_span(item), "nothing may follow `->` here", "this line is never reached"
                )
                break
            rest_statements, rest_branches = self.body(items[index:])
            if not rest_branches:
                self.sink.error(
                    "E301",
                    rest_statements[-1].span,
                    "these statements are not followed by a transition",
                    "end them with `-> NextNode(...)` or `-> End(value)`",
                )
                break
            span = self.convert.merge(rest_statements[0].span, rest_branches[-1].span)
            branches.append(ir.Branch(span=span, do=rest_statements, next=rest_branches))
            break
        return statements, branches

    def branch(self, item: Tree[Any]) -> ir.Branch:
        convert = self.convert
        kind = str(item.data)
        span = convert.tree_span(item)
        if kind == "goto":
            return ir.Branch(span=span, to=self.arrow(item.children[0]))
        if kind == "if_arrow":
            condition, arrow = item.children
            return ir.Branch(span=span, condition=convert.expr(condition), to=self.arrow(arrow))
        condition = convert.expr(item.children[0]) if kind == "if_block" else None
        statements, branches = self.body(list(item.children[-1].children))
        if not branches:
            self.sink.error(
                "E301",
                span,
                "this block does not end with a transition",
                "finish the block with `-> NextNode(...)` or `-> End(value)`",
            )
            end = ir.Transition(span=span, target="End", target_span=span, args=[ir.Constant(span=span, value=None)])
            return ir.Branch(span=span, condition=condition, do=statements, to=end)
        return ir.Branch(span=span, condition=condition, do=statements, next=branches)

    def arrow(self, arrow: Tree[Any]) -> ir.Transition:
        target, label = arrow.children
        return self.convert.transition(target, label, self.convert.tree_span(arrow))


def import_from_tree(convert: TreeToIR, body: Tree[Any], span: ir.Span) -> ir.ImportSpec:
    """An `ImportSpec` from an `import_body` subtree (shared with the YAML/TOML front-ends)."""
    dotted, *names = body.children
    module = ".".join(str(t) for t in dotted.children)
    for part in dotted.children:
        if str(part).startswith("_") and str(part) != "__future__":
            convert.sink.error("E012", convert.token_span(part), f"module path `{module}` has a part starting with `_`")
    imported = []
    for entry in names:
        name_token, alias_token = entry.children
        name = str(name_token)
        if name.startswith("_"):
            convert.sink.error("E012", convert.token_span(name_token), f"imported name `{name}` starts with `_`")
        alias = convert.check_name(alias_token, "import alias") if alias_token is not None else None
        imported.append(ir.ImportName(span=convert.tree_span(entry), name=name, alias=alias))
    return ir.ImportSpec(span=span, module=module, names=imported, module_span=convert.tree_span(dotted))
