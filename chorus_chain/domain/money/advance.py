"""The avance (advance payment): its amount and the pace of its repayment by deduction from the acomptes.

Why (CHORUS.md §5 "Avance", §6b "Advance amount" and "Advance repayment"):
- amount = rate × initial TTC amount when the marché lasts 12 months or less; rate × 12 × TTC / duration in months
  beyond (§6b). Computed per beneficiary on its own part (the titulaire's advance is on the marché less the parts
  paid directly to sous-traitants, who get their own advance on their part).
- repayment starts once 65 % of the work is executed; the pace is a marché setting since the "fully repaid at 80 %"
  rule was removed (30 Dec 2024). Default: linear from 65 % to 80 % (§6b); alternatives: to 100 %, or a custom
  piecewise-linear schedule. The cumulative target is advance × fraction(executed), rounded to the cent; each état
  deducts target − previous target, so rounding never drifts and the repayments never exceed the advance.
- only that target is rounded (§6b, §6.4 "rounded half-up to the cent once per line"): executed = works ÷ amount
  rarely ends (27,54 ÷ 238 093,5), so it and the schedule's share are kept as exact fractions and the product is
  rounded once (`cent_of`). Cut at 40 digits, 71 428,05 × (27,54 ÷ 238 093,5) ÷ 0,24 — exactly 34,425 — came out
  a hair below the half-cent and was rounded down to 34,42 instead of 34,43.
- at the décompte général the advance is repaid in full whatever the execution reached (§6.5).
- the pace is the marché's (R2191-11: "selon un rythme et des modalités fixés par le marché"): the execution that
  drives it is the beneficiary's own part (default, `RepaymentBasis.OWN_PART`) or the whole marché
  (`WHOLE_MARCHE`: Σ works of every beneficiary ÷ the marché amount, the same share for every advance); the linear
  schedule's start (at the latest 65 %) and end percentages; or, for a beneficiary, a schedule of fixed amounts by
  month of décompte (`FixedRepayment`), cumulated and never beyond the advance. By month, not by état number: the
  cumulative target depends on the décompte's inputs only, so re-running a month deducts nothing more.
- a sous-traitant in paiement direct may decline its advance (R2193-19: paid only at its request): its advance is
  0 and nobody else gets one on its part — the titulaire's advance is on the marché less the parts paid directly to
  sous-traitants (R2193-18), whether they take theirs or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from chorus_chain.domain.money.caps import check_avance_rate
from chorus_chain.domain.money.rounding import (
    ONE,
    ZERO,
    Explained,
    Line,
    BeneficiaryKey,
    MoneyError,
    cent,
    cent_of,
    check_month,
    exact,
    fmt_euros,
    month_fr,
    fmt_rate,
    require_cents,
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
        """The share of the advance to have repaid once `executed` (a fraction) of the part is done (40 digits: for
        display; the target is computed from `share`, exact)."""
        require_decimal(executed, "executed")
        share = self.share(Fraction(executed))
        return Decimal(share.numerator) / Decimal(share.denominator)

    def share(self, executed: Fraction) -> Fraction:
        """`fraction` on exact rationals: the interpolation divides, and nothing may be cut before the cent."""
        if not isinstance(executed, Fraction):
            raise TypeError(f"executed: Fraction expected, got {type(executed).__name__} ({executed!r})")
        first_e, first_r = self.points[0]
        if executed <= first_e:
            return Fraction(first_r)
        for (e1, r1), (e2, r2) in zip(self.points, self.points[1:], strict=False):
            if executed <= e2:
                return Fraction(r1) + Fraction(r2 - r1) * (executed - Fraction(e1)) / Fraction(e2 - e1)
        return Fraction(self.points[-1][1])


LINEAR_65_TO_80 = RepaymentSchedule.linear()
"""§6b default: linear from 65 % to 80 % executed."""
LINEAR_65_TO_100 = RepaymentSchedule.linear(end=ONE)
"""§6b alternative: linear from 65 % to 100 % executed."""


class RepaymentBasis(Enum):
    """Whose execution paces the repayment of an advance."""

    OWN_PART = "own_part"
    """Default: the beneficiary's own works ÷ its own part (the pace its own acomptes can bear)."""
    WHOLE_MARCHE = "whole_marche"
    """The marché's works (every beneficiary) ÷ the marché amount: one share for every advance."""


REPAYMENT_BASIS_LABELS = {
    RepaymentBasis.OWN_PART: "selon l'exécution de la part du bénéficiaire",
    RepaymentBasis.WHOLE_MARCHE: "selon l'exécution de l'ensemble du marché",
}


@dataclass(frozen=True)
class FixedRepayment:
    """A fixed amount of `key`'s advance to deduct from the état d'acompte of the décompte of `month` ("YYYY-MM")."""

    key: BeneficiaryKey
    month: str
    amount: Decimal

    def __post_init__(self) -> None:
        check_month(self.month)
        require_cents(self.amount, "amount", "Montant à rembourser")
        if self.amount <= 0:
            raise MoneyError("Un montant de remboursement de l'avance doit être positif.", field="amount")


@dataclass(frozen=True)
class AvanceSettings:
    """The advance clause: rate of the initial TTC amount (0 = no advance), whether a garantie à première demande
    backs it (needed above 30 %), the repayment schedule (default §6b: linear 65 % → 80 %), the execution it follows
    (`basis`), and the beneficiaries repaying by fixed amounts per état instead (`fixed`)."""

    rate: Decimal = Decimal("0.05")
    guarantee: bool = False
    schedule: RepaymentSchedule = field(default=LINEAR_65_TO_80)
    basis: RepaymentBasis = RepaymentBasis.OWN_PART
    fixed: tuple[FixedRepayment, ...] = ()

    def __post_init__(self) -> None:
        check_avance_rate(self.rate, self.guarantee)
        if not isinstance(self.schedule, RepaymentSchedule):
            raise TypeError("schedule: RepaymentSchedule expected")
        if not isinstance(self.basis, RepaymentBasis):
            raise TypeError("basis: RepaymentBasis expected")
        object.__setattr__(self, "fixed", tuple(self.fixed))
        seen = set()
        for row in self.fixed:
            if not isinstance(row, FixedRepayment):
                raise TypeError("fixed: FixedRepayment expected")
            if (row.key, row.month) in seen:
                raise MoneyError(
                    f"Le mois {month_fr(row.month)} a deux montants de remboursement pour le même bénéficiaire.",
                    field="fixed",
                )
            seen.add((row.key, row.month))

    def fixed_of(self, key: BeneficiaryKey) -> tuple[FixedRepayment, ...]:
        return tuple(sorted((r for r in self.fixed if r.key == key), key=lambda r: r.month))


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
    whole_marche: bool = False,
) -> Explained:
    """Cumulative advance repayment to have deducted by this état: advance × fraction(executed), to the cent.

    executed = cumulative works at base prices ÷ the part's initial amount HT (§6b); `whole_marche`: the marché's
    works ÷ the marché amount (`RepaymentBasis.WHOLE_MARCHE`). `final`: the décompte général, where whatever
    remains is repaid.
    """
    suffix = f" ({who})" if who else ""
    whose = "du marché" if whole_marche else "de la part"
    label = f"Remboursement cumulé de l'avance{suffix}"
    if avance == 0:
        return Explained.zero(label, "pas d'avance versée : rien à rembourser")
    if final:
        return Explained.of(
            Line(label, "décompte général : l'avance est remboursée en totalité", (("avance versée", avance),), avance)
        )
    if part_ht <= 0:
        raise MoneyError(f"La part{suffix} doit avoir un montant positif pour suivre son exécution.", field="part_ht")
    # exact rationals until the one rounding of the target (§6b): a quotient cut short can cross a half-cent
    exact_executed = Fraction(works_to_date) / Fraction(part_ht)
    exact_share = schedule.share(exact_executed)
    executed = Decimal(exact_executed.numerator) / Decimal(exact_executed.denominator)  # shown, not computed with
    share = Decimal(exact_share.numerator) / Decimal(exact_share.denominator)
    line_executed = Line(
        f"Exécution {whose}{suffix}",
        f"travaux cumulés aux prix de base ÷ montant HT {whose}, avenants compris (seule l'avance reste calculée "
        "sur le montant initial, R2191-7)"
        + (" (le marché fixe le rythme du remboursement sur l'ensemble du marché)" if whole_marche else ""),
        (("travaux cumulés aux prix de base", works_to_date), (f"montant HT {whose}", part_ht)),
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
    target = cent_of(Fraction(avance) * exact_share)
    line_target = Line(
        label,
        "avance × part à avoir remboursée, arrondi au centime",
        (("avance", avance), ("part à avoir remboursée", share.quantize(Decimal("0.000001")))),
        target,
    )
    return Explained(target, (line_executed, line_share, line_target))


@exact
def fixed_repayment_target(
    avance: Decimal,
    rows: Sequence[FixedRepayment],
    month: str,
    *,
    final: bool = False,
    who: str = "",
) -> Explained:
    """Cumulative repayment under a schedule of fixed amounts: Σ the amounts of the months up to the décompte's
    `month`, never beyond the advance; the décompte général repays whatever remains."""
    suffix = f" ({who})" if who else ""
    label = f"Remboursement cumulé de l'avance{suffix}"
    if avance == 0:
        return Explained.zero(label, "pas d'avance versée : rien à rembourser")
    if final:
        return Explained.of(
            Line(label, "décompte général : l'avance est remboursée en totalité", (("avance versée", avance),), avance)
        )
    due = [r for r in rows if r.month <= month]
    scheduled = sum((r.amount for r in due), Decimal("0.00"))
    target = min(avance, scheduled)
    words = " + ".join(f"{month_fr(r.month)} : {fmt_euros(r.amount)}" for r in due) or "aucun montant prévu à ce jour"
    return Explained.of(
        Line(
            label,
            f"échéancier à montants fixes du marché, cumul des mois jusqu'à {month_fr(month)} ({words}), "
            "sans dépasser l'avance",
            (("montants prévus à ce jour", scheduled), ("avance", avance)),
            target,
        )
    )
