"""THE computation: from the décompte mensuel n (cumulative, admitted by the MOE) to the état d'acompte n.

Why this shape (CHORUS.md §6, §6b):
- The décompte is cumulative since the start, at base prices, HT, per beneficiary. Every column of the état is first
  computed **to date**, then the previous état's to-date figure is subtracted: the sum of the états equals the
  cumulative at every month by construction, and re-running a month with the same cumulative inputs pays nothing.
- Price revision is the one column that is not recomputed from scratch: month n is revised with its own coefficient
  C_n (§6b "Revision amount"), so the état carries its history of monthly revision lines, and a provisional month is
  trued up when its index changes (`revision.revise`).
- Money is Decimal, each line rounded half-up to the cent once; totals are sums of rounded lines (§6.4). Every figure
  carries its explanation lines (`Column.lines`), which the UI shows and the export copies.

The beneficiaries are those the buyer pays: the titulaire (or the mandataire), each co-traitant, each sous-traitant
in paiement direct (§6.3). Per beneficiary and for the whole marché, the columns of the legal layout: advance paid,
works HT at base prices, revision, primes, débours, VAT, TTC, retenue, advance repayment, penalties, total deducted,
amount due — each as to date / previous / this acompte. Then the amount payable per payee (a co-traitant of a
groupement solidaire is paid through the mandataire by default).

Conventions settled here (each a named setting where the sources leave a choice):
- works at base prices = travaux + approvisionnements − réfactions; it is what is revised, what the retenue applies to
  and what measures execution for the advance repayment;
- primes are subject to VAT, neither revised nor subject to the retenue;
- débours (expenses re-charged at cost on the buyer's behalf) are outside the VAT base, the revision and the retenue;
- penalties are damages: outside the VAT base, deducted from the amount TTC (with the retenue and the advance
  repayment);
- VAT covers the whole works: a reverse-charged sous-traitant is paid HT and the VAT on its works (including its
  revision and primes) is on its contractor's line (§6.3, §6b);
- the advance of each beneficiary is repaid according to the execution of its own part (its works ÷ its part), the
  only pace that can be deducted from its own acomptes;
- a sous-traitant's cumulative amount TTC is checked against its DC4 ceiling (revision included by default:
  `Dc4CeilingBase`); an overrun is an error, never a silent cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from enum import Enum
from typing import Any

from chorus_chain.domain.money.advance import (
    AvanceSettings,
    RepaymentBasis,
    avance_amount,
    fixed_repayment_target,
    repayment_target,
)
from chorus_chain.domain.money.caps import check_dc4_ceiling, check_fraction, check_not_negative
from chorus_chain.domain.money.index_table import IndexTable
from chorus_chain.domain.money.penalties import Penalty, PenaltySettings, penalties_to_date
from chorus_chain.domain.money.retenue import RetenueMember, RetenueSettings, retenue_of_part
from chorus_chain.domain.money.revision import (
    RevisionLine,
    RevisionResult,
    RevisionTerms,
    cumulative_revision,
    revise,
)
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
    month_fr,
    of_month_fr,
    require_cents,
    require_decimal,
    require_int,
)

# ---------------------------------------------------------------------------------------------------------------------
# Inputs


class Role:
    """The roles of a beneficiary, as the plain strings of the export contract."""

    TITULAIRE = "titulaire"
    MANDATAIRE = "mandataire"
    COTRAITANT = "cotraitant"
    SOUS_TRAITANT = "sous_traitant"
    ALL = (TITULAIRE, MANDATAIRE, COTRAITANT, SOUS_TRAITANT)
    HOLDERS = (TITULAIRE, MANDATAIRE)


GROUPEMENTS = ("none", "conjoint", "solidaire")


class GroupementPayment(Enum):
    """Who receives a co-traitant's payment."""

    BY_FORM = "by_form"
    """Default: each co-traitant of a groupement conjoint is paid itself; a groupement solidaire is paid through its
    mandataire."""
    EACH_MEMBER = "each_member"
    """Every co-traitant is paid itself (the acte d'engagement of a solidaire groupement may split the payments)."""
    MANDATAIRE = "mandataire"
    """Everything goes to the mandataire."""


class Dc4CeilingBase(Enum):
    """What a sous-traitant's DC4 ceiling is compared with."""

    TTC_INCLUDING_REVISION = "ttc_including_revision"
    """Default: its cumulative amount TTC, revision included (the ceiling is what may be paid to it)."""
    TTC_EXCLUDING_REVISION = "ttc_excluding_revision"
    """Its cumulative amount TTC at base prices (when the acte spécial states the ceiling "hors révision")."""


@dataclass(frozen=True)
class MarcheTerms:
    """The financial terms of a marché the engine needs. Rates are fractions (0.20 for 20 %)."""

    montant_ht: Decimal
    tva_rate: Decimal
    duration_months: int
    groupement: str = "none"
    retenue: RetenueSettings = field(default_factory=RetenueSettings)
    avance: AvanceSettings = field(default_factory=AvanceSettings)
    revision: RevisionTerms | None = None
    penalties: PenaltySettings = field(default_factory=PenaltySettings)
    groupement_payment: GroupementPayment = GroupementPayment.BY_FORM
    dc4_ceiling_base: Dc4CeilingBase = Dc4CeilingBase.TTC_INCLUDING_REVISION

    def __post_init__(self) -> None:
        require_cents(self.montant_ht, "montant_ht", "Montant HT du marché")
        if self.montant_ht <= 0:
            raise MoneyError("Le montant HT du marché doit être positif.", field="montant_ht")
        check_fraction(self.tva_rate, "tva_rate", "Taux de TVA")
        require_int(self.duration_months, "duration_months")
        if self.duration_months <= 0:
            raise MoneyError("La durée du marché doit être d'au moins un mois.", field="duration_months")
        if self.groupement not in GROUPEMENTS:
            raise MoneyError(f"Groupement inconnu : « {self.groupement} ».", field="groupement")
        for name, kind in (
            ("retenue", RetenueSettings),
            ("avance", AvanceSettings),
            ("penalties", PenaltySettings),
            ("groupement_payment", GroupementPayment),
            ("dc4_ceiling_base", Dc4CeilingBase),
        ):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"{name}: {kind.__name__} expected")
        if self.revision is not None and not isinstance(self.revision, RevisionTerms):
            raise TypeError("revision: RevisionTerms or None expected")


@dataclass(frozen=True)
class Beneficiary:
    """Someone the buyer pays: the titulaire/mandataire, a co-traitant, a sous-traitant in paiement direct.

    `part_ht` is its own share of the marché at base prices HT: for a contractor, net of the parts of the
    sous-traitants it brought in paiement direct (they are beneficiaries of their own); the parts add up to the
    marché amount. A sous-traitant names its `contractor_key` and its DC4 ceiling (`dc4_ceiling_ttc`: the maximum
    paid to it directly, an amount without VAT when it is reverse-charged). `takes_avance=False`: it declined the
    advance.

    `dc4_ceiling_base`: what its own acte spécial says the ceiling covers — revision included or excluded (issue 16);
    None follows the marché's `MarcheTerms.dc4_ceiling_base`.
    `initial_part_ht`: its part in the marché as signed, before any modification (avenant); None when no avenant
    changed it. The advance is computed on it and never moves with an avenant (R2191-7, R2191-10), while the retenue
    and the execution measured for the advance repayment follow `part_ht`, the part as modified.
    """

    key: BeneficiaryKey
    name: str
    role: str
    part_ht: Decimal
    contractor_key: BeneficiaryKey | None = None
    paiement_direct: bool = False
    autoliquidation: bool = False
    dc4_ceiling_ttc: Decimal | None = None
    takes_avance: bool = True
    dc4_ceiling_base: Dc4CeilingBase | None = None
    initial_part_ht: Decimal | None = None

    def __post_init__(self) -> None:
        if self.role not in Role.ALL:
            raise MoneyError(f"{self.name} : rôle inconnu « {self.role} ».", field="role")
        require_cents(self.part_ht, "part_ht", f"Part de {self.name}")
        check_not_negative(self.part_ht, "part_ht", f"Part de {self.name}")
        require_decimal(self.dc4_ceiling_ttc, "dc4_ceiling_ttc", optional=True)
        if self.dc4_ceiling_base is not None and not isinstance(self.dc4_ceiling_base, Dc4CeilingBase):
            raise TypeError("dc4_ceiling_base: Dc4CeilingBase or None expected")
        if self.initial_part_ht is not None:
            require_cents(self.initial_part_ht, "initial_part_ht", f"Part initiale de {self.name}")
            check_not_negative(self.initial_part_ht, "initial_part_ht", f"Part initiale de {self.name}")

    @property
    def avance_part_ht(self) -> Decimal:
        """The part the advance is computed on: the initial one (R2191-7, R2191-10)."""
        return self.part_ht if self.initial_part_ht is None else self.initial_part_ht

    @property
    def is_sous_traitant(self) -> bool:
        return self.role == Role.SOUS_TRAITANT


@dataclass(frozen=True)
class PartDecompte:
    """One beneficiary's décompte, cumulative since the start, HT at base prices (CHORUS.md §6.1). Every amount is
    ≥ 0; a deduction for defective or missing work is a réfaction (a positive amount subtracted)."""

    key: BeneficiaryKey
    travaux: Decimal = ZERO
    approvisionnements: Decimal = ZERO
    primes: Decimal = ZERO
    debours: Decimal = ZERO
    refactions: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in AMOUNT_FIELDS:
            require_cents(getattr(self, name), name, f"{AMOUNT_LABELS[name]} ({self.key})")
            check_not_negative(getattr(self, name), name, f"{AMOUNT_LABELS[name]} ({self.key})")

    @property
    def works_ht(self) -> Decimal:
        """Works at base prices: travaux + approvisionnements − réfactions."""
        return self.travaux + self.approvisionnements - self.refactions


AMOUNT_FIELDS = ("travaux", "approvisionnements", "primes", "debours", "refactions")
AMOUNT_LABELS = {
    "travaux": "Travaux",
    "approvisionnements": "Approvisionnements",
    "primes": "Primes",
    "debours": "Débours",
    "refactions": "Réfactions",
}


@dataclass(frozen=True)
class DecompteMensuel:
    """The décompte mensuel n: the cumulative figures admitted by the MOE (`parts`), optionally what was claimed
    (`claimed`, the PDMs) so the corrections are shown side by side, and every penalty applied since the start.
    `avance_paid`: the advance has been paid (by its own payment, never inside an acompte)."""

    number: int
    month: str
    parts: tuple[PartDecompte, ...]
    claimed: tuple[PartDecompte, ...] = ()
    penalties: tuple[Penalty, ...] = ()
    avance_paid: bool = True

    def __post_init__(self) -> None:
        require_int(self.number, "number")
        if self.number < 1:
            raise MoneyError("Le numéro de l'état d'acompte commence à 1.", field="number")
        check_month(self.month)
        for name in ("parts", "claimed", "penalties"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        keys = [p.key for p in self.parts]
        if len(set(keys)) != len(keys):
            raise MoneyError("Décompte : un bénéficiaire apparaît deux fois.", field="parts")

    def part(self, key: BeneficiaryKey) -> PartDecompte | None:
        return next((p for p in self.parts if p.key == key), None)


# ---------------------------------------------------------------------------------------------------------------------
# Figures, columns, state carried from one état to the next

COLUMN_LABELS: dict[str, str] = {
    "avance_paid": "Avance versée",
    "works_ht": "Travaux HT aux prix de base",
    "revision": "Révision des prix",
    "primes": "Primes",
    "debours": "Débours",
    "vat": "TVA",
    "ttc": "Montant TTC",
    "retenue": "Retenue de garantie",
    "avance_repayment": "Remboursement de l'avance",
    "penalties": "Pénalités",
    "total_deducted": "Total des déductions",
    "amount_due": "Montant dû",
}


@dataclass(frozen=True)
class Figures:
    """One set of cumulative figures (one beneficiary, or the marché), in the order of the legal layout."""

    avance_paid: Decimal = ZERO
    works_ht: Decimal = ZERO
    revision: Decimal = ZERO
    primes: Decimal = ZERO
    debours: Decimal = ZERO
    vat: Decimal = ZERO
    ttc: Decimal = ZERO
    retenue: Decimal = ZERO
    avance_repayment: Decimal = ZERO
    penalties: Decimal = ZERO
    total_deducted: Decimal = ZERO
    amount_due: Decimal = ZERO

    def __post_init__(self) -> None:
        for f in fields(self):
            require_decimal(getattr(self, f.name), f.name)

    def to_dict(self) -> dict[str, str]:
        return {f.name: format(getattr(self, f.name), "f") for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> Figures:
        return cls(**{f.name: Decimal(data.get(f.name, "0.00")) for f in fields(cls)})


COLUMNS = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True)
class CumulState:
    """What one état hands to the next: its number and month, the cumulative figures of each beneficiary, and the
    monthly revision lines (needed for the true-up of provisional indexes). Serialisable for storage."""

    number: int
    month: str
    figures: tuple[tuple[BeneficiaryKey, Figures], ...]
    revision_lines: tuple[RevisionLine, ...] = ()

    def of(self, key: BeneficiaryKey) -> Figures:
        return next((f for k, f in self.figures if k == key), Figures())

    def keys(self) -> list[BeneficiaryKey]:
        return [k for k, _ in self.figures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "month": self.month,
            "figures": [{"key": k, **f.to_dict()} for k, f in self.figures],
            "revision_lines": [
                {
                    "month": r.month,
                    "key": r.key,
                    "delta_works": format(r.delta_works, "f"),
                    "coefficient": format(r.coefficient, "f"),
                    "index_value": format(r.index_value, "f"),
                    "base_value": format(r.base_value, "f"),
                    "definitive": r.definitive,
                    "amount": format(r.amount, "f"),
                }
                for r in self.revision_lines
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CumulState:
        figures = tuple(
            (row["key"], Figures.from_dict({k: v for k, v in row.items() if k != "key"})) for row in data["figures"]
        )
        lines = tuple(
            RevisionLine(
                r["month"],
                r["key"],
                Decimal(r["delta_works"]),
                Decimal(r["coefficient"]),
                Decimal(r["index_value"]),
                Decimal(r["base_value"]),
                bool(r["definitive"]),
                Decimal(r["amount"]),
            )
            for r in data.get("revision_lines", ())
        )
        return cls(int(data["number"]), data["month"], figures, lines)


@dataclass(frozen=True)
class Column:
    """One figure of the état as the legal layout shows it: total to date, previous, this acompte; with the lines
    that explain it (the last one is always "this = to date − previous")."""

    name: str
    label: str
    to_date: Decimal
    previous: Decimal
    this: Decimal
    lines: tuple[Line, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "to_date": format(self.to_date, "f"),
            "previous": format(self.previous, "f"),
            "this": format(self.this, "f"),
            "lines": [line.to_dict() for line in self.lines],
        }


def _column(name: str, to_date: Explained, previous: Decimal, extra: Sequence[Line] = ()) -> Column:
    this = to_date.value - previous
    label = COLUMN_LABELS[name]
    last = Line(
        f"{label} : ce mois",
        "cumul à ce jour − cumul de l'état précédent",
        (("cumul à ce jour", to_date.value), ("cumul précédent", previous)),
        this,
    )
    return Column(name, label, to_date.value, previous, this, (*to_date.lines, *extra, last))


@dataclass(frozen=True)
class Columns:
    """The twelve columns of one beneficiary or of the marché."""

    avance_paid: Column
    works_ht: Column
    revision: Column
    primes: Column
    debours: Column
    vat: Column
    ttc: Column
    retenue: Column
    avance_repayment: Column
    penalties: Column
    total_deducted: Column
    amount_due: Column

    def all(self) -> tuple[Column, ...]:
        return tuple(getattr(self, name) for name in COLUMNS)

    def to_date(self) -> Figures:
        return Figures(**{name: getattr(self, name).to_date for name in COLUMNS})

    def this(self) -> Figures:
        return Figures(**{name: getattr(self, name).this for name in COLUMNS})

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).to_dict() for name in COLUMNS}


@dataclass(frozen=True)
class Correction:
    """A figure the MOE changed: claimed in the PDM, admitted in the décompte (the difference opens the titulaire's
    30-day contest window, CHORUS.md §4)."""

    key: BeneficiaryKey
    name: str
    field: str
    label: str
    claimed: Decimal
    admitted: Decimal

    @property
    def difference(self) -> Decimal:
        return self.admitted - self.claimed

    def line(self) -> Line:
        return Line(
            f"Correction du maître d'œuvre — {self.label} ({self.name})",
            "montant admis − montant demandé",
            (("demandé", self.claimed), ("admis", self.admitted)),
            self.difference,
        )


@dataclass(frozen=True)
class BeneficiaryEtat:
    """One beneficiary's part of the état: its columns, who receives its amount, its advance."""

    key: BeneficiaryKey
    name: str
    role: str
    payee_key: BeneficiaryKey
    columns: Columns
    avance: Explained
    remaining: Explained | None = None
    """Issue 16: the amount still to execute after this état, HT at base prices (its part as modified − its works to
    date); None in the results frozen before it existed."""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "key": self.key,
            "name": self.name,
            "role": self.role,
            "payee_key": self.payee_key,
            "avance": self.avance.to_dict(),
            "columns": self.columns.to_dict(),
        }
        if self.remaining is not None:
            data["remaining"] = self.remaining.to_dict()
        return data


@dataclass(frozen=True)
class Payable:
    """What the buyer pays one payee for this état (and to date): the amounts due of the beneficiaries it receives."""

    payee_key: BeneficiaryKey
    name: str
    to_date: Decimal
    previous: Decimal
    this: Decimal
    lines: tuple[Line, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "payee_key": self.payee_key,
            "name": self.name,
            "to_date": format(self.to_date, "f"),
            "previous": format(self.previous, "f"),
            "this": format(self.this, "f"),
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass(frozen=True)
class EtatAcompte:
    """The état d'acompte n (or, `final`, the état of the décompte général)."""

    number: int
    month: str
    final: bool
    marche: Columns
    beneficiaries: tuple[BeneficiaryEtat, ...]
    payables: tuple[Payable, ...]
    corrections: tuple[Correction, ...]
    revision_lines: tuple[RevisionLine, ...]
    remaining: Explained | None = None
    """Issue 16: the marché's amount still to execute after this état (Σ of the beneficiaries')."""

    def beneficiary(self, key: BeneficiaryKey) -> BeneficiaryEtat:
        for b in self.beneficiaries:
            if b.key == key:
                return b
        raise KeyError(key)

    def payable(self, key: BeneficiaryKey) -> Payable | None:
        return next((p for p in self.payables if p.payee_key == key), None)

    def cumuls(self) -> CumulState:
        """The state the next état starts from."""
        return CumulState(
            self.number,
            self.month,
            tuple((b.key, b.columns.to_date()) for b in self.beneficiaries),
            self.revision_lines,
        )

    def to_dict(self) -> dict[str, Any]:
        """The `decompte` object of the export (marche-export.md): amounts as strings, every explanation line."""
        return {
            "kind": "decompte_general" if self.final else "etat_acompte",
            "number": self.number,
            "month": self.month,
            "marche": self.marche.to_dict(),
            "beneficiaries": [b.to_dict() for b in self.beneficiaries],
            "payables": [p.to_dict() for p in self.payables],
            "corrections": [
                {
                    "key": c.key,
                    "field": c.field,
                    "claimed": format(c.claimed, "f"),
                    "admitted": format(c.admitted, "f"),
                    "difference": format(c.difference, "f"),
                }
                for c in self.corrections
            ],
            "state": self.cumuls().to_dict(),
            **({"remaining": self.remaining.to_dict()} if self.remaining is not None else {}),
        }


# ---------------------------------------------------------------------------------------------------------------------
# Checks


def check_beneficiaries(terms: MarcheTerms, beneficiaries: Sequence[Beneficiary]) -> None:
    """The beneficiaries must describe the marché consistently (French messages)."""
    keys = [b.key for b in beneficiaries]
    if len(set(keys)) != len(keys):
        raise MoneyError("Deux bénéficiaires ont la même clé.", field="beneficiaries")
    by_key = {b.key: b for b in beneficiaries}
    holders = [b for b in beneficiaries if b.role in Role.HOLDERS]
    expected = Role.TITULAIRE if terms.groupement == "none" else Role.MANDATAIRE
    if len(holders) != 1 or holders[0].role != expected:
        what = "un titulaire" if expected == Role.TITULAIRE else "un mandataire (groupement)"
        raise MoneyError(f"Le marché doit avoir exactement {what} parmi les bénéficiaires.", field="beneficiaries")
    for b in beneficiaries:
        if b.role == Role.COTRAITANT and terms.groupement == "none":
            raise MoneyError(f"{b.name} est co-traitant alors que le marché n'est pas attribué à un groupement.")
        if b.is_sous_traitant:
            contractor = by_key.get(b.contractor_key)
            if contractor is None or contractor.is_sous_traitant:
                raise MoneyError(
                    f"Le sous-traitant {b.name} doit être rattaché au titulaire, au mandataire ou à un co-traitant "
                    "(rang 1) pour être payé directement.",
                    field="contractor_key",
                )
            if not b.paiement_direct:
                raise MoneyError(
                    f"{b.name} n'est pas en paiement direct : ses travaux figurent dans le décompte de son "
                    "entrepreneur principal, pas comme bénéficiaire de l'état d'acompte.",
                    field="paiement_direct",
                )
            if b.dc4_ceiling_ttc is None:
                raise MoneyError(
                    f"Le plafond de l'acte spécial (DC4) du sous-traitant {b.name} est nécessaire.",
                    field="dc4_ceiling_ttc",
                )
        elif (b.contractor_key is not None or b.autoliquidation or b.dc4_ceiling_ttc is not None
              or b.dc4_ceiling_base is not None):
            raise MoneyError(
                f"{b.name} n'est pas sous-traitant : ni entrepreneur principal, ni autoliquidation, ni plafond DC4.",
                field="role",
            )
    total = sum((b.part_ht for b in beneficiaries), ZERO)
    if total != terms.montant_ht:
        raise MoneyError(
            f"La somme des parts des bénéficiaires ({fmt_euros(total)} HT) diffère du montant du marché "
            f"({fmt_euros(terms.montant_ht)} HT) : la part d'un entrepreneur s'entend hors celles de ses "
            "sous-traitants en paiement direct.",
            field="part_ht",
        )


def payee_of(terms: MarcheTerms, beneficiaries: Sequence[Beneficiary], b: Beneficiary) -> BeneficiaryKey:
    """Who receives b's amount due (see `GroupementPayment`)."""
    if b.role != Role.COTRAITANT:
        return b.key
    mandataire = next(x.key for x in beneficiaries if x.role == Role.MANDATAIRE)
    mode = terms.groupement_payment
    if mode is GroupementPayment.MANDATAIRE:
        return mandataire
    if mode is GroupementPayment.BY_FORM and terms.groupement == "solidaire":
        return mandataire
    return b.key


# ---------------------------------------------------------------------------------------------------------------------
# The computation


@dataclass(frozen=True)
class _Ht:
    """One beneficiary's HT figures to date, before VAT and deductions."""

    works: Explained
    revision: RevisionResult | None
    revision_to_date: Explained
    primes: Explained
    debours: Explained

    @property
    def vat_base(self) -> Decimal:
        return self.works.value + self.revision_to_date.value + self.primes.value


def avance_of(terms: MarcheTerms, beneficiaries: Sequence[Beneficiary], b: Beneficiary) -> Explained:
    """The advance due to b on its part (§6b "Advance amount"). A contractor's base includes the VAT on the parts of
    its reverse-charged sous-traitants (it collects that VAT), so the advances add up to rate × marché TTC.

    The base is the **initial** part (`Beneficiary.avance_part_ht`): an avenant never changes the advance
    (CCP R2191-7: the advance is computed on the initial amount of the marché; R2191-10: its amount does not move with
    the modifications of the marché)."""
    t = terms.tva_rate
    if b.is_sous_traitant:
        base = b.avance_part_ht if b.autoliquidation else b.avance_part_ht * (ONE + t)
    else:
        base = b.avance_part_ht * (ONE + t) + sum(
            (s.avance_part_ht * t for s in beneficiaries if s.contractor_key == b.key and s.autoliquidation), ZERO
        )
    if not b.takes_avance:
        return Explained.zero(
            f"Avance ({b.name})",
            "le sous-traitant ne demande pas son avance (R2193-19 : elle ne lui est versée qu'à sa demande) ; "
            "sa part n'ouvre pas d'avance à son entrepreneur principal pour autant (R2193-18)",
        )
    amount = avance_amount(terms.avance.rate, base, terms.duration_months, b.name)
    lines = amount.lines
    if b.initial_part_ht is not None and b.initial_part_ht != b.part_ht:
        # Issue 16: an avenant changed the part; the advance stays on the part as signed.
        lines = (*lines, Line(
            f"Avance ({b.name}) : sur la part initiale",
            "calculée sur la part du marché initial, hors avenants : une modification du marché ne change pas "
            "l'avance (code de la commande publique, R2191-7 et R2191-10)",
            (("part initiale HT", b.initial_part_ht), ("part modifiée par avenant HT", b.part_ht)),
            amount.value))
    direct = [s for s in beneficiaries if s.contractor_key == b.key]
    if b.is_sous_traitant or not direct or terms.avance.rate == 0:
        return Explained(amount.value, tuple(lines))
    # R2193-18: the contractor's advance is on its part less the parts paid directly to its sous-traitants; say so.
    paid_directly = sum((s.avance_part_ht for s in direct), ZERO)
    part_line = Line(
        f"Part ouvrant droit à l'avance ({b.name})",
        "montant HT de sa part − parts payées directement à ses sous-traitants (R2193-18), qu'ils prennent leur "
        "avance ou non",
        (
            ("montant HT de sa part, sous-traitance comprise", b.avance_part_ht + paid_directly),
            *((f"part payée directement à {s.name}", s.avance_part_ht) for s in direct),
        ),
        b.avance_part_ht,
    )
    return Explained(amount.value, (part_line, *lines))


@exact
def compute_etat_acompte(
    terms: MarcheTerms,
    beneficiaries: Sequence[Beneficiary],
    decompte: DecompteMensuel,
    previous: CumulState | EtatAcompte | None = None,
    index: IndexTable | None = None,
    *,
    final: bool = False,
) -> EtatAcompte:
    """Compute état d'acompte n from décompte n and the previous état (None for the first).

    `final`: the état of the décompte général (see `dgd.compute_dgd`): the advance is repaid in full and the revision
    must rest on definitive indexes.
    """
    beneficiaries = tuple(beneficiaries)
    check_beneficiaries(terms, beneficiaries)
    prev = previous.cumuls() if isinstance(previous, EtatAcompte) else previous
    _check_sequence(beneficiaries, decompte, prev)
    if terms.revision is not None and index is None:
        raise MoneyError(
            f"Le marché est révisable sur l'indice {terms.revision.index} : la table de ses valeurs est nécessaire.",
            field="index",
        )
    by_key = {b.key: b for b in beneficiaries}
    sts_of: dict[BeneficiaryKey, list[Beneficiary]] = {b.key: [] for b in beneficiaries}
    for b in beneficiaries:
        if b.is_sous_traitant:
            sts_of[b.contractor_key].append(b)

    def previous_of(key: BeneficiaryKey) -> Figures:
        return prev.of(key) if prev else Figures()

    # 1. HT figures to date, revision included.
    ht: dict[BeneficiaryKey, _Ht] = {}
    history: list[RevisionLine] = []
    for b in beneficiaries:
        part = decompte.part(b.key)
        ht[b.key] = _ht_figures(terms, b, part, previous_of(b.key), prev, decompte, index, final)
        if ht[b.key].revision is not None:
            history.extend(ht[b.key].revision.history)

    # 2. VAT: on the whole works; a reverse-charged sous-traitant's VAT is on its contractor's line.
    vat = {b.key: _vat(terms, b, ht, sts_of) for b in beneficiaries}

    # 3. Retenue per part.
    retenue: dict[BeneficiaryKey, Explained] = {}
    for b in beneficiaries:
        if b.is_sous_traitant:
            continue
        members = [_retenue_member(x, ht) for x in (b, *sts_of[b.key])]
        retenue.update(retenue_of_part(terms.retenue, terms.tva_rate, members[0], members[1:], decompte.month))

    # 4. Penalties (marché-wide exemption threshold).
    penalties = penalties_to_date(terms.penalties, terms.montant_ht, decompte.penalties, by_key)

    # 5. Per beneficiary columns.
    marche_works = sum((h.works.value for h in ht.values()), ZERO)
    etats: list[BeneficiaryEtat] = []
    for b in beneficiaries:
        etats.append(
            _beneficiary_etat(
                terms, beneficiaries, b, ht, vat, retenue, penalties, previous_of(b.key), decompte, final, marche_works
            )
        )

    # 6. The marché: sums of the beneficiaries' rounded lines.
    marche = _sum_columns("du marché", etats)
    payables = _payables(beneficiaries, etats)
    corrections = _corrections(decompte, by_key)
    # 7. What is still to execute after this état (issue 16), per beneficiary and for the marché.
    etats = [replace(e, remaining=_remaining(by_key[e.key], e.columns.works_ht.to_date)) for e in etats]
    remaining = Explained.of(Line(
        "Reste à exécuter du marché après cet état",
        "somme des restes à exécuter des bénéficiaires = montant HT du marché (modifié par avenant le cas échéant) "
        "− travaux HT aux prix de base cumulés",
        tuple((e.name, e.remaining.value) for e in etats),
        sum((e.remaining.value for e in etats), ZERO),
    ))
    return EtatAcompte(
        decompte.number, decompte.month, final, marche, tuple(etats), payables, corrections, tuple(history), remaining
    )


def _remaining(b: Beneficiary, works_to_date: Decimal) -> Explained:
    """b's part (as modified by the avenants) less its works at base prices to date; negative: works beyond it."""
    value = b.part_ht - works_to_date
    lines = [Line(
        f"Reste à exécuter ({b.name})",
        "part HT du marché (modifiée par avenant le cas échéant) − travaux HT aux prix de base cumulés",
        (("part HT", b.part_ht), ("travaux cumulés", works_to_date)),
        value,
    )]
    if value < 0:
        lines.append(Line(f"Reste à exécuter ({b.name})", "travaux au-delà de la part : un avenant est à prévoir", (),
                          value))
    return Explained(value, tuple(lines))


def _check_sequence(beneficiaries: Sequence[Beneficiary], decompte: DecompteMensuel, prev: CumulState | None) -> None:
    keys = {b.key for b in beneficiaries}
    parts = {p.key for p in decompte.parts}
    if parts != keys:
        missing = [str(k) for k in keys - parts]
        extra = [str(k) for k in parts - keys]
        details = []
        if missing:
            details.append(f"manquant(s) : {', '.join(missing)}")
        if extra:
            details.append(f"inconnu(s) : {', '.join(extra)}")
        raise MoneyError(
            "Le décompte doit donner le cumul de chaque bénéficiaire (" + " ; ".join(details) + ").", field="parts"
        )
    for claim in decompte.claimed:
        if claim.key not in keys:
            raise MoneyError(f"Projet de décompte d'un bénéficiaire inconnu ({claim.key}).", field="claimed")
    if prev is None:
        return
    gone = [k for k in prev.keys() if k not in keys]
    if gone:
        raise MoneyError(
            f"Le bénéficiaire {gone[0]} figurait à l'état précédent : il ne peut disparaître du décompte.",
            field="parts",
        )
    if decompte.number <= prev.number:
        raise MoneyError(f"L'état n° {decompte.number} doit suivre l'état précédent n° {prev.number}.", field="number")
    if decompte.month < prev.month:
        raise MoneyError(
            f"Le décompte {of_month_fr(decompte.month)} ne peut précéder l'état précédent ({month_fr(prev.month)}).",
            field="month",
        )


def _ht_figures(
    terms: MarcheTerms,
    b: Beneficiary,
    part: PartDecompte,
    prev: Figures,
    state: CumulState | None,
    decompte: DecompteMensuel,
    index: IndexTable | None,
    final: bool,
) -> _Ht:
    works_value = part.works_ht
    if works_value < 0:
        raise MoneyError(
            f"{b.name} : les réfactions ({fmt_euros(part.refactions)}) dépassent ses travaux et approvisionnements "
            f"({fmt_euros(part.travaux + part.approvisionnements)}).",
            field="refactions",
        )
    works = Explained.of(
        Line(
            f"Travaux HT aux prix de base, cumul à ce jour ({b.name})",
            "travaux + approvisionnements − réfactions, sommes admises par le maître d'œuvre",
            (
                ("travaux", part.travaux),
                ("approvisionnements", part.approvisionnements),
                ("réfactions", part.refactions),
            ),
            works_value,
        )
    )
    primes = Explained.of(
        Line(f"Primes, cumul à ce jour ({b.name})", "primes admises (soumises à la TVA, non révisées)", (), part.primes)
    )
    debours = Explained.of(
        Line(
            f"Débours, cumul à ce jour ({b.name})",
            "débours admis, remboursés à l'euro : hors TVA, hors révision, hors retenue",
            (),
            part.debours,
        )
    )
    if terms.revision is None:
        no_revision = Explained.zero(f"Révision ({b.name})", "prix fermes : pas de révision")
        return _Ht(works, None, no_revision, primes, debours)
    previous_lines = [line for line in (state.revision_lines if state else ()) if line.key == b.key]
    recorded = cumulative_revision(terms.revision, previous_lines).value
    if recorded != prev.revision:
        raise MoneyError(
            f"État précédent incohérent pour {b.name} : révision cumulée {fmt_euros(prev.revision)}, lignes "
            f"mensuelles {fmt_euros(recorded)}.",
            field="previous",
        )
    result = revise(
        terms.revision,
        index,
        b.key,
        decompte.month,
        works_value - prev.works_ht,
        previous_lines,
        require_definitive=final,
    )
    return _Ht(works, result, result.to_date, primes, debours)


def _vat(
    terms: MarcheTerms, b: Beneficiary, ht: Mapping[BeneficiaryKey, _Ht], sts_of: Mapping[BeneficiaryKey, list]
) -> Explained:
    t = terms.tva_rate
    parts: list[tuple[str, Explained]] = []
    if b.autoliquidation:
        parts.append(
            (
                "TVA propre",
                Explained.zero(
                    f"TVA sur ses travaux ({b.name})",
                    "autoliquidation : le sous-traitant est payé hors TVA, son entrepreneur principal déclare la TVA",
                ),
            )
        )
    else:
        base = ht[b.key].vat_base
        parts.append(
            (
                "TVA sur ses travaux",
                Explained.of(
                    Line(
                        f"TVA sur ses travaux ({b.name})",
                        "taux de TVA × (travaux aux prix de base + révision + primes), cumul, arrondi au centime",
                        (("taux de TVA", t), ("base HT", base)),
                        cent(t * base),
                    )
                ),
            )
        )
    for st in sts_of.get(b.key, ()):
        if not st.autoliquidation:
            continue
        base = ht[st.key].vat_base
        parts.append(
            (
                f"TVA autoliquidée sur les travaux du sous-traitant {st.name}",
                Explained.of(
                    Line(
                        f"TVA autoliquidée sur les travaux du sous-traitant {st.name}",
                        "taux de TVA × (travaux + révision + primes du sous-traitant) : l'entrepreneur principal "
                        "facture et reverse cette TVA",
                        (("taux de TVA", t), ("base HT du sous-traitant", base)),
                        cent(t * base),
                    )
                ),
            )
        )
    return _sum(f"TVA, cumul à ce jour ({b.name})", parts)


def _sum(label: str, parts: Sequence[tuple[str, Explained]]) -> Explained:
    total = sum((value.value for _, value in parts), ZERO)
    lines = [line for _, value in parts for line in value.lines]
    if len(parts) > 1:
        lines.append(Line(label, " + ".join(name for name, _ in parts), tuple((n, v.value) for n, v in parts), total))
    return Explained(total, tuple(lines))


def _retenue_member(b: Beneficiary, ht: Mapping[BeneficiaryKey, _Ht]) -> RetenueMember:
    figures = ht[b.key]
    return RetenueMember(b.key, b.name, figures.works.value, figures.revision_to_date.value, b.autoliquidation)


def _beneficiary_etat(
    terms: MarcheTerms,
    beneficiaries: Sequence[Beneficiary],
    b: Beneficiary,
    ht: Mapping[BeneficiaryKey, _Ht],
    vat: Mapping[BeneficiaryKey, Explained],
    retenue: Mapping[BeneficiaryKey, Explained],
    penalties: Mapping[BeneficiaryKey, Explained],
    prev: Figures,
    decompte: DecompteMensuel,
    final: bool,
    marche_works: Decimal,
) -> BeneficiaryEtat:
    h = ht[b.key]
    avance = avance_of(terms, beneficiaries, b)
    paid = decompte.avance_paid or prev.avance_paid > 0
    avance_paid = Explained.of(
        Line(
            f"Avance versée ({b.name})",
            "avance de la part, versée par un paiement distinct (jamais comprise dans le montant dû)"
            if paid
            else "avance pas encore versée",
            (("avance de la part", avance.value),),
            avance.value if paid else ZERO,
        )
    )
    ttc = _sum(
        f"Montant TTC, cumul à ce jour ({b.name})",
        [
            ("travaux aux prix de base", h.works),
            ("révision", h.revision_to_date),
            ("primes", h.primes),
            ("TVA", vat[b.key]),
            ("débours", h.debours),
        ],
    )
    ttc = Explained(ttc.value, ttc.lines[-1:])  # the parts are explained in their own columns
    repayment = _repayment(terms, b, h, avance_paid.value, decompte.month, final, marche_works)
    deducted = _sum(
        f"Total des déductions, cumul à ce jour ({b.name})",
        [
            ("retenue de garantie", retenue[b.key]),
            ("remboursement de l'avance", repayment),
            ("pénalités", penalties[b.key]),
        ],
    )
    deducted = Explained(deducted.value, deducted.lines[-1:])
    due_value = ttc.value - deducted.value
    due = Explained.of(
        Line(
            f"Montant dû, cumul à ce jour ({b.name})",
            "montant TTC − total des déductions",
            (("montant TTC", ttc.value), ("total des déductions", deducted.value)),
            due_value,
        )
    )
    if b.is_sous_traitant:
        _check_dc4(terms, b, h, ttc.value)
    revision_extra = h.revision.detail if h.revision is not None else ()
    columns = Columns(
        avance_paid=_column("avance_paid", avance_paid, prev.avance_paid),
        works_ht=_column("works_ht", h.works, prev.works_ht),
        revision=_column("revision", h.revision_to_date, prev.revision, revision_extra),
        primes=_column("primes", h.primes, prev.primes),
        debours=_column("debours", h.debours, prev.debours),
        vat=_column("vat", vat[b.key], prev.vat),
        ttc=_column("ttc", ttc, prev.ttc),
        retenue=_column("retenue", retenue[b.key], prev.retenue),
        avance_repayment=_column("avance_repayment", repayment, prev.avance_repayment),
        penalties=_column("penalties", penalties[b.key], prev.penalties),
        total_deducted=_column("total_deducted", deducted, prev.total_deducted),
        amount_due=_column("amount_due", due, prev.amount_due),
    )
    return BeneficiaryEtat(b.key, b.name, b.role, payee_of(terms, beneficiaries, b), columns, avance)


def _repayment(
    terms: MarcheTerms, b: Beneficiary, h: _Ht, avance_paid: Decimal, month: str, final: bool, marche_works: Decimal
) -> Explained:
    """The cumulative advance repayment at the marché's pace (see `advance`): fixed amounts for a beneficiary the
    marché gives a schedule of amounts, else the linear schedule on its own part's or the whole marché's execution."""
    settings = terms.avance
    fixed = settings.fixed_of(b.key)
    if fixed:
        return fixed_repayment_target(avance_paid, fixed, month, final=final, who=b.name)
    if settings.basis is RepaymentBasis.WHOLE_MARCHE:
        return repayment_target(
            avance_paid, marche_works, terms.montant_ht, settings.schedule, final=final, who=b.name, whole_marche=True
        )
    return repayment_target(avance_paid, h.works.value, b.part_ht, settings.schedule, final=final, who=b.name)


def _check_dc4(terms: MarcheTerms, b: Beneficiary, h: _Ht, ttc: Decimal) -> None:
    # The sous-traitant's own acte spécial says whether its ceiling includes the revision; else the marché's default.
    base = b.dc4_ceiling_base if b.dc4_ceiling_base is not None else terms.dc4_ceiling_base
    if base is Dc4CeilingBase.TTC_INCLUDING_REVISION:
        amount = ttc
        includes = True
    else:
        vat_factor = ONE if b.autoliquidation else ONE + terms.tva_rate
        amount = (h.works.value + h.primes.value) * vat_factor + h.debours.value
        includes = False
    check_dc4_ceiling(b.name, amount, b.dc4_ceiling_ttc, includes)


def _sum_columns(who: str, etats: Sequence[BeneficiaryEtat]) -> Columns:
    columns = {}
    for name in COLUMNS:
        per = [(e.name, getattr(e.columns, name)) for e in etats]
        label = COLUMN_LABELS[name]
        to_date = sum((c.to_date for _, c in per), ZERO)
        previous = sum((c.previous for _, c in per), ZERO)
        this = to_date - previous
        lines = (
            Line(
                f"{label} {who}, cumul à ce jour",
                "somme des montants des bénéficiaires",
                tuple((n, c.to_date) for n, c in per),
                to_date,
            ),
            Line(
                f"{label} {who} : ce mois",
                "somme des montants du mois des bénéficiaires",
                tuple((n, c.this) for n, c in per),
                this,
            ),
        )
        columns[name] = Column(name, label, to_date, previous, this, lines)
    return Columns(**columns)


def _payables(beneficiaries: Sequence[Beneficiary], etats: Sequence[BeneficiaryEtat]) -> tuple[Payable, ...]:
    names = {b.key: b.name for b in beneficiaries}
    payees: list[BeneficiaryKey] = []
    for e in etats:
        if e.payee_key not in payees:
            payees.append(e.payee_key)
    result = []
    for payee in payees:
        received = [e for e in etats if e.payee_key == payee]
        to_date = sum((e.columns.amount_due.to_date for e in received), ZERO)
        previous = sum((e.columns.amount_due.previous for e in received), ZERO)
        this = to_date - previous
        words = "montant dû de ce mois"
        if len(received) > 1:
            words = "somme des montants dus de ce mois (groupement payé au mandataire)"
        lines = [
            Line(
                f"Montant à payer ({names[payee]})",
                words,
                tuple((e.name, e.columns.amount_due.this) for e in received),
                this,
            )
        ]
        if this < 0:
            lines.append(
                Line(
                    f"Montant à payer ({names[payee]})",
                    "montant négatif : trop-perçu à reverser ou à imputer sur le prochain acompte",
                    (),
                    this,
                )
            )
        result.append(Payable(payee, names[payee], to_date, previous, this, tuple(lines)))
    return tuple(result)


def _corrections(decompte: DecompteMensuel, by_key: Mapping[BeneficiaryKey, Beneficiary]) -> tuple[Correction, ...]:
    result = []
    for claim in decompte.claimed:
        admitted = decompte.part(claim.key)
        for name in AMOUNT_FIELDS:
            claimed_value, admitted_value = getattr(claim, name), getattr(admitted, name)
            if claimed_value != admitted_value:
                result.append(
                    Correction(
                        claim.key, by_key[claim.key].name, name, AMOUNT_LABELS[name], claimed_value, admitted_value
                    )
                )
    return tuple(result)


def etats_total(etats: Iterable[EtatAcompte], key: BeneficiaryKey | None = None, column: str = "amount_due") -> Decimal:
    """Σ of the "this acompte" figures of a column over several états (the marché's, or one beneficiary's)."""
    total = ZERO
    for etat in etats:
        columns = etat.marche if key is None else etat.beneficiary(key).columns
        total += getattr(columns, column).this
    return total
