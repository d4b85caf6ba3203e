"""`graphc check --types`: mypy on the generated module, its findings mapped back onto the spec.

The `types` extra (mypy) is the only dependency, imported here alone. The spec is
compiled for the runtime target and written, only when its text changed, beside a
mypy cache under graphc's cache folder, so warm runs reuse mypy's incremental cache
as running mypy by hand would. mypy reads the spec's helper modules from the spec's
folder (its import path) without running them, and reports only what is wrong in the
generated module: each finding is placed on the spec line its `# spec:LINE` comment
names (or on the field it declares), with the caret under the spec's own text for
the expression mypy points at, and the message in the spec's terms (`state.count`,
a node's field names; not `ctx.state`, `self.x`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mypy import api as mypy_api

from dsl import ir
from dsl.cachedir import cache_dir
from dsl.diagnostics import Diagnostic
from dsl.parse import parse_source
from dsl.source import SourceFile, read_source

from .checks import CheckedGraph, check_spec
from .codegen import generate

__all__ = ("TYPE_ERROR", "typecheck", "typecheck_file")

TYPE_ERROR = "E230"
"""The code of every finding of the type checker; mypy's own code ends the message."""

_FLAGS = (
    "--show-column-numbers",
    "--show-error-end",
    "--show-error-codes",
    "--no-error-summary",
    "--hide-error-context",
    "--no-pretty",
    "--no-color-output",
    "--strict-equality",
    "--check-untyped-defs",
    "--follow-imports=silent",  # the spec's helpers are read for their types, not judged
)
_FINDING = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+):(?P<end_line>\d+):(?P<end_col>\d+): "
    r"(?P<kind>error|note): (?P<message>.*?)(?:  \[(?P<code>[a-z-]+)\])?$"
)
_SPEC_COMMENT = re.compile(r"  # (?P<file>[^\s#]+):(?P<line>\d+)$")


@dataclass(frozen=True)
class _Finding:
    line: int
    column: int
    end_line: int
    end_column: int
    kind: str
    message: str
    code: str | None


def typecheck(checked: CheckedGraph, source: SourceFile, search_path: Sequence[str] = ()) -> list[Diagnostic]:
    """Mypy's findings about a checked spec, as diagnostics on the spec.

    Args:
        checked: The spec, after `check_spec` found no errors.
        source: Its text, for carets under the spec's own expressions.
        search_path: Folders where the spec's modules are; default: the spec's folder.
    """
    module = generate(checked, target="runtime")
    folders = list(search_path) or [os.path.dirname(os.path.abspath(source.name))]
    work = _work_folder(source.name)
    generated = work / f"{Path(source.name).stem.replace('-', '_')}_graph.py"
    _write_if_changed(generated, module.source)
    config = work / "mypy.ini"
    mypy_path = os.pathsep.join([*folders, *_runtime_folder()])
    # a cache per spec: mypy keys its cache by module name, and two specs may share a name
    _write_if_changed(config, f"[mypy]\nmypy_path = {mypy_path}\ncache_dir = {work / 'mypy-cache'}\n")
    stdout, stderr, status = mypy_api.run([*_FLAGS, "--config-file", str(config), str(generated)])
    lines = module.source.splitlines()
    mapper = _SpecMapper(checked, source, lines)
    found: list[Diagnostic] = []
    for finding in _findings(stdout, str(generated)):
        if finding.kind == "error":  # mypy's notes say what the hints say
            found.append(mapper.diagnostic(finding))
    if status > 1 or (status == 1 and not found):  # mypy itself failed, or found nothing it could place
        trouble = (stderr.strip() or stdout.strip()).splitlines()[:5]
        message = "mypy could not type-check the spec: " + " / ".join(trouble)
        found.append(Diagnostic.error(TYPE_ERROR, ir.Span.start_of(source.name), message))
    return found


def _runtime_folder() -> list[str]:
    """The folder holding `runtime`, when mypy would not find it in site-packages (an editable install)."""
    root = Path(__file__).resolve().parent.parent
    return [] if root.name in ("site-packages", "dist-packages") else [str(root)]


def typecheck_file(path: str | Path) -> list[Diagnostic]:
    """Parse, check and type-check a spec file: the Python API of `graphc check --types`.

    Raises:
        DiagnosticError: the spec has errors `check` finds; the type checker runs only on a spec without them.
    """
    source = read_source(path)
    checked = check_spec(parse_source(source))
    return typecheck(checked, source)


def _work_folder(spec_name: str) -> Path:
    digest = hashlib.sha256(os.path.abspath(spec_name).encode()).hexdigest()[:16]
    folder = cache_dir() / "typecheck" / digest
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_if_changed(path: Path, text: str) -> None:
    """Keep the file's time when its text is the same, so mypy's cache stays warm."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.write_text(text, encoding="utf-8")


def _findings(output: str, generated: str) -> list[_Finding]:
    found = []
    for line in output.splitlines():
        match = _FINDING.match(line)
        if match is None or os.path.abspath(match["file"]) != os.path.abspath(generated):
            continue
        found.append(
            _Finding(
                int(match["line"]),
                int(match["col"]),
                int(match["end_line"]),
                int(match["end_col"]),
                match["kind"],
                match["message"],
                match["code"],
            )
        )
    return found


class _SpecMapper:
    """Generated line and column → spec span; mypy's wording → the spec's."""

    def __init__(self, checked: CheckedGraph, source: SourceFile, lines: list[str]) -> None:
        self.checked = checked
        self.source = source
        self.lines = lines
        self.fields: dict[tuple[str, str], ir.FieldSpec] = {}
        for node in checked.spec.nodes:
            for f in node.all_fields():
                self.fields[(node.name, f.name)] = f
        for type_spec, class_name in (
            (checked.spec.state, checked.state_class),
            (checked.spec.deps, checked.deps_class),
        ):
            for f in (type_spec.fields or []) if type_spec is not None else []:
                self.fields[(class_name or "", f.name)] = f
        self.nodes = {node.name: node for node in checked.spec.nodes}

    def diagnostic(self, finding: _Finding) -> Diagnostic:
        message = _in_spec_terms(finding.message)
        if finding.code:
            message += f" [{finding.code}]"
        span = self.span(finding)
        return Diagnostic.error(TYPE_ERROR, span, message, _hint(finding))

    def span(self, finding: _Finding) -> ir.Span:
        spec_line = self._spec_line(finding.line)
        if spec_line is not None:
            generated = self.lines[finding.line - 1]
            end = finding.end_column if finding.end_line == finding.line else len(generated)  # mypy's is inclusive
            snippet = _in_spec_terms(generated[finding.column - 1 : max(end, finding.column)])
            return self._locate(spec_line, snippet)
        declared = self._declaration(finding.line)
        if declared is not None:
            return declared
        return ir.Span.start_of(self.source.name)

    def _spec_line(self, line: int) -> int | None:
        """The `# spec:LINE` of the statement on generated `line` (its comment ends its last line)."""
        for text in self.lines[line - 1 : line + 20]:
            match = _SPEC_COMMENT.search(text)
            if match:
                return int(match["line"])
            if text.rstrip().endswith(":") or not text.strip():
                return None
        return None

    def _locate(self, spec_line: int, snippet: str) -> ir.Span:
        """The snippet's place on the spec line, else the line's text after its indentation."""
        text = self.source.line(spec_line)
        column = text.find(snippet) if snippet.strip() else -1
        if column < 0 and snippet.startswith(("'", '"')):
            column = text.find(snippet[1:-1])  # quotes may differ: the spec's text is re-emitted
            column = column - 1 if column > 0 else -1
        if column < 0:
            start = len(text) - len(text.lstrip())
            return ir.Span(
                file=self.source.name, line=spec_line, column=start + 1, end_line=spec_line, end_column=len(text) + 1
            )
        return ir.Span(
            file=self.source.name,
            line=spec_line,
            column=column + 1,
            end_line=spec_line,
            end_column=column + 1 + len(snippet),
        )

    def _declaration(self, line: int) -> ir.Span | None:
        """A field of a node, state or deps class (`    name: TYPE = ...`), or a class line."""
        field = re.match(r"^    (\w+): ", self.lines[line - 1])
        for above in range(line - 1, -1, -1):
            match = re.match(r"^class (\w+)", self.lines[above])
            if match:
                owner = match[1]
                if field is not None and (owner, field[1]) in self.fields:
                    return self.fields[(owner, field[1])].span
                node = self.nodes.get(owner)
                return node.name_span if node is not None else None
        return None


_RENAMES = ((re.compile(r"\bctx\.(state|deps)\b"), r"\1"), (re.compile(r"\bself\.(?=\w)"), ""))


def _in_spec_terms(text: str) -> str:
    """`ctx.state.count` → `state.count`, `self.attempt` → `attempt`: the names the spec uses."""
    for pattern, replacement in _RENAMES:
        text = pattern.sub(replacement, text)
    return text


def _hint(finding: _Finding) -> str | None:
    if "Coroutine[" in finding.message:
        return "is an `await` missing? A call to an async function gives a coroutine until it is awaited"
    match = re.search(r'got "End\[(.+?)\]", expected ".*End\[(.+?)\]', finding.message)
    if match:
        return f"`End` gets a value of type `{match[1]}` but the graph's output is `{match[2]}`"
    return None
