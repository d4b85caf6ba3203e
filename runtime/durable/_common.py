"""What the durable modules share: names, settings, errors, the database URL and versions."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dbos import (
    DBOS,
    DBOSPortableJSONSerializer,
)

from ..graph import Graph

DEFAULT_DB_FILE = "graphc-runs.sqlite"
"""The SQLite file (in the current directory) that holds runs when neither `--db` nor `$GRAPHC_DB` says."""


STATUSES = ("queued", "running", "waiting", "sleeping", "success", "error", "cancelled")
"""A run's status as `graphc runs list` shows it."""


RUNS_QUEUE = "graphc-runs"
"""The queue workers take submitted runs from."""


WAITING_QUEUE = "graphc-waiting"
"""Where a run waiting for input is parked: nobody dequeues from it."""


ITEMS_QUEUE = "graphc-items"
"""Where a submitted run's sub-graph runs (a fork's items) go: any worker takes them, so they spread."""


DEFAULT_MAX_STEPS = 10_000
"""A durable run fails after this many steps unless told otherwise (as `graphc run` stops a plain one)."""


MAX_RUN_ID = 200
"""A run id's length at most (ids are printable and have no spaces: they are typed and listed)."""


SpecLoader = Callable[[str, str, Mapping[str, str]], tuple[Graph[Any, Any, Any], Any]]
"""Compiles a stored spec (file name, source, the specs it uses by path) into its graph and its runs' deps;
raises if it cannot."""


_LOG_LEVEL = os.environ.get("GRAPHC_DBOS_LOG_LEVEL", "CRITICAL")
"""What of DBOS's own log reaches the console: graphc reports what goes wrong itself, once and briefly."""


_WORKFLOW = "graphc.run"


_NODE_STEP = "graphc.node"


_FORK_STEP = "graphc.fork"
"""The step that records a fork's runs (their histories and outputs) and the node they join at."""


_WAIT_EVENT = "graphc.waiting"


_SPEC_KEY = "spec:"


class _PortableJSON(DBOSPortableJSONSerializer):
    """DBOS's portable JSON (the same name and text, so either reads the other's records), written in one pass.

    DBOS's own walks every value in Python to make it JSON-able before `json.dumps`; what graphc
    records (steps, states, nodes) is JSON-able already, dumped by pydantic, so the C encoder
    writes it directly. A value it cannot write (a datetime, a set) goes DBOS's way.
    """

    def serialize(self, value: Any) -> str:
        try:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        except TypeError:
            return super().serialize(value)


_SERIALIZER = _PortableJSON()


_DBOS_STATUS = {
    "PENDING": "running",
    "ENQUEUED": "running",
    "DELAYED": "running",
    "SUCCESS": "success",
    "ERROR": "error",
    "MAX_RECOVERY_ATTEMPTS_EXCEEDED": "error",
    "CANCELLED": "cancelled",
}


_ENDED = ("success", "error", "cancelled")


class DurableError(Exception):
    """A durable-run request that cannot be carried out; the message says why and what to do."""


class DatabaseUnavailable(DurableError):
    """The run database cannot be reached (a server down, a network cut); nothing was changed by the request."""

    run_id: str | None = None
    """The run that was left as recorded, when one was under way."""


OUTAGE_SECONDS = float(os.environ.get("GRAPHC_DB_OUTAGE_SECONDS", "60"))
"""How long a run driven from this process waits for its database to come back before it gives up (left resumable)."""


@contextlib.contextmanager
def _reachable(url: str) -> Any:
    """Database look-ups whose connection errors become `DatabaseUnavailable`, with the reason in words."""
    import sqlalchemy

    try:
        yield
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as e:
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]  # the driver's first line says it
        raise DatabaseUnavailable(f"the run database {_shown(url)} cannot be reached ({reason})") from None


def database_url(db: str | None) -> str:
    """The system database a `--db` value means: a URL, or a SQLite file path (default: `$GRAPHC_DB`, then a file)."""
    if db == "":
        raise DurableError("it is empty; give a SQLite file path or a postgresql:// URL")
    db = db or os.environ.get("GRAPHC_DB") or DEFAULT_DB_FILE
    if db.startswith("postgres://"):
        db = "postgresql://" + db.removeprefix("postgres://")
    if db.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        return db
    if "://" in db:
        raise DurableError(f"unsupported database URL `{db}`: use sqlite:///PATH, a file path, or postgresql://...")
    return "sqlite:///" + str(Path(db).resolve())


def graph_version(graph: Graph[Any, Any, Any]) -> str:
    """The version a run of `graph` in this process is pinned to: its nodes' module source digest, graphc's version."""
    sources = []
    for module_name in sorted({cls.__module__ for cls in graph.node_types.values()}):
        module = sys.modules.get(module_name)
        try:
            sources.append(inspect.getsource(module) if module is not None else module_name)
        except (OSError, TypeError):  # no source to read: the classes' shapes stand in for it
            sources.append(module_name + repr(sorted(graph.node_types)))
    digest = hashlib.sha256("\0".join(sources).encode()).hexdigest()[:16]
    return f"{graph.name or 'graph'}-{digest}-graphc{_graphc_version()}"


def worker_version() -> str:
    """The version of submitted runs and of the workers that take them: graphc's own."""
    return f"graphc-{_graphc_version()}-workers"


def _graphc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphc")
    except PackageNotFoundError:
        return "dev"


def spec_digest(name: str, source: str, files: Mapping[str, str] | None = None) -> str:
    """A submitted spec's key: the digest of its file name, source and the specs it uses (path → text)."""
    used = "".join(f"\0{path}\0{text}" for path, text in sorted((files or {}).items()))
    return hashlib.sha256(f"{name}\0{source}{used}".encode()).hexdigest()


def _sqlite_engine(url: str) -> Any:
    """DBOS's SQLite engine, in WAL mode with `synchronous=NORMAL`.

    A commit survives a killed process (what durable runs promise) without an fsync per
    step; only an operating-system crash or power loss may lose the last steps.
    """
    import sqlalchemy
    from sqlalchemy import event

    engine = sqlalchemy.create_engine(url)

    @event.listens_for(engine, "connect")
    def configure(connection: Any, record: Any) -> None:
        connection.isolation_level = "IMMEDIATE"  # as DBOS's own engine: writers queue up
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    return engine


def _sqlite_file_problem(url: str, *, create: bool) -> str | None:
    """Why a SQLite run database cannot be used, in words (None when it can, or for other databases)."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    if path.is_dir():
        return f"{path} is a directory, not a database file"
    if path.exists():
        return None
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist (a misspelt --db?)"
    if not create:
        return f"there is no run database at {path} (a misspelt --db? `graphc run SPEC --durable` makes one)"
    try:  # the operating system's own reason, which SQLite reduces to "unable to open database file"
        path.open("ab").close()
    except OSError as e:
        return f"cannot create {path}: {e.strerror or e}"
    path.unlink(missing_ok=True)
    return None


def _reason(error: Exception) -> str:
    """An error's message without SQLAlchemy's trailing link and wrapper class."""
    text = str(error).split("\n(Background on this error")[0]
    return re.sub(r"^\(\w+(\.\w+)*\) ", "", text).replace("\n\t", " ").strip()


def _shown(url: str) -> str:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url.split("@")[-1]


def _migrate(url: str) -> None:
    """Create DBOS's tables in a database nobody launched DBOS on yet (a client never does)."""
    try:
        DBOS.migrate(url)
    except Exception as e:
        raise DurableError(f"cannot prepare the run database {_shown(url)}: {_reason(e)}") from None
