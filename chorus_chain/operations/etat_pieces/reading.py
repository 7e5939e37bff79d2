"""What each structure may see of an état's pieces and payable lines (the one access rule of the états, read with
`operations.etats_acompte.sees_whole`): the MOA, the MOE, the paying office and the titulaire / mandataire see
every line; a co-traitant or a sous-traitant only the line paid to itself — never a neighbour's.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select

from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations.marches import MarcheAccess

FULL_VIEW_ROLES = (Role.MOA, Role.MOE, Role.PAYING_OFFICE, Role.TITULAIRE, Role.MANDATAIRE)
ZERO = Decimal("0.00")


def sees_every_line(access: MarcheAccess) -> bool:
    return bool(access.own_roles() & set(FULL_VIEW_ROLES))


@dataclass
class LineView:
    """A payable line with its payments and what the delay cost (interest + flat fees, summed payment by payment)."""

    line: PayableLine
    payments: list[LinePayment]

    @property
    def interest(self) -> Decimal:
        return sum((p.interest for p in self.payments), ZERO)

    @property
    def flat_fees(self) -> Decimal:
        return sum((p.flat_fee for p in self.payments), ZERO)

    @property
    def late_total(self) -> Decimal:
        return self.interest + self.flat_fees

    def late(self, today: date) -> bool:
        """Unpaid (or partly) past its due date."""
        return self.line.payable and self.line.remaining > 0 and today > self.line.due_on


def lines_for(access: MarcheAccess, etat_ids: Iterable[int]) -> dict[int, list[LineView]]:
    """état id → the lines this structure may see, with their payments (two queries)."""
    ids = list(etat_ids)
    if not ids:
        return {}
    query = select(PayableLine).where(PayableLine.etat_acompte_id.in_(ids), PayableLine.marche_id == access.marche.id)
    if not sees_every_line(access):
        query = query.where(PayableLine.payee_party_id.in_([row.id for row in access.own] or [0]))
    lines = list(db.session.scalars(query.order_by(PayableLine.etat_acompte_id, PayableLine.position)))
    payments: dict[int, list[LinePayment]] = {}
    if lines:
        for payment in db.session.scalars(select(LinePayment).where(
                LinePayment.line_id.in_([line.id for line in lines])).order_by(LinePayment.paid_on,
                                                                                 LinePayment.id)):
            payments.setdefault(payment.line_id, []).append(payment)
    found: dict[int, list[LineView]] = {etat_id: [] for etat_id in ids}
    for line in lines:
        found[line.etat_acompte_id].append(LineView(line, payments.get(line.id, [])))
    return found


@dataclass(frozen=True)
class Association:
    """What a projet de décompte's page says of the état that carries it."""

    etat: EtatAcompte
    line: PayableLine | None  # the line that pays it, once the état is validated (None before, or not visible)


def associations_of(piece_id: int, access: MarcheAccess | None) -> list[Association]:
    """The états that carried the PDM, the latest first (a returned one, then its « bis »), with the line that pays
    it when the viewer may see that line."""
    rows = db.session.execute(
        select(EtatAcompte, EtatAcomptePdm.payee_party_id)
        .join(EtatAcomptePdm, EtatAcomptePdm.etat_acompte_id == EtatAcompte.id)
        .where(EtatAcomptePdm.piece_id == piece_id).order_by(EtatAcompte.id.desc())).all()
    found = []
    for etat, payee in rows:
        line = None
        if etat.validated_at is not None and payee is not None and access is not None:
            visible = sees_every_line(access) or payee in {row.id for row in access.own}
            if visible:
                line = db.session.scalar(select(PayableLine).where(PayableLine.etat_acompte_id == etat.id,
                                                                   PayableLine.payee_party_id == payee))
        found.append(Association(etat, line))
    return found


def etats_of_pieces(piece_ids: Iterable[int]) -> dict[int, EtatAcompte]:
    """piece id → the état it is the A15 or the A19 of (the work lists link to the état page). One query."""
    ids = list(piece_ids)
    if not ids:
        return {}
    found = {}
    for etat in db.session.scalars(select(EtatAcompte).where(
            or_(EtatAcompte.piece_id.in_(ids), EtatAcompte.validated_piece_id.in_(ids)))):
        for piece_id in (etat.piece_id, etat.validated_piece_id):
            if piece_id in ids:
                found[piece_id] = etat
    return found


def pdm_piece_ids(etat_id: int) -> list[int]:
    """The PDM pieces an état carried (link rows)."""
    return list(db.session.scalars(select(EtatAcomptePdm.piece_id).where(EtatAcomptePdm.etat_acompte_id == etat_id)))
