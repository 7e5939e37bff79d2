"""The API (/api/v1): authentication, the portal's operations as the client's structure, refusals in problem+json
with a French message and the field, nothing stored on a refusal, idempotency, ETag, rate limits, batch deposits.

The worked example is the pieces world's (tests/integration/pieces_world.py): the mandataire deposits a projet de
décompte (A4) through the API; the MOE takes it through the API; the portal shows the same piece and figures."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import ApiCall, ApiClient, ApiIdempotencyKey, DepositBatch, Piece
from tests import factories
from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer, new_client, token

PDF_B64 = __import__("base64").b64encode(pw.PDF).decode()


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _body(app, w, who, number, **overrides):
    """A PDM body for the API from the draft form's defaults (the routing data the fiche d'identité gives)."""
    form = pw.draft_form(app, w, who, "A4" if who.key == "mandataire" else "A10", number)
    body = {"marche_id": w.marche_id, "partie_id": who.party_id, "cadre": form["cadre"] or None,
            "numero": number, "date_emission": form["issue_date"], "montant_ht": form["montant_ht"],
            "montant_tva": form["montant_tva"], "montant_ttc": form["montant_ttc"],
            "siret_destinataire": form["recipient_siret"], "code_service": form["service_code"] or None,
            "numero_engagement": form["engagement_number"] or None, "compte_bancaire_id": form["bank_account_id"],
            "fichier": {"nom": "pdm.pdf", "contenu_base64": PDF_B64}}
    body.update(overrides)
    return body


def _count(app, model=Piece, *where):
    with pw.system(app):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _problem(response, status, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type.startswith("application/problem+json")
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
        message = next(e["message"] for e in body["errors"] if e["field"] == field)
        assert message and not message.startswith(("Not a", "Missing", "Unknown")), message  # French
    return body


# --- description --------------------------------------------------------------------------------------------------


def test_openapi_31_and_the_readable_page_from_vendored_assets(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/token", "/api/v1/pieces", "/api/v1/pieces/{piece_id}/actions", "/api/v1/depots/lot"} \
        <= set(spec["paths"])
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "swagger-ui-bundle.js" in html and "http" not in html.split("<body>")[1]
    assert client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200


# --- authentication -----------------------------------------------------------------------------------------------


def test_token_revocation_and_expiry(app, client, w):
    client_id, secret = new_client(app, w.mandataire.structure_id, w.mandataire.account_id)
    wrong = client.post("/api/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                               "client_secret": secret + "x"})
    assert _problem(wrong, 401)["error"] == "invalid_client"
    auth = {"Authorization": "Bearer " + token(client, client_id, secret)}
    assert client.get("/api/v1/marches", headers=auth).status_code == 200
    basic = client.post("/api/v1/token", data={"grant_type": "client_credentials"},
                        auth=(client_id, secret))
    assert basic.status_code == 200 and basic.get_json()["token_type"] == "Bearer"
    # Secrets and tokens are kept as hashes only.
    with pw.system(app):
        row = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
        row_id = row.id
        assert secret not in row.secret_hash and len(row.secret_hash) == 64
        # An expired token is refused.
        from chorus_chain.models import ApiToken

        for t in db.session.scalars(select(ApiToken).where(ApiToken.client_id == row.id)):
            t.expires_at = t.expires_at - timedelta(hours=1)
    _problem(client.get("/api/v1/marches", headers=auth), 401)
    # ... and stores nothing (a deposit, a batch), in French.
    before = _count(app)
    refused = _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "EXP-1", envoyer=True),
                                   headers=auth), 401)
    assert any(word in refused["detail"] for word in ("jeton", "expiré", "invalide")), refused["detail"]
    _problem(client.post("/api/v1/depots/lot", json={"pieces": [_body(app, w, w.mandataire, "EXP-2")]},
                         headers=auth), 401)
    assert _count(app) == before
    # Revoked: at once, even with a fresh token.
    auth = {"Authorization": "Bearer " + token(client, client_id, secret)}
    assert client.get("/api/v1/marches", headers=auth).status_code == 200
    owner = pw.logged_in(app, w.mandataire)
    siret = w.mandataire.siret
    assert owner.post(f"/s/{siret}/organisation/api/{row_id}/revoquer").status_code == 302
    _problem(client.get("/api/v1/marches", headers=auth), 401)
    _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "REV-1", envoyer=True), headers=auth),
             401)
    assert _count(app) == before
    _problem(client.post("/api/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                 "client_secret": secret}), 401)


def test_every_call_is_journalled_with_the_client_name(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    client.get("/api/v1/marches", headers=auth)
    client.get("/api/v1/pieces/999999", headers=auth)
    calls = pw.rows(app, ApiCall, ApiCall.structure_id == w.mandataire.structure_id, order_by=ApiCall.id)
    assert [(c.client_name, c.method, c.status_code) for c in calls][-2:] == [
        ("Logiciel de test", "GET", 200), ("Logiciel de test", "GET", 404)]
    page = pw.logged_in(app, w.mandataire).get(f"/s/{w.mandataire.siret}/organisation/api")
    assert page.status_code == 200 and "/api/v1/pieces/999999" in page.get_data(as_text=True)


def test_client_creation_on_the_organisation_page_shows_the_secret_once(app, w):
    owner = pw.logged_in(app, w.mandataire)
    url = f"/s/{w.mandataire.siret}/organisation/api"
    response = owner.post(url, data={"name": "ERP", "validity_days": "30", "right_emises": "modification",
                                     "right_travaux": "modification", "right_recues": "none",
                                     "right_organisation": "none"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "ccs_" in html
    secret = html.split("ccs_")[1].split("<")[0]
    assert "ccs_" + secret not in owner.get(url).get_data(as_text=True)
    refused = owner.post(url, data={"name": "", "validity_days": "30", "right_emises": "none",
                                    "right_travaux": "none", "right_recues": "none", "right_organisation": "none"})
    assert refused.status_code == 422
    assert _count(app, ApiClient, ApiClient.structure_id == w.mandataire.structure_id) == 1


# --- the worked example: a PDM through the API, the same figures in the portal --------------------------------------


def test_pdm_deposited_through_the_api_follows_the_circuit_and_shows_in_the_portal(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    fiche = client.get(f"/api/v1/marches/{w.marche_id}", headers=auth).get_json()
    assert any(line["cadre"] == "A4" for line in fiche["fiche_identite"])
    body = _body(app, w, w.mandataire, "API-PDM-1", montant_ht="12345.67", montant_tva="2469.13",
                 montant_ttc="14814.80", envoyer=True)
    created = client.post("/api/v1/pieces", json=body, headers=auth)
    assert created.status_code == 201, created.get_data(as_text=True)
    piece = created.get_json()
    assert piece["statut"] != "BROUILLON" and piece["montant_ttc"] == "14814.80"
    assert [e["action"] for e in piece["historique"]][:2] == ["create", "deposit"]
    # The MOE sees it, and takes it through the API with the expected_status guard.
    moe = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    seen = client.get(f"/api/v1/pieces/{piece['id']}", headers=moe).get_json()
    assert "take" in [a["action"] for a in seen["actions_possibles"]]
    stale = client.post(f"/api/v1/pieces/{piece['id']}/actions", headers=moe,
                        json={"action": "take", "statut_attendu": "BROUILLON"})
    _problem(stale, 422)
    taken = client.post(f"/api/v1/pieces/{piece['id']}/actions", headers=moe,
                        json={"action": "take", "statut_attendu": seen["statut"]})
    assert taken.status_code == 200 and taken.get_json()["statut"] == pw.status_of(app, piece["id"])
    # The portal shows the same piece with the same figures.
    page = pw.logged_in(app, w.mandataire).get(f"/s/{w.mandataire.siret}/pieces/{piece['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "API-PDM-1" in html
    assert "14\u202f814,80" in html or "14 814,80" in html or "14\xa0814,80" in html
    # And the MOE's box through the API.
    listed = client.get("/api/v1/pieces?boite=recues", headers=moe).get_json()
    assert piece["id"] in [p["id"] for p in listed["items"]]


def test_cursor_pagination_and_etag(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    for n in range(5):
        assert client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, f"PAGE-{n}"),
                           headers=auth).status_code == 201
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/pieces", query_string={"limite": 2, **({"curseur": cursor} if cursor else {})},
                          headers=auth).get_json()
        seen += [p["numero"] for p in page["items"]]
        cursor = page["curseur_suivant"]
        if not cursor:
            break
    assert seen == [f"PAGE-{n}" for n in reversed(range(5))]
    first = client.get(f"/api/v1/pieces?numero=PAGE-0", headers=auth).get_json()["items"][0]
    read = client.get(f"/api/v1/pieces/{first['id']}", headers=auth)
    assert read.headers.get("ETag")
    again = client.get(f"/api/v1/pieces/{first['id']}", headers={**auth, "If-None-Match": read.headers["ETag"]})
    assert again.status_code == 304


# --- bad input: problem+json, the field, French, nothing stored ----------------------------------------------------


def test_bad_inputs_are_refused_with_the_field_and_store_nothing(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    before = _count(app)
    malformed = client.post("/api/v1/pieces", data='{"numero": ', content_type="application/json", headers=auth)
    assert "JSON" in _problem(malformed, 400)["detail"]
    _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "X-1", couleur="bleu"), headers=auth),
             422, "couleur")
    _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "X-2", marche_id="un"), headers=auth),
             422, "marche_id")
    three = _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "X-3", montant_ht="100.123"),
                                 headers=auth), 422, "montant_ht")
    assert "deux décimales" in three["detail"]
    missing = client.post("/api/v1/pieces", json={"marche_id": w.marche_id}, headers=auth)
    _problem(missing, 422, "numero")
    assert _count(app) == before


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    headers = {**auth, "Idempotency-Key": "commande-42"}
    body = _body(app, w, w.mandataire, "IDEM-1")
    first = client.post("/api/v1/pieces", json=body, headers=headers)
    replay = client.post("/api/v1/pieces", json=body, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.get_json() == first.get_json() and replay.headers["Idempotent-Replayed"] == "true"
    assert _count(app, Piece, Piece.number == "IDEM-1") == 1
    other = client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "IDEM-2"), headers=headers)
    _problem(other, 422, "Idempotency-Key")
    assert _count(app, Piece, Piece.number == "IDEM-2") == 0


def test_a_client_beyond_its_rights_is_refused(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id, right_emises="consultation",
                  right_travaux="consultation", right_recues="none", right_organisation="none")
    before = _count(app)
    _problem(client.post("/api/v1/pieces", json=_body(app, w, w.mandataire, "R-1"), headers=auth), 403)
    _problem(client.post("/api/v1/depots/lot", json={"pieces": [_body(app, w, w.mandataire, "R-2")]},
                         headers=auth), 403)
    assert _count(app) == before
    assert client.get("/api/v1/pieces", headers=auth).status_code == 200


def test_rate_limit_per_client_with_ratelimit_headers(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [client.get("/api/v1/marches", headers=auth) for _ in range(4)]
    finally:
        app.config["API_RATE_LIMIT"] = "600 per minute"
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3" and answers[0].headers["RateLimit-Remaining"] == "2"
    _problem(answers[3], 429)
    assert int(answers[3].headers["Retry-After"]) >= 1


# --- batch deposit ------------------------------------------------------------------------------------------------


def test_a_batch_of_a_hundred_with_one_bad_piece(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    bodies = [_body(app, w, w.mandataire, f"LOT-{n:03d}", envoyer=True) for n in range(100)]
    bodies[57]["montant_ttc"] = "1.001"
    response = client.post("/api/v1/depots/lot", json={"pieces": bodies}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    report = response.get_json()
    assert (report["total"], report["creees"], report["refusees"]) == (100, 99, 1)
    bad = report["items"][57]
    assert bad["resultat"] == "refusee" and bad["erreurs"][0]["field"] == "montant_ttc"
    assert _count(app, Piece, Piece.number == "LOT-057") == 0
    assert _count(app, Piece, Piece.number.like("LOT-%"), Piece.status != "BROUILLON") == 99
    page = pw.logged_in(app, w.mandataire).get(f"/s/{w.mandataire.siret}/depots-par-lot/{report['id']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "LOT-057" in html and "deux décimales" in html
