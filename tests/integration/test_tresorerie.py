"""« Trésorerie » (issue 19): the expected dates learnt from what each counterpart actually took, only from the pieces
the structure sees; the page, its downloads, and a query count that does not grow with the data."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta
from decimal import Decimal

from openpyxl import load_workbook

from chorus_chain.extensions import db
from chorus_chain.models import Structure
from chorus_chain.operations.marches import today as paris_day
from chorus_chain.operations.tresorerie import reading
from tests.integration.db_counts import statements_of
from tests.integration.pieces_world import ISSUED, acting, act, deposit, later, logged_in, world

D = Decimal


def _paid_invoice(app, w, who, number: str, start: float, *, validation: float = 2, paying: float = 40) -> int:
    """An A9 of `who` deposited `start` days after NOW, validated by the mandataire `validation` days later, and paid
    by the paying office `paying` days after it reached it."""
    piece_id = deposit(app, w, who, "A9", number, now=later(start),
                       issue_date=min(paris_day(later(start)), ISSUED).isoformat())
    act(app, w.mandataire, piece_id, "validate", now=later(start + validation))
    act(app, w.moa, piece_id, "mark_service_fait", now=later(start + validation + 1))
    act(app, w.moa, piece_id, "mark_mandatee", now=later(start + validation + 2))
    paid = later(start + validation + paying)
    act(app, w.moa, piece_id, "mark_paid", now=paid, amount="1200,00", paid_on=paris_day(paid).isoformat())
    return piece_id


def _forecast(app, who, on: date, domains=reading.ALL_DOMAINS):
    with acting(app, who) as (_, structure):
        return reading.forecast_for(structure, on, domains)


def test_the_expected_date_follows_what_this_paying_office_actually_took(app, db):
    w = world(app, kind="services")
    for k in range(3):  # the paying office paid st1's last three invoices 40, 40 and 40 days after receiving them
        _paid_invoice(app, w, w.st1, f"F-{k}", start=k)
    waiting = deposit(app, w, w.st1, "A9", "F-9", now=later(10))
    act(app, w.mandataire, waiting, "validate", now=later(12))  # at the paying office since NOW + 12 days
    on = paris_day(later(20))
    forecast = _forecast(app, w.st1, on)
    [flow] = forecast.flows
    assert flow.incoming and flow.piece_id == waiting and flow.amount == D("1200.00")
    # 40 days at the paying office, 8 gone by: 32 days from today — not the legal 30 days from the receipt.
    assert flow.expected == paris_day(later(12)) + timedelta(days=40)
    assert flow.legal_due == paris_day(later(12)) + timedelta(days=30)
    assert "Le comptable (Commune de Test) met habituellement 40 jours pour payer (médiane de 3 pièces)" in \
        flow.explanation
    assert flow.interest is not None and flow.interest > 0  # ten days late: the engine's interest and 40 € fee
    assert forecast.alerts == [flow]  # ten days after the legal date: more than a week
    # The paying office sees the same amount going out, on the same day.
    [out] = _forecast(app, w.moa, on).flows
    assert not out.incoming and out.expected == flow.expected and out.counterpart == "Plâtrerie Test"


def test_habits_are_learnt_only_from_the_pieces_the_structure_sees(app, db):
    w = world(app, kind="services")
    for k in range(3):
        _paid_invoice(app, w, w.st1, f"F-{k}", start=k)
    mine = deposit(app, w, w.sibling, "A9", "S-1", now=later(10))
    act(app, w.mandataire, mine, "validate", now=later(12))
    [flow] = _forecast(app, w.sibling, paris_day(later(20))).flows
    # The sibling never saw st1's invoices: the paying office's habit is unknown to it, the legal délai stands.
    assert flow.piece_id == mine
    assert flow.expected == paris_day(later(12)) + timedelta(days=30)
    assert "pas encore d'historique" in flow.explanation and "Plâtrerie" not in flow.explanation
    assert all(f.piece_id == mine for f in _forecast(app, w.sibling, paris_day(later(20))).flows)


def test_a_private_invoice_is_expected_in_by_its_emitter_and_out_by_its_contractor(app, db):
    w = world(app)
    piece_id = deposit(app, w, w.st2, None, "P-1", ht="500.00")
    on = paris_day(later(1))
    [incoming] = _forecast(app, w.st2, on).flows
    [outgoing] = _forecast(app, w.st1, on).flows
    assert incoming.incoming and not outgoing.incoming and incoming.piece_id == outgoing.piece_id == piece_id
    assert incoming.kind == "private" and incoming.interest is None
    assert incoming.counterpart == "Plâtrerie Test" and outgoing.counterpart == "Peinture Test"
    assert _forecast(app, w.mandataire, on).flows == []  # not a party to it
    # A member without the right on works pieces does not get their amounts (a works marché's private invoice is a
    # works piece: pieces_records.rights_domain).
    assert incoming.domain == "travaux"
    assert _forecast(app, w.st2, on, frozenset({"emises", "recues"})).flows == []


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " "))


def test_the_page_and_its_downloads(app, db):
    w = world(app, kind="services")
    piece_id = deposit(app, w, w.st1, "A9", "F-PAGE", now=later(0))
    client = logged_in(app, w.st1)
    page = client.get(f"/s/{w.st1.siret}/tresorerie")
    assert page.status_code == 200
    body = _text(page)
    assert "Trésorerie : l'argent attendu par Plâtrerie Test" in body
    assert "<svg" in body and "Encaissements attendus" in body and "F-PAGE" in body
    assert "attendu vers le" in body and "Sur quoi repose cette date" in body
    assert 'data-testid="nav-tresorerie"' in body
    csv = client.get(f"/s/{w.st1.siret}/tresorerie.csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"] == "text/csv; charset=utf-8"  # once
    text = csv.get_data().decode("utf-8-sig")
    header, row = text.splitlines()[:2]
    assert header.startswith("Sens;Marché;Contrepartie") and "F-PAGE" in row and "1200,00" in row
    xlsx = client.get(f"/s/{w.st1.siret}/tresorerie.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet["D2"].value == "Facture F-PAGE" and sheet["F2"].value == 1200
    # A neighbour's page says nothing of it.
    neighbour = _text(logged_in(app, w.sibling).get(f"/s/{w.sibling.siret}/tresorerie"))
    assert "F-PAGE" not in neighbour and "Aucun montant n'est attendu" in neighbour
    assert piece_id


def test_the_number_of_queries_does_not_grow_with_the_data(app, db):
    w = world(app, kind="services")
    client = logged_in(app, w.moa)
    url = f"/s/{w.moa.siret}/tresorerie"
    _paid_invoice(app, w, w.st1, "F-0", start=-200, paying=45)
    deposit(app, w, w.st1, "A9", "F-W0", now=later(0))
    small = len(statements_of(app, client, url))
    for k in range(1, 4):
        _paid_invoice(app, w, w.st1, f"F-{k}", start=-200 + k, paying=45)
        _paid_invoice(app, w, w.sibling, f"S-{k}", start=-200 + k, paying=45)
    for k in range(1, 6):
        piece_id = deposit(app, w, w.sibling, "A9", f"S-W{k}", now=later(k))
        act(app, w.mandataire, piece_id, "validate", now=later(k + 1))
    large = len(statements_of(app, client, url))
    assert small == large


def test_the_payment_tracker_says_when_the_money_is_expected(app, db):
    w = world(app, kind="services")
    for k in range(3):
        _paid_invoice(app, w, w.st1, f"F-{k}", start=k)
    waiting = deposit(app, w, w.st1, "A9", "F-9", now=later(10))
    act(app, w.mandataire, waiting, "validate", now=later(12))
    with acting(app, w.st1) as (_, structure):
        from chorus_chain.operations import dashboard

        tracked = {t.piece.number: t for t in dashboard.payment_tracker(structure, None, now=later(20))}
    assert tracked["F-0"].expected is None  # paid
    expected = tracked["F-9"].expected
    assert expected.expected == paris_day(later(12)) + timedelta(days=40)
    page = _text(logged_in(app, w.st1).get(f"/s/{w.st1.siret}/tableau-de-bord"))
    # (The page reads today's date: the history of March 2026 may have left its eighteen months; the words stay.)
    assert 'data-testid="tracker-expected"' in page and "Paiement attendu vers le" in page


def test_an_etat_d_acompte_speaks_for_its_pieces_with_the_engine_s_figures(app, db):
    from tests.integration.etat_pieces_world import at, correct_st1, issue, month_of_may, open_etat, pay, validate
    from tests.integration.pieces_world import rows
    from chorus_chain.models.etat_pieces import PayableLine

    w = world(app)
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    on = date(2026, 5, 25)
    # Issued, not validated: one amount per payee, the engine's payable (st1: 4 800 admitted − 240 retenue).
    [mine] = _forecast(app, w.st1, on).flows
    assert (mine.kind, mine.amount, mine.etat_id) == ("etat", D("4560.00"), etat_id)
    assert mine.label == "État d'acompte n° 1 (ST1-05)" and mine.stage_now.startswith("dans un état d'acompte")
    assert mine.legal_due == date(2026, 5, 20) + timedelta(days=30)  # the DGP runs from the MOE's receipt
    # The retenue held so far (the engine's 5 %: 240.00 on st1's 4 800.00) has no date before the réception.
    [held] = _forecast(app, w.st1, on).undated
    assert (held.label, held.amount) == ("Retenue de garantie", D("240.00"))
    paying = _forecast(app, w.moa, on).flows
    assert sorted(f.amount for f in paying) == [D("4560.00"), D("5130.00"), D("12312.00"), D("12426.00")]
    assert sum(f.amount for f in paying) == D("34428.00") and not any(f.incoming for f in paying)
    # Validated: the line speaks, with its own legal date; the st1 sees only its own.
    validate(app, w, etat_id, at("2026-05-26"))
    [line] = _forecast(app, w.st1, date(2026, 5, 27)).flows
    st1_line = next(l for l in rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id)
                    if l.payee_party_id == w.st1.party_id)
    assert (line.kind, line.amount, line.legal_due) == ("line", st1_line.amount, st1_line.due_on)
    assert line.counterpart == "Commune de Test" and line.incoming
    assert len(_forecast(app, w.moa, date(2026, 5, 27)).flows) == 4
    # Paid: nothing more to expect.
    pay(app, w, etat_id, st1_line.id, service_fait="2026-05-27", mandat="2026-05-28", amount="4560.00",
        paid_on="2026-05-29")
    assert _forecast(app, w.st1, date(2026, 5, 30)).flows == []
    assert len(_forecast(app, w.moa, date(2026, 5, 30)).flows) == 3
    # Once the works are received, the retenue has its date: the end of the guarantee period, then the DGP.
    from chorus_chain.models import Marche
    from tests.integration.pieces_world import system

    with system(app):
        db.session.get(Marche, w.marche_id).reception_on = date(2026, 6, 30)
    [retenue] = _forecast(app, w.st1, date(2026, 7, 1)).flows
    assert (retenue.kind, retenue.amount, retenue.incoming) == ("retenue", D("240.00"), True)
    assert retenue.low == date(2027, 6, 30) and retenue.expected == date(2027, 7, 30)
    assert "fin du délai de garantie" in retenue.explanation
    assert sum(f.amount for f in _forecast(app, w.moa, date(2026, 7, 1)).flows if f.kind == "retenue") == \
        D("240.00") + D("270.00") + D("648.00") + D("654.00")


def test_the_advance_left_to_repay_follows_the_marche_s_repayment_pace(app, db):
    from chorus_chain.models import Marche
    from tests.integration.etat_pieces_world import at, issue, month_of_may, open_etat
    from tests.integration.pieces_world import system

    w = world(app)
    with system(app):
        marche = db.session.get(Marche, w.marche_id)
        marche.avance_rate, marche.avance_repayment_start, marche.avance_repayment_end = D("5.00"), D("10.00"), D("70.00")
    month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, etat_id, at("2026-05-23"))
    advances = [u for u in _forecast(app, w.mandataire, date(2026, 5, 25)).undated if u.label == "Avance à rembourser"]
    assert advances and not advances[0].incoming  # the company pays it back, from its next acomptes
    assert "de 10 % à 70 % d'exécution de sa part" in advances[0].text and "65 %" not in advances[0].text
