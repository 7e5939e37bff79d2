"""A sous-traitant paid by its contractor (no paiement direct) invoices under the code de commerce: the payment term
it agreed with its contractor — within L. 441-10: 60 days from the invoice's date, or 45 days end of month — is the
one its invoices' due date, lateness, PDF mention and cash forecast use; failing an agreement, the legal 30 days
(issue 15)."""
from __future__ import annotations

import html
import pytest
from sqlalchemy import select

from chorus_chain.access import system_access
from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Piece, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import documents as documents_ops
from chorus_chain.operations.marches import today as business_today
from chorus_chain.operations.private_invoices import overdue
from tests.integration.test_marches import company, count, groupement, text
from tests.integration.test_marches_dc4 import declare


def test_an_agreed_term_is_declared_with_the_dc4_and_refused_beyond_the_ceilings(app, db):
    w = groupement(app)
    leroy, petit, moreau = (company(app, "Plâtrerie Leroy"), company(app, "Peinture Petit"),
                            company(app, "Nettoyage Moreau"))
    refused = [("61", "", "60 jours à compter de la date de facture au plus"),
               ("50", "y", "45 jours fin de mois au plus"),
               ("", "y", "Indiquez le nombre de jours « fin de mois » convenu."),
               ("trente", "", "Indiquez le délai de paiement en jours")]
    for days, end_of_month, message in refused:
        extra = {"commercial_term_days": days, **({"commercial_term_end_of_month": end_of_month}
                                                   if end_of_month else {})}
        response = declare(w, w.mandataire, w.mandataire_party, leroy, montant="480", iban="", bic="", **extra)
        assert response.status_code == 422, (days, end_of_month)
        assert 'id="commercial_term_days-error">' in text(response) and message in text(response)
    assert count(app, MarcheParty, MarcheParty.role == "sous_traitant") == 0
    assert declare(w, w.mandataire, w.mandataire_party, leroy, montant="480", iban="", bic="",
                   commercial_term_days="45", commercial_term_end_of_month="y").status_code == 302
    assert declare(w, w.mandataire, w.mandataire_party, petit, montant="400", iban="", bic="").status_code == 302
    assert declare(w, w.mandataire, w.mandataire_party, moreau, montant="300", iban="", bic="",
                   commercial_term_days="60").status_code == 302
    with app.app_context(), system_access("tests: the declared terms"):
        terms = {row.name: row.commercial_term for row in db.session.scalars(
            select(MarcheParty).where(MarcheParty.role == "sous_traitant"))}
        ids = {row.name: row.id for row in db.session.scalars(
            select(MarcheParty).where(MarcheParty.role == "sous_traitant"))}
    assert terms == {"Plâtrerie Leroy": commercial.Term(45, True), "Peinture Petit": commercial.Term(),
                     "Nettoyage Moreau": commercial.Term(60, False)}
    page = text(w.mandataire.client.get(f"{w.mandataire.base}/{w.marche_id}/parties/{ids['Plâtrerie Leroy']}"))
    assert "45 jours fin de mois (art. L. 441-10 du code de commerce)" in page
    page = text(w.mandataire.client.get(f"{w.mandataire.base}/{w.marche_id}/parties/{ids['Peinture Petit']}"))
    assert "30 jours après la date de la facture, délai légal à défaut d'accord" in page


def test_the_database_refuses_a_term_beyond_the_code_de_commerce(app, db):
    from sqlalchemy.exc import IntegrityError

    w = groupement(app)
    with app.app_context(), system_access("tests: a term written around the form"):
        party = db.session.get(MarcheParty, w.mandataire_party)
        for days, end_of_month in ((61, False), (46, True), (0, False)):
            with db.session.begin_nested():
                party.commercial_term_days, party.commercial_term_end_of_month = days, end_of_month
                with pytest.raises(IntegrityError):
                    db.session.flush()


def test_the_demo_private_invoice_follows_the_agreed_term(demo_app):
    """NM-2026-001 (Nettoyage Moreau to the mandataire, accepted and unpaid): 30 days by default; once Moreau's row
    carries an agreed term, its page, its lateness, the Synthèse and its PDF's mention and due date all follow."""
    from tests.integration.test_marches_visibility import client_for

    app = demo_app
    with app.app_context(), system_access("tests: the demo's private invoice and its emitter's term"):
        invoice = db.session.scalar(select(Piece).where(Piece.number == "NM-2026-001"))
        party_id, issue_date, piece_id = invoice.emitter_party_id, invoice.issue_date, invoice.id
        emitter_id = invoice.emitter_structure_id
        party = db.session.get(MarcheParty, party_id)
        before = (party.commercial_term_days, party.commercial_term_end_of_month)
        today = business_today(utcnow())
        assert before == (None, False) and overdue.due_of(invoice, today).due == commercial.due_date(issue_date)
    client, base = client_for(app, "st_nettoyage")
    home = base.removesuffix("/marches")
    lateness = set()
    try:
        # Three terms, three due dates (the demo's invoice is dated the first of the month 50 days ago: whether the
        # longest terms leave it due yet depends on the day the demo is seeded; the shortest always makes it late).
        for days, end_of_month in ((45, True), (20, False), (1, False)):
            term = commercial.Term(days, end_of_month)
            due = term.due(issue_date)
            with app.app_context(), system_access("tests: set the agreed term"):
                row = db.session.get(MarcheParty, party_id)
                row.commercial_term_days, row.commercial_term_end_of_month = days, end_of_month
                db.session.commit()
            body = html.unescape(client.get(f"{home}/pieces/{piece_id}").get_data(as_text=True))
            assert f"{term.describe()}, art. L. 441-10 du code de commerce" in body
            synthese = html.unescape(client.get(f"{home}/synthese").get_data(as_text=True))
            late = (today - due).days
            lateness.add(max(late, 0))
            if late > 0:
                assert f"Échue depuis {late} jour" in body
                assert 'data-testid="overdue-private"' in synthese and "NM-2026-001" in synthese
            else:
                assert 'data-testid="private-overdue"' not in body
                assert 'data-testid="overdue-private"' not in synthese
            with app.app_context():
                from chorus_chain.access import tenant
                from chorus_chain.operations.pieces_queries import piece_for

                with tenant(emitter_id):
                    structure = db.session.get(Structure, emitter_id)
                    doc = documents_ops._invoice_doc(piece_for(structure, piece_id), structure)
                assert doc.payment_terms == term.mention() and doc.due_date == due
    finally:
        with app.app_context(), system_access("tests: restore the demo"):
            row = db.session.get(MarcheParty, party_id)
            row.commercial_term_days, row.commercial_term_end_of_month = before
            db.session.commit()
    assert len(lateness) == 3  # each term gave its own lateness: the pages follow the agreed term
