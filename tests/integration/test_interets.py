"""Late-payment interest after the payment (issue 16, part C), worked through the database: an acompte paid late,
its interest and the 40 € flat fee due within 45 days of the principal's payment, the reminder before the 45 days,
the alerts when they lapse, and the interest paid by the buyer at the engine's figure.

Sources: R2192-31 to R2192-36 of the code de la commande publique (R2192-36: « Le montant des intérêts moratoires
et de l'indemnité forfaitaire […] est versé dans un délai de quarante-cinq jours suivant la mise en paiement du
principal »); CHORUS.md §5 and §6b for the interest itself. The world and the month: etat_pieces_world.py."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MarcheEvent, Notification
from chorus_chain.models.etat_pieces import LinePayment, PayableLine
from chorus_chain.operations import OperationError
from chorus_chain.operations.interets import paying as interets_paying
from chorus_chain.operations.interets import reading as interets_reading
from tests.integration.etat_pieces_world import at, correct_st1, issue, moa, month_of_may, open_etat, pay, validate
from tests.integration.pieces_world import acting, count, rows, system, world
from tests.integration.test_pieces_deadlines import sweep

UTC = timezone.utc


def _lines(app, etat_id: int) -> dict[str, PayableLine]:
    found = rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id, order_by=PayableLine.position)
    return {line.name: line for line in found}


def _validated_may(app):
    """May 2026's état, issued on 23 May and validated on 26 May (etat_pieces_world: the four lines)."""
    w = world(app)
    pdm = month_of_may(app, w)
    etat_id = open_etat(app, w, "2026-05", at("2026-05-22"))
    correct_st1(app, w, etat_id)
    issue(app, w, etat_id, at("2026-05-23"))
    validate(app, w, etat_id, at("2026-05-26"))
    return w, pdm, etat_id, _lines(app, etat_id)


def _interest_paid(app, w, etat_id, line_id, payment_id, day, now):
    return moa(app, w, lambda access, account, structure: interets_paying.record_interest_paid(
        access, etat_id, line_id, payment_id, account, structure, day, now=now))


def test_an_acompte_paid_late_owes_its_interest_within_45_days_reminded_then_lapsed_then_paid(app, db):
    w, pdm, etat_id, lines = _validated_may(app)
    st_co = lines[w.st_co.name]
    # On time: the mandataire's line (due 17 June) paid on 10 June — no interest, no clock.
    pay(app, w, etat_id, lines[w.mandataire.name].id, service_fait="2026-06-01", mandat="2026-06-05",
        amount="12312.00", paid_on="2026-06-10")
    # Late: st_co's line, DGP from the MOE's receipt of its PDM on 21 May + 30 days → due 20 June; paid 6 July.
    #   days = 6 July − 20 June = 16; rate = ECB rate on 1 January 2026 (2.15 %) + 8 = 10.15 %;
    #   interest = 5 130.00 × 10.15 % × 16 / 365 = 22.8249… → 22.82; flat fee 40.00; total 62.82.
    pay(app, w, etat_id, st_co.id, service_fait="2026-06-02", mandat="2026-06-30", amount="5130.00",
        paid_on="2026-07-06")
    [payment] = rows(app, LinePayment, LinePayment.line_id == st_co.id)
    assert (payment.interest, payment.flat_fee, payment.late_total) == (Decimal("22.82"), Decimal("40.00"),
                                                                        Decimal("62.82"))

    # One INTERETS clock, on st_co's projet de décompte (the piece its line pays), for that payment only.
    [clock] = rows(app, Deadline, Deadline.kind == "interets_moratoires")
    assert (clock.piece_id, clock.line_payment_id, clock.done_at) == (pdm["st_co"], payment.id, None)
    # Legal dates: 45 days from the principal's payment day (6 July) → last day 20 August; the clock is due at its
    # last instant, 20 August 23:59:59.999999 Paris = 21:59:59.999999 UTC (summer time); it starts on 6 July 00:00.
    assert payment.interest_last_day == date(2026, 8, 20)
    assert clock.due_at == datetime(2026, 8, 20, 21, 59, 59, 999999, tzinfo=UTC)
    assert clock.created_at == datetime(2026, 7, 5, 22, 0, tzinfo=UTC)

    # The piece page's reading: the interest to pay, running.
    with system(app):
        [due] = interets_reading.dues_of_pieces([pdm["st_co"]])[pdm["st_co"]]
        assert (due.amount, due.last_day, due.state(at("2026-08-01"))) == (Decimal("62.82"), date(2026, 8, 20),
                                                                           "to_pay")
        assert due.countdown(at("2026-08-01")) == "intérêts moratoires à payer dans 19 jours"

    # 13 August: no reminder yet (the 7-day one is due from 13 August 23:59:59.999999 Paris).
    assert sweep(app, at("2026-08-13"))["reminded"] == 0
    # 14 August: the paying office (the MOA's structure in this world) is reminded, once.
    assert sweep(app, at("2026-08-14")) == {"done": 0, "applied": 0, "reminded": 1}
    reminders = rows(app, Notification, Notification.piece_id == pdm["st_co"],
                     Notification.kind == "deadline_reminder")
    assert {n.structure_id for n in reminders} == {w.moa.structure_id}
    assert "intérêts moratoires à payer dans 6 jours" in reminders[0].text  # 14 → 20 August
    assert sweep(app, at("2026-08-15"))["reminded"] == 0

    # 20 August 23:59 Paris: still the last day. 21 August 00:00 Paris: lapsed — st_co (owed the money), the
    # titulaire (the mandataire of the groupement), the MOA and the paying office are told.
    assert sweep(app, datetime(2026, 8, 20, 21, 59, tzinfo=UTC))["done"] == 0
    assert sweep(app, datetime(2026, 8, 20, 22, 0, tzinfo=UTC)) == {"done": 1, "applied": 1, "reminded": 0}
    expired = rows(app, Notification, Notification.piece_id == pdm["st_co"], Notification.kind == "deadline_expired")
    assert {n.structure_id for n in expired} >= {w.st_co.structure_id, w.moa.structure_id}
    assert w.mandataire.structure_id in {n.structure_id for n in expired}
    assert "restent dus et sont repris au projet de décompte final" in expired[0].text
    with system(app):
        [due] = interets_reading.dues_of_pieces([pdm["st_co"]])[pdm["st_co"]]
        assert due.state(at("2026-08-21")) == "lapsed"
        assert interets_reading.unpaid_by_payee(w.marche_id) == {w.st_co.party_id: [due.payment]}

    # Bad input changes nothing: before the principal, in the future, a payment on time, twice.
    mandataire_line = lines[w.mandataire.name]
    [on_time] = rows(app, LinePayment, LinePayment.line_id == mandataire_line.id)
    refusals = [
        (st_co.id, payment.id, "2026-07-05", "avant le principal"),
        (st_co.id, payment.id, "2026-09-01", "dans le futur"),
        (mandataire_line.id, on_time.id, "2026-08-25", "fait à temps"),
        (mandataire_line.id, payment.id, "2026-08-25", "n'existe pas sur cette ligne"),
    ]
    for line_id, payment_id, day, words in refusals:
        with pytest.raises(OperationError) as refused:
            _interest_paid(app, w, etat_id, line_id, payment_id, day, at("2026-08-25"))
        assert words in refused.value.message
    # Only the paying office records it.
    with acting(app, w.st_co) as (account, structure):
        from chorus_chain.operations import marches as marche_ops
        with pytest.raises(OperationError, match="service financier"):
            interets_paying.record_interest_paid(marche_ops.access_for(structure, w.marche_id), etat_id, st_co.id,
                                                 payment.id, account, structure, "2026-08-25", now=at("2026-08-25"))
    assert rows(app, LinePayment, LinePayment.id == payment.id)[0].interest_paid_on is None

    # Paid on 25 August (late, still recorded): the engine's 62.82, nothing typed; journalled.
    _interest_paid(app, w, etat_id, st_co.id, payment.id, "2026-08-25", at("2026-08-25"))
    [payment] = rows(app, LinePayment, LinePayment.id == payment.id)
    assert payment.interest_paid_on == date(2026, 8, 25)
    event = rows(app, MarcheEvent, MarcheEvent.kind == "payable_line_interest_paid")[0]
    assert (event.detail["amount"], event.detail["on"], event.detail["principal_paid_on"]) == (
        "62.82", "2026-08-25", "2026-07-06")
    with pytest.raises(OperationError, match="déjà payés"):
        _interest_paid(app, w, etat_id, st_co.id, payment.id, "2026-08-26", at("2026-08-26"))
    with system(app):
        assert interets_reading.unpaid_by_payee(w.marche_id) == {}
    assert count(app, Deadline, Deadline.kind == "interets_moratoires", Deadline.done_at.is_(None)) == 0


def test_interest_paid_within_45_days_closes_the_clock_and_nobody_is_alerted(app, db):
    w, pdm, etat_id, lines = _validated_may(app)
    st_co = lines[w.st_co.name]
    pay(app, w, etat_id, st_co.id, service_fait="2026-06-02", mandat="2026-06-30", amount="5130.00",
        paid_on="2026-07-06")
    [payment] = rows(app, LinePayment, LinePayment.line_id == st_co.id)
    _interest_paid(app, w, etat_id, st_co.id, payment.id, "2026-08-20", at("2026-08-20"))  # the 45th day
    [clock] = rows(app, Deadline, Deadline.kind == "interets_moratoires")
    assert clock.done_at == at("2026-08-20")
    sweep(app, at("2026-09-30"))  # the month's other clocks (contest, DGP) may end here; this one is done
    assert rows(app, Deadline, Deadline.kind == "interets_moratoires")[0].done_at == at("2026-08-20")
    assert count(app, Notification, Notification.piece_id == pdm["st_co"],
                 Notification.kind.in_(("deadline_expired", "deadline_reminder"))) == 0


def test_two_late_payments_of_one_line_have_a_clock_each(app, db):
    """Two partial payments of st1's line (due 19 June), both late: each owes its interest and its 40 €, each within
    45 days of its own payment day (the open-clock index allows two on one piece for this kind only)."""
    w, pdm, etat_id, lines = _validated_may(app)
    st1 = lines[w.st1.name]
    pay(app, w, etat_id, st1.id, service_fait="2026-06-01", mandat="2026-06-05", amount="2000.00",
        paid_on="2026-06-22")
    pay(app, w, etat_id, st1.id, amount="2560.00", paid_on="2026-06-29")
    found = rows(app, Deadline, Deadline.kind == "interets_moratoires", order_by=Deadline.due_at)
    # 22 June + 45 days = 6 August; 29 June + 45 = 13 August (due at their last instant, Paris).
    assert [(d.piece_id, d.due_at.date()) for d in found] == [(pdm["st1"], date(2026, 8, 6)),
                                                              (pdm["st1"], date(2026, 8, 13))]
    # 22 June − 19 June = 3 days: 2 000 × 10.15 % × 3 / 365 = 1.668… → 1.67 (+ 40); 10 days on 2 560: 7.119… → 7.12.
    payments = rows(app, LinePayment, LinePayment.line_id == st1.id, order_by=LinePayment.id)
    assert [p.late_total for p in payments] == [Decimal("41.67"), Decimal("47.12")]


def test_a_late_payment_recorded_after_the_45_days_lapses_at_the_next_sweep(app, db):
    """The clock runs from the payment day, not from when the payment was recorded: recorded on 1 September for a
    payment of 6 July, it is already past its 20 August and the next sweep alerts."""
    w, pdm, etat_id, lines = _validated_may(app)
    st_co = lines[w.st_co.name]

    def steps(access, account, structure):
        from chorus_chain.operations.etat_pieces import paying
        paying.record_service_fait(access, etat_id, st_co.id, account, structure, "2026-06-02", now=at("2026-09-01"))
        paying.record_mandat(access, etat_id, st_co.id, account, structure, "2026-06-30", now=at("2026-09-01"))
        paying.record_payment(access, etat_id, st_co.id, account, structure, amount="5130.00", paid_on="2026-07-06",
                              now=at("2026-09-01"))

    moa(app, w, steps)
    [clock] = rows(app, Deadline, Deadline.kind == "interets_moratoires")
    assert clock.due_at == datetime(2026, 8, 20, 21, 59, 59, 999999, tzinfo=UTC)
    assert rows(app, Deadline, Deadline.kind == "interets_moratoires")[0].done_at is None
    sweep(app, at("2026-09-01", 11))
    assert rows(app, Deadline, Deadline.kind == "interets_moratoires")[0].done_at == at("2026-09-01", 11)
    # Each structure alerted is told of this piece: a notification of its own, or a line of the digest of the
    # sweep's batch when it was told of several pieces at once (`operations.bell_digest`).
    told = [(n.structure_id, line) for n in rows(app, Notification, Notification.kind == "deadline_expired")
            for line in (n.items or [{"piece_id": n.piece_id, "text": n.text}])
            if line["piece_id"] == pdm["st_co"] and "intérêts moratoires" in line["text"]]
    assert len(told) >= 3


def _text(response) -> str:
    import html
    import re
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))) \
        .replace("\u202f", " ").replace("\xa0", " ")


def test_the_pages_show_the_interest_to_whom_sees_the_piece_and_the_paying_office_records_it(app, db):
    """Through the pages, at the real instant: st_co's line (due 20 June 2026) paid today is late. Its interest and
    the 45 days show on st_co's projet de décompte, in the MOA's and st_co's Synthèse; st1 (another sous-traitant,
    who does not see st_co's piece) sees none of it. The paying office then records the interest paid."""
    from chorus_chain import formatting
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations import marches as marche_ops
    from tests.integration.pieces_world import logged_in

    w, pdm, etat_id, lines = _validated_may(app)
    st_co_line = lines[w.st_co.name]
    moa_client = logged_in(app, w.moa)
    page = f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}"
    today = marche_ops.today(utcnow())
    for step in ("service_fait", "mandat"):
        assert moa_client.post(f"{page}/lignes-a-payer/{st_co_line.id}",
                               data={"step": step, "day": today.isoformat()}).status_code in (302, 303)
    paid = moa_client.post(f"{page}/lignes-a-payer/{st_co_line.id}", follow_redirects=True,
                           data={"step": "paiement", "amount": "5130,00", "day": today.isoformat()})
    [payment] = rows(app, LinePayment, LinePayment.line_id == st_co_line.id)
    last_day = formatting.day(today + timedelta(days=45))
    assert payment.late_total > 40 and f"au plus tard le {last_day}" in _text(paid)
    amount = f"{payment.late_total:.2f}".replace(".", ",")
    shown = _text(moa_client.get(page))
    assert "Enregistrer le paiement des intérêts" in shown and f"à payer au plus tard le {last_day}" in shown

    st_co = logged_in(app, w.st_co)
    piece_page = _text(st_co.get(f"/s/{w.st_co.siret}/pieces/{pdm['st_co']}"))
    assert "Intérêts moratoires à payer par l'acheteur" in piece_page and amount in piece_page
    assert "Paiement des intérêts moratoires et de l'indemnité forfaitaire" in piece_page  # the clock, in Échéances
    assert "intérêts moratoires à payer dans 45 jours" in piece_page
    owed = _text(st_co.get(f"/s/{w.st_co.siret}/tableau-de-bord"))
    assert "Intérêts moratoires qui vous sont dus" in owed and amount in owed
    to_pay = _text(moa_client.get(f"/s/{w.moa.siret}/tableau-de-bord"))
    assert "Intérêts moratoires à payer (45 jours" in to_pay and "STCO-05" in to_pay and amount in to_pay
    # st1 does not see st_co's piece: neither the page nor the interest.
    st1 = logged_in(app, w.st1)
    assert st1.get(f"/s/{w.st1.siret}/pieces/{pdm['st_co']}").status_code == 404
    assert "STCO-05" not in _text(st1.get(f"/s/{w.st1.siret}/tableau-de-bord"))
    # Only the paying office records the interest paid (st_co has no part on the état's lines).
    refused = st_co.post(f"/s/{w.st_co.siret}/marches/{w.marche_id}/etats/{etat_id}/lignes-a-payer/{st_co_line.id}",
                         data={"step": "interets", "payment_id": payment.id, "day": today.isoformat()})
    assert refused.status_code in (403, 404, 422)
    recorded = moa_client.post(f"{page}/lignes-a-payer/{st_co_line.id}", follow_redirects=True,
                               data={"step": "interets", "payment_id": payment.id, "day": today.isoformat()})
    assert f"Paiement des intérêts moratoires enregistré : {amount}" in _text(recorded)
    piece_page = _text(st_co.get(f"/s/{w.st_co.siret}/pieces/{pdm['st_co']}"))
    assert f"payés le {formatting.day(today)}" in piece_page
    assert "Aucun intérêt moratoire à payer." in _text(moa_client.get(f"/s/{w.moa.siret}/tableau-de-bord"))


# --- Carried into the projet de décompte final --------------------------------------------------------------------

def _final_after_a_late_acompte(app, *, interest_paid_on: str | None = None):
    """decompte_general_world's marché (NOW = 2 March 2026): état 1 (January), the mandataire's 100 000,00 HT →
    amount due 114 000,00, issued on 2 March, validated on 3 March; its line's délai runs from the MOE's receipt of
    PDM-1 on 2 March + 30 days → due 1 April; paid on 20 April, 19 days late. Réception 27 February; the final état
    (solde 57 000,00) is opened and issued on 15 June, after the 45 days of the interest (last day 4 June)."""
    from chorus_chain.operations import etats_acompte as ops
    from tests.integration.decompte_general_world import as_moe
    from tests.integration.etats_world import pdm_with_decompte, price_line, setup_marche, taken_pdm
    from tests.integration.pieces_world import act

    w = world(app)
    m1 = price_line(app, w, "M1", w.mandataire.party_id, quantity="150", unit_price="1000")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={m1: "100"})
    first = open_etat(app, w, "2026-01", at("2026-03-02"))
    issue(app, w, first, at("2026-03-02"))
    validate(app, w, first, at("2026-03-03"))
    [line] = [x for x in _lines(app, first).values() if x.payable]
    pay(app, w, first, line.id, service_fait="2026-04-10", mandat="2026-04-15", amount="114000.00",
        paid_on="2026-04-20")
    [payment] = rows(app, LinePayment, LinePayment.line_id == line.id)
    if interest_paid_on:
        _interest_paid(app, w, first, line.id, payment.id, interest_paid_on, at(interest_paid_on))
    setup_marche(app, w, reception_on=date(2026, 2, 27))
    final_piece = pdm_with_decompte(app, w, w.mandataire, "A7", "PDF-1", "2026-02", {m1: "150"}, now=at("2026-06-10"))
    act(app, w.moe, final_piece, "take", now=at("2026-06-10"))
    final = as_moe(app, w, lambda access, account, structure: ops.open_etat(
        access, account, structure, "2026-02", now=at("2026-06-15"), final=True).id)
    as_moe(app, w, lambda access, account, structure: ops.issue(access, final, account, structure,
                                                                 now=at("2026-06-15")))
    return w, first, final, line, payment


def test_interest_still_unpaid_is_carried_into_the_final_etat_and_its_pdf(app, db):
    from chorus_chain.documents.etat_doc import etat_acompte_html
    from chorus_chain.models import Marche
    from chorus_chain.models.money import EtatAcompte
    from chorus_chain.operations import documents

    w, first, final, line, payment = _final_after_a_late_acompte(app)
    # The acompte's interest, computed once by the engine when the payment was recorded:
    #   days = 20 April − 1 April = 19; rate = ECB 2.15 % on 1 January 2026 + 8 = 10.15 %;
    #   interest = 114 000.00 × 10.15 % × 19 / 365 = 602.326… → 602.33; + 40.00 = 642.33.
    assert (line.dgp_started_on, line.due_on) == (date(2026, 3, 2), date(2026, 4, 1))
    assert (payment.days_late, payment.interest, payment.flat_fee) == (19, Decimal("602.33"), Decimal("40.00"))
    assert payment.interest_last_day == date(2026, 6, 4)  # 20 April + 45 days; unpaid when the final is issued

    with system(app):
        etat = db.session.get(EtatAcompte, final)
        result = etat.result
    [mandataire] = [b for b in result["dgd"]["beneficiaries"] if b["key"] == w.mandataire.party_id]
    # The solde is the price's (171 000.00 due to date − 114 000.00 paid = 57 000.00), reconciled as before; the
    # interest is carried beside it, as stored: 642.33; the total owed at the end 57 000.00 + 642.33 = 57 642.33.
    assert (mandataire["solde"], mandataire["interets"], mandataire["total_a_payer"]) == (
        "57000.00", "642.33", "57642.33")
    carried = next(x for x in mandataire["lines"] if x["label"].startswith("Intérêts moratoires restant dus"))
    assert [(o["name"], o["value"]) for o in carried["operands"]] == [("paiement du 20 avril 2026 (état n° 1)", "642.33")]
    assert (result["dgd"]["marche"]["interets"], result["dgd"]["marche"]["total_a_payer"]) == ("642.33", "57642.33")
    # The payable of the final état stays the solde: the interest is paid on the acompte's line, never twice.
    assert [p["this"] for p in result["payables"] if p["payee_key"] == w.mandataire.party_id] == ["57000.00"]

    # The final état's document (the projet de décompte général's PDF) carries the line.
    with system(app):
        etat = db.session.get(EtatAcompte, final)
        doc = documents.etat_doc(etat, db.session.get(Marche, etat.marche_id), frozen=True)
    assert [(r.name, r.amount, r.solde, r.total) for r in doc.carried_interest] == [
        (w.mandataire.name, Decimal("642.33"), Decimal("57000.00"), Decimal("57642.33"))]
    html = etat_acompte_html(doc)
    assert "Intérêts moratoires restant dus sur les acomptes" in html and "paiement du 20 avril 2026 (état n° 1)" in html

    # The export (v2, validated against the repository's schema) carries it, and the payment's interest unpaid.
    from tests.integration.test_etat_pieces_export import _export
    exported = _export(app, w)
    [dgd_row] = [b for b in exported["dgd"]["beneficiaries"] if b["name"] == w.mandataire.name]
    assert (dgd_row["solde"], dgd_row["interets"], dgd_row["total_a_payer"]) == ("57000.00", "642.33", "57642.33")
    [late] = [p for e in exported["etats"] for line in e.get("lines", ()) for p in line["payments"]
              if p["days_late"] > 0]
    assert (late["interest"], late["flat_fee"], late["interest_paid_on"]) == ("602.33", "40.00", None)

    # The DG page shows it to the holder.
    page = _text(logged_in_client(app, w.mandataire).get(f"/s/{w.mandataire.siret}/marches/{w.marche_id}/etats/{final}"))
    assert "Intérêts moratoires restant dus" in page and "57 642,33 €" in page


def test_interest_paid_before_the_final_is_not_carried(app, db):
    from chorus_chain.models.money import EtatAcompte

    w, first, final, line, payment = _final_after_a_late_acompte(app, interest_paid_on="2026-05-20")
    with system(app):
        result = db.session.get(EtatAcompte, final).result
    [mandataire] = [b for b in result["dgd"]["beneficiaries"] if b["key"] == w.mandataire.party_id]
    assert (mandataire["interets"], mandataire["total_a_payer"]) == ("0.00", "57000.00")
    assert not any(x["label"].startswith("Intérêts moratoires") for x in mandataire["lines"])


def logged_in_client(app, who):
    from tests.integration.pieces_world import logged_in

    return logged_in(app, who)
