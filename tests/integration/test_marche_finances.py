"""The marché's financial page: figures of the issued états d'acompte and of the payments, charts, who sees what,
and a query count that does not grow with the number of états or payments."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal


from chorus_chain import access
from chorus_chain.domain.money import Beneficiary, DecompteMensuel, MarcheTerms, PartDecompte, compute_etat_acompte
from chorus_chain.extensions import db
from chorus_chain.models import EtatAcompte, Piece, PieceAccess, Structure
from tests import factories
from tests.integration import pieces_world as pw
from tests.integration.db_counts import statements_of
from tests.integration.pieces_world import logged_in as pw_logged_in

D = Decimal


def _issue_etats(app, w, months: list[tuple[str, str, str]]) -> list:
    """Issued états computed by the engine for two beneficiaries (the mandataire and the co-traitant, keys = their
    party ids), from cumulative works (month, mandataire, co-traitant)."""
    terms = MarcheTerms(montant_ht=D("1000000.00"), tva_rate=D("0.20"), duration_months=12, groupement="conjoint")
    beneficiaries = (Beneficiary(w.mandataire.party_id, "Durand Test", "mandataire", D("500000.00")),
                     Beneficiary(w.cotraitant.party_id, "Martin Test", "cotraitant", D("500000.00")))
    etats, previous = [], None
    with app.test_request_context(), access.system_access("tests: issued états"):
        for n, (month, m, c) in enumerate(months, start=1):
            etat = compute_etat_acompte(terms, beneficiaries, DecompteMensuel(n, month, (
                PartDecompte(w.mandataire.party_id, travaux=D(m)), PartDecompte(w.cotraitant.party_id, travaux=D(c)),
            )), previous)
            previous = etat
            etats.append(etat)
            db.session.add(EtatAcompte(marche_id=w.marche_id, number=n, month=month, status="issued",
                                       result=etat.to_dict(), created_by_id=w.moe.account_id))
        db.session.commit()
    return etats


def _paid_piece(app, w, who, amount: str, paid_on: date, number: str) -> None:
    structure = _structure(app, who.structure_id)
    piece_id, _ = factories.piece(app, structure, w.marche_id, who.party_id, number=number, status="MISE_EN_PAIEMENT",
                                  route=[{"party_id": None, "structure_id": None, "siret": "", "role": "moe",
                                          "step": "moe"}])
    with app.test_request_context(), access.system_access("tests: a payment"):
        piece = db.session.get(Piece, piece_id)
        piece.paid_on, piece.paid_amount = paid_on, D(amount)
        for viewer in (w.moa, w.moe):
            db.session.add(PieceAccess(piece_id=piece_id, structure_id=viewer.structure_id, reason="moe",
                                       roles=" moe "))
        db.session.commit()


def _structure(app, structure_id: int) -> Structure:
    with app.app_context():
        structure = db.session.get(Structure, structure_id)
        db.session.expunge(structure)
        return structure


def _client(app, who):
    return pw_logged_in(app, who)


def _page(app, w, who) -> str:
    response = _client(app, who).get(f"/s/{who.siret}/marches/{w.marche_id}/finances")
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    return response.get_data(as_text=True)


def _compact(html: str) -> str:
    return re.sub(r"\s+", " ", html.replace("\u202f", " ").replace("\xa0", " "))


def test_figures_come_from_the_issued_etats_and_the_payments(app, db):
    w = pw.world(app)
    etats = _issue_etats(app, w, [("2026-01", "100000.00", "50000.00"), ("2026-02", "250000.00", "120000.00")])
    # État 1 of the mandataire: 100 000,00 HT works → TTC 120 000,00; retenue 5 % of 120 000,00 = 6 000,00;
    # amount due 114 000,00 (no advance in these terms' default? the default avance is 5 %, repaid from 65 %: none yet).
    _paid_piece(app, w, w.mandataire, "100000.00", date(2026, 2, 20), "PAY-1")
    body = _compact(_page(app, w, w.moe))
    last = etats[-1]
    works = last.marche.works_ht.to_date
    assert works == D("370000.00")
    assert "370 000,00 € HT — 37,0 % du marché" in body
    assert f"{last.marche.amount_due.to_date:,.2f}".replace(",", " ").replace(".", ",") in body
    assert "<svg" in body and 'role="img"' in body and "Paiements par bénéficiaire" in body
    assert "Durand Test" in body and "Martin Test" in body
    # Paid 100 000,00 out of what was certified to the mandataire.
    due_m = last.beneficiary(w.mandataire.party_id).columns.amount_due.to_date
    waiting = due_m - D("100000.00")
    assert f"{waiting:,.2f}".replace(",", " ").replace(".", ",") in body
    # The monthly table: January, February.
    assert "janvier 2026" in body and "février 2026" in body


def test_a_cotraitant_sees_only_its_own_lines(app, db):
    w = pw.world(app)
    _issue_etats(app, w, [("2026-01", "100000.00", "50000.00")])
    body = _compact(_page(app, w, w.cotraitant))
    assert "Martin Test" in body
    assert "Durand Test" not in body
    assert "Vous voyez vos propres montants" in body
    assert "montant du marché HT" not in body  # the marché-wide ceiling is for the full view


def test_no_etat_yet_says_so(app, db):
    w = pw.world(app)
    body = _compact(_page(app, w, w.moa))
    assert "Aucun état d'acompte n'a encore été émis" in body


def test_query_count_does_not_grow_with_etats_and_payments(app, db):
    w = pw.world(app)
    client = _client(app, w.moe)
    url = f"/s/{w.moe.siret}/marches/{w.marche_id}/finances"
    _issue_etats(app, w, [("2026-01", "10000.00", "5000.00")])
    _paid_piece(app, w, w.mandataire, "1000.00", date(2026, 1, 25), "PAY-0")
    small = len(statements_of(app, client, url))
    with app.test_request_context(), access.system_access("tests: more états"):
        db.session.query(EtatAcompte).delete()
        db.session.commit()
    _issue_etats(app, w, [(f"2026-{k:02d}", f"{k * 10000}.00", f"{k * 5000}.00") for k in range(1, 10)])
    for k in range(1, 9):
        _paid_piece(app, w, w.mandataire, "1000.00", date(2026, k + 1, 25), f"PAY-{k}")
    large = len(statements_of(app, client, url))
    assert small == large <= 12
