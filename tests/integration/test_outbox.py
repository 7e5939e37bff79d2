"""The durable outbox (jobs/outbox.py): a row stays pending until its job succeeded, is claimed by one try at a time,
retried with backoff, given up « en échec » after its last try with its error, and replayed by an operator. E-mails
go to a real SMTP server on loopback (aiosmtpd) that can refuse, and each row is delivered once."""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from redis import Redis

from chorus_chain.extensions import db
from chorus_chain.jobs import outbox
from chorus_chain.jobs.queue import dispatch_outbox
from chorus_chain.models import MailMessage, OutboxJob
from chorus_chain.models.base import utcnow
from tests import factories
from tests.conftest import REDIS_URL, _worker


@pytest.fixture
def sink(app):
    """A real SMTP server on loopback; `sink.refuse = True` makes it answer 451 to every message."""
    from aiosmtpd.controller import Controller

    class Sink:
        refuse = False
        received: list = []

        async def handle_DATA(self, server, session, envelope):
            if self.refuse:
                return "451 4.3.0 Service momentanément indisponible"
            from email import message_from_bytes

            self.received.append(message_from_bytes(envelope.content))
            return "250 OK"

    handler = Sink()
    handler.received = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_STARTTLS=False, OUTBOX_BACKOFF_SECONDS=0)
    yield handler
    app.config.update(SMTP_HOST=None, OUTBOX_BACKOFF_SECONDS=30, OUTBOX_MAX_ATTEMPTS=8)
    controller.stop()


def _queue_mail(app, to="durable@exemple.fr") -> int:
    from chorus_chain.operations.mail import queue_mail

    with app.test_request_context():
        mail = queue_mail(to, "password_changed", account=factories.account(app))
        db.session.commit()
        return mail.id


def _row(mail_id: int) -> OutboxJob:
    return next(row for row in db.session.scalars(db.select(OutboxJob)) if row.payload.get("mail_id") == mail_id)


def test_a_refused_mail_stays_pending_and_is_sent_once_when_the_server_is_back(app, db, sink):
    sink.refuse = True
    mail_id = _queue_mail(app)
    with app.app_context():
        assert dispatch_outbox() == 1
        row = _row(mail_id)
        assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
        assert db.session.get(MailMessage, mail_id).sent_at is None
        sink.refuse = False
        assert dispatch_outbox() == 1
        assert dispatch_outbox() == 0  # done: never again
        row = _row(mail_id)
        assert row.status == "done" and row.attempts == 2 and row.finished_at is not None
        mail = db.session.get(MailMessage, mail_id)
        assert mail.sent_at is not None and mail.transport == "smtp"
    assert len(sink.received) == 1
    assert sink.received[0]["Message-ID"] == f"<mail-{mail_id}@chorus-chain.invalid>"  # keyed by the row


def test_backoff_doubles_and_the_row_waits_for_it(app, db, sink):
    app.config["OUTBOX_BACKOFF_SECONDS"] = 30
    sink.refuse = True
    mail_id = _queue_mail(app)
    with app.app_context():
        before = utcnow()
        dispatch_outbox()
        row = _row(mail_id)
        assert timedelta(seconds=29) < row.available_at - before < timedelta(seconds=35)
        assert dispatch_outbox() == 0  # not due yet
        assert outbox.backoff(1) == timedelta(seconds=30) and outbox.backoff(3) == timedelta(seconds=120)
        assert outbox.backoff(30) == timedelta(seconds=3600)  # capped


def test_after_the_last_try_it_is_failed_listed_and_can_be_replayed(app, db, sink):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    sink.refuse = True
    mail_id = _queue_mail(app)
    with app.app_context():
        dispatch_outbox()
        dispatch_outbox()
        row = _row(mail_id)
        assert row.status == "failed" and row.attempts == 2 and "451" in row.last_error
        assert dispatch_outbox() == 0  # given up: not tried again by itself
        row_id = row.id
    runner = app.test_cli_runner()
    listing = runner.invoke(args=["outbox", "list", "--failed"], catch_exceptions=False).output
    assert f"#{row_id} send_mail en échec, 2 essai(s)" in listing and "451" in listing
    sink.refuse = False
    replayed = runner.invoke(args=["outbox", "replay", str(row_id)], catch_exceptions=False).output
    assert "1 travail(s) relancé(s) ; 1 transmis." in replayed
    with app.app_context():
        assert _row(mail_id).status == "done"
    assert len(sink.received) == 1
    again = runner.invoke(args=["outbox", "replay", str(row_id)], catch_exceptions=False).output
    assert "n'est pas en échec" in again


def test_a_claimed_row_is_not_run_by_a_second_try_until_its_lease_runs_out(app, db, sink):
    mail_id = _queue_mail(app)
    with app.app_context():
        row_id = _row(mail_id).id
        claimed = outbox._claim(row_id)  # a first worker claims it … and dies
        assert claimed is not None and claimed[2] == 1
        assert outbox.run(row_id) == "skipped"  # a second hand-over of the same row does nothing
        assert sink.received == []
        row = db.session.get(OutboxJob, row_id)
        row.lease_until = utcnow() - timedelta(seconds=1)  # its lease ran out
        db.session.commit()
        assert dispatch_outbox() == 1
        row = db.session.get(OutboxJob, row_id)
        assert row.status == "done" and row.attempts == 2 and row.last_error == outbox.INTERRUPTED
    assert len(sink.received) == 1


def test_a_try_interrupted_on_its_last_attempt_is_given_up(app, db, sink):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    mail_id = _queue_mail(app)
    with app.app_context():
        row_id = _row(mail_id).id
        assert outbox._claim(row_id) is not None
        row = db.session.get(OutboxJob, row_id)
        row.lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
        dispatch_outbox()
        row = db.session.get(OutboxJob, row_id)
        assert row.status == "failed" and row.last_error == outbox.INTERRUPTED
    assert sink.received == []


def test_a_mail_already_sent_is_not_sent_again_by_a_retry(app, db, sink):
    from chorus_chain.jobs.mail import send_mail

    mail_id = _queue_mail(app)
    with app.app_context():
        send_mail(mail_id)  # e.g. the try that sent it died before marking its outbox row done
        assert dispatch_outbox() == 1
        assert _row(mail_id).status == "done"
    assert len(sink.received) == 1


@pytest.mark.redis
def test_a_job_redis_lost_is_handed_over_again(app, db, sink, monkeypatch):
    from rq import Queue, SimpleWorker

    index = 1 + (int("".join(ch for ch in _worker() if ch.isdigit()) or 0) % 14)
    url = f"{REDIS_URL}/{index}"
    connection = Redis.from_url(url)
    connection.flushdb()
    app.config["REDIS_URL"] = url
    monkeypatch.setattr("chorus_chain.jobs.queue.RECHECK_SECONDS", 0)
    try:
        mail_id = _queue_mail(app)
        with app.app_context():
            assert dispatch_outbox() == 1
            assert Queue("mail", connection=connection).count == 1
            assert dispatch_outbox() == 0  # its job waits in the queue: not handed over twice
            connection.flushdb()  # Redis restarted empty
            assert dispatch_outbox() == 1
            queue = Queue("mail", connection=connection)
            assert queue.count == 1 and Queue("documents", connection=connection).count == 0
            SimpleWorker([queue], connection=connection).work(burst=True)
            assert _row(mail_id).status == "done"
    finally:
        app.config["REDIS_URL"] = None
        connection.flushdb()
    assert len(sink.received) == 1


def test_operators_see_the_failed_jobs_with_their_error_and_replay_them(app, db, sink):
    import html

    app.config["OUTBOX_MAX_ATTEMPTS"] = 1
    sink.refuse = True
    mail_id = _queue_mail(app)
    with app.app_context():
        dispatch_outbox()
        row_id = _row(mail_id).id
    outsider = factories.account(app, email="pas-operateur@exemple.fr")
    client = app.test_client()
    factories.login(client, outsider)
    assert client.get("/operateur/travaux").status_code == 403
    assert client.post(f"/operateur/travaux/{row_id}/relancer").status_code == 403
    operator = factories.account(app, email="operateur@exemple.fr", is_operator=True)
    client = app.test_client()
    factories.login(client, operator)
    page = html.unescape(client.get("/operateur/travaux").get_data(as_text=True))
    assert "En échec" in page and f"<td>{row_id}</td>" in page and "451" in page and "Relancer" in page
    sink.refuse = False
    response = client.post(f"/operateur/travaux/{row_id}/relancer")
    assert response.status_code == 303
    with app.app_context():
        assert _row(mail_id).status == "done"  # replayed, then handed over (inline) after the commit
    assert len(sink.received) == 1
    page = html.unescape(client.get("/operateur/travaux").get_data(as_text=True))
    assert "Aucun travail en échec." in page
