"""The hostile-client suite for writes (issue 13): every POST route × object ids that are not the identity's × every
identity — anonymous, an outsider, a platform operator, the gestionnaire of each demo company — is refused (a
redirect to the login page, 400, 403 or 404), and the database is unchanged (a digest of every table's rows, so an
UPDATE shows as well as an INSERT).

The objects: the demo and a second marché whose mandataire is the outsider (tests/integration/hostile_world.py):
every identity has objects of others to try in every pool.

- An identity with a structure posts to every /s/<siret>/ POST route under its own SIRET with ids of objects it has
  no part in (a sample of each pool, every pool of the route), and to every route with one sample under the SIRETs
  of two demo companies it is not a member of, another two for each route (404: not even the structure's existence
  is confirmed);
- anonymous and the operator (no structure) post to every route under two demo companies' SIRETs, every sampled id
  under one of them;
- the operator routes (/operateur, /taux-bce) are posted by everyone but the operator; the public forms (login,
  sign-up, reset, invitation…) are posted empty by anonymous: refused or re-shown, nothing stored.

A live database (real commits, dropped at the end): thousands of requests inside one outer transaction would hold a
lock per savepoint that wrote, beyond PostgreSQL's lock table (« out of shared memory »).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from flask import url_for

from chorus_chain import demo
from chorus_chain.extensions import db
from tests import factories
from tests.conftest import live_application
from tests.integration.db_counts import table_checksums
from tests.integration.hostile_world import Objects, build_objects, foreign_pools

COMPANY = {c.key: c for c in demo.COMPANIES}
KEYS = [c.key for c in demo.COMPANIES]
IDENTITIES = ["anonymous", "outsider", "operator", *KEYS]
OPERATOR_PREFIXES = ("/operateur", "/taux-bce")
# A stranger's refusal: not a member (404), not allowed (403), a request shape refused (400).
REFUSED = {400, 403, 404}
PER_POOL = 2  # ids of each pool per route (one from each end of the pool: the demo's, the second marché's)
PER_ROUTE = 4  # URLs per route at most (the combinations of the pools)
OTHER_SIRETS = 2  # the demo companies a member is not in, per route (another pair for each route)
UNKNOWN_ID = 987654


@pytest.fixture(scope="module")
def live(demo_template):
    yield from live_application("chorus_hostile_writes", template=demo_template, config={
        "WTF_CSRF_ENABLED": False,  # a forged token would be refused first and prove nothing about the routes
        "LOGIN_RATE_LIMIT": "10000 per minute", "SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False})


@pytest.fixture(scope="module")
def objects(live) -> Objects:
    return build_objects(live)


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
        others = [c for c in demo.COMPANIES if c.siret != own]  # its own SIRET: below, with the ids of others
        for index, company in enumerate(others):
            turn = (index - rotation) % len(others)
            if turn >= OTHER_SIRETS:
                continue
            # Not a member: the same answer whatever the ids (a sample); without a structure of its own, every id
            # under one of the SIRETs.
            sample = structure_id is not None or turn != 0
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
