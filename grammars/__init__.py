"""The `.graph` grammar files (lark), shipped as package data."""

from __future__ import annotations

from importlib.resources import files

__all__ = ("read_grammar",)


def read_grammar(name: str = "graph.lark") -> str:
    """The text of a grammar file of this package."""
    return files(__name__).joinpath(name).read_text(encoding="utf-8")
