"""Shared test options: `pytest --update-golden` rewrites expected files instead of comparing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests given a PostgreSQL database are marked `postgres` (`-m "not postgres"` leaves them out)."""
    for item in items:
        if "postgres_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files with current output")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session gets its own on-disk compile cache."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "graphc-cache"))


def check_golden(path: Path, actual: str, update: bool) -> None:
    """Compare `actual` with the golden file at `path` (or rewrite it with --update-golden)."""
    if update or not path.exists():
        path.write_text(actual, encoding="utf-8", newline="")
        if not update:
            pytest.fail(f"golden file {path.name} was missing and has been written; review and commit it")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{path.name} differs; run pytest --update-golden and review the diff"


def assert_mypy_strict(directory: Path, files: Iterable[str], *search_path: Path) -> None:
    """`mypy --strict` passes on `files` in `directory`, with this project and `search_path` importable."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(directory / ".mypy"), *files],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": os.pathsep.join(str(p) for p in (ROOT, *search_path))},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


os.environ.setdefault("GRAPHC_EXAMPLE_TARGET", "runtime")


def _postgres_server() -> str | None:
    """The PostgreSQL server tests use: `$GRAPHC_TEST_POSTGRES_URL`, else 127.0.0.1:5432 if it answers."""
    url = os.environ.get("GRAPHC_TEST_POSTGRES_URL")
    if url:
        return url
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2):
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    except Exception:
        return None


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """A database of this test's own on a real PostgreSQL server, dropped afterwards (its URL)."""
    server = _postgres_server()
    if server is None:
        why = (
            "no PostgreSQL server: set GRAPHC_TEST_POSTGRES_URL=postgresql://USER@HOST:PORT/DB "
            "or run one on 127.0.0.1:5432 (user postgres, trust auth)"
        )
        if os.environ.get("GRAPHC_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here (GRAPHC_REQUIRE_POSTGRES is set): {why}")
        pytest.skip(why)
    import psycopg

    name = f"graphc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def opened() -> Iterator[Callable[[str], Any]]:
    """`DurableRuns` on a database, closed (DBOS stopped in this process) when the test ends, pass or fail."""
    from runtime.durable import DurableRuns

    made: list[DurableRuns] = []

    def open_runs(db: str) -> DurableRuns:
        made.append(DurableRuns(db))
        return made[-1]

    yield open_runs
    for runs in made:
        runs.close()


def graphc(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`graphc ARGS...` in a process of its own (no `$GRAPHC_DB` from the environment), its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "graphc", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "GRAPHC_DB": ""},
    )


@pytest.fixture
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """Start `graphc worker` processes on a database; all are killed when the test ends."""
    from .worker_processes import Workers

    made: list[Workers] = []

    def make(db: str) -> Workers:
        made.append(Workers(db, tmp_path))
        return made[-1]

    yield make
    for w in made:
        w.close()
