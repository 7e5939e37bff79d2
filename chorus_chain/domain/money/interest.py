"""Late-payment interest (intérêts moratoires) and the flat 40 € recovery fee.

Why (CHORUS.md §5 "Late-payment interest", §6b, §9):
- expiry = receipt (by the MOE or the buyer) + DGP days; interest runs from the day after expiry through the payment
  day: days = payment date − expiry date; paid on or before expiry → no interest and no 40 €.
- rate = ECB main refinancing rate in force on the first day of the calendar half-year in which the interest
  **starts** (the day after expiry) + 8 points; fixed once, even when the delay crosses into the next half-year.
- simple interest: base × rate × days / divisor; divisor 365 also in leap years (default) or, as the named
  alternative, 366 for the days that fall in a leap year.
- base: the amount paid late, i.e. the net payable TTC of that payment (after retenue and advance repayment);
  alternative: the gross TTC of the état.
- plus a flat 40 € per late payment [sure].

The rate table is editable data (a dated list of ECB rate changes), loaded from the shape of
data/ecb_mro_rates.csv by `parse_rate_csv` (text) or `load_rate_csv` (explicit path).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path

from chorus_chain.domain.money.rounding import (
    HUNDRED,
    ZERO,
    Explained,
    Line,
    MoneyError,
    cent,
    exact,
    fmt_date,
    require_decimal,
    require_int,
)

MARGIN_POINTS = Decimal("8")
"""Points added to the ECB rate [sure]."""
FLAT_FEE = Decimal("40.00")
"""Indemnité forfaitaire pour frais de recouvrement, per late payment [sure]."""


class DayCountDivisor(Enum):
    """§6b "Late-payment interest: divisor"."""

    ALWAYS_365 = "365"
    """Default: 365, also in leap years."""
    LEAP_YEARS_366 = "366_in_leap_years"
    """Each day late counts 1/366 in a leap year, 1/365 otherwise (a delay across 31 December is split by year)."""


class InterestBase(Enum):
    """§6b "Late-payment interest: base"."""

    NET_PAYABLE_TTC = "net_payable_ttc"
    """Default: the amount paid late, net payable TTC (after retenue and advance repayment)."""
    GROSS_TTC = "gross_ttc"
    """Alternative: the gross TTC of the état."""


@dataclass(frozen=True)
class InterestSettings:
    """The two named conventions of late-payment interest, with their §6b defaults."""

    divisor: DayCountDivisor = DayCountDivisor.ALWAYS_365
    base: InterestBase = InterestBase.NET_PAYABLE_TTC

    def __post_init__(self) -> None:
        if not isinstance(self.divisor, DayCountDivisor) or not isinstance(self.base, InterestBase):
            raise TypeError("divisor/base: DayCountDivisor and InterestBase expected")


@dataclass(frozen=True)
class RateChange:
    """The ECB main refinancing rate (in percent) from `effective_from` on."""

    effective_from: date
    rate_percent: Decimal

    def __post_init__(self) -> None:
        require_decimal(self.rate_percent, "rate_percent")


@dataclass(frozen=True)
class RateTable:
    """Dated ECB MRO rates. The rate of a half-year is the one in force on its first day."""

    changes: tuple[RateChange, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        changes = tuple(sorted(self.changes, key=lambda c: c.effective_from))
        days = [c.effective_from for c in changes]
        if len(set(days)) != len(days):
            raise MoneyError("Table des taux BCE : deux taux à la même date d'effet.")
        object.__setattr__(self, "changes", changes)

    def rate_on(self, day: date) -> RateChange:
        """The change in force on `day` (the last one effective on or before it)."""
        in_force = [c for c in self.changes if c.effective_from <= day]
        if not in_force:
            raise MoneyError(
                f"Aucun taux de la BCE connu au {fmt_date(day)} : complétez la table des taux.", field="rate_table"
            )
        return in_force[-1]


def parse_rate_csv(text: str) -> RateTable:
    """Read the shape of data/ecb_mro_rates.csv: `effective_from` (YYYY-MM-DD), `mro_rate_percent`, `source`."""
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    if "effective_from" not in fields or "mro_rate_percent" not in fields:
        raise MoneyError("Table des taux BCE : colonnes « effective_from » et « mro_rate_percent » attendues.")
    changes = []
    for number, row in enumerate(reader, start=2):
        try:
            changes.append(
                RateChange(date.fromisoformat(row["effective_from"].strip()), Decimal(row["mro_rate_percent"].strip()))
            )
        except (ValueError, InvalidOperation, AttributeError):
            raise MoneyError(f"Table des taux BCE, ligne {number} : date ou taux illisible.") from None
    return RateTable(tuple(changes))


def load_rate_csv(path: str | Path) -> RateTable:
    """`parse_rate_csv` on a file given explicitly (UTF-8)."""
    return parse_rate_csv(Path(path).read_text(encoding="utf-8"))


def half_year_start(day: date) -> date:
    """1 January or 1 July of the half-year containing `day`."""
    return date(day.year, 1 if day.month <= 6 else 7, 1)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass(frozen=True)
class LatePaymentInterest:
    """The interest owed on one payment, with every intermediate figure and the explanation lines."""

    expiry: date
    payment: date
    days: int
    start: date | None
    half_year: date | None
    ecb_rate_percent: Decimal | None
    rate_percent: Decimal | None
    base: Decimal
    interest: Decimal
    flat_fee: Decimal
    total: Decimal
    lines: tuple[Line, ...]

    @property
    def late(self) -> bool:
        return self.days > 0

    def explained(self) -> Explained:
        return Explained(self.total, self.lines)


@exact
def late_payment_interest(
    table: RateTable,
    *,
    receipt: date,
    dgp_days: int,
    payment: date,
    net_payable_ttc: Decimal,
    gross_ttc: Decimal | None = None,
    settings: InterestSettings = InterestSettings(),
) -> LatePaymentInterest:
    """Interest and flat fee owed on one payment (see the module docstring for each convention)."""
    require_int(dgp_days, "dgp_days")
    require_decimal(net_payable_ttc, "net_payable_ttc")
    require_decimal(gross_ttc, "gross_ttc", optional=True)
    if dgp_days <= 0:
        raise MoneyError("Le délai global de paiement doit être d'au moins un jour.", field="dgp_days")
    expiry = receipt + timedelta(days=dgp_days)
    days = (payment - expiry).days
    lines: list[Line] = [
        Line(
            "Échéance du paiement",
            "date de réception + délai global de paiement",
            (("réception", receipt), ("délai global de paiement (jours)", dgp_days)),
            expiry,
            unit="date",
        )
    ]
    if settings.base is InterestBase.GROSS_TTC:
        if gross_ttc is None:
            raise MoneyError(
                "Le montant TTC brut de l'état est nécessaire pour cette base de calcul.", field="gross_ttc"
            )
        base, base_words = gross_ttc, "montant TTC brut de l'état"
    else:
        base, base_words = net_payable_ttc, "montant net à payer TTC de ce paiement"
    if days <= 0 or base <= 0:
        reason = (
            "payé au plus tard à l'échéance : ni intérêts moratoires ni indemnité forfaitaire"
            if days <= 0
            else "aucun montant payé en retard"
        )
        lines.append(
            Line(
                "Intérêts moratoires",
                reason,
                (("date de paiement", payment), ("échéance", expiry)),
                ZERO,
            )
        )
        return LatePaymentInterest(
            expiry, payment, max(days, 0), None, None, None, None, base, ZERO, ZERO, ZERO, tuple(lines)
        )
    start = expiry + timedelta(days=1)
    semester = half_year_start(start)
    ecb = table.rate_on(semester)
    rate = ecb.rate_percent + MARGIN_POINTS
    lines.append(
        Line(
            "Jours de retard",
            "date de paiement − date d'échéance (du lendemain de l'échéance au jour du paiement inclus)",
            (("date de paiement", payment), ("échéance", expiry)),
            days,
            unit="jours",
        )
    )
    lines.append(
        Line(
            "Taux des intérêts moratoires",
            "taux de la BCE en vigueur au premier jour du semestre où les intérêts commencent + 8 points "
            "(fixé pour toute la durée du retard)",
            (
                ("début des intérêts", start),
                ("premier jour du semestre", semester),
                (f"taux BCE (en vigueur depuis le {fmt_date(ecb.effective_from)})", ecb.rate_percent),
                ("majoration (points)", MARGIN_POINTS),
            ),
            rate,
            unit="%",
        )
    )
    if settings.divisor is DayCountDivisor.LEAP_YEARS_366:
        year_fraction = ZERO
        operands: list[tuple[str, object]] = []
        day = start
        while day <= payment:
            year_end = date(day.year, 12, 31)
            last = min(year_end, payment)
            count = (last - day).days + 1
            length = 366 if _is_leap(day.year) else 365
            year_fraction += Decimal(count) / length
            operands.append((f"jours en {day.year} (÷ {length})", count))
            day = last + timedelta(days=1)
        interest = cent(base * rate / HUNDRED * year_fraction)
        formula = f"{base_words} × taux × (jours de chaque année ÷ 366 si bissextile, sinon 365)"
        interest_operands = (("base", base), ("taux (%)", rate), *operands)
    else:
        interest = cent(base * rate / HUNDRED * days / 365)
        formula = f"{base_words} × taux × jours de retard ÷ 365"
        interest_operands = (("base", base), ("taux (%)", rate), ("jours de retard", days))
    lines.append(Line("Intérêts moratoires", formula, interest_operands, interest))
    lines.append(Line("Indemnité forfaitaire pour frais de recouvrement", "40 € par paiement en retard", (), FLAT_FEE))
    total = interest + FLAT_FEE
    lines.append(
        Line(
            "Total dû au titre du retard",
            "intérêts moratoires + indemnité forfaitaire",
            (("intérêts moratoires", interest), ("indemnité forfaitaire", FLAT_FEE)),
            total,
        )
    )
    return LatePaymentInterest(
        expiry, payment, days, start, semester, ecb.rate_percent, rate, base, interest, FLAT_FEE, total, tuple(lines)
    )


def total_interest(items: Iterable[LatePaymentInterest]) -> Explained:
    """The interest and fees of a marché's late payments, summed line by line (ready to be claimed)."""
    items = list(items)
    total = sum((item.total for item in items), ZERO)
    return Explained(
        total,
        (
            Line(
                "Intérêts moratoires et indemnités du marché",
                "somme, paiement par paiement, des intérêts et de l'indemnité forfaitaire",
                tuple((f"paiement du {fmt_date(item.payment)}", item.total) for item in items),
                total,
            ),
        ),
    )
