"""Whether a text column of the database sorts by code points, as the number search's range needs
(`board_reading.numbers`).

The range [« F9 », « F: ») holds every number starting with « F9 » only in an order where a text sorts before every
longer text it begins and characters compare by code point: the C collation's, `C.UTF-8`'s (PostgreSQL's libc or
builtin provider), SQLite's BINARY. The project's databases are created in C.UTF-8, but nothing forces a deployment
to: `initdb --locale=fr_FR.UTF-8`, or an ICU locale, gives the column a linguistic collation, where « : » sorts before
the digits — « F9-001 » then falls above « F: » and the search for « F9 » missed it (and « PL-2026-009 », after
« PL-2026-00: », for « PL-2026-009 »). Under such a collation the range is compared `COLLATE "C"`
(`numbers.bound_starting_with`): exact again; the (structure, number_key) index, built in the column's collation,
then narrows the structure only, not the range (see `bound_starting_with`).

Read once per process, database and column, from the catalog: the column's collation, its database's when it has
the default.
"""
from __future__ import annotations

from sqlalchemy import bindparam, text

from chorus_chain.read_requests import reads_only

# Collations (libc locale names, and PostgreSQL's own) that compare by code point.
CODE_POINT_LOCALES = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8", "ucs_basic", "pg_c_utf8", "PG_UNICODE_FAST"})

# The column's collation and, for « default », its database's. `datlocprovider` is read through to_jsonb: the
# column exists from PostgreSQL 15 (before, every database is libc).
_CATALOG = reads_only(text(
    "SELECT c.collname, c.collprovider, c.collcollate, d.datcollate, to_jsonb(d) ->> 'datlocprovider' "
    "FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
    "JOIN pg_database d ON d.datname = current_database() "
    "WHERE a.attrelid = to_regclass(:table_name) AND a.attname = :column_name"
).bindparams(bindparam("table_name"), bindparam("column_name")))

_known: dict[tuple, bool] = {}


def sorts_by_code_point(connection, column) -> bool:
    """Whether `column` (a mapped or Core column) compares by code point in the database of `connection`: always on
    SQLite (BINARY); on PostgreSQL, as its collation says (`in_code_point_order`). Kept per database and column."""
    if connection.dialect.name != "postgresql":
        return True
    table_name = column.table.name
    key = (connection.engine.url, table_name, column.name)
    known = _known.get(key)
    if known is None:
        row = connection.execute(_CATALOG, {"table_name": table_name, "column_name": column.name}).first()
        known = row is not None and in_code_point_order(*row)
        _known[key] = known
    return known


def in_code_point_order(collation: str, provider: str, locale: str | None, database_locale: str | None,
                        database_provider: str | None) -> bool:
    """Whether a column of collation `collation` (provider `provider`: « c » libc, « i » ICU, « b » builtin,
    « d » the database's default) compares by code point. Pure."""
    if collation == "default":
        if database_provider == "i":  # ICU: linguistic, whatever its locale
            return False
        return database_provider == "b" or database_locale in CODE_POINT_LOCALES
    if provider == "i":
        return False
    return collation in CODE_POINT_LOCALES or provider == "b" or locale in CODE_POINT_LOCALES
