"""Conversations: a member asks the assistant, hands over to an agent (or, outside the agents' hours, the
conversation becomes a support ticket with its transcript), an operator takes it and answers, either side closes it.

Who may do what:
- the member who opened a conversation writes in it while it is open (to the assistant, or to the agent once handed
  over); a closed conversation, or one that became a ticket, takes no more messages;
- an operator takes a waiting conversation; once taken, only that operator answers it (another gets a refusal
  naming who has it); answering a waiting conversation takes it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from chorus_chain import formatting
from chorus_chain.domain.agent_hours import Hours
from chorus_chain.extensions import db
from chorus_chain.models import Account, Piece, Structure
from chorus_chain.models.chat import MAX_MESSAGE, Conversation, ConversationMessage
from chorus_chain.operations import OperationError
from chorus_chain.operations import support as support_ops

_PIECE_IN_PATH = re.compile(r"/pieces/(\d+)(?:/|$)")


def _text(body: str | None, field: str = "body") -> str:
    body = (body or "").strip()
    if not body:
        raise OperationError("Écrivez votre message : il est vide.", field=field)
    if len(body) > MAX_MESSAGE:
        raise OperationError(f"Votre message compte {len(body)} caractères : {MAX_MESSAGE} au plus. Raccourcissez-le "
                             "ou découpez-le en plusieurs messages.", field=field)
    return body


def _page(page_url: str | None) -> str | None:
    """Only a path of this site, never an outside address."""
    page_url = (page_url or "").strip()
    if not page_url.startswith("/") or page_url.startswith("//"):
        return None
    return page_url[:500]


def piece_of_page(structure: Structure, page_url: str | None) -> int | None:
    """The piece of the page the user is on (/s/…/pieces/<id>), if the structure may see it (else None)."""
    match = _PIECE_IN_PATH.search(page_url or "")
    return support_ops.visible_piece_id(structure, match.group(1)) if match else None


def _say(conversation: Conversation, author: str, body: str, now: datetime, *, account_id: int | None = None,
         **extra) -> ConversationMessage:
    message = ConversationMessage(conversation_id=conversation.id, author=author, account_id=account_id, body=body,
                                  at=now, **extra)
    db.session.add(message)
    conversation.updated_at = now
    return message


def current_for(structure: Structure, account: Account) -> Conversation | None:
    """The member's latest conversation in this structure (open or not: a closed one is still shown until a new
    one starts)."""
    return db.session.scalars(select(Conversation).where(
        Conversation.structure_id == structure.id, Conversation.account_id == account.id)
        .order_by(Conversation.id.desc()).limit(1)).first()


def _own(structure: Structure, account: Account, conversation_id) -> Conversation | None:
    try:
        conversation_id = int(conversation_id)
    except (TypeError, ValueError):
        return None
    conversation = db.session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None or conversation.structure_id != structure.id or conversation.account_id != account.id:
        return None
    return conversation


def _closed_refusal(conversation: Conversation) -> OperationError:
    if conversation.status == "ticket":
        return OperationError("Cette conversation est devenue une demande d'aide : répondez dans la demande, ou "
                              "commencez une nouvelle conversation.")
    return OperationError("Cette conversation est terminée : commencez une nouvelle conversation pour poser une "
                          "autre question.")


def start_new(structure: Structure, account: Account, now: datetime, *, page_url: str | None = None) -> Conversation:
    """A fresh conversation with the assistant (the previous one, if still with the assistant, is closed)."""
    previous = current_for(structure, account)
    if previous is not None and previous.status == "assistant":
        previous.status, previous.closed_at = "closed", now
    conversation = Conversation(structure_id=structure.id, account_id=account.id, status="assistant",
                                page_url=_page(page_url), created_at=now, updated_at=now)
    db.session.add(conversation)
    db.session.flush()
    return conversation


def ask(structure: Structure, account: Account, question: str, *, conversation_id=None, page_url: str | None,
        now: datetime, answer: Callable[[str, int | None], object], resolve: Callable[[object], str]
        ) -> tuple[Conversation, list[ConversationMessage]]:
    """The member writes. To the assistant: its answer is stored with the question (`answer(question, piece_id)`
    gives it; `resolve(link)` turns a link into a path). To an agent (handed over): the message waits for them.
    `conversation_id`: the conversation the panel shows (None: the latest, or a new one)."""
    body = _text(question, "question")
    if conversation_id:
        conversation = _own(structure, account, conversation_id)
        if conversation is None:
            raise OperationError("Cette conversation n'existe pas : rechargez la page.")
        if not conversation.is_open:
            raise _closed_refusal(conversation)
    else:
        conversation = current_for(structure, account)
        if conversation is None or not conversation.is_open:
            conversation = start_new(structure, account, now, page_url=page_url)
    page = _page(page_url)
    if page:
        conversation.page_url = page
    mine = _say(conversation, "user", body, now, account_id=account.id)
    said = [mine]
    if conversation.status == "assistant":
        reply = answer(body, piece_of_page(structure, page))
        mine.failed = bool(reply.failed)
        links = [[link.label, resolve(link)] for link in reply.links]
        said.append(_say(conversation, "assistant", reply.text, now, kind=reply.kind, links=links or None))
    db.session.flush()
    return conversation, said


def transcript_text(messages: list[ConversationMessage], names: dict[int, str] | None = None) -> str:
    """The conversation as plain text (the ticket's first message)."""
    who = {"user": "Vous", "assistant": "Assistant", "operator": "Agent", "system": "—"}
    lines = []
    for message in messages:
        lines.append(f"[{formatting.instant(message.at)}] {who[message.author]} : {message.body}")
        for label, path in message.links or ():
            lines.append(f"    → {label} : {path}")
    return "\n".join(lines)


def _messages(conversation: Conversation) -> list[ConversationMessage]:
    return list(db.session.scalars(select(ConversationMessage).where(
        ConversationMessage.conversation_id == conversation.id).order_by(ConversationMessage.id)))


def hand_over(structure: Structure, account: Account, conversation_id, *, page_url: str | None, now: datetime,
              hours: Hours) -> Conversation:
    """« Discuter avec un agent »: into the operators' queue with the page and piece the user is on — or, outside
    the agents' hours, into a support ticket carrying the transcript."""
    conversation = (_own(structure, account, conversation_id) if conversation_id
                    else current_for(structure, account))
    if conversation_id and conversation is None:
        raise OperationError("Cette conversation n'existe pas : rechargez la page.")
    if conversation is None or not conversation.is_open:
        conversation = start_new(structure, account, now, page_url=page_url)
    if conversation.with_agent:
        raise OperationError("Votre conversation est déjà transmise à un agent : il vous répond ici.")
    page = _page(page_url) or conversation.page_url
    conversation.page_url = page
    conversation.piece_id = piece_of_page(structure, page)
    # The number, read now under the member's tenant: the operators' console shows it without reading pieces.
    conversation.piece_number = (db.session.scalar(select(Piece.number).where(Piece.id == conversation.piece_id))
                                 if conversation.piece_id else None)
    conversation.handed_over_at = now
    if hours.is_open(now):
        conversation.status = "waiting"
        _say(conversation, "system", "Un agent va vous répondre ici : il voit notre conversation et la page où vous "
                                     "êtes. Vous pouvez continuer à naviguer.", now)
        db.session.flush()
        return conversation
    transcript = transcript_text(_messages(conversation)) or "(conversation vide)"
    first = next((m.body for m in _messages(conversation) if m.author == "user"), "Demande d'aide")
    subject = f"Conversation avec l'assistant : {first}"
    subject = subject if len(subject) <= 200 else subject[:199] + "…"
    body = ("Demande transmise depuis l'assistant, en dehors des heures des agents.\n\n" + transcript)[:5000]
    ticket = support_ops.open_ticket(structure, account, subject, body, page_url=page,
                                     piece_id=conversation.piece_id)
    conversation.status, conversation.ticket_id, conversation.closed_at = "ticket", ticket.id, now
    _say(conversation, "system", f"Nos agents répondent {hours.describe()}. Votre conversation est devenue la "
                                 f"demande d'aide n° {ticket.id}, avec tout ce que nous nous sommes dit : la réponse "
                                 "arrivera dans « Mes demandes d'aide », et par e-mail.", now,
         links=[["Ma demande d'aide", f"/s/{structure.siret}/demandes-aide/{ticket.id}"]])
    db.session.flush()
    return conversation


def _operator(account: Account) -> None:
    if not account.is_operator:
        raise OperationError("Réservé aux opérateurs de la plateforme.")


def _lock(conversation_id: int) -> Conversation | None:
    return db.session.get(Conversation, conversation_id, with_for_update=True, populate_existing=True)


def take(conversation_id: int, operator: Account, now: datetime) -> Conversation:
    """The operator takes a waiting conversation (row locked: two operators clicking at once, one wins)."""
    _operator(operator)
    conversation = _lock(conversation_id)
    if conversation is None:
        raise OperationError("Cette conversation n'existe pas.")
    if conversation.status == "active" and conversation.operator_id == operator.id:
        return conversation
    if conversation.status == "active":
        taker = db.session.get(Account, conversation.operator_id)
        raise OperationError(f"Cette conversation est déjà prise par {taker.full_name} : lui seul y répond.")
    if conversation.status != "waiting":
        raise OperationError("Cette conversation n'attend plus d'agent (terminée, ou restée avec l'assistant).")
    conversation.status, conversation.operator_id, conversation.taken_at = "active", operator.id, now
    _say(conversation, "system", f"{operator.first_name} (équipe chorus-chain) a rejoint la conversation.", now)
    db.session.flush()
    return conversation


def operator_say(conversation_id: int, operator: Account, body: str, now: datetime) -> ConversationMessage:
    """The operator answers (taking the conversation if it was waiting)."""
    _operator(operator)
    text = _text(body)
    conversation = take(conversation_id, operator, now)
    message = _say(conversation, "operator", text, now, account_id=operator.id)
    db.session.flush()
    return message


def close(conversation: Conversation, account: Account, now: datetime) -> None:
    """Either side ends the conversation (the member, or the operator who has it, or any operator if waiting)."""
    if not conversation.is_open:
        raise _closed_refusal(conversation)
    if account.id != conversation.account_id:
        _operator(account)
        if conversation.status == "active" and conversation.operator_id != account.id:
            taker = db.session.get(Account, conversation.operator_id)
            raise OperationError(f"Cette conversation est prise par {taker.full_name} : lui seul peut la terminer.")
    conversation.status, conversation.closed_at = "closed", now
    by = "L'agent" if account.id != conversation.account_id else "Vous"
    _say(conversation, "system", f"{by} a terminé la conversation.", now)
    db.session.flush()


def dismiss_failed(message_id: int, operator: Account) -> None:
    """An unanswered question taken care of (an article written, or nothing to write): off the list."""
    _operator(operator)
    message = db.session.get(ConversationMessage, message_id)
    if message is None or not message.failed:
        raise OperationError("Cette question n'est plus dans la liste.")
    message.failed = False
    db.session.flush()
