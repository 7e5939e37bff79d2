"""Walk EVERY route of the application as an outsider and as a member without rights.

- A user who is not a member of a structure gets 404 on all of its pages (GET and POST alike).
- A member without the right a view requires gets 403.
- A revoked member loses access on the next request.

This test grows by itself: a new route under /s/<siret>/ is walked automatically. A route with a new URL argument
fails here until a sample value for it is added to `victim_args` (a row that belongs to the victim structure).
"""
from __future__ import annotations

import pytest

from tests import factories

# Routes that are not under a structure, each with the reason it is reachable by anyone logged in (or anonymous).
NON_TENANT_ENDPOINTS = {
    "static": "public files",
    "core.home": "public page",
    "core.healthz": "public health check",
    "core.favicon": "public icon",
    "core.outbox": "development outbox (disabled in production)",
    "auth.signup": "public", "auth.login": "public", "auth.logout": "own session",
    "auth.activate": "signed token", "auth.forgot_password": "public", "auth.reset_password": "signed token",
    "auth.reauthenticate": "own session",
    "accounts.profile": "own account", "accounts.change_password": "own account",
    "accounts.structures": "own memberships", "accounts.create_structure": "creates a new tenant",
    "accounts.search": "search by SIRET or exact name, public directory as on Chorus Pro",
    "accounts.request_join": "asking to join is the point; the gestionnaire decides",
    "accounts.contest": "files a contest about a structure's registration (operators decide; gives no access)",
    "operator.contests": "platform operators only (403 for others)",
    "operator.decide_contest": "platform operators only",
    "marches_invitation.show": "signed token (invitation of a company that has no structure yet)",
    "marches_invitation.ask": "signed token; asks the inviter, who decides (links nothing by itself)",
    "help.index": "public help", "help.article": "public help",
    "help.go": "to a page of one of the user's own structures (login required; the page checks membership)",
    "operator.queue": "platform operators only (403 for others)", "operator.ticket": "platform operators only",
    "operator.answer": "platform operators only", "operator.categorise": "platform operators only",
    "operator.close": "platform operators only",
    "operator_jobs.index": "platform operators only (403 for others)",
    "operator_jobs.replay": "platform operators only",
    "rates.index": "reference data (ECB rates) read by anyone logged in",
    "rates.add": "platform operators only (403 for others)", "rates.delete": "platform operators only",
    "chat_operator.queue": "platform operators only (403 for others)",
    "chat_operator.conversation": "platform operators only", "chat_operator.take": "platform operators only",
    "chat_operator.answer": "platform operators only", "chat_operator.close": "platform operators only",
    "chat_operator.operator_stream": "platform operators only",
    "chat_operator.failed_questions": "platform operators only", "chat_operator.dismiss": "platform operators only",
    "api-docs.openapi_json": "the API's public description", "api_docs.page": "the API's public documentation",
    "api_token.token": "the API's token endpoint (client credentials)",
}
# The API's routes (/api/v1/...) take the structure from the bearer token, not from the URL: walked below
# (test_api_walk_*) for every client kind.
API_PREFIX = "/api/v1/"


@pytest.fixture
def world(app, db):
    owner = factories.account(app, first_name="Victime")
    victim = factories.structure(app, owner, name="Structure victime")
    colleague = factories.account(app)
    membership = factories.member(app, victim, colleague)
    applicant = factories.account(app)
    pending = factories.member(app, victim, applicant, status="pending")
    service = factories.service(app, victim)
    bank = factories.bank_account(app, victim)
    outsider = factories.account(app, first_name="Intrus")
    factories.structure(app, outsider, name="Structure de l'intrus")
    powerless = factories.account(app)
    factories.member(app, victim, powerless, emises="none", travaux="none", recues="none", organisation="none")
    marche_id, party_id = _victim_marche(app, victim)
    # A piece the victim deposited on its marché (waiting for the MOE), and its main PDF.
    piece_id, file_id = factories.piece(app, victim, marche_id, party_id, status="A_ASSOCIER_MOE", route=[
        {"party_id": None, "structure_id": None, "siret": "", "role": role, "step": step}
        for role, step in (("moe", "moe"), ("moa", "moa"), ("paying_office", "paiement"))])
    victim_args = {
        "siret": victim.siret,
        "rattachement_id": pending.id,
        "member_id": membership.id,
        "account_id": colleague.id,
        "service_id": service.id,
        "bank_account_id": bank.id,
        "marche_id": marche_id,
        "party_id": party_id,
        "piece_id": piece_id,
        "file_id": file_id,
        "ticket_id": _victim_ticket(app, victim, owner),
        "conversation_id": _victim_conversation(app, victim, owner),
        "document_id": _victim_document(app, victim, marche_id),
        "line_id": _victim_price_line(app, marche_id),
        "etat_id": _victim_etat(app, marche_id, owner),
        "slug": "piece-a-recycler",  # a help article, read inside the structure
        "page": "etats-acompte",  # a page key of the help centre's links
        "api_client_id": _victim_api_client(app, victim, owner),
        "batch_id": _victim_batch(app, victim),
        "mois": "2026-02",
        "request_id": _victim_invitation_request(app, victim, colleague, marche_id),
    }
    victim_args["subscription_id"], victim_args["livraison_id"] = _victim_webhook(app, victim, owner, piece_id)
    return {"victim": victim, "outsider": outsider, "powerless": powerless, "owner": owner,
            "colleague": colleague, "args": victim_args}


def _victim_invitation_request(app, victim, colleague, marche_id):
    """A pending request, decided by the victim, for the invitation it sent the MOA of its marché (its id)."""
    from chorus_chain.extensions import db
    from chorus_chain.models import InvitationRequest, MarcheParty

    with app.app_context():
        party = db.session.scalar(db.select(MarcheParty).where(MarcheParty.marche_id == marche_id,
                                                               MarcheParty.role == "moa"))
        party.invited_by_id = victim.id
        row = InvitationRequest(party_id=party.id, inviter_id=victim.id, account_id=colleague.id,
                                structure_id=victim.id, message="", status="pending")
        db.session.add(row)
        db.session.commit()
        return row.id


def _victim_api_client(app, victim, owner):
    """A client of the victim's API (its row id)."""
    from chorus_chain.extensions import db
    from chorus_chain.models import ApiClient
    from tests.integration.api_world import new_client

    client_id, _secret = new_client(app, victim.id, owner.id, name="Client de la victime")
    with app.app_context():
        return db.session.scalar(db.select(ApiClient.id).where(ApiClient.client_id == client_id))


def _victim_webhook(app, victim, owner, piece_id):
    """A webhook subscription of a client of the victim and one delivery of it (their ids)."""
    from chorus_chain.extensions import db
    from chorus_chain.models import Account, ApiClient, Structure, WebhookDelivery
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations import webhooks
    from tests.integration.api_world import new_client

    client_id, _secret = new_client(app, victim.id, owner.id, name="Client à webhooks de la victime")
    with app.test_request_context():
        client = db.session.scalar(db.select(ApiClient).where(ApiClient.client_id == client_id))
        made = webhooks.subscribe(client, db.session.get(Structure, victim.id), db.session.get(Account, owner.id),
                                  {"url": "http://127.0.0.1:9/victime"}, now=utcnow())
        delivery = WebhookDelivery(subscription_id=made.subscription.id, event_id="evt_victime",
                                   event=webhooks.STATUS_CHANGED, piece_id=piece_id, status="delivered",
                                   payload={"donnees": {"numero": "VICTIME-LOT"}}, created_at=utcnow())
        db.session.add(delivery)
        db.session.commit()
        return made.subscription.id, delivery.id


def _victim_batch(app, victim):
    """A batch deposit report of the victim (its id)."""
    from chorus_chain.extensions import db
    from chorus_chain.models import DepositBatch

    with app.app_context():
        row = DepositBatch(structure_id=victim.id, client_name="Client de la victime", source="json", total=1,
                           created=0, refused=1, items=[{"index": 0, "numero": "VICTIME-LOT", "resultat": "refusee",
                                                         "piece_id": None, "statut": None, "erreurs": []}])
        db.session.add(row)
        db.session.commit()
        return row.id


def _victim_ticket(app, victim, owner):
    """A support ticket of the victim structure (its id)."""
    from chorus_chain.extensions import db
    from chorus_chain.operations import support

    with app.test_request_context():
        ticket = support.open_ticket(victim, owner, "Question de la victime", "Bonjour")
        db.session.commit()
        return ticket.id


def _victim_conversation(app, victim, owner):
    """A conversation of the victim's gestionnaire with the assistant (its id)."""
    from chorus_chain.extensions import db
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations import chat

    with app.test_request_context():
        conversation = chat.start_new(victim, owner, utcnow())
        db.session.commit()
        return conversation.id


def _victim_etat(app, marche_id, owner):
    """A draft état d'acompte of the victim's marché (its id)."""
    from chorus_chain.extensions import db
    from chorus_chain.models.money import EtatAcompte

    with app.app_context():
        etat = EtatAcompte(marche_id=marche_id, number=1, month="2026-02", created_by_id=owner.id)
        db.session.add(etat)
        db.session.commit()
        return etat.id


def _victim_price_line(app, marche_id):
    """A line of the price schedule of the victim's marché (its id)."""
    from decimal import Decimal

    from chorus_chain.extensions import db
    from chorus_chain.models.money import PriceLine

    with app.app_context():
        line = PriceLine(marche_id=marche_id, reference="WALK-1", designation="Ligne de la victime",
                         lump_sum=True, amount_ht=Decimal("1000.00"))
        db.session.add(line)
        db.session.commit()
        return line.id


def _victim_document(app, victim, marche_id):
    """A generated document of the victim (its fiche, still queued): its id."""
    from chorus_chain.extensions import db
    from chorus_chain.models import GeneratedDocument

    with app.app_context():
        row = GeneratedDocument(structure_id=victim.id, marche_id=marche_id, kind="fiche", content_key="0" * 64,
                                filename="fiche.pdf", content_type="application/pdf")
        db.session.add(row)
        db.session.commit()
        return row.id


def _victim_marche(app, victim):
    """A marché held by the victim (titulaire, confirmed), with an invited MOA: (marche id, the victim's party id)."""
    from decimal import Decimal

    from chorus_chain.extensions import db
    from chorus_chain.models import Marche, MarcheParty

    with app.app_context():
        marche = Marche(reference=f"WALK-{victim.siret}", objet="Marché de la victime", kind="travaux",
                        montant_ht=Decimal("100000.00"), tva_rate=Decimal("20.00"), dgp_days=30,
                        created_by_id=victim.id)
        db.session.add(marche)
        db.session.flush()
        party = MarcheParty(marche_id=marche.id, structure_id=victim.id, siret=victim.siret, name=victim.name,
                            role="titulaire", status="confirmed")
        db.session.add_all([party, MarcheParty(marche_id=marche.id, siret=factories.valid_siret(), name="Commune",
                                               role="moa", status="invited", invited_email="moa@example.fr")])
        db.session.commit()
        return marche.id, party.id


def _tenant_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NON_TENANT_ENDPOINTS or rule.rule.startswith(API_PREFIX):
            continue
        yield rule


def _url(app, rule, args):
    missing = [a for a in rule.arguments if a not in args]
    assert not missing, (f"{rule.endpoint} takes {missing}: add a sample value that belongs to the victim "
                         f"structure in tests/integration/test_tenancy_walk.py::world")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **{a: args[a] for a in rule.arguments})


def test_every_route_is_either_tenant_scoped_or_listed(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NON_TENANT_ENDPOINTS or rule.rule.startswith(API_PREFIX):
            continue
        assert rule.rule.startswith("/s/<siret>"), (
            f"{rule.rule} ({rule.endpoint}) is neither under /s/<siret>/ nor listed in NON_TENANT_ENDPOINTS")


def test_outsider_gets_404_everywhere(app, client, world):
    factories.login(client, world["outsider"])
    checked = 0
    for rule in _tenant_rules(app):
        url = _url(app, rule, world["args"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            assert response.status_code == 404, f"{method} {url} ({rule.endpoint}) → {response.status_code}"
            checked += 1
    assert checked > 0


def test_anonymous_is_sent_to_login_everywhere(app, client, world):
    for rule in _tenant_rules(app):
        url = _url(app, rule, world["args"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            assert response.status_code in (302, 401), f"{method} {url} → {response.status_code}"
            if response.status_code == 302:
                assert "/connexion" in response.headers["Location"]


def test_member_without_rights_gets_403_on_every_protected_route(app, client, world):
    factories.login(client, world["powerless"])
    protected = 0
    for rule in _tenant_rules(app):
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "required_right"):
            continue
        url = _url(app, rule, world["args"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            assert response.status_code == 403, f"{method} {url} ({rule.endpoint}) → {response.status_code}"
            protected += 1
    # Until a later issue adds protected routes this may be 0; the organisation pages add some.
    assert protected >= 0


def test_revoked_member_loses_access_on_next_request(app, client, world):
    from chorus_chain.extensions import db
    from chorus_chain.models import Rattachement

    factories.login(client, world["colleague"])
    siret = world["victim"].siret
    assert client.get(f"/s/{siret}/").status_code == 200
    with app.app_context():
        row = db.session.get(Rattachement, world["args"]["member_id"])
        row.status = "detached"
        db.session.commit()
    assert client.get(f"/s/{siret}/").status_code == 404


def test_the_operators_chat_console_is_for_operators_only(app, client, world):
    factories.login(client, world["owner"])
    conversation_id = world["args"]["conversation_id"]
    for method, url in (("GET", "/operateur/conversations"), ("GET", f"/operateur/conversations/{conversation_id}"),
                        ("POST", f"/operateur/conversations/{conversation_id}/prendre"),
                        ("POST", f"/operateur/conversations/{conversation_id}/repondre"),
                        ("POST", f"/operateur/conversations/{conversation_id}/terminer"),
                        ("GET", f"/operateur/conversations/{conversation_id}/flux"),
                        ("GET", "/operateur/questions-sans-reponse"),
                        ("POST", "/operateur/questions-sans-reponse/1/traitee")):
        assert client.open(url, method=method, data={}).status_code == 403, url


def test_a_colleague_does_not_read_another_members_conversation(app, client, world):
    """A conversation is its author's: another member of the same structure gets 404 on its stream."""
    factories.login(client, world["colleague"])
    url = f"/s/{world['victim'].siret}/assistant/conversations/{world['args']['conversation_id']}/flux"
    assert client.get(url).status_code == 404
# ---------------------------------------------------------------------------------------------------------------------
# The API: every route, for an anonymous call, an outsider's client, a client without rights and a reading client.

# A valid body for each POST of the API, so that the walk reaches the access check (an invalid body is refused
# before it, which would prove nothing).
API_BODIES = {
    "api_pieces.create": lambda a: {"marche_id": a["marche_id"], "numero": "WALK-API", "date_emission": "2026-02-27",
                                    "montant_ht": "10.00", "montant_tva": "2.00", "montant_ttc": "12.00"},
    "api_pieces.add_files": lambda a: {"fichiers": [{"nom": "a.pdf", "contenu_base64": "JVBERi0xLjQK"}]},
    "api_pieces.send": lambda a: None,
    "api_pieces.act": lambda a: {"action": "validate", "statut_attendu": "A_ASSOCIER_MOE"},
    "api_depots.einvoice": lambda a: {"fichier": {"nom": "f.xml", "contenu_base64": "PHg+PC94Pg=="},
                                      "marche_id": a["marche_id"]},
    "api_depots.batch": lambda a: {"pieces": [API_BODIES["api_pieces.create"](a)]},
    "api_documents.ask": lambda a: {"type": "piece_pdf"},
    "api_decompte.decompte": lambda a: {"mois": "2026-02"},
    "api_webhooks.create": lambda a: {"url": "http://127.0.0.1:9/walk"},
    "api_depots.batch_zip": lambda a: {"fichier": {"nom": "lot.zip", "contenu_base64": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
                                       "marche_id": a["marche_id"]},
}
# Routes answering every client alike: the public directory of structures (as on Chorus Pro).
API_PUBLIC_DATA = {"api_marches.structure"}
# POSTs that only read: asking for a document is the portal's « Télécharger » (consultation right).
API_READING_POSTS = {"api_documents.ask"}


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API_PREFIX) and rule.endpoint not in NON_TENANT_ENDPOINTS:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _api_call(app, http, rule, method, args, headers):
    url = _url(app, rule, args)
    body = API_BODIES.get(rule.endpoint, lambda a: None)(args) if method == "POST" else None
    return url, http.open(url, method=method, json=body, headers=headers)


def _bearer(app, http, structure_id, account_id, **rights):
    from tests.integration.api_world import bearer

    return bearer(app, http, structure_id, account_id, **rights)


def test_api_walk_anonymous_gets_401_everywhere(app, client, world):
    walked = 0
    for rule, method in _api_rules(app):
        url, response = _api_call(app, client, rule, method, world["args"], {})
        assert response.status_code == 401, f"{method} {url} → {response.status_code}"
        assert response.content_type.startswith("application/problem+json")
        walked += 1
    assert walked >= 10


def test_api_walk_outsiders_client_never_sees_the_victim(app, client, world):
    from chorus_chain.extensions import db
    from chorus_chain.models import Structure

    with app.app_context():
        outsider_structure = db.session.scalar(db.select(Structure).where(
            Structure.gestionnaire_id == world["outsider"].id))
        outsider_id = outsider_structure.id
    headers = _bearer(app, client, outsider_id, world["outsider"].id)
    victim_values = {world["victim"].siret, "Marché de la victime", "VICTIME-LOT"}
    for rule, method in _api_rules(app):
        url, response = _api_call(app, client, rule, method, world["args"], headers)
        text = response.get_data(as_text=True)
        if rule.endpoint in API_PUBLIC_DATA:
            assert response.status_code == 200
            continue
        takes_victim_row = bool(set(rule.arguments) & {"piece_id", "marche_id", "document_id", "subscription_id"})
        if takes_victim_row:
            assert response.status_code == 404, f"{method} {url} → {response.status_code} {text[:200]}"
        else:
            assert response.status_code < 500, f"{method} {url} → {response.status_code}"
        assert not any(value in text for value in victim_values), f"{method} {url} shows the victim's data"


def test_api_walk_client_without_rights_gets_403(app, client, world):
    headers = _bearer(app, client, world["victim"].id, world["owner"].id, right_emises="none",
                      right_travaux="none", right_recues="none", right_organisation="consultation")
    for rule, method in _api_rules(app):
        url, response = _api_call(app, client, rule, method, world["args"], headers)
        expected = 200 if rule.endpoint in API_PUBLIC_DATA else 403
        assert response.status_code == expected, f"{method} {url} → {response.status_code}"


def test_api_walk_reading_client_may_read_but_not_write(app, client, world):
    headers = _bearer(app, client, world["victim"].id, world["owner"].id, right_emises="consultation",
                      right_travaux="consultation", right_recues="consultation", right_organisation="none")
    for rule, method in _api_rules(app):
        url, response = _api_call(app, client, rule, method, world["args"], headers)
        if method in ("POST", "DELETE") and rule.endpoint not in API_READING_POSTS:
            assert response.status_code == 403, f"{method} {url} → {response.status_code}"
        elif method == "POST":
            assert response.status_code in (200, 202, 404, 422), f"{method} {url} → {response.status_code}"
        elif rule.endpoint == "api_documents.download":  # the walk's document is still queued: not ready yet
            assert response.status_code == 409, f"{method} {url} → {response.status_code}"
        else:
            assert response.status_code in (200, 404), f"{method} {url} → {response.status_code}"


@pytest.mark.postgres
def test_the_dashboards_read_model_is_read_by_its_structure_alone(app, world):
    """board_row / board_count and its coarser rollups (issue 20) carry the structure they belong to: row-level
    security (enabled and forced) and the ORM's criteria show the victim's rows to no other tenant, even asked by
    the victim's id."""
    from sqlalchemy import bindparam, select, text

    from chorus_chain import access
    from chorus_chain.extensions import db
    from chorus_chain.models import (BoardCadreMarcheCount, BoardCount, BoardMarcheCount, BoardMoneyDelta,
                                     BoardMoneyLine, BoardMoneyTotal, BoardPartyCount, BoardRow, BoardStatusCount,
                                     BoardStatusMarcheCount, Structure)

    tables = ("board_cadre_marche_count", "board_count", "board_marche_count", "board_party_count", "board_row",
              "board_status_count", "board_status_marche_count")
    # « Montants par entreprise »'s tables: a row of each written for the victim below (whether or not companies
    # work under it), then looked for as the outsider.
    money = ("board_money_delta", "board_money_line", "board_money_total")

    victim_id = world["victim"].id
    with app.test_request_context():
        outsider_id = db.session.scalar(select(Structure.id).where(Structure.name == "Structure de l'intrus"))
        forced = db.session.scalars(text("SELECT relname FROM pg_class WHERE relname IN :tables "
                                         "AND relrowsecurity AND relforcerowsecurity ORDER BY relname")
                                    .bindparams(bindparam("tables", expanding=True)), {"tables": (*tables, *money)}).all()
        assert forced == sorted((*tables, *money))
        with access.system_access("test: the victim's read model exists"):
            for table in tables:
                assert db.session.execute(text(f"SELECT count(*) FROM {table} WHERE structure_id = :s"),
                                          {"s": victim_id}).scalar() >= 1, table
            db.session.execute(text("INSERT INTO board_money_delta (structure_id, emitter_party_id, sent_ttc, "
                                    "validated_ttc, paid) VALUES (:s, 1, 1, 1, 1)"), {"s": victim_id})
            db.session.execute(text("INSERT INTO board_money_line (structure_id, party_id, marche_id, reference, name, "
                                    "role, invoiced, validated, paid, attention, to_pay) "
                                    "VALUES (:s, 1, 1, 'M', 'N', 'sous_traitant', 1, 1, 1, 2, 0)"), {"s": victim_id})
            db.session.execute(text("INSERT INTO board_money_total (structure_id, lines, invoiced, validated, paid) "
                                    "VALUES (:s, 1, 1, 1, 1)"), {"s": victim_id})
        with access.tenant(outsider_id):
            for table in (*tables, *money):
                assert db.session.execute(text(f"SELECT count(*) FROM {table} WHERE structure_id = :s"),
                                          {"s": victim_id}).scalar() == 0, table
            for model in (BoardRow, BoardCount, BoardStatusCount, BoardMarcheCount, BoardStatusMarcheCount,
                          BoardCadreMarcheCount, BoardPartyCount, BoardMoneyDelta, BoardMoneyLine, BoardMoneyTotal):
                assert db.session.scalars(select(model).where(model.structure_id == victim_id)).all() == []
        with access.tenant(victim_id):
            assert db.session.scalars(select(BoardRow.piece_id)).all() == [world["args"]["piece_id"]]
        db.session.rollback()


@pytest.mark.parametrize("offer_max", [None, 0])
def test_every_page_of_a_sous_traitant_names_only_the_companies_it_may_see(app, db, monkeypatch, offer_max):
    """Issue 15: a sous-traitant's filters, lists and counts offer only what it may see. On a marché where a sibling
    sous-traitant of the same mandataire has deposited pieces (Plâtrerie and Carrelage under Durand), every page of
    the Plâtrerie's structure that takes no other argument — the Synthèse, the Tableau de bord with each of its
    filters, the lists, exports and panels — never names the sibling nor shows its SIRET or its piece numbers."""
    from chorus_chain.extensions import db as database
    from chorus_chain.models import Marche
    from chorus_chain.operations.board_reading import parties
    from tests.integration import pieces_world as pw

    if offer_max is not None:  # the bounded offer (beyond OFFER_MAX companies): a chosen company is probed alone
        monkeypatch.setattr(parties, "OFFER_MAX", offer_max)
    w = pw.world(app)
    own = pw.deposit(app, w, w.st1, "A10", "PLA-OWN-1")
    hidden = [pw.deposit(app, w, w.sibling, "A10", f"CAR-HID-{n}") for n in (1, 2)]
    pw.act(app, w.mandataire, hidden[0], "validate")
    forbidden = [w.sibling.name, w.sibling.siret, "CAR-HID-1", "CAR-HID-2"]
    client = pw.logged_in(app, w.st1)
    filters = ["", f"?marche_id={w.marche_id}", f"?party_id={w.st1.party_id}", f"?party_id={w.sibling.party_id}",
               f"?marche_id={w.marche_id}&party_id={w.sibling.party_id}", "?status=A_VALIDER_1",
               "?status=MISE_EN_PAIEMENT", "?number=CAR", "?number=car-hid", "?number=HID", "?number=PLA"]
    # The marché and company filters' suggestions (search fields beyond OFFER_MAX): a part of the sibling's name, of
    # its pieces' numbers, of the marché's reference, nothing typed, the marché chosen.
    suggestions = {
        "dashboard.party_suggestions": ["", "?entreprise=Carrel", "?entreprise=carrelage+test", "?entreprise=Test",
                                        f"?entreprise=&marche_id={w.marche_id}", "?entreprise=CAR-HID", "?entreprise=M-"],
        "dashboard.marche_suggestions": ["", "?marche=M-", "?marche=Carrel"],
    }
    filters += ["?entreprise=Carrelage", f"?entreprise=Carrelage&marche_id={w.marche_id}", "?marche=M-",
                "?entreprise=Test", f"?entreprise=&party_id={w.sibling.party_id}"]
    # The Synthèse's and the pieces' lists' marché filter (the same search field beyond OFFER_MAX marchés): an id, a
    # reference typed whole or in part, in any case, and the marché named by a text that is the sibling's.
    with app.app_context():
        reference = database.session.get(Marche, w.marche_id).reference
    by_marche = ["", f"?marche_id={w.marche_id}", f"?marche={reference.lower()}", "?marche=M-",
                 f"?marche=Carrelage&marche_id={w.marche_id}", f"?marche=&marche_id={w.marche_id}"]
    listed = {"dashboard.synthese": by_marche, "pieces.a_traiter": by_marche, "pieces.emises": by_marche,
              "pieces.recues": by_marche}
    args = {"siret": w.st1.siret, "marche_id": w.marche_id, "party_id": w.st1.party_id}
    walked = 0
    for rule in _tenant_rules(app):
        if "GET" not in rule.methods or set(rule.arguments) - set(args):
            continue
        url = _url(app, rule, args)
        # The filters' suggestions answer HTMX alone (opened as a page they send to the Tableau de bord); the
        # Synthèse and the lists are read as pages and as their lists (HTMX).
        headers = ([{"HX-Request": "true"}] if rule.endpoint in suggestions else
                   [{}, {"HX-Request": "true"}] if rule.endpoint in listed else [{}])
        for query in (filters if rule.endpoint == "dashboard.tableau_de_bord" else
                      suggestions.get(rule.endpoint) or listed.get(rule.endpoint) or [""]):
            for header in headers:
                response = client.get(url + query, headers=header)
                if response.status_code != 200 or response.mimetype not in ("text/html", "text/csv",
                                                                             "application/json"):
                    continue
                text = response.get_data(as_text=True)
                walked += 1
                assert "PLA-OWN-1" in text or rule.endpoint != "dashboard.tableau_de_bord", url + query
                for name in forbidden:
                    assert name not in text, f"GET {url}{query} ({rule.endpoint}, {header}) shows {name!r}"
    assert walked >= 20 + 2 * 4 * len(by_marche), walked
    base = f"/s/{w.st1.siret}/tableau-de-bord"
    # The walk read suggestions that name something: its own company, found.
    found = client.get(f"{base}/filtres/entreprises?entreprise=Pl", headers={"HX-Request": "true"})
    assert found.get_data(as_text=True).count(f'data-value="{w.st1.party_id}"') == 1
    # The sibling's name typed whole is a name like any other it does not know (the text is said back, no more).
    typed = client.get(f"{base}?entreprise=Carrelage+Test").get_data(as_text=True)
    assert "Aucune entreprise de vos pièces" in typed and f'value="{w.sibling.party_id}"' not in typed
    assert typed.count(w.sibling.name) == 2  # the field's text and the sentence saying it was not found
