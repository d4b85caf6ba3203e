"""DBOS's per-step statements, compiled once per database instead of built on every step.

A durable step is DBOS's check (the workflow's status, the step's recorded output), the node,
then its record (an owner check and the step's row). DBOS 3.4 builds those four statements
with SQLAlchemy on every call, in two transactions; on SQLite that building was most of a step.
DBOS already compiles its other hot statements once, on PostgreSQL (`_execute_prepared`); this
does the same for these, with DBOS's tables, key helpers and checks, on graphc's own DBOS
instance only (`install`, after launch). The check's two reads are one join; on PostgreSQL
the record locks and compares the owner in its own statement, and the check and the record
each run as that one statement outside a transaction: 2 round trips a step, not ~8.
(`python bench/durable_steps.py`, a step a node: SQLite ~850 -> ~2,000 steps/s, PostgreSQL
~400 -> ~950.) It applies to the DBOS releases it was written against and to DBOS's own
SQLite and PostgreSQL classes; anywhere else (a sharded subclass, another connection's
driver, a session) DBOS's own code runs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from dbos._context import current_owner_xid
from dbos._debug_trigger import DebugTriggers
from dbos._error import (
    DBOSStepNondeterminismError,
    DBOSUnexpectedStepError,
    DBOSWorkflowCancelledError,
    DBOSWorkflowConflictIDError,
)
from dbos._schemas import SCHEMA_PLACEHOLDER
from dbos._sys_db import SystemDatabase, WorkflowStatusString, db_retry
from dbos._sys_db_postgres import PostgresSystemDatabase
from dbos._sys_db_sqlite import SQLiteSystemDatabase

__all__ = ("install", "installed")

_VERSIONS = ("3.4.",)
"""DBOS releases whose step statements these are (read from DBOS 3.4.0's `SystemDatabase`)."""
_CLASSES = (SQLiteSystemDatabase, PostgresSystemDatabase)
_OFF = "GRAPHC_DBOS_STATEMENTS"
"""Set to `dbos` to keep DBOS's own statement building (to compare, or should this ever disagree with DBOS)."""
_RECORDED = (
    "workflow_uuid",
    "function_id",
    "function_name",
    "started_at_epoch_ms",
    "output",
    "error",
    "child_workflow_id",
    "serialization",
)
"""A step's columns taken from DBOS's result; `_COLUMNS` adds the two the record sets itself."""
_COLUMNS = (*_RECORDED, "completed_at_epoch_ms", "application_name")
_WORKFLOW = sa.bindparam("p_wf", type_=sa.String)
"""The workflow id in every statement, as DBOS's key helper (`_wf`) compares it."""

_Prepared = tuple[str, "tuple[str, ...] | None", dict[str, Callable[[Any], Any]], dict[str, Any]]


def install(database: SystemDatabase) -> bool:
    """Make `database` (DBOS's launched system database) run its per-step statements compiled once; True if it does."""
    if os.environ.get(_OFF) == "dbos" or type(database) not in _CLASSES:
        return False
    if not importlib.metadata.version("dbos").startswith(_VERSIONS):
        return False
    _Statements(database).install()
    return True


def installed(database: SystemDatabase) -> bool:
    """Whether `install` took effect on `database`."""
    return "_check_operation_execution_txn" in vars(database)


class _Statements:
    """The three per-step methods of one DBOS system database, each executing SQL compiled on its first call."""

    def __init__(self, database: SystemDatabase) -> None:
        self.database = database
        self.prepared: dict[str, _Prepared] = {}
        cls = type(database)  # DBOS's own methods, for whatever these do not cover
        self.dbos_check = cls._check_operation_execution_txn.__get__(database)
        self.dbos_owner = cls._check_owner_txn.__get__(database)
        self.dbos_record = cls._record_operation_result_txn.__get__(database)

    def install(self) -> None:
        # instance attributes: DBOS calls these as `self._…(...)`, so its own callers reach them
        vars(self.database).update(
            _check_operation_execution_txn=self.check,
            _check_owner_txn=self.owner,
            _record_operation_result_txn=self.record,
        )
        if not self.database._is_sqlite:  # each is one statement there: no BEGIN and COMMIT round trips around it
            retried = db_retry(sys_db=self.database)
            vars(self.database).update(
                check_operation_execution=retried(self.check_alone),
                record_operation_result=self.record_alone,
            )

    @contextlib.contextmanager
    def _autocommit(self, workflow_id: str, owner_key: str | None) -> Iterator[sa.Connection]:
        """A connection committing each statement as it runs, as DBOS's own `engine.begin()` would the one."""
        with self.database._own_key(workflow_id, key=owner_key), self.database.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def check_alone(
        self, workflow_id: str, function_id: int, function_name: str, *, owner_key: str | None = None
    ) -> Any:
        """DBOS's `check_operation_execution` on PostgreSQL: `check`'s one statement, outside a transaction."""
        with self._autocommit(workflow_id, owner_key) as conn:
            return self.check(workflow_id, function_id, function_name, conn)

    def record_alone(
        self,
        result: Any,
        *,
        completed_at_epoch_ms: int | None = None,
        owner_xid: str | None = None,
        owner_key: str | None = None,
    ) -> None:
        """DBOS's `record_operation_result` on PostgreSQL: `record`'s one statement, outside a transaction."""
        # outside the retry, as DBOS does: a retried write carries the same completion time, so it is no conflict
        completed = completed_at_epoch_ms if completed_at_epoch_ms is not None else int(time.time() * 1000)
        if self.database._child_values(result["child_workflow_id"]):  # DBOS's own, in its transaction
            type(self.database).record_operation_result(
                self.database, result, completed_at_epoch_ms=completed, owner_xid=owner_xid, owner_key=owner_key
            )
            return

        @db_retry(sys_db=self.database)
        def once() -> None:
            with self._autocommit(result["workflow_uuid"], owner_key) as conn:
                self.record(result, completed, conn, owner_xid=owner_xid)
            DebugTriggers.debug_trigger_point(DebugTriggers.DEBUG_TRIGGER_STEP_COMMIT)

        once()

    def _run(self, conn: Any, statement: Callable[[], Any], values: dict[str, Any]) -> Any:
        """Execute `statement()` with `values` (its `p_` parameters): built and compiled on the first call only."""
        prepared = self.prepared.get(statement.__name__)
        if prepared is None:
            prepared = self.prepared[statement.__name__] = self._compile(statement())
        sql, order, processors, constants = prepared
        params = {**constants, **values}
        for key, process in processors.items():
            params[key] = process(params[key])
        return conn.exec_driver_sql(sql, tuple(params[k] for k in order) if order is not None else params)

    def _compile(self, statement: Any) -> _Prepared:
        """As DBOS's `_execute_prepared`: the engine's own SQL, each value through its type's bind processor."""
        dialect = self.database.engine.dialect
        compiled = statement.compile(
            dialect=dialect,
            schema_translate_map={SCHEMA_PLACEHOLDER: self.database.schema},
            render_schema_translate=True,
        )
        processors: dict[str, Callable[[Any], Any]] = {}
        constants: dict[str, Any] = {}  # the statement's own literals (a status, a format) are bound too
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
            if not name.startswith("p_"):
                constants[name] = bind.value
        order = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
        return str(compiled), order, processors, constants

    def _ours(self, conn: Any) -> bool:
        """Whether `conn` is one of the database's own engine (not a session, not another driver's)."""
        return isinstance(conn, sa.Connection) and conn.dialect is self.database.engine.dialect

    def _check_statement(self) -> Any:
        """The step check as one statement: the workflow's status joined to the step's row (DBOS reads them in two)."""
        status, outputs = self.database.tables.workflow_status, self.database.tables.operation_outputs
        recorded = sa.and_(
            outputs.c.workflow_uuid == status.c.workflow_uuid, outputs.c.function_id == sa.bindparam("p_step")
        )
        return (
            sa.select(
                status.c.status,
                outputs.c.output,
                outputs.c.error,
                outputs.c.function_name,
                outputs.c.child_workflow_id,
                outputs.c.serialization,
            )
            .select_from(status.outerjoin(outputs, recorded))
            .where(*self.database._wf(status, _WORKFLOW))
        )

    def _owner_statement(self) -> Any:
        """The owner check: the workflow's row locked until commit, its owner read."""
        status = self.database.tables.workflow_status
        if self.database._is_sqlite:  # a write, so pysqlite opens BEGIN IMMEDIATE (DBOS's reason)
            return (
                sa.update(status)
                .where(*self.database._wf(status, _WORKFLOW))
                .values(owner_xid=status.c.owner_xid)
                .returning(status.c.owner_xid)
            )
        locked = sa.select(status.c.owner_xid).where(*self.database._wf(status, _WORKFLOW))
        return locked.with_for_update(key_share=True)

    def _record_statement(self) -> Any:
        """The step's row, returning the completion time of the row there (ours, or one written before)."""
        return self._insert(owned=False)

    def _owned_record_statement(self) -> Any:
        """PostgreSQL: the step's row, inserted only while `p_owner` owns the workflow.

        The workflow's row is locked and compared in the same statement (DBOS takes two): no
        row comes back when another owns it.
        """
        return self._insert(owned=True)

    def _insert(self, *, owned: bool) -> Any:
        outputs, status = self.database.tables.operation_outputs, self.database.tables.workflow_status
        binds = {name: sa.bindparam(f"p_{name}", type_=outputs.c[name].type) for name in _COLUMNS}
        insert = self.database.dialect.insert(outputs)
        if owned:
            owner = (
                sa.select(status.c.owner_xid)
                .where(*self.database._wf(status, _WORKFLOW))
                .with_for_update(key_share=True)
                .cte("owner")
            )
            rows = sa.select(*binds.values(), self.database._now_ms_sql()).where(
                owner.c.owner_xid == sa.bindparam("p_owner", type_=sa.String)
            )
            insert = insert.from_select([*binds, "retention_timestamp"], rows)
        else:
            insert = insert.values(**binds, retention_timestamp=self.database._now_ms_sql())
        return insert.on_conflict_do_update(
            index_elements=self.database._key_conflict("workflow_uuid", "function_id"),
            set_={"completed_at_epoch_ms": outputs.c.completed_at_epoch_ms},
        ).returning(outputs.c.completed_at_epoch_ms)

    def check(self, workflow_id: str, function_id: int, function_name: str, conn: Any) -> Any:
        """DBOS's `_check_operation_execution_txn`: raise if the workflow was cancelled, else the step's record."""
        if not self._ours(conn):
            return self.dbos_check(workflow_id, function_id, function_name, conn)
        self.database._reject_shard_key(workflow_id, None)  # DBOS's check of each call (`_wf`)
        rows = self._run(conn, self._check_statement, {"p_wf": workflow_id, "p_step": function_id}).all()
        assert rows, f"Error: Workflow {workflow_id} does not exist"
        if rows[0][0] == WorkflowStatusString.CANCELLED.value:
            raise DBOSWorkflowCancelledError(f"Workflow {workflow_id} is cancelled. Aborting function.")
        _, output, error, recorded_name, child_workflow_id, serialization = rows[0]
        if recorded_name is None:  # no row for the step (a recorded step always has its function's name)
            return None
        if function_name != recorded_name:
            raise DBOSUnexpectedStepError(
                workflow_id=workflow_id, step_id=function_id, expected_name=function_name, recorded_name=recorded_name
            )
        return {
            "output": output,
            "error": error,
            "serialization": serialization,
            "child_workflow_id": child_workflow_id,
            "child_shard_key": None,
        }

    def owner(self, conn: Any, workflow_id: str, owner_xid: str) -> None:
        """DBOS's `_check_owner_txn`: the row locked until commit, and refused unless `owner_xid` owns the workflow."""
        if not self._ours(conn):
            self.dbos_owner(conn, workflow_id, owner_xid)
            return
        self.database._reject_shard_key(workflow_id, None)
        if self._run(conn, self._owner_statement, {"p_wf": workflow_id}).scalar() != owner_xid:
            raise DBOSWorkflowConflictIDError(workflow_id)

    def record(
        self,
        result: Any,
        completed_at_epoch_ms: int,
        conn: Any,
        *,
        owner_xid: str | None = None,
        child_values: dict[str, Any] | None = None,
    ) -> None:
        """DBOS's `_record_operation_result_txn`: the step's row, refused as nondeterminism if another was there."""
        if not self._ours(conn) or child_values:
            self.dbos_record(result, completed_at_epoch_ms, conn, owner_xid=owner_xid, child_values=child_values)
            return
        assert result["error"] is None or result["output"] is None, "Only one of error or output can be set"
        workflow_id = result["workflow_uuid"]
        self.database._reject_shard_key(workflow_id, None)
        owner_xid = owner_xid if owner_xid is not None else current_owner_xid(workflow_id)
        owned = owner_xid is not None and not self.database._is_sqlite
        if owner_xid is not None and not owned:
            self.owner(conn, workflow_id, owner_xid)
        values = {f"p_{name}": result[name] for name in _RECORDED}
        values.update(p_completed_at_epoch_ms=completed_at_epoch_ms, p_application_name=self.database.app_name)
        if owned:
            values.update(p_wf=workflow_id, p_owner=owner_xid)
        statement = self._owned_record_statement if owned else self._record_statement
        try:
            rows = self._run(conn, statement, values).fetchall()
        except sa.exc.DBAPIError as error:
            if self.database._is_unique_constraint_violation(error):
                raise DBOSStepNondeterminismError(workflow_id, result["function_id"]) from None
            raise
        if owned and not rows:  # not inserted, nor there already: the owner was another
            raise DBOSWorkflowConflictIDError(workflow_id)
        if rows and (rows[0][0] is None or int(rows[0][0]) != completed_at_epoch_ms):
            raise DBOSStepNondeterminismError(workflow_id, result["function_id"])
