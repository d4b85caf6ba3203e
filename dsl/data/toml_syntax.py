"""The TOML front-end: `SourceFile` → data (tomllib) + positions (a small scanner) → `GraphSpec`.

tomllib reports no positions, so `_Scanner` walks the (already validated) text
once and records where each key and value is, by key path.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import sys
from typing import Any

from .. import ir
from ..diagnostics import Diagnostic, DiagnosticError
from ..source import SourceFile
from .shared import DataNode, data_to_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ("parse_toml",)

Path = tuple[str | int, ...]
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ATOM = re.compile(r"[^\s,\]\}#]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
_SPACE = re.compile(r"[ \t]*")
_SPACE_AND_COMMENTS = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")
_COMMENT = re.compile(r"#[^\n]*")


class _Scanner:
    """Records the span of every key and value of a valid TOML document, by path."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.values: dict[Path, tuple[ir.Span, tuple[int, int] | None]] = {}
        self.keys: dict[Path, ir.Span] = {}
        self.array_tables: dict[Path, int] = {}
        self.comments: dict[int, str] = {}  # offset -> text, for `fmt` to keep

    def where(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def span(self, start: int, end: int) -> ir.Span:
        line, column = self.where(start)
        end_line, end_column = self.where(end)
        return ir.Span(file=self.file, line=line, column=column, end_line=end_line, end_column=end_column)

    def skip(self, newlines: bool) -> None:
        pattern = _SPACE_AND_COMMENTS if newlines else _SPACE
        match = pattern.match(self.text, self.pos)
        assert match is not None
        if newlines:
            for comment in _COMMENT.finditer(self.text, match.start(), match.end()):
                self.comments.setdefault(comment.start(), comment.group().rstrip())
        self.pos = match.end()

    def scan(self) -> None:
        table: Path = ()
        while True:
            self.skip(True)
            if self.pos >= len(self.text):
                return
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                path = self.key_path(())
                self.expect("]]")
                index = self.array_tables.get(path, 0)
                self.array_tables[path] = index + 1
                table = (*path, index)
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                table = self.key_path(())
                self.expect("]")
            else:
                path = self.key_path(table)
                self.skip(False)
                self.expect("=")
                self.value(path)

    def expect(self, literal: str) -> None:
        self.skip(False)
        if not self.text.startswith(literal, self.pos):
            raise ValueError(f"expected {literal!r} at {self.pos}")
        self.pos += len(literal)

    def key_path(self, prefix: Path) -> Path:
        path = list(prefix)
        while True:
            self.skip(False)
            start = self.pos
            for pattern in (_BARE_KEY, _BASIC, _LITERAL):
                match = pattern.match(self.text, self.pos)
                if match:
                    break
            else:
                raise ValueError(f"expected a key at {self.pos}")
            raw = match.group()
            key = raw if pattern is _BARE_KEY else tomllib.loads(f"k = {raw}")["k"]
            self.pos = match.end()
            path.append(key)
            self.keys[tuple(path)] = self.span(start, self.pos)
            self.skip(False)
            if not self.text.startswith(".", self.pos):
                return tuple(path)
            self.pos += 1

    def value(self, path: Path) -> None:
        self.skip(False)
        start = self.pos
        text = self.text
        content = None
        if text.startswith(('"""', "'''"), start):
            quote = text[start : start + 3]
            end = start + 3
            while True:
                end = text.index(quote, end)
                if quote == "'''" or text[end - 1] != "\\" or text[end - 2] == "\\":
                    break
                end += 1
            while text.startswith(quote[0], end + 3):  # up to two quotes may close the content
                end += 1
            self.pos = end + 3
        elif text.startswith(('"', "'"), start):
            match = (_BASIC if text[start] == '"' else _LITERAL).match(text, start)
            if match is None:
                raise ValueError(f"bad string at {start}")
            self.pos = match.end()
            if text[start] == "'" or "\\" not in match.group():
                content = self.where(start + 1)
        elif text.startswith("[", start):
            self.pos += 1
            index = 0
            while True:
                self.skip(True)
                if text.startswith("]", self.pos):
                    self.pos += 1
                    break
                self.value((*path, index))
                index += 1
                self.skip(True)
                if text.startswith(",", self.pos):
                    self.pos += 1
        elif text.startswith("{", start):
            self.pos += 1
            while True:
                self.skip(False)
                if text.startswith("}", self.pos):
                    self.pos += 1
                    break
                key = self.key_path(path)
                self.expect("=")
                self.value(key)
                self.skip(False)
                if text.startswith(",", self.pos):
                    self.pos += 1
        else:
            match = _ATOM.match(text, start)
            if match is None:
                raise ValueError(f"bad value at {start}")
            self.pos = match.end()
        self.values[path] = (self.span(start, self.pos), content)


def _located(data: Any, path: Path, scanner: _Scanner, fallback: ir.Span) -> DataNode:
    span, content = scanner.values.get(path, (scanner.keys.get(path, fallback), None))
    if isinstance(data, dict):
        entries = {k: _located(v, (*path, k), scanner, span) for k, v in data.items()}
        key_spans = {k: scanner.keys.get((*path, k), span) for k in data}
        return DataNode(entries, span, key_spans)
    if isinstance(data, list):
        return DataNode([_located(v, (*path, i), scanner, span) for i, v in enumerate(data)], span)
    if not isinstance(data, (str, int, float, bool)):
        data = str(data)  # dates and times: kept as text
    return DataNode(data, span, content=content)


def parse_toml(source: SourceFile) -> ir.GraphSpec:
    """Parse the TOML form of a spec.

    Raises:
        DiagnosticError: invalid TOML, or a document of the wrong shape.
    """
    try:
        data = tomllib.loads(source.text)
    except tomllib.TOMLDecodeError as e:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e)) or "syntax error"
        span = ir.Span(file=source.name, line=line, column=column, end_line=line, end_column=column + 1)
        raise DiagnosticError(
            [Diagnostic.error("E020", span, f"invalid TOML: {message[0].lower()}{message[1:]}")]
        ) from None
    except RecursionError:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E016", span, "the document is nested too deeply")]) from None
    scanner = _Scanner(source.text, source.name)
    with contextlib.suppress(ValueError, IndexError, RecursionError):  # positions are best effort
        scanner.scan()
    root_span = ir.Span.start_of(source.name)
    return data_to_spec(_located(data, (), scanner, root_span), source, scanner.comments.items())
