"""The INTERETS clock of a late payment: one deadline row per `LinePayment` that owes interest or the flat fee.

Its piece is the payee's projet de décompte that the line pays (the lowest id when the line pays several): the
payee emitted it, so the payee sees the clock, and so do the MOE, the MOA and the paying office on its route — and
nobody else (a deadline is read through its piece, `access.visible_to`). Its start is the payment day and its due
instant the end of the 45th day after it (`domain.deadlines.interest_payment_due_at`): a payment recorded late does
not move the legal date, and one recorded after the 45 days expires at the next sweep.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from chorus_chain.domain import deadlines as clocks
from chorus_chain.extensions import db
from chorus_chain.models import Deadline
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte


def anchor_piece_id(line: PayableLine) -> int | None:
    """The piece the clock hangs on: the payee's projet de décompte paid by the line, or else the état's validated
    piece (A19 / A8). One query (two when the line pays no projet)."""
    piece_id = db.session.scalar(select(EtatAcomptePdm.piece_id).where(
        EtatAcomptePdm.etat_acompte_id == line.etat_acompte_id,
        EtatAcomptePdm.payee_party_id == line.payee_party_id).order_by(EtatAcomptePdm.piece_id).limit(1))
    if piece_id is not None:
        return piece_id
    return db.session.scalar(select(EtatAcompte.validated_piece_id).where(EtatAcompte.id == line.etat_acompte_id))


def open_for(payment: LinePayment, line: PayableLine) -> Deadline | None:
    """Open the clock of a payment just recorded, when it was late (interest or flat fee owed); None otherwise."""
    if payment.late_total <= 0:
        return None
    piece_id = anchor_piece_id(line)
    if piece_id is None:  # a validated état always has a piece; nothing to hang a clock on otherwise
        return None
    deadline = Deadline(kind=clocks.INTERETS, piece_id=piece_id, line_payment_id=payment.id, reminders_sent=[],
                        created_at=clocks.paris_midnight(payment.paid_on),
                        due_at=clocks.interest_payment_due_at(payment.paid_on))
    db.session.add(deadline)
    db.session.flush()
    return deadline


def close_for(payment: LinePayment, now: datetime) -> None:
    """The interest is paid: its clock is done (if the sweep has not already marked it lapsed)."""
    deadline = db.session.scalar(select(Deadline).where(Deadline.line_payment_id == payment.id,
                                                        Deadline.done_at.is_(None)))
    if deadline is not None:
        deadline.done_at = now


def is_paid(deadline: Deadline) -> bool:
    """For the sweep: the interest of this clock's payment is paid (the clock is moot)."""
    if deadline.line_payment_id is None:
        return False
    return db.session.scalar(select(LinePayment.interest_paid_on).where(
        LinePayment.id == deadline.line_payment_id)) is not None
