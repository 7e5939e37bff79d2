"""Late-payment interest (CHORUS.md §5, §6b) with the real ECB main refinancing rates, computed by hand.

(6) of the issue: a delay crossing a half-year boundary keeps the rate of the half-year in which the interest
starts; a payment exactly on the expiry day owes nothing (no interest, no 40 €).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chorus_chain.domain.money import (
    DayCountDivisor,
    InterestBase,
    InterestSettings,
    MoneyError,
    RateTable,
    half_year_start,
    late_payment_interest,
    load_rate_csv,
    parse_rate_csv,
    total_interest,
)

D = Decimal
# The published series the application ships (the repository stands alone: nothing is read from beside it).
DATA = Path(__file__).resolve().parents[2] / "chorus_chain" / "data"

# data/ecb_mro_rates.csv (real rates, copied so the tests are hermetic; compared with the file when present)
ECB_CSV = """effective_from,mro_rate_percent,source
2016-03-16,0.00,Banque de France policy-rates table
2022-07-27,0.50,Banque de France policy-rates table
2022-09-14,1.25,Banque de France policy-rates table
2022-11-02,2.00,Banque de France policy-rates table
2022-12-21,2.50,Banque de France policy-rates table
2023-02-08,3.00,Banque de France policy-rates table
2023-03-22,3.50,Banque de France policy-rates table
2023-05-10,3.75,Banque de France policy-rates table
2023-06-21,4.00,Banque de France policy-rates table
2023-08-02,4.25,Banque de France policy-rates table
2023-09-20,4.50,Banque de France policy-rates table
2024-06-12,4.25,Banque de France policy-rates table
2024-09-18,3.65,Banque de France policy-rates table
2024-10-23,3.40,Banque de France policy-rates table
2024-12-18,3.15,Hrvatska narodna banka announcement
2025-02-05,2.90,ECB decision of 30 Jan 2025 (press)
2025-03-12,2.65,ECB decision of 6 Mar 2025 (press)
2025-04-23,2.40,ECB decision of 17 Apr 2025 (press)
2025-06-11,2.15,ECB decision of 5 Jun 2025; Banka Slovenije MRO auction results
"""
RATES = parse_rate_csv(ECB_CSV)

# M's payment of état 3 of the worked marché (test_money_etat_acompte): net payable 45 285,57, gross TTC of the
# acompte 123 368,22 − 75 709,20 = 47 659,02.
NET = D("45285.57")
GROSS = D("47659.02")


def test_embedded_rates_are_the_real_ones():
    path = DATA / "ecb_mro_rates.csv"
    assert load_rate_csv(path) == RATES


def test_rate_table_lookup():
    assert RATES.rate_on(date(2024, 1, 1)).rate_percent == D("4.50")  # in force since 20 Sept 2023
    assert RATES.rate_on(date(2024, 7, 1)).rate_percent == D("4.25")  # since 12 June 2024
    assert RATES.rate_on(date(2025, 1, 1)).rate_percent == D("3.15")  # since 18 Dec 2024
    assert RATES.rate_on(date(2025, 7, 1)).rate_percent == D("2.15")  # since 11 June 2025
    assert RATES.rate_on(date(2024, 6, 12)).rate_percent == D("4.25")  # effective on its own day
    assert half_year_start(date(2024, 6, 30)) == date(2024, 1, 1)
    assert half_year_start(date(2024, 7, 1)) == date(2024, 7, 1)
    with pytest.raises(MoneyError, match="Aucun taux de la BCE connu au 1er janvier 2010"):
        RATES.rate_on(date(2010, 1, 1))


def test_delay_across_a_half_year_keeps_the_starting_rate():
    result = late_payment_interest(
        RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 8, 20), net_payable_ttc=NET, gross_ttc=GROSS
    )
    # expiry = 15 May 2024 + 30 days = 14 June 2024; interest starts on 15 June 2024 (first half of 2024)
    assert result.expiry == date(2024, 6, 14)
    assert result.start == date(2024, 6, 15)
    # days = 20 Aug − 14 June = 16 (15–30 June) + 31 (July) + 20 (August) = 67
    assert result.days == 67
    # rate = ECB rate on 1 Jan 2024 (4,50 %) + 8 = 12,50 %, kept although the delay runs into the second half-year
    # (whose rate would be 4,25 + 8 = 12,25 %)
    assert result.half_year == date(2024, 1, 1)
    assert (result.ecb_rate_percent, result.rate_percent) == (D("4.50"), D("12.50"))
    # interest = 45 285,57 × 12,50 % × 67 / 365 = 5 660,69625 × 67 / 365 = 379 266,64875 / 365 = 1 039,0867… → 1 039,09
    assert result.interest == D("1039.09")
    assert result.flat_fee == D("40.00")
    assert result.total == D("1079.09")  # + 40 €
    labels = [line.label for line in result.lines]
    assert labels == [
        "Échéance du paiement",
        "Jours de retard",
        "Taux des intérêts moratoires",
        "Intérêts moratoires",
        "Indemnité forfaitaire pour frais de recouvrement",
        "Total dû au titre du retard",
    ]
    assert "fixé pour toute la durée du retard" in result.lines[2].formula


def test_divisor_and_base_options():
    leap = late_payment_interest(
        RATES,
        receipt=date(2024, 5, 15),
        dgp_days=30,
        payment=date(2024, 8, 20),
        net_payable_ttc=NET,
        settings=InterestSettings(divisor=DayCountDivisor.LEAP_YEARS_366),
    )
    # 2024 is a leap year: 379 266,64875 / 366 = 1 036,2477 → 1 036,25
    assert leap.interest == D("1036.25")
    gross = late_payment_interest(
        RATES,
        receipt=date(2024, 5, 15),
        dgp_days=30,
        payment=date(2024, 8, 20),
        net_payable_ttc=NET,
        gross_ttc=GROSS,
        settings=InterestSettings(base=InterestBase.GROSS_TTC),
    )
    # 47 659,02 × 12,5 % × 67 / 365 = 399 144,2925 / 365 = 1 093,546 → 1 093,55
    assert gross.interest == D("1093.55")
    with pytest.raises(MoneyError, match="montant TTC brut"):
        late_payment_interest(
            RATES,
            receipt=date(2024, 5, 15),
            dgp_days=30,
            payment=date(2024, 8, 20),
            net_payable_ttc=NET,
            settings=InterestSettings(base=InterestBase.GROSS_TTC),
        )


def test_delay_across_new_year_with_the_366_option():
    kwargs = dict(receipt=date(2024, 11, 20), dgp_days=30, payment=date(2025, 1, 10), net_payable_ttc=D("10000.00"))
    # expiry 20 Dec 2024; days 11 (21–31 Dec) + 10 (1–10 Jan) = 21; starts 21 Dec 2024: rate on 1 July 2024
    # 4,25 + 8 = 12,25 %
    default = late_payment_interest(RATES, **kwargs)
    assert (default.days, default.rate_percent) == (21, D("12.25"))
    # 10 000 × 12,25 % × 21 / 365 = 25 725 / 365 = 70,479… → 70,48
    assert default.interest == D("70.48")
    # option: 1 225 × (11 / 366 + 10 / 365) = 1 225 × 0,057452 = 70,3786 → 70,38
    leap = late_payment_interest(RATES, settings=InterestSettings(divisor=DayCountDivisor.LEAP_YEARS_366), **kwargs)
    assert leap.interest == D("70.38")
    assert ("jours en 2024 (÷ 366)", 11) in leap.lines[3].operands
    assert ("jours en 2025 (÷ 365)", 10) in leap.lines[3].operands


def test_interest_starting_on_the_first_day_of_a_half_year():
    # expiry 30 June 2024 (31 May + 30 days), paid 1 July: 1 day, starting 1 July → rate on 1 July 2024 = 4,25 + 8
    result = late_payment_interest(
        RATES, receipt=date(2024, 5, 31), dgp_days=30, payment=date(2024, 7, 1), net_payable_ttc=D("10000.00")
    )
    assert (result.expiry, result.days, result.rate_percent) == (date(2024, 6, 30), 1, D("12.25"))
    # 10 000 × 12,25 % / 365 = 3,356 → 3,36; + 40
    assert (result.interest, result.total) == (D("3.36"), D("43.36"))


def test_first_half_2025_rate_kept_into_the_second():
    # receipt 2 May 2025, expiry 1 June 2025, paid 16 July 2025: 29 + 16 = 45 days; starts 2 June 2025
    # rate on 1 Jan 2025 = 3,15 + 8 = 11,15 % (not 2,15 + 8 of the second half-year)
    result = late_payment_interest(
        RATES, receipt=date(2025, 5, 2), dgp_days=30, payment=date(2025, 7, 16), net_payable_ttc=D("10000.00")
    )
    assert (result.days, result.rate_percent) == (45, D("11.15"))
    # 10 000 × 11,15 % × 45 / 365 = 137,4657… → 137,47
    assert result.interest == D("137.47")


def test_paid_on_the_expiry_day_owes_nothing():
    on_time = late_payment_interest(
        RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 6, 14), net_payable_ttc=NET
    )
    assert (on_time.days, on_time.interest, on_time.flat_fee, on_time.total) == (0, D("0"), D("0"), D("0"))
    assert not on_time.late
    assert "ni intérêts moratoires ni indemnité forfaitaire" in on_time.lines[-1].formula
    early = late_payment_interest(
        RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 6, 1), net_payable_ttc=NET
    )
    assert early.total == D("0") and early.days == 0
    # one day later is late: interest for 1 day + the 40 €
    next_day = late_payment_interest(
        RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 6, 15), net_payable_ttc=NET
    )
    # 45 285,57 × 12,5 % / 365 = 15,5087 → 15,51
    assert (next_day.days, next_day.interest, next_day.total) == (1, D("15.51"), D("55.51"))


def test_dgp_of_public_hospitals_and_companies():
    # 50 days (public hospitals): receipt 1 March 2024 → expiry 20 April 2024
    assert late_payment_interest(
        RATES, receipt=date(2024, 3, 1), dgp_days=50, payment=date(2024, 4, 20), net_payable_ttc=NET
    ).total == D("0")
    # 60 days (public companies): receipt 1 March 2024 → expiry 30 April 2024; paid 2 May: 2 days
    late = late_payment_interest(
        RATES, receipt=date(2024, 3, 1), dgp_days=60, payment=date(2024, 5, 2), net_payable_ttc=D("36500.00")
    )
    # 36 500 × 12,5 % × 2 / 365 = 25,00
    assert (late.days, late.interest) == (2, D("25.00"))


def test_total_per_marche():
    a = late_payment_interest(
        RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 8, 20), net_payable_ttc=NET
    )
    b = late_payment_interest(
        RATES, receipt=date(2024, 5, 31), dgp_days=30, payment=date(2024, 7, 1), net_payable_ttc=D("10000.00")
    )
    total = total_interest([a, b])
    assert total.value == D("1122.45")  # 1 079,09 + 43,36


def test_rate_csv_errors():
    with pytest.raises(MoneyError, match="colonnes"):
        parse_rate_csv("date,rate\n2024-01-01,4.5\n")
    with pytest.raises(MoneyError, match="ligne 2"):
        parse_rate_csv("effective_from,mro_rate_percent\n2024-13-01,4.5\n")
    with pytest.raises(MoneyError, match="même date"):
        RateTable(tuple(RATES.changes) + (RATES.changes[0],))
    with pytest.raises(TypeError, match="float refused"):
        late_payment_interest(
            RATES, receipt=date(2024, 5, 15), dgp_days=30, payment=date(2024, 8, 20), net_payable_ttc=1000.0
        )
