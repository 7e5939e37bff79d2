"""Webhooks: an API client subscribes to the status changes of the pieces its structure sees; each change writes a
delivery row (and its outbox job) in the change's own transaction; `jobs.webhooks` POSTs it, signed.

Who receives what is the portal's rule, nothing of its own: a subscription receives a change of a piece when its
structure sees the piece through `access.py`'s predicate — checked as that structure (`access.tenant`), so the
ORM criteria decide, not a copy of them — and its client holds the consultation right on the piece's domain (what
`pieces.show` asks of a member). The payload is built then, with only what that reader's page shows of the piece
(no amount: the figures stay the engine's, read through the API).

Subscriptions and deliveries belong to a structure and its client: every reader here filters on both.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from flask import current_app, g, has_app_context
from sqlalchemy import select

from chorus_chain import access
from chorus_chain.domain import rights as rights_rules
from chorus_chain.domain import statuses
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    ApiClient,
    MarcheParty,
    OutboxJob,
    Piece,
    Structure,
    WebhookDelivery,
    WebhookSubscription,
)
from chorus_chain.operations import OperationError
from chorus_chain.operations.structures import record
from chorus_chain.operations.webhooks import signing, urls

STATUS_CHANGED = "piece.statut_modifie"
EVENTS = {STATUS_CHANGED: "Changement de statut d'une pièce (dépôt, validation, refus, mise en paiement…)"}
MAX_SUBSCRIPTIONS = 10  # per client: a receiver per software, a few for tests or a migration
JOB = "deliver_webhook"


@dataclass(frozen=True)
class NewSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once, never stored (see models.webhooks)


def allow_local() -> bool:
    """http://localhost and loopback receivers: development and tests only (see urls)."""
    return current_app.config.get("CHORUS_ENV") == "development" or bool(current_app.testing)


def secret_of(subscription: WebhookSubscription) -> str:
    return signing.secret_of(current_app.config["SECRET_KEY"], subscription.secret_seed)


def check_url(url: str) -> str:
    """The URL as stored, or OperationError on the field `url` (production: its host resolves to public addresses
    only; resolved again at each delivery)."""
    try:
        url = urls.check(url, allow_local=allow_local())
        if not allow_local():
            _, host, port, _ = urls.target(url)
            urls.public_addresses(host, port)
    except urls.UrlRefused as refused:
        raise OperationError(refused.message_fr, field="url") from None
    return url


def _events(raw: Any) -> list[str]:
    if raw is None:
        return list(EVENTS)
    chosen = list(dict.fromkeys(str(e) for e in raw))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown or not chosen:
        raise OperationError("Choisissez les événements parmi : " + ", ".join(EVENTS) + ".", field="events")
    return chosen


def subscribe(client: ApiClient, structure: Structure, account: Account, raw: Mapping[str, Any], *,
              now: datetime) -> NewSubscription:
    """A new subscription of `client` (acting for `structure`); returns it with its secret, shown this once."""
    url = check_url(str(raw.get("url") or ""))
    events = _events(raw.get("events"))
    count = len(subscriptions_of(structure, client))
    if count >= MAX_SUBSCRIPTIONS:
        raise OperationError(f"Un client a au plus {MAX_SUBSCRIPTIONS} abonnements : supprimez-en un d'abord.",
                             field="url")
    subscription = WebhookSubscription(structure_id=structure.id, client_id=client.id, url=url, events=events,
                                       secret_seed=signing.new_seed(), active=True, created_at=now)
    db.session.add(subscription)
    db.session.flush()
    _forget_candidates()
    record(structure, account, "webhook_created", client=client.name, url=url, events=events,
           subscription_id=subscription.id)
    return NewSubscription(subscription, secret_of(subscription))


def subscriptions_of(structure: Structure, client: ApiClient | None = None) -> list[WebhookSubscription]:
    """The structure's live subscriptions (one client's, when given), newest first."""
    query = select(WebhookSubscription).where(WebhookSubscription.structure_id == structure.id,
                                              WebhookSubscription.deleted_at.is_(None))
    if client is not None:
        query = query.where(WebhookSubscription.client_id == client.id)
    return list(db.session.scalars(query.order_by(WebhookSubscription.id.desc())))


def subscription_of(structure: Structure, subscription_id: int,
                    client: ApiClient | None = None) -> WebhookSubscription | None:
    found = next((s for s in subscriptions_of(structure, client) if s.id == subscription_id), None)
    return found


def unsubscribe(structure: Structure, account: Account, subscription_id: int, *, now: datetime,
                client: ApiClient | None = None) -> WebhookSubscription:
    """Deleted at once: no delivery is written for it any more, and its pending ones are not sent (the job checks);
    its log stays on the structure's page."""
    subscription = subscription_of(structure, subscription_id, client)
    if subscription is None:
        raise OperationError("Cet abonnement n'existe pas.")
    subscription.active, subscription.deleted_at = False, now
    _forget_candidates()
    record(structure, account, "webhook_deleted", url=subscription.url, subscription_id=subscription.id)
    db.session.flush()
    return subscription


def set_active(structure: Structure, account: Account, subscription_id: int, active: bool) -> WebhookSubscription:
    """The structure's page pauses or resumes a subscription (paused: the changes write no delivery)."""
    subscription = subscription_of(structure, subscription_id)
    if subscription is None:
        raise OperationError("Cet abonnement n'existe pas.")
    subscription.active = active
    _forget_candidates()
    record(structure, account, "webhook_resumed" if active else "webhook_paused", url=subscription.url,
           subscription_id=subscription.id)
    db.session.flush()
    return subscription


def deliveries_of(subscription: WebhookSubscription, *, before_id: int | None = None,
                  limit: int = 50) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest first, `limit` of them below `before_id` (the API's cursor)."""
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    return list(db.session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def recent_deliveries(structure: Structure, limit: int = 100) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
    """The structure's delivery log (its page), newest first."""
    return list(db.session.execute(
        select(WebhookDelivery, WebhookSubscription)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookSubscription.structure_id == structure.id)
        .order_by(WebhookDelivery.id.desc()).limit(limit)).all())


def delivery_of(subscription: WebhookSubscription, delivery_id: int) -> WebhookDelivery | None:
    return db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                           WebhookDelivery.subscription_id == subscription.id))


def redeliver(subscription: WebhookSubscription, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Send a delivery again (delivered, or given up): tries counted from zero, through a new outbox job. A
    delivery still being tried is refused: its retries are under way."""
    delivery = delivery_of(subscription, delivery_id)
    if delivery is None:
        raise OperationError("Cette livraison n'existe pas.")
    if delivery.status == "pending":
        raise OperationError("Cette livraison est déjà en cours d'envoi : ses essais se poursuivent.")
    if subscription.deleted_at is not None or not subscription.active:
        raise OperationError("Cet abonnement est suspendu ou supprimé : réactivez-le d'abord.")
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.failed_at = None
    _queue(delivery)
    return delivery


def _queue(delivery: WebhookDelivery) -> None:
    job = OutboxJob(job=JOB, payload={"delivery_id": delivery.id})
    db.session.add(job)
    db.session.flush()
    delivery.outbox_job_id = job.id


# ---------------------------------------------------------------------------------------------------------------------
# The outbox side: a status change writes its deliveries


@dataclass(frozen=True)
class Candidate:
    """An active subscription of a structure on a marché, with what its client may read (plain values: kept for the
    request, they outlive the savepoints a batch deposit rolls back)."""

    subscription_id: int
    structure_id: int
    events: tuple[str, ...]
    revoked: bool
    expires_at: datetime
    rights: tuple[tuple[str, str], ...]

    def reads(self, domain: str, at: datetime) -> bool:
        return (not self.revoked and self.expires_at > at
                and rights_rules.allows(dict(self.rights).get(domain, "none"), "consultation"))


_CACHE = "_webhook_candidates"


def _candidates(marche_id: int) -> list[Candidate]:
    """The active subscriptions of the structures on the marché (the only ones the chain can grant a piece to: this
    narrows, the predicate decides), with their clients' rights — read once per marché and transaction (a batch of
    a hundred deposits on one marché asks once): kept for the session's transaction under way only (a long-lived
    app context, the clock's, reads them again after each commit), and forgotten by a change of subscription."""
    cache = _cache()
    if marche_id in cache:
        return cache[marche_id]
    return prefetch_candidates([marche_id]).get(marche_id, [])


def prefetch_candidates(marche_ids) -> dict[int, list[Candidate]]:
    """Read the candidates of these marchés at once, into the transaction's cache `_candidates` answers from (the
    deadline sweep's batch: one query for its marchés, not one per marché)."""
    cache = _cache()
    wanted = sorted({int(marche_id) for marche_id in marche_ids} - set(cache))
    if not wanted:
        return {}
    found: dict[int, list[Candidate]] = {marche_id: [] for marche_id in wanted}
    parties = (select(MarcheParty.marche_id, MarcheParty.structure_id).where(MarcheParty.marche_id.in_(wanted))
               .distinct().subquery())
    rows = db.session.execute(
        select(parties.c.marche_id, WebhookSubscription.id, WebhookSubscription.structure_id,
               WebhookSubscription.events, ApiClient.revoked_at, ApiClient.expires_at, ApiClient.right_emises,
               ApiClient.right_travaux, ApiClient.right_recues)
        .join(ApiClient, ApiClient.id == WebhookSubscription.client_id)
        .join(parties, parties.c.structure_id == WebhookSubscription.structure_id)
        .where(WebhookSubscription.active.is_(True), WebhookSubscription.deleted_at.is_(None))
        .order_by(parties.c.marche_id, WebhookSubscription.id)).all()
    for row in rows:
        found[row[0]].append(Candidate(row[1], row[2], tuple(row[3] or ()), row[4] is not None, row[5],
                                       (("emises", row[6]), ("travaux", row[7]), ("recues", row[8]))))
    cache.update(found)
    return found


def _cache() -> dict[int, list[Candidate]]:
    if not has_app_context():
        return {}
    transaction = db.session().get_transaction()
    held = g.get(_CACHE)
    if held is None or transaction is None or held[0] is not transaction:
        held = (transaction, {})
        setattr(g, _CACHE, held)
    return held[1]


def _forget_candidates() -> None:
    if has_app_context():
        g.pop(_CACHE, None)


def sees(structure_id: int, piece: Piece) -> bool:
    """Whether the structure sees the piece: asked as that structure, through the access predicate (its ORM
    criteria, and row-level security on PostgreSQL). Nothing is flushed under its tenant: the actor's pending
    changes are flushed under the actor's, who made them."""
    with db.session.no_autoflush, access.tenant(structure_id):
        return db.session.scalar(select(Piece.id).where(Piece.id == piece.id, access.visible_to(structure_id))
                                 ) is not None


def status_changed(piece: Piece, *, action: str, from_status: str | None, to_status: str, reason: str | None,
                   at: datetime) -> int:
    """Write the deliveries of one status change of `piece` (in the caller's transaction); returns how many."""
    from chorus_chain.operations.pieces_records import rights_domain

    candidates = _candidates(piece.marche_id)
    if not candidates:
        return 0
    event_id = "evt_" + secrets.token_hex(16)
    written = 0
    for candidate in candidates:
        if STATUS_CHANGED not in candidate.events:
            continue
        if not candidate.reads(rights_domain(piece, candidate.structure_id), at):
            continue
        if not sees(candidate.structure_id, piece):
            continue
        delivery = WebhookDelivery(subscription_id=candidate.subscription_id, event_id=event_id, event=STATUS_CHANGED,
                                   piece_id=piece.id, created_at=at, status="pending", attempts=0,
                                   next_attempt_at=at,
                                   payload=payload(event_id, piece, action=action, from_status=from_status,
                                                   to_status=to_status, reason=reason, at=at))
        db.session.add(delivery)
        db.session.flush()
        _queue(delivery)
        written += 1
    return written


def payload(event_id: str, piece: Piece, *, action: str, from_status: str | None, to_status: str,
            reason: str | None, at: datetime) -> dict[str, Any]:
    """What a receiver gets: the event, and the piece as a line of its list (number, statuses, marché) — follow
    `GET /api/v1/pieces/{id}` for the rest, read with the client's own rights."""
    return {
        "id": event_id,
        "type": STATUS_CHANGED,
        "cree_le": at.isoformat(),
        "donnees": {
            "piece_id": piece.id,
            "numero": piece.number,
            "type_piece": piece.piece_type,
            "cadre": piece.cadre,
            "marche_id": piece.marche_id,
            "action": str(action),
            "statut_precedent": None if from_status is None else str(from_status),
            "statut": str(to_status),
            "statut_libelle": statuses.label(str(to_status)),
            "motif": reason,
            "url": f"/api/v1/pieces/{piece.id}",
        },
    }
