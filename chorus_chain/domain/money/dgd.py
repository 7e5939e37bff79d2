"""End of contract: the décompte général et définitif (DGD), its balance and the release of the retenue.

Why (CHORUS.md §6.5, §5 "Retenue de garantie"): at the end, the sum of what was paid plus the balance must equal the
DGD to the cent, the advance must be fully repaid, and the retenue is released after the guarantee period (or the
guarantee that replaced it is released then).

The balance is the final état computed by the same engine (`compute_etat_acompte(..., final=True)`): cumulative
figures of the décompte final, minus the last état's. So, per beneficiary and for the marché, by construction:

    avance versée + Σ acomptes + solde + retenue restituée = montant du DGD (= montant TTC − pénalités)

The advance is repaid in full in the balance whatever the execution reached; every revised month must rest on
definitive indexes (a provisional index is an error at this stage). The release date is the réception date plus the
guarantee period (one year by default, the délai de garantie of the CCAG Travaux); whether reservations remain, and
the tacit procedure (A22/A23), are status matters handled elsewhere.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chorus_chain.domain.money.etat_acompte import (
    Beneficiary,
    CumulState,
    DecompteMensuel,
    EtatAcompte,
    MarcheTerms,
    compute_etat_acompte,
)
from chorus_chain.domain.money.index_table import IndexTable
from chorus_chain.domain.money.rounding import (
    ZERO,
    BeneficiaryKey,
    Line,
    MoneyError,
    exact,
    fmt_date,
    require_int,
)

GUARANTEE_PERIOD_MONTHS = 12
"""Délai de garantie: one year from the réception (CCAG Travaux), a marché setting."""


def add_months(day: date, months: int) -> date:
    """`day` plus whole months; the 29 February + 12 months is the 28 February."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class RetenueRelease:
    """What happens to one beneficiary's retenue at the end of the guarantee period."""

    amount: Decimal
    release_date: date
    replaced_by_guarantee: bool
    line: Line


@dataclass(frozen=True)
class DgdFigures:
    """The reconciliation of one beneficiary (or of the marché)."""

    key: BeneficiaryKey | None
    name: str
    montant_dgd: Decimal
    avance: Decimal
    acomptes: Decimal
    solde: Decimal
    retenue: RetenueRelease
    lines: tuple[Line, ...]

    @property
    def reconciles(self) -> bool:
        return self.avance + self.acomptes + self.solde + self.retenue.amount == self.montant_dgd

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "montant_dgd": format(self.montant_dgd, "f"),
            "avance": format(self.avance, "f"),
            "acomptes": format(self.acomptes, "f"),
            "solde": format(self.solde, "f"),
            "retenue": format(self.retenue.amount, "f"),
            "retenue_release_date": self.retenue.release_date.isoformat(),
            "retenue_replaced_by_guarantee": self.retenue.replaced_by_guarantee,
            "lines": [line.to_dict() for line in self.lines],
        }


@dataclass(frozen=True)
class Dgd:
    """The décompte général et définitif: the final état (the balance, per payee in `etat.payables`), the
    reconciliation per beneficiary and for the marché, and the release date of the retenue."""

    etat: EtatAcompte
    reception: date
    release_date: date
    beneficiaries: tuple[DgdFigures, ...]
    marche: DgdFigures

    def beneficiary(self, key: BeneficiaryKey) -> DgdFigures:
        return next(b for b in self.beneficiaries if b.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.etat.to_dict(),
            "reception": self.reception.isoformat(),
            "retenue_release_date": self.release_date.isoformat(),
            "dgd": {
                "marche": self.marche.to_dict(),
                "beneficiaries": [b.to_dict() for b in self.beneficiaries],
            },
        }


@exact
def compute_dgd(
    terms: MarcheTerms,
    beneficiaries: Sequence[Beneficiary],
    decompte_final: DecompteMensuel,
    previous: CumulState | EtatAcompte | None,
    index: IndexTable | None = None,
    *,
    reception: date,
    guarantee_months: int = GUARANTEE_PERIOD_MONTHS,
) -> Dgd:
    """The DGD from the décompte final (cumulative figures as finally admitted) and the last état d'acompte."""
    require_int(guarantee_months, "guarantee_months")
    if guarantee_months < 0:
        raise MoneyError("Le délai de garantie ne peut être négatif.", field="guarantee_months")
    etat = compute_etat_acompte(terms, beneficiaries, decompte_final, previous, index, final=True)
    release_date = add_months(reception, guarantee_months)
    rows = []
    for b in etat.beneficiaries:
        c = b.columns
        replaced = b.key in terms.retenue.replaced or any(
            g.amount is None for g in terms.retenue.guarantees_of(b.key, decompte_final.month)
        )
        rows.append(
            _figures(
                b.key,
                b.name,
                ttc=c.ttc.to_date,
                penalties=c.penalties.to_date,
                avance=c.avance_paid.to_date,
                acomptes=c.amount_due.previous,
                solde=c.amount_due.this,
                retenue=c.retenue.to_date,
                replaced=replaced,
                release_date=release_date,
            )
        )
    m = etat.marche
    marche = _figures(
        None,
        "marché",
        ttc=m.ttc.to_date,
        penalties=m.penalties.to_date,
        avance=m.avance_paid.to_date,
        acomptes=m.amount_due.previous,
        solde=m.amount_due.this,
        retenue=m.retenue.to_date,
        replaced=False,
        release_date=release_date,
    )
    for row in (*rows, marche):
        if not row.reconciles:  # cannot happen by construction; refuse rather than publish a wrong DGD
            raise MoneyError(f"Le décompte général de {row.name} ne se réconcilie pas au centime.")
    return Dgd(etat, reception, release_date, tuple(rows), marche)


def _figures(
    key: BeneficiaryKey | None,
    name: str,
    *,
    ttc: Decimal,
    penalties: Decimal,
    avance: Decimal,
    acomptes: Decimal,
    solde: Decimal,
    retenue: Decimal,
    replaced: bool,
    release_date: date,
) -> DgdFigures:
    montant = ttc - penalties
    dgd_line = Line(
        f"Montant du décompte général et définitif ({name})",
        "montant TTC du marché exécuté (travaux, révision, primes, TVA, débours) − pénalités",
        (("montant TTC", ttc), ("pénalités", penalties)),
        montant,
    )
    if replaced:
        release = RetenueRelease(
            ZERO,
            release_date,
            True,
            Line(
                f"Retenue de garantie ({name})",
                f"remplacée par une garantie à première demande, libérée le {fmt_date(release_date)} "
                "si aucune réserve ne subsiste",
                (),
                ZERO,
            ),
        )
    else:
        release = RetenueRelease(
            retenue,
            release_date,
            False,
            Line(
                f"Retenue de garantie à restituer ({name})",
                f"retenue cumulée, restituée le {fmt_date(release_date)} (réception + délai de garantie) si aucune "
                "réserve ne subsiste",
                (("retenue cumulée", retenue),),
                retenue,
            ),
        )
    solde_words = "montant dû cumulé final − acomptes déjà versés"
    if solde < 0:
        solde_words += " (négatif : trop-perçu à reverser par l'entreprise)"
    solde_line = Line(
        f"Solde du marché ({name})",
        solde_words,
        (("acomptes versés", acomptes),),
        solde,
    )
    reconciliation = Line(
        f"Réconciliation ({name})",
        "avance versée + acomptes versés + solde + retenue restituée = montant du décompte général et définitif",
        (("avance versée", avance), ("acomptes versés", acomptes), ("solde", solde), ("retenue", release.amount)),
        avance + acomptes + solde + release.amount,
    )
    return DgdFigures(
        key, name, montant, avance, acomptes, solde, release, (dgd_line, solde_line, release.line, reconciliation)
    )
