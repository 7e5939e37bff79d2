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
- a statement other than a plain SELECT ran in the transaction (an INSERT, UPDATE or DELETE, a WITH, a SELECT … FOR
  UPDATE or FOR SHARE, an executemany): the engine's `before_cursor_execute` event marks the connection, and the
  mark is cleared only when its outermost transaction begins (a SAVEPOINT keeps it: what was written before it would
  be committed with it);
- the session holds changes not sent yet (new, changed or deleted objects: a COMMIT would flush them);
- the transaction failed (psycopg's status is not "in transaction"), or the database is not PostgreSQL.
No function of the schema that a SELECT may call writes (migrations: `chorus_tenant`, `chorus_system`, triggers).
`KEEP_PREPARED_STATEMENTS=0` in the environment rolls every such request back, as before (to compare).
"""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

WROTE = "chorus_may_have_written"  # on the connection's info: the transaction under way may have written

# A statement that only reads: a SELECT that locks no row.
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_LOCKS = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b", re.IGNORECASE)


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


def _before_cursor_execute(connection, cursor, statement, parameters, context, executemany) -> None:
    if executemany or not _READ.match(statement) or _LOCKS.search(statement):
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
