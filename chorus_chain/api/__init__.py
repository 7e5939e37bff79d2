"""The JSON API under /api/v1 (issue 17), described by OpenAPI 3.1 generated from the code (flask-smorest:
marshmallow schemas → apispec), served at /api/v1/openapi.json with a readable page at /api/v1/docs (Swagger UI,
vendored under static/: nothing fetched from the network).

flask-smorest works with the plain Flask app: only the blueprints registered through `Api.register_blueprint` are
described, and its app-wide JSON error handler is left out (`ChorusApi`) so the portal keeps its HTML error pages;
the API's blueprints answer problem+json themselves (`core`).
"""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api

DESCRIPTION = """\
L'API de chorus-chain : ce que le portail offre à une structure, pour les logiciels (comptabilité, ERP, devis).

**Authentification** : le gestionnaire principal crée un client (Organisation → Clients de l'API) ; le client échange
son identifiant et son secret contre un jeton porteur à `POST /api/v1/token` (OAuth2 client credentials), valable
15 minutes, à envoyer dans `Authorization: Bearer …`.

**Conventions** : noms de champs en français ; montants en décimal exact (deux décimales au plus) ; chaque refus est
un `application/problem+json` (RFC 9457) avec le message du portail et le champ en cause (`errors[].field`) ;
`Idempotency-Key` sur chaque POST (un rejeu rend la première réponse, la même clé avec un autre corps est refusée) ;
`ETag` sur les lectures ; limites par client annoncées par les en-têtes `RateLimit-*`.

**Webhooks** : `POST /api/v1/webhooks` abonne une adresse https:// aux changements de statut des pièces que la
structure voit ; chaque envoi est un POST JSON signé (`Chorus-Signature: t=<horodatage>,v1=<HMAC-SHA256 hexadécimal
de « t.corps » avec le secret de l'abonnement>`), réessayé de plus en plus espacé tant que la réponse n'est pas 2xx,
puis abandonné ; le journal est à `GET /api/v1/webhooks/{id}/livraisons`. Un même événement peut arriver deux fois :
son `id` est dans le corps et dans l'en-tête `Chorus-Event-Id`.
"""


class ChorusApi(Api):
    # Every refusal an operation may answer is documented with its own status (problem+json), not a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        """Left out: flask-smorest would answer every error of the app (the portal's pages too) in JSON."""


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "chorus-chain")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_RATE_LIMIT", "600 per minute")
    api = ChorusApi(spec_kwargs={
        "info": {"description": DESCRIPTION},
        "servers": [{"url": "/", "description": "cette instance"}],
    })
    api.init_app(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.options["security"] = [{"bearer": []}]

    from chorus_chain.api import (docs, routes_auth, routes_decompte, routes_deposits, routes_documents,
                                  routes_marches, routes_pieces, routes_webhooks)

    for module in (routes_auth, routes_marches, routes_pieces, routes_decompte, routes_deposits, routes_documents,
                   routes_webhooks):
        api.register_blueprint(module.bp)
    app.register_blueprint(docs.bp)
    app.extensions["chorus_api"] = api
