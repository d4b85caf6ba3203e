"""The console's tables beside the runs: access tokens (hashed), mutating requests by idempotency key, who answered.

A token is shown once, when it is made; the database keeps its SHA-256 only. Roles rank
`viewer` < `operator` (answer, cancel) < `admin` (everything).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

ROLES = ("viewer", "operator", "admin")
"""From least to most allowed."""

_TABLES = (
    "CREATE TABLE IF NOT EXISTS graphc_tokens (id VARCHAR(32) PRIMARY KEY, name VARCHAR(255) NOT NULL, "
    "role VARCHAR(16) NOT NULL, digest VARCHAR(64) NOT NULL UNIQUE, created DOUBLE PRECISION NOT NULL, "
    "revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS graphc_requests (token_id VARCHAR(32) NOT NULL, key VARCHAR(255) NOT NULL, "
    "status INTEGER NOT NULL, body TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, PRIMARY KEY (token_id, key))",
    "CREATE TABLE IF NOT EXISTS graphc_answer_authors (run_id VARCHAR(255) NOT NULL, ordinal INTEGER NOT NULL, "
    "who VARCHAR(255) NOT NULL, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (run_id, ordinal))",
)


@dataclass(frozen=True)
class Caller:
    """Who is asking: a token's id, name and role."""

    token_id: str
    name: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this caller's role is `role` or above."""
        return ROLES.index(self.role) >= ROLES.index(role)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleStore:
    """Tokens, idempotent requests and answer authors in the run database."""

    def __init__(self, url: str) -> None:
        import sqlalchemy

        from runtime.durable import database_engine

        self.engine = database_engine(url)
        with self.engine.begin() as connection:
            for statement in _TABLES:
                connection.execute(sqlalchemy.text(statement))

    def _execute(self, statement: str, parameters: dict[str, Any]) -> Any:
        import sqlalchemy

        with self.engine.begin() as connection:
            return connection.execute(sqlalchemy.text(statement), parameters)

    # -- tokens

    def add_token(self, name: str, role: str) -> str:
        """Make a token for `name` with `role`; returns the token itself (the only time it is seen)."""
        if role not in ROLES:
            raise ValueError(f"the role is one of {', '.join(ROLES)}, not {role!r}")
        token = "gct_" + secrets.token_urlsafe(32)
        row = {"i": secrets.token_hex(8), "n": name, "r": role, "d": _digest(token), "c": time.time()}
        self._execute("INSERT INTO graphc_tokens (id, name, role, digest, created) VALUES (:i, :n, :r, :d, :c)", row)
        return token

    def tokens(self) -> list[dict[str, Any]]:
        """Every token's id, name, role, when it was made and whether it was revoked (never the token)."""
        rows = self._execute("SELECT id, name, role, created, revoked FROM graphc_tokens ORDER BY created", {})
        return [{"id": i, "name": n, "role": r, "created": c, "revoked": bool(v)} for i, n, r, c, v in rows]

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by its id; False if there is none."""
        done = self._execute("UPDATE graphc_tokens SET revoked = 1 WHERE id = :i", {"i": token_id})
        return bool(done.rowcount == 1)

    def caller(self, token: str) -> Caller | None:
        """Who holds `token`, if it is a live one."""
        row = self._execute(
            "SELECT id, name, role FROM graphc_tokens WHERE digest = :d AND revoked = 0", {"d": _digest(token)}
        ).fetchone()
        return Caller(token_id=row[0], name=row[1], role=row[2]) if row is not None else None

    def live(self, token_id: str) -> Caller | None:
        """A session's token, still live (revoking a token ends its sessions too)."""
        row = self._execute(
            "SELECT id, name, role FROM graphc_tokens WHERE id = :i AND revoked = 0", {"i": token_id}
        ).fetchone()
        return Caller(token_id=row[0], name=row[1], role=row[2]) if row is not None else None

    # -- idempotency keys: a retried request gets the first one's answer

    def begin_request(self, token_id: str, key: str) -> tuple[int, Any] | None:
        """Claim `key` for this request: None if it is the first with it.

        Else the first one's (status, body), or (0, None) while that one is still going.
        """
        claimed = self._execute(
            "INSERT INTO graphc_requests (token_id, key, status, body, created) VALUES (:t, :k, 0, '', :c) "
            "ON CONFLICT DO NOTHING",
            {"t": token_id, "k": key, "c": time.time()},
        )
        if claimed.rowcount == 1:
            return None
        row = self._execute(
            "SELECT status, body FROM graphc_requests WHERE token_id = :t AND key = :k", {"t": token_id, "k": key}
        ).fetchone()
        return (int(row[0]), json.loads(row[1]) if row[1] else None) if row is not None else (0, None)

    def end_request(self, token_id: str, key: str, status: int, body: Any) -> None:
        """Keep the request's answer for its retries."""
        self._execute(
            "UPDATE graphc_requests SET status = :s, body = :b WHERE token_id = :t AND key = :k",
            {"s": status, "b": json.dumps(body), "t": token_id, "k": key},
        )

    # -- who answered a wait

    def answered_by(self, run_id: str, ordinal: int, who: str) -> None:
        """Record who gave the answer that took wait `ordinal`."""
        self._execute(
            "INSERT INTO graphc_answer_authors (run_id, ordinal, who, at) VALUES (:r, :o, :w, :a) "
            "ON CONFLICT DO NOTHING",
            {"r": run_id, "o": ordinal, "w": who, "a": time.time()},
        )

    def authors(self, run_id: str) -> dict[int, str]:
        """Who answered each of a run's waits, by wait number."""
        rows = self._execute("SELECT ordinal, who FROM graphc_answer_authors WHERE run_id = :r", {"r": run_id})
        return {int(o): str(w) for o, w in rows}
