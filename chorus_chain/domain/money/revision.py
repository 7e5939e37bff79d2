"""Price revision: the coefficient C = a + b·I/I0, the revision of each month, and the true-up of provisional indexes.

Why (CHORUS.md §5 "Price revision", §6.3, §6b):
- P = P0 × (a + b × I/I0) with a + b = 1; I is the index of the month of the works, I0 the index of the base month.
- §6b "Revision coefficient rounding": default C rounded **up** to the thousandth ("arrondi au millième supérieur");
  the alternatives are the named `CoefficientRounding` settings.
- §6b "Revision amount": default revision of month n = Δ works of month n (at base prices) × (C_n − 1), per
  beneficiary, half-up to the cent (`RevisionAmount.MONTHLY`); alternative: the cumulative revision computed exactly
  and rounded once, minus the previous one (`RevisionAmount.CUMULATIVE`).
- Provisional indexes: a month revised with a provisional value is recomputed, with the same Δ works, as soon as the
  table holds another value for it (the definitive one, or a corrected provisional one); the difference is carried
  in the next état. A month revised with definitive values is closed and never recomputed.
- A missing index for a needed month is a French error naming the month (`MissingIndexError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from fractions import Fraction

from chorus_chain.domain.money.caps import check_fraction
from chorus_chain.domain.money.index_table import IndexTable
from chorus_chain.domain.money.rounding import (
    ONE,
    ZERO,
    BeneficiaryKey,
    Explained,
    Line,
    MoneyError,
    cent_of,
    check_month,
    exact,
    month_fr,
    nearest_thousandth,
    of_month_fr,
    require_decimal,
    up_to_thousandth,
)


class CoefficientRounding(Enum):
    """How C is rounded (§6b "Revision coefficient rounding")."""

    C_UP_THOUSANDTH = "c_up_thousandth"
    """Default: C = a + b·I/I0 rounded up to the thousandth."""
    RATIO_UP_THOUSANDTH = "ratio_up_thousandth"
    """I/I0 rounded up to the thousandth, then C exact."""
    C_NEAREST_THOUSANDTH = "c_nearest_thousandth"
    """C rounded half-up to the nearest thousandth."""
    NONE = "none"
    """No rounding of C (the amount is still rounded to the cent)."""


ROUNDING_WORDS: dict[CoefficientRounding, str] = {
    CoefficientRounding.C_UP_THOUSANDTH: "a + b × I / I0, arrondi au millième supérieur",
    CoefficientRounding.RATIO_UP_THOUSANDTH: "a + b × (I / I0 arrondi au millième supérieur)",
    CoefficientRounding.C_NEAREST_THOUSANDTH: "a + b × I / I0, arrondi au millième le plus proche",
    CoefficientRounding.NONE: "a + b × I / I0, sans arrondi",
}


class RevisionAmount(Enum):
    """How the revision amount of an état is obtained (§6b "Revision amount")."""

    MONTHLY = "monthly"
    """Default: each month's revision Δ works × (C_n − 1) rounded to the cent; the cumulative is their sum."""
    CUMULATIVE = "cumulative"
    """The cumulative Σ Δ works × (C − 1) computed exactly and rounded once; the état carries cumulative − previous."""


@dataclass(frozen=True)
class RevisionTerms:
    """The revision clause of a marché: fixed part `a` (b = 1 − a), the index, the base month (mois zéro) and the
    two named conventions of §6b. `a` is a fraction in [0, 1)."""

    a: Decimal
    index: str
    base_month: str
    rounding: CoefficientRounding = CoefficientRounding.C_UP_THOUSANDTH
    amount: RevisionAmount = RevisionAmount.MONTHLY

    def __post_init__(self) -> None:
        check_fraction(self.a, "revision_a", "Partie fixe a de la formule de révision")
        if self.a >= 1:
            raise MoneyError("La partie fixe a de la formule de révision doit être inférieure à 1.", field="revision_a")
        check_month(self.base_month, "base_month")
        if not isinstance(self.rounding, CoefficientRounding) or not isinstance(self.amount, RevisionAmount):
            raise TypeError("rounding/amount: CoefficientRounding and RevisionAmount expected")

    @property
    def b(self) -> Decimal:
        return ONE - self.a


@dataclass(frozen=True)
class Coefficient:
    """C of one month, the index values it comes from, and whether both are definitive."""

    month: str
    value: Decimal
    index_value: Decimal
    base_value: Decimal
    definitive: bool
    line: Line


@exact
def coefficient(terms: RevisionTerms, table: IndexTable, month: str) -> Coefficient:
    """C_n = a + b·I_n/I0 rounded as `terms.rounding` says. Definitive only when I_n and I0 both are."""
    if table.name != terms.index:
        raise MoneyError(
            f"La table d'indices fournie est « {table.name} », le marché est révisé sur « {terms.index} ».",
            field="index",
        )
    current = table.get(month, f"réviser les travaux {of_month_fr(month)}")
    base = table.get(terms.base_month, f"le mois zéro ({month_fr(terms.base_month)}) de la formule de révision")
    ratio = current.value / base.value
    if terms.rounding is CoefficientRounding.C_UP_THOUSANDTH:
        value = up_to_thousandth(terms.a + terms.b * ratio)
    elif terms.rounding is CoefficientRounding.RATIO_UP_THOUSANDTH:
        value = terms.a + terms.b * up_to_thousandth(ratio)
    elif terms.rounding is CoefficientRounding.C_NEAREST_THOUSANDTH:
        value = nearest_thousandth(terms.a + terms.b * ratio)
    else:
        value = terms.a + terms.b * ratio
    definitive = current.definitive and base.definitive
    status = "" if current.definitive else ", provisoire"
    line = Line(
        f"Coefficient de révision C {of_month_fr(month)}",
        ROUNDING_WORDS[terms.rounding],
        (
            ("a (partie fixe)", terms.a),
            ("b = 1 − a", terms.b),
            (f"I = indice {terms.index} {of_month_fr(month)}{status}", current.value),
            (f"I0 = indice {terms.index} {of_month_fr(terms.base_month)}", base.value),
            ("I / I0 (affiché à 6 décimales)", ratio.quantize(Decimal("0.000001"))),
        ),
        value,
        unit="coefficient",
    )
    return Coefficient(month, value, current.value, base.value, definitive, line)


@dataclass(frozen=True)
class RevisionLine:
    """The revision of one beneficiary for one month, as computed: kept in the état so that a provisional month can
    be recomputed later with the same Δ works. `amount` is rounded to the cent in MONTHLY mode, exact in CUMULATIVE
    mode (where only the cumulative is rounded)."""

    month: str
    key: BeneficiaryKey
    delta_works: Decimal
    coefficient: Decimal
    index_value: Decimal
    base_value: Decimal
    definitive: bool
    amount: Decimal

    def __post_init__(self) -> None:
        check_month(self.month)
        for name in ("delta_works", "coefficient", "index_value", "base_value", "amount"):
            require_decimal(getattr(self, name), name)


def exact_coefficient(terms: RevisionTerms, value: Decimal, index_value: Decimal, base_value: Decimal) -> Fraction:
    """C as an exact rational, for the amounts. A rounded C has three decimals and is exact as it is. Unrounded
    (`CoefficientRounding.NONE`), C = a + b·I/I0 has no end when I0 does not divide (132,5 / 130,8), and its
    40-digit Decimal can land a hair below an exact half-cent of Δ × (C − 1): 130,80 € × (C − 1) is exactly 1,445,
    the cut C gave 1,44. §6b rounds the line's amount once and no intermediate, so the amount is computed from the
    rational — the one C = `value` was cut from (a line recorded under other terms keeps its own C)."""
    if terms.rounding is CoefficientRounding.NONE:
        rational = Fraction(terms.a) + Fraction(terms.b) * Fraction(index_value) / Fraction(base_value)
        if abs(rational - Fraction(value)) < Fraction(1, 10**30):
            return rational
    return Fraction(value)


def _exact_amount(terms: RevisionTerms, delta: Decimal, c: Decimal, index_value: Decimal,
                  base_value: Decimal) -> Fraction:
    return Fraction(delta) * (exact_coefficient(terms, c, index_value, base_value) - 1)


def _line_amount(terms: RevisionTerms, delta: Decimal, c: Coefficient) -> Decimal:
    """Δ works × (C − 1): rounded half-up to the cent once (MONTHLY), or kept for the cumulative sum (CUMULATIVE: the
    Decimal shown, 40 digits; `cumulative_revision` rounds the exact sum)."""
    if terms.amount is RevisionAmount.MONTHLY:
        return cent_of(_exact_amount(terms, delta, c.value, c.index_value, c.base_value))
    return delta * (c.value - ONE)


def _explain_month(terms: RevisionTerms, line: RevisionLine, label: str) -> Line:
    rounding = ", arrondi au centime" if terms.amount is RevisionAmount.MONTHLY else " (non arrondi : mode cumulatif)"
    return Line(
        label,
        f"Δ travaux du mois aux prix de base × (C − 1){rounding}",
        (("Δ travaux du mois aux prix de base", line.delta_works), ("C", line.coefficient)),
        line.amount,
    )


@dataclass(frozen=True)
class RevisionResult:
    """The revision of one beneficiary at one état: its history after this état, the cumulative to date, and what
    this état adds (the month's own revision plus any true-up of earlier provisional months)."""

    history: tuple[RevisionLine, ...]
    to_date: Explained
    month_line: RevisionLine | None
    true_ups: tuple[tuple[RevisionLine, RevisionLine], ...]
    detail: tuple[Line, ...]


@exact
def revise(
    terms: RevisionTerms,
    table: IndexTable,
    key: BeneficiaryKey,
    month: str,
    delta_works: Decimal,
    previous_lines: Sequence[RevisionLine],
    *,
    require_definitive: bool = False,
) -> RevisionResult:
    """Revise one beneficiary's Δ works of `month`, true up its earlier provisional months, and sum.

    `require_definitive` (the décompte général): every month must now rest on definitive indexes.
    """
    require_decimal(delta_works, "delta_works")
    history: list[RevisionLine] = []
    true_ups: list[tuple[RevisionLine, RevisionLine]] = []
    detail: list[Line] = []
    for old in previous_lines:
        if old.definitive:
            history.append(old)
            continue
        c = coefficient(terms, table, old.month)
        new = RevisionLine(
            old.month,
            key,
            old.delta_works,
            c.value,
            c.index_value,
            c.base_value,
            c.definitive,
            _line_amount(terms, old.delta_works, c),
        )
        history.append(new)
        if (new.coefficient, new.amount, new.definitive) != (old.coefficient, old.amount, old.definitive):
            true_ups.append((old, new))
            detail.append(c.line)
            detail.append(_explain_month(terms, new, f"Révision {of_month_fr(old.month)} recalculée"))
            status = "indice définitif" if new.definitive else "indice provisoire corrigé"
            detail.append(
                Line(
                    f"Régularisation de la révision {of_month_fr(old.month)} ({status})",
                    "révision recalculée − révision déjà comptée",
                    (("révision recalculée", new.amount), ("révision déjà comptée", old.amount)),
                    new.amount - old.amount,
                )
            )
    month_line = None
    if delta_works != 0:
        c = coefficient(terms, table, month)
        month_line = RevisionLine(
            month,
            key,
            delta_works,
            c.value,
            c.index_value,
            c.base_value,
            c.definitive,
            _line_amount(terms, delta_works, c),
        )
        history.append(month_line)
        detail.append(c.line)
        detail.append(_explain_month(terms, month_line, f"Révision des travaux {of_month_fr(month)}"))
    else:
        detail.append(
            Line(
                f"Révision des travaux {of_month_fr(month)}",
                "pas de travaux nouveaux ce mois : pas de révision",
                (),
                ZERO,
            )
        )
    if require_definitive:
        for line in history:
            if not line.definitive:
                value = table.find(line.month)
                month = terms.base_month if value is not None and value.definitive else line.month
                raise MoneyError(
                    f"L'indice {terms.index} {of_month_fr(month)} est encore provisoire : le décompte général ne "
                    "peut être arrêté qu'avec les indices définitifs.",
                    field="index",
                )
    to_date = cumulative_revision(terms, history)
    return RevisionResult(tuple(history), to_date, month_line, tuple(true_ups), tuple(detail))


def cumulative_revision(terms: RevisionTerms, history: Sequence[RevisionLine]) -> Explained:
    """The cumulative revision of one beneficiary from its monthly lines (sum of rounded lines, or in CUMULATIVE mode
    the exact sum rounded once)."""
    lines = [_explain_month(terms, line, f"Révision {of_month_fr(line.month)}") for line in history]
    total = sum((line.amount for line in history), ZERO)
    if terms.amount is RevisionAmount.MONTHLY:
        lines.append(
            Line(
                "Révision cumulée à ce jour",
                "somme des révisions mensuelles arrondies",
                tuple((f"révision {of_month_fr(line.month)}", line.amount) for line in history),
                total,
            )
        )
        return Explained(total, tuple(lines))
    # The exact sum, rounded once: the lines' Decimals are cut at 40 digits when C is not rounded.
    rounded = cent_of(sum((_exact_amount(terms, line.delta_works, line.coefficient, line.index_value, line.base_value)
                           for line in history), Fraction(0)))
    lines.append(
        Line(
            "Révision cumulée à ce jour",
            "somme exacte des révisions mensuelles, arrondie une fois au centime",
            (("somme exacte", total),),
            rounded,
        )
    )
    return Explained(rounded, tuple(lines))
