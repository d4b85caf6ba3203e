"""graphc's own tables beside DBOS's: submitted specs, answers to waits, worker leases."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ._common import DurableError, _sqlite_engine, spec_digest


class _Heartbeat:
    """Renews a worker's lease in a thread of its own until stopped; says so if another worker took the id over."""

    def __init__(self, store: _Store, executor_id: str, token: str, on_lost: Callable[[str], None] | None) -> None:
        self.store, self.executor_id, self.token, self.on_lost = store, executor_id, token, on_lost
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"graphc-lease-{executor_id}", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while not self.stopped.wait(LEASE_SECONDS / 5):
            try:
                held = self.store.renew(self.executor_id, self.token)
            except Exception:  # the database is away for a moment: the lease lasts longer than a beat
                continue
            if not held:
                if self.on_lost is not None:
                    self.on_lost(f"another worker took over the id `{self.executor_id}` (this one stalled)")
                return

    def stop(self) -> None:
        """Stop renewing and give the id up."""
        self.stopped.set()
        self.thread.join(timeout=5)
        with contextlib.suppress(Exception):  # the database is away: the lease then expires by itself
            self.store.release(self.executor_id, self.token)


class _Store:
    """graphc's tables beside DBOS's: submitted specs (content-addressed) and the answers to waits.

    `graphc_answers` holds at most one row per (run, wait): the first answer wins, atomically
    (the primary key), so two people answering one wait at the same moment cannot both be
    taken, and an answer is bound to the wait it answers — a later wait never reads it. A
    row of kind `cancel` is a cancellation: it takes the wait it claims from any answer,
    and (as wait 0) tells a run revived by a racing resume that it was cancelled.
    """

    _engines: ClassVar[dict[str, Any]] = {}
    _lock = threading.Lock()
    _TABLES = (
        "CREATE TABLE IF NOT EXISTS graphc_specs "
        "(digest VARCHAR(64) PRIMARY KEY, name TEXT NOT NULL, source TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS graphc_spec_files (digest VARCHAR(64) NOT NULL, path VARCHAR(1024) NOT NULL, "
        "source TEXT NOT NULL, PRIMARY KEY (digest, path))",
        "CREATE TABLE IF NOT EXISTS graphc_items (run_id VARCHAR(255) NOT NULL, step INTEGER NOT NULL, "
        "position INTEGER NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (run_id, step, position))",
        "CREATE TABLE IF NOT EXISTS graphc_answers (run_id VARCHAR(255) NOT NULL, ordinal INTEGER NOT NULL, "
        "kind VARCHAR(16) NOT NULL, input TEXT, PRIMARY KEY (run_id, ordinal))",
        "CREATE TABLE IF NOT EXISTS graphc_workers (executor_id VARCHAR(255) PRIMARY KEY, host VARCHAR(255) NOT NULL, "
        "pid INTEGER NOT NULL, token VARCHAR(64) NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE IF NOT EXISTS graphc_timers (run_id VARCHAR(255) NOT NULL, ordinal INTEGER NOT NULL, "
        "kind VARCHAR(16) NOT NULL, due DOUBLE PRECISION NOT NULL, queued INTEGER NOT NULL, "
        "done INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, ordinal))",
        "CREATE INDEX IF NOT EXISTS graphc_timers_due ON graphc_timers (done, due)",
        "CREATE TABLE IF NOT EXISTS graphc_schedules (name VARCHAR(255) PRIMARY KEY, digest VARCHAR(64) NOT NULL, "
        "graph VARCHAR(255) NOT NULL, spec TEXT NOT NULL, start TEXT NOT NULL, state TEXT NOT NULL, "
        "every DOUBLE PRECISION, cron VARCHAR(255), missed VARCHAR(8) NOT NULL, paused INTEGER NOT NULL DEFAULT 0, "
        "next_tick DOUBLE PRECISION NOT NULL, started INTEGER NOT NULL DEFAULT 0, last_run VARCHAR(255))",
    )

    def __init__(self, url: str) -> None:
        import sqlalchemy

        with self._lock:
            engine = self._engines.get(url)
            if engine is None:
                if url.startswith("sqlite:"):
                    engine = _sqlite_engine(url)  # as DBOS's: writers wait for each other rather than fail
                else:
                    driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
                    engine = sqlalchemy.create_engine(
                        driver_url, pool_pre_ping=True, connect_args={"connect_timeout": 10}
                    )
                for attempt in range(3):  # two processes creating the tables at once: one of them retries
                    try:
                        with engine.begin() as connection:
                            for statement in self._TABLES:
                                connection.execute(sqlalchemy.text(statement))
                        break
                    except sqlalchemy.exc.IntegrityError:
                        if attempt == 2:
                            raise
                self._engines[url] = engine
        self.engine = engine

    @classmethod
    def dispose(cls, url: str) -> None:
        """Close the connections to `url` (a later use opens them again)."""
        with cls._lock:
            engine = cls._engines.pop(url, None)
        if engine is not None:
            engine.dispose()

    def _execute(self, statement: str, parameters: dict[str, Any]) -> Any:
        import sqlalchemy

        with self.engine.begin() as connection:
            return connection.execute(sqlalchemy.text(statement), parameters)

    def put(self, name: str, source: str, files: Mapping[str, str] | None = None) -> str:
        """Store a spec and the specs it uses (path relative to it → text), once: return its digest."""
        import sqlalchemy

        digest = spec_digest(name, source, files)
        with self.engine.begin() as connection:  # a spec stored before stays as it is
            for path, text in sorted((files or {}).items()):
                statement = "INSERT INTO graphc_spec_files (digest, path, source) VALUES (:d, :p, :s)"
                connection.execute(
                    sqlalchemy.text(statement + " ON CONFLICT DO NOTHING"), {"d": digest, "p": path, "s": text}
                )
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO graphc_specs (digest, name, source) VALUES (:d, :n, :s) ON CONFLICT DO NOTHING"
                ),
                {"d": digest, "n": name, "s": source},
            )
        return digest

    def get(self, digest: str) -> tuple[str, str, dict[str, str]] | None:
        """A stored spec's file name, source and used specs; DurableError if they no longer match the digest."""
        row = self._execute("SELECT name, source FROM graphc_specs WHERE digest = :d", {"d": digest}).fetchone()
        if row is None:
            return None
        rows = self._execute("SELECT path, source FROM graphc_spec_files WHERE digest = :d", {"d": digest})
        files = {str(path): str(text) for path, text in rows}
        if spec_digest(row[0], row[1], files) != digest:
            raise DurableError(
                f"the stored spec {digest[:12]} was altered in the database: it no longer matches its digest"
            )
        return row[0], row[1], files

    def claim(self, run_id: str, ordinal: int, kind: str, input: dict[str, Any] | None = None) -> bool:
        """Record what took park `ordinal`; False if something took it already.

        `answer` (with its input), `cancel`, `deadline` (nobody answered in time) or `wake` (a sleep ended).
        """
        statement = (
            "INSERT INTO graphc_answers (run_id, ordinal, kind, input) VALUES (:r, :o, :k, :i) ON CONFLICT DO NOTHING"
        )
        text = None if input is None else json.dumps(input)
        return bool(self._execute(statement, {"r": run_id, "o": ordinal, "k": kind, "i": text}).rowcount == 1)

    def answer(self, run_id: str, ordinal: int) -> tuple[str, dict[str, Any] | None] | None:
        """What took wait `ordinal` of the run: (`answer`, input) or (`cancel`, None); None while nobody answered."""
        row = self._execute(
            "SELECT kind, input FROM graphc_answers WHERE run_id = :r AND ordinal = :o", {"r": run_id, "o": ordinal}
        ).fetchone()
        if row is None:
            return None
        return row[0], None if row[1] is None else json.loads(row[1])

    def copy_answers(self, from_run: str, to_run: str, parks: int) -> None:
        """Give a forked run the claims of the first `parks` parks of the run it was forked from (it replays them)."""
        self._execute(
            "INSERT INTO graphc_answers (run_id, ordinal, kind, input) SELECT :t, ordinal, kind, input "
            "FROM graphc_answers WHERE run_id = :f AND ordinal BETWEEN 1 AND :p",
            {"t": to_run, "f": from_run, "p": parks},
        )

    # -- timers: a sleep's end or a wait's deadline, each written once when the run first reaches it

    def timer(self, run_id: str, ordinal: int, kind: str, due: float, *, queued: bool) -> float:
        """The due time (epoch seconds) of the run's park `ordinal`: `due` if this is the first time it is reached."""
        self._execute(
            "INSERT INTO graphc_timers (run_id, ordinal, kind, due, queued) VALUES (:r, :o, :k, :d, :q) "
            "ON CONFLICT DO NOTHING",
            {"r": run_id, "o": ordinal, "k": kind, "d": due, "q": int(queued)},
        )
        row = self._execute(
            "SELECT due FROM graphc_timers WHERE run_id = :r AND ordinal = :o", {"r": run_id, "o": ordinal}
        ).fetchone()
        return float(row[0])

    def due_timers(self, now: float, limit: int = 100) -> list[tuple[str, int, str]]:
        """Timers of submitted runs that are due and not yet fired: (run, ordinal, kind), earliest first."""
        rows = self._execute(
            "SELECT run_id, ordinal, kind FROM graphc_timers WHERE done = 0 AND queued = 1 AND due <= :n "
            "ORDER BY due LIMIT :l",
            {"n": now, "l": limit},
        )
        return [(str(r), int(o), str(k)) for r, o, k in rows]

    def timer_done(self, run_id: str, ordinal: int) -> None:
        """The timer fired (or no longer matters): workers stop looking at it."""
        self._execute(
            "UPDATE graphc_timers SET done = 1 WHERE run_id = :r AND ordinal = :o", {"r": run_id, "o": ordinal}
        )

    # -- sub-graph runs of a local run's fork, each recorded once as it ends

    def put_items(self, run_id: str, step: int, outcomes: dict[int, dict[str, Any]]) -> None:
        """Record how sub-graph runs of a fork ended (by position), in one transaction; a recorded one stays."""
        import sqlalchemy

        statement = sqlalchemy.text(
            "INSERT INTO graphc_items (run_id, step, position, outcome) VALUES (:r, :s, :p, :o) ON CONFLICT DO NOTHING"
        )
        with self.engine.begin() as connection:
            for position, outcome in outcomes.items():
                connection.execute(statement, {"r": run_id, "s": step, "p": position, "o": json.dumps(outcome)})

    def items(self, run_id: str, step: int) -> dict[int, dict[str, Any]]:
        """The sub-graph runs of a fork recorded so far, by position."""
        rows = self._execute(
            "SELECT position, outcome FROM graphc_items WHERE run_id = :r AND step = :s", {"r": run_id, "s": step}
        )
        return {int(position): json.loads(outcome) for position, outcome in rows}

    def cancelled(self, run_id: str) -> bool:
        """Whether the run was cancelled (a `cancel` row for wait 0)."""
        return self.answer(run_id, 0) is not None

    # -- worker leases: one live worker per executor id

    def lease(self, executor_id: str, token: str) -> None:
        """Hold `executor_id` for this process, or DurableError if a live worker holds it.

        The holder is live while its heartbeat is fresh and, on this host, its process exists:
        a worker killed and restarted here at once takes its id back without waiting.
        """
        host, pid, now = socket.gethostname(), os.getpid(), time.time()
        row = {"e": executor_id, "h": host, "p": pid, "t": token, "b": now}
        taken = self._execute(
            "INSERT INTO graphc_workers (executor_id, host, pid, token, heartbeat) VALUES (:e, :h, :p, :t, :b) "
            "ON CONFLICT DO NOTHING",
            row,
        )
        if taken.rowcount == 1:
            return
        held = self._execute(
            "SELECT host, pid, token, heartbeat FROM graphc_workers WHERE executor_id = :e", {"e": executor_id}
        ).fetchone()
        if held is not None and _holder_alive(held[0], held[1], now - held[3]):
            raise DurableError(
                f"a worker with id `{executor_id}` is already running (process {held[1]} on {held[0]}, "
                f"seen {max(0.0, now - held[3]):.0f} s ago): give this one another --id, or stop that one first"
            )
        stale = {**row, "old": held[2] if held is not None else ""}
        moved = self._execute(
            "UPDATE graphc_workers SET host = :h, pid = :p, token = :t, heartbeat = :b "
            "WHERE executor_id = :e AND token = :old",
            stale,
        )
        if moved.rowcount != 1:  # another new worker took it over first
            raise DurableError(
                f"another worker with id `{executor_id}` started at the same moment; give this one another --id"
            )

    def renew(self, executor_id: str, token: str) -> bool:
        """Refresh this process's lease; False if another worker has taken the id over."""
        renewed = self._execute(
            "UPDATE graphc_workers SET heartbeat = :b WHERE executor_id = :e AND token = :t",
            {"b": time.time(), "e": executor_id, "t": token},
        )
        return bool(renewed.rowcount == 1)

    def release(self, executor_id: str, token: str) -> None:
        """Give the id up (a clean stop)."""
        self._execute(
            "DELETE FROM graphc_workers WHERE executor_id = :e AND token = :t", {"e": executor_id, "t": token}
        )


def database_engine(url: str) -> Any:
    """The SQLAlchemy engine of graphc's own tables in the run database `url`, for an application's tables."""
    return _Store(url).engine


LEASE_SECONDS = 15.0
"""A worker's heartbeat older than this means it is gone (it renews every `LEASE_SECONDS / 5`)."""


def _holder_alive(host: str, pid: int, silent_for: float) -> bool:
    if silent_for > LEASE_SECONDS:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
