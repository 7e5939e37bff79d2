"""POST /api/v1/token: the OAuth2 client-credentials grant (RFC 6749 §4.4), credentials in the form or in HTTP Basic."""
from __future__ import annotations

from flask import g, request

from chorus_chain.api import schemas as S
from chorus_chain.api.core import api_blueprint, now, public
from chorus_chain.api.problems import problem
from chorus_chain.extensions import db
from chorus_chain.models import Structure
from chorus_chain.operations import api_clients

bp = api_blueprint("api_token", "", "Jeton d'accès (OAuth2 client credentials).")


@bp.post("/token")
@bp.doc(security=[])
@bp.arguments(S.TokenRequest, location="form")
@bp.response(200, S.Token)
@bp.alt_response(401, schema=S.Problem, content_type="application/problem+json")
@bp.alt_response(422, schema=S.Problem, content_type="application/problem+json")
@public
def token(form):
    """Échanger l'identifiant et le secret d'un client contre un jeton porteur (15 minutes)."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if request.authorization is not None and request.authorization.type == "basic":
        client_id, secret = request.authorization.username, request.authorization.password
    try:
        issued = api_clients.issue_token(client_id or "", secret or "", now=now())
    except api_clients.CredentialsRefused as refusal:
        return problem(401, refusal.message_fr, error="invalid_client",
                       headers={"WWW-Authenticate": 'Basic realm="chorus-chain"'})
    g.api_client = issued.client  # journalled (and committed) by core.finish
    structure = db.session.get(Structure, issued.client.structure_id)
    return {"access_token": issued.token, "token_type": "Bearer", "expires_in": issued.expires_in,
            "structure_siret": structure.siret, "droits": issued.client.rights()}
