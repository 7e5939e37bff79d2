"""What the « Retenue et avance » page of a marché shows, as one structure may see it.

Every figure is the engine's (`engine.avance_of` on the adapter's terms and beneficiaries, with its explanation
lines): the page never computes money of its own. A company sees the beneficiaries whose amounts it may read
(`MarcheAccess.sees_amount`: the MOA, the MOE and the holder see all; a sous-traitant its own), and the marché-wide
pace of the repayment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chorus_chain import graph
from chorus_chain.domain import money as engine
from chorus_chain.domain.money.rounding import fmt_number
from chorus_chain.models import AvanceRepaymentAmount, MarcheParty, RetenueGuarantee, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import money as adapter
from chorus_chain.operations.marches import MarcheAccess
from chorus_chain.operations.money_clauses import fixed_rows, guarantee_rows
from chorus_chain.operations.money_clauses.avance import BASES
from chorus_chain.operations.money_clauses.guarantees import KIND_LABELS


@dataclass
class BeneficiaryClauses:
    row: MarcheParty
    beneficiary: engine.Beneficiary
    avance: engine.Explained
    guarantees: list[RetenueGuarantee] = field(default_factory=list)
    fixed: list[AvanceRepaymentAmount] = field(default_factory=list)
    may_decline: bool = False  # the sous-traitant itself, or the MOA, may say whether it takes its advance
    # The advance's explanation names the sous-traitants paid directly (R2193-18): shown only to a structure that sees
    # every company below this beneficiary (a co-traitant reads the mandataire's part, never its sous-traitants).
    explained: bool = True

    @property
    def is_sous_traitant(self) -> bool:
        return self.beneficiary.is_sous_traitant

    @property
    def schedule_text(self) -> str:
        return "\n".join(f"{r.month} : {fmt_number(r.amount)}" for r in self.fixed)


@dataclass
class ClausesPage:
    beneficiaries: list[BeneficiaryClauses]
    pace: str
    refusal: str | None = None  # the adapter's French refusal (the chain's parts do not add up yet)

    @property
    def guarantees(self) -> list[tuple[BeneficiaryClauses, RetenueGuarantee]]:
        return [(b, g) for b in self.beneficiaries for g in b.guarantees]


def _percent(value) -> str:
    """65.00 → "65", 72.50 → "72,5" (a percentage as people write it)."""
    value = Decimal(value)
    return fmt_number(value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize())


def pace_label(marche) -> str:
    start, end = _percent(marche.avance_repayment_start), _percent(marche.avance_repayment_end)
    return f"linéaire de {start} % à {end} % d'exécution, {BASES[marche.avance_repayment_basis]}"


def clauses_page(access: MarcheAccess, structure: Structure) -> ClausesPage:
    marche = access.marche
    pace = pace_label(marche)
    try:
        beneficiaries = adapter.beneficiaries_of(marche)
        terms = adapter.terms_of(marche, beneficiaries)
    except OperationError as error:
        return ClausesPage([], pace, refusal=error.message)
    guarantees = guarantee_rows(marche)
    fixed = fixed_rows(marche)
    by_id = {row.id: row for row in access.rows}
    shown = []
    for b in beneficiaries:
        row = by_id[b.key]
        if b.key not in access.visible or not access.sees_amount(row):
            continue
        shown.append(BeneficiaryClauses(
            row=row, beneficiary=b, avance=engine.avance_of(terms, beneficiaries, b),
            guarantees=[g for g in guarantees if g.party_id == b.key],
            fixed=[f for f in fixed if f.party_id == b.key],
            may_decline=b.is_sous_traitant and (access.is_moa or row.structure_id == structure.id),
            explained=all(child.id in access.visible for child in access.rows if child.parent_id == row.id)))
    return ClausesPage(shown, pace)


ROLE_LABELS = graph.ROLE_LABELS
__all__ = ["KIND_LABELS", "ROLE_LABELS", "BeneficiaryClauses", "ClausesPage", "clauses_page", "pace_label"]
