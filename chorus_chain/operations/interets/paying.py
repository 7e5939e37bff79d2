"""The paying office records that the buyer paid the interest and the flat fee of a late payment.

The amount is the engine's, stored on the payment when it was recorded (`LinePayment.interest` + `flat_fee`): the
clerk gives the day, never a figure (no money moves around the engine). The day may not precede the principal's
payment nor be in the future; paid after the 45 days (R2192-36) it is still recorded — the delay then shows on the
pages, it does not stop the payment. The clock is done in the same transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from chorus_chain.formatting import money as format_eur
from chorus_chain.extensions import db
from chorus_chain.models import Account, Structure
from chorus_chain.models.etat_pieces import LinePayment
from chorus_chain.operations import OperationError
from chorus_chain.operations.etat_pieces import paying as line_paying
from chorus_chain.operations.interets import clock
from chorus_chain.operations.marches import MarcheAccess, record


def record_interest_paid(access: MarcheAccess, etat_id: Any, line_id: Any, payment_id: Any, account: Account,
                         structure: Structure, day: Any, *, now: datetime) -> LinePayment:
    etat, line = line_paying._load(access, etat_id, line_id)  # paying office only; the line locked
    try:
        payment_id = int(payment_id)
    except (TypeError, ValueError):
        payment_id = None
    payment = db.session.scalar(select(LinePayment).where(LinePayment.id == payment_id,
                                                          LinePayment.line_id == line.id)
                                .with_for_update().execution_options(populate_existing=True)) if payment_id else None
    if payment is None:
        raise OperationError("Ce paiement n'existe pas sur cette ligne.")
    if payment.late_total <= 0:
        raise OperationError(f"Le paiement du {line_paying.fmt_day(payment.paid_on)} a été fait à temps : il ne "
                             "donne lieu ni à intérêts moratoires ni à indemnité forfaitaire.")
    if payment.interest_paid_on is not None:
        raise OperationError(f"Les intérêts moratoires de ce paiement sont déjà payés (le "
                             f"{line_paying.fmt_day(payment.interest_paid_on)}).")
    paid_on = line_paying._day(day, "interest_paid_on", "la date de paiement des intérêts", etat, now)
    if paid_on < payment.paid_on:
        raise OperationError("Les intérêts moratoires ne peuvent être payés avant le principal (payé le "
                             f"{line_paying.fmt_day(payment.paid_on)}).", field="interest_paid_on")
    payment.interest_paid_on, payment.interest_paid_by_id, payment.interest_paid_at = paid_on, account.id, now
    clock.close_for(payment, now)
    db.session.flush()
    record(access.marche, "payable_line_interest_paid", account=account, structure=structure, etat=etat.label,
           payee=line.name, amount=payment.late_total, on=paid_on, principal_paid_on=payment.paid_on)
    return payment


def amount_text(payment: LinePayment) -> str:
    return (f"{format_eur(payment.late_total)} (intérêts moratoires {format_eur(payment.interest)} + indemnité "
            f"forfaitaire {format_eur(payment.flat_fee)})")
