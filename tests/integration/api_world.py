"""Helpers for the API tests: a client of a structure (created by the operation the portal's page calls), its
bearer token, and JSON calls with it."""
from __future__ import annotations

from chorus_chain.extensions import db
from chorus_chain.models import Account, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import api_clients

FULL = {"right_emises": "modification", "right_travaux": "modification", "right_recues": "modification",
        "right_organisation": "modification"}


def new_client(app, structure_id: int, account_id: int, name: str = "Logiciel de test", **rights) -> tuple[str, str]:
    """(client_id, secret) of a new client of the structure, with FULL rights unless given."""
    with app.test_request_context():
        account = db.session.get(Account, account_id)
        structure = db.session.get(Structure, structure_id)
        made = api_clients.create_client(account, structure, {"name": name, **(rights or FULL)}, now=utcnow())
        client_id = made.client.client_id
        db.session.commit()
        return client_id, made.secret


def token(http, client_id: str, secret: str) -> str:
    response = http.post("/api/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                "client_secret": secret})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["access_token"]


def bearer(app, http, structure_id: int, account_id: int, **rights) -> dict:
    """The Authorization header of a new client of the structure."""
    return {"Authorization": "Bearer " + token(http, *new_client(app, structure_id, account_id, **rights))}
