"""Query parameters an API route does not document: an unknown name, and an EMPTY name (`GET /api/v1/pieces?=false`,
which schemathesis generated once in four runs by sending a declared parameter as an object). Each is refused as the
OpenAPI description says of an invalid query — a problem+json 422 naming the parameter, in French — and never read
as if the client had asked for nothing (a 200 listing every piece)."""
from __future__ import annotations

import pytest

from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer


@pytest.fixture
def auth(app, client, db):
    w = pw.world(app)
    return bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)


def _documented(client, path: str) -> set[str]:
    spec = client.get("/api/v1/openapi.json").get_json()
    return set(spec["paths"][path]["get"]["responses"])


@pytest.mark.parametrize(("query", "name"), [("=false", ""), ("=", ""), ("boite=emises&=1", ""),
                                             ("inconnu=1", "inconnu"), ("boite=emises&Boite=recues", "Boite")])
def test_an_unknown_or_empty_query_name_is_refused_as_documented(client, auth, query, name):
    response = client.get(f"/api/v1/pieces?{query}", headers=auth)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "422" in _documented(client, "/api/v1/pieces")
    assert response.content_type.startswith("application/problem+json")
    body = response.get_json()
    [error] = body["errors"]
    assert error["field"] == name and error["message"].startswith("Champ inconnu"), body


def test_the_documented_parameters_still_work(client, auth):
    response = client.get("/api/v1/pieces?boite=emises&limite=5&statut=draft&statut=deposited", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.get_json()["items"] == []


def test_the_webhook_deliveries_refuse_an_empty_name_too(client, auth):
    subscription = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=auth).get_json()
    response = client.get(f"/api/v1/webhooks/{subscription['id']}/livraisons?=false", headers=auth)
    assert response.status_code == 422 and response.content_type.startswith("application/problem+json")
