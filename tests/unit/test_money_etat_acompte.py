"""Worked examples of the état d'acompte, computed BY HAND (the arithmetic is written next to each expected figure).

The marché (CHORUS.md §6, §6b): 12 months of works, 600 000,00 € HT, VAT 20 %, awarded to a groupement conjoint.
- M, the mandataire (gros œuvre), own part 300 000,00 HT;
- S1, rang-1 sous-traitant of M in paiement direct, reverse-charged (étanchéité), part 60 000,00 HT, DC4 63 000,00;
- C, the co-traitant (lots techniques), own part 200 000,00 HT;
- S2, rang-1 sous-traitant of C in paiement direct, NOT reverse-charged (a design office: services invoiced with VAT),
  part 40 000,00 HT, DC4 50 000,00 TTC.
Parts: 300 000 + 60 000 + 200 000 + 40 000 = 600 000 ✓.
Revision: C = 0,15 + 0,85 × BT01(n) / BT01(janvier 2024 = 130,8), rounded up to the thousandth (§6b default).
Advance 5 %, retenue 5 % (works TTC hors révision), penalties CCAG 2021 (1/3000 of 600 000 = 200,00 € a day).

Cumulative works admitted at base prices (travaux + approvisionnements − réfactions):
 n  month     M                      S1         C (+ débours)        S2
 1  2024-03   30 000 + 5 000 appro   0          10 000               4 000
 2  2024-04   60 000 + 2 000 appro   6 000      25 000               8 000     (M claimed 65 000: corrected)
 3  2024-05   100 000                15 345,70  45 000 (+500 déb.)   12 345,67
 4  2024-06   150 000                22 000     70 000               16 000
 5  2024-07   180 000                30 000     95 000               20 000
 6  2024-08   210 000                38 000     120 000              24 000    (M crosses 65 %)
 7  2024-09   240 000                44 000     140 000              28 000    (S1, C, S2 cross 65 %)
 8  2024-10   265 000                50 000     160 000              32 000    (M: 4 days late)
 9  2024-11   285 000                55 000     175 000              35 000    (M: 2 more days late)
10  2024-12   295 000                58 000     190 000              38 000
11  2025-01   300 000                60 000     198 000              40 000    (BT01 of 2025-01 provisional)
12  2025-02   300 000                60 000     200 000              40 000    (BT01 of 2025-02 provisional)

BT01 values are the real ones of data/bt01_index.csv (copied below so the tests are hermetic; a test checks they match
the file when it is present).
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal, localcontext
from pathlib import Path

import pytest

from chorus_chain.domain.money import (
    COLUMNS,
    Beneficiary,
    CumulState,
    DecompteMensuel,
    EtatAcompte,
    GroupementPayment,
    IndexStatus,
    IndexTable,
    MarcheTerms,
    MissingIndexError,
    MoneyError,
    PartDecompte,
    Penalty,
    RetenueSettings,
    RevisionTerms,
    compute_etat_acompte,
    etats_total,
    parse_index_csv,
)

D = Decimal
# The published series the application ships (the repository stands alone: nothing is read from beside it).
DATA = Path(__file__).resolve().parents[2] / "chorus_chain" / "data"

# The rows of data/bt01_index.csv used here (real INSEE values, status "published" = definitive).
BT01_CSV = """month,bt01,status,source
2024-01,130.8,published,idem
2024-02,131.0,published,idem
2024-03,130.9,published,idem
2024-04,131.0,published,idem
2024-05,131.3,published,idem
2024-06,131.2,published,idem
2024-07,131.2,published,idem
2024-08,131.7,published,idem
2024-09,131.2,published,idem
2024-10,131.2,published,idem
2024-11,131.5,published,idem
2024-12,131.7,published,idem
2025-01,132.0,published,idem
2025-02,132.1,published,idem
2025-03,132.5,published,idem
2025-04,132.9,published,idem
"""
BT01 = parse_index_csv(BT01_CSV, "BT01")
# États 11 and 12 are computed before the definitive indexes are published: the MOE enters provisional values
# (the last known value for January, a first estimate for February). The DGD uses the definitive ones.
BT01_AT_11 = BT01.with_value("2025-01", D("131.7"), IndexStatus.PROVISIONAL).with_value(
    "2025-02", D("131.7"), IndexStatus.PROVISIONAL
)
BT01_AT_12 = BT01_AT_11.with_value("2025-02", D("132.0"), IndexStatus.PROVISIONAL)

M, S1, C, S2 = "M", "S1", "C", "S2"

TERMS = MarcheTerms(
    montant_ht=D("600000.00"),
    tva_rate=D("0.20"),
    duration_months=12,
    groupement="conjoint",
    revision=RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01"),
)
BENEFICIARIES = (
    Beneficiary(M, "Maçonnerie Martin", "mandataire", D("300000.00")),
    Beneficiary(
        S1,
        "Étanchéité Sud",
        "sous_traitant",
        D("60000.00"),
        contractor_key=M,
        paiement_direct=True,
        autoliquidation=True,
        dc4_ceiling_ttc=D("63000.00"),
    ),
    Beneficiary(C, "Climatech", "cotraitant", D("200000.00")),
    Beneficiary(
        S2,
        "BET Fluides",
        "sous_traitant",
        D("40000.00"),
        contractor_key=C,
        paiement_direct=True,
        dc4_ceiling_ttc=D("50000.00"),
    ),
)

# month, M (travaux, approvisionnements), S1 travaux, C (travaux, débours), S2 travaux — cumulative, base prices, HT.
SCHEDULE = (
    ("2024-03", ("30000.00", "5000.00"), "0.00", ("10000.00", "0.00"), "4000.00"),
    ("2024-04", ("60000.00", "2000.00"), "6000.00", ("25000.00", "0.00"), "8000.00"),
    ("2024-05", ("100000.00", "0.00"), "15345.70", ("45000.00", "500.00"), "12345.67"),
    ("2024-06", ("150000.00", "0.00"), "22000.00", ("70000.00", "500.00"), "16000.00"),
    ("2024-07", ("180000.00", "0.00"), "30000.00", ("95000.00", "500.00"), "20000.00"),
    ("2024-08", ("210000.00", "0.00"), "38000.00", ("120000.00", "500.00"), "24000.00"),
    ("2024-09", ("240000.00", "0.00"), "44000.00", ("140000.00", "500.00"), "28000.00"),
    ("2024-10", ("265000.00", "0.00"), "50000.00", ("160000.00", "500.00"), "32000.00"),
    ("2024-11", ("285000.00", "0.00"), "55000.00", ("175000.00", "500.00"), "35000.00"),
    ("2024-12", ("295000.00", "0.00"), "58000.00", ("190000.00", "500.00"), "38000.00"),
    ("2025-01", ("300000.00", "0.00"), "60000.00", ("198000.00", "500.00"), "40000.00"),
    ("2025-02", ("300000.00", "0.00"), "60000.00", ("200000.00", "500.00"), "40000.00"),
)
PENALTY_8 = (Penalty(M, "Retard sur le jalon « clos et couvert »", days=4),)
PENALTY_9 = PENALTY_8 + (Penalty(M, "Retard de levée des réserves du lot 1", days=2),)
# Month 2: M claimed 65 000,00 of travaux; the MOE admitted 60 000,00.
CLAIM_2 = (PartDecompte(M, travaux=D("65000.00"), approvisionnements=D("2000.00")),)


def penalties_at(n: int) -> tuple[Penalty, ...]:
    return PENALTY_9 if n >= 9 else PENALTY_8 if n == 8 else ()


def index_at(n: int) -> IndexTable:
    return BT01_AT_12 if n == 12 else BT01_AT_11 if n == 11 else BT01


def decompte(n: int, row=None, *, penalties=None, claimed=None, number=None) -> DecompteMensuel:
    month, (m_travaux, m_appro), s1, (c_travaux, c_debours), s2 = row or SCHEDULE[n - 1]
    return DecompteMensuel(
        number=number or n,
        month=month,
        parts=(
            PartDecompte(M, travaux=D(m_travaux), approvisionnements=D(m_appro)),
            PartDecompte(S1, travaux=D(s1)),
            PartDecompte(C, travaux=D(c_travaux), debours=D(c_debours)),
            PartDecompte(S2, travaux=D(s2)),
        ),
        claimed=(CLAIM_2 if n == 2 else ()) if claimed is None else claimed,
        penalties=penalties_at(n) if penalties is None else penalties,
    )


def run(until: int = 12) -> list[EtatAcompte]:
    """États 1..until of the worked marché, each computed from the previous one."""
    etats: list[EtatAcompte] = []
    for n in range(1, until + 1):
        etats.append(compute_etat_acompte(TERMS, BENEFICIARIES, decompte(n), etats[-1] if etats else None, index_at(n)))
    return etats


def col(etat: EtatAcompte, key: str | None, name: str):
    columns = etat.marche if key is None else etat.beneficiary(key).columns
    return getattr(columns, name)


def triple(etat: EtatAcompte, key: str | None, name: str) -> tuple[Decimal, Decimal, Decimal]:
    c = col(etat, key, name)
    return c.to_date, c.previous, c.this


@pytest.fixture(scope="module")
def etats() -> list[EtatAcompte]:
    return run()


def test_embedded_bt01_values_are_the_real_ones():
    path = DATA / "bt01_index.csv"
    from chorus_chain.domain.money import load_index_csv

    real = load_index_csv(path, "BT01")
    for value in BT01.values:
        assert real.get(value.month).value == value.value


# ---------------------------------------------------------------------------------------------------------------------
# (1) The first three months, in full


def test_advances_of_each_beneficiary(etats):
    e1 = etats[0]
    # M: 5 % × (300 000 × 1,20 + 20 % × 60 000 of S1's reverse-charged part, whose VAT M collects)
    #    = 5 % × (360 000 + 12 000) = 5 % × 372 000 = 18 600,00
    assert e1.beneficiary(M).avance.value == D("18600.00")
    # S1 (reverse-charged, paid HT): 5 % × 60 000 = 3 000,00
    assert e1.beneficiary(S1).avance.value == D("3000.00")
    # C: 5 % × 200 000 × 1,20 = 5 % × 240 000 = 12 000,00
    assert e1.beneficiary(C).avance.value == D("12000.00")
    # S2 (VAT invoiced): 5 % × 40 000 × 1,20 = 5 % × 48 000 = 2 400,00
    assert e1.beneficiary(S2).avance.value == D("2400.00")
    # total 18 600 + 3 000 + 12 000 + 2 400 = 36 000,00 = 5 % × 720 000 (the marché TTC) ✓
    assert e1.marche.avance_paid.to_date == D("36000.00")
    # the advance is paid on its own, never inside an acompte: the amount due does not include it
    assert e1.beneficiary(M).columns.amount_due.to_date == D("39942.00")


def test_month_1_march_2024(etats):
    e1 = etats[0]
    # C(mars 2024) = 0,15 + 0,85 × 130,9 / 130,8 = 0,15 + 0,85 × 1,000764… = 1,000650 → up to the thousandth 1,001
    # --- M ---
    assert triple(e1, M, "works_ht") == (D("35000.00"), D("0.00"), D("35000.00"))  # 30 000 + 5 000 appro
    assert triple(e1, M, "revision") == (D("35.00"), D("0.00"), D("35.00"))  # 35 000 × (1,001 − 1) = 35,00
    assert col(e1, M, "vat").to_date == D("7007.00")  # 20 % × (35 000 + 35) = 7 007,00 (+ 20 % × 0 for S1)
    assert col(e1, M, "ttc").to_date == D("42042.00")  # 35 035 + 7 007
    # retenue of M's part: 5 % × (35 000 + 0) × 1,20 = 2 100,00; S1's share 5 % × 0 = 0; M's share 2 100,00
    assert col(e1, M, "retenue").to_date == D("2100.00")
    assert col(e1, M, "avance_repayment").to_date == D("0.00")  # 35 000 / 300 000 = 11,7 % < 65 %
    assert triple(e1, M, "amount_due") == (D("39942.00"), D("0.00"), D("39942.00"))  # 42 042 − 2 100
    # --- S1: nothing yet ---
    assert col(e1, S1, "ttc").to_date == D("0.00")
    assert col(e1, S1, "amount_due").to_date == D("0.00")
    # --- C ---
    assert col(e1, C, "revision").to_date == D("10.00")  # 10 000 × 0,001
    assert col(e1, C, "vat").to_date == D("2002.00")  # 20 % × 10 010
    assert col(e1, C, "ttc").to_date == D("12012.00")  # 10 010 + 2 002
    # C's part: 5 % × (10 000 + 4 000) × 1,20 = 5 % × 16 800 = 840,00; S2 (with VAT) 5 % × 4 000 × 1,20 = 240,00
    # C's share = 840 − 240 = 600,00
    assert col(e1, C, "retenue").to_date == D("600.00")
    assert col(e1, C, "amount_due").to_date == D("11412.00")  # 12 012 − 600
    # --- S2 (not reverse-charged: its own VAT) ---
    assert col(e1, S2, "revision").to_date == D("4.00")  # 4 000 × 0,001
    assert col(e1, S2, "vat").to_date == D("800.80")  # 20 % × 4 004
    assert col(e1, S2, "ttc").to_date == D("4804.80")  # 4 004 + 800,80
    assert col(e1, S2, "retenue").to_date == D("240.00")
    assert col(e1, S2, "amount_due").to_date == D("4564.80")  # 4 804,80 − 240
    # --- marché: sums of the rounded lines ---
    assert col(e1, None, "works_ht").to_date == D("49000.00")  # 35 000 + 0 + 10 000 + 4 000
    assert col(e1, None, "vat").to_date == D("9809.80")  # 7 007 + 0 + 2 002 + 800,80
    assert col(e1, None, "ttc").to_date == D("58858.80")  # 42 042 + 0 + 12 012 + 4 804,80
    assert col(e1, None, "retenue").to_date == D("2940.00")  # 2 100 + 0 + 600 + 240
    assert col(e1, None, "amount_due").to_date == D("55918.80")  # 58 858,80 − 2 940 ✓ 39 942 + 11 412 + 4 564,80
    # --- payable per payee (groupement conjoint: each member is paid itself) ---
    assert {p.payee_key: p.this for p in e1.payables} == {
        M: D("39942.00"),
        S1: D("0.00"),
        C: D("11412.00"),
        S2: D("4564.80"),
    }


def test_month_2_april_2024(etats):
    e2 = etats[1]
    # C(avril 2024) = 0,15 + 0,85 × 131,0 / 130,8 = 1,001300 → 1,002
    # --- M: admitted 60 000 + 2 000 appro (claimed 65 000: see the correction test) ---
    assert triple(e2, M, "works_ht") == (D("62000.00"), D("35000.00"), D("27000.00"))
    # revision of April: Δ 27 000 × 0,002 = 54,00; cumulative 35 + 54 = 89,00
    assert triple(e2, M, "revision") == (D("89.00"), D("35.00"), D("54.00"))
    # VAT: own 20 % × (62 000 + 89) = 12 417,80; on S1's works 20 % × (6 000 + 12) = 1 202,40; total 13 620,20
    assert triple(e2, M, "vat") == (D("13620.20"), D("7007.00"), D("6613.20"))
    assert col(e2, M, "ttc").to_date == D("75709.20")  # 62 089 + 13 620,20
    # retenue part M: 5 % × (62 000 + 6 000) × 1,20 = 4 080,00; S1 5 % × 6 000 = 300,00; M 4 080 − 300 = 3 780,00
    assert triple(e2, M, "retenue") == (D("3780.00"), D("2100.00"), D("1680.00"))
    # due: 75 709,20 − 3 780 = 71 929,20; this acompte 71 929,20 − 39 942,00 = 31 987,20
    assert triple(e2, M, "amount_due") == (D("71929.20"), D("39942.00"), D("31987.20"))
    # --- S1: paid HT (reverse charge) ---
    assert col(e2, S1, "revision").to_date == D("12.00")  # 6 000 × 0,002
    assert col(e2, S1, "vat").to_date == D("0.00")
    assert col(e2, S1, "ttc").to_date == D("6012.00")  # 6 000 + 12
    assert col(e2, S1, "retenue").to_date == D("300.00")
    assert triple(e2, S1, "amount_due") == (D("5712.00"), D("0.00"), D("5712.00"))  # 6 012 − 300
    # --- C ---
    assert col(e2, C, "revision").to_date == D("40.00")  # 10 + 15 000 × 0,002 = 10 + 30
    assert col(e2, C, "vat").to_date == D("5008.00")  # 20 % × 25 040
    assert col(e2, C, "ttc").to_date == D("30048.00")
    # part C: 5 % × (25 000 + 8 000) × 1,20 = 1 980,00; S2 5 % × 8 000 × 1,20 = 480,00; C 1 500,00
    assert col(e2, C, "retenue").to_date == D("1500.00")
    assert triple(e2, C, "amount_due") == (D("28548.00"), D("11412.00"), D("17136.00"))  # 30 048 − 1 500
    # --- S2 ---
    assert col(e2, S2, "revision").to_date == D("12.00")  # 4 + 4 000 × 0,002
    assert col(e2, S2, "vat").to_date == D("1602.40")  # 20 % × 8 012
    assert col(e2, S2, "ttc").to_date == D("9614.40")
    assert col(e2, S2, "retenue").to_date == D("480.00")
    assert triple(e2, S2, "amount_due") == (D("9134.40"), D("4564.80"), D("4569.60"))
    # --- marché ---
    assert col(e2, None, "revision").to_date == D("153.00")  # 89 + 12 + 40 + 12
    assert col(e2, None, "vat").to_date == D("20230.60")  # 13 620,20 + 0 + 5 008 + 1 602,40
    assert col(e2, None, "ttc").to_date == D("121383.60")  # 75 709,20 + 6 012 + 30 048 + 9 614,40
    assert col(e2, None, "retenue").to_date == D("6060.00")  # 3 780 + 300 + 1 500 + 480
    # 121 383,60 − 6 060 = 115 323,60; this 115 323,60 − 55 918,80 = 59 404,80
    assert triple(e2, None, "amount_due") == (D("115323.60"), D("55918.80"), D("59404.80"))
    # = 31 987,20 + 5 712 + 17 136 + 4 569,60 ✓
    assert sum(p.this for p in e2.payables) == D("59404.80")


def test_month_3_may_2024_with_half_up_rounding(etats):
    e3 = etats[2]
    # C(mai 2024) = 0,15 + 0,85 × 131,3 / 130,8 = 1,003249 → 1,004
    # --- M ---
    assert triple(e3, M, "revision") == (D("241.00"), D("89.00"), D("152.00"))  # Δ 38 000 × 0,004 = 152
    # S1: Δ 15 345,70 − 6 000 = 9 345,70; × 0,004 = 37,3828 → 37,38; cumulative 12 + 37,38 = 49,38
    assert triple(e3, S1, "revision") == (D("49.38"), D("12.00"), D("37.38"))
    # VAT of M: own 20 % × 100 241 = 20 048,20; on S1 20 % × (15 345,70 + 49,38) = 20 % × 15 395,08 = 3 079,016
    # → 3 079,02; total 23 127,22
    assert col(e3, M, "vat").to_date == D("23127.22")
    assert col(e3, M, "ttc").to_date == D("123368.22")  # 100 241 + 23 127,22
    # retenue: S1's share 5 % × 15 345,70 = 767,285 → 767,29 (half-UP: half-even would give 767,28)
    assert col(e3, S1, "retenue").to_date == D("767.29")
    # part M: 5 % × (100 000 + 15 345,70) × 1,20 = 5 % × 138 414,84 = 6 920,742 → 6 920,74
    # M's share = 6 920,74 − 767,29 = 6 153,45
    assert col(e3, M, "retenue").to_date == D("6153.45")
    # due M: 123 368,22 − 6 153,45 = 117 214,77; this 117 214,77 − 71 929,20 = 45 285,57
    assert triple(e3, M, "amount_due") == (D("117214.77"), D("71929.20"), D("45285.57"))
    # --- S1: TTC = HT 15 345,70 + 49,38 = 15 395,08; due 15 395,08 − 767,29 = 14 627,79; this − 5 712 = 8 915,79
    assert col(e3, S1, "ttc").to_date == D("15395.08")
    assert triple(e3, S1, "amount_due") == (D("14627.79"), D("5712.00"), D("8915.79"))
    # --- C: débours 500 appear outside VAT, revision and retenue ---
    assert col(e3, C, "revision").to_date == D("120.00")  # 40 + 20 000 × 0,004
    assert triple(e3, C, "debours") == (D("500.00"), D("0.00"), D("500.00"))
    assert col(e3, C, "vat").to_date == D("9024.00")  # 20 % × (45 000 + 120), débours excluded
    assert col(e3, C, "ttc").to_date == D("54644.00")  # 45 120 + 9 024 + 500
    # --- S2 ---
    # Δ 12 345,67 − 8 000 = 4 345,67; × 0,004 = 17,38268 → 17,38; cumulative 12 + 17,38 = 29,38
    assert col(e3, S2, "revision").to_date == D("29.38")
    assert col(e3, S2, "vat").to_date == D("2475.01")  # 20 % × (12 345,67 + 29,38) = 20 % × 12 375,05 = 2 475,01
    assert col(e3, S2, "ttc").to_date == D("14850.06")  # 12 375,05 + 2 475,01
    # S2 5 % × 12 345,67 × 1,20 = 5 % × 14 814,804 = 740,7402 → 740,74
    assert col(e3, S2, "retenue").to_date == D("740.74")
    # part C: 5 % × (45 000 + 12 345,67) × 1,20 = 5 % × 68 814,804 = 3 440,7402 → 3 440,74; C 3 440,74 − 740,74
    assert col(e3, C, "retenue").to_date == D("2700.00")
    assert triple(e3, C, "amount_due") == (D("51944.00"), D("28548.00"), D("23396.00"))  # 54 644 − 2 700
    assert triple(e3, S2, "amount_due") == (D("14109.32"), D("9134.40"), D("4974.92"))  # 14 850,06 − 740,74
    # --- marché ---
    assert col(e3, None, "works_ht").to_date == D("172691.37")  # 100 000 + 15 345,70 + 45 000 + 12 345,67
    assert col(e3, None, "revision").to_date == D("439.76")  # 241 + 49,38 + 120 + 29,38
    assert col(e3, None, "vat").to_date == D("34626.23")  # 23 127,22 + 0 + 9 024 + 2 475,01
    assert col(e3, None, "ttc").to_date == D("208257.36")  # 123 368,22 + 15 395,08 + 54 644 + 14 850,06
    assert col(e3, None, "retenue").to_date == D("10361.48")  # 6 153,45 + 767,29 + 2 700 + 740,74
    # 208 257,36 − 10 361,48 = 197 895,88; this 197 895,88 − 115 323,60 = 82 572,28
    assert triple(e3, None, "amount_due") == (D("197895.88"), D("115323.60"), D("82572.28"))
    # = 45 285,57 + 8 915,79 + 23 396 + 4 974,92 ✓
    assert {p.payee_key: p.this for p in e3.payables} == {
        M: D("45285.57"),
        S1: D("8915.79"),
        C: D("23396.00"),
        S2: D("4974.92"),
    }


def test_every_figure_is_explained(etats):
    e3 = etats[2]
    for b in e3.beneficiaries:
        for column in b.columns.all():
            assert column.lines, column.name
            last = column.lines[-1]
            assert last.formula == "cumul à ce jour − cumul de l'état précédent"
            assert last.result == column.this
    vat_lines = [line.label for line in e3.beneficiary(M).columns.vat.lines]
    assert "TVA autoliquidée sur les travaux du sous-traitant Étanchéité Sud" in vat_lines
    revision = e3.beneficiary(M).columns.revision
    coefficient = next(line for line in revision.lines if line.label == "Coefficient de révision C de mai 2024")
    assert coefficient.result == D("1.004")
    assert coefficient.formula == "a + b × I / I0, arrondi au millième supérieur"
    texts = [line.text() for line in revision.lines]
    assert any("38\u202f000,00" in text and "152,00\u00a0€" in text for text in texts)
    # the export carries the same lines, amounts as strings, never floats
    exported = json.loads(json.dumps(e3.to_dict()))
    assert exported["marche"]["amount_due"]["this"] == "82572.28"
    assert exported["beneficiaries"][0]["columns"]["retenue"]["lines"][0]["result"] == "6920.74"


# ---------------------------------------------------------------------------------------------------------------------
# (2) A month where the MOE corrects the claim


def test_month_2_moe_correction_is_kept_and_the_admitted_figure_used(etats):
    e2 = etats[1]
    (correction,) = e2.corrections
    assert (correction.key, correction.field) == (M, "travaux")
    assert (correction.claimed, correction.admitted, correction.difference) == (
        D("65000.00"),
        D("60000.00"),
        D("-5000.00"),
    )
    assert correction.line().label == "Correction du maître d'œuvre — Travaux (Maçonnerie Martin)"
    # computed on the admitted 60 000 + 2 000, not on the claimed 65 000 + 2 000
    assert col(e2, M, "works_ht").to_date == D("62000.00")
    # had the claim been admitted: works 67 000, Δ 32 000 × 0,002 = 64,00, revision 35 + 64 = 99,00
    admitted_claim = decompte(2, claimed=())
    admitted_claim = replace(
        admitted_claim,
        parts=(PartDecompte(M, travaux=D("65000.00"), approvisionnements=D("2000.00")), *admitted_claim.parts[1:]),
    )
    unchecked = compute_etat_acompte(TERMS, BENEFICIARIES, admitted_claim, etats[0], BT01)
    assert col(unchecked, M, "revision").to_date == D("99.00")
    # the correction cost M: 5 000 + 10 (revision) + 20 % × 5 010 VAT − 5 % × 5 000 × 1,20 retenue
    #   = 5 000 + 10 + 1 002 − 300 = 5 712,00
    assert col(unchecked, M, "amount_due").this - col(e2, M, "amount_due").this == D("5712.00")


def test_a_cumul_going_backwards_is_a_negative_acompte_not_an_error(etats):
    # the MOE reduces S2's cumulative in month 4 below month 3 (an earlier over-admission): S2 refunds
    row = ("2024-06", ("150000.00", "0.00"), "22000.00", ("70000.00", "500.00"), "11000.00")
    e4 = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(4, row), etats[2], BT01)
    # Δ = 11 000 − 12 345,67 = −1 345,67; revision of June (C 1,003) = −4,03701 → −4,04
    assert col(e4, S2, "revision").this == D("-4.04")
    assert col(e4, S2, "amount_due").this < 0
    assert e4.payable(S2).lines[-1].formula.startswith("montant négatif")


# ---------------------------------------------------------------------------------------------------------------------
# (3) A month with penalties


def test_penalties_below_the_threshold_are_waived_then_applied_in_full(etats):
    e8, e9 = etats[7], etats[8]
    # month 8: 4 days × 600 000 / 3000 = 4 × 200 = 800,00 < 1 000 € HT → no penalty (CCAG 2021 exemption)
    assert triple(e8, M, "penalties") == (D("0.00"), D("0.00"), D("0.00"))
    assert "exonération" in e8.beneficiary(M).columns.penalties.lines[-2].formula
    # month 9: 800 + 2 × 200 = 1 200,00 ≥ 1 000 → the whole 1 200,00 is deducted in this état
    assert triple(e9, M, "penalties") == (D("1200.00"), D("0.00"), D("1200.00"))
    # penalties are outside the VAT base: the same month without penalties has the same VAT and 1 200 more due
    without = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(9, penalties=()), e8, BT01)
    assert col(without, M, "vat").to_date == col(e9, M, "vat").to_date
    assert col(without, M, "amount_due").this - col(e9, M, "amount_due").this == D("1200.00")
    assert col(e9, M, "total_deducted").this == (
        col(e9, M, "retenue").this + col(e9, M, "avance_repayment").this + D("1200.00")
    )
    # other beneficiaries are not charged
    assert col(e9, C, "penalties").to_date == D("0.00")


def test_fixed_amount_penalty_from_the_ccap():
    e1 = compute_etat_acompte(
        TERMS,
        BENEFICIARIES,
        decompte(1, penalties=(Penalty(C, "Absence à la réunion de chantier", amount=D("1500.00")),)),
        None,
        BT01,
    )
    assert col(e1, C, "penalties").to_date == D("1500.00")
    assert col(e1, C, "amount_due").to_date == D("9912.00")  # 12 012 − 600 − 1 500


# ---------------------------------------------------------------------------------------------------------------------
# (4) The month the advance repayment starts


def test_advance_repayment_starts_when_65_percent_is_crossed(etats):
    e5, e6, e7, e8 = etats[4], etats[5], etats[6], etats[7]
    # month 5: M at 180 000 / 300 000 = 60 % → nothing
    assert col(e5, M, "avance_repayment").to_date == D("0.00")
    # month 6: M at 210 000 / 300 000 = 70 %: target 18 600 × (70 % − 65 %) / (80 % − 65 %) = 18 600 / 3 = 6 200,00
    assert triple(e6, M, "avance_repayment") == (D("6200.00"), D("0.00"), D("6200.00"))
    lines = e6.beneficiary(M).columns.avance_repayment.lines
    assert lines[0].label == "Exécution de la part (Maçonnerie Martin)" and lines[0].result == D("0.700000")
    # month 7: M at 240 000 / 300 000 = 80 % → the whole 18 600,00; this état 18 600 − 6 200 = 12 400,00
    assert triple(e7, M, "avance_repayment") == (D("18600.00"), D("6200.00"), D("12400.00"))
    # month 6: S1 at 38 000 / 60 000 = 63,3 %, C at 120 000 / 200 000 = 60 %, S2 at 24 000 / 40 000 = 60 %: nothing
    assert [col(e6, k, "avance_repayment").to_date for k in (S1, C, S2)] == [D("0.00")] * 3
    # month 7: S1 at 44 000 / 60 000 = 73,333 %: 3 000 × (0,733333… − 0,65) / 0,15 = 3 000 × 0,555… = 1 666,666…
    #   → 1 666,67
    assert col(e7, S1, "avance_repayment").to_date == D("1666.67")
    # C at 70 %: 12 000 / 3 = 4 000,00; S2 at 70 %: 2 400 / 3 = 800,00
    assert col(e7, C, "avance_repayment").to_date == D("4000.00")
    assert col(e7, S2, "avance_repayment").to_date == D("800.00")
    # month 8: S1 at 50 000 / 60 000 = 83,3 % ≥ 80 % → 3 000,00; this état 3 000 − 1 666,67 = 1 333,33
    assert triple(e8, S1, "avance_repayment") == (D("3000.00"), D("1666.67"), D("1333.33"))
    # the deduction lowers the amount due by exactly the repayment (M, month 6)
    c = e6.beneficiary(M).columns
    assert c.amount_due.this == c.ttc.this - c.retenue.this - D("6200.00") - c.penalties.this


# ---------------------------------------------------------------------------------------------------------------------
# Provisional indexes in the running états


def test_provisional_index_is_used_then_trued_up_in_the_next_etat(etats):
    e11, e12 = etats[10], etats[11]
    # état 11: BT01 of January 2025 provisional 131,7: C = 0,15 + 0,85 × 131,7 / 130,8 = 1,005849 → 1,006
    # C: Δ 198 000 − 190 000 = 8 000 × 0,006 = 48,00
    line = next(r for r in e11.revision_lines if r.key == C and r.month == "2025-01")
    assert (line.coefficient, line.amount, line.definitive) == (D("1.006"), D("48.00"), False)
    # état 12: January's provisional value unchanged (nothing to true up); February provisional 132,0 → 1,008:
    # C: Δ 2 000 × 0,008 = 16,00
    assert col(e12, C, "revision").this == D("16.00")
    feb = next(r for r in e12.revision_lines if r.key == C and r.month == "2025-02")
    assert (feb.coefficient, feb.amount) == (D("1.008"), D("16.00"))
    # when the MOE corrects January's provisional value (still provisional, 131,9) in a 13th état:
    # C = 0,15 + 0,85 × 131,9 / 130,8 = 1,007148 → 1,008: 8 000 × 0,008 = 64,00, true-up 64 − 48 = +16,00
    corrected = BT01_AT_12.with_value("2025-01", D("131.9"), IndexStatus.PROVISIONAL)
    e13 = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(12, number=13), e12, corrected)
    assert col(e13, C, "revision").this == D("16.00")
    regularisation = [x for x in e13.beneficiary(C).columns.revision.lines if x.label.startswith("Régularisation")]
    assert [x.result for x in regularisation] == [D("16.00")]
    assert "indice provisoire corrigé" in regularisation[0].label


def test_missing_index_names_the_month(etats):
    without_march = IndexTable("BT01", tuple(v for v in BT01.values if v.month != "2024-05"))
    with pytest.raises(MissingIndexError) as error:
        compute_etat_acompte(TERMS, BENEFICIARIES, decompte(3), etats[1], without_march)
    assert "Indice BT01 manquant pour le mois de mai 2024 (2024-05)" in str(error.value)


# ---------------------------------------------------------------------------------------------------------------------
# Payees, DC4 ceilings, state, bad input


def test_groupement_solidaire_is_paid_through_the_mandataire():
    terms = replace(TERMS, groupement="solidaire")
    e1 = compute_etat_acompte(terms, BENEFICIARIES, decompte(1), None, BT01)
    # C's 11 412,00 goes to M: 39 942 + 11 412 = 51 354,00; the sous-traitants in paiement direct stay separate
    assert {p.payee_key: p.this for p in e1.payables} == {M: D("51354.00"), S1: D("0.00"), S2: D("4564.80")}
    assert e1.beneficiary(C).payee_key == M
    # the named alternative: each member paid itself
    each = replace(terms, groupement_payment=GroupementPayment.EACH_MEMBER)
    e1 = compute_etat_acompte(each, BENEFICIARIES, decompte(1), None, BT01)
    assert e1.payable(C).this == D("11412.00")


def test_dc4_ceiling_overrun_is_refused_and_explained(etats):
    # S2 claims 42 000 at month 11: TTC = 42 000 + revision + 20 % VAT > 50 000 → refused, never capped
    row = ("2025-01", ("300000.00", "0.00"), "60000.00", ("198000.00", "500.00"), "42000.00")
    with pytest.raises(MoneyError) as error:
        compute_etat_acompte(TERMS, BENEFICIARIES, decompte(11, row), etats[9], BT01_AT_11)
    message = str(error.value)
    assert message.startswith("Le cumul des sommes dues au sous-traitant BET Fluides")
    assert "révision des prix comprise" in message and "acte spécial modificatif" in message
    assert error.value.field == "dc4_ceiling_ttc"


def test_state_round_trip_gives_the_same_next_etat(etats):
    stored = json.loads(json.dumps(etats[2].cumuls().to_dict()))
    restored = CumulState.from_dict(stored)
    a = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(4), etats[2], BT01)
    b = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(4), restored, BT01)
    assert a == b


def test_sum_of_the_etats_is_the_cumulative(etats):
    for key in (None, M, S1, C, S2):
        for name in COLUMNS:
            assert etats_total(etats, key, name) == col(etats[-1], key, name).to_date, (key, name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: replace(d, parts=d.parts[:3]), "Le décompte doit donner le cumul de chaque bénéficiaire"),
        (
            lambda d: replace(d, parts=(PartDecompte(M, travaux=D("100.00"), refactions=D("200.00")), *d.parts[1:])),
            "les réfactions (200,00",
        ),
        (lambda d: replace(d, month="2024-01"), "ne peut précéder l'état précédent"),
        (lambda d: replace(d, number=3), "doit suivre l'état précédent"),
    ],
)
def test_bad_decompte_is_refused_in_french(etats, change, message):
    with pytest.raises(MoneyError) as error:
        compute_etat_acompte(TERMS, BENEFICIARIES, change(decompte(4)), etats[2], BT01)
    assert message in str(error.value)


def test_negative_amounts_only_as_refaction():
    with pytest.raises(MoneyError) as error:
        PartDecompte(M, travaux=D("-100.00"))
    assert "Une moins-value s'inscrit en réfaction" in str(error.value)
    assert PartDecompte(M, travaux=D("1000.00"), refactions=D("100.00")).works_ht == D("900.00")


def test_inconsistent_beneficiaries_are_refused():
    with pytest.raises(MoneyError, match="La somme des parts des bénéficiaires"):
        compute_etat_acompte(
            TERMS, (replace(BENEFICIARIES[0], part_ht=D("299999.99")), *BENEFICIARIES[1:]), decompte(1), None, BT01
        )
    with pytest.raises(MoneyError, match="n'est pas en paiement direct"):
        compute_etat_acompte(
            TERMS, (*BENEFICIARIES[:3], replace(BENEFICIARIES[3], paiement_direct=False)), decompte(1), None, BT01
        )
    with pytest.raises(MoneyError, match="exactement un titulaire"):
        compute_etat_acompte(replace(TERMS, groupement="none"), BENEFICIARIES, decompte(1), None, BT01)
    with pytest.raises(MoneyError, match="la table de ses valeurs est nécessaire"):
        compute_etat_acompte(TERMS, BENEFICIARIES, decompte(1), None, None)


def test_retenue_replaced_by_a_guarantee_on_one_part():
    terms = replace(TERMS, retenue=RetenueSettings(replaced=frozenset({C})))
    e1 = compute_etat_acompte(terms, BENEFICIARIES, decompte(1), None, BT01)
    assert col(e1, C, "retenue").to_date == D("0.00")  # C gave a garantie à première demande
    assert col(e1, S2, "retenue").to_date == D("240.00")  # S2 did not: its share stays
    assert col(e1, M, "retenue").to_date == D("2100.00")
    assert col(e1, C, "amount_due").to_date == D("12012.00")
    assert col(e1, None, "retenue").to_date == D("2340.00")  # 2 100 + 0 + 0 + 240


def test_the_callers_decimal_context_changes_nothing(etats):
    with localcontext() as context:
        context.prec = 4
        context.rounding = ROUND_DOWN
        e1 = compute_etat_acompte(TERMS, BENEFICIARIES, decompte(1), None, BT01)
    assert e1 == etats[0]
