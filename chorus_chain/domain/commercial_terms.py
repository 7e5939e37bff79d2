"""Private invoices between companies of the chain (a sous-traitant of rang 2 to its rang 1, a small sous-traitant
paid by its contractor) follow commercial law, not public procurement: no délai global de paiement, no R. 2192-31.

- Payment term (C. com. L. 441-10 I): the one agreed, within the ceilings — 60 days from the invoice date, or 45 days
  end of month; failing an agreement, 30 days. We count it from the invoice date (`due_date`).
- Late-payment penalties: the ECB's rate on its most recent main refinancing operation plus 10 points, unless the
  contract sets another rate (at least three times the legal interest rate); due without a reminder.
- The flat indemnity for recovery costs: 40 € (C. com. D. 441-5).
Pure functions and the French mentions the documents print.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

DEFAULT_DAYS = 30
MAX_DAYS_FROM_INVOICE = 60
MAX_DAYS_END_OF_MONTH = 45
PENALTY_POINTS = Decimal("10")
FLAT_FEE = Decimal("40.00")

LATE_PENALTY_MENTION = (
    "Pénalités de retard, exigibles sans rappel : taux d'intérêt appliqué par la Banque centrale européenne à son "
    "opération de refinancement la plus récente, majoré de 10 points, sauf taux convenu au contrat (art. L. 441-10 "
    "du code de commerce).")
FLAT_FEE_MENTION = ("Indemnité forfaitaire pour frais de recouvrement due en cas de retard de paiement : 40 € "
                    "(art. L. 441-10 et D. 441-5 du code de commerce).")


class TermsRefused(ValueError):
    """An agreed payment term beyond what the code de commerce allows; `message_fr` says which ceiling."""

    def __init__(self, message_fr: str) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr


def check_term(days: int, *, end_of_month: bool = False) -> int:
    """An agreed term within the ceilings of L. 441-10: at most 60 days from the invoice date, or 45 days end of
    month."""
    ceiling = MAX_DAYS_END_OF_MONTH if end_of_month else MAX_DAYS_FROM_INVOICE
    if days <= 0 or days > ceiling:
        kind = "jours fin de mois" if end_of_month else "jours à compter de la date de facture"
        raise TermsRefused(f"Le délai de paiement convenu entre entreprises est de {ceiling} {kind} au plus "
                           "(art. L. 441-10 du code de commerce).")
    return days


def due_date(issue_date: date, days: int = DEFAULT_DAYS, *, end_of_month: bool = False) -> date:
    """The day a private invoice falls due: `days` after its date, or — « 45 jours fin de mois » — the end of the
    month in which those days end."""
    check_term(days, end_of_month=end_of_month)
    due = issue_date + timedelta(days=days)
    if end_of_month:
        due = due.replace(day=calendar.monthrange(due.year, due.month)[1])
    return due


def payment_terms_mention(days: int = DEFAULT_DAYS, *, transfer: bool = True, end_of_month: bool = False) -> str:
    how = "Virement" if transfer else "Paiement"
    when = f"{days} jours fin de mois" if end_of_month else f"{days} jours à compter de la date de la facture"
    return f"{how} à {when} (art. L. 441-10 du code de commerce)."


@dataclass(frozen=True)
class Term:
    """The payment term agreed between a company and its contractor for its private invoices (the sous-traitant's
    row of the marché carries it); failing an agreement, the 30 days of L. 441-10 I."""

    days: int = DEFAULT_DAYS
    end_of_month: bool = False

    @classmethod
    def agreed(cls, days: int | None, end_of_month: bool | None) -> Term:
        """The term a party carries (None: nothing agreed, the legal default)."""
        return cls() if days is None else cls(days, bool(end_of_month))

    def due(self, issue_date: date) -> date:
        return due_date(issue_date, self.days, end_of_month=self.end_of_month)

    def mention(self, *, transfer: bool = True) -> str:
        return payment_terms_mention(self.days, transfer=transfer, end_of_month=self.end_of_month)

    def describe(self) -> str:
        """« 45 jours fin de mois (convenu) » — what the pages say next to a due date."""
        when = (f"{self.days} jours fin de mois" if self.end_of_month
                else f"{self.days} jours après la date de la facture")
        return when if self != Term() else f"{when}, délai légal à défaut d'accord"

    @property
    def longest_days(self) -> int:
        """The most days this term can give after an invoice's date (a month's end adds up to 30)."""
        return self.days + (30 if self.end_of_month else 0)


def days_overdue(due: date, today: date, *, paid: bool) -> int:
    """Whole days an unpaid invoice is past its due date (0 when paid, or not yet due)."""
    if paid or today <= due:
        return 0
    return (today - due).days
