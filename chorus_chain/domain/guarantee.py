"""When the retenue de garantie (or the guarantee that replaces it) may be released.

CHORUS.md §5: the retenue (≤ 5 % of each payment) is released after the guarantee period — usually one year from
the réception of the works — if no reservation remains; a garantie à première demande or a caution may replace it,
and is then released at the same date. The period is a marché setting (`guarantee_months`, CCAG default 12).
Pure: dates in, dates and French words out.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from chorus_chain.domain.money.dgd import add_months
from chorus_chain.domain.money.rounding import fmt_date


@dataclass(frozen=True)
class GuaranteeRelease:
    """The release date of a marché's retenue (or of the guarantee replacing it)."""

    reception_on: date
    guarantee_months: int
    release_on: date
    replaced_by_guarantee: bool

    def due(self, today: date) -> bool:
        """True from the release date on (the sweep tells the parties once)."""
        return today >= self.release_on

    @property
    def what(self) -> str:
        return "la garantie qui remplace la retenue de garantie" if self.replaced_by_guarantee \
            else "la retenue de garantie"

    @property
    def why(self) -> str:
        """"réception le 15 mars 2026 + 12 mois de délai de garantie"."""
        return f"réception le {fmt_date(self.reception_on)} + {self.guarantee_months} mois de délai de garantie"

    def sentence(self, today: date) -> str:
        """One French sentence for the marché page and the notification."""
        what = self.what[0].upper() + self.what[1:]
        if self.due(today):
            return (f"{what} est libérable depuis le {fmt_date(self.release_on)} ({self.why}), si aucune réserve "
                    "ne reste à lever.")
        return f"{what} sera libérable le {fmt_date(self.release_on)} ({self.why}), si aucune réserve ne reste à lever."


def guarantee_release(reception_on: date | None, guarantee_months: int, *, retenue_rate: Decimal,
                      replaced_by_guarantee: bool) -> GuaranteeRelease | None:
    """None before the réception (no date yet) or when the marché withholds nothing (rate 0 and no guarantee)."""
    if reception_on is None:
        return None
    if guarantee_months < 0:
        raise ValueError("guarantee_months must not be negative")
    if not replaced_by_guarantee and retenue_rate <= 0:
        return None
    return GuaranteeRelease(reception_on, guarantee_months, add_months(reception_on, guarantee_months),
                            replaced_by_guarantee)
