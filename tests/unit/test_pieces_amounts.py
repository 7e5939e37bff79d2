"""Deposit inputs: money (parsing, totals, autoliquidation, credit notes, rounding), then piece and dossier numbers."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus_chain.domain.amounts import (
    AUTOLIQUIDATION,
    AUTOLIQUIDATION_MENTION,
    AmountRefused,
    Totals,
    check_already_paid,
    check_credit_note,
    check_deposit_amounts,
    check_partial_amount,
    check_totals,
    check_vat_regime,
    format_fr,
    parse_amount,
    round_cent,
)
from chorus_chain.domain.numbering import (
    NumberRefused,
    clean_piece_number,
    format_dossier_number,
    number_for_filename,
    number_key,
    parse_dossier_number,
)

D = Decimal


@pytest.mark.parametrize(("typed", "expected"), [
    ("1234.56", "1234.56"),
    ("1234,56", "1234.56"),
    ("1 234,56", "1234.56"),
    ("1\u00a0234,5", "1234.50"),
    ("1\u202f234\u202f567,89 €", "1234567.89"),
    ("1.234,56", "1234.56"),
    ("1.234.567,8", "1234567.80"),
    ("  12 ", "12.00"),
    ("0,07", "0.07"),
    ("12 EUR", "12.00"),
    ("+5", "5.00"),
    ("-0,00", "0.00"),
    (12, "12.00"),
    (D("12.5"), "12.50"),
    (D("12.500"), "12.50"),
])
def test_amounts_people_type(typed, expected):
    amount = parse_amount(typed)
    assert amount == D(expected) and str(amount) == expected


@pytest.mark.parametrize(("typed", "words"), [
    ("12,345", "au plus deux décimales"),
    ("1.234", "au plus deux décimales"),  # a lone dot is a decimal separator: we ask rather than guess
    ("0.001", "au plus deux décimales"),
    (D("10.005"), "au plus deux décimales"),
    ("", "Indiquez"),
    ("   ", "Indiquez"),
    (None, "Indiquez"),
    ("douze", "pas un montant lisible"),
    ("12,34,56", "pas un montant lisible"),
    ("1,234.56", "pas un montant lisible"),
    ("12 34", "pas un montant lisible"),
    ("1e3", "pas un montant lisible"),
    ("NaN", "pas un montant lisible"),
    ("Infinity", "pas un montant lisible"),
    ("0x10", "pas un montant lisible"),
    ("١٢", "pas un montant lisible"),  # Arabic-Indic digits
    ("12..5", "pas un montant lisible"),
    (D("NaN"), "pas un nombre"),
    (D("Infinity"), "pas un nombre"),
    (12.5, "flottante"),
    (True, "flottante"),
    ([12], "pas un nombre"),
    ("-12,00", "négatif"),
    ("1 000 000 000 000,00", "trop élevé"),
])
def test_bad_amounts_get_a_french_message(typed, words):
    with pytest.raises(AmountRefused) as caught:
        parse_amount(typed, field="montant_ht")
    assert words in caught.value.message_fr and caught.value.field == "montant_ht"


def test_negative_amounts_when_allowed():
    assert parse_amount("-12,30", allow_negative=True) == D("-12.30")


def test_labels_make_messages_specific():
    with pytest.raises(AmountRefused, match="^Indiquez le montant TTC"):
        parse_amount("", label="Le montant TTC")


@given(st.integers(min_value=0, max_value=99_999_999_999_999))
def test_every_cent_amount_round_trips_through_its_french_writing(cents):
    amount = D(cents) / 100
    assert parse_amount(format_fr(amount)) == amount
    assert parse_amount(format(amount, "f").replace(".", ",")) == amount


def test_round_cent_is_half_up():
    assert round_cent(D("0.005")) == D("0.01")
    assert round_cent(D("0.015")) == D("0.02")
    assert round_cent(D("2.675")) == D("2.68")  # 2.67 with floats
    assert round_cent(D("-0.005")) == D("-0.01")
    assert round_cent(D("1.004999")) == D("1.00")
    with pytest.raises(TypeError):
        round_cent(2.675)


def test_ht_plus_tva_must_equal_ttc_exactly():
    assert check_totals(D("1000.00"), D("200.00"), D("1200.00")) == Totals(D("1000.00"), D("200.00"), D("1200.00"))
    with pytest.raises(AmountRefused) as caught:
        check_totals(D("1000.00"), D("200.00"), D("1200.01"))
    assert caught.value.field == "montant_ttc"
    assert "1\u202f200,00\u00a0€" in caught.value.message_fr
    with pytest.raises(TypeError):
        check_totals(1000.0, D("200"), D("1200"))


def test_deposit_checks_in_order():
    assert check_deposit_amounts("1 000,00", "200", "1200,00") == Totals(D("1000.00"), D("200.00"), D("1200.00"))
    with pytest.raises(AmountRefused) as caught:
        check_deposit_amounts("1000,001", "200", "1200")
    assert caught.value.field == "montant_ht"
    with pytest.raises(AmountRefused) as caught:
        check_deposit_amounts("1000", "abc", "1200")
    assert caught.value.field == "montant_tva"
    with pytest.raises(AmountRefused) as caught:
        check_deposit_amounts("1000", "200", "1300")
    assert caught.value.field == "montant_ttc"
    with pytest.raises(ValueError):
        check_deposit_amounts("1", "0", "1", piece_type="DEVIS")


def test_autoliquidation_means_no_vat_and_the_mention():
    totals = check_deposit_amounts("5000", "0", "5000", autoliquidation=True)
    assert check_vat_regime(totals, autoliquidation=True) == AUTOLIQUIDATION_MENTION
    assert AUTOLIQUIDATION in AUTOLIQUIDATION_MENTION and "283" in AUTOLIQUIDATION_MENTION
    assert check_vat_regime(totals, autoliquidation=False) is None
    with pytest.raises(AmountRefused) as caught:
        check_deposit_amounts("5000", "1000", "6000", autoliquidation=True)
    assert caught.value.field == "montant_tva" and "autoliquidation" in caught.value.message_fr.lower()


def test_credit_notes():
    original = Totals(D("1000.00"), D("200.00"), D("1200.00"))
    check_credit_note(Totals(D("500.00"), D("100.00"), D("600.00")), original)
    check_credit_note(Totals(D("500.00"), D("100.00"), D("600.00")), original, already_credited_ttc=D("600.00"))
    with pytest.raises(AmountRefused, match="reste à créditer"):
        check_credit_note(Totals(D("500.00"), D("100.00"), D("600.00")), original,
                          already_credited_ttc=D("600.01"))
    with pytest.raises(AmountRefused, match="positif"):
        check_credit_note(Totals(D("0"), D("0"), D("0")), original)
    with pytest.raises(AmountRefused, match="régime de TVA"):
        check_credit_note(Totals(D("100"), D("0"), D("100")), original, autoliquidation=True)
    with pytest.raises(AmountRefused, match="HT ou la TVA"):
        check_credit_note(Totals(D("1100.00"), D("0.00"), D("1100.00")), original)
    with pytest.raises(AmountRefused, match="montant nul"):
        check_deposit_amounts("0", "0", "0", piece_type="AVOIR")


def test_partial_acceptance_amount():
    assert check_partial_amount("800,50", D("1000.00")) == D("800.50")
    with pytest.raises(AmountRefused, match="validez la pièce"):
        check_partial_amount("1000", D("1000.00"))
    with pytest.raises(AmountRefused, match="refusez"):
        check_partial_amount("0", D("1000.00"))
    with pytest.raises(AmountRefused, match="deux décimales"):
        check_partial_amount("800,505", D("1000.00"))


def test_already_paid_invoice_has_nothing_due():
    check_already_paid("A2", D("0.00"))
    check_already_paid("A1", D("10.00"))
    with pytest.raises(AmountRefused, match="A2"):
        check_already_paid("A2", D("0.01"))


# ---------------------------------------------------------------------------------------------------------------------
# Piece and dossier numbers: the other deposit inputs checked before anything is kept (chorus_chain.domain.numbering)


@pytest.mark.parametrize("number", ["F-2026-001", "2026/03", "FA_12.3", "A", "x" * 20, "f-2026-001"])
def test_piece_numbers_chorus_accepts(number):
    assert clean_piece_number(f"  {number} ") == number


@pytest.mark.parametrize(("typed", "words"), [
    ("", "Indiquez"),
    ("   ", "Indiquez"),
    (None, "Indiquez"),
    ("x" * 21, "21 caractères"),
    ("F 2026 001", "espace"),
    ("F\t1", "espace"),
    ("FACTURE-É1", "« É »"),
    ("F#1", "« # »"),
    ("F\x001", "invisible"),
    ("F;DROP", "« ; »"),
    ("１２３", "« １ »"),  # full-width digits
    ("---", "au moins une lettre"),
    ("./.", "au moins une lettre"),
])
def test_bad_piece_numbers(typed, words):
    with pytest.raises(NumberRefused) as caught:
        clean_piece_number(typed)
    assert words in caught.value.message_fr and caught.value.field == "number"


def test_numbers_are_unique_whatever_their_case_and_safe_in_file_names():
    assert number_key("f-12") == number_key("F-12") == "F-12"
    assert number_for_filename("2026/03") == "2026-03"


def test_dossier_numbers():
    assert format_dossier_number(2026, 42) == "DOS-2026-000042"
    assert parse_dossier_number(" dos-2026-000042 ") == (2026, 42)
    for bad in ("DOS-2026-42", "DOS-26-000042", "2026-000042", "DOS-2026-000000", None):
        with pytest.raises(NumberRefused) as caught:
            parse_dossier_number(bad)
        assert caught.value.field == "dossier"
    with pytest.raises(ValueError):
        format_dossier_number(2026, 0)
    # A platform past a million pieces (the sequence is a piece id): the number grows, within the 20-character column.
    assert format_dossier_number(2026, 1_000_001) == "DOS-2026-1000001"
    assert parse_dossier_number("DOS-2026-1000001") == (2026, 1_000_001)
    assert len(format_dossier_number(2026, 99_999_999_999)) == 20
    with pytest.raises(ValueError):
        format_dossier_number(2026, 100_000_000_000)
