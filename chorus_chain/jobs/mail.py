"""Sending e-mails: SMTP when configured, otherwise the log (and the local outbox page in development).

Run by the outbox (`jobs.outbox`), which claims the row so that one try at a time sends it, and retries on any
failure. Once the SMTP server accepted the message, `sent_at` is recorded `durably` (waiting out a database restart):
a retry then finds it sent and sends nothing. The try's claim on its outbox row outlasts that wait
(`jobs.queue.minimum_lease`), so that no other try takes the row over while this one may still record the send.
The Message-ID is the row's own, so that in the one window no database can close (the process killed between the
server's « 250 » and our commit) a receiving server or a reader sees the same message twice, not two messages.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from chorus_chain.extensions import db
from chorus_chain.jobs.context import describe_error, durably, job_context
from chorus_chain.models import MailMessage
from chorus_chain.models.base import utcnow
from chorus_chain.operations.mail import rendered

log = logging.getLogger(__name__)


def send_mail(mail_id: int) -> None:
    with job_context():
        _send(mail_id)


def message_id(mail_id: int) -> str:
    domain = current_app.config["MAIL_FROM"].rpartition("@")[2].strip("> ") or "chorus-chain.invalid"
    return f"<mail-{mail_id}@{domain}>"


def _send(mail_id: int) -> None:
    mail = db.session.get(MailMessage, mail_id)
    if mail is None or mail.sent_at is not None:  # safe to run twice
        db.session.commit()
        return
    config = current_app.config
    rendered(mail)  # queued with its template: rendered here, not in the request that queued it
    to_address, subject, body = mail.to_address, mail.subject, mail.body
    mail.attempts += 1
    db.session.commit()  # the try is counted even if the process dies during it
    if config.get("SMTP_HOST"):
        message = EmailMessage()
        message["From"] = config["MAIL_FROM"]
        message["To"] = to_address
        message["Subject"] = subject
        message["Message-ID"] = message_id(mail_id)
        message.set_content(body)
        try:
            _deliver(config, message)
        except (OSError, smtplib.SMTPException) as exc:
            db.session.rollback()
            error = describe_error(exc)
            durably(lambda: _record(mail_id, last_error=error))
            raise
        transport = "smtp"
    else:
        log.info("E-mail to %s — %s\n%s", to_address, subject, body)
        transport = "log"
    sent_at = utcnow()
    durably(lambda: _record(mail_id, transport=transport, sent_at=sent_at, last_error=None))


def _deliver(config, message: EmailMessage) -> None:
    """Hand the message to the SMTP server. Once it accepted the data the message is sent: a server that then hangs
    or drops the connection at QUIT must not make us send it again."""
    smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config.get("SMTP_TIMEOUT", 15))
    try:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
        smtp.send_message(message)
    except BaseException:
        smtp.close()
        raise
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _record(mail_id: int, **values) -> None:
    mail = db.session.get(MailMessage, mail_id)
    for name, value in values.items():
        setattr(mail, name, value)
    db.session.commit()
