"""The avance: its amount (§6b, incl. the > 12 months rule), the repayment schedules and the legal caps.
The month the repayment starts in the worked marché is in test_money_etat_acompte (test 4)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain.domain.money import (
    LINEAR_65_TO_80,
    LINEAR_65_TO_100,
    AvanceSettings,
    MoneyError,
    RepaymentSchedule,
    avance_amount,
    avance_mandatory,
    repayment_target,
)

D = Decimal


def test_amount_up_to_twelve_months():
    # 5 % × 372 000,00 = 18 600,00
    result = avance_amount(D("0.05"), D("372000.00"), 12, "M")
    assert result.value == D("18600.00")
    assert result.lines[0].formula == "taux de l'avance × montant TTC initial de la part (durée ≤ 12 mois)"


def test_amount_beyond_twelve_months():
    # 18 months: 5 % × 12 × 372 000 / 18 = 5 % × 248 000 = 12 400,00
    assert avance_amount(D("0.05"), D("372000.00"), 18).value == D("12400.00")
    # 30 months, 10 %: 10 % × 12 × 100 000,01 / 30 = 4 000,0004 → 4 000,00
    assert avance_amount(D("0.10"), D("100000.01"), 30).value == D("4000.00")
    # 7 months, 5 %: 5 % × 12 345,67 = 617,2835 → 617,28
    assert avance_amount(D("0.05"), D("12345.67"), 7).value == D("617.28")
    # 0 % (declined): zero, with the reason
    zero = avance_amount(D("0"), D("372000.00"), 12)
    assert zero.value == D("0.00") and "pas d'avance" in zero.lines[0].formula


@pytest.mark.parametrize(
    ("executed", "share"),
    [
        ("0", "0"),
        ("0.65", "0"),
        ("0.70", "0.3333333333"),  # (70 − 65) / (80 − 65) = 1/3
        ("0.80", "1"),
        ("0.95", "1"),
        ("1.20", "1"),  # more than the marché: never more than the advance
    ],
)
def test_default_schedule_is_linear_from_65_to_80(executed, share):
    assert LINEAR_65_TO_80.fraction(D(executed)).quantize(D("0.0000000001")) == D(share).quantize(D("0.0000000001"))


def test_schedule_to_100_percent():
    # (70 − 65) / (100 − 65) = 5 / 35 = 0,142857…
    assert LINEAR_65_TO_100.fraction(D("0.70")).quantize(D("0.000001")) == D("0.142857")
    # 18 600 × 1/7 = 2 657,142857… → 2 657,14
    assert repayment_target(D("18600.00"), D("210000.00"), D("300000.00"), LINEAR_65_TO_100).value == D("2657.14")


def test_custom_schedule():
    schedule = RepaymentSchedule(((D("0.50"), D("0")), (D("0.70"), D("0.50")), (D("0.90"), D("1"))))
    # 60 %: half-way between 50 % (0) and 70 % (0,5) → 0,25
    assert schedule.fraction(D("0.60")) == D("0.25")
    # 80 %: half-way between 70 % (0,5) and 90 % (1) → 0,75
    assert schedule.fraction(D("0.80")) == D("0.75")
    # 10 000 × 0,75 = 7 500,00
    assert repayment_target(D("10000.00"), D("80000.00"), D("100000.00"), schedule).value == D("7500.00")


@pytest.mark.parametrize(
    ("points", "message"),
    [
        (((D("0.70"), D("0")), (D("0.90"), D("1"))), "au plus tard à 65"),
        (((D("0.50"), D("0")), (D("0.40"), D("1"))), "croître strictement"),
        (((D("0.50"), D("0")), (D("0.90"), D("0.9"))), "atteindre 100 %"),
        (((D("0.50"), D("0")),), "au moins deux points"),
    ],
)
def test_bad_schedules_are_refused(points, message):
    with pytest.raises(MoneyError, match=message):
        RepaymentSchedule(points)


def test_target_is_rounded_to_the_cent_and_never_exceeds_the_advance():
    # 3 000 × (44 000 / 60 000 − 0,65) / 0,15 = 3 000 × 0,5555… = 1 666,666… → 1 666,67
    target = repayment_target(D("3000.00"), D("44000.00"), D("60000.00"), LINEAR_65_TO_80, who="S1")
    assert target.value == D("1666.67")
    assert [line.label for line in target.lines] == [
        "Exécution de la part (S1)",
        "Part de l'avance à avoir remboursée (S1)",
        "Remboursement cumulé de l'avance (S1)",
    ]
    assert repayment_target(D("3000.00"), D("90000.00"), D("60000.00"), LINEAR_65_TO_80).value == D("3000.00")
    # the décompte général repays whatever remains
    assert repayment_target(D("3000.00"), D("30000.00"), D("60000.00"), LINEAR_65_TO_80, final=True).value == D(
        "3000.00"
    )



@pytest.mark.parametrize(("works", "target"), [("27.54", "34.43"), ("712.34", "890.43")])
def test_only_the_target_is_rounded_even_on_a_half_cent(works, target):
    # §6b/§6.4: executed = works ÷ part and the share are not rounded; only the target, half-up, once. Here
    # 71 428,05 × (works ÷ 238 093,5) ÷ 0,24 = 1,25 × works is exactly on a half-cent (34,425; 890,425), while
    # works ÷ 238 093,5 never ends: cut at 40 digits, 34,425 came out as 34,4249…9 and was rounded down to 34,42.
    schedule = RepaymentSchedule.linear(end=D("0.24"), start=D("0"))
    assert repayment_target(D("71428.05"), D(works), D("238093.5"), schedule).value == D(target)
    # the same on the whole marché's execution
    assert repayment_target(D("71428.05"), D(works), D("238093.5"), schedule, whole_marche=True).value == D(target)

@pytest.mark.parametrize(
    ("rate", "guarantee", "message"),
    [
        ("0.31", False, "garantie à première demande"),
        ("0.61", True, "maximum légal de 60"),
        ("0.03", False, "inférieur à 5"),
        ("5", False, "fraction"),
    ],
)
def test_avance_caps(rate, guarantee, message):
    with pytest.raises(MoneyError, match=message):
        AvanceSettings(rate=D(rate), guarantee=guarantee)


def test_avance_caps_allowed():
    assert AvanceSettings(rate=D("0.40"), guarantee=True).rate == D("0.40")
    assert AvanceSettings(rate=D("0.30")).rate == D("0.30")
    assert AvanceSettings(rate=D("0")).rate == D("0")
    with pytest.raises(TypeError):
        AvanceSettings(rate=0.05)


def test_when_the_advance_is_mandatory():
    # above 50 000 € HT and 2 months (CHORUS.md §5)
    assert avance_mandatory(D("600000.00"), 12)
    assert not avance_mandatory(D("50000.00"), 12)
    assert not avance_mandatory(D("600000.00"), 2)
