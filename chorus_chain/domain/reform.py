"""The e-invoicing reform (réforme de la facturation électronique), as a pure function of the size class and today.

Reception: every company from 1 September 2026. Issuing (and e-reporting): large companies (GE) and ETI from
1 September 2026; PME and micro-entreprises from 1 September 2027.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

RECEPTION_DATE = date(2026, 9, 1)
ISSUING_DATES: dict[str, date] = {
    "ge": date(2026, 9, 1),
    "eti": date(2026, 9, 1),
    "pme": date(2027, 9, 1),
    "micro": date(2027, 9, 1),
}
SIZE_LABELS = {"ge": "grande entreprise", "eti": "entreprise de taille intermédiaire (ETI)",
               "pme": "petite ou moyenne entreprise (PME)", "micro": "micro-entreprise"}


@dataclass(frozen=True)
class Obligation:
    kind: str  # "reception" or "emission"
    label: str
    starts_on: date
    in_force: bool
    days_left: int  # 0 when in force
    when_text: str  # "déjà en vigueur", "dans 12 jours", "demain"


def _when(starts_on: date, today: date) -> tuple[bool, int, str]:
    days = (starts_on - today).days
    if days <= 0:
        return True, 0, "déjà en vigueur"
    if days == 1:
        return False, 1, "demain"
    return False, days, f"dans {days} jours"


def obligations(size_class: str, today: date) -> list[Obligation]:
    """The structure's two obligations (receive, issue), in date order. ValueError for an unknown size class."""
    if size_class not in ISSUING_DATES:
        raise ValueError(f"unknown size class {size_class!r}")
    result = []
    for kind, label, starts_on in (
        ("reception", "Recevoir des factures électroniques", RECEPTION_DATE),
        ("emission", "Émettre des factures électroniques (et transmettre les données de transaction)",
         ISSUING_DATES[size_class]),
    ):
        in_force, days_left, text = _when(starts_on, today)
        result.append(Obligation(kind, label, starts_on, in_force, days_left, text))
    return sorted(result, key=lambda o: (o.starts_on, o.kind != "reception"))
