"""Jobs through the real Redis and rq: the outbox is dispatched after commit, survives Redis being down, and the
worker runs the same job functions as the inline mode."""
from __future__ import annotations

import pytest
from redis import Redis

from chorus_chain.extensions import db
from chorus_chain.models import MailMessage, OutboxJob
from tests import factories
from tests.conftest import REDIS_URL, _worker

pytestmark = pytest.mark.redis
DEAD_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there


@pytest.fixture
def redis_url(app):
    """A Redis database of this xdist worker's own, empty, set as the app's queue."""
    index = 1 + (int("".join(ch for ch in _worker() if ch.isdigit()) or 0) % 14)
    url = f"{REDIS_URL}/{index}"
    Redis.from_url(url).flushdb()
    app.config["REDIS_URL"] = url
    yield url
    app.config["REDIS_URL"] = None
    Redis.from_url(url).flushdb()


def _signup(client, email):
    return client.post("/inscription", data={"first_name": "Rq", "last_name": "Test", "email": email,
                                             "password": "une phrase assez longue 2026"})


def _mails(app):
    with app.app_context():
        return [(m.to_address, m.sent_at is not None) for m in db.session.scalars(db.select(MailMessage))]


def _pending_outbox(app):
    """Rows not handed over yet."""
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(OutboxJob)
                                 .where(OutboxJob.status == "pending", OutboxJob.dispatched_at.is_(None)))


def test_healthz_reports_redis(app, client, redis_url):
    body = client.get("/healthz").get_json()
    assert body["checks"]["redis"] == {"ok": True}
    app.config["REDIS_URL"] = DEAD_REDIS
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"]["ok"] is False


def test_mail_goes_through_rq_and_a_worker_sends_it(app, client, redis_url):
    from rq import Queue, SimpleWorker

    assert _signup(client, "rq@exemple.fr").status_code == 200
    assert _mails(app) == [("rq@exemple.fr", False)]  # queued, not sent by the request
    assert _pending_outbox(app) == 0  # handed to rq
    connection = Redis.from_url(redis_url)
    queue = Queue("mail", connection=connection)
    assert queue.count == 1
    with app.app_context():
        SimpleWorker([queue], connection=connection).work(burst=True)
    assert _mails(app) == [("rq@exemple.fr", True)]


def test_redis_down_loses_nothing(app, client, redis_url):
    from rq import Queue

    app.config["REDIS_URL"] = DEAD_REDIS
    assert _signup(client, "panne@exemple.fr").status_code == 200  # the user's action succeeded
    assert _pending_outbox(app) == 1  # the e-mail waits in the outbox, committed
    app.config["REDIS_URL"] = redis_url
    from chorus_chain.jobs.periodic import dispatch_pending_outbox

    with app.app_context():
        assert dispatch_pending_outbox() == 1
        assert dispatch_pending_outbox() == 0  # never twice
    assert Queue("mail", connection=Redis.from_url(redis_url)).count == 1


def test_rolled_back_change_sends_nothing(app, client):
    # A refused sign-up (weak password) answers 422: rolled back, no mail, no outbox row.
    response = client.post("/inscription", data={"first_name": "A", "last_name": "B", "email": "no@exemple.fr",
                                                 "password": "court"})
    assert response.status_code == 422
    assert _mails(app) == [] and _pending_outbox(app) == 0


def test_send_mail_twice_sends_once(app, db):
    from chorus_chain.jobs.mail import send_mail
    from chorus_chain.operations.mail import queue_mail

    with app.test_request_context():
        mail = queue_mail("deux@exemple.fr", "password_changed", account=factories.account(app))
        db.session.commit()
        send_mail(mail.id)
        first = db.session.get(MailMessage, mail.id).sent_at
        send_mail(mail.id)
        assert db.session.get(MailMessage, mail.id).sent_at == first
        assert db.session.get(MailMessage, mail.id).attempts == 1
