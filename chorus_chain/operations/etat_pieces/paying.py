"""The paying office pays a validated état d'acompte line by line: service fait, mandatement and payments recorded
per line with their dates and amounts; partial payments allowed, never more than the line.

Late-payment interest and the 40 € flat fee are the engine's (`domain.money.late_payment_interest`, the same rule
as every piece: CHORUS.md §5, §6b), computed per payment of a line, from the day that line's délai global de
paiement started (`PayableLine.dgp_started_on`), on the amount paid late. The rate is the one of the half-year in
which the interest starts, whatever the half-year of the payment. A late payment opens the clock of its interest:
the buyer pays it within 45 days (R2192-36, `operations.interets`).

The pieces follow the lines: the projets de décompte of a payee are marked service fait, mandatés and paid when its
line is; the A19 when every line with something to pay is. A line is locked (SELECT … FOR UPDATE) before it
changes: two clerks paying the same line at once make one payment, the other is told what is left.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import transitions as T
from chorus_chain.domain.money import MoneyError, RateTable, late_payment_interest
from chorus_chain.extensions import db
from chorus_chain.formatting import money as format_eur
from chorus_chain.graph import Role
from chorus_chain.models import Account, Piece, Structure
from chorus_chain.models.etat_pieces import EtatAcomptePdm, LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import interest as interest_ops
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.interets import clock as interets_clock
from chorus_chain.operations.marches import MarcheAccess, record, today

A = T.Action
S = T.Status
ZERO = Decimal("0.00")
# The piece statuses a line's step brings its pieces to, in order.
STEP_ACTIONS = ((S.SERVICE_FAIT.value, A.MARK_SERVICE_FAIT), (S.MANDATEE.value, A.MARK_MANDATEE),
                (S.MISE_EN_PAIEMENT.value, A.MARK_PAID))
ORDER = {S.MISE_A_DISPOSITION.value: 0, S.COMPLETEE.value: 0, S.SERVICE_FAIT.value: 1, S.MANDATEE.value: 2,
         S.MISE_EN_PAIEMENT.value: 3}


def fmt_day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def is_paying_office(access: MarcheAccess) -> bool:
    return Role.PAYING_OFFICE in access.own_roles()


def _load(access: MarcheAccess, etat_id: Any, line_id: Any) -> tuple[EtatAcompte, PayableLine]:
    if not is_paying_office(access):
        raise OperationError("Seul le service financier du marché enregistre le service fait, le mandatement et "
                             "les paiements.")
    try:
        etat_id, line_id = int(etat_id), int(line_id)
    except (TypeError, ValueError):
        raise OperationError("Cette ligne de paiement n'existe pas.") from None
    etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.id == etat_id,
                                                       EtatAcompte.marche_id == access.marche.id))
    if etat is None:
        raise OperationError("Cet état d'acompte n'existe pas.")
    if etat.status == "returned":
        raise OperationError(f"L'état d'acompte n° {etat.label} a été renvoyé au maître d'œuvre : rien ne se paie "
                             "sur cet état. Le maître d'œuvre l'émet de nouveau, le maître d'ouvrage le valide, "
                             "puis vous payez l'état qui le remplace.")
    if etat.validated_at is None:
        raise OperationError(f"L'état d'acompte n° {etat.label} n'est pas encore validé par le maître d'ouvrage : "
                             "il ne se paie qu'une fois validé.")
    line = db.session.scalar(select(PayableLine).where(PayableLine.id == line_id,
                                                       PayableLine.etat_acompte_id == etat.id)
                             .with_for_update().execution_options(populate_existing=True))
    if line is None:
        raise OperationError("Cette ligne de paiement n'existe pas.")
    if not line.payable:
        raise OperationError(f"Rien n'est à payer à {line.name} sur cet état (montant de la ligne : "
                             f"{format_eur(line.amount)}).")
    return etat, line


def _day(value: Any, field: str, label: str, etat: EtatAcompte, now: datetime) -> date:
    day = drafts.parse_day(value, field, label)
    if day > today(now):
        raise OperationError(f"{label[0].upper()}{label[1:]} ne peut pas être dans le futur.", field=field)
    validated = today(etat.validated_at)
    if day < validated:
        raise OperationError(f"{label[0].upper()}{label[1:]} ne peut précéder la validation de l'état par le maître "
                             f"d'ouvrage (le {fmt_day(validated)}).", field=field)
    return day


def record_service_fait(access: MarcheAccess, etat_id: Any, line_id: Any, account: Account, structure: Structure,
                        day: Any, *, now: datetime) -> PayableLine:
    etat, line = _load(access, etat_id, line_id)
    if line.service_fait_on is not None:
        raise OperationError(f"Le service fait de la ligne de {line.name} est déjà constaté (le "
                             f"{fmt_day(line.service_fait_on)}).")
    line.service_fait_on = _day(day, "service_fait_on", "la date du service fait", etat, now)
    _follow(etat, line, account, structure, now)
    record(access.marche, "payable_line_service_fait", account=account, structure=structure, etat=etat.label,
           payee=line.name, on=line.service_fait_on)
    return line


def record_mandat(access: MarcheAccess, etat_id: Any, line_id: Any, account: Account, structure: Structure,
                  day: Any, *, now: datetime) -> PayableLine:
    etat, line = _load(access, etat_id, line_id)
    if line.service_fait_on is None:
        raise OperationError(f"Constatez d'abord le service fait de la ligne de {line.name}.", field="mandated_on")
    if line.mandated_on is not None:
        raise OperationError(f"La ligne de {line.name} est déjà mandatée (le {fmt_day(line.mandated_on)}).")
    mandated = _day(day, "mandated_on", "la date du mandatement", etat, now)
    if mandated < line.service_fait_on:
        raise OperationError("Le mandatement ne peut précéder le service fait "
                             f"(le {fmt_day(line.service_fait_on)}).", field="mandated_on")
    line.mandated_on = mandated
    _follow(etat, line, account, structure, now)
    record(access.marche, "payable_line_mandated", account=account, structure=structure, etat=etat.label,
           payee=line.name, on=line.mandated_on)
    return line


def payment_interest(line: PayableLine, dgp_days: int, paid_on: date, amount: Decimal,
                     table: RateTable | None = None):
    """The engine's interest and flat fee on one payment of the line (the rate table is read only when late)."""
    late = paid_on > line.dgp_started_on + timedelta(days=dgp_days)
    try:
        return late_payment_interest((table or interest_ops.rate_table()) if late else RateTable(),
                                     receipt=line.dgp_started_on, dgp_days=dgp_days, payment=paid_on,
                                     net_payable_ttc=amount)
    except MoneyError as error:
        raise OperationError(error.message, field="paid_on") from None


def record_payment(access: MarcheAccess, etat_id: Any, line_id: Any, account: Account, structure: Structure, *,
                   amount: Any, paid_on: Any, now: datetime) -> LinePayment:
    etat, line = _load(access, etat_id, line_id)
    if line.mandated_on is None:
        raise OperationError(f"Mandatez d'abord la ligne de {line.name} (service fait, puis mandatement).",
                             field="amount")
    if line.remaining <= 0:
        raise OperationError(f"La ligne de {line.name} est déjà payée en entier (le {fmt_day(line.paid_on)}) : "
                             "aucun autre paiement n'est possible.", field="amount")
    try:
        value = amount_rules.parse_amount(amount, field="amount", label="Le montant payé")
    except amount_rules.AmountRefused as error:
        raise OperationError(error.message_fr, field="amount") from None
    if value <= 0:
        raise OperationError("Le montant payé doit être supérieur à zéro.", field="amount")
    if value > line.remaining:
        raise OperationError(f"Le paiement ({format_eur(value)}) dépasse ce qui reste à payer à {line.name} sur "
                             f"cette ligne : {format_eur(line.remaining)}.", field="amount")
    day = _day(paid_on, "paid_on", "la date de paiement", etat, now)
    if day < line.mandated_on:
        raise OperationError(f"Le paiement ne peut précéder le mandatement (le {fmt_day(line.mandated_on)}).",
                             field="paid_on")
    result = payment_interest(line, access.marche.dgp_days, day, value)
    payment = LinePayment(line_id=line.id, paid_on=day, amount=value, days_late=result.days,
                          rate_percent=result.rate_percent, interest=result.interest, flat_fee=result.flat_fee,
                          explanation=result.explained().to_dict(), recorded_by_id=account.id, recorded_at=now)
    db.session.add(payment)
    line.paid_amount = line.paid_amount + value
    if line.remaining == 0:
        line.paid_on = day
    db.session.flush()
    interets_clock.open_for(payment, line)  # late: the interest and the 40 € are due within 45 days (R2192-36)
    _follow(etat, line, account, structure, now)
    _tell_the_payee(access, etat, line, payment, now)
    record(access.marche, "payable_line_paid", account=account, structure=structure, etat=etat.label,
           payee=line.name, amount=value, on=day, interest=result.interest, flat_fee=result.flat_fee)
    return payment


def _tell_the_payee(access: MarcheAccess, etat: EtatAcompte, line: PayableLine, payment: LinePayment,
                    now: datetime) -> None:
    """The company paid hears of each payment of its line, with the amount and the day: the figure it will look
    for on its bank statement (issue 15). Its projets de décompte follow the line silently (`_follow`): without
    this, a sous-traitant paid line by line was never told."""
    from chorus_chain.formatting import day as format_day
    from chorus_chain.models import MarcheParty
    from chorus_chain.operations.notifications import notify

    party = db.session.get(MarcheParty, line.payee_party_id)
    if party is None or party.structure_id is None:
        return
    payee = db.session.get(Structure, party.structure_id)
    piece_id = db.session.scalar(select(EtatAcomptePdm.piece_id).where(
        EtatAcomptePdm.etat_acompte_id == etat.id, EtatAcomptePdm.payee_party_id == line.payee_party_id)
        .order_by(EtatAcomptePdm.piece_id).limit(1))
    text = (f"Paiement de {format_eur(payment.amount)} le {format_day(payment.paid_on)} : votre ligne de l'état "
            f"d'acompte n° {etat.label} du marché {access.marche.reference}.")
    text += (f" Reste à payer sur cette ligne : {format_eur(line.remaining)}." if line.remaining > 0
             else " La ligne est payée en entier.")
    if payment.days_late > 0:
        text += (f" Payé avec {payment.days_late} jour{'s' if payment.days_late > 1 else ''} de retard : intérêts "
                 f"moratoires de {format_eur(payment.interest)} et indemnité forfaitaire de "
                 f"{format_eur(payment.flat_fee)} dus.")
    notify(payee.id, "piece_status", text, now=now, domain="travaux", piece_id=piece_id,
           path=_line_path(payee.siret, access.marche.id, etat.id, line.id),
           subject=f"Paiement de {format_eur(payment.amount)} — état d'acompte n° {etat.label} — marché "
                   f"{access.marche.reference}")


def _line_path(siret: str, marche_id: int, etat_id: int, line_id: int) -> str:
    """The payee's line on the état's page (where its payments, due date and interest are)."""
    from flask import current_app, has_request_context, url_for

    arguments = {"siret": siret, "marche_id": marche_id, "etat_id": etat_id, "_anchor": f"line-{line_id}"}
    if has_request_context():
        return url_for("etats.show", **arguments)
    with current_app.test_request_context("/"):
        return url_for("etats.show", **arguments)


def _target(line: PayableLine) -> int:
    if line.paid_on is not None:
        return 3
    if line.mandated_on is not None:
        return 2
    if line.service_fait_on is not None:
        return 1
    return 0


def _advance(piece: Piece, target: int, *, amount: Decimal | None, paid_on: date | None, account: Account,
             structure: Structure, now: datetime, announce: bool) -> None:
    """Bring a piece at the paying office to the step its line (or lines) reached."""
    for index, (status, action) in enumerate(STEP_ACTIONS, start=1):
        if index > target or piece.status not in ORDER or ORDER[piece.status] >= index:
            continue
        if action == A.MARK_PAID and (amount is None or amount <= 0):
            return
        piece_ops.move(piece, [action], T.STEP_PAIEMENT, account=account, structure=structure, now=now,
                       amount=amount if action == A.MARK_PAID else None,
                       paid_on=paid_on if action == A.MARK_PAID else None, announce=announce)


def _follow(etat: EtatAcompte, line: PayableLine, account: Account, structure: Structure, now: datetime) -> None:
    """The payee's projets de décompte, then the A19, follow the lines."""
    target = _target(line)
    piece_ids = list(db.session.scalars(select(EtatAcomptePdm.piece_id).where(
        EtatAcomptePdm.etat_acompte_id == etat.id, EtatAcomptePdm.payee_party_id == line.payee_party_id)))
    for piece_id in sorted(piece_ids):
        piece = records.load_for_update(piece_id)
        _advance(piece, target, amount=piece.accepted_amount, paid_on=line.paid_on, account=account,
                 structure=structure, now=now, announce=False)
    lines = [row for row in db.session.scalars(select(PayableLine).where(
        PayableLine.etat_acompte_id == etat.id).order_by(PayableLine.position)) if row.payable]
    if etat.validated_piece_id is None or not lines:
        return
    a19 = records.load_for_update(etat.validated_piece_id)
    paid = [row.paid_on for row in lines if row.paid_on is not None]
    _advance(a19, min(_target(row) for row in lines),
             amount=sum((row.paid_amount for row in lines), ZERO), paid_on=max(paid) if paid else None,
             account=account, structure=structure, now=now, announce=True)
