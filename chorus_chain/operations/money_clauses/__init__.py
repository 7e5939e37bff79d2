"""The marché's money clauses that real contracts set per company (issue 16, part B), read for the engine.

- a guarantee replacing the retenue of one beneficiary, from its date, for an amount (`RetenueGuarantee`);
- a sous-traitant declining its advance (`MarcheParty.avance_declined`, R2193-19);
- the pace of the advance repayment: start and end percentages, own part or whole marché, or fixed amounts by month
  (`Marche.avance_repayment_*`, `AvanceRepaymentAmount`).

This module only reads (the money adapter `operations.money` calls it, so it must not import it); the changes,
journalled as `MarcheEvent`s, are in `guarantees` and `avance`; what the page shows in `page`.
"""
from __future__ import annotations

from sqlalchemy import select

from chorus_chain.domain import money as engine
from chorus_chain.extensions import db
from chorus_chain.models import AvanceRepaymentAmount, Marche, RetenueGuarantee
from chorus_chain.operations import chain as chain_ops


def guarantee_rows(marche: Marche) -> list[RetenueGuarantee]:
    return list(db.session.scalars(select(RetenueGuarantee).where(RetenueGuarantee.marche_id == marche.id)
                                   .order_by(RetenueGuarantee.given_on, RetenueGuarantee.id)))


def fixed_rows(marche: Marche) -> list[AvanceRepaymentAmount]:
    return list(db.session.scalars(select(AvanceRepaymentAmount).where(AvanceRepaymentAmount.marche_id == marche.id)
                                   .order_by(AvanceRepaymentAmount.party_id, AvanceRepaymentAmount.month)))


def guarantees_of(marche: Marche) -> tuple[engine.Guarantee, ...]:
    """The engine's guarantees: keyed by the party row they cover (the beneficiaries' keys). A marché not stored
    yet (being checked before its first flush) has none."""
    if marche.id is None:
        return ()
    return tuple(engine.Guarantee(row.party_id, row.kind, row.given_on, row.amount)
                 for row in guarantee_rows(marche))


def fixed_repayments_of(marche: Marche) -> tuple[engine.FixedRepayment, ...]:
    if marche.id is None:
        return ()
    return tuple(engine.FixedRepayment(row.party_id, row.month, row.amount) for row in fixed_rows(marche))


def avance_declined_keys(marche: Marche) -> set[int]:
    """The sous-traitants that declined their advance (read from the chain's rows: no query of its own)."""
    return {row.id for row in chain_ops.rows_of(marche) if row.avance_declined}
