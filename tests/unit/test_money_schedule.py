"""The price schedule and the PDM lines (domain.money.schedule): values rounded once, sheets read tolerantly with
line-level French errors, PDM lines valued and checked, the month's claim never negative."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus_chain.domain.money import MoneyError
from chorus_chain.domain.money.schedule import (
    Cumul,
    NumberRefused,
    PriceTerms,
    build_line,
    header_key,
    pdm_amount,
    pdm_line_amount,
    pdm_line_problems,
    progress_percent,
    read_measure,
    read_number,
    read_sheet,
    unit_line_value,
    vat_of,
)

D = Decimal
HEADER = ["Lot", "Réf.", "Désignation", "Unité", "Quantité", "Prix unitaire HT", "Montant HT"]


# --- numbers ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, places, expected", [
    ("1 234,50", 2, D("1234.50")), ("1\u202f234,5", 3, D("1234.500")), ("1.234,56", 2, D("1234.56")),
    ("1234.5", 4, D("1234.5000")), ("12,5 €", 2, D("12.50")), ("  7 ", 3, D("7.000")), ("-3,5", 3, D("-3.500")),
    (12, 3, D("12.000")), (12.3, 3, D("12.300")), (0.1 + 0.2, 2, D("0.30")), ("", 2, None), (None, 2, None),
])
def test_read_number_french_and_spreadsheet_forms(text, places, expected):
    assert read_number(text, places) == expected


@pytest.mark.parametrize("text, reason", [
    ("12,5,3", "illisible « 12,5,3 »"), ("abc", "illisible « abc »"), ("1,2345", "avec trop de décimales"),
    (12.3456, "avec trop de décimales"), ("1 23,5", "illisible"),
])
def test_read_number_refuses_what_it_would_have_to_guess(text, reason):
    with pytest.raises(NumberRefused) as error:
        read_number(text, 3)
    assert reason in error.value.reason_fr


# --- lines -----------------------------------------------------------------------------------------------------------

def test_unit_line_value_is_rounded_half_up_once():
    assert unit_line_value(D("3.333"), D("10.0050")) == D("33.35")  # 33.346665 → 33.35
    assert unit_line_value(D("1.000"), D("0.0050")) == D("0.01")  # half-up, not half-even


@given(st.decimals(min_value=0, max_value=10 ** 6, places=3), st.decimals(min_value=0, max_value=10 ** 5, places=4))
def test_unit_line_value_is_within_half_a_cent_of_the_exact_product(quantity, price):
    value = unit_line_value(quantity, price)
    assert value == value.quantize(D("0.01"))
    assert abs(value - quantity * price) <= D("0.005")


def test_build_line_unit_price_lump_sum_and_amount_check():
    line, errors = build_line(reference="1.1", designation="Béton", unit="m3", quantity="12,5",
                              unit_price_ht="100,40")
    assert not errors and line.amount_ht == D("1255.00") and not line.lump_sum
    lump, errors = build_line(reference="0", designation="Installation de chantier", amount_ht="5 000")
    assert not errors and lump.lump_sum and lump.amount_ht == D("5000.00") and lump.quantity is None
    ens, errors = build_line(reference="2", designation="Échafaudage", unit="Ens", quantity="1",
                             unit_price_ht="3000")
    assert ens.lump_sum and ens.amount_ht == D("3000.00")
    _, errors = build_line(reference="3", designation="Enduit", unit="m2", quantity="10", unit_price_ht="2",
                           amount_ht="21,00")
    assert errors == ["le montant HT 21,00\u00a0€ ne correspond pas à quantité × prix unitaire (10 × 2 = "
                      "20,00\u00a0€)"]


@pytest.mark.parametrize("fields, message", [
    (dict(reference="", designation="x", quantity="1", unit_price_ht="1"), "référence manquante"),
    (dict(reference="1", designation="", quantity="1", unit_price_ht="1"), "désignation manquante"),
    (dict(reference="1", designation="x", quantity="-2", unit_price_ht="1"), "quantité négative « −2 »"),
    (dict(reference="1", designation="x", quantity="2"), "prix unitaire HT manquant"),
    (dict(reference="1", designation="x"), "quantité et prix unitaire HT manquants"),
    (dict(reference="x" * 31, designation="x", amount_ht="1"), "référence trop longue"),
    (dict(reference="1", designation="x", unit="Ft"), "forfait sans montant HT"),
])
def test_build_line_errors_in_french(fields, message):
    line, errors = build_line(**fields)
    assert line is None and any(message in e for e in errors), errors


# --- sheets ----------------------------------------------------------------------------------------------------------

def test_header_key_tolerates_accents_case_and_punctuation():
    assert header_key("Réf.") == "ref"
    assert header_key("Prix unitaire H.T.") == "prix unitaire ht"
    assert header_key(" QTÉ ") == "qte"
    assert header_key("Montant HT (€)") == "montant ht eur"


def test_read_sheet_finds_the_header_skips_titles_and_subtotals():
    rows = [
        ["DPGF — Réhabilitation de l'école"], [],
        HEADER,
        [None, None, "LOT 02 — GROS ŒUVRE", None, None, None, None],
        ["02", "2.1", "Béton de propreté", "m3", "12,5", "100,40", "1 255,00"],
        ["02", "2.2", "Installation", "Ft", None, None, "5 000,00"],
        [None, None, "Sous-total lot 02", None, None, None, "6 255,00"],
        [None] * 7,
    ]
    result = read_sheet(rows)
    assert result.ok, [e.message_fr for e in result.errors]
    assert [line.reference for line in result.lines] == ["2.1", "2.2"]
    assert [line.sheet_line for line in result.lines] == [5, 6]
    assert result.skipped == [4, 7]
    assert result.total_ht == D("6255.00")
    assert result.lines[1].lump_sum


def test_read_sheet_errors_name_the_sheet_line_and_keep_no_line():
    rows = [HEADER,
            ["1", "A", "Fouilles", "m3", "10", "20", "200"],
            ["1", "B", "Remblai", "m3", "12,5,3", "20", None],
            ["1", "A", "Doublon", "m3", "1", "1", None],
            ["1", "C", "Existante", "u", "1", "1", None]]
    result = read_sheet(rows, existing_references=["c"])
    messages = [e.message_fr for e in result.errors]
    assert "ligne 3 : quantité illisible « 12,5,3 »" in messages
    assert "ligne 4 : référence « A » déjà à la ligne 2" in messages
    assert "ligne 5 : référence « C » déjà au bordereau du marché" in messages
    assert not result.ok


def test_read_sheet_forfait_column_and_missing_headers():
    rows = [["Référence", "Désignation", "Forfait"], ["F1", "Études", "12 000"]]
    result = read_sheet(rows)
    assert result.ok and result.lines[0].lump_sum and result.lines[0].amount_ht == D("12000.00")
    missing = read_sheet([["Code", "Prix"], ["1", "2"]])
    assert "En-têtes introuvables" in missing.errors[0].message_fr
    no_money = read_sheet([["Référence", "Désignation", "Unité"], ["1", "x", "u"]])
    assert "Quantité" in no_money.errors[0].message_fr


def test_read_sheet_refuses_more_lines_than_allowed():
    rows = [HEADER] + [["1", f"R{i}", "x", "u", "1", "1", None] for i in range(6)]
    result = read_sheet(rows, max_lines=5)
    assert not result.lines and "plus de 5 lignes" in result.errors[0].message_fr


@given(st.lists(st.tuples(st.decimals(min_value=0, max_value=10 ** 4, places=3),
                          st.decimals(min_value=0, max_value=10 ** 4, places=2)), min_size=1, max_size=20))
def test_read_sheet_total_is_the_sum_of_rounded_lines(pairs):
    rows = [HEADER] + [["", f"R{i}", "x", "u", str(q).replace(".", ","), str(p).replace(".", ","), None]
                       for i, (q, p) in enumerate(pairs)]
    result = read_sheet(rows)
    assert result.ok
    assert result.total_ht == sum(unit_line_value(q, p) for q, p in pairs)


# --- PDM lines -------------------------------------------------------------------------------------------------------

UNIT = PriceTerms(lump_sum=False, amount_ht=D("1255.00"), quantity=D("12.500"), unit_price_ht=D("100.4000"))
LUMP = PriceTerms(lump_sum=True, amount_ht=D("5000.00"))


def test_pdm_line_amount_and_progress():
    assert pdm_line_amount(UNIT, D("6.250")) == D("627.50")
    assert pdm_line_amount(LUMP, D("33.333")) == D("1666.65")  # 1666.65 exactly
    assert pdm_line_amount(LUMP, D("12.345")) == D("617.25")  # 617.25
    assert progress_percent(UNIT, D("6.250")) == D("50.0")
    assert progress_percent(LUMP, D("33.333")) == D("33.3")
    assert progress_percent(PriceTerms(False, D("0"), D("0"), D("1")), D("1")) is None


def test_pdm_line_problems():
    assert pdm_line_problems(UNIT, D("6"), D("5")) == []
    negative = pdm_line_problems(UNIT, D("-1"), None, reference="2.1", unit="m3")
    assert [p.kind for p in negative] == ["negative"] and not negative[0].justifiable
    assert "réfaction" in negative[0].message_fr
    beyond = pdm_line_problems(UNIT, D("13"), D("12"), reference="2.1", unit="m3")
    assert [p.kind for p in beyond] == ["beyond"] and beyond[0].justifiable
    assert "Ligne 2.1 : 13\u00a0m³ dépasse les 100 %" in beyond[0].message_fr  # French typography, as the pages
    assert "(12,5\u00a0m³)" in beyond[0].message_fr
    back = pdm_line_problems(UNIT, D("10"), D("11"), reference="GO-03", unit="m2")
    assert "le cumul (10\u00a0m²) est inférieur à celui du décompte précédent (11\u00a0m²)" in back[0].message_fr
    backwards = pdm_line_problems(LUMP, D("40"), D("50"))
    assert [p.kind for p in backwards] == ["backwards"]
    both = pdm_line_problems(LUMP, D("110"), D("120"))
    assert [p.kind for p in both] == ["beyond", "backwards"]


def test_read_measure():
    assert read_measure("6,25", UNIT) == D("6.250")
    assert read_measure("", UNIT) is None
    with pytest.raises(MoneyError, match="La quantité cumulée est illisible"):
        read_measure("six", UNIT)
    with pytest.raises(MoneyError, match="pourcentage"):
        read_measure("10000", LUMP)


# --- the month's claim -----------------------------------------------------------------------------------------------

def test_pdm_amount_is_the_difference_of_cumuls():
    previous = Cumul(works=D("1000.00"), approvisionnements=D("300.00"), refactions=D("50.00"))
    current = Cumul(works=D("1600.00"), approvisionnements=D("100.00"), primes=D("20.00"), debours=D("5.00"),
                    refactions=D("80.00"))
    amount = pdm_amount(current, previous)
    # (1600 + 100 + 20 + 5 − 80) − (1000 + 300 − 50) = 1645 − 1250
    assert amount.montant_ht == D("395.00")
    assert amount.delta("approvisionnements") == D("-200.00")
    assert amount.lines[-1].result == D("395.00")
    assert pdm_amount(current, None).montant_ht == D("1645.00")


def test_pdm_amount_never_negative():
    with pytest.raises(MoneyError, match="montant négatif"):
        pdm_amount(Cumul(works=D("900.00")), Cumul(works=D("1000.00")))


@given(st.lists(st.decimals(min_value=0, max_value=10 ** 6, places=2), min_size=5, max_size=5),
       st.lists(st.decimals(min_value=0, max_value=10 ** 6, places=2), min_size=5, max_size=5))
def test_pdm_amount_adds_up(before, now):
    previous, current = Cumul(*before), Cumul(*now)
    if current.total < previous.total:
        with pytest.raises(MoneyError):
            pdm_amount(current, previous)
    else:
        amount = pdm_amount(current, previous)
        deltas = [amount.delta(n) for n in ("works", "approvisionnements", "primes", "debours")]
        assert amount.montant_ht == sum(deltas) - amount.delta("refactions")


def test_vat_of():
    assert vat_of(D("395.00"), D("20.00"), autoliquidation=False) == D("79.00")
    assert vat_of(D("0.03"), D("20.00"), autoliquidation=False) == D("0.01")  # 0.006 → 0.01
    assert vat_of(D("395.00"), D("20.00"), autoliquidation=True) == D("0.00")
