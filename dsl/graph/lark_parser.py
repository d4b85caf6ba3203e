"""lark's own parser for the `.graph` grammar: the reference for syntax errors, and completion.

`dsl.lalr` parses what is well formed without lark; when it steps aside, this module parses
the text again with lark and turns lark's exceptions into graphc's diagnostics. After a
syntax error, parsing resumes at the next top-level declaration, so one run reports an error
per broken declaration. Blocks come from an indenter that also collects comments.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any, NamedTuple

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import Indenter

from grammars import read_grammar

from .. import ir
from ..cachedir import cache_dir
from ..diagnostics import Diagnostics, Suggestion, close_names, did_you_mean
from ..expressions import PositionMap
from ..source import SourceFile
from ..syntax_tree import Tree
from .lalr import DECL_START, GRAMMAR_FILE, TABLES_FILE, _read, tables_key

__all__ = ("MAX_ERRORS", "build_parser", "keywords_accepted", "parse_fragment", "parse_module")

_PARSE_LOCK = threading.RLock()

MAX_ERRORS = 50
"""Syntax errors reported per file before giving up."""

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


def _first_position(children: Iterable[Any]) -> Any:
    """The extent of the first child with a position: a token, or a subtree positioned by `_positioned`.

    Typed `Any`: lark types a token's numbers as optional.
    """
    for child in children:
        if type(child) is Token:
            return (child.line, child.column, child.end_line, child.end_column)
        if type(child) is Tree and child.position is not None:
            return child.position
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
        if type(result) is not Tree or result.position is not None:
            return result  # a token, or a subtree passed through (`?rule`) that has its position
        first = _first_position(children)
        if first is not None:  # else nothing inside has a position (an empty optional part)
            last = _first_position(reversed(children))
            result.position = (first[0], first[1], last[2], last[3])
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
            start=[
                "module",
                "expr_input",
                "type_input",
                "stmt_input",
                "target_input",
                "field_input",
                "import_input",
                "sleep_input",
            ],
            postlex=_GraphIndenter(),
            maybe_placeholders=True,
            **options,
        )

    if not lark_positions:
        parser = _cached(lambda **options: make(tree_class=Tree, **options))
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


def _ours(tree: Any) -> Any:
    """A tree of lark's own class (its `propagate_positions` knows no other) as a `syntax_tree.Tree`."""
    if tree is None or isinstance(tree, (str, Tree)):
        return tree
    converted = Tree(str(tree.data), [_ours(child) for child in tree.children])
    if not tree.meta.empty:
        meta = tree.meta
        converted.position = (meta.line, meta.column, meta.end_line, meta.end_column)
    return converted


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


def parse_fragment(text: str, start: str, file: str, sink: Diagnostics, position: PositionMap) -> Tree | None:
    """Parse one line with one of the grammar's `*_input` rules, recording its syntax errors in `sink`."""
    try:
        with _PARSE_LOCK:
            tree: Tree = _ours(_parser().parse(text.strip("\n"), start=start))
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


def parse_module(source: SourceFile, text: str, sink: Diagnostics) -> tuple[Tree, list[tuple[int, int, str]]]:
    """Parse with lark: the tree and comments, or (raised) every syntax error, one per broken declaration."""
    trees: list[tuple[Any, int]] = []
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
            match = DECL_START.search(remaining, min(resume_from, len(remaining)))
            if match is None:
                break
            skipped = remaining.count("\n", 0, match.start())
            remaining = remaining[match.start() :]
            offset += skipped
    sink.raise_if_errors()
    return _ours(trees[0][0]), comments


# ---- the tables `lalr` parses with, as lark builds them (lark 1.3's internals are read here only) ----


def build_tables() -> dict[str, Any]:
    """The tables, from lark's parser for the grammar (imports lark)."""
    parser = build_parser(lark_positions=True)
    table = parser.parser.parser.parser.parse_table
    rules = list(parser.rules)
    rule_index = {id(rule): index for index, rule in enumerate(rules)}
    states: list[dict[str, int]] = []
    for state in range(len(table.states)):
        actions = {}
        for symbol, (action, argument) in table.states[state].items():
            actions[symbol] = argument if action.name == "Shift" else ~rule_index[id(argument)]
        states.append(actions)
    contextual = parser.parser.lexer.lexer
    lexer_sources: list[Any] = []
    lexer_ids: dict[int, int] = {}
    state_lexers = []
    for state in range(len(table.states)):
        lexer = contextual.lexers[state]
        if id(lexer) not in lexer_ids:
            lexer_ids[id(lexer)] = len(lexer_sources)
            lexer_sources.append(_lexer_source(lexer))
        state_lexers.append(lexer_ids[id(lexer)])
    root = contextual.root_lexer
    pattern, keywords = _lexer_source(root)
    encoded_rules = [_encode_rule(rule) for rule in rules]
    kept = sorted(
        {
            rule.expansion[index].name
            for rule, encoded in zip(rules, encoded_rules, strict=True)
            for index, *_ in (encoded[4] if encoded[4] is not None else [[i] for i in range(len(rule.expansion))])
            if rule.expansion[index].is_term
        }
    )
    return {
        "grammar": tables_key(_read(GRAMMAR_FILE)),
        "pattern": pattern,
        "keywords": keywords,
        "ignore": sorted(root.ignore_types),
        "newline": sorted(root.newline_types),
        "kept": kept,
        "start_states": dict(table.start_states),
        "end_states": dict(table.end_states),
        "rules": encoded_rules,
        "states": states,
        "state_lexers": state_lexers,
        "lexers": lexer_sources,
    }


def _lexer_source(lexer: Any) -> tuple[str, dict[str, str]]:
    """A lark lexer's terminals as one pattern (its order), and the keywords its NAME stands for."""
    scanner = lexer.scanner
    patterns = [compiled.pattern for compiled in scanner._mres]
    if len(patterns) != 1:
        raise AssertionError("the lexer's terminals need one regular expression")
    keywords: dict[str, str] = {}
    unless = lexer.callback.get("NAME")
    if unless is not None:
        keywords = {str(t.pattern.value): t.name for t in unless.scanner.terminals}
    if set(lexer.callback) - {"NAME"}:
        raise AssertionError("only NAME may stand for other terminals")
    return patterns[0], keywords


def _encode_rule(rule: Any) -> list[Any]:
    """Name, size and tree shape of a rule's reduction: lark's `parse_tree_builder` with placeholders, for LALR."""
    options = rule.options
    expansion = rule.expansion
    empty = options.empty_indices
    if empty:
        digits = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in digits.split("0")]
    else:
        nones = [0] * (len(expansion) + 1)
    include = []
    pending = 0
    for index, symbol in enumerate(expansion):
        pending += nones[index]
        if options.keep_all_tokens or not (symbol.is_term and symbol.filter_out):
            include.append([index, not symbol.is_term and symbol.name.startswith("_"), pending])
            pending = 0
    pending += nones[len(expansion)]
    filtered = bool(empty) or len(include) < len(expansion) or any(splice for _, splice, _ in include)
    name = rule.alias or rule.options.template_source or rule.origin.name
    expand1 = bool(options.expand1 and not rule.alias)
    return [rule.origin.name, len(expansion), name, expand1, include if filtered else None, pending if filtered else 0]


def write_tables() -> None:
    """Write the tables file for the grammar as it is now."""
    with open(TABLES_FILE, "w", encoding="utf-8") as out:
        out.write(json.dumps(build_tables(), separators=(",", ":")) + "\n")
