"""A `graphc serve` process, a worker and tokens on a database of the test's own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphc_out(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "graphc", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


class Server:
    """`graphc serve` on a free port of 127.0.0.1, stopped when the test ends."""

    def __init__(self, db: str, logs: Path) -> None:
        self.db, self.port = db, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logs / "serve.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "graphc", "serve", "--db", db, "--port", str(self.port)],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stderr=log,
                stdout=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url + "/login", timeout=1)
                return
            except httpx.HTTPError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "graphc serve did not start"
                time.sleep(0.1)

    def api(self, token: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
