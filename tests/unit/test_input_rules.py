"""The pure rules of what a person may type: free text shown to others, dates, French postal codes."""
from __future__ import annotations

from datetime import date

import pytest

from chorus_chain.domain import dates, identifiers
from chorus_chain.domain import text as text_rules


@pytest.mark.parametrize("value", ["Durand Bâtiment SAS", "L'Atelier « Lumen »", "Ligne\tavec tabulation",
                                   "Zoë — 12,50 €", "مرحبا", "\u200eMarque de sens", "", None])
def test_ordinary_text_passes(value):
    assert text_rules.text_problem(value) is None


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"])
def test_control_characters_are_refused(char):
    problem = text_rules.text_problem(f"abc{char}def", multiline=True)
    assert problem and "caractère de contrôle" in problem and f"U+{ord(char):04X}" in problem


@pytest.mark.parametrize("char", sorted(text_rules.BIDI_CONTROLS))
def test_bidi_overrides_are_refused(char):
    problem = text_rules.text_problem(f"Facture 1000{char} €", multiline=True)
    assert problem and "sens d'affichage" in problem


@pytest.mark.parametrize("value", ["a\nb", "a\r\nb", "a\rb"])
def test_line_breaks_only_in_multiline_text(value):
    assert text_rules.text_problem(value, multiline=True) is None
    assert "une ligne" in text_rules.text_problem(value, multiline=False)


def test_has_control():
    assert text_rules.has_control("a\x00b")
    assert not text_rules.has_control("a\tb\r\nc")
    assert text_rules.has_control("a\nb", allow_line_breaks=False)


@pytest.mark.parametrize("text", ["2000-01-01", "2026-03-31", "2099-12-31"])
def test_plausible_dates(text):
    assert dates.parse_iso_day(f" {text} ") == date.fromisoformat(text)


@pytest.mark.parametrize("text, word", [("9999-12-31", "lointaine"), ("2100-01-01", "lointaine"),
                                        ("0001-01-01", "ancienne"), ("1999-12-31", "ancienne")])
def test_implausible_dates_are_refused_with_a_reason(text, word):
    with pytest.raises(dates.ImplausibleDate, match=word):
        dates.parse_iso_day(text)


def test_a_malformed_date_is_a_plain_value_error():
    with pytest.raises(ValueError) as caught:
        dates.parse_iso_day("31/12/2026")
    assert not isinstance(caught.value, dates.ImplausibleDate)


def test_month_problem():
    assert dates.month_problem("2026-03") is None
    assert "lointaine" in dates.month_problem("9999-01")


@pytest.mark.parametrize("code", ["49100", "75001", "01000", "95000", "20000", "20620", "97100", "97600", "98000",
                                  "98800", " 49 100 "])
def test_french_postal_codes(code):
    assert identifiers.clean_postal_code(code) == code.replace(" ", "")


@pytest.mark.parametrize("code, word", [("", "Indiquez"), ("4910", "5 chiffres"), ("491000", "5 chiffres"),
                                        ("4910A", "5 chiffres"), ("٤٩١٠٠", "5 chiffres"), ("00100", "département"),
                                        ("96000", "département"), ("97900", "département"),
                                        ("99000", "département")])
def test_postal_codes_that_do_not_exist(code, word):
    with pytest.raises(identifiers.InvalidIdentifier, match=word):
        identifiers.clean_postal_code(code)
