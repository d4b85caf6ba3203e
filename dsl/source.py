"""Reading spec files: bytes → `SourceFile`, with the problems a user can cause reported as diagnostics."""

from __future__ import annotations

import os

from .diagnostics import Diagnostic, DiagnosticError
from .ir import Span
from .limits import DEFAULT_LIMITS

__all__ = ("DEFAULT_MAX_BYTES", "SourceFile", "read_source", "source_from_text")

DEFAULT_MAX_BYTES = DEFAULT_LIMITS.max_bytes
"""Largest spec file accepted by default (a little over 10 MiB)."""

FORMATS = {".graph": "graph", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}


class SourceFile:
    """The text of one spec, its display name and its syntax (`graph`, `yaml` or `toml`). Immutable."""

    __slots__ = ("_lines", "name", "syntax", "text")

    name: str
    text: str
    syntax: str
    _lines: list[str]

    def __init__(self, name: str, text: str, syntax: str) -> None:
        for attribute, value in (("name", name), ("text", text), ("syntax", syntax), ("_lines", text.split("\n"))):
            object.__setattr__(self, attribute, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a SourceFile is immutable")

    def _key(self) -> tuple[str, str, str]:
        return (self.name, self.text, self.syntax)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceFile) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SourceFile(name={self.name!r}, text={self.text!r}, syntax={self.syntax!r})"

    def line(self, number: int) -> str:
        """Line `number` (1-based) without its line end, or '' past the end."""
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""


def syntax_of(name: str) -> str | None:
    """The syntax a file name implies, or None."""
    return FORMATS.get(os.path.splitext(name)[1].lower())


def source_from_text(
    name: str, data: bytes | str, syntax: str | None = None, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> SourceFile:
    """Decode spec text (UTF-8, optional BOM, any line ends) into a `SourceFile`.

    Raises:
        DiagnosticError: the data is too large, not UTF-8, binary, or of an unknown syntax.
    """
    where = Span.start_of(name)
    chosen = syntax or syntax_of(name)
    if chosen is None:
        raise DiagnosticError(
            [
                Diagnostic.error(
                    "E009", where, f"cannot tell the syntax of `{name}`", "use a .graph, .yaml, .yml or .toml file"
                )
            ]
        )
    size = len(data)
    if size > max_bytes:
        raise DiagnosticError(
            [Diagnostic.error("E009", where, f"file is too large ({size:,} bytes; the limit is {max_bytes:,})")]
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
            raise DiagnosticError(
                [
                    Diagnostic.error(
                        "E009",
                        Span(file=name, line=line, column=column, end_line=line, end_column=column + 1),
                        "file is not valid UTF-8 text",
                    )
                ]
            ) from None
    else:
        text = data
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        offset = text.index("\x00")
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        raise DiagnosticError(
            [
                Diagnostic.error(
                    "E009",
                    Span(file=name, line=line, column=column, end_line=line, end_column=column + 1),
                    "file contains a NUL byte: not a text file",
                )
            ]
        )
    return SourceFile(name, text, chosen)


def read_source(
    path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES, syntax: str | None = None
) -> SourceFile:
    """Read a spec file from disk.

    Raises:
        DiagnosticError: the file cannot be read or decoded.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as e:
        where = Span.start_of(name)
        raise DiagnosticError([Diagnostic.error("E009", where, f"cannot read file: {e.strerror or e}")]) from None
    return source_from_text(name, data, syntax, max_bytes=max_bytes)
