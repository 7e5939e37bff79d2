"""The advance clauses set on the marché's page: a sous-traitant declining its advance, and the pace of the
repayment (CHORUS.md §6b; the engine: `domain.money.advance`).

- **Declining** (R2193-19: a sous-traitant in paiement direct is paid its advance only at its request): recorded by
  the sous-traitant itself or by the maître d'ouvrage; its advance is then 0, and its contractor gets none on its part
  either (R2193-18: the titulaire's advance is on the marché less the parts paid directly to sous-traitants). Once an
  état d'acompte is issued, its advance is in the cumulative figures: the choice is closed (a change would move money
  already paid).
- **Pace** (R2191-11, "selon un rythme et des modalités fixés par le marché"), set by the maître d'ouvrage: the
  linear schedule's start (at the latest 65 % executed) and end, and whether it follows each beneficiary's own part
  or the whole marché; or, for one beneficiary, fixed amounts by month of décompte (never more than its advance).
Every refusal is French and changes nothing; every change is a `MarcheEvent`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, select

from chorus_chain import graph
from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import money as engine
from chorus_chain.domain.money.rounding import fmt_euros, fmt_number
from chorus_chain.extensions import db
from chorus_chain.models import Account, AvanceRepaymentAmount, Structure
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations import money as adapter
from chorus_chain.operations.marches import MarcheAccess, record
from chorus_chain.operations.money_clauses.guarantees import beneficiary

BASES = {"own_part": "selon l'exécution de la part de chaque bénéficiaire",
         "whole_marche": "selon l'exécution de l'ensemble du marché"}
_LINE = re.compile(r"^\s*(\d{4}-\d{2})\s*[:;=]\s*(.+?)\s*$")


def _issued_etat(marche_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(EtatAcompte.marche_id == marche_id,
                                                        EtatAcompte.status != "draft"))))


def set_avance_declined(account: Account, structure: Structure, access: MarcheAccess, party_id: int,
                        declined: bool, *, now: datetime) -> bool:
    """The sous-traitant (or the MOA for it) declines its advance, or asks for it again. Returns the new value."""
    row = access.row(party_id)
    if row is None or row.role != graph.Role.SOUS_TRAITANT:
        raise OperationError("Seul un sous-traitant payé directement peut refuser son avance.", field="party_id")
    if not (access.is_moa or row.structure_id == structure.id):
        raise OperationError("Seuls le sous-traitant et le maître d'ouvrage indiquent si le sous-traitant demande "
                             "son avance.")
    b = beneficiary(access, party_id)
    if not b.is_sous_traitant:
        raise OperationError("Seul un sous-traitant payé directement peut refuser son avance.", field="party_id")
    if Decimal(access.marche.avance_rate) == 0:
        raise OperationError("Le marché ne prévoit pas d'avance.")
    if row.avance_declined == declined:
        return declined
    if _issued_etat(access.marche.id):
        raise OperationError("Un état d'acompte est déjà émis : l'avance de chacun y est comptée, elle ne peut plus "
                             "être demandée ou refusée.")
    row.avance_declined = declined
    access.marche.version += 1  # the chain's cached rows carry the choice
    db.session.flush()
    record(access.marche, "avance.declined" if declined else "avance.requested", account=account,
           structure=structure, party=row)
    return declined


def set_pace(account: Account, structure: Structure, access: MarcheAccess, raw: Mapping[str, Any], *,
             now: datetime) -> None:
    if not access.is_moa:
        raise OperationError("Seul le maître d'ouvrage fixe le rythme du remboursement de l'avance.")
    marche = access.marche
    basis = raw.get("basis")
    if basis not in BASES:
        raise OperationError("Choisissez si le remboursement suit l'exécution de la part de chacun ou celle de tout "
                             "le marché.", field="basis")
    start = marche_ops.parse_decimal(raw.get("start"), "start")
    end = marche_ops.parse_decimal(raw.get("end"), "end")
    if end <= start:
        raise OperationError(f"La fin du remboursement ({fmt_number(end)} %) ne peut pas précéder ni égaler "
                             f"son début ({fmt_number(start)} %).", field="end")
    if start > 65:
        raise OperationError("Le remboursement de l'avance commence au plus tard à 65 % d'exécution.", field="start")
    if not Decimal(65) < end <= Decimal(100):
        raise OperationError("Le remboursement de l'avance s'achève entre 65 % (exclu) et 100 % d'exécution.",
                             field="end")
    previous = dict(basis=marche.avance_repayment_basis, start=marche.avance_repayment_start,
                    end=marche.avance_repayment_end)
    marche.avance_repayment_basis, marche.avance_repayment_start, marche.avance_repayment_end = basis, start, end
    db.session.flush()
    record(marche, "avance.pace", account=account, structure=structure, basis=basis, start=start, end=end,
           previous={k: str(v) for k, v in previous.items()})


def parse_schedule(text: str) -> list[tuple[str, Decimal]]:
    """Lines "AAAA-MM : montant" (one a month), in French ("2026-05 : 5 000,00")."""
    rows: list[tuple[str, Decimal]] = []
    for number, line in enumerate(str(text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise OperationError(f"Ligne {number} : écrivez « AAAA-MM : montant », par exemple « 2026-05 : "
                                 "5 000,00 ».", field="schedule")
        month, amount_text = match.groups()
        problem = date_rules.month_problem(month) if 1 <= int(month[5:]) <= 12 else "Ce mois n'est pas valide."
        if problem:
            raise OperationError(f"Ligne {number} : {problem}", field="schedule")
        try:
            amount = marche_ops.parse_decimal(amount_text, "schedule")
        except OperationError as error:
            raise OperationError(f"Ligne {number} : {error.message}", field="schedule") from None
        if amount <= 0:
            raise OperationError(f"Ligne {number} : le montant doit être positif.", field="schedule")
        if any(m == month for m, _ in rows):
            raise OperationError(f"Ligne {number} : le mois {month} figure deux fois.", field="schedule")
        rows.append((month, amount))
    return sorted(rows)


def set_fixed_amounts(account: Account, structure: Structure, access: MarcheAccess, party_id: Any, text: str, *,
                      now: datetime) -> list[tuple[str, Decimal]]:
    """Replace one beneficiary's schedule of fixed amounts (empty: back to the linear schedule)."""
    if not access.is_moa:
        raise OperationError("Seul le maître d'ouvrage fixe le rythme du remboursement de l'avance.")
    marche = access.marche
    b = beneficiary(access, party_id)
    rows = parse_schedule(text)
    if rows:
        beneficiaries = adapter.beneficiaries_of(marche)
        terms = adapter.terms_of(marche, beneficiaries)
        avance = engine.avance_of(terms, beneficiaries, next(x for x in beneficiaries if x.key == b.key)).value
        total = sum((amount for _, amount in rows), Decimal(0))
        if total > avance:
            raise OperationError(f"L'échéancier ({fmt_euros(total)}) dépasse l'avance de {b.name} "
                                 f"({fmt_euros(avance)}).", field="schedule")
    db.session.execute(delete(AvanceRepaymentAmount).where(AvanceRepaymentAmount.party_id == b.key))
    for month, amount in rows:
        db.session.add(AvanceRepaymentAmount(marche_id=marche.id, party_id=b.key, month=month, amount=amount))
    db.session.flush()
    record(marche, "avance.fixed_amounts", account=account, structure=structure, party=access.row(b.key),
           amounts={month: str(amount) for month, amount in rows})
    return rows
