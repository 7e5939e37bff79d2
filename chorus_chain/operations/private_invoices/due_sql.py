"""A private invoice's due date written in SQL, for the dashboards' read model (`board.rows`: board_row's
`private_due`, which the « Factures entre entreprises échues, non payées » panel reads through a partial index).

The twin of `domain.commercial_terms.due_date` — the rule of L. 441-10 as this product applies it: `days` after the
invoice's date, or, « fin de mois », the last day of the month those days end in; failing an agreed term, the legal
30 days (`Term.agreed`). A calendar date, compared with the day in Paris (`marches.today`) when the panel is read:
no instant, no time zone. Both writings are tested equal on every day of several years and every term
(tests/integration/test_private_due.py), on PostgreSQL and SQLite.
"""
from __future__ import annotations

from sqlalchemy import Date, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.models import MarcheParty


class due_date(FunctionElement):
    """due_date(issue_date, days, end_of_month) → the date the invoice falls due."""

    type = Date()
    name = "private_due_date"
    inherit_cache = True


@compiles(due_date, "postgresql")
def _due_date_postgresql(element, compiler, **kw):
    issue, days, end_of_month = (compiler.process(clause, **kw) for clause in element.clauses)
    # date + integer is a date; the month's end through a timestamp without time zone (date_trunc on a date would
    # go through the session's time zone).
    return (f"(CASE WHEN {end_of_month} THEN CAST(date_trunc('month', CAST(({issue} + {days}) AS TIMESTAMP WITHOUT "
            f"TIME ZONE)) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) ELSE ({issue} + {days}) END)")


@compiles(due_date, "sqlite")
def _due_date_sqlite(element, compiler, **kw):
    issue, days, end_of_month = (compiler.process(clause, **kw) for clause in element.clauses)
    later = f"'+' || ({days}) || ' days'"
    return (f"(CASE WHEN {end_of_month} THEN date({issue}, {later}, 'start of month', '+1 month', '-1 day') "
            f"ELSE date({issue}, {later}) END)")


def agreed_due(issue_date, emitter_party_id):
    """A scalar subquery: the due date of an invoice of `issue_date` emitted by the party `emitter_party_id` (columns
    of the enclosing query), under the term that party agreed with its contractor or the legal 30 days."""
    days = MarcheParty.commercial_term_days
    return (select(due_date(issue_date, func.coalesce(days, commercial.DEFAULT_DAYS),
                            and_(days.is_not(None), func.coalesce(MarcheParty.commercial_term_end_of_month, False))))
            .where(MarcheParty.id == emitter_party_id).scalar_subquery())
