"""`graphc lsp` end to end: a real client (pytest-lsp) talking to the server process over stdio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the language server needs pygls: pip install 'graphc[lsp]'")
pytest_lsp = pytest.importorskip("pytest_lsp", reason="the end-to-end tests need pytest-lsp")

from lsprotocol import types  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TYPO = "graph G -> int\nstart A\n\nnode A(n: int = 0):\n    -> Incremnt(n)\n\nnode Increment(n: int):\n    -> End(n)\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "compiler.cli", "lsp"]))
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
    assert "← `DivisibleBy5`" in hover.contents.value and "reachable from `start`" in hover.contents.value


@pytest.mark.asyncio
async def test_unreachable_nodes_are_faded(client: LanguageClient, tmp_path: Path) -> None:
    text = "graph G -> int\nstart A\n\nnode A:\n    -> End(1)\n\nnode Lost:\n    -> End(2)\n"
    uri = await _open(client, tmp_path / "lost.graph", text)
    (found,) = client.diagnostics[uri]
    assert found.code == "W401" and list(found.tags or ()) == [types.DiagnosticTag.Unnecessary]
    assert found.severity == types.DiagnosticSeverity.Warning
