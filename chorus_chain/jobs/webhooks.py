"""Delivering a webhook: one POST of a delivery row's payload, signed, run by the outbox (`jobs.outbox`).

The outbox claims the row with a lease (one try at a time), retries with its backoff on any failure and gives up
after its last try (`give_up` then marks the delivery « en échec »). This job only POSTs and records what the
receiver answered: a 2xx is delivered (recorded `durably`: a retry then finds it delivered and sends nothing);
anything else — another status, a refused connection, a timeout, an address that is no longer public — is recorded
on the delivery and raised, so the outbox tries again.

Receivers must accept the same event twice (its `id` is in the body and in `Chorus-Event-Id`): a receiver that
answered 2xx after we lost the connection, or a process killed between its answer and our commit, gets it again.
Redirects are not followed (a 3xx is a failure): a redirect could lead to an address we would have refused.
The kind is `effect_outside="http"` (jobs.queue): a try's claim outlasts its POST and the durable record after it, so
no second try POSTs while the first may still record that the receiver took it.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import time

from flask import current_app

from chorus_chain.extensions import db
from chorus_chain.jobs.context import describe_error, durably, job_context
from chorus_chain.models import ApiClient, OutboxJob, WebhookDelivery, WebhookSubscription
from chorus_chain.models.base import utcnow
from chorus_chain.operations import webhooks
from chorus_chain.operations.webhooks import signing, urls

USER_AGENT = "chorus-chain-webhooks/1"
RESPONSE_KEPT = 200  # characters of a refusing receiver's answer kept for the log


class DeliveryRefused(Exception):
    """The receiver did not take the delivery (French message for the log)."""


def deliver(delivery_id: int) -> None:
    with job_context():
        _deliver(delivery_id)


def _deliver(delivery_id: int) -> None:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != "pending":  # delivered already (safe to run twice), or given up
        db.session.commit()
        return
    subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
    client = db.session.get(ApiClient, subscription.client_id)
    now = utcnow()
    stopped = _stopped(subscription, client, now)
    if stopped is not None:  # nothing to retry: the subscriber is gone
        delivery.status, delivery.failed_at, delivery.next_attempt_at, delivery.last_error = "failed", now, None, stopped
        db.session.commit()
        return
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "Chorus-Event": delivery.event, "Chorus-Event-Id": delivery.event_id,
               signing.HEADER: signing.header(webhooks.secret_of(subscription), timestamp, body)}
    url, outbox_job_id = subscription.url, delivery.outbox_job_id
    delivery.attempts += 1
    db.session.commit()  # the try is counted even if the process dies during it
    try:
        status, answer = post(url, body, headers)
        if not 200 <= status < 300:
            raise DeliveryRefused(f"HTTP {status} : {answer}" if answer else f"HTTP {status}")
    except Exception as exc:
        db.session.rollback()
        error = exc.args[0] if isinstance(exc, (DeliveryRefused, urls.UrlRefused)) and exc.args else describe_error(exc)
        code = status if isinstance(exc, DeliveryRefused) else None
        durably(lambda: _record_failure(delivery_id, outbox_job_id, code, str(error)))
        raise
    durably(lambda: _record(delivery_id, status="delivered", delivered_at=utcnow(), last_status_code=status,
                            last_error=None, next_attempt_at=None))


def _stopped(subscription: WebhookSubscription, client: ApiClient, now) -> str | None:
    if subscription.deleted_at is not None:
        return "Abonnement supprimé : livraison abandonnée."
    if not subscription.active:
        return "Abonnement suspendu : livraison abandonnée."
    if not client.active(now):
        return "Client de l'API révoqué ou expiré : livraison abandonnée."
    return None


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body` to `url`; returns (status, the start of the answer). Outside development and tests the host must
    resolve to public addresses only, and the connection goes to the address checked (not to a second lookup that
    could answer otherwise); TLS is still checked against the host's name."""
    scheme, host, port, path = urls.target(url)
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    address = host
    if not webhooks.allow_local():
        address = urls.public_addresses(host, port)[0]
    if scheme == "https":
        connection = _PinnedHTTPS(host, port, address, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers={**headers, "Host": _host_header(host, port, scheme)})
        response = connection.getresponse()
        answer = response.read(RESPONSE_KEPT).decode("utf-8", "replace").strip()
        return response.status, answer
    finally:
        connection.close()


def _host_header(host: str, port: int, scheme: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address, with the certificate checked against the host's name."""

    def __init__(self, host: str, port: int, address: str, *, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _record(delivery_id: int, **values) -> None:
    delivery = db.session.get(WebhookDelivery, delivery_id)
    for name, value in values.items():
        setattr(delivery, name, value)
    db.session.commit()


def _record_failure(delivery_id: int, outbox_job_id: int | None, status: int | None, error: str) -> None:
    """What the receiver answered, and when the outbox will try again (its backoff, from its count of tries; none
    after the last one — `give_up` then says so)."""
    from chorus_chain.jobs.outbox import backoff, max_attempts

    job = db.session.get(OutboxJob, outbox_job_id) if outbox_job_id else None
    tries = job.attempts if job is not None else 0
    following = utcnow() + backoff(tries) if job is not None and tries < max_attempts() else None
    _record(delivery_id, last_status_code=status, last_error=error[:500], next_attempt_at=following)


def give_up(error: str, delivery_id: int) -> None:
    """The outbox gave up (its last try failed): the delivery is « en échec », in the same transaction."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is not None and delivery.status == "pending":
        delivery.status, delivery.failed_at, delivery.next_attempt_at = "failed", utcnow(), None
        delivery.last_error = (delivery.last_error or error)[:500]


def replay(delivery_id: int) -> None:
    """An operator replayed the outbox row: the delivery is pending again, its tries counted from zero."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is not None:
        delivery.status, delivery.attempts, delivery.failed_at, delivery.next_attempt_at = "pending", 0, None, utcnow()
