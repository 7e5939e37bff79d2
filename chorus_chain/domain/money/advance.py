"""The avance (advance payment): its amount and the pace of its repayment by deduction from the acomptes.

Why (CHORUS.md §5 "Avance", §6b "Advance amount" and "Advance repayment"):
- amount = rate × initial TTC amount when the marché lasts 12 months or less; rate × 12 × TTC / duration in months
  beyond (§6b). Computed per beneficiary on its own part (the titulaire's advance is on the marché less the parts
  paid directly to sous-traitants, who get their own advance on their part).
- repayment starts once 65 % of the work is executed; the pace is a marché setting since the "fully repaid at 80 %"
  rule was removed (30 Dec 2024). Default: linear from 65 % to 80 % (§6b); alternatives: to 100 %, or a custom
  piecewise-linear schedule. The cumulative target is advance × fraction(executed), rounded to the cent; each état
  deducts target − previous target, so rounding never drifts and the repayments never exceed the advance.
- at the décompte général the advance is repaid in full whatever the execution reached (§6.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chorus_chain.domain.money.caps import check_avance_rate
from chorus_chain.domain.money.rounding import (
    ONE,
    ZERO,
    Explained,
    Line,
    MoneyError,
    cent,
    exact,
    fmt_rate,
    require_decimal,
    require_int,
)

REPAYMENT_START = Decimal("0.65")
"""Repayment starts at the latest once 65 % is executed (CHORUS.md §5) [sure]."""
TWELVE_MONTHS = 12


@dataclass(frozen=True)
class RepaymentSchedule:
    """Cumulative share of the advance to have repaid, as a piecewise-linear function of the executed share.

    `points` are (executed fraction, repaid fraction) pairs, executed strictly increasing, repaid non-decreasing from
    0 to 1. Below the first point nothing is repaid; beyond the last, everything.
    """

    points: tuple[tuple[Decimal, Decimal], ...]
    label: str = "échéancier personnalisé"

    def __post_init__(self) -> None:
        points = tuple(tuple(point) for point in self.points)
        object.__setattr__(self, "points", points)
        if len(points) < 2:
            raise MoneyError("L'échéancier de remboursement de l'avance demande au moins deux points.")
        for executed, repaid in points:
            require_decimal(executed, "executed")
            require_decimal(repaid, "repaid")
            if not (0 <= executed <= 1 and 0 <= repaid <= 1):
                raise MoneyError("Échéancier de l'avance : pourcentages attendus entre 0 et 100 %.")
        for (e1, r1), (e2, r2) in zip(points, points[1:], strict=False):
            if e2 <= e1 or r2 < r1:
                raise MoneyError(
                    "Échéancier de l'avance : l'exécution doit croître strictement et le remboursement ne jamais "
                    "décroître."
                )
        if points[0][1] != 0 or points[-1][1] != 1:
            raise MoneyError("Échéancier de l'avance : il doit partir de 0 % remboursé et atteindre 100 %.")
        last_zero = max(executed for executed, repaid in points if repaid == 0)
        if last_zero > REPAYMENT_START:
            raise MoneyError(
                f"Le remboursement de l'avance doit commencer au plus tard à {fmt_rate(REPAYMENT_START)} "
                f"d'exécution (l'échéancier le fait commencer à {fmt_rate(last_zero)})."
            )

    @classmethod
    def linear(cls, end: Decimal = Decimal("0.80"), start: Decimal = REPAYMENT_START) -> RepaymentSchedule:
        """advance × min(1, max(0, (executed − start) / (end − start))), the §6b formula."""
        return cls(((start, ZERO), (end, ONE)), f"linéaire de {fmt_rate(start)} à {fmt_rate(end)} d'exécution")

    @exact
    def fraction(self, executed: Decimal) -> Decimal:
        """The share of the advance to have repaid once `executed` (a fraction) of the part is done."""
        require_decimal(executed, "executed")
        first_e, first_r = self.points[0]
        if executed <= first_e:
            return first_r
        for (e1, r1), (e2, r2) in zip(self.points, self.points[1:], strict=False):
            if executed <= e2:
                return r1 + (r2 - r1) * (executed - e1) / (e2 - e1)
        return self.points[-1][1]


LINEAR_65_TO_80 = RepaymentSchedule.linear()
"""§6b default: linear from 65 % to 80 % executed."""
LINEAR_65_TO_100 = RepaymentSchedule.linear(end=ONE)
"""§6b alternative: linear from 65 % to 100 % executed."""


@dataclass(frozen=True)
class AvanceSettings:
    """The advance clause: rate of the initial TTC amount (0 = no advance), whether a garantie à première demande
    backs it (needed above 30 %), and the repayment schedule (default §6b: linear 65 % → 80 %)."""

    rate: Decimal = Decimal("0.05")
    guarantee: bool = False
    schedule: RepaymentSchedule = field(default=LINEAR_65_TO_80)

    def __post_init__(self) -> None:
        check_avance_rate(self.rate, self.guarantee)
        if not isinstance(self.schedule, RepaymentSchedule):
            raise TypeError("schedule: RepaymentSchedule expected")


@exact
def avance_amount(rate: Decimal, base_ttc: Decimal, duration_months: int, who: str = "") -> Explained:
    """§6b "Advance amount": rate × TTC (≤ 12 months) or rate × 12 × TTC / duration (beyond), rounded once."""
    require_decimal(rate, "rate")
    require_decimal(base_ttc, "base_ttc")
    require_int(duration_months, "duration_months")
    if duration_months <= 0:
        raise MoneyError("La durée du marché doit être d'au moins un mois.", field="duration_months")
    suffix = f" ({who})" if who else ""
    if rate == 0:
        return Explained.zero(f"Avance{suffix}", "pas d'avance (taux nul ou avance refusée)")
    if duration_months <= TWELVE_MONTHS:
        return Explained.of(
            Line(
                f"Avance{suffix}",
                "taux de l'avance × montant TTC initial de la part (durée ≤ 12 mois)",
                (("taux", rate), ("montant TTC de la part", base_ttc)),
                cent(rate * base_ttc),
            )
        )
    return Explained.of(
        Line(
            f"Avance{suffix}",
            "taux de l'avance × 12 × montant TTC initial de la part ÷ durée en mois (durée > 12 mois)",
            (("taux", rate), ("montant TTC de la part", base_ttc), ("durée en mois", duration_months)),
            cent(rate * TWELVE_MONTHS * base_ttc / duration_months),
        )
    )


@exact
def repayment_target(
    avance: Decimal,
    works_to_date: Decimal,
    part_ht: Decimal,
    schedule: RepaymentSchedule,
    *,
    final: bool = False,
    who: str = "",
) -> Explained:
    """Cumulative advance repayment to have deducted by this état: advance × fraction(executed), to the cent.

    executed = cumulative works at base prices ÷ the part's initial amount HT (§6b). `final`: the décompte général,
    where whatever remains is repaid.
    """
    suffix = f" ({who})" if who else ""
    label = f"Remboursement cumulé de l'avance{suffix}"
    if avance == 0:
        return Explained.zero(label, "pas d'avance versée : rien à rembourser")
    if final:
        return Explained.of(
            Line(label, "décompte général : l'avance est remboursée en totalité", (("avance versée", avance),), avance)
        )
    if part_ht <= 0:
        raise MoneyError(f"La part{suffix} doit avoir un montant positif pour suivre son exécution.", field="part_ht")
    executed = works_to_date / part_ht
    share = schedule.fraction(executed)
    line_executed = Line(
        f"Exécution de la part{suffix}",
        "travaux cumulés aux prix de base ÷ montant HT initial de la part",
        (("travaux cumulés aux prix de base", works_to_date), ("montant HT de la part", part_ht)),
        executed.quantize(Decimal("0.000001")),
        unit="taux",
    )
    line_share = Line(
        f"Part de l'avance à avoir remboursée{suffix}",
        f"échéancier {schedule.label} : min(1, max(0, interpolation de l'exécution))",
        (("exécution", executed.quantize(Decimal("0.000001"))),),
        share.quantize(Decimal("0.000001")),
        unit="taux",
    )
    target = cent(avance * share)
    line_target = Line(
        label,
        "avance × part à avoir remboursée, arrondi au centime",
        (("avance", avance), ("part à avoir remboursée", share.quantize(Decimal("0.000001")))),
        target,
    )
    return Explained(target, (line_executed, line_share, line_target))
