"""Issue 16 (part A), worked examples through the database: the settings and events of a marché's real life.

The world: tests/integration/etats_world.py (groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance
unless a test says so, firm prices). NOW = 2 March 2026.

Sources:
- penalties: CCAG Travaux 2021, « le titulaire est exonéré des pénalités dont le montant total ne dépasse pas
  1 000 euros HT pour l'ensemble du marché » (CHORUS.md §6b);
"""
from __future__ import annotations

from decimal import Decimal

from chorus_chain.extensions import db
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import etats_acompte as ops
from tests.integration.etats_world import NOW, as_moe, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import system, world


def _this(result: dict, key: int, column: str) -> str:
    beneficiary = next(b for b in result["beneficiaries"] if b["key"] == key)
    return beneficiary["columns"][column]["this"]


def _open(app, w, month: str) -> int:
    return as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, month,
                                                                            now=NOW).id)


def _issue(app, w, etat_id: int) -> dict:
    as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure, now=NOW))
    with system(app):
        return db.session.get(EtatAcompte, etat_id).result


def _penalise(app, w, etat_id: int, **penalty) -> None:
    def add(access, account, structure):
        etat = ops.get_etat(access.marche, etat_id)
        ops.add_penalty(access, etat, account, party_id=w.mandataire.party_id, **penalty)
    as_moe(app, w, add)


def test_a_penalty_total_of_exactly_1000_euros_is_exempt_and_the_next_one_deducts_everything(app, db):
    w = world(app)
    setup_marche(app, w, penalty_daily_amount=Decimal("100.00"))
    line = price_line(app, w, "M1", w.mandataire.party_id, amount="100000.00")
    key = w.mandataire.party_id

    # État n° 1 (February): works 20 % × 100 000 = 20 000,00; VAT 4 000,00; TTC 24 000,00; retenue 5 % × 24 000 =
    # 1 200,00. Penalties: 10 days × 100 € = 1 000,00 € HT — the total does not exceed 1 000 € HT: exempt, 0,00.
    # Amount due = 24 000 − 1 200 − 0 = 22 800,00.
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "20"})
    etat1 = _open(app, w, "2026-02")
    _penalise(app, w, etat1, label="Retard de 10 jours", days="10")
    result1 = _issue(app, w, etat1)
    assert [_this(result1, key, c) for c in ("ttc", "retenue", "penalties", "amount_due")] == \
        ["24000.00", "1200.00", "0.00", "22800.00"]
    lines = next(b for b in result1["beneficiaries"] if b["key"] == key)["columns"]["penalties"]["lines"]
    assert any("ne dépassant pas" in line["formula"] for line in lines)

    # État n° 2 (March): works 30 000 (+10 000): TTC +12 000, retenue +600. One more day late: 11 × 100 =
    # 1 100,00 > 1 000 → the whole 1 100,00 is deducted now. Due = 12 000 − 600 − 1 100 = 10 300,00.
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={line: "30"})
    etat2 = _open(app, w, "2026-03")
    _penalise(app, w, etat2, label="Retard d'un jour", days="1")
    result2 = _issue(app, w, etat2)
    assert [_this(result2, key, c) for c in ("ttc", "retenue", "penalties", "amount_due")] == \
        ["12000.00", "600.00", "1100.00", "10300.00"]
