"""The end of a marché for the décompte général tests (issue 12, end of contract), on the états world
(tests/integration/etats_world.py: groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance, firm
prices, DGP 30 days; the MOA's structure is also the paying office). NOW = 2 March 2026.

`final_etat_issued`:
- état 1 (January): the mandataire executed 100 of its 150 m² at 1 000 € → 100 000,00 HT, TTC 120 000,00,
  retenue 5 % 6 000,00, amount due 114 000,00;
- réception on 27 February 2026; the mandataire's projet de décompte final (A7): all 150 m² → 150 000,00 HT;
- the final état: TTC 180 000,00, retenue 9 000,00, due to date 171 000,00, solde 171 000,00 − 114 000,00 =
  57 000,00 for the mandataire (the co-traitant executed nothing: no line).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta


from chorus_chain.operations import etats_acompte as ops
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.decompte_general import dg as dg_ops
from chorus_chain.operations.decompte_general import pdg as pdg_ops
from chorus_chain.operations.decompte_general import signature as signature_ops
from tests.integration.etats_world import NOW, as_moe, pdm_with_decompte, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import acting, act


def final_etat(app, w, *, issue: bool = True) -> int:
    line = price_line(app, w, "M1", w.mandataire.party_id, quantity="150", unit_price="1000")
    monthly = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-01", measures={line: "100"})
    first = as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, "2026-01",
                                                                            now=NOW).id)
    as_moe(app, w, lambda access, account, structure: ops.issue(access, first, account, structure, now=NOW))
    setup_marche(app, w, reception_on=date(2026, 2, 27))
    final_piece = pdm_with_decompte(app, w, w.mandataire, "A7", "PDF-1", "2026-02", {line: "150"})
    act(app, w.moe, final_piece, "take")
    etat_id = as_moe(app, w, lambda access, account, structure: ops.open_etat(
        access, account, structure, "2026-02", now=NOW, final=True).id)
    if issue:
        as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure, now=NOW))
    return etat_id


def as_party(app, w, who, fn):
    with acting(app, who) as (account, structure):
        return fn(marche_ops.access_for(structure, w.marche_id), account, structure)


def establish_pdg(app, w, etat_id: int, now: datetime):
    return as_moe(app, w, lambda access, account, structure: pdg_ops.establish_pdg(
        access, etat_id, account, structure, now=now).id)


def establish_dg(app, w, etat_id: int, now: datetime):
    return as_party(app, w, w.moa, lambda access, account, structure: dg_ops.establish_dg(
        access, etat_id, account, structure, now=now).id)


def sign(app, w, etat_id: int, now: datetime, *, who=None, **inputs):
    return as_party(app, w, who or w.mandataire, lambda access, account, structure: signature_ops.sign(
        access, etat_id, account, structure, now=now, **inputs).id)


def days(n: float) -> datetime:
    return NOW + timedelta(days=n)
