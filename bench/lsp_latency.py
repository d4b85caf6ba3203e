"""Language-server latency: from a change to a 1,000-line spec to its diagnostics (target: p50 <= 150 ms).

A real client (pygls's) starts `graphc lsp` over stdio, opens the spec, then sends
whole-document changes and times each until the diagnostics for it arrive: 20 that edit
inside one line (a keystroke), then 20 that add lines at the top (every declaration moves,
so every node is built again).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from specgen import graph_spec  # noqa: E402


def spec_of_lines(lines: int) -> str:
    """A generated spec of about `lines` lines (bench/specgen.py's benchmark nodes)."""
    nodes = 10
    while graph_spec(nodes).count("\n") < lines:
        nodes += 10
    return graph_spec(nodes)


async def main() -> None:
    text = spec_of_lines(1000)
    client = LanguageClient("bench", "1")
    arrived: asyncio.Queue[float] = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)  # type: ignore[untyped-decorator]  # pygls: untyped
    def _published(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait(time.perf_counter())

    await client.start_io(sys.executable, "-m", "graphc", "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    uri = (ROOT / "bench" / "lsp_bench.graph").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="graphc", version=1, text=text)
        )
    )
    await arrived.get()
    edits = {
        "an edit inside a line": [text.replace("count + 3\n", f"count + {n + 10}\n", 1) for n in range(20)],
        "lines added at the top": ["# edit\n" * (n + 1) + text for n in range(20)],
    }
    version = 1
    for kind, changes in edits.items():
        timings = []
        for changed in changes:
            version += 1
            start = time.perf_counter()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[types.TextDocumentContentChangeWholeDocument(text=changed)],
                )
            )
            timings.append(await arrived.get() - start)
        p50 = statistics.median(timings) * 1000
        print(
            f"{text.count(chr(10)):,}-line spec, 20 changes, {kind}: diagnostics p50 {p50:.0f} ms "
            f"(target <= 150 ms), max {max(timings) * 1000:.0f} ms"
        )
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()  # type: ignore[no-untyped-call]  # pygls: untyped


if __name__ == "__main__":
    asyncio.run(main())
