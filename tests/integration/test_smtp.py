"""E-mails over real SMTP: an aiosmtpd server on loopback receives what the job sends."""
from __future__ import annotations

import socket

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import MailMessage
from tests import factories


@pytest.fixture
def smtp_server(app):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received = []

    class Collect(Message):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False)
    yield received
    app.config.update(SMTP_HOST=None)
    controller.stop()


def test_activation_mail_is_delivered_over_smtp(app, client, smtp_server):
    response = client.post("/inscription", data={"first_name": "Élodie", "last_name": "Smtp",
                                                 "email": "smtp@exemple.fr", "password": "une phrase assez longue 2026"})
    assert response.status_code == 200
    assert len(smtp_server) == 1
    message = smtp_server[0]
    assert message["To"] == "smtp@exemple.fr"
    assert "Activez votre compte" in message["Subject"]
    assert "/activation/" in message.get_payload(decode=True).decode("utf-8")
    with app.app_context():
        mail = db.session.scalar(db.select(MailMessage))
        assert mail.transport == "smtp" and mail.sent_at is not None


def test_smtp_failure_keeps_the_mail_for_a_retry(app, client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port, SMTP_STARTTLS=False)
    try:
        factories.account(app, email="retry@exemple.fr")
        response = client.post("/mot-de-passe-oublie", data={"email": "retry@exemple.fr"})
        assert response.status_code == 200  # the user is not punished for the mail server's failure
    finally:
        app.config.update(SMTP_HOST=None)
    with app.app_context():
        mail = db.session.scalar(db.select(MailMessage))
        assert mail.sent_at is None and mail.attempts == 1 and mail.last_error
