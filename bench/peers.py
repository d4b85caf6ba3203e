"""Virtual environments for the peers the benchmarks measure beside graphc, made on first use.

Kept under `$GRAPHC_TEST_VENVS` (default `~/.cache/graphc-test-venvs`), as the test suite keeps
its pydantic-graph releases.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def venv_python(name: str, packages: list[str]) -> Path | None:
    """The Python of the environment `name` with `packages` installed (None if it cannot be made).

    Benches share an environment by name and ask for different packages (the PostgreSQL
    checkpointer, say): those it lacks are installed into it.
    """
    venvs = Path(os.environ.get("GRAPHC_TEST_VENVS") or Path.home() / ".cache" / "graphc-test-venvs")
    venv = venvs / name
    python = venv / "bin" / "python"
    marker = venv / "installed"
    installed = set(marker.read_text().split()) if marker.exists() else set()
    missing = [p for p in packages if p not in installed]
    if missing:
        try:
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *missing], check=True)
        except subprocess.CalledProcessError:
            return None
        marker.write_text(" ".join(sorted(installed | set(missing))) + "\n")
    return python
