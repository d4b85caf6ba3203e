"""Where graphc keeps what it can rebuild: compiled specs, the parser's tables, mypy's cache."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ("cache_dir",)


def cache_dir() -> Path:
    """`$GRAPHC_CACHE_DIR`, else `$XDG_CACHE_HOME/graphc`, else `~/.cache/graphc`."""
    configured = os.environ.get("GRAPHC_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "graphc"
