"""The hostile-client suite for the API (issue 13): every /api/v1 route, for an API client of each demo structure and
one of an outsider (a structure of another marché), with the ids of objects that client's structure has no part in
→ 403/404 in problem+json, and the database unchanged but for the journal of the calls (each row names the calling
client); with the ids it does see → the answer carries nothing of its neighbours (no number of a piece it does not
see). The lists (pieces, marchés) list only what it sees.

The objects are tests/integration/hostile_world.py's (the demo and a second marché). The documents are real: each
client first asks one of a piece it sees through the API (rendered inline), so the document routes are walked with
ids that exist and belong to someone.
"""
from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.extensions import db
from chorus_chain.models import ApiCall, ApiClient, DepositBatch, Piece
from tests.conftest import live_application
from tests.integration import api_world
from tests.integration import pieces_world as pw
from tests.integration.db_counts import table_checksums
from tests.integration.hostile_world import Objects, build_objects, foreign_pools

KEYS = [c.key for c in demo.COMPANIES]
CLIENTS = ["outsider", *KEYS]
REFUSED = {403, 404}
PER_POOL = 6
# The journal of every call (api.core: written also for a refused call or a read) and the report of a batch (what it
# refused and why): checked on their own below, each row the calling client's. A call also stamps its client's
# `last_used_at` (shown on the organisation's API page).
JOURNAL = {"api_call", "deposit_batch"}
BOOKKEEPING = {"api_client": ("last_used_at",)}
PDF_B64 = base64.b64encode(pw.PDF).decode()
# A valid body for each write route, so that a refusal comes from who asks, not from the body's shape.
BODIES = {
    "api_pieces.act": {"action": "validate", "statut_attendu": "DEPOSEE"},
    "api_pieces.send": {},
    "api_pieces.add_files": {"fichiers": [{"nom": "annexe.pdf", "contenu_base64": PDF_B64}]},
    "api_documents.ask": {"type": "piece_pdf"},
    "api_decompte.decompte": {"mois": "2026-02", "lignes": []},
}


@pytest.fixture(scope="module")
def live(demo_template):
    yield from live_application("chorus_hostile_api", {"API_RATE_LIMIT": "100000 per minute"},
                                template=demo_template)


@pytest.fixture(scope="module")
def world(live):
    o = build_objects(live)
    http = live.test_client()
    headers = {key: {"Authorization": "Bearer " + api_world.token(http, *o.api_clients[key])} for key in CLIENTS}
    documents: dict[str, int] = {}
    for key in CLIENTS:
        seen = sorted(o.seen_by.get(o.structure_of[key], set()))
        asked = None
        for piece_id in seen:
            asked = http.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"},
                              headers=headers[key])
            if asked.status_code == 202:
                break
        assert asked is not None and asked.status_code == 202, (key, asked and asked.get_data(as_text=True))
        documents[key] = asked.get_json()["id"]
    numbers = _numbers(live)
    return o, headers, documents, numbers


def _numbers(app) -> dict[int, str]:
    with pw.system(app):
        return dict(db.session.execute(select(Piece.id, Piece.number)).all())


def _client_row(app, client_id: str) -> int:
    with pw.system(app):
        return db.session.scalar(select(ApiClient.id).where(ApiClient.client_id == client_id))


def _journal(app, model=ApiCall) -> list[int]:
    """The client of each row of the journal of calls (or of the batches' reports), in order."""
    with pw.system(app):
        return list(db.session.scalars(select(model.client_id).order_by(model.id)))


def _spread(values) -> list:
    values = sorted(set(values))
    return values if len(values) <= PER_POOL else values[:PER_POOL // 2] + values[-(PER_POOL // 2):]


def _api_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api_") and rule.endpoint != "api_docs.page":
            yield rule


def _path(rule, **values) -> str:
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:>]+:)?{name}>|<[^>]*\b{name}\)?>", str(value), path)
        path = re.sub(rf"<string\(length=14\):{name}>", str(value), path)
    return path


@pytest.mark.parametrize("key", CLIENTS)
def test_a_client_reaches_nothing_of_its_neighbours(live, world, key):
    app = live
    o, headers, documents, numbers = world
    http = app.test_client()
    auth = headers[key]
    structure_id = o.structure_of[key]
    seen = o.seen_by.get(structure_id, set())
    hidden_numbers = {numbers[p] for p in numbers if p not in seen}
    pools = foreign_pools(o, structure_id)
    pools["document_id"] = [d for k, d in documents.items() if k != key]
    pools["mois"] = ["2026-02"]
    own_row = _client_row(app, o.api_clients[key][0])
    before = table_checksums(app, BOOKKEEPING)
    journal_before, batches_before = len(_journal(app)), len(_journal(app, DepositBatch))
    problems, count = [], 0

    def check_leak(where: str, text: str) -> None:
        leaked = sorted(n for n in hidden_numbers if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text))
        if leaked:
            problems.append(f"{where}: names pieces it does not see: {leaked[:5]}")

    for rule in _api_rules(app):
        names = list(rule.arguments)
        if not names or names == ["siret"]:
            continue  # the lists (below), the token, the deposits (below), the public directory (the annuaire)
        combos = [{}]
        for name in names:
            combos = [{**c, name: v} for c in combos for v in _spread(pools.get(name) or [987654])]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for values in combos[:PER_POOL * 2]:
                path = _path(rule, **values)
                if method == "POST":
                    response = http.post(path, json=BODIES.get(rule.endpoint, {}), headers=auth)
                else:
                    response = http.open(path, method=method, headers=auth)
                count += 1
                if response.status_code not in REFUSED:
                    problems.append(f"{method} {path} as {key} → {response.status_code} "
                                    f"{response.get_data(as_text=True)[:200]}")
                elif not response.content_type.startswith("application/problem+json"):
                    problems.append(f"{method} {path} as {key} → {response.content_type}, not problem+json")
                check_leak(f"{method} {path}", response.get_data(as_text=True))

    # What it does see: its pieces read one by one, the lists, its marchés — never a neighbour's piece named.
    for piece_id in _spread(seen):
        for path in (f"/api/v1/pieces/{piece_id}", f"/api/v1/pieces/{piece_id}/controle"):
            response = http.get(path, headers=auth)
            count += 1
            assert response.status_code == 200, (path, response.get_data(as_text=True)[:300])
            check_leak(f"GET {path}", response.get_data(as_text=True))
    listed = []
    for box in ("emises", "recues", "travaux", None):
        response = http.get("/api/v1/pieces", query_string={"limite": 200, **({"boite": box} if box else {})},
                            headers=auth)
        count += 1
        if response.status_code == 200:
            listed += [item["id"] for item in response.get_json()["items"]]
            check_leak(f"GET /api/v1/pieces?boite={box}", response.get_data(as_text=True))
    assert set(listed) <= seen, f"{key} lists pieces it does not see: {sorted(set(listed) - seen)}"
    for marche_id in pools["marche_id"]:
        filtered = http.get("/api/v1/pieces", query_string={"marche_id": marche_id}, headers=auth)
        count += 1
        if filtered.status_code == 200:
            assert not filtered.get_json()["items"], (key, marche_id)
    subscriptions = http.get("/api/v1/webhooks", headers=auth)
    count += 1
    if subscriptions.status_code == 200:
        own = {i for i, owner in o.by_structure["subscription_id"].items() if owner == structure_id}
        listed_ids = {item["id"] for item in subscriptions.get_json()["items"]}
        assert listed_ids <= own, f"{key} lists webhook subscriptions of others: {sorted(listed_ids - own)}"
    marches = http.get("/api/v1/marches", headers=auth).get_json()["items"]
    assert {m["id"] for m in marches} <= o.marches_of.get(structure_id, set())
    for marche in marches:
        response = http.get(f"/api/v1/marches/{marche['id']}", headers=auth)
        count += 1
        check_leak(f"GET /api/v1/marches/{marche['id']}", response.get_data(as_text=True))

    # Deposits on a marché and a party that are not its own: refused, nothing stored.
    foreign_marche = pools["marche_id"][0]
    foreign_party = pools["party_id"][0]
    draft = {"marche_id": foreign_marche, "partie_id": foreign_party, "cadre": "A4", "numero": f"HOSTILE-{key}",
             "date_emission": pw.ISSUED.isoformat(), "montant_ht": "100.00", "montant_tva": "20.00",
             "montant_ttc": "120.00", "fichier": {"nom": "f.pdf", "contenu_base64": PDF_B64}}
    for path, body in (("/api/v1/pieces", draft), ("/api/v1/depots/lot", {"pieces": [draft]}),
                       ("/api/v1/depots/facture-electronique",
                        {"fichier": {"nom": "f.pdf", "contenu_base64": PDF_B64}, "marche_id": foreign_marche,
                         "partie_id": foreign_party})):
        response = http.post(path, json=body, headers=auth)
        count += 1
        # A batch answers with its report (each piece refused in it); the others refuse the call. The digest below
        # proves nothing was stored either way.
        if response.status_code >= 500 or (path != "/api/v1/depots/lot" and response.status_code < 400):
            problems.append(f"POST {path} as {key} on marché {foreign_marche} → {response.status_code}")

    after = table_checksums(app, BOOKKEEPING)
    changed = sorted(name for name in after if after[name] != before[name] and name not in JOURNAL)
    if changed:
        problems.append(f"the walk as {key} changed {changed}")
    journal = _journal(app)[journal_before:]
    assert journal and set(journal) == {own_row}, "every call is journalled under the calling client only"
    assert set(_journal(app, DepositBatch)[batches_before:]) == {own_row}
    assert count > 60
    assert not problems, f"{len(problems)} problems in {count} calls:\n" + "\n".join(problems[:50])


def test_each_client_has_a_real_document_and_foreign_ids(world):
    o, _headers, documents, _numbers = world
    assert len(set(documents.values())) == len(CLIENTS)
    with_count = {key: len(foreign_pools(o, o.structure_of[key])["piece_id"]) for key in CLIENTS}
    assert all(with_count.values()), with_count
