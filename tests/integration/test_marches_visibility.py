"""Who sees what of the demo marché (DEMO-TRAVAUX-2026), and its export against the contract's JSON Schema.

The demo chain: Commune (MOA and paying office, service FIN), Atelier Lumen (MOE), Durand (mandataire of a
groupement conjoint), Martin (co-traitant), Leroy (rang 1 under Durand, paiement direct), Bernard (rang 1 under
Martin, paiement direct), Petit (rang 2 under Leroy), Moreau (rang 1 under Durand, 480 € TTC: no paiement direct).
"""
from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from chorus_chain import demo
from chorus_chain.access import system_access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, MarcheParty, Structure
from chorus_chain.models.base import utcnow
from tests import factories
from tests.conftest import ensure_demo
from tests.integration.test_marches import text

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = REPO_ROOT / "docs" / "contracts" / "marche-export.schema.json"  # the contract lives in the repository
SIRET = {c.key: c.siret for c in demo.COMPANIES}
NAME = {c.key: c.name for c in demo.COMPANIES}


@pytest.fixture(scope="module")
def app(demo_app):
    """This module reads the demo: a database of its own holding it (tests/conftest.py `demo_app`)."""
    return demo_app


@pytest.fixture
def demo_world(app, db):
    """The demo marché's ids. The modules that use it run on `demo_app` (a copy of the seeded demo); a module whose
    database does not hold the demo yet has it seeded here, inside the test's transaction."""
    with app.app_context():
        ensure_demo()
        marche_id = db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE))
        parties = {}
        for row in db.session.scalars(select(MarcheParty).where(MarcheParty.marche_id == marche_id)):
            key = next(c.key for c in demo.COMPANIES if c.siret == row.siret)
            parties[key if row.role != "paying_office" else "paying_office"] = row.id
    return {"marche_id": marche_id, "party": parties}


def client_for(app, key: str):
    """A client logged in as the gestionnaire of a demo company, and the base URL of its marché pages."""
    company = next(c for c in demo.COMPANIES if c.key == key)
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == company.email))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    return client, f"/s/{company.siret}/marches"


def schema() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_demo_seed_is_idempotent(app, db, demo_world):
    with app.app_context():
        before = [db.session.scalar(select(func.count()).select_from(m)) for m in (Marche, MarcheParty, Structure)]
        demo.seed()
        db.session.commit()
        after = [db.session.scalar(select(func.count()).select_from(m)) for m in (Marche, MarcheParty, Structure)]
    assert before == after and before[1] == 9


@pytest.mark.parametrize("key", ["moa", "moe", "mandataire"])
def test_moa_moe_and_mandataire_see_the_whole_chain(app, demo_world, key):
    client, base = client_for(app, key)
    page = text(client.get(f"{base}/{demo_world['marche_id']}"))
    for name in NAME.values():
        assert name in page
    assert "(votre branche)" not in page and "Exporter (JSON)" in page
    assert client.get(f"{base}/{demo_world['marche_id']}/export.json").status_code == 200


# key → the companies it must see and must not see (never a sibling branch)
BRANCHES = {
    "st_peinture": ({"moa", "moe", "mandataire", "st_platrerie", "st_peinture"},
                    {"cotraitant", "st_menuiserie", "st_nettoyage"}),
    "st_platrerie": ({"moa", "moe", "mandataire", "st_platrerie", "st_peinture"},
                     {"cotraitant", "st_menuiserie", "st_nettoyage"}),
    "st_menuiserie": ({"moa", "moe", "mandataire", "cotraitant", "st_menuiserie"},
                      {"st_platrerie", "st_peinture", "st_nettoyage"}),
    "cotraitant": ({"moa", "moe", "mandataire", "cotraitant", "st_menuiserie"},
                   {"st_platrerie", "st_peinture", "st_nettoyage"}),
    "st_nettoyage": ({"moa", "moe", "mandataire", "st_nettoyage"},
                     {"cotraitant", "st_menuiserie", "st_platrerie", "st_peinture"}),
}


@pytest.mark.parametrize("key", sorted(BRANCHES))
def test_a_company_sees_only_its_branch(app, demo_world, key):
    sees, hidden = BRANCHES[key]
    client, base = client_for(app, key)
    marche_id = demo_world["marche_id"]
    for url in (f"{base}/{marche_id}", f"{base}/{marche_id}/fiche", f"{base}/{marche_id}/chaine.svg"):
        response = client.get(url)
        assert response.status_code == 200, url
        page = text(response)
        for other in sees:
            assert NAME[other] in page or url.endswith("fiche"), (key, other, url)
        for other in hidden:
            assert NAME[other] not in page and SIRET[other] not in page, (key, other, url)
    for other in hidden:
        party_id = demo_world["party"][other]
        assert client.get(f"{base}/{marche_id}/parties/{party_id}").status_code == 404, (key, other)
    for other in sees:
        assert client.get(f"{base}/{marche_id}/parties/{demo_world['party'][other]}").status_code == 200
    assert client.get(f"{base}/{marche_id}/export.json").status_code == 404  # the whole dossier: not for a branch
    assert "Exporter (JSON)" not in text(client.get(f"{base}/{marche_id}"))


def test_a_sibling_cannot_act_on_another_branch(app, demo_world):
    client, base = client_for(app, "st_menuiserie")
    marche_id, leroy = demo_world["marche_id"], demo_world["party"]["st_platrerie"]
    for action in ("dc4", "avenant", "confirmation"):
        response = client.post(f"{base}/{marche_id}/parties/{leroy}/{action}",
                               data={"decision": "accept", "new_montant_ttc": "1", "signed_on": "2025-01-01"})
        assert response.status_code in (404, 422), action
        assert NAME["st_platrerie"] not in text(response)
    # …nor declare a sous-traitant under a contractor that is not its own.
    response = client.post(f"{base}/{marche_id}/sous-traitants/nouveau", data={
        "parent_id": str(leroy), "siret": factories.valid_siret(), "name": "X", "email": "x@example.fr",
        "dc4_nature": "X", "montant_ttc": "100"})
    assert response.status_code == 422 and "Choisissez l'entreprise donneuse d'ordre" in text(response)


def test_bank_details_are_masked_for_who_does_not_pay(app, demo_world):
    leroy = demo_world["party"]["st_platrerie"]
    iban = next(c.iban for c in demo.COMPANIES if c.key == "st_platrerie")
    moa, moa_base = client_for(app, "moa")
    assert iban in text(moa.get(f"{moa_base}/{demo_world['marche_id']}/parties/{leroy}"))
    moe, moe_base = client_for(app, "moe")
    page = text(moe.get(f"{moe_base}/{demo_world['marche_id']}/parties/{leroy}"))
    assert iban not in page and iban[-4:] in page


def test_fiche_d_identite_tells_who_deposits_what_where(app, demo_world):
    client, base = client_for(app, "moe")
    page = text(client.get(f"{base}/{demo_world['marche_id']}/fiche"))
    assert "EJ-2025-000418" in page and "FIN" in page
    assert "A10 Projet de décompte mensuel de sous-traitant" in page.replace("</strong> ", " ").replace(
        "<strong>", "")
    assert "Facture privée (hors Chorus Pro)" in page  # Petit (rang 2) and Moreau (< 600 €)
    assert "Validation 2 : Durand Bâtiment SAS" in page  # Bernard's A10: Martin, then the mandataire


def test_marche_page_queries_do_not_grow_with_the_parties(app, demo_world):
    client, base = client_for(app, "moe")
    url = f"{base}/{demo_world['marche_id']}"
    client.get(url)
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*args):
        if "set_config('chorus." not in args[2]:  # the tenant's settings (chorus_chain.access): one per transaction
            statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # 9: the 8 of the page, plus the one query of the structure's documents of the marché (documents_list).
    assert len(statements) <= 9, statements


# --- the export -----------------------------------------------------------------------------------------------------


def test_export_validates_against_the_schema_and_matches_the_demo(app, demo_world):
    import jsonschema

    client, base = client_for(app, "mandataire")
    response = client.get(f"{base}/{demo_world['marche_id']}/export.json")
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "filename*=UTF-8''march%C3%A9-DEMO-TRAVAUX-2026.json" in response.headers["Content-Disposition"]
    document = response.get_json()
    jsonschema.validate(document, schema())

    assert document["format"] == "chorus-chain/marche-export/v2"
    # The demo's pieces (test_pieces_export.py) and the projets de décompte of its three months (demo_money).
    from chorus_chain.demo_money import MONTHS

    # The rang-2 private invoice PP-2026-001 (peinture → plâtrerie) is read by its two parties only, not by the
    # mandataire.
    seen = [p for p in demo.DEMO_PIECES if p.number != "PP-2026-001"]
    assert len(document["pieces"]) == len(seen) + sum(len(m.cumul) for m in MONTHS)
    decomptes = [p["decompte"] for p in document["pieces"] if p["decompte"] is not None]
    assert len(decomptes) == sum(len(m.cumul) for m in MONTHS)  # each PDM carries its état's figures
    assert re.match(r"^\d{4}-\d{2}-\d{2}T.*\+00:00$", document["exported_at"])
    # The demo's dates follow the seeding day: the marché was created CREATED_DAYS_AGO days before it.
    with app.app_context(), system_access("tests: the demo marché's creation"):
        created = db.session.scalar(select(Marche.created_at).where(Marche.reference == demo.DEMO_MARCHE))
    assert (utcnow().date() - created.date()).days == demo.CREATED_DAYS_AGO

    def after(days: int) -> str:
        return (created + timedelta(days=days)).date().isoformat()

    assert document["marche"] == {
        "reference": "DEMO-TRAVAUX-2026", "objet": "Réhabilitation et extension du groupe scolaire Jules-Ferry",
        "kind": "travaux", "montant_ht": "1200000.00", "tva_rate": "20.00", "groupement": "conjoint",
        "dgp_days": 30, "buyer_category": "collectivite_territoriale", "montant_initial_ht": "1200000.00",
        "avenants": [], "moe_days": 7, "retenue_rate": "5.00", "avance_rate": "5.00",
        "avance_repayment": {"basis": "own_part", "start": "65.00", "end": "80.00", "fixed_amounts": []},
        "retenue_guarantees": [],
        "revision": {"a": "0.1250", "index": "BT01", "base_month": demo.revision_base_month(created)}}
    parties = {(p["siret"], p["role"]): p for p in document["parties"]}
    assert len(parties) == 9

    def party(key, role="sous_traitant"):
        return parties[(SIRET[key], role)]

    assert party("moa", "paying_office")["name"] == NAME["moa"]
    assert party("cotraitant", "cotraitant")["parent_siret"] == SIRET["mandataire"]
    assert party("cotraitant", "cotraitant")["montant_ttc"] == "432000.00"
    expected = {  # key: (parent, rang, montant, paiement direct, accepted_on)
        "st_platrerie": ("mandataire", 1, "96000.00", True, after(21)),
        "st_menuiserie": ("cotraitant", 1, "54000.00", True, after(25)),
        "st_peinture": ("st_platrerie", 2, "18000.00", False, after(50)),
        "st_nettoyage": ("mandataire", 1, "480.00", False, after(59)),
    }
    for key, (parent, rang, montant, direct, accepted_on) in expected.items():
        p = party(key)
        assert (p["parent_siret"], p["rang"], p["montant_ttc"], p["paiement_direct"], p["autoliquidation"],
                p["accepted_on"]) == (SIRET[parent], rang, montant, direct, True, accepted_on), key
    assert sum(Decimal(p["montant_ttc"]) for p in document["parties"]
               if p["role"] in ("mandataire", "cotraitant")) == Decimal("1440000.00")  # the whole marché TTC

    routes = {(r["siret"], r["cadre"]): [(s["siret"], s["step"]) for s in r["steps"]] for r in document["routes"]}
    public = [(SIRET["moe"], "moe"), (SIRET["moa"], "moa"), (SIRET["moa"], "paiement")]
    assert routes[(SIRET["st_platrerie"], "A10")] == [(SIRET["mandataire"], "validation_1"), *public]
    assert routes[(SIRET["st_menuiserie"], "A10")] == [(SIRET["cotraitant"], "validation_1"),
                                                       (SIRET["mandataire"], "validation_2"), *public]
    assert routes[(SIRET["st_peinture"], None)] == [(SIRET["st_platrerie"], "contractor")]
    assert routes[(SIRET["st_nettoyage"], None)] == [(SIRET["mandataire"], "contractor")]
    assert routes[(SIRET["mandataire"], "A4")] == public
    assert routes[(SIRET["cotraitant"], "A13")] == [(SIRET["mandataire"], "validation_1"), *public]
    assert routes[(SIRET["moe"], "A15")] == [(SIRET["moa"], "moa")]  # an état ends at the MOA, who answers with its A19 (issue 12)
    assert (SIRET["st_peinture"], "A10") not in routes


def test_cli_export_prints_the_same_document(app, demo_world):
    from chorus_chain.operations.export import marche_export

    runner = app.test_cli_runner()
    result = runner.invoke(args=["marche", "export", "DEMO-TRAVAUX-2026"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    from chorus_chain.access import system_access

    with app.app_context(), system_access("test: the operator's export reads every piece"):
        marche = db.session.get(Marche, demo_world["marche_id"])
        built = marche_export(marche, utcnow(), None)
    printed.pop("exported_at"), built.pop("exported_at")
    assert printed == built
    missing = runner.invoke(args=["marche", "export", "NOPE"])
    assert missing.exit_code != 0 and "Aucun marché ne porte la référence" in missing.output
