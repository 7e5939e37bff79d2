"""Webhooks (issue 17): an API client's subscription to the status changes of the pieces its structure sees, and
the deliveries the changes wrote (the log an integrator and the structure's page read).

A delivery row is written in the transaction of the status change (an outbox: a rolled-back change delivers
nothing, a committed one loses nothing); its `OutboxJob` (kind "deliver_webhook") is what claims, retries with
backoff and gives up (`jobs.outbox`) — the delivery row keeps what the integrator needs to read: tries, the next
one, the last answer, when it was delivered or given up.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookSubscription(Base):
    """An https URL a client of a structure asked the status changes to be POSTed to, signed with its secret.

    The secret is never stored: `secret_seed` is a random value and the secret is HMAC-SHA256(SECRET_KEY, seed)
    (`operations.webhooks.signing.secret_of`). Why not a hash, as the API clients' secrets: we must sign with the
    secret itself, so the server must be able to recompute it; why not the secret in clear: a copy of the database
    alone must not let anyone forge our signatures — it also needs the application's key, which is not in it.
    (Changing SECRET_KEY therefore changes every webhook secret: the integrators then read the new one by
    recreating their subscription.)"""

    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id"), index=True)  # its rights filter the events
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list] = mapped_column(JSON, default=list)  # names of operations.webhooks.EVENTS
    secret_seed: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]  # deleted by the client: no more deliveries, its log stays readable


class WebhookDelivery(Base):
    """One event for one subscription: its payload (built when the change happened, as the subscriber may read
    it), and how its delivery went."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint(check_in("status", DELIVERY_STATUSES), name="status"),
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_subscription_event"),
        # The delivery log of a subscription, newest first.
        Index("ix_webhook_delivery_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id"))
    event_id: Mapped[str] = mapped_column(String(40))  # "evt_…": the same for every subscriber of one change
    event: Mapped[str] = mapped_column(String(60))
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"))
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # POSTs tried
    next_attempt_at: Mapped[datetime | None]  # the outbox's backoff: when the next try may run
    last_status_code: Mapped[int | None]  # the endpoint's HTTP answer (None: no answer — refused, timeout…)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]  # given up after the last try
    outbox_job_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_job.id"))
