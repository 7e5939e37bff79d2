"""RFC 9457 problem details, in French: every refusal of the API answers `application/problem+json` with the same
message the portal shows, and the field at fault (`errors[].field`, named as in the API's bodies).

Marshmallow and webargs speak English; their handful of messages is translated here (`french`), so a client gets
the same language whether the body was malformed or an operation refused it.
"""
from __future__ import annotations

import json
import re

from flask import Response

PROBLEM_TYPE = "urn:chorus-chain:probleme:"  # a name, not an address to fetch (RFC 9457 §3.1.1)

TITLES = {
    400: "Requête incorrecte", 401: "Authentification requise", 403: "Droits insuffisants", 404: "Introuvable",
    405: "Méthode non autorisée", 406: "Format non disponible", 409: "Conflit", 413: "Requête trop volumineuse",
    412: "Précondition non remplie", 415: "Type de contenu non pris en charge", 422: "Données refusées",
    428: "Précondition requise", 429: "Trop de requêtes", 500: "Erreur interne",
}
DETAILS = {
    400: "La requête n'a pas pu être comprise.",
    401: "Jeton d'accès absent, expiré ou révoqué : demandez-en un nouveau à /api/v1/token.",
    403: "Les droits de ce client ne permettent pas cette opération. Le gestionnaire principal de la structure "
         "peut les changer.",
    404: "Cette ressource n'existe pas, ou ce client n'y a pas accès.",
    405: "Cette méthode n'est pas possible sur cette adresse.",
    413: "Le corps de la requête dépasse la taille autorisée.",
    429: "Trop de requêtes en peu de temps : patientez le délai indiqué par Retry-After.",
    500: "Une erreur inattendue s'est produite. Rien n'a été enregistré ; réessayez.",
}

_MESSAGES = {
    "Missing data for required field.": "Ce champ est obligatoire.",
    "Unknown field.": "Champ inconnu : retirez-le (les noms des champs sont dans /api/v1/openapi.json).",
    "Field may not be null.": "Ce champ ne peut pas être nul.",
    "Not a valid string.": "Une chaîne de caractères est attendue.",
    "Not a valid integer.": "Un nombre entier est attendu.",
    "Not a valid number.": "Un nombre est attendu.",
    "Not a valid boolean.": "Un booléen (true ou false) est attendu.",
    "Not a valid date.": "Une date AAAA-MM-JJ est attendue.",
    "Not a valid datetime.": "Un instant ISO 8601 est attendu.",
    "Not a valid list.": "Une liste est attendue.",
    "Not a valid mapping type.": "Un objet JSON est attendu.",
    "Invalid input type.": "Un objet JSON est attendu.",
    "Invalid JSON body.": "Le corps de la requête n'est pas un JSON valide.",
    "Special numeric values (nan or infinity) are not permitted.": "Un nombre fini est attendu.",
    "Shorter than minimum length 1.": "Ce champ ne peut pas être vide.",
    "Invalid value.": "Valeur refusée.",
}
_PATTERNS = [
    (re.compile(r"^Must be one of: (.*)\.$"), "Valeur non reconnue : choisissez parmi {0}."),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "La longueur doit être entre {0} et {1}."),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "{0} caractères au plus."),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "{0} caractères au moins."),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"),
     "La valeur doit être entre {0} et {1}."),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "La valeur doit être au moins {0}."),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), "La valeur doit être au plus {0}."),
    (re.compile(r"^String does not match expected pattern\.$"), "Format non reconnu."),
]


def french(message: str) -> str:
    if message in _MESSAGES:
        return _MESSAGES[message]
    for pattern, text in _PATTERNS:
        match = pattern.match(message)
        if match:
            return text.format(*match.groups())
    return message


def problem(status: int, detail: str | None = None, *, errors: list[dict] | None = None, title: str | None = None,
            kind: str | None = None, headers: dict | None = None, **extra) -> Response:
    body = {"type": PROBLEM_TYPE + (kind or str(status)), "title": title or TITLES.get(status, "Erreur"),
            "status": status, "detail": detail or DETAILS.get(status, TITLES.get(status, "Erreur")),
            "errors": errors or [], **extra}
    response = Response(json.dumps(body, ensure_ascii=False), status=status,
                        content_type="application/problem+json; charset=utf-8")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _walk(messages, prefix: str | None = None) -> list[dict]:
    """webargs' nested messages ({"json": {"field": ["msg"]}}, lists for items) → [{"field", "message"}]. The field is
    None for the request as a whole (`_schema`), and "" for a parameter sent with an empty name (`?=false`): that one
    is named as sent, not mistaken for the whole request."""
    found: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            if key == "_schema":
                name = prefix
            elif prefix is None:
                name = key
            else:
                name = f"{prefix}[{key}]" if key.isdigit() else f"{prefix}.{key}"
            found += _walk(value, name)
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, str):
                found.append({"field": prefix, "message": french(item)})
            else:
                found += _walk(item, prefix)
    elif isinstance(messages, str):
        found.append({"field": prefix, "message": french(messages)})
    return found


def validation_errors(messages) -> list[dict]:
    """The field errors of a webargs refusal, the location (json, query, form, files) left out of the names."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "form", "files", "headers", "view_args"}:
        return [error for value in messages.values() for error in _walk(value)]
    return _walk(messages)
