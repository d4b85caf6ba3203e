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
def proxied(postgres_db: str) -> Iterator[tuple[str, Outage]]:
    """The test's database, reached through a proxy the test can cut."""
    url = urlparse(postgres_db)
    proxy = Outage((url.hostname or "127.0.0.1", url.port or 5432))
    try:
        yield postgres_db.replace(url.netloc.split("@")[-1], f"127.0.0.1:{proxy.port}"), proxy
    finally:
        proxy.close()


def _graphc(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "graphc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "GRAPHC_DB": "", "GRAPHC_DB_OUTAGE_SECONDS": str(BOUND)},
    )


def _cut_mid_run(db: str, proxy: Outage) -> subprocess.Popen[str]:
    run = _graphc("run", str(SLOW), "--durable", "--db", db)
    time.sleep(1.5)  # the run is some 20 steps in: what this test is about is the cut in the middle of it
    assert run.poll() is None, run.communicate()
    proxy.cut()
    return run


def test_a_short_outage_is_reported_and_the_run_goes_on(proxied: tuple[str, Outage]) -> None:
    db, proxy = proxied
    run = _cut_mid_run(db, proxy)
    time.sleep(BOUND / 2)
    proxy.restore()
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert json.loads(out.splitlines()[1]) == {"output": TOTAL, "state": {"total": TOTAL}}
    assert "cannot be reached" in err and "waits for it" in err and "the run database is back" in err


def test_a_long_outage_ends_the_command_with_the_run_left_resumable(proxied: tuple[str, Outage]) -> None:
    db, proxy = proxied
    run = _cut_mid_run(db, proxy)
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
