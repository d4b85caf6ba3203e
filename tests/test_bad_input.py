"""Whatever a user types or a pipe does gets a message and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES, ROOT, graphc

pytestmark = pytest.mark.slow  # real processes, databases or other environments: `-m "not slow"` skips them

REVIEW = str(EXAMPLES / "review.graph")
FIVES = str(EXAMPLES / "fives.graph")
DEEP = "[" * 60_000 + "]" * 60_000


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", FIVES, "--arg", f"foo={DEEP}"], "--arg foo is nested too deeply to read"),
        (["run", FIVES, "--arg", 'foo="\\ud800"'], "--arg foo holds \\ud800, which is not text"),
        (["run", REVIEW, "--state", f'{{"revisions": {DEEP}}}'], "--state is nested too deeply to read"),
        (["run", REVIEW, "--state", '{"revisions": "\\udfff"}'], "--state holds \\udfff, which is not text"),
    ],
)
def test_json_arguments_too_deep_or_not_text(args: list[str], said: str) -> None:
    done = graphc(*args)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_resume_inputs_are_read_safely_and_validated_strictly(tmp_path: Path) -> None:
    pytest.importorskip("dbos")
    db = str(tmp_path / "runs.sqlite")
    run_id = graphc("run", REVIEW, "--durable", "--db", db).stdout.strip()
    refused = {
        '{"approved": true, "comment": "\\ud800"}': "--input holds \\ud800, which is not text",
        f'{{"approved": {DEEP}}}': "--input is nested too deeply to read",
        '{"approved": "yes", "comment": ""}': "`approved`: Input should be a valid boolean",
        '{"approved": 1, "comment": ""}': "`approved`: Input should be a valid boolean",
    }
    for given, said in refused.items():
        done = graphc("runs", "resume", run_id, "--db", db, "--input", given)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert (shown["status"], shown["wait_ordinal"]) == ("waiting", 1)  # unchanged by every refusal
    assert shown["waits_for"]["properties"]["approved"] == {"type": "boolean"}


def test_a_waited_for_field_that_admits_none_is_optional(tmp_path: Path) -> None:
    pytest.importorskip("dbos")
    spec = tmp_path / "optional.graph"
    spec.write_text(
        "graph O -> str\nstart Ask\n\nnode Ask waits (approved: bool, note: str | None):\n"
        '    -> End(f"{approved} {note}")\n'
    )
    db = str(tmp_path / "runs.sqlite")
    run_id = graphc("run", str(spec), "--durable", "--db", db).stdout.strip()
    shown = json.loads(graphc("runs", "show", run_id, "--db", db, "--format", "json").stdout)
    assert shown["waits_for"]["required"] == ["approved"]
    done = graphc("runs", "resume", run_id, "--db", db, "--input", '{"approved": true}', "--output", "text")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [run_id, "True None"]


def test_run_ids_are_printable_and_what_the_database_holds_is_escaped(tmp_path: Path) -> None:
    pytest.importorskip("dbos")
    db = str(tmp_path / "runs.sqlite")
    for bad in ("line\nbreak", "\x1b[31mred", "with space", "x" * 201, ""):
        done = graphc("run", REVIEW, "--durable", "--db", db, "--run-id", bad)
        assert done.returncode == 2 and "printable characters without spaces" in done.stderr, done.stderr
    graphc("run", REVIEW, "--durable", "--db", db, "--run-id", "plain")
    with sqlite3.connect(db) as connection:  # as an older graphc, or a hand, may have left it
        connection.execute(
            "UPDATE workflow_status SET workflow_uuid = ? WHERE workflow_uuid = 'plain'", ("a\x1b[2Jb\nc",)
        )
    listed = graphc("runs", "list", "--db", db).stdout
    assert "\x1b" not in listed and "a\\x1b[2Jb\\nc" in listed
    assert len(listed.splitlines()) == 2  # the header and one row: no forged rows


def test_a_durable_run_prints_only_the_id_and_the_result_on_stdout(tmp_path: Path) -> None:
    pytest.importorskip("dbos")
    spec = tmp_path / "noisy.graph"
    spec.write_text('graph N -> int\nstart A\n\nnode A:\n    print("noise from the node")\n    -> End(1)\n')
    done = graphc("run", str(spec), "--durable", "--db", str(tmp_path / "runs.sqlite"))
    assert done.returncode == 0
    assert len(done.stdout.splitlines()) == 2 and json.loads(done.stdout.splitlines()[1])["output"] == 1
    assert "noise from the node" in done.stderr


@pytest.mark.parametrize("args", [["schema"], ["compile", FIVES, "-o", "-"], ["--help"]])
def test_a_reader_that_goes_away_ends_graphc_quietly(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader has gone before graphc writes a byte (`graphc ... | head -0`)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "graphc", *args], stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
    finally:
        os.close(write)
    assert done.returncode in (141, 0) and done.stderr == "", done.stderr
