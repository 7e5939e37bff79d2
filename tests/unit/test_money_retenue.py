"""Retenue de garantie (§5, §6b): rate cap, base hors révision, per part, shares of the sous-traitants, guarantee."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain.domain.money import (
    MoneyError,
    RetenueBase,
    RetenueCap,
    RetenueMember,
    RetenueSettings,
    retenue_of_part,
)

D = Decimal
TVA = D("0.20")
M = RetenueMember("M", "Maçonnerie Martin", D("100000.00"), D("241.00"))
S1 = RetenueMember("S1", "Étanchéité Sud", D("15345.70"), D("49.38"), autoliquidation=True)
C = RetenueMember("C", "Climatech", D("45000.00"), D("120.00"))
S2 = RetenueMember("S2", "BET Fluides", D("12345.67"), D("29.38"))


def values(result):
    return {key: explained.value for key, explained in result.items()}


def test_part_with_a_reverse_charged_sous_traitant():
    result = retenue_of_part(RetenueSettings(), TVA, M, (S1,))
    # part: 5 % × (100 000 + 15 345,70) × 1,20 = 5 % × 138 414,84 = 6 920,742 → 6 920,74
    # S1 (paid HT): 5 % × 15 345,70 = 767,285 → 767,29 (half-up; half-even would say 767,28)
    # M: 6 920,74 − 767,29 = 6 153,45 (M also bears the retenue on the VAT it collects on S1's works)
    assert values(result) == {"M": D("6153.45"), "S1": D("767.29")}
    lines = result["M"].lines
    assert lines[-1].formula == "retenue de la part − retenues des sous-traitants en paiement direct"
    assert lines[0].result == D("6920.74")


def test_part_with_a_sous_traitant_invoicing_vat():
    result = retenue_of_part(RetenueSettings(), TVA, C, (S2,))
    # part: 5 % × (45 000 + 12 345,67) × 1,20 = 5 % × 68 814,804 = 3 440,7402 → 3 440,74
    # S2: 5 % × 12 345,67 × 1,20 = 740,7402 → 740,74; C: 3 440,74 − 740,74 = 2 700,00
    assert values(result) == {"C": D("2700.00"), "S2": D("740.74")}


def test_shares_add_up_to_the_part():
    result = retenue_of_part(RetenueSettings(rate=D("0.03")), D("0.055"), M, (S1, S2))
    part = result["M"].lines[0].result
    assert sum(values(result).values()) == part


def test_base_including_revision_is_the_named_alternative():
    settings = RetenueSettings(base=RetenueBase.WORKS_TTC_INCLUDING_REVISION)
    result = retenue_of_part(settings, TVA, M, (S1,))
    # part: 5 % × (100 241 + 15 395,08) × 1,20 = 5 % × 138 763,296 = 6 938,1648 → 6 938,16
    # S1: 5 % × 15 395,08 = 769,754 → 769,75; M: 6 938,16 − 769,75 = 6 168,41
    assert values(result) == {"M": D("6168.41"), "S1": D("769.75")}


def test_guarantee_replaces_the_retenue_on_one_share_only():
    contractor_guaranteed = retenue_of_part(RetenueSettings(replaced=frozenset({"M"})), TVA, M, (S1,))
    assert values(contractor_guaranteed) == {"M": D("0.00"), "S1": D("767.29")}
    assert "garantie à première demande" in contractor_guaranteed["M"].lines[-1].formula
    assert contractor_guaranteed["M"].lines[-1].operands == (("retenue qui aurait été prélevée", D("6153.45")),)
    st_guaranteed = retenue_of_part(RetenueSettings(replaced=frozenset({"S1"})), TVA, M, (S1,))
    assert values(st_guaranteed) == {"M": D("6153.45"), "S1": D("0.00")}


def test_alone_the_contractor_bears_the_whole_part():
    # 5 % × 35 000 × 1,20 = 2 100,00
    assert values(retenue_of_part(RetenueSettings(), TVA, RetenueMember("T", "T", D("35000.00"), D("35.00")))) == {
        "T": D("2100.00")
    }


@pytest.mark.parametrize(
    ("rate", "cap", "message"),
    [
        ("0.06", RetenueCap.STANDARD, "dépasse le plafond légal de 5"),
        (
            "0.04",
            RetenueCap.STATE_SME,
            "dépasse le plafond légal de 3\u00a0% \\(marché de l'État passé avec une PME\\)",
        ),
        ("-0.01", RetenueCap.STANDARD, "négatif"),
        ("5", RetenueCap.STANDARD, "fraction"),
    ],
)
def test_rate_caps(rate, cap, message):
    with pytest.raises(MoneyError, match=message):
        RetenueSettings(rate=D(rate), cap=cap)


def test_rates_within_the_caps():
    assert RetenueSettings(rate=D("0.05")).cap.limit == D("0.05")
    assert RetenueSettings(rate=D("0.03"), cap=RetenueCap.STATE_SME).rate == D("0.03")
    assert RetenueSettings(rate=D("0")).rate == D("0")
    with pytest.raises(TypeError, match="float refused"):
        RetenueSettings(rate=0.05)
