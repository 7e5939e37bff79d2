"""The hostile-client suite for writes (issue 13): every POST route × object ids that are not the identity's × every
identity — anonymous, an outsider, a platform operator, the gestionnaire of each demo company — is refused (a
redirect to the login page, 400, 403 or 404), and the database is unchanged (a digest of every table's rows, so an
UPDATE shows as well as an INSERT).

The objects: the demo (seeded as `flask demo` does), plus a second marché of its own (tests/integration/pieces_world)
whose mandataire is the outsider: it gives every demo company marchés, parties, pieces, files, price lines, bank
accounts, services, members, tickets, documents and API clients that are not its own. What belongs to whom is read
from the rows (emitter or access row for a piece; the structure's column for the others; the parties of a marché),
independently of the routes under test.

- An identity with a structure posts to every /s/<siret>/ POST route under its own SIRET with ids of objects it has
  no part in (a sample of each pool, every pool of the route), and to every route with one sample under the SIRET of
  each demo company it is not a member of (404: not even the structure's existence is confirmed);
- anonymous and the operator (no structure) post to every route under each demo company's SIRET;
- the operator routes (/operateur, /taux-bce) are posted by everyone but the operator; the public forms (login,
  sign-up, reset, invitation…) are posted empty by anonymous: refused or re-shown, nothing stored.

A live database (real commits, dropped at the end): thousands of requests inside one outer transaction would hold a
lock per savepoint that wrote, beyond PostgreSQL's lock table (« out of shared memory »).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from flask import url_for
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.extensions import db
from chorus_chain.operations import etats_acompte as etat_ops
from chorus_chain.models import (
    Account,
    ApiClient,
    BankAccount,
    GeneratedDocument,
    Marche,
    MarcheParty,
    Piece,
    PieceAccess,
    PieceFile,
    Rattachement,
    Service,
    Structure,
    Ticket,
    WebhookSubscription,
)
from chorus_chain.models.money import EtatAcompte, PriceLine
from tests import factories
from tests.conftest import live_application
from tests.integration import api_world
from tests.integration import pieces_world as pw
from tests.integration.db_counts import table_checksums
from tests.integration.etats_world import as_moe, price_line

COMPANY = {c.key: c for c in demo.COMPANIES}
KEYS = [c.key for c in demo.COMPANIES]
IDENTITIES = ["anonymous", "outsider", "operator", *KEYS]
OPERATOR_PREFIXES = ("/operateur", "/taux-bce")
# A stranger's refusal: not a member (404), not allowed (403), a request shape refused (400).
REFUSED = {400, 403, 404}
PER_POOL = 4  # ids of each pool per route (half from each end of the pool)
PER_ROUTE = 12  # URLs per route at most (the combinations of the pools)
UNKNOWN_ID = 987654


@dataclass
class Objects:
    """Every object of the two marchés, with whom it belongs to (structure ids)."""
    siret_of: dict[str, str]  # identity → its SIRET (the demo companies and the outsider)
    structure_of: dict[str, int]
    accounts: dict[str, SimpleNamespace]  # identity → its gestionnaire (id, email)
    seen_by: dict[int, set[int]]  # structure → the pieces it sees
    pieces: list[int]
    files: list[tuple[int, int]]  # (piece id, file id)
    marches_of: dict[int, set[int]]  # structure → the marchés it is a party of
    by_marche: dict[str, dict[int, int]]  # pool → {id: marché id} (parties, états, price lines)
    by_structure: dict[str, dict[int, int]]  # pool → {id: structure id} (bank accounts, services, members, …)
    members_of: dict[int, set[int]]  # structure → the accounts attached to it
    marches: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def live():
    yield from live_application("chorus_hostile_writes", {
        "WTF_CSRF_ENABLED": False,  # a forged token would be refused first and prove nothing about the routes
        "LOGIN_RATE_LIMIT": "10000 per minute", "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})


@pytest.fixture(scope="module")
def objects(live) -> Objects:
    app = live
    with app.app_context():
        demo.seed()
        db.session.commit()
    w = pw.world(app)
    pw.deposit(app, w, w.mandataire, "A4", "PDM-1", ht="1000.00")
    pw.create(app, w, w.st1, "A10", "PDM-ST1", ht="500.00")  # a draft, with its file
    price_line(app, w, "L1", w.st1.party_id, quantity="10", unit_price="100.00")
    as_moe(app, w, lambda access, account, structure: etat_ops.open_etat(access, account, structure, "2026-02",
                                                                         now=pw.NOW))
    with app.test_request_context():
        from chorus_chain.access import system_access
        from chorus_chain.operations import support, webhooks

        with system_access("test: the objects of the hostile-write suite"):
            s = db.session
            structures = {c.key: s.scalar(select(Structure).where(Structure.siret == c.siret))
                          for c in demo.COMPANIES}
            structures["outsider"] = s.get(Structure, w.mandataire.structure_id)
            accounts = {key: s.get(Account, st.gestionnaire_id) for key, st in structures.items()}
            for key, st in structures.items():  # a ticket, a document and an API client of each: ids with an owner
                support.open_ticket(st, accounts[key], f"Question de {st.name}", "Bonjour")
                s.add(GeneratedDocument(structure_id=st.id, marche_id=None, kind="fiche", content_key=f"{key:0<64}",
                                        filename="fiche.pdf", content_type="application/pdf"))
            s.commit()
            for key, st in structures.items():  # an API client of each, with a webhook subscription
                client_id, _ = api_world.new_client(app, st.id, accounts[key].id, name=f"Logiciel {key}")
                webhooks.subscribe(s.scalar(select(ApiClient).where(ApiClient.client_id == client_id)), st,
                                   accounts[key], {"url": f"http://127.0.0.1:9/{key}"}, now=pw.NOW)
            s.commit()
            seen_by: dict[int, set[int]] = {}
            for piece_id, emitter in s.execute(select(Piece.id, Piece.emitter_structure_id)):
                seen_by.setdefault(emitter, set()).add(piece_id)
            for piece_id, structure_id in s.execute(select(PieceAccess.piece_id, PieceAccess.structure_id)):
                seen_by.setdefault(structure_id, set()).add(piece_id)
            marches_of: dict[int, set[int]] = {}
            for marche_id, structure_id in s.execute(select(MarcheParty.marche_id, MarcheParty.structure_id)):
                marches_of.setdefault(structure_id, set()).add(marche_id)
            for marche_id, creator in s.execute(select(Marche.id, Marche.created_by_id)):
                marches_of.setdefault(creator, set()).add(marche_id)
            members_of: dict[int, set[int]] = {}
            for account_id, structure_id in s.execute(select(Rattachement.account_id, Rattachement.structure_id)):
                members_of.setdefault(structure_id, set()).add(account_id)
            by_marche = {
                "party_id": dict(s.execute(select(MarcheParty.id, MarcheParty.marche_id)).all()),
                "etat_id": dict(s.execute(select(EtatAcompte.id, EtatAcompte.marche_id)).all()),
                "line_id": dict(s.execute(select(PriceLine.id, PriceLine.marche_id)).all()),
            }
            by_structure = {
                "bank_account_id": dict(s.execute(select(BankAccount.id, BankAccount.structure_id)).all()),
                "service_id": dict(s.execute(select(Service.id, Service.structure_id)).all()),
                "member_id": dict(s.execute(select(Rattachement.id, Rattachement.structure_id)).all()),
                "rattachement_id": dict(s.execute(select(Rattachement.id, Rattachement.structure_id)).all()),
                "ticket_id": dict(s.execute(select(Ticket.id, Ticket.structure_id)).all()),
                "document_id": dict(s.execute(select(GeneratedDocument.id, GeneratedDocument.structure_id)).all()),
                "api_client_id": dict(s.execute(select(ApiClient.id, ApiClient.structure_id)).all()),
                "subscription_id": dict(s.execute(select(WebhookSubscription.id,
                                                         WebhookSubscription.structure_id)).all()),
            }
            files = [tuple(row) for row in s.execute(select(PieceFile.piece_id, PieceFile.id))]
            accounts = {key: SimpleNamespace(id=a.id, email=a.email) for key, a in accounts.items()}
            return Objects(
                siret_of={key: st.siret for key, st in structures.items()},
                structure_of={key: st.id for key, st in structures.items()},
                accounts=accounts, seen_by=seen_by, pieces=sorted(s.scalars(select(Piece.id))), files=files,
                marches_of=marches_of, by_marche=by_marche, by_structure=by_structure, members_of=members_of,
                marches=sorted(s.scalars(select(Marche.id))))


def client_for(app, o: Objects, identity: str):
    client = app.test_client()
    if identity == "anonymous":
        return client
    if identity == "operator":
        factories.login(client, factories.account(app, is_operator=True))
    elif identity == "outsider":
        factories.login(client, o.accounts["outsider"])
    else:
        factories.login(client, o.accounts[identity], password=demo.DEMO_PASSWORD)
    return client


# ---------------------------------------------------------------------------------------------------------------------
# The ids that are not an identity's


def _spread(values: list) -> list:
    values = sorted(set(values))
    half = PER_POOL // 2
    return values if len(values) <= PER_POOL else values[:half] + values[-half:]


def foreign_pools(o: Objects, structure_id: int | None) -> dict[str, list]:
    """For each URL argument, ids of objects the structure has no part in (all of them for None: no structure)."""
    marches = o.marches_of.get(structure_id, set())
    seen = o.seen_by.get(structure_id, set())
    pools = {
        "piece_id": [p for p in o.pieces if p not in seen],
        "marche_id": [m for m in o.marches if m not in marches],
        "account_id": [a.id for a in o.accounts.values() if a.id not in o.members_of.get(structure_id, set())],
    }
    for name, owners in o.by_marche.items():
        pools[name] = [i for i, marche in owners.items() if marche not in marches]
    for name, owners in o.by_structure.items():
        pools[name] = [i for i, owner in owners.items() if owner != structure_id]
    return pools


def _combos(rule, pools: dict[str, list], files: list[tuple[int, int]], sample: bool) -> list[dict]:
    names = [a for a in rule.arguments if a != "siret"]
    if "file_id" in names:
        chosen = files[:1] if sample else _spread(files)
        return [{"piece_id": p, "file_id": f} for p, f in chosen]
    values = {}
    for name in names:
        pool = pools.get(name) or [UNKNOWN_ID]
        values[name] = pool[:1] if sample else _spread(pool)
    combos = [dict(zip(values, chosen)) for chosen in itertools.product(*values.values())]
    return combos[:1] if sample else combos[:PER_ROUTE]


def _post_rules(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "POST" in rule.methods and not rule.rule.startswith("/api/"):
            yield rule


def _url(app, rule, **values) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


# ---------------------------------------------------------------------------------------------------------------------
# The walk


@dataclass
class Walk:
    app: object
    client: object
    identity: str
    before: dict[str, str]
    count: int = 0
    problems: list[str] = field(default_factory=list)

    def post(self, url: str, allowed: set[int], *, login_redirect: bool = False, data: dict | None = None) -> None:
        response = self.client.post(url, data=data or {})
        self.count += 1
        status = response.status_code
        location = response.headers.get("Location", "")
        if login_redirect and status in (302, 303) and "/connexion" in location:
            return
        if status not in allowed:
            self.problems.append(f"POST {url} as {self.identity} → {status} {location}".strip())

    def unchanged(self, what: str) -> None:
        """The database as it was before `what` (one route's requests): else say which tables changed."""
        after = table_checksums(self.app)
        changed = sorted(name for name in after if after[name] != self.before.get(name))
        if changed:
            self.problems.append(f"{what} as {self.identity} changed {', '.join(changed)}")
            self.before = after


def walk_tenant_routes(w: Walk, o: Objects) -> None:
    own = o.siret_of.get(w.identity)
    structure_id = o.structure_of.get(w.identity)
    pools = foreign_pools(o, structure_id)
    files = [(p, f) for p, f in o.files if p not in o.seen_by.get(structure_id, set())]
    anonymous = w.identity == "anonymous"
    for rotation, rule in enumerate(_post_rules(w.app)):
        if not rule.rule.startswith("/s/<siret>"):
            continue
        for index, company in enumerate(demo.COMPANIES):
            if company.siret == own:
                continue  # its own SIRET: below, with the ids of others
            # Not a member: the same answer whatever the ids (a sample); without a structure of its own, every id
            # under one of the SIRETs (another one for each route).
            sample = structure_id is not None or index != rotation % len(demo.COMPANIES)
            for values in _combos(rule, pools, files, sample=sample):
                w.post(_url(w.app, rule, siret=company.siret, **values), REFUSED, login_redirect=anonymous)
        if own is not None and len(rule.arguments) > 1:  # without an id, the route is the structure's own to post
            for values in _combos(rule, pools, files, sample=False):
                w.post(_url(w.app, rule, siret=own, **values), REFUSED)
        w.unchanged(rule.endpoint)


def walk_platform_routes(w: Walk, o: Objects) -> None:
    """The routes outside /s/<siret>: the operator's (refused to all others), the public forms (posted empty by
    anonymous). A signed-in user's own account pages (/compte, /deconnexion) are theirs to post: not walked."""
    anonymous = w.identity == "anonymous"
    tickets = list(o.by_structure["ticket_id"])
    for rule in _post_rules(w.app):
        if rule.rule.startswith("/s/<siret>"):
            continue
        values = {name: UNKNOWN_ID for name in rule.arguments}
        if "ticket_id" in values:
            values["ticket_id"] = tickets[0]
        if "token" in values:
            values["token"] = "pas-un-jeton"
        if "siret" in values:  # asking to join a demo company (/compte/structures/<siret>/rattachement)
            values["siret"] = o.siret_of["mandataire"]
        url = _url(w.app, rule, **values)
        if rule.rule.startswith(OPERATOR_PREFIXES):
            if w.identity == "operator":
                continue
            w.post(url, REFUSED, login_redirect=anonymous)
        elif anonymous:
            # A public form posted empty is shown again with its errors (200, 422) or sent to the login page.
            w.post(url, REFUSED | {200, 422}, login_redirect=True)
        else:
            continue
        w.unchanged(rule.endpoint)


def pending_job(app) -> None:
    """A job waiting in the outbox (an e-mail of someone else's): a refused request that committed would hand it
    over (run it inline, here) and the digest would show it."""
    from chorus_chain.operations.mail import queue_mail

    with app.test_request_context():
        queue_mail("quelqu-un@example.fr", "password_changed", account={"first_name": "Camille",
                                                                          "email": "quelqu-un@example.fr"})
        db.session.commit()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_no_post_writes_what_is_not_the_identitys(live, objects, identity):
    app = live
    client = client_for(app, objects, identity)
    pending_job(app)
    w = Walk(app, client, identity, table_checksums(app))
    walk_tenant_routes(w, objects)
    walk_platform_routes(w, objects)
    assert w.count > 100
    assert not w.problems, f"{len(w.problems)} problems in {w.count} posts:\n" + "\n".join(w.problems[:60])


def test_every_identity_has_foreign_ids_in_every_pool(objects):
    """The suite proves something only if each identity has objects of others to try, in every pool."""
    for identity in ("outsider", *KEYS):
        pools = foreign_pools(objects, objects.structure_of[identity])
        empty = [name for name, values in pools.items() if not values]
        assert not empty, (identity, empty)
