"""Dates read from a person: ISO text, within the years a marché of this platform can concern.

A date in year 9999 or 0001 is a typing slip or a probe; left through, it overflows the date arithmetic of the
deadlines (a 30-day délai after 9999-12-31 does not exist) and means nothing on an invoice. Business rules narrow
further where the law does (an invoice not before its marché, a réception not in the future...).
"""
from __future__ import annotations

from datetime import date

EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)


class ImplausibleDate(ValueError):
    """A well-formed date outside EARLIEST..LATEST; str() is a French sentence."""


def check_plausible(day: date) -> date:
    if day < EARLIEST:
        raise ImplausibleDate(f"Cette date est trop ancienne (avant le {EARLIEST:%d/%m/%Y}) : vérifiez l'année.")
    if day > LATEST:
        raise ImplausibleDate(f"Cette date est trop lointaine (après le {LATEST:%d/%m/%Y}) : vérifiez l'année.")
    return day


def parse_iso_day(text: str) -> date:
    """"AAAA-MM-JJ" → date; ValueError when it is not a date, ImplausibleDate (a ValueError) when out of range."""
    return check_plausible(date.fromisoformat(text.strip()))


def month_problem(month: str) -> str | None:
    """A month "AAAA-MM" out of range (its format is checked by the caller), as a French sentence."""
    try:
        check_plausible(date(int(month[:4]), 1, 1))
    except (ImplausibleDate, ValueError) as error:
        return str(error) if isinstance(error, ImplausibleDate) else "Ce mois n'est pas valide."
    return None


def marche_start(base_month: str | None) -> date | None:
    """The first day anything can happen on a marché, when known: the first day of its mois zéro (the month its
    prices were set, before it was signed). No invoice is issued, no réception pronounced before it. (A marché at
    firm prices states no such month, and its entry date here says nothing: it may be entered years after.)"""
    if not base_month:
        return None
    try:
        return date(int(base_month[:4]), int(base_month[5:7]), 1)
    except ValueError:
        return None


def prescription_start(today: date) -> date:
    """The oldest date a claim on a public body still stands from: the prescription quadriennale (loi n° 68-1250
    du 31 décembre 1968, art. 1) extinguishes a debt four years after 1 January of the year following the one in
    which it arose. An invoice dated before this day asks for money the law no longer owes."""
    return date(today.year - 4, 1, 1)


def months_ahead(month: str, today: date) -> int:
    """How many months "AAAA-MM" lies after the month of `today` (0: this month, negative: past)."""
    return (int(month[:4]) - today.year) * 12 + int(month[5:7]) - today.month
