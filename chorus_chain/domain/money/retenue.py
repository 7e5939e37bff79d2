"""Retenue de garantie: the share of each acompte held back until the end of the guarantee period.

Why (CHORUS.md §5 "Retenue de garantie", §6b "Retenue de garantie base"):
- rate ≤ 5 % (≤ 3 % for State contracts with SMEs: the `RetenueCap` setting);
- base: works TTC **excluding** price revision (the legal layout of an acompte certificate says "hors variation de
  prix"; `RetenueBase` names the alternative "including revision");
- computed per part of the marché — a contractor (titulaire, mandataire or co-traitant) with the sous-traitants it
  brought in paiement direct — because a guarantee can replace the retenue on one part only;
- within a part: a reverse-charged sous-traitant's share = rate × its works HT (it is paid HT), another
  sous-traitant's share = rate × its works TTC, and the contractor's share = the part's total minus the
  sous-traitants' shares (so the contractor also bears the retenue on the VAT it collects on their works);
- a guarantee (garantie à première demande / caution) given by a beneficiary replaces the retenue on its own share:
  that share becomes 0, the others are unchanged (`replaced`: the marché-wide setting);
- a guarantee may also cover a beneficiary for an amount only (`Guarantee`, R2191-36: its amount is at most the
  retenue it replaces; R2191-35 and the CCAG: completed when the marché grows, otherwise the retenue is held on the
  uncovered part). From its date on, the retenue held on that beneficiary is its computed share less what its
  guarantees in force cover, never below 0: a caution sized on the initial marché (rate × initial part TTC) leaves
  the retenue held on the works beyond it — the avenant — only. Cumulative like every column: an état after the
  guarantee's date gives back what was held before on the covered part (to date − previous < 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum

from chorus_chain.domain.money.caps import check_fraction, check_retenue_rate
from chorus_chain.domain.money.rounding import (
    ONE,
    ZERO,
    BeneficiaryKey,
    Explained,
    Line,
    MoneyError,
    cent,
    check_month,
    exact,
    fmt_euros,
    require_cents,
    require_decimal,
)

GUARANTEE_KINDS = {
    "gapd": "garantie à première demande",
    "caution": "caution personnelle et solidaire",
}
"""The two instruments that may replace the retenue de garantie (R2191-36)."""


@dataclass(frozen=True)
class Guarantee:
    """A guarantee replacing the retenue of one beneficiary, from `given_on`, for `amount` euros of retenue (None:
    the whole of its retenue). Several guarantees of one beneficiary add up (a complement after an avenant)."""

    key: BeneficiaryKey
    kind: str
    given_on: date
    amount: Decimal | None = None

    def __post_init__(self) -> None:
        if self.kind not in GUARANTEE_KINDS:
            raise MoneyError(f"Garantie inconnue : « {self.kind} ».", field="kind")
        if not isinstance(self.given_on, date):
            raise TypeError("given_on: date expected")
        if self.amount is not None:
            require_cents(self.amount, "amount", "Montant de la garantie")
            if self.amount <= 0:
                raise MoneyError("Le montant de la garantie doit être positif.", field="amount")

    @property
    def label(self) -> str:
        return GUARANTEE_KINDS[self.kind]

    def in_force(self, month: str) -> bool:
        """In force for the décompte of `month` ("YYYY-MM") when given on or before that month's end."""
        return f"{self.given_on:%Y-%m}" <= month


class RetenueCap(Enum):
    """The legal ceiling of the rate that applies to the marché."""

    STANDARD = "standard"
    """5 %: the general ceiling."""
    STATE_SME = "state_sme"
    """3 %: State contracts with an SME."""

    @property
    def limit(self) -> Decimal:
        return Decimal("0.05") if self is RetenueCap.STANDARD else Decimal("0.03")

    @property
    def reason_fr(self) -> str:
        return "plafond général" if self is RetenueCap.STANDARD else "marché de l'État passé avec une PME"


class RetenueBase(Enum):
    """What the rate applies to (§6b)."""

    WORKS_TTC_EXCLUDING_REVISION = "works_ttc_excluding_revision"
    """Default: works TTC at base prices, "hors variation de prix"."""
    WORKS_TTC_INCLUDING_REVISION = "works_ttc_including_revision"
    """Alternative: works + revision, TTC."""


@dataclass(frozen=True)
class RetenueSettings:
    """The retenue clause of a marché. `replaced`: the beneficiaries whose share is replaced by a guarantee."""

    rate: Decimal = Decimal("0.05")
    cap: RetenueCap = RetenueCap.STANDARD
    base: RetenueBase = RetenueBase.WORKS_TTC_EXCLUDING_REVISION
    replaced: frozenset[BeneficiaryKey] = field(default_factory=frozenset)
    guarantees: tuple[Guarantee, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.cap, RetenueCap) or not isinstance(self.base, RetenueBase):
            raise TypeError("cap/base: RetenueCap and RetenueBase expected")
        check_retenue_rate(self.rate, self.cap.limit, self.cap.reason_fr)
        object.__setattr__(self, "replaced", frozenset(self.replaced))
        object.__setattr__(self, "guarantees", tuple(self.guarantees))
        for guarantee in self.guarantees:
            if not isinstance(guarantee, Guarantee):
                raise TypeError("guarantees: Guarantee expected")

    def guarantees_of(self, key: BeneficiaryKey, month: str | None) -> tuple[Guarantee, ...]:
        """The guarantees of `key` in force for the décompte of `month` (None: every one, e.g. outside an état)."""
        return tuple(g for g in self.guarantees if g.key == key and (month is None or g.in_force(month)))


@dataclass(frozen=True)
class RetenueMember:
    """What the retenue needs to know about one member of a part, cumulative to date."""

    key: BeneficiaryKey
    name: str
    works_ht: Decimal
    revision_ht: Decimal
    autoliquidation: bool = False

    def __post_init__(self) -> None:
        require_decimal(self.works_ht, "works_ht")
        require_decimal(self.revision_ht, "revision_ht")


def _base_ht(settings: RetenueSettings, member: RetenueMember) -> Decimal:
    if settings.base is RetenueBase.WORKS_TTC_INCLUDING_REVISION:
        return member.works_ht + member.revision_ht
    return member.works_ht


@exact
def retenue_of_part(
    settings: RetenueSettings,
    tva_rate: Decimal,
    contractor: RetenueMember,
    sous_traitants: Sequence[RetenueMember] = (),
    month: str | None = None,
) -> dict[BeneficiaryKey, Explained]:
    """The cumulative retenue of each member of one part (see the module docstring), each share rounded once.
    `month`: the décompte's month, which decides the guarantees in force (None: all of them)."""
    check_fraction(tva_rate, "tva_rate", "Taux de TVA")
    if month is not None:
        check_month(month)
    rate = settings.rate
    base_words = (
        "travaux TTC aux prix de base (hors révision)"
        if settings.base is RetenueBase.WORKS_TTC_EXCLUDING_REVISION
        else "travaux TTC révision comprise"
    )
    members = [contractor, *sous_traitants]
    part_base_ttc = sum((_base_ht(settings, m) for m in members), Decimal(0)) * (ONE + tva_rate)
    part_total = cent(rate * part_base_ttc)
    part_line = Line(
        f"Retenue de garantie de la part ({contractor.name} et ses sous-traitants en paiement direct)",
        f"taux × {base_words} de la part",
        (
            ("taux", rate),
            ("travaux HT de la part", sum((_base_ht(settings, m) for m in members), Decimal(0))),
            ("taux de TVA", tva_rate),
        ),
        part_total,
    )
    result: dict[BeneficiaryKey, Explained] = {}
    shares_sum = Decimal(0)
    st_lines: list[Line] = []
    for st in sous_traitants:
        base = _base_ht(settings, st)
        if st.autoliquidation:
            share = cent(rate * base)
            line = Line(
                f"Retenue de garantie ({st.name})",
                "taux × travaux HT (autoliquidation : le sous-traitant est payé hors TVA)",
                (("taux", rate), ("travaux HT", base)),
                share,
            )
        else:
            share = cent(rate * base * (ONE + tva_rate))
            line = Line(
                f"Retenue de garantie ({st.name})",
                f"taux × {base_words}",
                (("taux", rate), ("travaux HT", base), ("taux de TVA", tva_rate)),
                share,
            )
        shares_sum += share
        st_lines.append(line)
        if st.key in settings.replaced:
            result[st.key] = _replaced(st.name, line)
        else:
            result[st.key] = _covered(st.name, Explained(share, (part_line, line)),
                                      settings.guarantees_of(st.key, month))
    contractor_share = part_total - shares_sum
    if sous_traitants:
        contractor_line = Line(
            f"Retenue de garantie ({contractor.name})",
            "retenue de la part − retenues des sous-traitants en paiement direct",
            (
                ("retenue de la part", part_total),
                *(
                    (f"retenue du sous-traitant {st.name}", line.result)
                    for st, line in zip(sous_traitants, st_lines, strict=True)
                ),
            ),
            contractor_share,
        )
        lines = (part_line, *st_lines, contractor_line)
    else:
        contractor_line = part_line
        lines = (part_line,)
    if contractor.key in settings.replaced:
        result[contractor.key] = _replaced(contractor.name, contractor_line)
    else:
        result[contractor.key] = _covered(contractor.name, Explained(contractor_share, lines),
                                          settings.guarantees_of(contractor.key, month))
    return result


def _covered(name: str, share: Explained, guarantees: Sequence[Guarantee]) -> Explained:
    """The share held once the beneficiary's guarantees in force are taken off: share − Σ amounts, never below 0
    (a guarantee without an amount covers the whole share)."""
    if not guarantees:
        return share
    if any(g.amount is None for g in guarantees):
        whole = next(g for g in guarantees if g.amount is None)
        return Explained(
            Decimal("0.00"),
            (
                *share.lines,
                Line(
                    f"Retenue de garantie ({name})",
                    f"remplacée en totalité par une {whole.label} du {whole.given_on:%d/%m/%Y} : rien n'est retenu",
                    (("retenue qui aurait été prélevée", share.value),),
                    Decimal("0.00"),
                ),
            ),
        )
    covered = sum((g.amount for g in guarantees), ZERO)
    held = max(ZERO, share.value - covered)
    words = " + ".join(f"{g.label} du {g.given_on:%d/%m/%Y} ({fmt_euros(g.amount)})" for g in guarantees)
    return Explained(
        held,
        (
            *share.lines,
            Line(
                f"Retenue de garantie détenue ({name})",
                f"retenue calculée − montant couvert par : {words} ; jamais moins de 0 (la retenue n'est prélevée "
                "que sur ce que la garantie ne couvre pas)",
                (("retenue calculée", share.value), ("montant couvert par la garantie", covered)),
                held,
            ),
        ),
    )


def _replaced(name: str, would_be: Line) -> Explained:
    return Explained(
        Decimal("0.00"),
        (
            would_be,
            Line(
                f"Retenue de garantie ({name})",
                "remplacée par une garantie à première demande (ou une caution) : rien n'est retenu",
                (("retenue qui aurait été prélevée", would_be.result),),
                Decimal("0.00"),
            ),
        ),
    )
