"""The end of the marché: the MOE's décompte général built from the projets de décompte finals, reconciled to the cent
(sum of acomptes + solde + retenue = DGD), after the MOA recorded the réception.

World: tests/integration/etats_world.py (groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance,
firm prices). NOW = 2 March 2026."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as ops
from chorus_chain.operations import marches as marche_ops
from tests.integration.etats_world import NOW, as_moe, pdm_with_decompte, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import act, acting, deposit, status_of, system, world


def _final_pdm(app, w, number: str, line: int) -> int:
    """The mandataire's projet de décompte final (A7): all 150 m² of `line`, entered before the deposit (a final
    décompte: the A7's cadre says so), taken by the MOE."""
    piece_id = pdm_with_decompte(app, w, w.mandataire, "A7", number, "2026-02", {line: "150"})
    act(app, w.moe, piece_id, "take")
    return piece_id


def _open(app, w, month: str, *, final: bool = False) -> int:
    return as_moe(app, w, lambda access, account, structure: ops.open_etat(
        access, account, structure, month, now=NOW, final=final).id)


def _issue(app, w, etat_id: int) -> None:
    as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure, now=NOW))


def _result(app, etat_id: int) -> dict:
    with system(app):
        return db.session.get(EtatAcompte, etat_id).result


def _mandataire_month(app, w) -> int:
    """État 1: the mandataire executed 100 of its 150 m² at 1 000 € → 100 000,00 HT."""
    line = price_line(app, w, "M1", w.mandataire.party_id, quantity="150", unit_price="1000")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={line: "100"})
    etat_id = _open(app, w, "2026-01")
    _issue(app, w, etat_id)
    return line


def test_the_dgd_reconciles_every_company_to_the_cent(app, db):
    w = world(app)
    line = _mandataire_month(app, w)
    # État 1, mandataire: TTC 100 000,00 × 1,20 = 120 000,00; retenue 5 % × 120 000,00 = 6 000,00;
    # amount due 120 000,00 − 6 000,00 = 114 000,00.
    setup_marche(app, w, reception_on=date(2026, 2, 27))
    final_piece = _final_pdm(app, w, "PDF-1", line)
    etat_id = _open(app, w, "2026-02", final=True)
    _issue(app, w, etat_id)
    result = _result(app, etat_id)
    assert result["kind"] == "decompte_general"
    m = next(b for b in result["dgd"]["beneficiaries"] if b["key"] == w.mandataire.party_id)
    # Final: works 150 000,00 HT → TTC 180 000,00; retenue 5 % = 9 000,00; due to date 171 000,00;
    # solde = 171 000,00 − 114 000,00 (état 1) = 57 000,00.
    # DGD 180 000,00 = avance 0 + acomptes 114 000,00 + solde 57 000,00 + retenue 9 000,00.
    assert (m["montant_dgd"], m["avance"], m["acomptes"], m["solde"], m["retenue"]) == (
        "180000.00", "0.00", "114000.00", "57000.00", "9000.00")
    # The retenue is released 12 months after the réception.
    assert m["retenue_release_date"] == "2027-02-27"
    marche = result["dgd"]["marche"]
    assert Decimal(marche["avance"]) + Decimal(marche["acomptes"]) + Decimal(marche["solde"]) + \
        Decimal(marche["retenue"]) == Decimal(marche["montant_dgd"])
    # The final piece goes on to the MOA (who turns it into the décompte général for the titulaire's signature).
    assert status_of(app, final_piece) == "A_ASSOCIER_MOA"


def test_the_dgd_waits_for_the_reception_and_closes_the_marche(app, db):
    w = world(app)
    _mandataire_month(app, w)
    with pytest.raises(OperationError, match="réception des travaux"):
        _open(app, w, "2026-02", final=True)
    setup_marche(app, w, reception_on=date(2026, 2, 27))
    _open(app, w, "2026-02", final=True)
    with pytest.raises(OperationError, match="décompte général de ce marché est déjà ouvert"):
        _open(app, w, "2026-03")


def test_a_cotraitant_sees_only_its_own_reconciliation(app, db):
    w = world(app)
    line = _mandataire_month(app, w)
    setup_marche(app, w, reception_on=date(2026, 2, 27))
    _final_pdm(app, w, "PDF-1", line)
    etat_id = _open(app, w, "2026-02", final=True)
    _issue(app, w, etat_id)
    with acting(app, w.cotraitant) as (account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        seen = ops.visible_result(_result(app, etat_id), access)
    assert seen["dgd"]["marche"] is None
    assert [b["key"] for b in seen["dgd"]["beneficiaries"]] == [w.cotraitant.party_id]
