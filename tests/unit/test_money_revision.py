"""Price revision (CHORUS.md §5, §6b): coefficient C = a + b·I/I0 with the real BT01 values, its rounding options,
the revision of a month, the true-up of provisional indexes, and the index table. Computed by hand in the comments.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from chorus_chain.domain.money import (
    CoefficientRounding,
    IndexStatus,
    IndexTable,
    IndexValue,
    MissingIndexError,
    MoneyError,
    RevisionAmount,
    RevisionTerms,
    coefficient,
    load_index_csv,
    parse_index_csv,
    revise,
)
from tests.unit.test_money_etat_acompte import BT01

D = Decimal
# The published series the application ships (the repository stands alone: nothing is read from beside it).
DATA = Path(__file__).resolve().parents[2] / "chorus_chain" / "data"
TERMS = RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01")


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("2024-03", "1.001"),  # 130,9 / 130,8 = 1,000765; × 0,85 = 0,850650; + 0,15 = 1,000650 → up 1,001
        ("2024-04", "1.002"),  # 131,0 / 130,8 = 1,001529; × 0,85 = 0,851300; + 0,15 = 1,001300 → 1,002
        ("2024-05", "1.004"),  # 131,3 / 130,8 = 1,003823; × 0,85 = 0,853249 → 1,003249 → 1,004
        ("2024-06", "1.003"),  # 131,2 / 130,8 = 1,003058; × 0,85 = 0,852599 → 1,002599 → 1,003
        ("2024-08", "1.006"),  # 131,7 / 130,8 = 1,006881; × 0,85 = 0,855849 → 1,005849 → 1,006
        ("2024-11", "1.005"),  # 131,5 / 130,8 = 1,005352; × 0,85 = 0,854549 → 1,004549 → 1,005
        ("2025-01", "1.008"),  # 132,0 / 130,8 = 1,009174; × 0,85 = 0,857798 → 1,007798 → 1,008
        ("2025-03", "1.012"),  # 132,5 / 130,8 = 1,012997; × 0,85 = 0,861047 → 1,011047 → 1,012
        ("2024-01", "1.000"),  # the base month itself: I / I0 = 1 exactly → C = 1,000
    ],
)
def test_coefficient_rounded_up_to_the_thousandth_with_real_bt01(month, expected):
    c = coefficient(TERMS, BT01, month)
    assert c.value == D(expected)
    assert c.definitive
    assert c.line.unit == "coefficient" and c.line.result == D(expected)


@pytest.mark.parametrize(
    ("rounding", "expected", "amount"),
    [
        # March 2025: I / I0 = 132,5 / 130,8 = 1,0129969419…
        (CoefficientRounding.C_UP_THOUSANDTH, "1.012", "180.00"),  # 1,0110474 → 1,012; 15 000 × 0,012
        # ratio up 1,013 → C = 0,15 + 0,85 × 1,013 = 1,01105; 15 000 × 0,01105 = 165,75
        (CoefficientRounding.RATIO_UP_THOUSANDTH, "1.01105", "165.75"),
        (CoefficientRounding.C_NEAREST_THOUSANDTH, "1.011", "165.00"),  # 1,0110474 → 1,011; 15 000 × 0,011
        # exact 1,011047400611620795…; 15 000 × 0,0110474006116 = 165,711009… → 165,71
        (CoefficientRounding.NONE, "1.011047401", "165.71"),
    ],
)
def test_rounding_options(rounding, expected, amount):
    terms = RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01", rounding=rounding)
    c = coefficient(terms, BT01, "2025-03")
    if rounding is CoefficientRounding.NONE:
        assert c.value.quantize(D("0.000000001")) == D(expected)
    else:
        assert c.value == D(expected)
    result = revise(terms, BT01, "X", "2025-03", D("15000.00"), ())
    assert result.to_date.value == D(amount)


def test_month_revision_is_delta_works_times_c_minus_one():
    result = revise(TERMS, BT01, "X", "2024-05", D("38000.00"), ())
    # 38 000 × (1,004 − 1) = 152,00
    assert result.month_line.amount == D("152.00")
    assert result.to_date.value == D("152.00")
    assert result.detail[-1].formula == "Δ travaux du mois aux prix de base × (C − 1), arrondi au centime"
    # a negative Δ (the MOE reduced the cumul) is revised at this month's coefficient: −1 345,67 × 0,003 = −4,04
    negative = revise(TERMS, BT01, "X", "2024-06", D("-1345.67"), result.history)
    assert negative.month_line.amount == D("-4.04")
    assert negative.to_date.value == D("147.96")  # 152 − 4,04
    # no new works: no line at all
    idle = revise(TERMS, BT01, "X", "2024-07", D("0.00"), negative.history)
    assert idle.month_line is None and idle.history == negative.history


def test_provisional_index_trued_up_when_definitive():
    provisional = BT01.with_value("2025-01", D("131.7"), IndexStatus.PROVISIONAL)
    # état of January 2025 with the provisional 131,7: C = 0,15 + 0,85 × 1,006881 = 1,005849 → 1,006
    # Δ 5 000 × 0,006 = 30,00
    january = revise(TERMS, provisional, "X", "2025-01", D("5000.00"), ())
    assert (january.month_line.coefficient, january.month_line.amount) == (D("1.006"), D("30.00"))
    assert not january.month_line.definitive
    # état of February, definitive 132,0 for January: C 1,008 → 5 000 × 0,008 = 40,00, true-up + 10,00
    # February itself: Δ 3 000 × (1,009 − 1) = 27,00
    february = revise(TERMS, BT01, "X", "2025-02", D("3000.00"), january.history)
    ((old, new),) = february.true_ups
    assert (old.amount, new.amount, new.definitive) == (D("30.00"), D("40.00"), True)
    regularisation = next(line for line in february.detail if line.label.startswith("Régularisation"))
    assert regularisation.label == "Régularisation de la révision de janvier 2025 (indice définitif)"
    assert regularisation.result == D("10.00")
    assert february.to_date.value == D("67.00")  # 40 + 27
    # this état's revision: 67 − 30 = 37,00 = 27 (February) + 10 (true-up)
    # a definitive month is closed: later tables do not change it, even if a value is re-entered
    rewritten = BT01.with_value("2025-01", D("140.0"), IndexStatus.DEFINITIVE)
    march = revise(TERMS, rewritten, "X", "2025-03", D("0.00"), february.history)
    assert march.true_ups == () and march.to_date.value == D("67.00")


def test_provisional_base_month_keeps_every_month_provisional():
    table = BT01.with_value("2024-01", D("130.8"), IndexStatus.PROVISIONAL)
    c = coefficient(TERMS, table, "2024-03")
    assert c.value == D("1.001") and not c.definitive


def test_cumulative_amount_mode_rounds_once():
    terms = RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01", amount=RevisionAmount.CUMULATIVE)
    # June and July 2024 both have C = 1,003; Δ 1 111,11 each: 1 111,11 × 0,003 = 3,33333
    june = revise(terms, BT01, "X", "2024-06", D("1111.11"), ())
    july = revise(terms, BT01, "X", "2024-07", D("1111.11"), june.history)
    # cumulative: 3,33333 + 3,33333 = 6,66666 → 6,67 (the monthly default gives 3,33 + 3,33 = 6,66)
    assert july.to_date.value == D("6.67")
    monthly = revise(
        TERMS, BT01, "X", "2024-07", D("1111.11"), revise(TERMS, BT01, "X", "2024-06", D("1111.11"), ()).history
    )
    assert monthly.to_date.value == D("6.66")


def test_unrounded_coefficient_rounds_the_exact_amount_once():
    """Without rounding, C = a + b·I/I0 has no end (÷ 130,8); the amount is Δ × (C − 1) of the exact rational,
    rounded half-up once (§6b). A 40-digit C landed below the half-cent of an exact tie and rounded it down."""
    terms = RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01", rounding=CoefficientRounding.NONE)
    # March 2025: C − 1 = 0,85 × (132,5 − 130,8) / 130,8 = 14,45 / 1 308; 130,80 × 14,45 / 1 308 = 1,445 exactly
    march = revise(terms, BT01, "X", "2025-03", D("130.80"), ())
    assert march.month_line.amount == D("1.45")  # the cut C gave 1,44
    assert march.to_date.value == D("1.45")
    # The coefficient shown and kept is still the Decimal of C (the line records it, with I and I0).
    assert march.month_line.coefficient.quantize(D("0.000000001")) == D("1.011047401")
    # Cumulative mode: 96,40 × 0,85 × 1 / 130,8 + 10 000 × 0,85 × 5 / 130,8 = 32,555 exactly → 32,56 (was 32,55)
    cumulative = RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-01", rounding=CoefficientRounding.NONE,
                               amount=RevisionAmount.CUMULATIVE)
    first = revise(cumulative, BT01, "X", "2024-03", D("96.40"), ())
    second = revise(cumulative, BT01, "X", "2024-05", D("10000.00"), first.history)
    assert second.to_date.value == D("32.56")
    # The rounded settings are untouched: their C is exact with three decimals.
    rounded = revise(TERMS, BT01, "X", "2025-03", D("130.80"), ())
    assert rounded.month_line.amount == D("1.57")  # 130,80 × 0,012 = 1,5696


def test_missing_index_names_the_month():
    with pytest.raises(MissingIndexError) as error:
        coefficient(TERMS, BT01, "2026-03")
    assert str(error.value).startswith("Indice BT01 manquant pour le mois de mars 2026 (2026-03)")
    assert error.value.month == "2026-03"
    with pytest.raises(MissingIndexError, match="août 2019"):
        coefficient(RevisionTerms(a=D("0.15"), index="BT01", base_month="2019-08"), BT01, "2024-03")
    with pytest.raises(MoneyError, match="La table d'indices fournie est « TP02 »"):
        coefficient(TERMS, IndexTable("TP02", ()), "2024-03")


def test_revision_terms_are_checked():
    assert TERMS.b == D("0.85")
    with pytest.raises(MoneyError, match="inférieure à 1"):
        RevisionTerms(a=D("1"), index="BT01", base_month="2024-01")
    with pytest.raises(TypeError, match="float refused"):
        RevisionTerms(a=0.15, index="BT01", base_month="2024-01")
    with pytest.raises(MoneyError, match="Mois invalide"):
        RevisionTerms(a=D("0.15"), index="BT01", base_month="2024-13")


def test_index_csv_parsing():
    table = parse_index_csv(
        "month,bt01,status,source\n2025-10,133.2,published,x\n2025-11,133.3,provisoire,x\n2025-12,133.5,provisional,x\n",
        "BT01",
    )
    assert [(v.month, v.value, v.status) for v in table.values] == [
        ("2025-10", D("133.2"), IndexStatus.DEFINITIVE),
        ("2025-11", D("133.3"), IndexStatus.PROVISIONAL),
        ("2025-12", D("133.5"), IndexStatus.PROVISIONAL),
    ]
    with pytest.raises(MoneyError, match="statut inconnu « estimé »"):
        parse_index_csv("month,bt01,status\n2025-10,133.2,estimé\n", "BT01")
    with pytest.raises(MoneyError, match="colonnes « month » et « tp02 » attendues"):
        parse_index_csv("month,bt01\n2025-10,133.2\n", "TP02")
    with pytest.raises(MoneyError, match="plusieurs valeurs pour octobre 2025"):
        IndexTable("BT01", (IndexValue("2025-10", D("1")), IndexValue("2025-10", D("2"))))
    with pytest.raises(MoneyError, match="valeur illisible"):
        parse_index_csv("month,bt01\n2025-10,n/a\n", "BT01")


def test_real_bt01_file_loads():
    path = DATA / "bt01_index.csv"
    table = load_index_csv(path, "BT01")
    assert len(table.values) == 59  # January 2021 – November 2025
    assert table.get("2021-01").value == D("114.4") and table.get("2025-11").value == D("133.3")
    assert all(v.definitive for v in table.values)
