"""Legal caps and sanity checks, each with the French message the user reads (issue 5, "Bad input").

Why one module: the caps are law (CHORUS.md §5) and must be enforced the same way by the forms, the imports and the
engine itself; the settings dataclasses call these checks in `__post_init__`, so a marché with an illegal rate cannot
even be described to the engine.

- Retenue de garantie ≤ 5 % (≤ 3 % when the marché's `RetenueCap` setting says State contract with an SME).
- Avance: 5 % minimum when there is one, above 30 % only with a garantie à première demande, never above 60 %
  (Code de la commande publique, avance provisions).
- A negative amount is refused everywhere except as a réfaction (which is itself entered as a positive deduction).
- A sous-traitant's cumulative amount never exceeds the ceiling of its DC4 / acte spécial: the overrun is explained,
  never silently capped.
"""

from __future__ import annotations

from decimal import Decimal

from chorus_chain.domain.money.rounding import MoneyError, fmt_euros, fmt_rate, require_decimal

AVANCE_MANDATORY_ABOVE_HT = Decimal("50000")
AVANCE_MANDATORY_ABOVE_MONTHS = 2
AVANCE_MIN_RATE = Decimal("0.05")
AVANCE_GUARANTEE_ABOVE = Decimal("0.30")
AVANCE_MAX_RATE = Decimal("0.60")


def check_fraction(rate: Decimal, name: str, label_fr: str) -> Decimal:
    """Rates are fractions (Decimal("0.05") for 5 %). A rate above 1 is almost always a percentage typed as such
    ("20" for the VAT): refuse it rather than multiply amounts by twenty."""
    require_decimal(rate, name)
    if rate < 0:
        raise MoneyError(f"{label_fr} : un taux ne peut pas être négatif (reçu {rate}).", field=name)
    if rate > 1:
        raise MoneyError(f"{label_fr} : taux attendu sous forme de fraction (0,05 pour 5 %), reçu {rate}.", field=name)
    return rate


def check_retenue_rate(rate: Decimal, limit: Decimal, limit_reason: str) -> None:
    """Retenue de garantie ≤ 5 % of the amount, ≤ 3 % for State contracts with SMEs (CHORUS.md §5)."""
    check_fraction(rate, "retenue_rate", "Retenue de garantie")
    if rate > limit:
        raise MoneyError(
            f"Le taux de retenue de garantie ({fmt_rate(rate)}) dépasse le plafond légal de {fmt_rate(limit)} "
            f"({limit_reason}).",
            field="retenue_rate",
        )


def avance_mandatory(montant_ht: Decimal, duration_months: int) -> bool:
    """The advance is due (unless the titulaire declines it) above 50 000 € HT and 2 months (CHORUS.md §5)."""
    require_decimal(montant_ht, "montant_ht")
    return montant_ht > AVANCE_MANDATORY_ABOVE_HT and duration_months > AVANCE_MANDATORY_ABOVE_MONTHS


def check_avance_rate(rate: Decimal, guarantee: bool) -> None:
    """Avance: 5–30 % of the initial TTC amount; above 30 % only against a garantie à première demande; 60 % at most.
    A rate of 0 means no advance (declined or not due)."""
    check_fraction(rate, "avance_rate", "Avance")
    if rate == 0:
        return
    if rate < AVANCE_MIN_RATE:
        raise MoneyError(
            f"Le taux de l'avance ({fmt_rate(rate)}) ne peut être inférieur à {fmt_rate(AVANCE_MIN_RATE)} "
            "(mettez 0 si l'avance est refusée).",
            field="avance_rate",
        )
    if rate > AVANCE_MAX_RATE:
        raise MoneyError(
            f"Le taux de l'avance ({fmt_rate(rate)}) dépasse le maximum légal de {fmt_rate(AVANCE_MAX_RATE)}.",
            field="avance_rate",
        )
    if rate > AVANCE_GUARANTEE_ABOVE and not guarantee:
        raise MoneyError(
            f"Une avance de {fmt_rate(rate)} dépasse {fmt_rate(AVANCE_GUARANTEE_ABOVE)} : elle n'est possible "
            "qu'avec une garantie à première demande.",
            field="avance_rate",
        )


def check_not_negative(amount: Decimal, name: str, label_fr: str) -> None:
    """Negative quantities only as a réfaction: a works, approvisionnement, prime or débours amount is ≥ 0, and a
    deduction for defective or missing work goes in the réfactions (entered as a positive amount)."""
    require_decimal(amount, name)
    if amount < 0:
        raise MoneyError(
            f"{label_fr} : montant négatif ({fmt_euros(amount)}). Une moins-value s'inscrit en réfaction "
            "(montant positif à déduire), jamais en quantité négative.",
            field=name,
        )


def check_dc4_ceiling(name: str, cumulative: Decimal, ceiling: Decimal, includes_revision: bool) -> None:
    """A sous-traitant is never paid beyond its acte spécial (DC4): blocked and explained, never silently capped."""
    if cumulative <= ceiling:
        return
    what = "révision des prix comprise" if includes_revision else "hors révision des prix"
    raise MoneyError(
        f"Le cumul des sommes dues au sous-traitant {name} ({fmt_euros(cumulative)}, {what}) dépasse le plafond de "
        f"son acte spécial (DC4) de {fmt_euros(ceiling)} : dépassement de {fmt_euros(cumulative - ceiling)}. "
        "Aucun paiement direct au-delà de ce plafond : un acte spécial modificatif doit d'abord être accepté par "
        "le maître d'ouvrage, ou le décompte corrigé.",
        field="dc4_ceiling_ttc",
    )
