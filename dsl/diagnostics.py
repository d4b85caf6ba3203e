"""Diagnostics: what is wrong with a spec, where, and how to fix it.

Every stage reports problems as `Diagnostic` records; `DiagnosticError` carries all
of a stage's errors at once. Rendering (text with a caret, or JSON) lives here too.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping

from .ir import Span
from .record import Record, record

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from typing import Literal

    Severity = Literal["error", "warning"]

__all__ = (
    "Diagnostic",
    "DiagnosticError",
    "Diagnostics",
    "Suggestion",
    "close_names",
    "closest",
    "did_you_mean",
    "render_json",
    "render_text",
)

_MAX_SHOWN = 100  # source characters shown per diagnostic line


@record
class Suggestion(Record):
    """A fix a tool can apply: put `replacement` where `span` is (editors' quick fixes)."""

    replacement: str
    span: Span


@record
class Diagnostic(Record):
    """One problem in a spec."""

    code: str
    severity: Severity
    span: Span
    message: str
    hint: str | None = None
    suggestions: tuple[Suggestion, ...] = ()

    @classmethod
    def error(cls, code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
        """An error: the spec cannot be compiled."""
        return cls(code=code, severity="error", span=span, message=message, hint=hint)

    @classmethod
    def warning(cls, code: str, span: Span, message: str, hint: str | None = None) -> Diagnostic:
        """A warning: the spec compiles but probably does not do what was meant."""
        return cls(code=code, severity="warning", span=span, message=message, hint=hint)

    def to_json(self) -> dict[str, object]:
        """The diagnostic as JSON data: `code`, `severity`, `span`, `message`, `hint`."""
        return {
            "code": self.code,
            "severity": self.severity,
            "span": self.span.model_dump(),
            "message": self.message,
            "hint": self.hint,
            "suggestions": [{"replacement": x.replacement, "span": x.span.model_dump()} for x in self.suggestions],
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, position, then code."""
        return (self.span.file, self.span.line, self.span.column, self.code)


class DiagnosticError(Exception):
    """Raised by a stage whose input has errors; carries all of them, sorted."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(f"{first.span}: {first.message}" if first else "spec has errors")


class Diagnostics:
    """A sink that a stage adds diagnostics to, then checks once at its end."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, diagnostic: Diagnostic) -> None:
        """Record a diagnostic."""
        self.items.append(diagnostic)

    def error(
        self, code: str, span: Span, message: str, hint: str | None = None, suggestions: tuple[Suggestion, ...] = ()
    ) -> None:
        """Record an error."""
        self.items.append(
            Diagnostic(code=code, severity="error", span=span, message=message, hint=hint, suggestions=suggestions)
        )

    def warning(self, code: str, span: Span, message: str, hint: str | None = None) -> None:
        """Record a warning."""
        self.items.append(Diagnostic.warning(code, span, message, hint))

    @property
    def has_errors(self) -> bool:
        """Whether any error (not just warnings) was recorded."""
        return any(d.severity == "error" for d in self.items)

    def raise_if_errors(self) -> None:
        """End of a stage: raise everything recorded if any of it is an error."""
        if self.has_errors:
            raise DiagnosticError(self.items)

    def sorted(self) -> list[Diagnostic]:
        """All diagnostics, by position."""
        return sorted(self.items, key=Diagnostic.sort_key)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidates to a misspelt name, if any are close."""
    return closest(name, candidates, None)[0]


def closest(name: str, candidates: Iterable[str], span: Span | None) -> tuple[str | None, tuple[Suggestion, ...]]:
    """The did-you-mean hint for a misspelt name, and each close candidate as a fix of `span` (the name)."""
    matches = close_names(name, candidates)
    if not matches:
        return None, ()
    hint = "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
    return hint, tuple(Suggestion(replacement=m, span=span) for m in matches) if span is not None else ()


def close_names(name: str, candidates: Iterable[str]) -> list[str]:
    """Up to three candidates close to a misspelt name, closest first."""
    return difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)


def render_text(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> str:
    """Render diagnostics mypy-style: location, message, the source line, a caret, a hint.

    Args:
        diagnostics: What to render, in order.
        sources: File name → text, for the quoted source lines.
    """
    blocks = []
    for d in diagnostics:
        span = d.span
        lines = [f"{span.file}:{span.line}:{span.column}: {d.severity}[{d.code}]: {d.message}"]
        text = sources.get(span.file)
        source_lines = text.split("\n") if text is not None else []
        if 0 < span.line <= len(source_lines):
            line_text = source_lines[span.line - 1].replace("\t", " ")
            gutter = str(span.line)
            end = span.end_column if span.end_line == span.line else len(line_text) + 1
            width = max(1, min(end, len(line_text) + 1) - span.column)
            column = span.column
            if len(line_text) > _MAX_SHOWN:  # show a window around the problem, not a whole huge line
                start = max(0, column - 1 - _MAX_SHOWN // 2)
                shown = line_text[start : start + _MAX_SHOWN]
                line_text = ("..." if start else "") + shown + ("..." if start + _MAX_SHOWN < len(line_text) else "")
                column = column - start + (3 if start else 0)
                width = max(1, min(width, len(line_text) - column + 1))
            lines.append(f"{gutter} | {line_text}".rstrip())
            lines.append(f"{' ' * len(gutter)} | {' ' * (column - 1)}^{'~' * (width - 1)}")
            if d.hint:
                lines.append(f"{' ' * len(gutter)} = hint: {d.hint}")
        elif d.hint:
            lines.append(f"  = hint: {d.hint}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def render_json(diagnostics: Iterable[Diagnostic]) -> str:
    """Render diagnostics as a JSON list, for editors and CI."""
    return json.dumps([d.to_json() for d in diagnostics], indent=2)
