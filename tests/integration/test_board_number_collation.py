"""The Tableau de bord's number search in a database created in a linguistic collation (ICU fr-FR, en-US), not in
C.UTF-8 as the project's: every number starting with what was typed is found (`board_reading.collation`,
`numbers.bound_starting_with`). The machine has no fr_FR / en_US libc locale; ICU's sort « : » and « [ » before the
digits and the letters as glibc's do, which is what put « F9-001 » outside the range [« F9 », « F: »)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, select, text

from chorus_chain.models.board import BoardRow
from chorus_chain.operations import dashboard
from chorus_chain.operations.board_reading import collation, numbers
from tests.conftest import PG_ADMIN_URL, _admin_engine, _worker

pytestmark = pytest.mark.postgres

NUMBERS = ("F9", "F9-001", "F90", "F:1", "FA-1", "FZ-1", "FZZ", "F[1", "PL-2026-009", "PL-2026-0091",
           "PL-2026-00A", "ST-2", "ST-2-1", "ST-20", "ST-3", "DB-PDM-01", "DB-PDM-02", "DBPDM")
TYPED = ("F9", "F", "FZ", "PL-2026-009", "PL-2026-00", "ST-2", "ST-", "DB-PDM-0", "DB", "Z", "ST-20")


@pytest.fixture(scope="module", params=["fr-FR", "en-US"])
def linguistic(request):
    """A database of its own whose default collation is ICU's `request.param`, with the number column alone."""
    name = f"chorus_collation_{request.param.lower().replace('-', '')}_{re.sub(r'[^a-z0-9]', '', _worker().lower())}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu "
                          f"ICU_LOCALE '{request.param}'"))
    engine = create_engine(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE board_row (number_key varchar(20) NOT NULL)"))
        conn.execute(text("INSERT INTO board_row (number_key) VALUES (:n)"), [{"n": n} for n in NUMBERS])
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _found(conn, typed: str, code_points: bool) -> list[str]:
    params = numbers.prefix_params(typed)
    condition = dashboard.number_condition(numbers.NUMBER_TO in params, code_points)
    return sorted(conn.scalars(select(BoardRow.number_key).where(condition), params))


def test_every_number_starting_with_the_prefix_is_found_in_a_linguistic_collation(linguistic):
    with linguistic.connect() as conn:
        assert collation.sorts_by_code_point(conn, BoardRow.number_key) is False
        for typed in TYPED:
            assert _found(conn, typed, False) == sorted(n for n in NUMBERS if n.startswith(typed)), typed
        # The range in the column's own collation, as before: « F9-001 » sorts above « F: », « PL-2026-0091 » above
        # « PL-2026-00: », « FZ-1 » above « F[ » — missed.
        assert "F9-001" not in _found(conn, "F9", True) and "PL-2026-0091" not in _found(conn, "PL-2026-009", True)
        assert "FZ-1" not in _found(conn, "FZ", True)


def test_the_project_databases_sort_by_code_point(app, db):
    """C.UTF-8 (tests/faults/harness.py, the bench databases): the range stays in the column's collation, served by
    the (structure, number_key) index."""
    with app.app_context():
        assert collation.sorts_by_code_point(db.session.connection(), BoardRow.number_key) is True


@pytest.mark.parametrize("row, expected", [
    (("default", "d", None, "C.UTF-8", "c"), True),
    (("default", "d", None, "C", None), True),  # before PostgreSQL 15: no provider column, libc
    (("default", "d", None, "fr_FR.UTF-8", "c"), False),
    (("default", "d", None, "en_US.utf8", None), False),
    (("default", "d", None, "C.UTF-8", "i"), False),  # ICU database (its libc locale says nothing of the order)
    (("default", "d", None, "C.UTF-8", "b"), True),  # PostgreSQL 17's builtin provider: code points
    (("C", "c", "C", None, None), True),
    (("ucs_basic", "c", "C", None, None), True),
    (("fr-FR-x-icu", "i", "fr-FR", None, None), False),
    (("fr_FR", "c", "fr_FR.utf8", None, None), False),
    (("pg_c_utf8", "b", None, None, None), True),
])
def test_which_collations_sort_by_code_point(row, expected):
    assert collation.in_code_point_order(*row) is expected
