"""The demo's dates follow the day it is seeded, so that the README's story is true on any day: the first month paid
20 days late, the second's contest window open, the third at the MOA's, PL-2026-002 tacitly validated in two days —
and no clock of the demo has already run out when it is seeded (a sweep right after changes nothing)."""
from __future__ import annotations

import html
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.access import system_access
from chorus_chain.domain import commercial_terms
from chorus_chain.demo_money import first_deposits, works_months
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Marche, Piece
from chorus_chain.models.base import utcnow
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations.deadlines import remind, sweep
from chorus_chain.operations.marches import today as business_today


def _month(value: date) -> str:
    return f"{value.year:04d}-{value.month:02d}"


@pytest.mark.parametrize("year", [2026, 2028])  # a leap year too
def test_works_months_are_consecutive_and_ended_before_their_decompte(year):
    """Whatever the seeding day, the works months (the three of the états, and the fourth of the works pieces on
    their way) are consecutive calendar months, each over before its first PDM — and no earlier than the mois zéro."""
    assert first_deposits() == [55, 25, 20, 13]  # month 3's first is Leroy's PL-2026-001, month 4's PL-2026-002
    day = datetime(year, 1, 1, 8, tzinfo=timezone.utc)
    while day.year == year:
        deposits = [day - timedelta(days=days) for days in first_deposits()]
        months = works_months(deposits)
        assert months[0] >= _month((day - timedelta(days=demo.CREATED_DAYS_AGO)).date()), (day, months)
        for earlier, later in zip(months, months[1:]):
            y, m = map(int, earlier.split("-"))
            assert later == (f"{y + 1:04d}-01" if m == 12 else f"{y:04d}-{m + 1:02d}"), (day, months)
        for month, deposit in zip(months, deposits, strict=True):
            assert month < _month(deposit.date()), (day, months)
        day += timedelta(days=1)


@pytest.fixture
def seeded(app, db):
    with app.app_context():
        demo.seed()
        db.session.commit()
    return utcnow()


def test_the_readme_story_holds_the_day_it_is_seeded(app, seeded):
    today = seeded.date()
    with app.app_context(), system_access("tests: the demo's calendar"):
        marche = db.session.scalar(select(Marche).where(Marche.reference == demo.DEMO_MARCHE))
        etats = db.session.scalars(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id)
                                   .order_by(EtatAcompte.number)).all()
        # The second état, corrected by the MOE: its 30 days to contest are still running (for about ten days).
        assert etats[1].contest_until is not None and etats[1].contest_until >= today + timedelta(days=7)
        # PL-2026-002: « validation tacite dans 2 jours ».
        piece = db.session.scalar(select(Piece).where(Piece.number == "PL-2026-002"))
        clock = db.session.scalar(select(Deadline).where(Deadline.piece_id == piece.id, Deadline.done_at.is_(None)))
        assert clock.due_at.date() - today == timedelta(days=2)
        # Nothing of the demo is dated after the seeding.
        assert marche.created_at.date() == today - timedelta(days=demo.CREATED_DAYS_AGO)
        assert all(e.month < _month(today) for e in etats)


def test_a_sweep_right_after_seeding_changes_nothing(app, seeded):
    with app.app_context():
        with system_access("tests: the demo's open clocks"):
            open_clocks = db.session.scalars(select(Deadline).where(Deadline.done_at.is_(None))).all()
            assert open_clocks  # the demo has running clocks (validation, MOE, DGP, contest)…
            assert all(c.due_at > seeded for c in open_clocks)  # …none of them already run out
        assert sweep(utcnow()) == {"done": 0, "applied": 0}
        assert remind(utcnow()) == 0  # the reminders already earned went out with the seeding
        db.session.rollback()


def test_an_unpaid_private_invoice_past_due_is_flagged_for_both_companies(app, seeded):
    """NM-2026-001 (Moreau to Durand, code de commerce, accepted and unpaid, due 30 days after its date): on the
    Synthèse and the Tableau de bord of the company owed and of the one that must pay — of no one else."""
    from tests.integration.test_marches_visibility import client_for

    with app.app_context(), system_access("tests: the demo's private invoice"):
        invoice = db.session.scalar(select(Piece).where(Piece.number == "NM-2026-001"))
        piece_id = invoice.id
        days = (business_today(utcnow()) - commercial_terms.due_date(invoice.issue_date)).days
    for key, says in (("st_nettoyage", "due par votre donneur d'ordre"), ("mandataire", "à payer à Nettoyage Moreau")):
        client, base = client_for(app, key)
        home = base.removesuffix("/marches")
        for page in ("/synthese", "/tableau-de-bord"):
            body = html.unescape(client.get(home + page).get_data(as_text=True))
            assert 'data-testid="overdue-private"' in body and "NM-2026-001" in body and says in body, (key, page)
        # …and on its own page, where both go to pay or to claim it: its due date, and how late it is.
        body = html.unescape(client.get(f"{home}/pieces/{piece_id}").get_data(as_text=True))
        assert 'data-testid="private-overdue"' in body and f"Échue depuis {days} jours, non payée" in body, key
    client, base = client_for(app, "st_platrerie")  # not a party to that invoice
    assert "NM-2026-001" not in client.get(base.removesuffix("/marches") + "/synthese").get_data(as_text=True)
