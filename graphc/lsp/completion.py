"""Completion: nodes after `->`, a node's fields in its call, `state.`/`deps.` fields, durations, names, keywords."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types

from compiler.checks import BUILTINS

from .server import GraphcServer, server
from .symbols import callee_start

_KEYWORDS = ("if", "else", "on", "await", "for", "in", "and", "or", "not", "is", "None", "True", "False")
_DURATIONS = ("30s", "15m", "1h", "48h", "1d", "7d")
"""Durations offered after `within`, `sleep` and `every`: any number with s, m, h, d or w is one."""


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", ">", " "]))
def _completion(ls: GraphcServer, params: types.CompletionParams) -> list[types.CompletionItem]:
    """Nodes after `->`, a node's fields inside its call, `state.`/`deps.` fields, else names and keywords."""
    import re

    document = ls.workspace.get_text_document(params.text_document.uri)
    analysis = ls.documents.last_good.get(document.uri) or ls.documents.analyse(document.uri, document.source)
    spec = analysis.spec
    if spec is None:
        return []
    line = document.lines[params.position.line] if params.position.line < len(document.lines) else ""
    before = line[: params.position.character]
    nodes = {n.name: n for n in spec.nodes}

    def items(names: list[str], kind: types.CompletionItemKind, suffix: str = "") -> list[types.CompletionItem]:
        return [types.CompletionItem(label=n + suffix, kind=kind) for n in names]

    if re.search(r"->\s*\w*$", before):
        return items([*nodes, "End"], types.CompletionItemKind.Class)
    timed = re.search(r"\b(within|sleep|every)\s+\w*$", before)
    if timed is not None:  # a duration; a sleep may also last until a time
        until = ["until"] if timed.group(1) == "sleep" else []
        return items([*_DURATIONS, *until], types.CompletionItemKind.Constant)
    if re.search(r"\bmissed\s+\w*$", before):
        return items(["skip", "once", "all"], types.CompletionItemKind.EnumMember)
    owner = re.search(r"\b(state|deps)\.\w*$", before)
    if owner is not None:
        type_spec = spec.state if owner.group(1) == "state" else spec.deps
        fields = (type_spec.fields or []) if type_spec is not None else []
        return items([f.name for f in fields], types.CompletionItemKind.Field)
    call = re.search(r"\b(\w+)\([^()]*$", before)
    if call is not None and call.group(1) in nodes:
        found = items([f.name for f in nodes[call.group(1)].fields], types.CompletionItemKind.Field, "=")
        return found + items([u.name for u in spec.uses], types.CompletionItemKind.Module)  # a sub-graph's output
    used = analysis.checked.uses if analysis.checked is not None else {}
    if call is not None and call.group(1) in used:
        start = callee_start(used[call.group(1)].spec)
        return items([f.name for f in start.fields] if start else [], types.CompletionItemKind.Field, "=")
    current = next((n for n in reversed(spec.nodes) if n.span.line <= params.position.line + 1), None)
    names = [f.name for f in current.all_fields()] if current is not None else []
    if analysis.checked is not None:
        names += [*analysis.checked.imports]
        scope = analysis.checked.scopes.get(current.name) if current is not None else None
        names += sorted(scope.locals) if scope is not None else []
    found = items(names, types.CompletionItemKind.Variable)
    found += items(["state", "deps"], types.CompletionItemKind.Module)
    found += items(sorted(BUILTINS), types.CompletionItemKind.Function)
    return found + items(_keywords_at(document.lines, params.position), types.CompletionItemKind.Keyword)


def _keywords_at(lines: Sequence[str], position: types.Position) -> list[str]:
    """The keywords the grammar accepts at the cursor (lark's interactive parser says which)."""
    from dsl.graph.lark_parser import keywords_accepted

    before = "".join(lines[: position.line]) + (
        lines[position.line][: position.character] if position.line < len(lines) else ""
    )
    try:
        return keywords_accepted(before)
    except Exception:  # a text lark cannot even start on: offer the usual words
        return list(_KEYWORDS)
