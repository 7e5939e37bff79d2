"""Late-payment interest through the database (operations.interest), on the piece page and the marché page, and the
retenue de garantie release reminder of the sweep.

The worked examples use the ECB rates seeded by migration 0005:
- 18 Dec 2024: 3.15 %  → the rate in force on 1 January 2025 → 11.15 % for interest starting in H1 2025;
- 11 Jun 2025: 2.15 %  → the rate in force on 1 July 2025   → 10.15 % for interest starting in H2 2025.
The marché of `pieces_world` has a délai global de paiement of 30 days. The pieces are the mandataire's A4 (works:
the DGP runs from the MOE's receipt, i.e. the deposit), TVA 20 %.
"""
from __future__ import annotations

import html
import re
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import joinedload

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import InterestRate, Marche, MarcheEvent, MarcheParty, Notification, Piece
from chorus_chain.models.base import utcnow
from chorus_chain.operations import interest as ops
from tests import factories
from tests.integration.pieces_world import act, deposit, world
from tests.integration.pieces_world import logged_in as pw_logged_in

PARIS = ZoneInfo("Europe/Paris")


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=PARIS)


def received_piece(app, w, number: str, received: date, ht: str = "10000.00", until: str = "mark_mandatee") -> int:
    """The mandataire's A4 deposited on `received` (its DGP starts then), taken through the MOE and the MOA to
    the paying office (up to "mandatée", or the action `until`) within the same day."""
    piece_id = deposit(app, w, w.mandataire, "A4", number, ht=ht, now=at(received), issue_date=received.isoformat())
    for hour, who, action in ((10, w.moe, "take"), (11, w.moe, "issue_etat_acompte"), (12, w.moa, "moa_take"),
                              (13, w.moa, "moa_validate"), (14, w.moa, "mark_service_fait"),
                              (15, w.moa, "mark_mandatee")):
        act(app, who, piece_id, action, now=at(received, hour))
        if action == until:
            break
    return piece_id


def paid_piece(app, w, number: str, received: date, paid: date, ht: str = "10000.00") -> int:
    piece_id = received_piece(app, w, number, received, ht=ht)
    ttc = (Decimal(ht) * Decimal("1.2")).quantize(Decimal("0.01"))
    act(app, w.moa, piece_id, "mark_paid", now=at(paid, 16), amount=str(ttc), paid_on=paid.isoformat())
    return piece_id


def loaded(app, piece_id: int) -> Piece:
    with app.app_context(), access.system_access("test: read a piece with its marché"):
        piece = db.session.scalar(select(Piece).where(Piece.id == piece_id).options(joinedload(Piece.marche)))
        db.session.expunge_all()
        return piece


def interest(app, piece_id: int):
    piece = loaded(app, piece_id)
    with app.app_context():
        return ops.interest_of(piece)


def accruing(app, piece_id: int, today: date):
    piece = loaded(app, piece_id)
    with app.app_context():
        return ops.accruing_interest(piece, today)


@pytest.fixture
def w(app, db):
    return world(app)


# --- worked examples -------------------------------------------------------------------------------------------------

def test_paid_on_the_expiry_day_owes_nothing(app, w):
    # Received 3 March 2025 + 30 days = expiry 2 April 2025; paid 2 April: 0 days late → no interest, no 40 €.
    piece_id = paid_piece(app, w, "T-1", date(2025, 3, 3), date(2025, 4, 2))
    result = interest(app, piece_id)
    assert result.expiry == date(2025, 4, 2) and result.days == 0 and not result.late
    assert (result.interest, result.flat_fee, result.total) == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))
    assert result.rate_percent is None


def test_paid_ten_days_late_within_a_half_year(app, w):
    # Received 3 March 2025 → expiry 2 April 2025; paid 12 April 2025 → 12 − 2 = 10 days late.
    # Interest starts 3 April 2025 (H1 2025): ECB rate on 1 January 2025 = 3.15 % → 3.15 + 8 = 11.15 %.
    # Base = the amount paid, 12 000,00 € (10 000 HT + 20 % TVA).
    # 12 000 × 11.15 % = 1 338,00 € a year; × 10 / 365 = 36,6575… → 36,66 €; + 40,00 € = 76,66 €.
    piece_id = paid_piece(app, w, "T-2", date(2025, 3, 3), date(2025, 4, 12))
    result = interest(app, piece_id)
    assert (result.expiry, result.payment, result.days, result.start) == (
        date(2025, 4, 2), date(2025, 4, 12), 10, date(2025, 4, 3))
    assert (result.half_year, result.ecb_rate_percent, result.rate_percent) == (
        date(2025, 1, 1), Decimal("3.150"), Decimal("11.150"))
    assert result.base == Decimal("12000.00")
    assert (result.interest, result.flat_fee, result.total) == (Decimal("36.66"), Decimal("40.00"), Decimal("76.66"))


def test_a_delay_starting_in_june_and_paid_in_july_keeps_the_rate_of_the_first_half_year(app, w):
    # Received 16 May 2025 → expiry 15 June 2025; interest starts 16 June 2025, in H1 2025: the rate is the ECB
    # rate on 1 January 2025 (3.15 %) + 8 = 11.15 %, for the whole delay — not the 2.15 % in force on 1 July.
    # Paid 15 July 2025: 15 July − 15 June = 30 days. Base 24 000,00 € (20 000 HT + TVA).
    # 24 000 × 11.15 % = 2 676,00 € a year; × 30 / 365 = 219,9452… → 219,95 €; + 40,00 € = 259,95 €.
    # (With the July rate, 10.15 %, it would have been 24 000 × 10.15 % × 30 / 365 = 200,22 €.)
    piece_id = paid_piece(app, w, "T-3", date(2025, 5, 16), date(2025, 7, 15), ht="20000.00")
    result = interest(app, piece_id)
    assert (result.expiry, result.start, result.days) == (date(2025, 6, 15), date(2025, 6, 16), 30)
    assert (result.half_year, result.rate_percent) == (date(2025, 1, 1), Decimal("11.150"))
    assert (result.interest, result.total) == (Decimal("219.95"), Decimal("259.95"))


def test_a_delay_starting_in_july_takes_the_rate_of_1_july(app, w):
    # Received 2 June 2025 → expiry 2 July; interest starts 3 July 2025 (H2 2025): ECB rate on 1 July 2025 = 2.15 %
    # (since 11 June 2025) → 10.15 %. Paid 12 July: 10 days. 12 000 × 10.15 % × 10 / 365 = 33,3698… → 33,37 €.
    piece_id = paid_piece(app, w, "T-4", date(2025, 6, 2), date(2025, 7, 12))
    result = interest(app, piece_id)
    assert (result.half_year, result.ecb_rate_percent, result.rate_percent) == (
        date(2025, 7, 1), Decimal("2.150"), Decimal("10.150"))
    assert (result.days, result.interest, result.total) == (10, Decimal("33.37"), Decimal("73.37"))


def test_the_receipt_is_the_start_of_the_dgp_in_paris(app, w):
    # Deposited at 23:30 in Paris on 3 March 2025 (22:30 UTC): the receipt is 3 March, expiry 2 April.
    piece_id = deposit(app, w, w.mandataire, "A4", "T-5", now=at(date(2025, 3, 3), 23).replace(minute=30),
                       issue_date="2025-03-03")
    piece = loaded(app, piece_id)
    assert piece.received_at == piece.received_by_moe_at  # works: the DGP runs from the MOE's receipt
    assert ops.receipt_of(piece) == date(2025, 3, 3) and ops.expiry_of(piece) == date(2025, 4, 2)


def test_unpaid_credit_notes_private_invoices_and_drafts_have_no_interest(app, w):
    unpaid = received_piece(app, w, "T-6", date(2025, 3, 3))
    assert interest(app, unpaid) is None
    # A private invoice of the rang-2 sous-traitant to its contractor: no public DGP.
    private = deposit(app, w, w.st2, None, "P-1", now=at(date(2025, 3, 3)), issue_date="2025-03-03")
    assert act(app, w.st1, private, "validate", now=at(date(2025, 3, 4))) == "ACCEPTEE_CONTRACTANT"
    act(app, w.st1, private, "mark_paid", now=at(date(2025, 6, 1)), amount="1000,00", paid_on="2025-06-01")
    assert loaded(app, private).received_at is None
    assert interest(app, private) is None and accruing(app, private, date(2025, 6, 1)) is None


# --- accruing interest ------------------------------------------------------------------------------------------------

def test_accruing_interest_of_an_unpaid_piece_past_its_expiry(app, w):
    # Received 1 October 2025 → expiry 31 October 2025. Nothing accrues on or before the expiry.
    piece_id = received_piece(app, w, "T-7", date(2025, 10, 1))
    assert accruing(app, piece_id, date(2025, 10, 31)) is None
    # 10 November 2025: 10 days late; interest starts 1 November 2025 (H2 2025: 2.15 % + 8 = 10.15 %).
    # Base: the amount the paying office would pay, 12 000,00 € → 12 000 × 10.15 % × 10 / 365 = 33,37 €, + 40 €.
    result = accruing(app, piece_id, date(2025, 11, 10))
    assert (result.days, result.rate_percent, result.base) == (10, Decimal("10.150"), Decimal("12000.00"))
    assert (result.interest, result.total) == (Decimal("33.37"), Decimal("73.37"))
    # Once it is paid, interest_of answers and nothing accrues any more.
    act(app, w.moa, piece_id, "mark_paid", now=at(date(2025, 11, 10), 16), amount="12000,00", paid_on="2025-11-10")
    assert accruing(app, piece_id, date(2025, 11, 20)) is None
    assert interest(app, piece_id).total == Decimal("73.37")


def test_nothing_accrues_while_the_piece_is_sent_back_to_be_recycled(app, w):
    piece_id = received_piece(app, w, "T-8", date(2025, 10, 1), until="moa_validate")
    assert accruing(app, piece_id, date(2025, 11, 10)).days == 10  # at the paying office: it accrues
    act(app, w.moa, piece_id, "recycle", now=at(date(2025, 10, 2)), reason="engagement_juridique")
    assert accruing(app, piece_id, date(2025, 11, 10)) is None


def test_accruing_uses_the_accepted_amount(app, w):
    piece_id = deposit(app, w, w.mandataire, "A4", "T-9", now=at(date(2025, 10, 1)), issue_date="2025-10-01")
    act(app, w.moe, piece_id, "take", now=at(date(2025, 10, 1), 10))
    act(app, w.moe, piece_id, "issue_etat_acompte", amount="6 000,00", now=at(date(2025, 10, 1), 11))
    # 6 000 × 10.15 % × 10 / 365 = 16,6849… → 16,68 €
    assert accruing(app, piece_id, date(2025, 11, 10)).interest == Decimal("16.68")


def test_a_half_year_missing_from_the_rate_table_is_a_french_refusal(app, w):
    from chorus_chain.operations import OperationError

    piece_id = paid_piece(app, w, "T-10", date(2025, 3, 3), date(2025, 4, 12))
    with app.app_context():
        db.session.execute(db.delete(InterestRate).where(InterestRate.effective_from <= date(2025, 1, 1)))
        db.session.commit()
    with pytest.raises(OperationError, match="Aucun taux de la BCE connu au 1er janvier 2025"):
        interest(app, piece_id)


# --- the marché ------------------------------------------------------------------------------------------------------

def test_the_marche_sum_over_the_paid_pieces_the_structure_sees(app, w):
    paid_piece(app, w, "T-11", date(2025, 3, 3), date(2025, 4, 2))  # on time
    paid_piece(app, w, "T-12", date(2025, 3, 3), date(2025, 4, 12))  # 76,66 €
    paid_piece(app, w, "T-13", date(2025, 5, 16), date(2025, 7, 15), ht="20000.00")  # 259,95 €
    late_unpaid = received_piece(app, w, "T-14", date(2025, 10, 1))  # accruing: 73,37 € on 10 November 2025
    with app.test_request_context(), access.tenant(w.moa.structure_id):
        marche = db.session.get(Marche, w.marche_id)
        found = ops.marche_interest(marche, w.moa.structure_id, date(2025, 11, 10))
    assert [c.piece.number for c in found.claims] == ["T-12", "T-13"] and found.on_time == 1
    # 36,66 + 219,95 = 256,61 € of interest; 2 × 40 € of fees; 76,66 + 259,95 = 336,61 €.
    assert (found.interest, found.fees, found.total) == (Decimal("256.61"), Decimal("80.00"), Decimal("336.61"))
    assert [c.piece.id for c in found.accruing] == [late_unpaid] and found.accruing_total == Decimal("73.37")
    # A member who may not read works pieces sees none of them.
    with app.test_request_context(), access.tenant(w.moa.structure_id):
        marche = db.session.get(Marche, w.marche_id)
        assert ops.marche_interest(marche, w.moa.structure_id, date(2025, 11, 10), ["emises", "recues"]).empty
    # A sous-traitant that is not on these pieces' routes sees nothing of them.
    with app.test_request_context(), access.tenant(w.sibling.structure_id):
        marche = db.session.get(Marche, w.marche_id)
        assert ops.marche_interest(marche, w.sibling.structure_id, date(2025, 11, 10)).empty


def _count_statements(app, client, url: str) -> tuple[int, str]:
    with app.app_context():
        engine = db.engine
    statements = []

    def count(conn, cursor, statement, *args):
        if "set_config('chorus." not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def client_as(app, who):
    return pw_logged_in(app, who)


def test_the_piece_page_shows_the_interest_with_its_explanation(app, w):
    on_time = paid_piece(app, w, "T-20", date(2025, 3, 3), date(2025, 4, 2))
    late = paid_piece(app, w, "T-21", date(2025, 5, 16), date(2025, 7, 15), ht="20000.00")
    mandataire = client_as(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/pieces"
    quiet, page = _count_statements(app, mandataire, f"{base}/{on_time}")
    assert "ni intérêts moratoires ni indemnité forfaitaire" in page
    counted, page = _count_statements(app, mandataire, f"{base}/{late}")
    assert counted <= quiet + 1  # the rate table: one query, only when the payment is late
    text = re.sub(r"\s+", " ", html.unescape(page).replace("\u202f", " ").replace("\xa0", " "))
    for expected in ("Intérêts moratoires", "15 juin 2025", "15 juil. 2025", "30 jours", "1er semestre 2025",
                     "3,15 %", "11,15 %", "24 000,00 €", "219,95 €", "40,00 €", "259,95 €",
                     "Comment est-ce calculé ?", "à réclamer au maître d'ouvrage", "/taux-bce/"):
        assert expected in text, expected
    # The MOA reads who is owed the money.
    moa = client_as(app, w.moa)
    moa_page = html.unescape(moa.get(f"/s/{w.moa.siret}/pieces/{late}").get_data(as_text=True))
    assert "sont dus à Durand Test" in moa_page


def test_the_piece_page_of_a_late_unpaid_piece_shows_what_accrues_today(app, w):
    piece_id = received_piece(app, w, "T-22", date(2025, 3, 3))  # long past its expiry of 2 April 2025
    page = html.unescape(client_as(app, w.moa).get(f"/s/{w.moa.siret}/pieces/{piece_id}").get_data(as_text=True))
    assert "Paiement en retard." in page and "Paiement supposé aujourd'hui" in page
    now = utcnow()
    fresh = deposit(app, w, w.mandataire, "A4", "T-23", now=now, issue_date=now.date().isoformat())  # not late
    page = client_as(app, w.moa).get(f"/s/{w.moa.siret}/pieces/{fresh}").get_data(as_text=True)
    assert 'id="piece-interest"' in page and "Intérêts moratoires" not in page


def test_the_marche_page_lists_the_late_payments_ready_to_be_claimed(app, w):
    paid_piece(app, w, "T-30", date(2025, 3, 3), date(2025, 4, 12))
    paid_piece(app, w, "T-31", date(2025, 5, 16), date(2025, 7, 15), ht="20000.00")
    moa = client_as(app, w.moa)
    fragment_url = f"/s/{w.moa.siret}/marches/{w.marche_id}/interets"
    # The marché page holds the place (loaded after the page; a plain link without JavaScript).
    page = moa.get(f"/s/{w.moa.siret}/marches/{w.marche_id}").get_data(as_text=True)
    assert f'hx-get="{fragment_url}"' in page and f'href="{fragment_url}"' in page
    fragment = moa.get(fragment_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section class="card" id="marche-interest"')
    text = re.sub(r"\s+", " ", html.unescape(fragment).replace("\u202f", " ").replace("\xa0", " "))
    assert "prêts à réclamer" in text and "336,61 €" in text and "256,61 €" in text and "80,00 €" in text
    assert "T-30" in text and "T-31" in text and 'id="marche-interest"' in text
    assert "<html" in moa.get(fragment_url).get_data(as_text=True)  # without HTMX: a page
    # A sous-traitant off these pieces' routes sees none of them; an outsider gets 404.
    sibling = client_as(app, w.sibling)
    empty = sibling.get(f"/s/{w.sibling.siret}/marches/{w.marche_id}/interets", headers={"HX-Request": "true"})
    assert empty.get_data(as_text=True).strip() == '<div id="marche-interest"></div>'


def test_the_marche_interest_costs_the_same_queries_however_many_late_payments(app, w):
    paid_piece(app, w, "T-32", date(2025, 3, 3), date(2025, 4, 12))
    moa = client_as(app, w.moa)
    url = f"/s/{w.moa.siret}/marches/{w.marche_id}/interets"
    moa.get(url)
    before, _ = _count_statements(app, moa, url)
    for n in range(3):
        paid_piece(app, w, f"T-33{n}", date(2025, 5, 16), date(2025, 7, 15 + n))
    after, page = _count_statements(app, moa, url)
    assert after == before and "T-332" in page, (before, after)


# --- the retenue de garantie ----------------------------------------------------------------------------------------

def _set_reception(app, w, reception: date | None, **fields):
    with app.app_context():
        marche = db.session.get(Marche, w.marche_id)
        marche.reception_on = reception
        for name, value in fields.items():
            setattr(marche, name, value)
        db.session.commit()


def _release_notifications(app) -> list[Notification]:
    with app.app_context(), access.system_access("test: every notification"):
        found = db.session.scalars(select(Notification).where(Notification.text.contains("libérable"))
                                   .order_by(Notification.id)).all()
        db.session.expunge_all()
        return found


def test_the_marche_page_shows_the_release_date(app, w):
    moa = client_as(app, w.moa)
    url = f"/s/{w.moa.siret}/marches/{w.marche_id}"
    assert "libérable" not in moa.get(url).get_data(as_text=True)  # no réception yet
    _set_reception(app, w, date(2026, 3, 15))
    page = moa.get(url).get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")
    assert "Retenue de garantie libérable le <strong>15 mars 2027</strong>" in page
    _set_reception(app, w, date(2026, 3, 15), retenue_replaced_by_guarantee=True, guarantee_months=6)
    page = moa.get(url).get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")
    assert "remplacée par une garantie, libérable le <strong>15 sept. 2026</strong>" in page


def test_the_sweep_tells_the_holder_and_the_moa_once_when_the_release_date_is_reached(app, w):
    from chorus_chain.operations.retenue import RELEASE_NOTIFIED, notify_releases

    _set_reception(app, w, date(2025, 3, 15))
    with app.test_request_context():
        assert notify_releases(at(date(2026, 3, 14), 12)) == 0  # the day before: nothing
        db.session.commit()
    assert _release_notifications(app) == []
    with app.test_request_context():
        assert notify_releases(at(date(2026, 3, 15), 8)) == 1
        db.session.commit()
    sent = _release_notifications(app)
    assert {n.structure_id for n in sent} == {w.mandataire.structure_id, w.moa.structure_id}
    assert all(n.kind == "deadline_expired" and n.url == f"/s/{siret}/marches/{w.marche_id}"
               for n in sent for siret in [w.mandataire.siret if n.structure_id == w.mandataire.structure_id
                                           else w.moa.siret])
    assert "retenue de garantie est libérable depuis le 15 mars 2026" in sent[0].text
    mails = [m for m in factories.outbox(app) if "retenue de garantie libérable" in m.subject]
    assert mails and all("Le marché : http://localhost/s/" in m.body for m in mails)
    # Once only: the next sweeps (and a corrected réception) send nothing more.
    with app.test_request_context():
        assert notify_releases(at(date(2026, 3, 16))) == 0
        db.session.commit()
    _set_reception(app, w, date(2025, 3, 1))
    with app.test_request_context():
        assert notify_releases(at(date(2026, 4, 1))) == 0
        db.session.commit()
    assert len(_release_notifications(app)) == len(sent)
    with app.app_context():
        events = db.session.scalars(select(MarcheEvent).where(MarcheEvent.kind == RELEASE_NOTIFIED)).all()
        assert len(events) == 1 and events[0].detail["release_on"] == "2026-03-15"


def test_the_periodic_sweep_and_the_command_announce_the_release(app, w):
    from chorus_chain.jobs import periodic

    _set_reception(app, w, date(2024, 1, 10))
    with app.app_context():
        assert periodic.sweep_deadlines()["retenues_releasable"] == 1
    result = app.test_cli_runner().invoke(args=["deadlines", "sweep"])
    assert result.exit_code == 0 and "0 retenue(s) de garantie devenue(s) libérable(s)" in result.output


def test_no_reminder_without_a_retenue_nor_for_a_declined_party(app, w):
    from chorus_chain.operations.retenue import notify_releases

    _set_reception(app, w, date(2024, 1, 10), retenue_rate=Decimal("0.00"))
    with app.test_request_context():
        assert notify_releases(at(date(2026, 1, 1))) == 0
        db.session.commit()
    _set_reception(app, w, date(2024, 1, 10), retenue_rate=Decimal("5.00"))
    with app.app_context():
        row = db.session.get(MarcheParty, w.mandataire.party_id)
        row.status = "declined"
        db.session.commit()
    with app.test_request_context():
        assert notify_releases(at(date(2026, 1, 1))) == 1
        db.session.commit()
    assert {n.structure_id for n in _release_notifications(app)} == {w.moa.structure_id}
