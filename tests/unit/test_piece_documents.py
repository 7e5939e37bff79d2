"""Which documents apply to which piece (domain.piece_documents): only those that mean something are offered."""
from __future__ import annotations

import pytest

from chorus_chain.domain.piece_documents import PieceFacts, applicable, refusal


def facts(cadre, *, credit=False, draft=False, **more) -> PieceFacts:
    return PieceFacts(draft=draft, cadre=cadre, credit_note=credit, **more)


@pytest.mark.parametrize("cadre", [None, "A1", "A2", "A9", "A12"])
def test_an_invoice_has_its_pdf_and_its_facturx(cadre):
    assert applicable(facts(cadre)) == ("piece_pdf", "facturx", "dossier_zip")


def test_a_credit_note_of_any_cadre_is_an_invoice_document():
    assert applicable(facts("A4", credit=True)) == ("piece_pdf", "facturx", "dossier_zip")


@pytest.mark.parametrize("cadre", ["A4", "A10", "A13", "A7", "A14"])
def test_a_projet_de_decompte_has_its_pdf_but_no_facturx(cadre):
    assert applicable(facts(cadre)) == ("piece_pdf", "dossier_zip")
    assert "Factur-X ne s'applique qu'aux factures" in refusal("facturx", facts(cadre))


@pytest.mark.parametrize("cadre", ["A15", "A16", "A19", "A17", "A18", "A20", "A8", "A22", "A23", "A24", "A25"])
def test_an_etat_or_a_decompte_general_piece_offers_no_invoice_shaped_pdf(cadre):
    assert applicable(facts(cadre)) == ("dossier_zip",)
    assert "fichier principal" in refusal("piece_pdf", facts(cadre))


def test_a_draft_has_no_document():
    assert applicable(facts("A9", draft=True, tacit_validated=True)) == ()


def test_the_attestation_only_after_a_tacit_validation():
    assert "attestation" not in applicable(facts("A10"))
    assert "attestation" in applicable(facts("A10", tacit_validated=True))


def test_the_interest_letter_only_for_the_emitter_of_a_piece_paid_late():
    assert "interets" not in applicable(facts("A9", viewer_is_emitter=True))
    assert "interets" not in applicable(facts("A9", interest_claimable=True))
    assert "Seule l'entreprise qui a émis" in refusal("interets", facts("A9", interest_claimable=True))
    assert "interets" in applicable(facts("A9", interest_claimable=True, viewer_is_emitter=True))
