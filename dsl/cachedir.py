"""Where graphc keeps what it can rebuild: compiled specs, the parser's tables, mypy's cache, proofs."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not `typing`'s, whose import costs start-up time (pyproject: mypy always_true)
if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("cache_dir", "cache_folder")


def cache_folder() -> str:
    """`$GRAPHC_CACHE_DIR`, else `$XDG_CACHE_HOME/graphc`, else `~/.cache/graphc`.

    A string: `graphc check` reads it without paying for `pathlib`.
    """
    configured = os.environ.get("GRAPHC_CACHE_DIR")
    if configured:
        return configured
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "graphc")


def cache_dir() -> Path:
    """`cache_folder()` as a path."""
    from pathlib import Path

    return Path(cache_folder())
