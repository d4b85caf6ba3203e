"""Errors raised by the runtime, with pydantic_graph 0.0.39's types and messages."""

from __future__ import annotations

__all__ = ("GraphRuntimeError", "GraphSetupError")


class GraphSetupError(TypeError):
    """Error caused by an incorrectly configured graph."""

    message: str
    """Description of the mistake."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class GraphRuntimeError(RuntimeError):
    """Error caused by an issue during graph execution."""

    message: str
    """The error message."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
