"""A month of works for the état-as-pieces tests (issue 12), on the états world (tests/integration/etats_world.py:
groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance, firm prices, DGP 30 days; the MOA is also
the paying office).

`month_of_may`: four projets de décompte of May 2026 reach the MOE on four days, the MOE corrects st1's claim:
- mandataire (A4): 50 m² × 200 € = 10 000.00, received 18 May;
- cotraitant (A13): 10 % of its 100 000 € lump sum = 10 000.00, received 19 May;
- st1 (A10, paiement direct, reverse-charged): claims 10 % of 96 000 = 9 600.00, the MOE admits 5 % = 4 800.00,
  received 20 May;
- st_co (A10 under the cotraitant): 10 % of 54 000 = 5 400.00, received 21 May.
"""
from __future__ import annotations

from datetime import datetime, timezone

from chorus_chain.operations import etats_acompte as ops
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.etat_pieces import moa as moa_ops
from chorus_chain.operations.etat_pieces import paying
from tests.integration.etats_world import as_moe, price_line, taken_pdm
from tests.integration.pieces_world import NOW, acting


def at(day: str, hour: int = 10) -> datetime:
    """An instant of a Paris working day (UTC)."""
    return datetime.fromisoformat(day).replace(hour=hour - 2, tzinfo=timezone.utc)


def days_after_now(day: str) -> float:
    return (at(day) - NOW).total_seconds() / 86400


def month_of_may(app, w) -> dict[str, int]:
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="100", unit_price="200")
    c_line = price_line(app, w, "C1", w.cotraitant.party_id, amount="100000.00")
    s_line = price_line(app, w, "S1", w.st1.party_id, amount="96000.00")
    sc_line = price_line(app, w, "SC", w.st_co.party_id, amount="54000.00")
    pdm = {
        "mandataire": taken_pdm(app, w, w.mandataire, "PDM-05", days=days_after_now("2026-05-18"),
                                month="2026-05", measures={m_line: "50"}),
        "cotraitant": taken_pdm(app, w, w.cotraitant, "CO-05", days=days_after_now("2026-05-19"),
                                month="2026-05", measures={c_line: "10"}),
        "st1": taken_pdm(app, w, w.st1, "ST1-05", days=days_after_now("2026-05-20"),
                         month="2026-05", measures={s_line: "10"}),
        "st_co": taken_pdm(app, w, w.st_co, "STCO-05", days=days_after_now("2026-05-21"),
                           month="2026-05", measures={sc_line: "10"}),
    }
    return pdm


def open_etat(app, w, month: str, now: datetime) -> int:
    return as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, month,
                                                                            now=now).id)


def correct_st1(app, w, etat_id: int) -> None:
    def correct(access, account, structure):
        etat = ops.get_etat(access.marche, etat_id)
        line = next(p for p in ops.pdms_of(etat) if p.party.id == w.st1.party_id).decompte.lines[0]
        ops.admit_line(access, etat, line.id, percent="5", comment="Avancement constaté sur place : 5 %")

    as_moe(app, w, correct)


def issue(app, w, etat_id: int, now: datetime) -> str:
    return as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure,
                                                                        now=now).status)


def moa(app, w, fn):
    with acting(app, w.moa) as (account, structure):
        return fn(marche_ops.access_for(structure, w.marche_id), account, structure)


def validate(app, w, etat_id: int, now: datetime):
    return moa(app, w, lambda access, account, structure: moa_ops.validate(access, etat_id, account, structure,
                                                                            now=now).id)


def return_etat(app, w, etat_id: int, reason: str, now: datetime) -> int:
    return moa(app, w, lambda access, account, structure: moa_ops.return_etat(access, etat_id, account, structure,
                                                                               reason, now=now).id)


def pay(app, w, etat_id: int, line_id: int, *, service_fait: str | None = None, mandat: str | None = None,
        amount: str | None = None, paid_on: str | None = None):
    """The paying office's steps on a line (the MOA's structure is also the paying office in this world)."""
    def steps(access, account, structure):
        found = None
        if service_fait:
            paying.record_service_fait(access, etat_id, line_id, account, structure, service_fait,
                                       now=at(service_fait))
        if mandat:
            paying.record_mandat(access, etat_id, line_id, account, structure, mandat, now=at(mandat))
        if amount:
            found = paying.record_payment(access, etat_id, line_id, account, structure, amount=amount,
                                          paid_on=paid_on, now=at(paid_on))
        return found

    return moa(app, w, steps)
