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
    "CODE_MEANINGS",
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


CODE_MEANINGS = {
    "E001": "syntax error",
    "E003": "indentation error (mixed tabs and spaces, or an unindent that matches no outer level)",
    "E005": "a Python construct the language leaves out (lambda, `:=`, star-arguments, loops...)",
    "E006": "a malformed f-string (an unknown `!` conversion, `=` debugging, an unclosed field)",
    "E007": "an invalid string or number literal (a bad escape, an unknown prefix)",
    "E008": "a node or block without a transition",
    "E009": "a file too large, not UTF-8 text, or holding NUL bytes",
    "E010": "a missing `graph NAME` declaration",
    "E011": "a declaration given twice (`graph`, `start`, a node's `retry`...), or a string that does nothing",
    "E012": "a name starting with `_` (private and dunder names are out of a spec's reach)",
    "E013": "a name that is not a valid identifier, or a keyword",
    "E014": "an assignment to something that cannot be assigned (only locals and `state.` paths)",
    "E015": "a literal where it is not allowed (outside `Literal[...]`, an f-string as an edge label)",
    "E016": "an expression nested deeper than the limit",
    "E017": "more nodes than the limit",
    "E018": "an identifier not written as Python reads it (NFKC: `ｇｉ_frame` is `gi_frame`)",
    "E020": "invalid YAML or TOML",
    "E021": "an unknown key in a YAML/TOML spec",
    "E022": "a YAML/TOML value of the wrong kind (a string where a mapping belongs...)",
    "E023": "a YAML/TOML entry missing what it needs (a branch without `to:` or `next:`)",
    "E101": "unknown node in a transition",
    "E102": "unknown name",
    "E103": "no such state or deps field",
    "E104": "a node defined twice, or named as an import",
    "E105": "a field declared twice",
    "E106": "unknown start node",
    "E107": "a name generated code uses itself, or one that would hide another",
    "E108": "a local used before it is assigned",
    "E109": "a name imported twice",
    "E110": "unknown type",
    "E111": "a generic type with the wrong number of arguments (`dict[str]`), or `...` outside `tuple`",
    "E112": "a field without a default after one with a default",
    "E114": "a retry or timeout number that makes no sense",
    "E120": "an import (or a dotted type) outside the allow-list",
    "E121": "a graph without nodes",
    "E122": "a module that is neither beside the spec nor on sys.path",
    "E123": "a name the imported module does not define",
    "E130": "unknown exception class",
    "E131": "an imported name that is not an exception class",
    "E140": "under an allow-list: an attribute that leads into the interpreter (frames, code, `mro`, `format`...)",
    "E141": "under an allow-list: a name an allowed module imports from a module outside the list",
    "E150": "a used spec that cannot be found or read (or, under an allow-list, was not given with the spec)",
    "E151": "a used spec with errors",
    "E152": "specs that run each other as sub-graphs in a cycle",
    "E153": "a sub-graph named anywhere but as an argument of a transition",
    "E155": "a sub-graph's output that does not fit the join's field (or the graph's output)",
    "E156": "`limit`/`tolerate` without sub-graph runs, or with numbers that make no sense",
    "E157": "a used spec that cannot run as a sub-graph (no `start`, or a node that waits or sleeps)",
    "E160": "a `sleep` or a wait's deadline that is not a positive duration",
    "E161": "a deadline on a node that waits for nothing, or whose edge runs sub-graphs",
    "E162": "a schedule with a bad cron expression or interval, a start that is no node, or arguments not constants",
    "E163": "a deadline or a sleep compiled for a pydantic_graph target, which has no timers",
    "E201": "too many arguments to a node",
    "E202": "a node's required field left out",
    "E203": "no such field in a node",
    "E204": "a field or keyword given twice",
    "E205": "an `End` value of the wrong type for the graph's output",
    "E206": "`End` given other than one value",
    "E207": "a waited-for field given a value in the spec (a default, or an argument in a transition)",
    "E230": "a type error mypy found (`graphc check --types`)",
    "E301": "a node or block that may fall through without a transition",
    "E302": "a branch after an unconditional one: never taken",
    "E303": "a statement or branch after an unconditional transition",
    "E304": "an error branch an earlier, broader one always takes first",
    "W401": "a node unreachable from `start`",
    "W402": "a node from which no path reaches `End`",
    "W403": "an import never used",
    "W404": "no `start` node",
    "W405": "a call a node's `timeout` cannot interrupt (not awaited)",
    "W410": "a branch earlier branches always take first (the prover)",
    "W411": "a condition that never holds (the prover)",
    "W412": "a condition that always holds where it is reached (the prover)",
    "W413": "a condition repeated word for word",
}
"""What each diagnostic code means: the language server's hovers over codes, and the docs' table."""
