"""A private invoice's due date as the read model computes it in SQL (`private_invoices.due_sql`, board_row's
`private_due`) is the domain's (`commercial_terms.due_date`): every day of more than two years — month ends, a leap
February, year ends — under every kind of term, on PostgreSQL (the test database) and on SQLite (the embedded
default)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Boolean, Date, Integer, column, create_engine, literal, select, values

from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.extensions import db
from chorus_chain.operations.private_invoices.due_sql import due_date

TERMS = ((1, False), (29, False), (30, False), (31, False), (45, False), (60, False),
         (1, True), (15, True), (30, True), (45, True))
FIRST = date(2023, 12, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(0, 850)]  # to the end of March 2026, through 29 February 2024


def expected(issue: date, days: int, end_of_month: bool) -> date:
    return commercial.due_date(issue, days, end_of_month=end_of_month)


def test_the_sql_due_date_is_the_domain_s_on_the_test_database(app, db):
    combos = [(issue, days, end_of_month) for issue in DAYS for days, end_of_month in TERMS]
    table = values(column("issue", Date), column("days", Integer), column("eom", Boolean), name="combo").data(combos)
    with app.app_context():
        rows = db.session.execute(select(table.c.issue, table.c.days, table.c.eom,
                                         due_date(table.c.issue, table.c.days, table.c.eom))).all()
    assert len(rows) == len(combos)
    wrong = [(issue, days, eom, got) for issue, days, eom, got in rows if got != expected(issue, days, eom)]
    assert not wrong, wrong[:5]


def test_the_sql_due_date_is_the_domain_s_on_sqlite():
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        for issue in DAYS[::3]:
            for days, end_of_month in TERMS:
                got = connection.scalar(select(due_date(literal(issue, Date), literal(days, Integer),
                                                        literal(end_of_month, Boolean))))
                assert got == expected(issue, days, end_of_month), (issue, days, end_of_month)
