"""Penalties for delay (pénalités de retard), deducted from what a beneficiary is paid.

Why (CHORUS.md §6b "Penalties for delay"): daily rate × days late; by default the CCAG Travaux 2021 rate of 1/3000 of
the marché amount HT per day, with no penalty at all while their total does not exceed 1 000 € HT (CCAG Travaux 2021,
pénalités: « Le titulaire est exonéré des pénalités dont le montant total ne dépasse pas 1 000 euros HT pour
l'ensemble du marché » — exactly 1 000,00 € is exempt); alternatively the amounts set by the CCAP (a fixed amount per
day, or a lump sum per breach).

Penalties are given cumulatively (every penalty applied since the start, like the décompte itself), so the exemption
threshold is judged on the marché's running total: while it does not exceed the threshold nothing is deducted; the
état in which it goes beyond the threshold deducts the whole accumulated amount.

Penalties are damages, not the price of a service: they are outside the VAT base and deducted from the amount TTC,
never from the works HT (the engine's choice, see `etat_acompte`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from chorus_chain.domain.money.caps import check_not_negative
from chorus_chain.domain.money.rounding import (
    ZERO,
    BeneficiaryKey,
    Explained,
    Line,
    MoneyError,
    cent,
    exact,
    fmt_euros,
    require_decimal,
    require_int,
)

CCAG_2021_DAILY_DIVISOR = 3000
CCAG_2021_EXEMPTION_HT = Decimal("1000")


@dataclass(frozen=True)
class PenaltySettings:
    """The penalty clause of a marché.

    - `daily_divisor`: the daily penalty is the marché amount HT ÷ this divisor (CCAG Travaux 2021: 3000).
    - `daily_amount`: a fixed amount per day set by the CCAP, replacing the divisor when given.
    - `exemption_threshold_ht`: no penalty while the marché's total does not exceed it (a total equal to it is
      exempt); None when the CCAP waives the exemption. The 1 000 € HT default is the CCAG Travaux 2021 rule (CHORUS.md §6b).
    """

    daily_divisor: int = CCAG_2021_DAILY_DIVISOR
    daily_amount: Decimal | None = None
    exemption_threshold_ht: Decimal | None = CCAG_2021_EXEMPTION_HT

    def __post_init__(self) -> None:
        require_int(self.daily_divisor, "daily_divisor")
        if self.daily_divisor <= 0:
            raise MoneyError("Le diviseur de la pénalité journalière doit être positif.", field="daily_divisor")
        require_decimal(self.daily_amount, "daily_amount", optional=True)
        require_decimal(self.exemption_threshold_ht, "exemption_threshold_ht", optional=True)
        if self.daily_amount is not None:
            check_not_negative(self.daily_amount, "daily_amount", "Pénalité journalière")


@dataclass(frozen=True)
class Penalty:
    """One penalty charged to a beneficiary: `days` late at the marché's daily rate, or a fixed `amount` (CCAP)."""

    key: BeneficiaryKey
    label: str
    days: int | None = None
    amount: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.days is None) == (self.amount is None):
            raise MoneyError(f"Pénalité « {self.label} » : indiquez soit un nombre de jours, soit un montant.")
        if self.days is not None:
            require_int(self.days, "days")
            if self.days < 0:
                raise MoneyError(f"Pénalité « {self.label} » : nombre de jours négatif.", field="days")
        else:
            require_decimal(self.amount, "amount")
            check_not_negative(self.amount, "amount", f"Pénalité « {self.label} »")


@exact
def penalty_amount(settings: PenaltySettings, montant_ht: Decimal, penalty: Penalty) -> Explained:
    """One penalty line, rounded once: days × daily amount, or the fixed amount."""
    if penalty.amount is not None:
        return Explained.of(
            Line(f"Pénalité : {penalty.label}", "montant forfaitaire fixé par le CCAP", (), cent(penalty.amount))
        )
    if settings.daily_amount is not None:
        return Explained.of(
            Line(
                f"Pénalité : {penalty.label}",
                "jours de retard × pénalité journalière fixée par le CCAP",
                (("jours de retard", penalty.days), ("pénalité journalière", settings.daily_amount)),
                cent(penalty.days * settings.daily_amount),
            )
        )
    return Explained.of(
        Line(
            f"Pénalité : {penalty.label}",
            f"jours de retard × montant HT du marché ÷ {settings.daily_divisor} (CCAG Travaux 2021)",
            (("jours de retard", penalty.days), ("montant HT du marché", montant_ht)),
            cent(penalty.days * montant_ht / settings.daily_divisor),
        )
    )


@exact
def penalties_to_date(
    settings: PenaltySettings,
    montant_ht: Decimal,
    penalties: Sequence[Penalty],
    keys: Iterable[BeneficiaryKey],
) -> dict[BeneficiaryKey, Explained]:
    """The cumulative penalty of each beneficiary, after the marché-wide exemption threshold."""
    keys = list(keys)
    unknown = [p for p in penalties if p.key not in keys]
    if unknown:
        raise MoneyError(f"Pénalité « {unknown[0].label} » imputée à un bénéficiaire inconnu ({unknown[0].key}).")
    amounts = [(p, penalty_amount(settings, montant_ht, p)) for p in penalties]
    total = sum((e.value for _, e in amounts), ZERO)
    threshold = settings.exemption_threshold_ht
    # « ne dépasse pas » : a total equal to the threshold is exempt (issue 16: exactly 1 000,00 € is exempt).
    exempt = threshold is not None and 0 < total <= threshold
    result: dict[BeneficiaryKey, Explained] = {}
    for key in keys:
        own = [(p, e) for p, e in amounts if p.key == key]
        lines: list[Line] = [line for _, e in own for line in e.lines]
        subtotal = sum((e.value for _, e in own), ZERO)
        if exempt and own:
            lines.append(
                Line(
                    "Pénalités cumulées",
                    f"exonération : total des pénalités du marché ne dépassant pas {fmt_euros(threshold)} HT "
                    "(CCAG Travaux 2021)",
                    (("total des pénalités du marché", total), ("seuil", threshold), ("pénalités calculées", subtotal)),
                    ZERO,
                )
            )
            result[key] = Explained(ZERO, tuple(lines))
            continue
        lines.append(
            Line(
                "Pénalités cumulées",
                "somme des pénalités appliquées depuis le début" if own else "aucune pénalité",
                tuple((p.label, e.value) for p, e in own),
                subtotal,
            )
        )
        result[key] = Explained(subtotal, tuple(lines))
    return result
