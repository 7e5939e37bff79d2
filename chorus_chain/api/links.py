"""OpenAPI links: where an answer leads (the id it returns is the path parameter of the next call). An integrator's
generated client follows them, and schemathesis' stateful run chains its calls through them
(tests/integration/test_api_schemathesis.py): a piece created is read, checked, sent and acted on; a webhook
subscription created is read, its deliveries listed, and it is deleted."""
from __future__ import annotations


def _ref(path: str, method: str) -> str:
    """An operationRef: a JSON pointer into this description's paths ("/" escaped as "~1")."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _link(path: str, method: str, parameter: str, description: str) -> dict:
    return {"operationRef": _ref(path, method), "parameters": {parameter: "$response.body#/id"},
            "description": description}


PIECE = "/api/v1/pieces/{piece_id}"
SUBSCRIPTION = "/api/v1/webhooks/{subscription_id}"

# From an answer carrying a piece (its `id`): what can be done with it next.
PIECE_LINKS = {
    "LirePiece": _link(PIECE, "get", "piece_id", "Lire la pièce : statut, historique, échéances, actions."),
    "ControlerPiece": _link(PIECE + "/controle", "get", "piece_id", "Le contrôle avant envoi du brouillon."),
    "EnvoyerPiece": _link(PIECE + "/envoi", "post", "piece_id", "Envoyer le brouillon."),
    "AgirSurPiece": _link(PIECE + "/actions", "post", "piece_id", "Agir sur la pièce (`statut_attendu`)."),
}

# From a subscription created (its `id`).
SUBSCRIPTION_LINKS = {
    "LireAbonnement": _link(SUBSCRIPTION, "get", "subscription_id", "L'abonnement."),
    "LivraisonsAbonnement": _link(SUBSCRIPTION + "/livraisons", "get", "subscription_id",
                                  "Le journal des livraisons de l'abonnement."),
    "SupprimerAbonnement": _link(SUBSCRIPTION, "delete", "subscription_id", "Se désabonner."),
}


def responses(code: int, links: dict) -> dict:
    """For `bp.doc(responses=...)`: the links of one answer (merged into the answer the decorators document)."""
    return {code: {"links": links}}  # an int, as the decorators key the answers they document
