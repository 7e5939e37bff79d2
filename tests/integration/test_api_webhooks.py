"""Webhooks through the API: subscribe (the secret shown once), receive the changes of a piece deposited and acted
on through the API, read the delivery log by pages, ask for a delivery again, unsubscribe; refusals in problem+json
with the field and a French message, storing nothing; one client never reaches another's subscriptions."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import WebhookDelivery, WebhookSubscription
from chorus_chain.operations.webhooks import signing
from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer
from tests.integration.test_api import _body, _problem
from tests.integration.test_webhooks import Receiver


@pytest.fixture
def w(app, db):
    return pw.world(app)


@pytest.fixture
def receiver(app):
    with Receiver() as running:
        yield running


def _count(app, model):
    with pw.system(app):
        return db.session.scalar(select(func.count()).select_from(model))


def test_subscribe_receive_read_the_log_redeliver_and_unsubscribe(app, client, w, receiver):
    moe = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    created = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=moe)
    assert created.status_code == 201, created.get_data(as_text=True)
    subscription = created.get_json()
    secret = subscription.pop("secret")
    assert secret.startswith("whsec_") and subscription["evenements"] == ["piece.statut_modifie"]
    listed = client.get("/api/v1/webhooks", headers=moe).get_json()["items"]
    assert listed == [subscription] and "secret" not in json.dumps(listed)

    # The mandataire deposits a projet de décompte through the API: the MOE's receiver hears of it, signed.
    mandataire = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    deposited = client.post("/api/v1/pieces", json={**_body(app, w, w.mandataire, "WH-API-1"), "envoyer": True},
                            headers=mandataire)
    assert deposited.status_code == 201, deposited.get_data(as_text=True)
    piece = deposited.get_json()
    assert receiver.received, "the request's commit dispatched the outbox (inline here)"
    last = receiver.received[-1]
    assert signing.verify(secret, last["headers"]["Chorus-Signature"], last["body"], int(time.time()))
    assert json.loads(last["body"])["donnees"]["statut"] == piece["statut"]

    # The MOE takes it through the API: one more delivery.
    taken = client.post(f"/api/v1/pieces/{piece['id']}/actions",
                        json={"action": "take", "statut_attendu": piece["statut"]}, headers=moe)
    assert taken.status_code == 200, taken.get_data(as_text=True)
    statuses = [json.loads(r["body"])["donnees"]["statut"] for r in receiver.received]
    assert statuses[-1] == taken.get_json()["statut"]

    # The log, newest first, by pages of one.
    first = client.get(f"/api/v1/webhooks/{subscription['id']}/livraisons?limite=1", headers=moe).get_json()
    assert len(first["items"]) == 1 and first["items"][0]["statut"] == "delivered"
    assert first["items"][0]["contenu"]["donnees"]["statut"] == statuses[-1]
    second = client.get(f"/api/v1/webhooks/{subscription['id']}/livraisons?limite=1&curseur="
                        f"{first['curseur_suivant']}", headers=moe).get_json()
    assert second["items"][0]["id"] < first["items"][0]["id"]

    # Again: the same event, one more POST.
    delivery_id = first["items"][0]["id"]
    count = len(receiver.received)
    again = client.post(f"/api/v1/webhooks/{subscription['id']}/livraisons/{delivery_id}/relivrer", headers=moe)
    assert again.status_code == 202, again.get_data(as_text=True)
    assert len(receiver.received) == count + 1
    assert receiver.received[-1]["headers"]["Chorus-Event-Id"] == first["items"][0]["evenement_id"]

    # Unsubscribed: no more deliveries; another client of the same structure never saw it.
    other = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    assert client.get(f"/api/v1/webhooks/{subscription['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{subscription['id']}", headers=other).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{subscription['id']}", headers=moe).status_code == 204
    assert client.get(f"/api/v1/webhooks/{subscription['id']}", headers=moe).status_code == 404
    deliveries = _count(app, WebhookDelivery)
    posted = len(receiver.received)
    another = client.post("/api/v1/pieces", json={**_body(app, w, w.mandataire, "WH-API-3"), "envoyer": True},
                          headers=mandataire)
    assert another.status_code == 201, another.get_data(as_text=True)
    assert len(receiver.received) == posted
    assert _count(app, WebhookDelivery) == deliveries


@pytest.mark.parametrize("body, field", [
    ({"url": "http://erp.exemple.fr/x"}, "url"),
    ({"url": "ftp://erp.exemple.fr/x"}, "url"),
    ({"url": "https://erp.exemple.fr/x", "evenements": ["piece.supprimee"]}, "evenements"),
    ({"url": "https://erp.exemple.fr/x", "secret": "le mien"}, "secret"),
    ({"url": 12}, "url"),
    ({}, "url"),
])
def test_bad_subscriptions_are_refused_with_the_field_and_store_nothing(app, client, w, body, field):
    headers = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    _problem(client.post("/api/v1/webhooks", json=body, headers=headers), 422, field)
    assert _count(app, WebhookSubscription) == 0


def test_rights_reading_needs_a_piece_domain_and_writing_the_organisation(app, client, w, receiver):
    reader = bearer(app, client, w.moe.structure_id, w.moe.account_id, right_emises="consultation",
                    right_travaux="consultation", right_recues="consultation", right_organisation="none")
    _problem(client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=reader), 403)
    assert client.get("/api/v1/webhooks", headers=reader).status_code == 200
    organiser = bearer(app, client, w.moe.structure_id, w.moe.account_id, right_emises="none",
                       right_travaux="none", right_recues="none", right_organisation="modification")
    _problem(client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=organiser), 403)
    _problem(client.get("/api/v1/webhooks", headers=organiser), 403)
    assert _count(app, WebhookSubscription) == 0


def test_a_delivery_still_being_tried_is_not_sent_again(app, client, w, receiver):
    receiver.answers = [500]
    moe = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    subscription = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=moe).get_json()
    pw.deposit(app, w, w.mandataire, "A4", "WH-API-2")
    with app.app_context():
        from chorus_chain.jobs.queue import dispatch_outbox

        dispatch_outbox()
    [row] = client.get(f"/api/v1/webhooks/{subscription['id']}/livraisons", headers=moe).get_json()["items"]
    assert row["statut"] == "pending" and row["essais"] == 1 and row["dernier_code_http"] == 500
    assert row["prochain_essai_le"] is not None
    refused = client.post(f"/api/v1/webhooks/{subscription['id']}/livraisons/{row['id']}/relivrer", headers=moe)
    assert "en cours" in _problem(refused, 422)["detail"]


def test_a_batch_reads_the_subscriptions_once_and_a_later_transaction_reads_them_again(app, client, w, receiver):
    """The hook costs the deposit path one statement per marché and transaction, not one per change (the batch
    deposit's budget, bench/api_deposits.py); a transaction after a commit in the same app context (the clock's)
    sees a subscription made meanwhile."""
    from tests.integration.db_counts import statements as statements_of

    moe = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    subscription = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=moe).get_json()
    mandataire = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    with statements_of(app) as statements:
        batch = client.post("/api/v1/depots/lot", headers=mandataire, json={"pieces": [
            {**_body(app, w, w.mandataire, f"WH-LOT-{n}"), "envoyer": True} for n in range(3)]})
    assert batch.status_code == 201 and batch.get_json()["creees"] == 3, batch.get_data(as_text=True)
    assert len([s for s in statements if "FROM webhook_subscription JOIN api_client" in s]) == 1
    log = client.get(f"/api/v1/webhooks/{subscription['id']}/livraisons", headers=moe).get_json()["items"]
    assert {d["contenu"]["donnees"]["numero"] for d in log} == {f"WH-LOT-{n}" for n in range(3)}

    with app.test_request_context():
        from chorus_chain.operations import webhooks

        assert webhooks._candidates(w.marche_id) != []
        db.session.commit()
        with pw.system(app):
            db.session.get(WebhookSubscription, subscription["id"]).active = False
        assert webhooks._candidates(w.marche_id) == []  # a new transaction: read again
        db.session.rollback()
