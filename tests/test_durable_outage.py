"""The run database goes away in the middle of a run (a proxy cuts every connection): never a hang.

While it is away the run says so on stderr and waits; back within the bound, the run goes on
and ends as if nothing happened; away for longer, `graphc run --durable` exits 1 at the bound
with the run left as recorded, and `graphc runs resume` finishes it once the database is back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from .conftest import ROOT
from .outage import Outage

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

SLOW = ROOT / "tests" / "data" / "durable" / "slow.graph"
TOTAL = sum(range(81))
BOUND = 6  # seconds a run waits for its database here ($GRAPHC_DB_OUTAGE_SECONDS)


@pytest.fixture
def proxied(postgres_db: str) -> Iterator[tuple[str, Outage, str]]:
    """The test's database reached through a proxy the test can cut; the proxy; the database's own URL."""
    url = urlparse(postgres_db)
    proxy = Outage((url.hostname or "127.0.0.1", url.port or 5432))
    try:
        yield postgres_db.replace(url.netloc.split("@")[-1], f"127.0.0.1:{proxy.port}"), proxy, postgres_db
    finally:
        proxy.close()


def _steps_recorded(direct: str) -> int:
    """Node steps DBOS has recorded so far, read past the proxy."""
    import psycopg

    try:
        with psycopg.connect(direct, connect_timeout=2) as connection:
            row = connection.execute(
                "SELECT count(*) FROM dbos.operation_outputs WHERE function_name = 'graphc.node'"
            ).fetchone()
    except psycopg.Error:  # DBOS has not made its tables yet
        return 0
    return int(row[0]) if row else 0


def _graphc(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "graphc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GRAPHC_DB": "", "GRAPHC_DB_OUTAGE_SECONDS": str(BOUND)},
    )


def _cut_mid_run(db: str, proxy: Outage, direct: str) -> subprocess.Popen[str]:
    run = _graphc("run", str(SLOW), "--durable", "--db", db)
    deadline = time.monotonic() + 60
    while _steps_recorded(direct) < 10:  # the cut comes in the middle of the run
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proxy.cut()
    return run


def test_a_short_outage_is_reported_and_the_run_goes_on(proxied: tuple[str, Outage, str]) -> None:
    db, proxy, direct = proxied
    run = _cut_mid_run(db, proxy, direct)
    time.sleep(BOUND / 2)
    proxy.restore()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert json.loads(out.splitlines()[1]) == {"output": TOTAL, "state": {"total": TOTAL}}
    assert "cannot be reached" in err and "waits for it" in err and "the run database is back" in err


def test_a_long_outage_ends_the_command_with_the_run_left_resumable(proxied: tuple[str, Outage, str]) -> None:
    db, proxy, direct = proxied
    run = _cut_mid_run(db, proxy, direct)
    started = time.monotonic()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 1 and time.monotonic() - started < BOUND + 15, err
    run_id = out.strip()
    assert f"gave up after {BOUND} s. Run `{run_id}` is left as recorded" in err and "Traceback" not in err
    proxy.restore()
    resumed = _graphc("runs", "resume", run_id, "--db", db, "--history")
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    result = json.loads(out.splitlines()[1])
    assert (result["output"], result["state"]) == (TOTAL, {"total": TOTAL})
    assert [step["node"]["n"] for step in result["history"][:-1]] == list(range(81))  # each step once
