"""Webhooks: a client subscribes to the status changes of the pieces its structure sees (`operations.webhooks`),
reads the log of its deliveries and asks for one again. Each client manages its own subscriptions (another
client's are « introuvables »); the structure's page shows them all.

Rights: reading needs the consultation right on a domain of pieces (a delivery tells a piece's status); making,
deleting or re-sending changes the structure's settings: the organisation's modification right as well."""
from __future__ import annotations

from flask import g
from flask.views import MethodView

from chorus_chain.api import links
from chorus_chain.api import schemas as S
from chorus_chain.api.core import api_blueprint, has_right, idempotent, now
from chorus_chain.api.problems import problem
from chorus_chain.models import WebhookDelivery, WebhookSubscription
from chorus_chain.operations import webhooks as ops

bp = api_blueprint("api_webhooks", "/webhooks", "Webhooks : être prévenu des changements de statut des pièces.")
PIECE_DOMAINS = ("emises", "travaux", "recues")


def _may(write: bool) -> bool:
    reads = any(has_right(domain, "consultation") for domain in PIECE_DOMAINS)
    return reads and (not write or has_right("organisation", "modification"))


def subscription_out(row: WebhookSubscription) -> dict:
    return {"id": row.id, "url": row.url, "evenements": list(row.events or ()), "actif": row.active,
            "cree_le": row.created_at}


def delivery_out(row: WebhookDelivery) -> dict:
    return {"id": row.id, "evenement_id": row.event_id, "evenement": row.event, "piece_id": row.piece_id,
            "statut": row.status, "essais": row.attempts, "prochain_essai_le": row.next_attempt_at,
            "dernier_code_http": row.last_status_code, "derniere_erreur": row.last_error,
            "livree_le": row.delivered_at, "abandonnee_le": row.failed_at, "cree_le": row.created_at,
            "contenu": row.payload}


def _subscription(subscription_id: int, *, write: bool = False) -> WebhookSubscription | tuple:
    if not _may(write):
        return problem(403)
    row = ops.subscription_of(g.structure, subscription_id, g.api_client)
    return row if row is not None else problem(404)


@bp.post("")
@idempotent(bp)
@bp.arguments(S.WebhookIn)
@bp.response(201, S.WebhookCreated)
@bp.doc(responses=links.responses(201, links.SUBSCRIPTION_LINKS))
@bp.problems(400, 401, 403, 422, 429)
def create(body):
    """S'abonner : l'adresse (https://) reçoit en POST chaque changement de statut d'une pièce que la structure voit
    et que les droits du client lui laissent lire, signé avec le secret rendu ici une seule fois. Un envoi refusé
    (autre réponse que 2xx, pas de réponse en 10 s) est réessayé, de plus en plus espacé, puis abandonné :
    suivez-le dans `GET /webhooks/{id}/livraisons`."""
    if not _may(write=True):
        return problem(403)
    made = ops.subscribe(g.api_client, g.structure, g.api_account, {"url": body["url"],
                                                                     "events": body["evenements"]}, now=now())
    return {**subscription_out(made.subscription), "secret": made.secret}


@bp.get("")
@bp.response(200, S.WebhookList)
@bp.problems(401, 403, 429)
def index():
    """Les abonnements de ce client."""
    if not _may(write=False):
        return problem(403)
    return {"items": [subscription_out(row) for row in ops.subscriptions_of(g.structure, g.api_client)]}


# One rule for both methods (a MethodView): werkzeug answers 405 instead of 404 for an id beyond the converter's
# bounds when a GET rule and a DELETE rule share the path.
@bp.route("/<int:subscription_id>", endpoint="subscription")
class Subscription(MethodView):

    @bp.response(200, S.WebhookOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, subscription_id: int):
        """Un abonnement de ce client."""
        row = _subscription(subscription_id)
        return subscription_out(row) if isinstance(row, WebhookSubscription) else row

    @bp.response(204)
    @bp.problems(401, 403, 404, 429)
    def delete(self, subscription_id: int):
        """Se désabonner : plus aucun envoi, même ceux en attente ; le journal des livraisons reste lisible sur la
        page de la structure."""
        row = _subscription(subscription_id, write=True)
        if not isinstance(row, WebhookSubscription):
            return row
        ops.unsubscribe(g.structure, g.api_account, row.id, now=now(), client=g.api_client)
        return None


@bp.get("/<int:subscription_id>/livraisons")
@bp.arguments(S.LivraisonQuery, location="query")
@bp.response(200, S.LivraisonList)
@bp.problems(401, 403, 404, 422, 429)
def deliveries(query, subscription_id: int):
    """Le journal des livraisons d'un abonnement, les plus récentes d'abord, par pages (`curseur_suivant`)."""
    row = _subscription(subscription_id)
    if not isinstance(row, WebhookSubscription):
        return row
    before = min(int(query["curseur"]), 2**31 - 1) if query["curseur"] else None
    rows = ops.deliveries_of(row, before_id=before, limit=query["limite"] + 1)
    more = len(rows) > query["limite"]
    rows = rows[:query["limite"]]
    return {"items": [delivery_out(d) for d in rows], "curseur_suivant": str(rows[-1].id) if more else None}


@bp.post("/<int:subscription_id>/livraisons/<int:livraison_id>/relivrer")
@idempotent(bp)
@bp.response(202, S.LivraisonOut)
@bp.problems(401, 403, 404, 422, 429)
def redeliver(subscription_id: int, livraison_id: int):
    """Envoyer une livraison à nouveau (livrée, ou abandonnée), essais comptés depuis zéro ; refusé (422) tant que
    ses essais sont en cours."""
    row = _subscription(subscription_id, write=True)
    if not isinstance(row, WebhookSubscription):
        return row
    if ops.delivery_of(row, livraison_id) is None:
        return problem(404)
    return delivery_out(ops.redeliver(row, livraison_id, now=now()))
