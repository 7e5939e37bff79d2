"""Queue an e-mail: a MailMessage row and an outbox job, in the caller's transaction.

The e-mail is rendered by its job, not by the request that queues it (a batch of a hundred deposits queues a
hundred or more e-mails): the row keeps the template and its context as plain values (`freeze`: text, numbers,
Decimal, dates, lists and mappings of them — what the template reads, taken when the event happened), and
`jobs.mail` renders the subject and the body before sending. A context holding anything else (a model row, whose
later state the e-mail must not show) is rendered at once, as before.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import render_template

from chorus_chain.extensions import db
from chorus_chain.models import MailMessage, OutboxJob


class NotPlain(Exception):
    """A context value that cannot be kept as a plain value: the e-mail is rendered at once."""


def freeze(value: Any) -> Any:
    """A JSON-storable copy of a template context (types tagged so that `thaw` gives the same values back)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Decimal):
        return {"__decimal__": str(value)}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, date):
        return {"__date__": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [freeze(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) and not key.startswith("__") for key in value):
        return {key: freeze(item) for key, item in value.items()}
    raise NotPlain(type(value).__name__)


def thaw(value: Any) -> Any:
    if isinstance(value, list):
        return [thaw(item) for item in value]
    if isinstance(value, dict):
        if "__decimal__" in value:
            return Decimal(value["__decimal__"])
        if "__datetime__" in value:
            return datetime.fromisoformat(value["__datetime__"])
        if "__date__" in value:
            return date.fromisoformat(value["__date__"])
        return {key: thaw(item) for key, item in value.items()}
    return value


def render(template: str, context: dict) -> tuple[str, str]:
    """templates/mail/<template>.txt → (subject, body); its first line is « Objet : ... »."""
    text = render_template(f"mail/{template}.txt", **context)
    first, _, body = text.lstrip().partition("\n")
    subject = first.removeprefix("Objet :").removeprefix("Objet:").strip()
    return subject[:200], body.strip() + "\n"


def queue_mail(to_address: str, template: str, account_id: int | None = None, later: list | None = None,
               **context) -> MailMessage:
    """Queue templates/mail/<template>.txt for sending after commit, rendered by the job (see the module).
    `later`: a list the row is appended to, whose owner writes the outbox rows of all its e-mails at once
    (`deposits.DepositContext.finish`), instead of a flush per e-mail here."""
    try:
        frozen = freeze(context)
    except NotPlain:
        subject, body = render(template, context)
        mail = MailMessage(to_address=to_address, account_id=account_id, subject=subject, body=body)
    else:
        mail = MailMessage(to_address=to_address, account_id=account_id, template=template, context=frozen)
    db.session.add(mail)
    if later is not None:
        later.append(mail)
        return mail
    db.session.flush()
    db.session.add(OutboxJob(job="send_mail", payload={"mail_id": mail.id}))
    return mail


def rendered(mail: MailMessage) -> MailMessage:
    """The row with its subject and body (rendered now from its template if the job has not done it yet)."""
    if mail.body is None and mail.template is not None:
        mail.subject, mail.body = render(mail.template, thaw(mail.context or {}))
    return mail
