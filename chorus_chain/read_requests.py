"""How a request that must not write ends its transaction: with COMMIT when it wrote nothing, else ROLLBACK.

A request that is not a successful write is rolled back (`web._finish_transaction`): nothing a page or a refused
form did stays. But psycopg forgets every statement it prepared on the connection at a ROLLBACK (it sends DEALLOCATE
ALL: a statement prepared in a failed transaction would not exist), and psycopg prepares a statement only once it
has run five times on a connection — so no statement was ever prepared across pages, and PostgreSQL planned every
statement of every page again. Planning costs more than running for most of them: the Synthèse's work list takes
3–6 ms of PostgreSQL's CPU to plan and about 1 ms to run; prepared, PostgreSQL plans it generically after five runs
and the whole costs about 1 ms (bench/page_cpu.py: PostgreSQL's CPU per Synthèse 10–14 ms → 3–5.5 ms at 100 k).

When the transaction changed nothing, COMMIT and ROLLBACK leave the database the same: this module commits then, and
rolls back as before whenever anything may have been written:
- a statement that may write ran in the transaction, read from the statement SQLAlchemy compiled (not from its SQL
  text): anything but a SELECT (an INSERT, UPDATE or DELETE, DDL), a SELECT that locks rows (`with_for_update`) or
  carries an INSERT, UPDATE or DELETE in a CTE, an executemany, SQL sent as a string (`exec_driver_sql`), and a
  textual statement (`text()`) unless its author marked it as one that only reads (`reads_only`). The engine's
  `before_cursor_execute` event marks the connection, and the mark is cleared only when its outermost transaction
  begins (a SAVEPOINT, which writes nothing itself, keeps it: what was written before it would be committed with
  it). Why not the SQL text: a pattern on it was one more parser of SQL, blind to a DML CTE behind a harmless WITH
  and to what a statement's structure already says;
- the session holds changes not sent yet (new, changed or deleted objects: a COMMIT would flush them);
- the transaction failed (psycopg's status is not "in transaction"), or the database is not PostgreSQL.
No function of the schema that a SELECT may call writes (migrations: `chorus_tenant`, `chorus_system`, triggers).
`KEEP_PREPARED_STATEMENTS=0` in the environment rolls every such request back, as before (to compare).
"""
from __future__ import annotations

from weakref import WeakKeyDictionary

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import (
    ReleaseSavepointClause,
    RollbackToSavepointClause,
    SavepointClause,
    TextClause,
)
from sqlalchemy.sql.selectable import ForUpdateArg

WROTE = "chorus_may_have_written"  # on the connection's info: the transaction under way may have written
READS_ONLY = "chorus_reads_only"  # execution option: this textual statement only reads


def reads_only(statement: TextClause) -> TextClause:
    """`statement` (SQL its author wrote) marked as one that writes nothing and locks no row: it keeps a request's
    COMMIT. Every other textual statement counts as a write."""
    return statement.execution_options(**{READS_ONLY: True})


def end(session: Session) -> None:
    """End the request's transaction that must not write: COMMIT when it wrote nothing (the same for the data, and
    the connection keeps its prepared statements), ROLLBACK otherwise."""
    if session.in_transaction() and current_app.config.get("KEEP_PREPARED_STATEMENTS", True) \
            and not (session.new or session.dirty or session.deleted):
        connection = session.connection()
        if connection.dialect.name == "postgresql" and not connection.info.get(WROTE, True) \
                and _in_transaction(connection):
            session.commit()
            return
    session.rollback()


def _in_transaction(connection) -> bool:
    from psycopg import pq

    status = getattr(getattr(connection.connection.dbapi_connection, "info", None), "transaction_status", None)
    return status == pq.TransactionStatus.INTRANS


def _begun(connection) -> None:
    connection.info[WROTE] = False


def may_write(context, executemany: bool) -> bool:
    """Whether the statement about to run may write (see the module), from what SQLAlchemy compiled."""
    if executemany:
        return True
    compiled = getattr(context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    if statement is None:  # SQL sent as a string: nothing says what it does
        return True
    if isinstance(statement, TextClause):
        return not context.execution_options.get(READS_ONLY, False)
    if isinstance(statement, (SavepointClause, ReleaseSavepointClause, RollbackToSavepointClause)):
        return False  # writes nothing itself (what was written before or inside it keeps the mark)
    if not statement.is_select:
        return True
    if _locks_rows(compiled):
        return True
    return any(cte.element.is_dml for cte in (compiled.ctes or ()))  # WITH d AS (DELETE … RETURNING) SELECT …


# Compiled statement → whether its SELECT locks rows. SQLAlchemy keeps a compiled statement in its cache and runs it
# again: asked once per compiled statement (about 20 µs to walk a SELECT's children, 0.5 µs to find the answer here).
_locking: WeakKeyDictionary = WeakKeyDictionary()


def _locks_rows(compiled) -> bool:
    """Whether the compiled SELECT locks the rows it reads (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE).

    SQLAlchemy has no public getter for a SELECT's locking clause (the attribute `with_for_update()` sets is private,
    `_for_update_arg`, and could change in any release). Public: `ClauseElement.get_children()`, a SELECT's direct
    elements — its lock clause among them — and that clause's type, `ForUpdateArg`, which the public signatures of
    `Session.get` and `Session.refresh` take (`with_for_update: ForUpdateArg | bool | dict | None`)."""
    locks = _locking.get(compiled)
    if locks is None:
        locks = any(isinstance(child, ForUpdateArg) for child in compiled.statement.get_children())
        _locking[compiled] = locks
    return locks


def _before_cursor_execute(connection, cursor, statement, parameters, context, executemany) -> None:
    if may_write(context, executemany):
        connection.info[WROTE] = True


_installed = False


def install() -> None:
    """Register the engine events (once per process; create_app calls it)."""
    global _installed
    if _installed:
        return
    event.listen(Engine, "begin", _begun)
    event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
    _installed = True
