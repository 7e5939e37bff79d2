"""SIRET, IBAN, BIC and VAT numbers: python-stdnum's checksums, our French messages."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from chorus_chain.domain.identifiers import (
    InvalidIdentifier,
    clean_bic,
    clean_iban,
    clean_siret,
    clean_vat_number,
)


def test_siret_is_compacted_and_checked():
    assert clean_siret("732 829 320 00074") == "73282932000074"
    assert clean_siret("732.829.320-00074") == "73282932000074"


@pytest.mark.parametrize("value, message", [
    ("", "Indiquez le numéro SIRET"),
    ("7328293200007", "exactement 14 chiffres"),
    ("7328293200007A", "exactement 14 chiffres"),
    ("73282932000075", "clé de contrôle"),
])
def test_invalid_sirets_are_explained(value, message):
    with pytest.raises(InvalidIdentifier, match=message):
        clean_siret(value)


def test_la_poste_exception():
    # La Poste's establishments (SIREN 356 000 000) fail Luhn; their digit sum is a multiple of 5.
    siret = "35600000049837"
    assert not luhn.is_valid(siret)
    assert sum(int(d) for d in siret) % 5 == 0
    assert clean_siret(siret) == siret
    with pytest.raises(InvalidIdentifier):
        clean_siret("35600000049838")


@given(st.integers(min_value=10_000_000, max_value=99_999_999), st.integers(min_value=0, max_value=9999))
def test_any_luhn_valid_siret_is_accepted_and_a_changed_digit_is_refused(siren_base, nic):
    siren = f"{siren_base}" + luhn.calc_check_digit(f"{siren_base}")
    base = f"{siren}{nic:04d}"
    siret = base + luhn.calc_check_digit(base)
    if siren == "356000000":
        return
    assert clean_siret(siret) == siret
    wrong = siret[:-1] + str((int(siret[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentifier):
        clean_siret(wrong)


def test_iban_and_bic():
    assert clean_iban("fr76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    with pytest.raises(InvalidIdentifier, match="IBAN n'est pas valide"):
        clean_iban("FR7630006000011234567890188")
    assert clean_bic("agri fr pp xxx") == "AGRIFRPPXXX"
    with pytest.raises(InvalidIdentifier, match="BIC"):
        clean_bic("AGRI")


def test_vat_number_must_match_the_siren():
    assert clean_vat_number("FR 40 303 265 045", "30326504500011") == "FR40303265045"
    with pytest.raises(InvalidIdentifier, match="ne correspond pas au SIREN"):
        clean_vat_number("FR40303265045", "73282932000074")
    with pytest.raises(InvalidIdentifier, match="pas valide"):
        clean_vat_number("FR41303265045")
