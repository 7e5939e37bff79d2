"""Many rows of one table in one statement (issue 20: the deadline sweep's batch writes its rows at its end).

On PostgreSQL the rows travel as one JSON document, read back as a set of rows by PostgreSQL itself:
`INSERT INTO t (a, b) SELECT * FROM (SELECT CAST(x->>0 AS INTEGER) AS a, CAST(x->>1 AS TEXT) AS b FROM
jsonb_array_elements(CAST(:rows AS JSONB)) AS x) AS r` — one statement and one parameter whatever the number of rows,
serialised by the json module's C encoder. What it replaces, measured by
bench/deadline_sweep.py's profile: the ORM's flush and SQLAlchemy's « insertmanyvalues » wrote the same rows as a
huge VALUES list per few hundred rows, whose text psycopg parsed again each time (a fifth of a batch's time); one
array per column (`unnest`) was better, but psycopg escapes every text element of an array with a regular
expression (a third of what was left). SQLite (a test database without PostgreSQL) gets a plain executemany.

The rows are plain dicts of column values. The columns' Python-side defaults (`default=utcnow`, `default=dict`) are
applied here, once per statement, as a Core insert would apply them: every row of one statement gets the same
instant. A JSON column's value goes in as its JSON text, so that None is stored as the ORM stores it (JSON null).
Nothing here decides anything: callers build the rows their rules gave.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, any_, bindparam, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import JSON

from chorus_chain.extensions import db


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _with_defaults(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns to write (those the rows give, plus those with a Python-side default) and the rows completed."""
    given = list(dict.fromkeys(name for row in rows for name in row))
    defaults = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None or getattr(default, "is_sequence", False):
            continue
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            defaults[column.name] = default.arg(None)  # SQLAlchemy wraps a no-argument callable to take a context
    names = given + list(defaults)
    if not defaults:
        return names, list(rows)
    return names, [{**defaults, **row} for row in rows]


def _plain(value: Any) -> Any:
    """What json cannot write by itself: instants and dates in ISO (PostgreSQL reads them back exactly), Decimals as
    their text (no float on the way)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write a {type(value).__name__} in a bulk row")


# `json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_plain)`, the encoder made once: with options,
# `json.dumps` builds an encoder per call, and a batch's rows call it once per JSON value (an event's `extra`, an
# e-mail's context, a digest's items) besides the document.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_plain).encode


def _rows(table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]],
          fanned: str | None = None) -> tuple[str, str]:
    """(a SELECT giving these rows, typed as the table's columns; its one parameter). The rows travel
    as one JSON array of arrays (the column names are not repeated on every row); each value is cast to its column's
    type, a JSON column's from the JSON text it was written as. `fanned`: a column whose value in each row is a list,
    the row given once per element (`insert_rows`)."""
    dialect = postgresql.dialect()
    json_columns = {name for name in names if isinstance(table.columns[name].type, JSON)}
    selected = []
    fan = ""
    for index, name in enumerate(names):
        sql_type = "JSON" if name in json_columns else table.columns[name].type.compile(dialect=dialect)
        if name == fanned:
            selected.append(f'CAST(f.value AS {sql_type}) AS "{name}"')
            fan = f" CROSS JOIN LATERAL jsonb_array_elements_text(x->{index}) AS f(value)"
        else:
            selected.append(f'CAST(x->>{index} AS {sql_type}) AS "{name}"')
    if json_columns:
        is_json = [name in json_columns for name in names]
        values = [[_encode(row.get(name)) if json_value else row.get(name)
                   for name, json_value in zip(names, is_json)] for row in rows]
    else:
        values = [[row.get(name) for name in names] for row in rows]
    document = _encode(values)
    # JSONB: PostgreSQL parses the document once, and `x->>i` then reads the i-th value of a parsed array; of the
    # json type, each `x->>i` parsed the row's text again from its start — a row's cost grew with its number of
    # columns times its length, and a digest's row is long (bench/deadline_sweep.py, one batch's rows: the
    # notifications' INSERT 0.30 → 0.25 s, the e-mails' 0.26 → 0.13 s). A JSON column's text stays exactly as it
    # was written: it travels as a string, which JSONB keeps as it is.
    return f"SELECT {', '.join(selected)} FROM jsonb_array_elements(CAST(:rows AS JSONB)) AS x{fan}", document


def among(column, values: Iterable[Any]):
    """`column IN (values)` for a batch's many values (a sweep's batch: its 500 deadlines, their pieces, the
    structures they name): on PostgreSQL `column = ANY(:values)`, the values as one array parameter. Why
    (bench/deadline_sweep.py's profile, issue 20): an IN list is one placeholder per value, which SQLAlchemy renders
    into the statement's text and psycopg then parses out of it again and adapts one by one — a batch's statements
    carried thousands of them, about a fifth of the sweep's Python; and a text that changes with the number of
    values is never prepared. Elsewhere (SQLite) the IN list."""
    values = list(values)
    if _is_postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def allocate_ids(table: Table, count: int) -> list[int]:
    """`count` ids drawn from the table's sequence (PostgreSQL), for rows that others point at (an e-mail and its
    outbox row) written without RETURNING."""
    if count == 0:
        return []
    return list(db.session.scalars(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                        "FROM generate_series(1, :n)"), {"table": table.name, "n": count}))


def insert_rows(table: Table, rows: Sequence[dict[str, Any]], *, fanned: tuple[str, str] | None = None) -> int:
    """Insert these rows into `table` in one statement (see the module); returns how many. No RETURNING: rows of
    other structures are not readable back under row-level security (notifications), and none is needed.

    `fanned` (key, column): each row's `key` holds a list of values of `column`, and the row is inserted once per
    value — rows that differ only by that column (a notification told to each member of a structure) travel once,
    PostgreSQL making the copies (`jsonb_array_elements_text`), in the rows' order and each list's."""
    if fanned is not None:
        key, column = fanned
        if not _is_postgresql():
            rows = [{**{name: value for name, value in row.items() if name != key}, column: fanned_value}
                    for row in rows for fanned_value in row[key]]
        else:
            rows = [{column if name == key else name: value for name, value in row.items()} for row in rows
                    if row[key]]
    if not rows:
        return 0
    if not _is_postgresql():
        db.session.execute(insert(table), list(rows))
        return len(rows)
    names, complete = _with_defaults(table, rows)
    source, document = _rows(table, names, complete, fanned=fanned[1] if fanned is not None else None)
    columns = ", ".join(f'"{name}"' for name in names)
    db.session.execute(text(f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM ({source}) AS r'),
                       {"rows": document})
    return sum(len(row[fanned[1]]) for row in rows) if fanned is not None else len(rows)


def insert_into_each(batches: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> int:
    """Insert rows into several tables in one statement (PostgreSQL: each table's insert a data-modifying WITH of
    the last one, each of its rows one JSON parameter, as `insert_rows`); returns how many rows. The read model's
    rollups are written so: one round trip for all of them whatever their number (operations.board.maintain)."""
    batches = [(table, rows) for table, rows in batches if rows]
    if not batches:
        return 0
    if not _is_postgresql():
        for table, rows in batches:
            db.session.execute(insert(table), list(rows))
        return sum(len(rows) for _, rows in batches)
    inserts, parameters = [], {}
    for index, (table, rows) in enumerate(batches):
        names, complete = _with_defaults(table, rows)
        source, document = _rows(table, names, complete)
        columns = ", ".join(f'"{name}"' for name in names)
        inserts.append(f'INSERT INTO "{table.name}" ({columns}) SELECT * FROM '
                       f'({source.replace(":rows", f":rows_{index}")}) AS r')
        parameters[f"rows_{index}"] = document
    *first, last = inserts
    with_clause = ("WITH " + ", ".join(f"w_{index} AS ({statement})" for index, statement in enumerate(first)) + " "
                   if first else "")
    db.session.execute(text(with_clause + last), parameters)
    return sum(len(rows) for _, rows in batches)


def update_rows(table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Update rows of `table` by id (PostgreSQL), one statement per set of columns changed (`update_statement`).
    Each row: its "id" and the new values."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(name for name in row if name != "id")), []).append(row)
    for names, group in groups.items():
        if not names:
            continue
        db.session.execute(*update_statement(table, names, group))
    return len(rows)


def update_statement(table: Table, names: Sequence[str], rows: Sequence[dict[str, Any]]) -> tuple[Any, dict]:
    """(the statement, its parameters) setting these columns of these rows by id: `WITH r AS MATERIALIZED (the
    rows) UPDATE t SET a = r.a FROM r WHERE t.id = r.id`.

    MATERIALIZED, because of row-level security: joined to the rows' subquery itself, the join's condition holds
    their casts from JSON text (`CAST(x->>0 AS INTEGER)`), which PostgreSQL does not let run before the table's
    policy (they are not leakproof) — so it could not look the ids up in the primary key, and scanned the whole
    table for every statement (bench/deadline_sweep.py as the application's role: 0.2–0.5 s an UPDATE of the pieces
    at 100 000 pieces, whatever the batch's size, plus JIT compilation). Read from a materialised set, the condition
    is an integer equality, and each row is found by its id."""
    source, document = _rows(table, ("id", *names), rows)
    sets = ", ".join(f'"{name}" = r."{name}"' for name in names)
    return (text(f'WITH r AS MATERIALIZED ({source}) UPDATE "{table.name}" SET {sets} FROM r '
                 f'WHERE "{table.name}".id = r.id'), {"rows": document})
