"""The YAML front-end: `SourceFile` → located data (PyYAML's composer) → `GraphSpec`."""

from __future__ import annotations

import bisect
import re

import yaml

from .. import ir
from ..diagnostics import Diagnostic, DiagnosticError
from ..source import SourceFile
from .shared import DataNode, data_to_spec

__all__ = ("parse_yaml",)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ALIAS_EXPANSIONS = 10_000
"""Values reached again through YAML aliases before the document is refused (a billion-laughs guard)."""


class _Located:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.constructor = yaml.constructor.SafeConstructor()
        self.seen: set[int] = set()
        self.expansions = 0

    def span(self, node: yaml.Node) -> ir.Span:
        start, end = node.start_mark, node.end_mark
        return ir.Span(
            file=self.source.name,
            line=start.line + 1,
            column=start.column + 1,
            end_line=end.line + 1,
            end_column=end.column + 1,
        )

    def convert(self, node: yaml.Node) -> DataNode:
        if id(node) in self.seen:
            self.expansions += 1
        self.seen.add(id(node))
        if self.expansions > MAX_ALIAS_EXPANSIONS:
            raise DiagnosticError(
                [
                    Diagnostic.error(
                        "E017",
                        self.span(node),
                        "the document expands to too many values",
                        "YAML aliases are expanded; use fewer of them",
                    )
                ]
            )
        span = self.span(node)
        if isinstance(node, yaml.MappingNode):
            entries: dict[str, DataNode] = {}
            key_spans: dict[str, ir.Span] = {}
            problems = []
            for key_node, value_node in node.value:
                key = self.constructor.construct_object(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                key_span = self.span(key_node)
                if not isinstance(key, str):
                    problems.append(Diagnostic.error("E022", key_span, "keys must be strings"))
                    continue
                if key in entries:
                    problems.append(
                        Diagnostic.error(
                            "E011",
                            key_span,
                            f"key `{key}` appears twice",
                            f"the first is at line {key_spans[key].line}",
                        )
                    )
                    continue
                entries[key] = self.convert(value_node)
                key_spans[key] = key_span
            if problems:
                raise DiagnosticError(problems)
            return DataNode(entries, span, key_spans)
        if isinstance(node, yaml.SequenceNode):
            return DataNode([self.convert(item) for item in node.value], span)
        value = self.constructor.construct_object(node)
        content = None
        if isinstance(value, str) and isinstance(node, yaml.ScalarNode) and node.start_mark.line == node.end_mark.line:
            quote = 1 if node.style in ("'", '"') else 0
            if node.style in (None, "", "'", '"'):  # plain ("" from the C loader, None from Python's) or quoted
                raw = self.source.text[node.start_mark.index + quote : node.end_mark.index - quote]
                if raw == value:
                    content = (span.line, span.column + quote)
        if not isinstance(value, (str, int, float, bool, type(None))):
            value = str(value)  # dates and other YAML scalars: kept as text
        return DataNode(value, span, content=content)


_KEY_VALUE = re.compile(r"^\s*(?:-\s+)?\{?\s*([\w-]+):\s+(.*?)\s*\}?\s*$")


def _quote_hint(line_text: str) -> str | None:
    """For `to: End("a: b")`: YAML reads the second `: ` as a new key, so say how to quote the value."""
    match = _KEY_VALUE.match(line_text)
    if match is None or ":" not in match.group(2) or match.group(2)[:1] in "'\"":
        return None
    key, value = match.group(1), _flow_value(match.group(2))
    quoted = "'" + value.replace("'", "''") + "'"
    return f"quote a value that contains `: `, as in `{key}: {quoted}`"


def _flow_value(text: str) -> str:
    """The value up to a `,` or `}` outside brackets and quotes (the end of a flow-mapping entry)."""
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in ",}" and depth == 0:
            return text[:i].rstrip()
        elif ch == "}":
            depth -= 1
    return text


_COMMENT = re.compile(r"(?:^|(?<=[ \t]))#[^\n]*", re.MULTILINE)


def _comments(text: str) -> list[tuple[int, str]]:
    """The document's `#` comments (offset, text): a `#` after a space or at a line start, outside scalars."""
    if "#" not in text:
        return []
    scalars = [
        (token.start_mark.index, token.end_mark.index)
        for token in yaml.scan(text, Loader=_Loader)
        if isinstance(token, yaml.ScalarToken)
    ]
    starts = [start for start, _ in scalars]
    found = []
    for match in _COMMENT.finditer(text):
        inside = bisect.bisect_right(starts, match.start()) - 1
        if inside >= 0 and scalars[inside][0] <= match.start() < scalars[inside][1]:
            continue
        found.append((match.start(), match.group().rstrip()))
    return found


def parse_yaml(source: SourceFile) -> ir.GraphSpec:
    """Parse the YAML form of a spec.

    Raises:
        DiagnosticError: invalid YAML, or a document of the wrong shape.
    """
    try:
        root = yaml.compose(source.text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"invalid YAML: {e.problem or e.context}"
        span = ir.Span(file=source.name, line=line, column=column, end_line=line, end_column=column + 1)
        hint = _quote_hint(source.line(line))
        raise DiagnosticError([Diagnostic.error("E020", span, message, hint)]) from None
    except yaml.YAMLError as e:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E020", span, f"invalid YAML: {e}")]) from None
    except RecursionError:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E016", span, "the document is nested too deeply")]) from None
    if root is None:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E023", span, "the document is empty", "start with `graph: MyFlow`")])
    try:
        data = _Located(source).convert(root)
    except RecursionError:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E016", span, "the document is nested too deeply")]) from None
    except yaml.YAMLError as e:
        span = ir.Span.start_of(source.name)
        raise DiagnosticError([Diagnostic.error("E020", span, f"invalid YAML value: {e}")]) from None
    return data_to_spec(data, source, _comments(source.text))
