"""The demo marché's money, seeded through the operations: a price schedule giving each beneficiary its part, the
BT01 index, three états d'acompte — the second corrected by the MOE, the first paid late — and pages that show them."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from chorus_chain import access, demo
from chorus_chain.extensions import db
from chorus_chain.models import Marche, Piece
from chorus_chain.models.money import Decompte, EtatAcompte, IndexValue, PriceLine
from chorus_chain.operations import interest
# `app` and `demo_world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_marches_visibility import client_for, app, demo_world  # noqa: F401


def _etats(app, marche_id: int) -> list[EtatAcompte]:
    with app.test_request_context(), access.system_access("tests: the demo's états"):
        etats = db.session.scalars(select(EtatAcompte).where(EtatAcompte.marche_id == marche_id)
                                   .order_by(EtatAcompte.number)).all()
        for etat in etats:
            db.session.expunge(etat)
        return etats


def test_three_months_issued_one_corrected(app, demo_world):
    etats = _etats(app, demo_world["marche_id"])
    assert [(e.number, e.status) for e in etats] == [(1, "issued"), (2, "issued"), (3, "issued")]
    assert [e.contest_until is not None for e in etats] == [False, True, False]
    corrected = etats[1].result["corrections"]
    assert corrected and Decimal(corrected[0]["difference"]) == Decimal("-6000.00")  # 50 m² × 120 € not admitted
    # The sum of the three états is the cumulative amount due of the last one (CHORUS.md §6).
    this = sum(Decimal(e.result["marche"]["amount_due"]["this"]) for e in etats)
    assert this == Decimal(etats[-1].result["marche"]["amount_due"]["to_date"])
    with app.test_request_context(), access.system_access("tests: the demo's schedule"):
        total = db.session.scalar(select(func.sum(PriceLine.amount_ht)).where(
            PriceLine.marche_id == demo_world["marche_id"]))
        assert total == Decimal("1200000.00")  # the schedule gives each beneficiary its whole part
        assert db.session.scalar(select(func.count()).select_from(IndexValue)) == 4
        # The three months' projets de décompte, and the demo's works pieces on their way (each from its décompte).
        from chorus_chain.demo_money import MONTHS

        months = sum(len(month.cumul) for month in MONTHS)
        works = sum(1 for scenario in demo.DEMO_PIECES if scenario.is_works)
        assert (months, works) == (7, 5)
        assert db.session.scalar(select(func.count()).select_from(Decompte)) == months + works


def test_the_first_month_was_paid_late_and_earns_interest(app, demo_world):
    with app.test_request_context(), access.system_access("tests: the demo's payments"):
        marche = db.session.get(Marche, demo_world["marche_id"])
        paid = db.session.scalars(select(Piece).where(Piece.number.like("%PDM-01"))).all()
        assert paid and all(p.paid_on is not None for p in paid)
        owed = [interest.interest_of(p, marche=marche) for p in paid]
    # Durand's PDM reached the MOE the day it was deposited (55 days ago), Martin's a day later (after Durand's
    # validation); DGP 30 days. Martin's line was paid 26 days ago, two days before its due date; Durand's 5 days
    # ago: 20 days late, with its interest and the 40 €.
    late = [o for o in owed if o.late]
    assert len(owed) == 2 and [o.days for o in late] == [20] and late[0].total > Decimal("40.00")
    # The paying office paid état n° 1 line by line (issue 12), on two days: one line on time, one late with its
    # interest and the 40 € — the figures of the pieces above, now carried by the lines.
    from chorus_chain.models.etat_pieces import LinePayment, PayableLine
    from chorus_chain.models.money import EtatAcompte

    with app.test_request_context(), access.system_access("tests: the demo's payments"):
        first = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == demo_world["marche_id"],
                                                            EtatAcompte.number == 1))
        payments = db.session.scalars(select(LinePayment).join(PayableLine).where(
            PayableLine.etat_acompte_id == first.id)).all()
        assert sorted(p.days_late for p in payments) == [0, 20]
        assert len({p.paid_on for p in payments}) == 2
        assert sorted(p.interest + p.flat_fee for p in payments) == sorted(o.total for o in owed)
    with app.test_request_context(), access.system_access("tests: the demo's payments"):
        second = db.session.scalars(select(Piece).where(Piece.number.like("%PDM-02"))).all()
        assert second and all(not interest.interest_of(p, marche=marche).late for p in second)


def test_the_pages_show_the_months(app, demo_world):
    client, base = client_for(app, "moe")
    marche_id = demo_world["marche_id"]
    etats = client.get(f"{base}/{marche_id}/etats/").get_data(as_text=True)
    # Two états validated by the MOA (and paid line by line), the third issued and waiting on it.
    assert etats.count("validé par le maître d'ouvrage le") == 2 and etats.count("émis le") == 1
    assert "à valider par le maître d'ouvrage" in etats
    finances = re.sub(r"\s+", " ", client.get(f"{base}/{marche_id}/finances").get_data(as_text=True))
    assert "Où en est l'argent" in finances and "Plâtrerie Leroy" in finances and "<svg" in finances
    # Leroy (sous-traitant) sees its own figures only.
    client, base = client_for(app, "st_platrerie")
    own = client.get(f"{base}/{marche_id}/finances").get_data(as_text=True)
    assert "Plâtrerie Leroy" in own and "Durand Bâtiment" not in own.split("Par bénéficiaire")[1]
