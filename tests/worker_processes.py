"""`graphc worker` processes for tests, killed when the test ends (the `workers` fixture in conftest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Workers:
    """`graphc worker` processes, stopped (SIGKILL) when the test ends."""

    def __init__(self, db: str, logs: Path) -> None:
        self.db, self.logs = db, logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.log_start: dict[str, int] = {}  # where each worker's log begins: a restarted one appends to it

    def start(self, executor_id: str, *extra: str, cwd: Path = ROOT) -> None:
        if "--allow-import" not in extra:  # the default allow-list is empty; sleepy.graph sleeps with asyncio
            extra = (*extra, "--allow-import", "asyncio")
        with (self.logs / f"{executor_id}.log").open("ab") as log:  # the worker keeps its own descriptor
            self.log_start[executor_id] = log.tell()
            self.processes[executor_id] = subprocess.Popen(
                [sys.executable, "-m", "graphc", "worker", "--db", self.db, "--id", executor_id, *extra],
                cwd=cwd,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def wait_until_taking(self, executor_id: str, timeout: float = 60) -> None:
        """Until the worker says it takes runs (it has its lease and DBOS has launched)."""
        log = self.logs / f"{executor_id}.log"
        deadline = time.monotonic() + timeout
        while f"graphc worker {executor_id}: taking runs" not in (
            text := log.read_text()[self.log_start[executor_id] :]
        ):
            assert self.processes[executor_id].poll() is None, text
            assert time.monotonic() < deadline, f"{executor_id} did not start: {text}"
            time.sleep(0.05)

    def kill(self, executor_id: str, sig: int = signal.SIGKILL) -> int:
        process = self.processes.pop(executor_id)
        process.send_signal(sig)
        return process.wait(timeout=60)

    def close(self) -> None:
        for executor_id in list(self.processes):
            self.kill(executor_id)
