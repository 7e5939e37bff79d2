"""Support tickets: open, reply (user or operator), categorise, close. Never commits; refusals are OperationError."""
from __future__ import annotations

from sqlalchemy import select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Piece
from chorus_chain.models.base import utcnow
from chorus_chain.models.support import (
    MAX_ATTACHMENT,
    TICKET_CATEGORIES,
    Ticket,
    TicketMessage,
)
from chorus_chain.operations import OperationError
from chorus_chain.operations.mail import queue_mail

MAX_BODY = 5000


def _message(ticket: Ticket, account, body: str, attachment: tuple[str, bytes] | None, *, operator: bool):
    body = (body or "").strip()
    if not body:
        raise OperationError("Écrivez votre message.", field="body")
    if len(body) > MAX_BODY:
        raise OperationError(f"{MAX_BODY} caractères au plus.", field="body")
    name = data = None
    if attachment is not None:
        name, data = attachment
        if len(data) > MAX_ATTACHMENT:
            raise OperationError("La pièce jointe dépasse 2 Mo : réduisez-la ou envoyez-en une partie.",
                                 field="attachment")
        if not data:
            raise OperationError("La pièce jointe est vide.", field="attachment")
        name = (name or "piece-jointe").replace("\\", "/").rsplit("/", 1)[-1][:200] or "piece-jointe"
    message = TicketMessage(ticket=ticket, account_id=account.id, from_operator=operator, body=body,
                            attachment_name=name, attachment_data=data, at=utcnow())
    db.session.add(message)
    ticket.updated_at = message.at
    return message


def visible_piece_id(structure, piece_id) -> int | None:
    """The piece id to attach, only if the structure sees that piece; else None. The one access predicate decides
    (`access.visible_to`: emitter, or an access row written from the chain), not a query of its own."""
    try:
        piece_id = int(piece_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(select(Piece.id).where(Piece.id == piece_id, access.visible_to(structure.id)))


def open_ticket(structure, account, subject: str, body: str, *, page_url: str | None = None,
                piece_id=None, attachment: tuple[str, bytes] | None = None) -> Ticket:
    subject = (subject or "").strip()
    if not subject:
        raise OperationError("Indiquez l'objet de votre demande.", field="subject")
    if len(subject) > 200:
        raise OperationError("200 caractères au plus.", field="subject")
    page_url = (page_url or "").strip()
    if not page_url.startswith("/") or page_url.startswith("//"):
        page_url = None  # only a path of this site, never an outside address
    ticket = Ticket(structure_id=structure.id, account_id=account.id, subject=subject, page_url=page_url[:500]
                    if page_url else None, piece_id=visible_piece_id(structure, piece_id), status="open",
                    created_at=utcnow(), updated_at=utcnow())
    db.session.add(ticket)
    _message(ticket, account, body, attachment, operator=False)
    db.session.flush()
    return ticket


def user_reply(ticket: Ticket, account, body: str, attachment=None) -> TicketMessage:
    message = _message(ticket, account, body, attachment, operator=False)
    ticket.status = "open"  # back in the operators' queue
    db.session.flush()
    return message


def operator_answer(ticket: Ticket, operator, body: str, attachment=None) -> TicketMessage:
    if not operator.is_operator:
        raise OperationError("Réservé aux opérateurs de la plateforme.")
    message = _message(ticket, operator, body, attachment, operator=True)
    ticket.status = "answered"
    db.session.flush()
    author = ticket.account
    queue_mail(author.notification_email, "ticket_answered", account_id=author.id, account=author, ticket=ticket)
    return message


def categorise(ticket: Ticket, operator, category: str) -> None:
    if not operator.is_operator:
        raise OperationError("Réservé aux opérateurs de la plateforme.")
    if category not in TICKET_CATEGORIES:
        raise OperationError("Choisissez une catégorie de la liste.", field="category")
    ticket.category = category
    db.session.flush()


def close(ticket: Ticket, operator) -> None:
    if not operator.is_operator:
        raise OperationError("Réservé aux opérateurs de la plateforme.")
    ticket.status = "closed"
    ticket.updated_at = utcnow()
    db.session.flush()
