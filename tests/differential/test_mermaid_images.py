"""`Graph.mermaid_image` / `mermaid_save` send pydantic_graph 0.0.39's requests and treat its answers alike.

No network: both libraries get an `httpx.Client` whose transport records each request
and answers as a test says (the `httpx_client` option both honour).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="the images need httpx: pip install 'graphc[images]'")

from .harness import load_variant  # noqa: E402

OPTIONS: list[dict[str, Any]] = [
    {},
    {"start_node": "Increment", "title": None},
    {"image_type": "png", "background_color": "123", "theme": "forest", "width": 100, "height": 200, "scale": 3},
    {"image_type": "svg", "highlighted_nodes": ["Check42"], "direction": "LR"},
    {"image_type": "pdf", "pdf_fit": True, "pdf_landscape": True, "pdf_paper": "a4"},
    {"image_type": "webp", "edge_labels": False, "notes": False},
]


def _client(seen: list[tuple[str, dict[str, str]]], answer: Callable[[Any], Any]) -> Any:
    def handler(request: Any) -> Any:
        seen.append((request.url.path, dict(request.url.params)))
        return answer(request)

    return httpx.Client(transport=httpx.MockTransport(handler))


def _echo(request: Any) -> Any:
    """Answer with the mermaid text the request carried (as pydantic-graph's own tests do)."""
    encoded = request.url.path.split("/", 2)[2]
    return httpx.Response(200, content=base64.b64decode(encoded))


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "defaults")
def test_the_same_request_and_the_same_image(options: dict[str, Any]) -> None:
    results = []
    for lib in ("runtime", "pydantic_graph"):
        module = load_variant("never_42", lib)
        seen: list[tuple[str, dict[str, str]]] = []
        image = module.graph.mermaid_image(**options, httpx_client=_client(seen, _echo))
        results.append((seen, image))
    assert results[0] == results[1]
    (path, _), image = results[0][0][0], results[0][1]
    assert path.startswith(("/img/", "/svg/", "/pdf/")) and image.startswith((b"---", b"stateDiagram-v2"))


def test_an_error_from_the_service_is_raised_alike() -> None:
    messages = []
    for lib in ("runtime", "pydantic_graph"):
        module = load_variant("never_42", lib)
        client = _client([], lambda request: httpx.Response(404, content=b"not found"))
        with pytest.raises(httpx.HTTPStatusError) as caught:
            module.graph.mermaid_image(httpx_client=client)
        messages.append((str(caught.value), caught.value.response.status_code))
    assert messages[0] == messages[1] == ("404 error generating image:\nnot found", 404)


@pytest.mark.parametrize("name", ["graph.png", "graph.svg", "graph.pdf", "graph.jpg", "graph"])
def test_save_picks_the_type_from_the_suffix(tmp_path: Path, name: str) -> None:
    saved = []
    for lib in ("runtime", "pydantic_graph"):
        module = load_variant("never_42", lib)
        seen: list[tuple[str, dict[str, str]]] = []
        path = tmp_path / lib / name
        path.parent.mkdir()
        module.graph.mermaid_save(path, httpx_client=_client(seen, _echo))
        saved.append((seen, path.read_bytes()))
    assert saved[0] == saved[1]
