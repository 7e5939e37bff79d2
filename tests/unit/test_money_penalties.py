"""The penalties' exemption threshold at its boundary (issue 16).

Source: CCAG Travaux 2021, pénalités — « Le titulaire est exonéré des pénalités dont le montant total ne dépasse pas
1 000 euros HT pour l'ensemble du marché » (CHORUS.md §6b "Penalties for delay"): a total of exactly 1 000,00 € HT is
exempt; one cent more and the whole total is deducted."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from chorus_chain.domain.money import Penalty, PenaltySettings, penalties_to_date

MONTANT_HT = D("600000.00")  # 1/3000 → 200,00 € per day


@pytest.mark.parametrize(
    ("penalties", "deducted"),
    [
        # 5 days × 600 000 / 3000 = 5 × 200 = 1 000,00 → does not exceed 1 000 → exempt
        ((Penalty("M", "Retard", days=5),), D("0.00")),
        # 4 days × 200 = 800,00 + a CCAP lump sum of 200,00 = 1 000,00 → exempt
        ((Penalty("M", "Retard", days=4), Penalty("S", "Absence", amount=D("200.00"))), D("0.00")),
        # 1 000,01 → exceeds → the whole 1 000,01 is deducted
        ((Penalty("M", "Retard", days=5), Penalty("M", "Propreté", amount=D("0.01"))), D("1000.01")),
        # 999,99 → exempt
        ((Penalty("M", "Pénalité", amount=D("999.99")),), D("0.00")),
    ],
)
def test_a_total_of_exactly_1000_euros_is_exempt_one_cent_more_is_not(penalties, deducted):
    result = penalties_to_date(PenaltySettings(), MONTANT_HT, penalties, ["M", "S"])
    assert result["M"].value + result["S"].value == deducted
    if deducted == 0:
        assert "ne dépassant pas" in result["M"].lines[-1].formula


def test_without_the_exemption_1000_euros_are_deducted():
    result = penalties_to_date(PenaltySettings(exemption_threshold_ht=None), MONTANT_HT,
                               (Penalty("M", "Retard", days=5),), ["M"])
    assert result["M"].value == D("1000.00")
