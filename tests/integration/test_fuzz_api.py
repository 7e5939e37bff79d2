"""Fuzz the API's JSON bodies with the hostile values of the portal's fuzz (tests/integration/test_fuzz_inputs.py):
NUL, control characters, a bidirectional override (U+202E), CR/LF in a one-line field, huge numbers, far dates,
10 000 characters — in every field of a piece (POST /pieces), of an action (POST /pieces/{id}/actions) and of a
décompte (POST /pieces/{id}/decompte). No call may answer 500, and a hostile value is refused in problem+json,
storing nothing (the row count of every table but the journal of calls, before and after).

Free text may hold digits and dates (an invoice number « 2026-01-31 » is a number): there the numeric values may be
stored; in a number, a date or an id they must be refused.
"""
from __future__ import annotations

import pytest

from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer
from tests.integration.db_counts import changed, row_counts
from tests.integration.etats_world import price_line
from tests.integration.test_api import _body
from tests.integration.test_fuzz_inputs import HOSTILE, TEXT_OK

JOURNAL = {"api_call", "api_idempotency_key"}  # every call is journalled, refused or not (api.core)
# The values a free-text field may legitimately hold (see the module's docstring); CR/LF too in a multi-line one.
FREE_TEXT = {"numero", "code_service", "numero_engagement", "siret_destinataire", "nom", "commentaire", "motif",
             "justification"}
MULTILINE = {"commentaire", "justification"}


@pytest.fixture
def w(app, db):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    w = pw.world(app)
    yield w
    app.config["API_RATE_LIMIT"] = "600 per minute"


def _fuzz(app, client, auth, path: str, base: dict, fields: list[tuple[str, ...]], *, once: bool = False) -> list[str]:
    """Each field (a path into the body) set to each hostile value; the failures found. `once`: the call may succeed
    only once (an action): the values free text may hold are not sent, the first would change the piece."""
    failures = []
    before = row_counts(app)
    for where in fields:
        name = where[-1]
        for label, value in HOSTILE.items():
            if label == "crlf" and name in MULTILINE:
                continue
            if once and label in TEXT_OK and name in FREE_TEXT:
                continue
            body = _set(base, where, value)
            response = client.post(path, json=body, headers=auth)
            said = f"POST {path} {'.'.join(where)}={label} → {response.status_code}"
            if response.status_code >= 500:
                failures.append(said)
                continue
            after = row_counts(app)
            stored = {t: v for t, v in changed(before, after).items() if t not in JOURNAL}
            may_store = label in TEXT_OK and name in FREE_TEXT
            if stored and not may_store:
                failures.append(f"{said} stored {stored}")
            elif response.status_code < 400 and not may_store:
                failures.append(f"{said}: accepted")
            elif response.status_code >= 400 and not response.content_type.startswith("application/problem+json"):
                failures.append(f"{said}: {response.content_type}, not problem+json")
            before = after
    return failures


def _set(body: dict, where: tuple[str, ...], value):
    copy = {**body}
    if len(where) == 1:
        copy[where[0]] = value
    else:
        inner = copy[where[0]]
        if isinstance(inner, list):
            copy[where[0]] = [_set(inner[0], where[1:], value), *inner[1:]]
        else:
            copy[where[0]] = _set(inner, where[1:], value)
    return copy


def test_no_piece_field_gives_a_500_or_stores_a_hostile_value(app, client, w):
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    base = _body(app, w, w.mandataire, "FUZZ-1")
    fields = [(name,) for name, value in base.items() if not isinstance(value, (dict, list, bool))]
    fields += [("fichier", "nom")]
    failures = _fuzz(app, client, auth, "/api/v1/pieces", base, fields)
    assert not failures, "\n".join(failures)


def test_no_action_field_gives_a_500_or_stores_a_hostile_value(app, client, w):
    piece_id = pw.deposit(app, w, w.st1, "A10", "FUZZ-ST")  # waiting for the mandataire's validation
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    base = {"action": "refuse", "statut_attendu": pw.status_of(app, piece_id), "motif": "autre",
            "commentaire": "Les quantités du mois ne sont pas celles du métré."}
    failures = _fuzz(app, client, auth, f"/api/v1/pieces/{piece_id}/actions", base,
                     [("statut_attendu",), ("motif",), ("commentaire",)], once=True)
    assert not failures, "\n".join(failures)
    assert pw.status_of(app, piece_id) == base["statut_attendu"]


def test_no_decompte_field_gives_a_500_or_stores_a_hostile_value(app, client, w):
    line = price_line(app, w, "L1", w.st1.party_id, quantity="100", unit_price="100.00")
    piece_id = pw.create(app, w, w.st1, "A10", "FUZZ-PDM", montant_ht="", montant_tva="", montant_ttc="")
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    base = {"mois": "2026-02", "lignes": [{"ligne_id": line, "cumul": "120",
                                           "justification": "Métré contradictoire du 12 février."}],
            "approvisionnements": "0", "primes": "0", "debours": "0", "refactions": "0",
            "justification": "Travaux supplémentaires demandés par le maître d'œuvre."}
    fields = [("mois",), ("lignes", "ligne_id"), ("lignes", "cumul"), ("lignes", "justification"),
              ("approvisionnements",), ("primes",), ("debours",), ("refactions",), ("justification",)]
    failures = _fuzz(app, client, auth, f"/api/v1/pieces/{piece_id}/decompte", base, fields)
    assert not failures, "\n".join(failures)
