"""DBOS's per-step statements compiled once (`runtime.durable._statements`) read and write as DBOS's own do.

On a real run's database, SQLite and PostgreSQL: every recorded step reads back the same
through both (also through the whole check and record, which on PostgreSQL run outside a
transaction); a step written by each is the same row; both refuse the same things (a
cancelled workflow, a step of another name, another owner, a second record with another
completion time). DBOS's own methods are its classes' (the compiled ones sit on the instance).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES

pytest.importorskip("dbos")

from dbos import DBOSClient
from dbos._dbos import _get_dbos_instance
from dbos._error import (
    DBOSStepNondeterminismError,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
)

from runtime.durable import database_url
from runtime.durable._statements import install, installed


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "runs.sqlite")
    return str(request.getfixturevalue("postgres_db"))


def _refusal(call: Callable[..., Any], *args: Any, **kwargs: Any) -> type[BaseException] | None:
    try:
        call(*args, **kwargs)
    except BaseException as error:  # DBOS raises some of its refusals as BaseException: code cannot swallow them
        return type(error)
    return None


def _step_row(database: Any, run_id: str, step: int) -> dict[str, Any]:
    table = database.tables.operation_outputs
    with database.engine.begin() as conn:
        row = conn.execute(table.select().where(table.c.workflow_uuid == run_id, table.c.function_id == step)).one()
    times = ("function_id", "completed_at_epoch_ms", "retention_timestamp")
    return {k: v for k, v in row._mapping.items() if k not in times}


def test_compiled_step_statements_read_write_and_refuse_as_dbos_does(
    db: str, opened: Callable[[str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from compiler import load

    graph = load(EXAMPLES / "review.graph")
    info = opened(db).start(graph, graph.node_types["Draft"]())
    assert info.status == "waiting"
    database = _get_dbos_instance()._sys_db
    assert installed(database)
    dbos = type(database)  # the class keeps DBOS's own methods
    client = DBOSClient(system_database_url=database_url(db))
    try:
        steps = [(s["function_id"], s["function_name"]) for s in client.list_workflow_steps(info.id)]
    finally:
        client.destroy()
    assert "graphc.node" in {name for _, name in steps}

    with database.engine.begin() as conn:
        for step, name in [*steps, (len(steps) + 5, "never.recorded")]:
            ours = database._check_operation_execution_txn(info.id, step, name, conn)
            assert ours == dbos._check_operation_execution_txn(database, info.id, step, name, conn)
        step, name = steps[0]
        for check in (database._check_operation_execution_txn, dbos._check_operation_execution_txn.__get__(database)):
            assert _refusal(check, info.id, step, "another.name", conn) is DBOSUnexpectedStepError

    def result(step: int) -> dict[str, Any]:
        return {
            "workflow_uuid": info.id,
            "function_id": step,
            "function_name": "test.step",
            "output": '{"x": "Zoë"}',
            "error": None,
            "serialization": "portable_json",
            "started_at_epoch_ms": 1_700_000_000_000,
            "child_workflow_id": None,
        }

    written = {1000: database._record_operation_result_txn, 1001: dbos._record_operation_result_txn.__get__(database)}
    with database.engine.begin() as conn:
        owner = (
            conn.execute(
                database.tables.workflow_status.select().where(
                    database.tables.workflow_status.c.workflow_uuid == info.id
                )
            )
            .one()
            ._mapping["owner_xid"]
        )
    for step, record in written.items():
        with database.engine.begin() as conn:
            record(result(step), 1_700_000_000_500, conn, owner_xid=owner)
        with database.engine.begin() as conn:  # a retry of the same write is no conflict
            record(result(step), 1_700_000_000_500, conn)
        for refused, kwargs in (
            (DBOSStepNondeterminismError, {"completed_at_epoch_ms": 1_700_000_000_999}),
            (DBOSWorkflowConflictIDError, {"completed_at_epoch_ms": 1_700_000_000_500, "owner_xid": "someone-else"}),
        ):
            with database.engine.begin() as conn:
                assert _refusal(record, result(step), conn=conn, **kwargs) is refused
    database.record_operation_result(result(1003), completed_at_epoch_ms=1_700_000_000_500)  # outside a transaction
    assert ("record_operation_result" in vars(database)) == db.startswith("postgresql")  # one statement, no BEGIN
    rows = [_step_row(database, info.id, step) for step in (1000, 1001, 1003)]
    assert rows[0] == rows[1] == rows[2]
    for step, name in [*steps, (1003, "test.step"), (1004, "never.recorded")]:
        ours = database.check_operation_execution(info.id, step, name)
        assert ours == dbos.check_operation_execution(database, info.id, step, name)
    with database.engine.begin() as conn:
        written[1000]({**result(1002), "output": None, "error": '{"message": "boom"}'}, 1_700_000_000_500, conn)
    with database.engine.begin() as conn:
        assert database._check_operation_execution_txn(info.id, 1000, "test.step", conn) == (
            dbos._check_operation_execution_txn(database, info.id, 1001, "test.step", conn)
        )
        failed = database._check_operation_execution_txn(info.id, 1002, "test.step", conn)
        assert failed == dbos._check_operation_execution_txn(database, info.id, 1002, "test.step", conn)
        assert failed["error"] == '{"message": "boom"}'

    status = database.tables.workflow_status
    with database.engine.begin() as conn:
        conn.execute(status.update().where(status.c.workflow_uuid == info.id).values(status="CANCELLED"))
        for check in (database._check_operation_execution_txn, dbos._check_operation_execution_txn.__get__(database)):
            assert _refusal(check, info.id, 0, "graphc.node", conn) is DBOSWorkflowCancelledError

    class Sharded(dbos):  # type: ignore[misc,valid-type]  # a subclass may locate rows otherwise: DBOS's code stays
        pass

    assert not install(Sharded.__new__(Sharded))
    monkeypatch.setenv("GRAPHC_DBOS_STATEMENTS", "dbos")
    assert not install(database)
