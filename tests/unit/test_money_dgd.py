"""The décompte général et définitif, reconciled to the cent BY HAND (CHORUS.md §6.5).

Identity checked everywhere: avance versée + Σ acomptes + solde + retenue restituée = montant du DGD
(= montant TTC − pénalités), the advance repaid in full, the retenue released one year after the réception.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.domain.money import (
    Beneficiary,
    DecompteMensuel,
    IndexStatus,
    MarcheTerms,
    MoneyError,
    PartDecompte,
    Penalty,
    RetenueSettings,
    RevisionTerms,
    add_months,
    compute_dgd,
    compute_etat_acompte,
)
from tests.unit.test_money_etat_acompte import BENEFICIARIES, BT01, PENALTY_9, S1, S2, TERMS, C, M, decompte, run

D = Decimal
T = "T"

# A compact marché, to be reconciled entirely by hand: titulaire T alone, 100 000,00 HT, 3 months, VAT 20 %,
# advance 5 % (≤ 12 months: 5 % × 120 000 = 6 000,00), retenue 5 %, revision a = 0,15 on BT01 (base janvier 2024
# = 130,8). Acompte 1 (janvier 2025): 40 000; acompte 2 (février 2025, BT01 provisional 132,0): 85 000;
# décompte final (mars 2025): 100 000 and 40 days late.
COMPACT = MarcheTerms(
    montant_ht=D("100000.00"),
    tva_rate=D("0.20"),
    duration_months=3,
    revision=RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01"),
)
TITULAIRE = (Beneficiary(T, "Bâtiment Tissot", "titulaire", D("100000.00")),)
FEB_PROVISIONAL = BT01.with_value("2025-02", D("132.0"), IndexStatus.PROVISIONAL)
RECEPTION = date(2025, 4, 15)


def compact(n: int, month: str, works: str, penalties=()) -> DecompteMensuel:
    return DecompteMensuel(n, month, (PartDecompte(T, travaux=D(works)),), penalties=penalties)


def compact_acomptes():
    a1 = compute_etat_acompte(COMPACT, TITULAIRE, compact(1, "2025-01", "40000.00"), None, BT01)
    a2 = compute_etat_acompte(COMPACT, TITULAIRE, compact(2, "2025-02", "85000.00"), a1, FEB_PROVISIONAL)
    return a1, a2


def test_compact_marche_reconciled_by_hand():
    a1, a2 = compact_acomptes()
    t1, t2 = a1.beneficiary(T).columns, a2.beneficiary(T).columns
    # acompte 1: C(janvier 2025) = 0,15 + 0,85 × 132,0 / 130,8 = 1,007798 → 1,008
    #   revision 40 000 × 0,008 = 320,00; VAT 20 % × 40 320 = 8 064,00; TTC 48 384,00
    #   retenue 5 % × 40 000 × 1,20 = 2 400,00; executed 40 % → no repayment; due 48 384 − 2 400 = 45 984,00
    assert (t1.revision.to_date, t1.vat.to_date, t1.ttc.to_date) == (D("320.00"), D("8064.00"), D("48384.00"))
    assert t1.amount_due.this == D("45984.00")
    # acompte 2, February provisional 132,0 → C 1,008: Δ 45 000 × 0,008 = 360,00, cumulative 680,00
    #   VAT 20 % × 85 680 = 17 136,00; TTC 102 816,00; retenue 5 % × 85 000 × 1,20 = 5 100,00
    #   executed 85 % ≥ 80 % → the whole advance 6 000,00; due 102 816 − 5 100 − 6 000 = 91 716,00
    #   this acompte 91 716 − 45 984 = 45 732,00
    assert t2.revision.to_date == D("680.00")
    assert t2.avance_repayment.to_date == D("6000.00")
    assert (t2.amount_due.to_date, t2.amount_due.this) == (D("91716.00"), D("45732.00"))

    final = compact(3, "2025-03", "100000.00", (Penalty(T, "Retard d'achèvement", days=40),))
    dgd = compute_dgd(COMPACT, TITULAIRE, final, a2, BT01, reception=RECEPTION)
    c = dgd.etat.beneficiary(T).columns
    # February now definitive 132,1 → C = 0,15 + 0,85 × 1,009939 = 1,008448 → 1,009: 45 000 × 0,009 = 405,00
    #   (true-up +45,00); March 132,5 → C = 1,011047 → 1,012: Δ 15 000 × 0,012 = 180,00
    #   revision to date 320 + 405 + 180 = 905,00; this 905 − 680 = 225,00 (= 180 + 45)
    assert (c.revision.to_date, c.revision.this) == (D("905.00"), D("225.00"))
    # VAT 20 % × 100 905 = 20 181,00; TTC 100 905 + 20 181 = 121 086,00
    assert c.ttc.to_date == D("121086.00")
    # penalties 40 × 100 000 / 3000 = 1 333,333… → 1 333,33 (≥ 1 000: applied)
    assert c.penalties.to_date == D("1333.33")
    # retenue 5 % × 100 000 × 1,20 = 6 000,00 (held until the release); advance repaid 6 000,00
    # due to date 121 086 − 6 000 − 6 000 − 1 333,33 = 107 752,67; solde 107 752,67 − 91 716 = 16 036,67
    row = dgd.beneficiary(T)
    assert row.montant_dgd == D("119752.67")  # 121 086 − 1 333,33
    assert (row.avance, row.acomptes, row.solde, row.retenue.amount) == (
        D("6000.00"),
        D("91716.00"),
        D("16036.67"),
        D("6000.00"),
    )
    # 6 000 + 91 716 + 16 036,67 + 6 000 = 119 752,67 ✓ to the cent
    assert row.avance + row.acomptes + row.solde + row.retenue.amount == row.montant_dgd
    assert row.reconciles and dgd.marche.reconciles
    # acomptes: 45 984 + 45 732 = 91 716 ✓
    assert a1.marche.amount_due.this + a2.marche.amount_due.this == row.acomptes
    # retenue released one year after the réception
    assert row.retenue.release_date == dgd.release_date == date(2026, 4, 15)
    assert "restituée le 15 avril 2026" in row.retenue.line.formula
    assert dgd.etat.payable(T).this == D("16036.67")
    assert json.loads(json.dumps(dgd.to_dict()))["dgd"]["marche"]["solde"] == "16036.67"


def test_advance_fully_repaid_even_below_80_percent():
    terms = replace(COMPACT, revision=None)
    a1 = compute_etat_acompte(terms, TITULAIRE, compact(1, "2025-01", "40000.00"), None)
    a2 = compute_etat_acompte(terms, TITULAIRE, compact(2, "2025-02", "60000.00"), a1)
    # acompte 2: TTC 72 000, retenue 3 600, executed 60 % → no repayment; due 68 400,00
    assert a2.beneficiary(T).columns.avance_repayment.to_date == D("0.00")
    assert a2.marche.amount_due.to_date == D("68400.00")
    # the marché ends at 70 000 (70 %): the schedule would say 6 000 × 5 / 15 = 2 000, the DGD takes all 6 000
    dgd = compute_dgd(terms, TITULAIRE, compact(3, "2025-03", "70000.00"), a2, reception=RECEPTION)
    c = dgd.etat.marche
    assert (c.avance_repayment.to_date, c.avance_repayment.this) == (D("6000.00"), D("6000.00"))
    # TTC 84 000; retenue 4 200; due 84 000 − 4 200 − 6 000 = 73 800; solde 73 800 − 68 400 = 5 400,00
    # 6 000 + 68 400 + 5 400 + 4 200 = 84 000 ✓
    assert dgd.marche.solde == D("5400.00")
    assert dgd.marche.montant_dgd == D("84000.00")


def test_negative_balance_is_a_refund_owed_by_the_company():
    terms = replace(COMPACT, revision=None)
    a1 = compute_etat_acompte(terms, TITULAIRE, compact(1, "2025-01", "40000.00"), None)
    a2 = compute_etat_acompte(terms, TITULAIRE, compact(2, "2025-02", "60000.00"), a1)
    final = compact(3, "2025-03", "70000.00", (Penalty(T, "Retard d'achèvement", days=200),))
    dgd = compute_dgd(terms, TITULAIRE, final, a2, reception=RECEPTION)
    # penalties 200 × 100 000 / 3000 = 6 666,67; solde 5 400 − 6 666,67 = −1 266,67
    row = dgd.beneficiary(T)
    assert row.solde == D("-1266.67")
    assert "trop-perçu à reverser" in row.lines[1].formula
    # 6 000 + 68 400 − 1 266,67 + 4 200 = 77 333,33 = 84 000 − 6 666,67 ✓
    assert row.montant_dgd == D("77333.33") and row.reconciles


def test_dgd_needs_definitive_indexes():
    a1, a2 = compact_acomptes()
    with pytest.raises(MoneyError) as error:
        compute_dgd(COMPACT, TITULAIRE, compact(3, "2025-03", "100000.00"), a2, FEB_PROVISIONAL, reception=RECEPTION)
    assert "L'indice BT01 de février 2025" in str(error.value)
    assert "indices définitifs" in str(error.value)


def test_retenue_replaced_by_its_guarantee_is_released_as_a_guarantee():
    terms = replace(COMPACT, revision=None, retenue=RetenueSettings(replaced=frozenset({T})))
    a1 = compute_etat_acompte(terms, TITULAIRE, compact(1, "2025-01", "40000.00"), None)
    dgd = compute_dgd(terms, TITULAIRE, compact(2, "2025-02", "100000.00"), a1, reception=RECEPTION)
    row = dgd.beneficiary(T)
    assert row.retenue.replaced_by_guarantee and row.retenue.amount == D("0.00")
    assert "garantie à première demande, libérée le 15 avril 2026" in row.retenue.line.formula
    # acompte 1: TTC 48 000, no retenue (replaced), no repayment at 40 % → 48 000,00
    # DGD: TTC 120 000 − 0 retenue − 6 000 advance = 114 000 due to date; solde 114 000 − 48 000 = 66 000,00
    # 6 000 + 48 000 + 66 000 + 0 = 120 000 ✓
    assert (row.acomptes, row.solde) == (D("48000.00"), D("66000.00"))
    assert row.reconciles


def test_guarantee_period_in_months():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)
    dgd_date = compute_dgd(
        replace(COMPACT, revision=None),
        TITULAIRE,
        compact(1, "2025-01", "100000.00"),
        None,
        reception=RECEPTION,
        guarantee_months=24,
    ).release_date
    assert dgd_date == date(2027, 4, 15)


def test_twelve_month_groupement_dgd_to_the_cent():
    """(5) The worked marché of test_money_etat_acompte, closed with the definitive BT01 values."""
    etats = run()
    final = decompte(12, number=13, penalties=PENALTY_9)
    dgd = compute_dgd(TERMS, BENEFICIARIES, final, etats[-1], BT01, reception=date(2025, 3, 14))
    # --- M by hand ---
    # C by month (definitive): mar 1,001 · avr 1,002 · mai 1,004 · jun 1,003 · jul 1,003 · aoû 1,006 · sep 1,003 ·
    #   oct 1,003 · nov 1,005 · déc 1,006 · jan 1,008 · fév 1,009
    # M's Δ: 35 000, 27 000, 38 000, 50 000, 30 000, 30 000, 30 000, 25 000, 20 000, 10 000, 5 000, 0
    # revision: 35 + 54 + 152 + 150 + 90 + 180 + 90 + 75 + 100 + 60 + 40 = 1 026,00
    #   (état 12 had January provisional: 5 000 × 0,006 = 30 instead of 40 → 1 016,00; true-up +10,00)
    m = dgd.etat.beneficiary(M).columns
    assert (m.revision.to_date, m.revision.this) == (D("1026.00"), D("10.00"))
    # S1's Δ: 0, 6 000, 9 345,70, 6 654,30, 8 000, 8 000, 6 000, 6 000, 5 000, 3 000, 2 000, 0
    # revision: 12 + 37,38 + 19,96 (6 654,30 × 0,003 = 19,9629) + 24 + 48 + 18 + 18 + 25 + 18 + 16 = 236,34
    s1 = dgd.etat.beneficiary(S1).columns
    assert s1.revision.to_date == D("236.34")
    # M's VAT: own 20 % × 301 026 = 60 205,20; on S1 20 % × 60 236,34 = 12 047,268 → 12 047,27; total 72 252,47
    assert m.vat.to_date == D("72252.47")
    # TTC 301 026 + 72 252,47 = 373 278,47; penalties 1 200; DGD amount 373 278,47 − 1 200 = 372 078,47
    row = dgd.beneficiary(M)
    assert row.montant_dgd == D("372078.47")
    # retenue: part 5 % × 360 000 × 1,20 = 21 600; S1 5 % × 60 000 = 3 000; M 18 600,00
    # acomptes = état 12's due: TTC (301 016 + 60 203,20 + 12 046,47 = 373 265,67) − 18 600 − 18 600 − 1 200
    #   = 334 865,67
    # solde = 372 078,47 − 18 600 − 334 865,67 − 18 600 = 12,80 (= 10 revision + 2,00 + 0,80 VAT)
    assert (row.avance, row.acomptes, row.solde, row.retenue.amount) == (
        D("18600.00"),
        D("334865.67"),
        D("12.80"),
        D("18600.00"),
    )
    # S1: 3 000 + 54 232,34 + 4,00 + 3 000 = 60 236,34 (= its TTC, reverse-charged) ✓
    s1_row = dgd.beneficiary(S1)
    assert (s1_row.montant_dgd, s1_row.solde) == (D("60236.34"), D("4.00"))
    # every beneficiary and the marché reconcile to the cent; all advances repaid
    for r in (*dgd.beneficiaries, dgd.marche):
        assert r.avance + r.acomptes + r.solde + r.retenue.amount == r.montant_dgd, r.name
    for key in (M, S1, C, S2):
        columns = dgd.etat.beneficiary(key).columns
        assert columns.avance_repayment.to_date == columns.avance_paid.to_date
    # the acomptes are the sum of the 12 états
    assert sum(e.marche.amount_due.this for e in etats) == dgd.marche.acomptes
    assert sum(p.this for p in dgd.etat.payables) == dgd.marche.solde
    assert dgd.marche.montant_dgd == sum(r.montant_dgd for r in dgd.beneficiaries)
    assert {r.key for r in dgd.beneficiaries} == {M, S1, C, S2}


# --- Interest of acomptes still unpaid, carried into the décompte général (issue 16; R2192-36) ----------------------

def test_unpaid_interest_is_carried_beside_the_solde_and_the_reconciliation_is_unchanged():
    from chorus_chain.domain.money import CarriedInterest

    _, a2 = compact_acomptes()
    final = compact(3, "2025-03", "100000.00", (Penalty(T, "Retard d'achèvement", days=40),))
    plain = compute_dgd(COMPACT, TITULAIRE, final, a2, BT01, reception=RECEPTION)
    # Acompte 2 (45 732,00) paid 12 days late at 12,5 %: 45 732 × 12,5 % × 12 / 365 = 187,939… → 187,94, + 40 €,
    # never paid; acompte 1 paid 3 days late: 45 984 × 12,5 % × 3 / 365 = 47,24 + 40, never paid either.
    unpaid = {T: (CarriedInterest(date(2025, 2, 20), "1", D("47.24"), D("40.00")),
                  CarriedInterest(date(2025, 3, 28), "2", D("187.94"), D("40.00")))}
    dgd = compute_dgd(COMPACT, TITULAIRE, final, a2, BT01, reception=RECEPTION, unpaid_interest=unpaid)
    row = dgd.beneficiary(T)
    # 87,24 + 227,94 = 315,18 carried; the solde stays 16 036,67; total owed at the end 16 351,85.
    assert (row.solde, row.interets, row.total_a_payer) == (D("16036.67"), D("315.18"), D("16351.85"))
    assert (dgd.marche.interets, dgd.marche.total_a_payer) == (D("315.18"), D("16351.85"))
    assert row.reconciles and row.montant_dgd == plain.beneficiary(T).montant_dgd
    assert dgd.etat.payable(T).this == D("16036.67")  # the payable is the price's solde: the interest is paid apart
    carried = next(line for line in row.lines if line.label.startswith("Intérêts moratoires restant dus"))
    assert carried.operands == (("paiement du 20 février 2025 (état n° 1)", D("87.24")),
                                ("paiement du 28 mars 2025 (état n° 2)", D("227.94")))
    assert "16\u202f351,85" in row.lines[-1].text()
    as_json = json.loads(json.dumps(dgd.to_dict()))["dgd"]["beneficiaries"][0]
    assert (as_json["interets"], as_json["total_a_payer"]) == ("315.18", "16351.85")
    # Without any: zero, and the total to pay is the solde.
    assert (plain.beneficiary(T).interets, plain.beneficiary(T).total_a_payer) == (D("0.00"), D("16036.67"))


def test_carried_interest_is_refused_for_a_stranger_or_below_zero():
    from chorus_chain.domain.money import CarriedInterest

    _, a2 = compact_acomptes()
    final = compact(3, "2025-03", "100000.00")
    with pytest.raises(MoneyError, match="pas bénéficiaire"):
        compute_dgd(COMPACT, TITULAIRE, final, a2, BT01, reception=RECEPTION,
                    unpaid_interest={"X": (CarriedInterest(date(2025, 3, 1), "1", D("1.00"), D("40.00")),)})
    with pytest.raises(MoneyError, match="négatifs"):
        CarriedInterest(date(2025, 3, 1), "1", D("-1.00"), D("40.00"))
    with pytest.raises(TypeError):
        CarriedInterest(date(2025, 3, 1), "1", 1.5, D("40.00"))
