"""What every route of /api/v1 shares: the bearer token (the client acts as its structure, through the same tenant
as the portal: `access.set_tenant`, hence the same ORM criteria and row-level security), the client's rights, the
rate limit per client (`RateLimit-*` headers), `Idempotency-Key` on POST, problem+json for every refusal, and the
journal of every call with the client's name.

The journal row is written for every call, also for a refused one or a read: so `finish` ends the request's
transaction itself (the work of a refused or read-only call rolled back, then the journal committed), and
`web._finish_transaction` finds nothing left to do but dispatch the outbox after a successful write.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from datetime import datetime, timezone
from functools import wraps

from flask import current_app, g, request
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from limits import parse as parse_limit
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from chorus_chain import access
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import csrf, db, limiter
from chorus_chain.models import Account, ApiIdempotencyKey, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import api_clients
from chorus_chain.api.problems import problem, validation_errors

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
PROBLEM_TYPE = "application/problem+json"
IDEMPOTENCY_HEADER = "Idempotency-Key"
PUBLIC = "_api_public"
INT_MAX = 2**31 - 1

# The operations' field names → the API's (French, as Chorus Pro's API names them): the `field` of a refusal.
FIELD_NAMES = {
    "party_id": "partie_id", "piece_type": "type_piece", "number": "numero", "issue_date": "date_emission",
    "vat_regime": "regime_tva", "recipient_siret": "siret_destinataire", "service_code": "code_service",
    "engagement_number": "numero_engagement", "bank_account_id": "compte_bancaire_id",
    "payment_mode": "mode_paiement", "original_piece_id": "piece_origine_id",
    "previous_piece_id": "piece_precedente_id", "reason": "motif", "comment": "commentaire", "amount": "montant",
    "paid_on": "date_paiement", "files": "fichiers", "main_file": "fichier", "fichier": "fichier",
    "expected_status": "statut_attendu", "events": "evenements",
}


def now() -> datetime:
    return datetime.now(timezone.utc)


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint whose routes document their refusals as problem+json (RFC 9457)."""

    # Control characters and out-of-range values are refused by the API itself, as problem+json (input_guard).
    checks_own_input = True
    # A query parameter the route does not document is refused like an unknown field of a body (the schemas'
    # `unknown = RAISE`): 422 naming it. webargs' default ignores unknown query names, so a request whose only
    # parameter was mangled — `?=false`, an empty name, where schemathesis sent a declared one as an object — was
    # answered 200 as if it had asked for nothing, an answer the description does not give to an invalid query.
    ARGUMENTS_PARSER = FlaskParser(unknown=None)

    def problems(self, *codes: int):
        """Decorator: the route may answer each of `codes` with a problem+json body (documented in the OpenAPI)."""
        from chorus_chain.api import schemas as S

        def decorator(view):
            for code in codes:
                view = self.alt_response(code, schema=S.Problem, content_type=PROBLEM_TYPE)(view)
            return view
        return decorator


def api_blueprint(name: str, url_prefix: str, description: str) -> ApiBlueprint:
    """A blueprint of /api/v1 with the shared lifecycle (see the module's docstring)."""
    bp = ApiBlueprint(name, __name__, url_prefix=PREFIX + url_prefix, description=description)
    csrf.exempt(bp)  # no cookie session here: a bearer token cannot be sent by a third-party page
    bp.before_request(authenticate)
    bp.after_request(finish)
    bp.register_error_handler(OperationError, operation_refused)
    bp.register_error_handler(HTTPException, http_error)
    return bp


IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": IDEMPOTENCY_HEADER, "required": False,
    "description": "Rejouer la même requête avec la même clé rend la première réponse sans rien refaire ; la même "
                   "clé avec un autre corps est refusée (422).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


def idempotent(bp: Blueprint):
    """Document the Idempotency-Key header on a POST (every POST honours it: `_replay`), and its refusals: 400 (a
    key too long or empty)."""
    from chorus_chain.api.schemas import Problem

    def decorator(view):
        view = bp.doc(parameters=[IDEMPOTENCY_PARAMETER])(view)
        for code in (400,):
            view = bp.alt_response(code, schema=Problem, content_type="application/problem+json")(view)
        return view

    return decorator


def public(view):
    """A route answering without a token (the token endpoint itself)."""
    setattr(view, PUBLIC, True)
    return view


# ---------------------------------------------------------------------------------------------------------------------
# Before the view


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, PUBLIC, False):
        return None
    client = api_clients.client_for_token(_bearer() or "", now=now())
    if client is None:
        return problem(401, headers={"WWW-Authenticate": 'Bearer realm="chorus-chain", error="invalid_token"'})
    structure = db.session.get(Structure, client.structure_id)
    g.api_client = client
    g.structure = structure
    g.rights = client.rights()
    g.api_account = db.session.get(Account, client.created_by_id)
    access.set_tenant(structure.id)  # the pieces this call sees: the portal's criteria and row-level security
    refused = _rate_limit(client)
    if refused is not None:
        return refused
    if "\x00" in request.path or any(isinstance(v, int) and not 0 < v <= INT_MAX
                                      for v in (request.view_args or {}).values()):
        return problem(404)  # beyond any id the database holds (and beyond what its integer columns take)
    if request.method == "POST":
        return _replay()
    return None


def _rate_limit(client):
    """A moving window per client (Flask-Limiter's storage: Redis in production, shared by the workers)."""
    item = parse_limit(current_app.config.get("API_RATE_LIMIT", "600 per minute"))
    strategy = limiter.limiter
    allowed = strategy.hit(item, "api", client.client_id)
    reset_at, remaining = strategy.get_window_stats(item, "api", client.client_id)
    reset = max(0, math.ceil(reset_at - time.time()))
    g.rate_headers = {"RateLimit-Limit": str(item.amount), "RateLimit-Remaining": str(max(0, remaining)),
                      "RateLimit-Reset": str(reset),
                      "RateLimit-Policy": f'{item.amount};w={item.get_expiry()}'}
    if not allowed:
        return problem(429, headers={"Retry-After": str(max(1, reset))})
    return None


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string,
                 (request.content_type or "").encode(), request.get_data(cache=True)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _replay():
    """A POST with an Idempotency-Key already answered: the first answer again (same body), or a refusal."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200 or "\x00" in key:
        return problem(400, "La clé d'idempotence tient en 1 à 200 caractères.",
                       errors=[{"field": IDEMPOTENCY_HEADER, "message": "1 à 200 caractères."}])
    request_hash = _request_hash()
    g.idempotency = (key, request_hash)
    row = db.session.scalar(select(ApiIdempotencyKey).where(ApiIdempotencyKey.client_id == g.api_client.id,
                                                            ApiIdempotencyKey.key == key))
    if row is None:
        return None
    g.idempotency = None  # nothing new to keep
    if row.request_hash != request_hash:
        return problem(422, "Cette clé d'idempotence a déjà servi pour une autre requête : une nouvelle opération "
                            "demande une nouvelle clé.", kind="idempotence",
                       errors=[{"field": IDEMPOTENCY_HEADER, "message": "Clé déjà utilisée avec un autre corps."}])
    response = current_app.response_class(row.body, status=row.status_code, content_type=row.content_type)
    response.headers["Idempotent-Replayed"] = "true"
    return response


# ---------------------------------------------------------------------------------------------------------------------
# After the view


def finish(response):
    client = g.get("api_client")
    for name, value in (g.get("rate_headers") or {}).items():
        response.headers[name] = value
    if client is None:  # refused before knowing the client: nothing to journal, nothing to keep
        db.session.rollback()
        return response
    succeeded = response.status_code < 400
    if not (succeeded and request.method in ("POST", "DELETE")):
        db.session.rollback()
    elif g.get("idempotency"):
        key, request_hash = g.idempotency
        db.session.add(ApiIdempotencyKey(client_id=client.id, key=key, request_hash=request_hash,
                                         status_code=response.status_code,
                                         content_type=response.content_type or "application/json",
                                         body=response.get_data(as_text=True), created_at=now()))
    api_clients.journal(client, request.method, request.full_path.rstrip("?"), response.status_code, now())
    try:
        db.session.commit()
    except IntegrityError:
        # The same key sent twice at the same instant: the other request committed first. Ours is undone and
        # answers as a replay would (its answer, or the refusal of another body under the same key).
        db.session.rollback()
        g.api_client = None
        return _replay() or problem(500)
    return response


# ---------------------------------------------------------------------------------------------------------------------
# Refusals


def operation_refused(error: OperationError):
    problems = getattr(error, "problems", None)  # PreflightRefused: every problem found
    if problems:
        errors = [{"field": FIELD_NAMES.get(p.field, p.field), "message": p.message_fr} for p in problems]
    else:
        errors = [{"field": FIELD_NAMES.get(error.field, error.field), "message": error.message}]
    return problem(422, error.message, errors=errors, kind="operation-refusee")


def http_error(error: HTTPException):
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        errors = validation_errors(messages)
        if code == 400:
            return problem(400, "Le corps de la requête n'est pas un JSON valide.",
                           errors=errors or [{"field": None, "message": "JSON invalide."}], kind="json-invalide")
        return problem(code, "Certains champs sont refusés : voyez errors.", errors=errors, kind="validation")
    if code >= 500:
        log.exception("API error", exc_info=getattr(error, "original_exception", error))
    return problem(code)


def require(domain: str, level: str):
    """403 unless the client holds at least `level` on `domain` (the portal's rights)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_right(domain, level):
                return problem(403)
            return view(*args, **kwargs)

        wrapped.required_right = (domain, level)
        return wrapped

    return decorator


def has_right(domain: str, level: str) -> bool:
    return rights_rules.allows(g.rights.get(domain, "none"), level)


def json_body(status: int, body) -> tuple:
    return current_app.response_class(json.dumps(body, ensure_ascii=False, default=str), status=status,
                                      content_type="application/json")


def etagged(schema, body: dict):
    """A read answered with its ETag (a hash of what it shows), or 304 when the client holds that version."""
    payload = json.dumps(schema.dump(body), ensure_ascii=False, sort_keys=True, default=str)
    tag = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
    if request.if_none_match.contains(tag):
        response = current_app.response_class(status=304)
    else:
        response = current_app.response_class(payload, status=200, content_type="application/json")
    response.set_etag(tag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
