"""Webhooks (issue 17): a status change writes its deliveries in its own transaction, for the subscriptions whose
structure sees the piece (the access predicate) with a client holding the right; the outbox's job POSTs each one,
signed, to a real HTTP server on loopback, retries a refusing receiver with backoff, gives up after its last try and
says so; a neighbour's piece is never delivered.

The worked example is the pieces world's (tests/integration/pieces_world.py)."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.jobs import outbox
from chorus_chain.jobs.queue import dispatch_outbox
from chorus_chain.models import Account, ApiClient, OutboxJob, Structure, WebhookDelivery, WebhookSubscription
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError, webhooks
from chorus_chain.operations.webhooks import signing
from tests.integration import pieces_world as pw
from tests.integration.api_world import new_client


class Receiver:
    """A real HTTP server on loopback recording what it receives; `answers` are the statuses it gives in turn (the
    last one repeated)."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers = [200]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"indisponible")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/chorus/evenements"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        """Stop listening (idempotent): a receiver that is down refuses the connection."""
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(app):
    with Receiver() as running:
        yield running
    app.config.update(OUTBOX_BACKOFF_SECONDS=30, OUTBOX_MAX_ATTEMPTS=8)


@pytest.fixture
def w(app, db):
    return pw.world(app)


def subscribe(app, who: pw.Actor, url: str, **rights) -> tuple[int, str]:
    """(subscription id, secret) of a new client of `who`'s structure (FULL rights unless given)."""
    client_id, _ = new_client(app, who.structure_id, who.account_id, **rights)
    with app.test_request_context():
        client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        made = webhooks.subscribe(client, db.session.get(Structure, who.structure_id),
                                  db.session.get(Account, who.account_id), {"url": url}, now=utcnow())
        db.session.commit()
        return made.subscription.id, made.secret


def deliveries(app, subscription_id: int) -> list[WebhookDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
                                       .order_by(WebhookDelivery.id)))
        db.session.expunge_all()
        return rows


def payloads(receiver: Receiver) -> list[dict]:
    return [json.loads(item["body"]) for item in receiver.received]


def test_a_status_change_is_delivered_signed_once(app, w, receiver):
    subscription_id, secret = subscribe(app, w.mandataire, receiver.url)
    piece_id = pw.deposit(app, w, w.st1, "A10", "WH-1")
    # Written with the deposit, in its transaction; nothing sent before the outbox hands it over.
    [written] = deliveries(app, subscription_id)
    assert written.status == "pending" and written.piece_id == piece_id and receiver.received == []
    with app.app_context():
        assert dispatch_outbox() >= 1  # the delivery, and the deposit's e-mails
        assert dispatch_outbox() == 0  # delivered: never again
    [got] = receiver.received
    assert got["path"] == "/chorus/evenements"
    assert signing.verify(secret, got["headers"]["Chorus-Signature"], got["body"], int(time.time()))
    assert not signing.verify(secret + "x", got["headers"]["Chorus-Signature"], got["body"], int(time.time()))
    assert not signing.verify(secret, got["headers"]["Chorus-Signature"], got["body"] + b" ", int(time.time()))
    assert not signing.verify(secret, got["headers"]["Chorus-Signature"], got["body"], int(time.time()) + 3600)
    body = json.loads(got["body"])
    assert body["type"] == "piece.statut_modifie" and body["id"] == got["headers"]["Chorus-Event-Id"]
    assert body["donnees"]["piece_id"] == piece_id and body["donnees"]["numero"] == "WH-1"
    assert body["donnees"]["statut"] == pw.status_of(app, piece_id)
    assert body["donnees"]["statut_libelle"] and body["donnees"]["statut_precedent"] == "BROUILLON"
    [done] = deliveries(app, subscription_id)
    assert done.status == "delivered" and done.attempts == 1 and done.last_status_code == 200
    assert done.delivered_at is not None and done.next_attempt_at is None

    # The mandataire validates: each change of status it makes (its own, and the platform's move onward) is one
    # more event, delivered in order, each statut_precedent being the previous one's statut.
    pw.act(app, w.mandataire, piece_id, "validate", now=pw.later(1))
    with app.app_context():
        dispatch_outbox()
    chain = [(p["donnees"]["statut_precedent"], p["donnees"]["statut"]) for p in payloads(receiver)]
    assert len(chain) >= 2 and chain[-1][1] == pw.status_of(app, piece_id)
    assert all(before[1] == after[0] for before, after in zip(chain, chain[1:]))
    assert len({p["id"] for p in payloads(receiver)}) == len(receiver.received)


def test_a_rolled_back_change_delivers_nothing(app, w, receiver):
    subscription_id, _ = subscribe(app, w.mandataire, receiver.url)
    piece_id = pw.create(app, w, w.st1, "A10", "WH-2")
    from chorus_chain.operations import pieces as ops

    with pytest.raises(RuntimeError):
        with app.test_request_context(), access.tenant(w.st1.structure_id):
            ops.deposit(piece_id, db.session.get(Account, w.st1.account_id),
                        db.session.get(Structure, w.st1.structure_id), now=pw.NOW)
            raise RuntimeError("the request fails after the change")
    with app.app_context():
        db.session.rollback()
    assert deliveries(app, subscription_id) == [] and pw.status_of(app, piece_id) == "BROUILLON"


def test_a_refusing_receiver_is_retried_with_backoff_then_given_up_and_redelivered(app, w, receiver):
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_BACKOFF_SECONDS=30)
    receiver.answers = [503]
    subscription_id, _ = subscribe(app, w.mandataire, receiver.url)
    pw.deposit(app, w, w.st1, "A10", "WH-3")
    with app.app_context():
        before = utcnow()
        dispatch_outbox()
        assert dispatch_outbox() == 0  # its backoff has not passed
    [first] = deliveries(app, subscription_id)
    assert first.status == "pending" and first.attempts == 1 and first.last_status_code == 503
    assert "HTTP 503" in first.last_error
    assert timedelta(seconds=29) < first.next_attempt_at - before < timedelta(seconds=35)
    with app.app_context():
        job = db.session.get(OutboxJob, first.outbox_job_id)
        assert job.status == "pending" and timedelta(seconds=29) < job.available_at - before < timedelta(seconds=35)
        app.config["OUTBOX_BACKOFF_SECONDS"] = 0  # time passes: the next tries are due at once
        job.available_at = utcnow()
        db.session.commit()
        dispatch_outbox()
        dispatch_outbox()
        assert dispatch_outbox() == 0  # given up: not tried again by itself
        assert db.session.get(OutboxJob, first.outbox_job_id).status == "failed"
    [given_up] = deliveries(app, subscription_id)
    assert given_up.status == "failed" and given_up.attempts == 3 and given_up.failed_at is not None
    assert given_up.next_attempt_at is None and given_up.last_status_code == 503
    assert len(receiver.received) == 3
    assert len({p["id"] for p in payloads(receiver)}) == 1  # the same event each time

    # The receiver is back; the client asks for it again: tries counted from zero, a new outbox job.
    receiver.answers = [204]
    with app.test_request_context():
        subscription = db.session.get(WebhookSubscription, subscription_id)
        again = webhooks.redeliver(subscription, given_up.id, now=utcnow())
        assert again.outbox_job_id != given_up.outbox_job_id
        db.session.commit()
        with pytest.raises(OperationError):  # already under way
            webhooks.redeliver(subscription, given_up.id, now=utcnow())
        db.session.rollback()
        dispatch_outbox()
    [delivered] = deliveries(app, subscription_id)
    assert delivered.status == "delivered" and delivered.attempts == 1 and delivered.last_status_code == 204
    assert len(receiver.received) == 4


def test_an_unreachable_receiver_fails_the_try_with_its_error(app, w, receiver):
    receiver.stop()  # nobody listens there any more
    subscription_id, _ = subscribe(app, w.mandataire, receiver.url)
    pw.deposit(app, w, w.st1, "A10", "WH-4")
    with app.app_context():
        dispatch_outbox()
    [row] = deliveries(app, subscription_id)
    assert row.status == "pending" and row.attempts == 1 and row.last_status_code is None
    assert "ConnectionRefused" in row.last_error


def test_a_neighbours_piece_is_never_delivered(app, w, receiver):
    """Subscribers on the same marché: the sibling sous-traitant sees nothing of st1's PDM; nobody but st1 sees
    st2's private invoice to st1 (loi 75-1334: its two parties only) — not the mandataire, not the MOA."""
    subscribed = {who.key: subscribe(app, who, receiver.url)[0]
                  for who in (w.mandataire, w.sibling, w.moa, w.st1, w.st2)}
    pdm = pw.deposit(app, w, w.st1, "A10", "WH-5")
    private = pw.deposit(app, w, w.st2, None, "WH-PP", ht="1000.00", tva="0.00")
    got = {key: {d.piece_id for d in deliveries(app, sid)} for key, sid in subscribed.items()}
    assert got["sibling"] == set()
    assert private not in got["mandataire"] and private not in got["moa"]
    assert got["st1"] == {pdm, private} and got["st2"] == {private}
    assert pdm in got["mandataire"] and pdm in got["moa"]
    with app.app_context():
        dispatch_outbox()
    delivered_pieces = [p["donnees"]["piece_id"] for p in payloads(receiver)]
    assert delivered_pieces.count(private) == 2  # st1 and st2, nobody else


def test_a_client_without_the_right_gets_nothing_and_a_revoked_one_stops(app, w, receiver):
    no_right, _ = subscribe(app, w.mandataire, receiver.url, right_emises="none", right_travaux="none",
                            right_recues="none", right_organisation="modification")
    with_right, _ = subscribe(app, w.mandataire, receiver.url)
    pw.deposit(app, w, w.st1, "A10", "WH-6")
    assert deliveries(app, no_right) == [] and len(deliveries(app, with_right)) == 1
    with app.test_request_context():
        subscription = db.session.get(WebhookSubscription, with_right)
        db.session.get(ApiClient, subscription.client_id).revoked_at = utcnow()
        db.session.commit()
        dispatch_outbox()
    [stopped] = deliveries(app, with_right)
    assert stopped.status == "failed" and "révoqué" in stopped.last_error and receiver.received == []


def test_a_deleted_subscription_gets_no_more_deliveries(app, w, receiver):
    subscription_id, _ = subscribe(app, w.mandataire, receiver.url)
    with app.test_request_context():
        structure = db.session.get(Structure, w.mandataire.structure_id)
        webhooks.unsubscribe(structure, db.session.get(Account, w.mandataire.account_id), subscription_id,
                             now=utcnow())
        db.session.commit()
        assert webhooks.subscriptions_of(structure) == []
    pw.deposit(app, w, w.st1, "A10", "WH-7")
    assert deliveries(app, subscription_id) == []


def test_the_subscription_url_is_checked(app, w):
    client_id, _ = new_client(app, w.mandataire.structure_id, w.mandataire.account_id)
    with app.test_request_context():
        client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        structure = db.session.get(Structure, w.mandataire.structure_id)
        account = db.session.get(Account, w.mandataire.account_id)
        for url in ("ftp://exemple.fr/x", "http://exemple.fr/x", "https://user:pw@exemple.fr/x", "", "https://"):
            with pytest.raises(OperationError) as refused:
                webhooks.subscribe(client, structure, account, {"url": url}, now=utcnow())
            assert refused.value.field == "url"
        with pytest.raises(OperationError) as refused:
            webhooks.subscribe(client, structure, account, {"url": "https://exemple.fr/x", "events": ["autre"]},
                               now=utcnow())
        assert refused.value.field == "events"
        db.session.rollback()


def test_the_structures_page_shows_the_subscriptions_and_the_log_and_pauses_them(app, w, receiver):
    subscription_id, _ = subscribe(app, w.mandataire, receiver.url)
    pw.deposit(app, w, w.st1, "A10", "WH-8")
    with app.app_context():
        dispatch_outbox()
    http = pw.logged_in(app, w.mandataire)
    page = http.get(f"/s/{w.mandataire.siret}/organisation/api/webhooks")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and receiver.url in html and "WH-8" in html and "Livré" in html
    assert "Logiciel de test" in html and "Suspendre" in html
    # Another structure's page shows nothing of it.
    other = pw.logged_in(app, w.sibling).get(f"/s/{w.sibling.siret}/organisation/api/webhooks")
    assert other.status_code == 200 and receiver.url not in other.get_data(as_text=True)
    assert pw.logged_in(app, w.sibling).post(
        f"/s/{w.sibling.siret}/organisation/api/webhooks/{subscription_id}/suspendre").status_code == 404

    paused = http.post(f"/s/{w.mandataire.siret}/organisation/api/webhooks/{subscription_id}/suspendre")
    assert paused.status_code == 302
    pw.deposit(app, w, w.st1, "A10", "WH-9")
    assert [d.payload["donnees"]["numero"] for d in deliveries(app, subscription_id)] == ["WH-8"]
    assert "Reprendre" in http.get(f"/s/{w.mandataire.siret}/organisation/api/webhooks").get_data(as_text=True)
    http.post(f"/s/{w.mandataire.siret}/organisation/api/webhooks/{subscription_id}/reprendre")
    pw.deposit(app, w, w.st1, "A10", "WH-10")
    assert [d.payload["donnees"]["numero"] for d in deliveries(app, subscription_id)] == ["WH-8", "WH-10"]
