"""Queue an e-mail: a MailMessage row and an outbox job, in the caller's transaction."""
from __future__ import annotations

from flask import render_template

from chorus_chain.extensions import db
from chorus_chain.models import MailMessage, OutboxJob


def queue_mail(to_address: str, template: str, account_id: int | None = None, **context) -> MailMessage:
    """Render templates/mail/<template>.txt (first line "Subject: ...") and queue it for sending after commit."""
    text = render_template(f"mail/{template}.txt", **context)
    first, _, body = text.lstrip().partition("\n")
    subject = first.removeprefix("Objet :").removeprefix("Objet:").strip()
    mail = MailMessage(to_address=to_address, account_id=account_id, subject=subject, body=body.strip() + "\n")
    db.session.add(mail)
    db.session.flush()
    db.session.add(OutboxJob(job="send_mail", payload={"mail_id": mail.id}))
    return mail
