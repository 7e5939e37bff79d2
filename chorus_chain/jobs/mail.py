"""Sending e-mails: SMTP when configured, otherwise the log (and the local outbox page in development)."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from chorus_chain.extensions import db
from chorus_chain.jobs.context import job_context
from chorus_chain.models import MailMessage
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)


def send_mail(mail_id: int) -> None:
    with job_context():
        _send(mail_id)


def _send(mail_id: int) -> None:
    mail = db.session.get(MailMessage, mail_id)
    if mail is None or mail.sent_at is not None:  # safe to run twice
        return
    config = current_app.config
    mail.attempts += 1
    if config.get("SMTP_HOST"):
        message = EmailMessage()
        message["From"] = config["MAIL_FROM"]
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        try:
            with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=20) as smtp:
                if config.get("SMTP_STARTTLS"):
                    smtp.starttls()
                if config.get("SMTP_USER"):
                    smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            mail.last_error = str(exc)[:500]
            db.session.commit()
            raise
        mail.transport = "smtp"
    else:
        log.info("E-mail to %s — %s\n%s", mail.to_address, mail.subject, mail.body)
        mail.transport = "log"
    mail.sent_at = utcnow()
    db.session.commit()
