"""The calendar of the forecast: week by week for the next three months (13 weeks from this Monday), then month by
month up to a year ahead; and the alerts of a receipt that slips.

What the person who does the books wants on Monday morning: what comes in and goes out this week and the next ones,
by marché and counterpart; beyond three months a week is noise, a month is enough. Pure.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from chorus_chain.formatting import premier

WEEKS = 13
MONTHS_AFTER = 9
SLIP_DAYS = 7  # an expected receipt later than its legal date by more than a week is an alert
# The amounts a period lists on the page, the largest; the others are counted and summed beside them, and every one is
# in the downloads. A company with a dozen pieces in flight sees them all; a paying office with seven hundred gets a
# page it can read (and that answers as fast as its Synthèse, bench/dashboards.py), not seven hundred lines.
SHOWN_PER_PERIOD = 8
ZERO = Decimal("0.00")
MONTH_NAMES = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
               "novembre", "décembre")
MONTH_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@dataclass
class Period:
    start: date
    end: date  # included
    label: str
    short: str
    weekly: bool
    receipts: Decimal = ZERO
    payments: Decimal = ZERO
    flows: list = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.receipts - self.payments

    @property
    def shown(self) -> list:
        """The largest amounts of the period (`SHOWN_PER_PERIOD`), in the order of their dates."""
        return shown_of(self.flows)

    @property
    def others(self) -> "Others":
        return others_of(self.flows)


@dataclass(frozen=True)
class Others:
    """What a list leaves out: how many amounts, how much in, how much out."""

    count: int
    receipts: Decimal
    payments: Decimal


def shown_of(flows: Sequence, limit: int = SHOWN_PER_PERIOD) -> list:
    largest = sorted(flows, key=lambda f: -f.amount)[:limit]
    kept = {id(f) for f in largest}
    return [f for f in flows if id(f) in kept]


def others_of(flows: Sequence, limit: int = SHOWN_PER_PERIOD) -> Others:
    kept = {id(f) for f in shown_of(flows, limit)}
    left = [f for f in flows if id(f) not in kept]
    return Others(len(left), sum((f.amount for f in left if f.incoming), ZERO),
                  sum((f.amount for f in left if not f.incoming), ZERO))


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def periods(today: date) -> list[Period]:
    """13 weeks from this week's Monday, then the months after (the first month starts the day after the 13th
    week ends, so no day is counted twice)."""
    monday = today - timedelta(days=today.weekday())
    found = []
    for k in range(WEEKS):
        start = monday + timedelta(weeks=k)
        end = start + timedelta(days=6)
        found.append(Period(start, end, premier(f"semaine du {start.day} {MONTH_NAMES[start.month - 1]}", start.day),
                            f"{start.day:02d}/{start.month:02d}", True))
    start = found[-1].end + timedelta(days=1)
    for k in range(MONTHS_AFTER):
        next_month = _add_months(start, 1)
        end = next_month - timedelta(days=1)
        found.append(Period(start, end, f"{MONTH_NAMES[start.month - 1]} {start.year}"
                            if start.day == 1 else f"du {start.day} au {end.day} {MONTH_NAMES[end.month - 1]} {end.year}",
                            f"{MONTH_SHORT[start.month - 1]} {start.year % 100:02d}", False))
        start = next_month
    return found


def spread(flows: Iterable, today: date) -> tuple[list[Period], list]:
    """The flows (each with `expected`, `amount`, `incoming`) in their periods; those beyond the last period come
    back apart (« plus tard »)."""
    found = periods(today)
    later = []
    for flow in flows:
        period = next((p for p in found if p.start <= flow.expected <= p.end), None)
        if period is None:
            later.append(flow)
            continue
        period.flows.append(flow)
        if flow.incoming:
            period.receipts += flow.amount
        else:
            period.payments += flow.amount
    return found, later


def slip(expected: date, legal_due: date | None) -> int:
    """Days by which the expected date passes the legal one (0 when on time or no legal date)."""
    if legal_due is None:
        return 0
    return max((expected - legal_due).days, 0)


def alerts(flows: Sequence, today: date) -> list:
    """The receipts expected more than a week after their legal date, latest slip first."""
    found = [flow for flow in flows if flow.incoming and slip(flow.expected, flow.legal_due) > SLIP_DAYS]
    return sorted(found, key=lambda flow: (-slip(flow.expected, flow.legal_due), flow.expected))


def slipped(reference: date, expected: date) -> bool:
    """An expected receipt moved later than its reference day by more than a week (the alert of issue 19)."""
    return (expected - reference).days > SLIP_DAYS
