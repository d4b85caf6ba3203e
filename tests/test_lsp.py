"""`graphc lsp` end to end: a real client (pytest-lsp) talking to the server process over stdio."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'graphc[lsp]'")
pytest_lsp = pytest.importorskip("pytest_lsp", reason="the end-to-end tests need pytest-lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

ROOT = Path(__file__).resolve().parent.parent
TYPO = "graph G -> int\nstart A\n\nnode A(n: int = 0):\n    -> Incremnt(n)\n\nnode Increment(n: int):\n    -> End(n)\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "graphc", "lsp"]))
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), root_uri=ROOT.as_uri())
    )
    yield
    await lsp_client.shutdown_session()


async def _open(client: LanguageClient, path: Path, text: str) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="graphc", version=1, text=text)
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return uri


async def _open_review(client: LanguageClient, tmp_path: Path, syntax: str) -> tuple[str, str, list[str], int]:
    """The review example in a data form, opened: its uri, text, lines, and the line that goes to `Review`."""
    text = (ROOT / "examples" / f"review.{syntax}").read_text()
    uri = await _open(client, tmp_path / f"review.{syntax}", text)
    lines = text.split("\n")
    return uri, text, lines, next(i for i, line in enumerate(lines) if "Review(text)" in line)


@pytest.mark.asyncio
async def test_diagnostics_and_quick_fixes(client: LanguageClient, tmp_path: Path) -> None:
    uri = await _open(client, tmp_path / "typo.graph", TYPO)
    (found,) = client.diagnostics[uri]
    assert found.code == "E101" and found.range.start == types.Position(line=4, character=7)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=found.range,
            context=types.CodeActionContext(diagnostics=[found]),
        )
    )
    assert actions is not None
    (fix,) = [a for a in actions if isinstance(a, types.CodeAction)]
    assert fix.edit is not None and fix.edit.changes is not None
    (edit,) = fix.edit.changes[uri]
    assert edit.new_text == "Increment" and edit.range == found.range


@pytest.mark.asyncio
async def test_a_change_republishes(client: LanguageClient, tmp_path: Path) -> None:
    uri = await _open(client, tmp_path / "typo.graph", TYPO)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=TYPO.replace("Incremnt", "Increment"))],
        )
    )
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    assert list(client.diagnostics[uri]) == []


@pytest.mark.asyncio
async def test_closing_a_document_clears_its_diagnostics_and_reopening_starts_afresh(
    client: LanguageClient, tmp_path: Path
) -> None:
    path = tmp_path / "typo.graph"
    uri = await _open(client, path, TYPO)
    assert len(client.diagnostics[uri]) == 1
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), timeout=30)
    assert list(client.diagnostics[uri]) == []
    await _open(client, path, TYPO.replace("Incremnt", "Missing"))
    (found,) = client.diagnostics[uri]
    assert "Missing" in found.message


@pytest.mark.asyncio
async def test_formatting_symbols_definition_hover(client: LanguageClient, tmp_path: Path) -> None:
    path = tmp_path / "fives.graph"
    text = (ROOT / "examples" / "fives.graph").read_text().replace("-> Increment(foo)", "->   Increment( foo )")
    uri = await _open(client, path, text)
    document = types.TextDocumentIdentifier(uri=uri)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=document, options=types.FormattingOptions(4, True))
    )
    assert edits is not None and edits[0].new_text == (ROOT / "examples" / "fives.graph").read_text()
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=document))
    assert symbols is not None
    (graph,) = symbols
    assert isinstance(graph, types.DocumentSymbol) and graph.name == "Fives"
    assert [c.name for c in graph.children or []] == ["DivisibleBy5", "Increment"]
    line = text.splitlines().index("    ->   Increment( foo )")
    where = types.Position(line=line, character=10)
    definition = await client.text_document_definition_async(
        types.DefinitionParams(text_document=document, position=where)
    )
    assert isinstance(definition, types.Location) and definition.range.start.line == text.splitlines().index(
        "node Increment(foo: int):"
    )
    hover = await client.text_document_hover_async(types.HoverParams(text_document=document, position=where))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**node** `Increment(foo)`" in hover.contents.value and "→ `DivisibleBy5` (count up)" in hover.contents.value
    assert "← `DivisibleBy5`" in hover.contents.value
    assert "reachable from `start`; can reach `End`" in hover.contents.value


@pytest.mark.asyncio
async def test_unreachable_nodes_are_faded(client: LanguageClient, tmp_path: Path) -> None:
    text = "graph G -> int\nstart A\n\nnode A:\n    -> End(1)\n\nnode Lost:\n    -> End(2)\n"
    uri = await _open(client, tmp_path / "lost.graph", text)
    (found,) = client.diagnostics[uri]
    assert found.code == "W401" and list(found.tags or ()) == [types.DiagnosticTag.Unnecessary]
    assert found.severity == types.DiagnosticSeverity.Warning


RENAMES = (
    "graph G -> int\nstart Count\n\nstate:\n    total: int = 0\n\n"
    "node Count(step: int = 1, limit: int = 3):\n"
    "    state.total += step\n"
    "    if state.total >= limit -> End(state.total)\n"
    "    -> Count(step=step, limit=[step for step in range(limit)][-1] + 1)\n"
)


async def _rename(client: LanguageClient, uri: str, line: int, character: int, new: str, text: str = "") -> str:
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            new_name=new,
        )
    )
    assert edit is not None and edit.changes is not None
    lines = (text or RENAMES).split("\n")
    for change in sorted(edit.changes[uri], key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        row = lines[change.range.start.line]
        lines[change.range.start.line] = (
            row[: change.range.start.character] + change.new_text + row[change.range.end.character :]
        )
    return "\n".join(lines)


@pytest.mark.asyncio
async def test_rename_a_node_a_field_and_a_state_field(client: LanguageClient, tmp_path: Path) -> None:
    import compiler

    uri = await _open(client, tmp_path / "count.graph", RENAMES)
    renamed_node = await _rename(client, uri, 6, 6, "Tally")  # on `node Count`
    assert "start Tally" in renamed_node and "node Tally(" in renamed_node and "-> Tally(step=" in renamed_node
    renamed_field = await _rename(client, uri, 7, 22, "amount")  # on `step` in `state.total += step`
    assert "node Count(amount: int = 1" in renamed_field and "state.total += amount" in renamed_field
    assert "-> Count(amount=amount, limit=[step for step in range(limit)][-1] + 1)" in renamed_field
    renamed_state = await _rename(client, uri, 4, 5, "sum_so_far")  # on `total:`
    assert renamed_state.count("state.sum_so_far") == 3 and "    sum_so_far: int = 0" in renamed_state
    for text in (renamed_node, renamed_field, renamed_state):  # each still compiles and runs alike
        path = tmp_path / f"after_{abs(hash(text))}.graph"
        path.write_text(text)
        assert compiler.load(path).run_sync().output == 3
    references = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=6, character=6),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert references is not None and [r.range.start.line for r in references] == [1, 9]


@pytest.mark.asyncio
async def test_rename_refuses_a_taken_or_invalid_name(client: LanguageClient, tmp_path: Path) -> None:
    uri = await _open(client, tmp_path / "count.graph", RENAMES)
    from pygls.exceptions import JsonRpcException

    for new in ("limit", "1bad", "state"):
        with pytest.raises(JsonRpcException, match=r"already taken|not a name") as refused:
            await _rename(client, uri, 6, 12, new)  # on the field `step`
        assert refused.value.code == -32803 and not refused.value.data  # RequestFailed, a message, no traceback


def test_a_request_with_invalid_params_is_answered() -> None:
    """Raw JSON-RPC over stdio (a typed client cannot even send such params): every request gets its answer."""
    import json
    import subprocess

    def message(payload: dict[str, object]) -> bytes:
        body = json.dumps(payload).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/hover", "params": {"textDocument": {"uri": "file:///x"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "textDocument/rename", "params": {"position": "top"}},
        {"jsonrpc": "2.0", "id": 4, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    done = subprocess.run(
        [sys.executable, "-m", "graphc", "lsp"],
        input=b"".join(map(message, requests)),
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    answers = {}
    out = done.stdout
    while out:
        header, _, rest = out.partition(b"\r\n\r\n")
        length = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        payload = json.loads(rest[:length])
        out = rest[length:]
        if "id" in payload:
            answers[payload["id"]] = payload
    assert set(answers) == {1, 2, 3, 4}, answers
    for request_id, method in ((2, "textDocument/hover"), (3, "textDocument/rename")):
        error = answers[request_id]["error"]
        assert error["code"] == -32602 and f"invalid params for `{method}`" in error["message"], error


async def _complete(client: LanguageClient, uri: str, line: int, character: int) -> list[str]:
    found = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character)
        )
    )
    entries = found.items if isinstance(found, types.CompletionList) else found or []
    return [item.label for item in entries]


@pytest.mark.asyncio
async def test_completion_knows_the_graph(client: LanguageClient, tmp_path: Path) -> None:
    uri = await _open(client, tmp_path / "count.graph", RENAMES)
    lines = RENAMES.split("\n")
    arrow = lines[9].index("-> ") + 3
    assert {"Count", "End"} <= set(await _complete(client, uri, 9, arrow))
    assert await _complete(client, uri, 7, lines[7].index("state.") + 6) == ["total"]
    assert await _complete(client, uri, 9, lines[9].index("Count(") + 6) == ["step=", "limit="]
    general = await _complete(client, uri, 8, 4)
    assert {"step", "limit", "state", "len", "if", "await", "on", "else"} <= set(general)
    header = await _complete(client, uri, 6, len(lines[6]) - 1)  # after `node Count(...)`, before `:`
    assert {"retry", "timeout"} <= set(header) and "if" not in header


@pytest.mark.asyncio
async def test_code_lens_and_call_hierarchy_follow_the_edges(client: LanguageClient, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "fives.graph").read_text()
    uri = await _open(client, tmp_path / "fives.graph", text)
    document = types.TextDocumentIdentifier(uri=uri)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=document))
    assert [lens.command.title for lens in lenses or [] if lens.command] == ["2 in · 2 out", "1 in · 1 out"]
    line = text.splitlines().index("node Increment(foo: int):")
    items = await client.text_document_prepare_call_hierarchy_async(
        types.CallHierarchyPrepareParams(text_document=document, position=types.Position(line=line, character=6))
    )
    assert items is not None
    (item,) = items
    outgoing = await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=item))
    incoming = await client.call_hierarchy_incoming_calls_async(types.CallHierarchyIncomingCallsParams(item=item))
    assert [c.to.name for c in outgoing or []] == ["DivisibleBy5"]
    assert [c.from_.name for c in incoming or []] == ["DivisibleBy5"]


@pytest.mark.asyncio
async def test_definition_in_the_imported_module_and_hover_on_fields(client: LanguageClient, tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text(
        "raise SystemExit('never run')\n\n\ndef double(n: int) -> int:\n    return n * 2\n"
    )
    text = (
        "graph G -> int\nstart A\n\nfrom helpers import double\n\nstate:\n    seen: int = 0\n\n"
        "node A(n: int = 2):  # E101 is an unknown node\n    state.seen += double(n)\n    -> End(state.seen)\n"
    )
    uri = await _open(client, tmp_path / "uses.graph", text)
    document = types.TextDocumentIdentifier(uri=uri)
    call = types.Position(line=9, character=text.splitlines()[9].index("double") + 2)
    found = await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=call))
    assert isinstance(found, types.Location)
    assert found.uri == (tmp_path / "helpers.py").as_uri() and found.range.start.line == 3

    async def hover(line: int, word: str) -> str:
        position = types.Position(line=line, character=text.splitlines()[line].index(word) + 1)
        answer = await client.text_document_hover_async(types.HoverParams(text_document=document, position=position))
        assert answer is not None and isinstance(answer.contents, types.MarkupContent)
        return answer.contents.value

    assert await hover(6, "seen") == "**state** field `seen: int = 0`"
    assert await hover(8, "n:") == "**node `A`** field `n: int = 2`"
    assert await hover(8, "E101") == "**E101**: unknown node in a transition"


@pytest.mark.asyncio
async def test_the_golden_diagnostics_are_what_the_server_publishes(client: LanguageClient) -> None:
    from compiler.checks import check_spec
    from dsl.diagnostics import DiagnosticError
    from dsl.parse import parse_source
    from dsl.source import source_from_text

    golden = ROOT / "tests" / "golden" / "diagnostics"
    compared = 0
    for spec in sorted(golden.iterdir()):
        if spec.suffix not in (".graph", ".yaml", ".toml"):
            continue
        try:
            text = spec.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a file that is not text cannot be opened in an editor either
        try:
            expected = check_spec(parse_source(source_from_text(str(spec), text))).diagnostics
        except DiagnosticError as e:
            expected = e.diagnostics
        uri = await _open(client, spec, text)
        published = [(d.code, d.range.start.line + 1, d.range.start.character + 1) for d in client.diagnostics[uri]]
        wanted = [(d.code, d.span.line, d.span.column) for d in expected if d.span.file == str(spec)]
        assert published == wanted, spec.name
        compared += 1
    assert compared >= 120


@pytest.mark.asyncio
async def test_folding_ranges_cover_nodes_and_blocks(client: LanguageClient, tmp_path: Path) -> None:
    text = (ROOT / "tests" / "data" / "nested.graph").read_text()
    uri = await _open(client, tmp_path / "nested.graph", text)
    ranges = await client.text_document_folding_range_async(
        types.FoldingRangeParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    lines = text.splitlines()
    folds = {(r.start_line, r.end_line) for r in ranges or []}
    route = lines.index("node Route(n: int = 7, urgent: bool = False):")
    block = lines.index("    if n > 10:")
    assert any(start == route and end > route + 5 for start, end in folds)  # the node
    assert any(start == block and end > block for start, end in folds)  # its `if` block
    assert any(start == lines.index("state NestedState:") for start, _ in folds)


@pytest.mark.asyncio
async def test_waited_for_fields_are_fields_for_symbols_hover_and_rename(
    client: LanguageClient, tmp_path: Path
) -> None:
    text = (ROOT / "examples" / "review.graph").read_text()
    uri = await _open(client, tmp_path / "review.graph", text)
    document = types.TextDocumentIdentifier(uri=uri)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=document))
    assert symbols is not None and isinstance(symbols[0], types.DocumentSymbol)
    review = next(c for c in symbols[0].children or [] if c.name == "Review")
    assert [c.name for c in review.children or []] == ["text", "approved", "comment"]
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("node Review"))
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=document, position=types.Position(line=header, character=6))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**node** `Review(text) waits (approved, comment)`" in hover.contents.value
    use = next(i for i, line in enumerate(lines) if "if approved" in line)
    renamed = await _rename(client, uri, use, lines[use].index("approved") + 1, "accepted", text)
    assert "waits (accepted: bool, comment: str)" in renamed and "if accepted -> End(text)" in renamed


@pytest.mark.asyncio
@pytest.mark.parametrize("syntax", ["yaml", "toml"])
async def test_the_data_forms_get_definition_hover_references_and_lenses(
    client: LanguageClient, tmp_path: Path, syntax: str
) -> None:
    uri, _, lines, use = await _open_review(client, tmp_path, syntax)
    document = types.TextDocumentIdentifier(uri=uri)
    where = types.Position(line=use, character=lines[use].index("Review(text)") + 2)
    definition = await client.text_document_definition_async(
        types.DefinitionParams(text_document=document, position=where)
    )
    declared = next(i for i, line in enumerate(lines) if line.strip() in ("Review:", "[nodes.Review]"))
    assert isinstance(definition, types.Location) and definition.range.start.line == declared
    hover = await client.text_document_hover_async(types.HoverParams(text_document=document, position=where))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**node** `Review(text) waits (approved, comment)`" in hover.contents.value
    references = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=document, position=where, context=types.ReferenceContext(include_declaration=False)
        )
    )
    assert references is not None and [r.range.start.line for r in references] == [use]
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(text_document=document))
    assert lenses is not None and len(lenses) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("syntax", ["yaml", "toml"])
async def test_rename_in_the_data_forms_keeps_the_spec_compiling(
    client: LanguageClient, tmp_path: Path, syntax: str
) -> None:
    import compiler

    uri, text, lines, use = await _open_review(client, tmp_path, syntax)
    renamed = await _rename(client, uri, use, lines[use].index("Review(text)") + 1, "Approval", text)
    assert "Review" not in renamed.replace("graph: Review", "").replace('graph = "Review"', "")
    path = tmp_path / f"renamed.{syntax}"
    path.write_text(renamed)
    assert list(compiler.load(path).node_types) == ["Draft", "Approval"]


@pytest.mark.asyncio
async def test_rename_refuses_a_name_written_with_escapes(client: LanguageClient, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "review.yaml").read_text().replace("- to: Review(text)", '- to: "Review(\\x74ext)"')
    uri = await _open(client, tmp_path / "escaped.yaml", text)
    lines = text.split("\n")
    declared = next(i for i, line in enumerate(lines) if line.strip() == 'text: str = "first draft"')  # Draft's
    with pytest.raises(Exception, match="`text` is written differently at line"):
        await _rename(client, uri, declared, lines[declared].index("text") + 1, "body", text)


@pytest.mark.asyncio
async def test_sub_graphs_across_files(client: LanguageClient, tmp_path: Path) -> None:
    """Definition, hover, completion and rename reach into the spec a `use` names; its checks are published."""
    import shutil

    for name in ("etl.graph", "fetch_page.graph", "etl_tools.py"):
        shutil.copy(ROOT / "examples" / "etl" / name, tmp_path / name)
    text = (tmp_path / "etl.graph").read_text()
    uri = await _open(client, tmp_path / "etl.graph", text)
    assert not client.diagnostics[uri]
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if "FetchPage(url=u)" in line)
    call, keyword = lines[row].index("FetchPage(url"), lines[row].index("url=u")
    document = types.TextDocumentIdentifier(uri=uri)
    used_uri = (tmp_path / "fetch_page.graph").as_uri()
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=document, position=types.Position(line=row, character=call + 2))
    )
    assert isinstance(found, types.Location) and found.uri == used_uri and found.range.start.line == 6  # `Download`
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=document, position=types.Position(line=row, character=keyword + 1))
    )
    assert isinstance(found, types.Location) and found.uri == used_uri
    assert (found.range.start.line, found.range.start.character) == (6, 14)  # `url` in `node Download(url: str)`
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=document, position=types.Position(line=row, character=call + 2))
    )
    assert hover is not None and "`Download(url: str) -> int`" in hover.contents.value  # type: ignore[union-attr]
    assert await _complete(client, uri, row, call + len("FetchPage(")) == ["url="]
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=document, position=types.Position(line=row, character=keyword), new_name="page"
        )
    )
    assert edit is not None and edit.changes is not None
    assert [e.range.start.line for e in edit.changes[uri]] == [row]
    assert sorted(e.range.start.line for e in edit.changes[used_uri]) == [6, 7]  # the field, and `download(url)`
    bad = text.replace("words: list[int]", "words: list[str]")
    bad_uri = await _open(client, tmp_path / "bad.graph", bad)
    assert [d.code for d in client.diagnostics[bad_uri]] == ["E155"]


@pytest.mark.asyncio
async def test_time_is_completed_and_hovered(client: LanguageClient, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "invoice" / "invoice.graph").read_text()
    uri = await _open(client, tmp_path / "invoice.graph", text)
    lines = text.splitlines()
    approve = next(i for i, line in enumerate(lines) if line.startswith("node Approve"))
    within = lines[approve].index("within ") + len("within ")
    assert {"48h", "1d", "7d"} <= set(await _complete(client, uri, approve, within))
    pay = next(i for i, line in enumerate(lines) if line.startswith("node Pay"))
    after_sleep = lines[pay].index("sleep ") + len("sleep ")
    assert {"1d", "until"} <= set(await _complete(client, uri, pay, after_sleep))
    schedule = next(i for i, line in enumerate(lines) if line.startswith("schedule"))
    missed = lines[schedule].index("missed ") + len("missed ")
    assert await _complete(client, uri, schedule, missed) == ["skip", "once", "all"]
    remind = next(i for i, line in enumerate(lines) if line.startswith("node Remind"))
    header = await _complete(client, uri, remind, len(lines[remind]) - 1)  # after the fields, before `:`
    assert {"waits", "retry", "timeout", "checkpoint", "sleep"} <= set(header)

    async def hover(line: int, character: int) -> str:
        position = types.Position(line=line, character=character)
        document = types.TextDocumentIdentifier(uri=uri)
        answer = await client.text_document_hover_async(types.HoverParams(text_document=document, position=position))
        assert answer is not None and isinstance(answer.contents, types.MarkupContent)
        return answer.contents.value

    assert await hover(approve, within + 1) == "**duration** `48h`: 172,800 s (2d)"
    node = await hover(approve, len("node A"))
    assert "Waits 48h at most for its answer; then the run goes to `Remind`." in node
    assert "→ `Remind` (no answer in 48h)" in node
    assert "Sleeps 1d before it runs" in await hover(pay, len("node P"))
    described = await hover(schedule, 3)
    assert described.startswith('**schedule** `retainer`: cron `0 9 1 * *` (UTC), starting `Submit(invoice="monthly')
    assert "Next ticks: " in described and "run once for all" in described
