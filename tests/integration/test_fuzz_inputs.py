"""Fuzz every form and every query parameter of the application with hostile values: no request may answer 500, and
no hostile request may change the database (the row count of every table is compared before and after).

Nothing here is listed by hand: the forms and the query parameters are discovered by walking the demo as several of
its companies (every page a link reaches, every <form> on it, every query name a link or a GET form carries), and
the integer URL arguments come from the application's routes. A new form or filter is fuzzed the day it appears.

Bounded: two pages per endpoint, and the walk made once for the module (its logins committed in the module's own copy
of the demo, tests/conftest.py `demo_app`). Each field of each form gets a deterministic share of the hostile classes
(`hostile_labels`): every field at least three, a field the page marks as a number or a date every numeric class, and
every class at least once in every form — a third of the cross-product. `CHORUS_FUZZ_FULL=1` sends every class to
every field (the nightly / manual run, CONTRIBUTING.md « Tests »).
"""
from __future__ import annotations

import collections
import math
import os
import re
import zlib
from urllib.parse import parse_qsl, urlencode, urlsplit

import lxml.html
import pytest
from sqlalchemy import select

from chorus_chain import demo
from chorus_chain.extensions import db
from chorus_chain.models import Account
from tests import factories
from tests.integration.db_counts import row_counts
# `app` and `demo_world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_marches_visibility import app, demo_world  # noqa: F401

# The hostile values: each must be refused (or ignored, for a filter) without a 500 and without storing anything.
HOSTILE = {
    "nul": "abc\x00def",
    "control": "abc\x1b[31m\x07def",
    "bidi": "abc\u202edef",
    "huge_number": "9" * 40,
    "huge_int": "99999999999999999999",
    "far_date": "9999-12-31",
    "old_date": "0001-01-01",
    "crlf": "/a\r\nSet-Cookie: x=1",
    "long": "x" * 10_000,
}
# A textarea takes several lines: CR/LF there is ordinary text, not a hostile value.
MULTILINE_OK = {"crlf"}
# In free text (a name, a number of invoice) digits and dates are ordinary text: they must not give a 500, but a
# form may store them. In a field the page marks as a number or a date (its type or inputmode), they must be refused.
TEXT_OK = {"huge_number", "huge_int", "far_date", "old_date"}
NUMERIC_KINDS = {"date", "month", "number"}
NUMERIC_MODES = {"numeric", "decimal"}

# Every hostile class to every field (thousands more requests): the nightly / manual run.
FULL = os.environ.get("CHORUS_FUZZ_FULL", "") == "1"
CLASSES_PER_FIELD = 3
NUMERIC_CLASSES = [label for label in HOSTILE if label in TEXT_OK]


def hostile_labels(form: str, index: int, count: int, numeric: bool) -> list[str]:
    """The hostile classes sent to the `index`-th of a form's `count` fuzzed fields. Deterministic: each field takes
    the next block of the classes, in a rotation that starts at a place fixed by the form's name (so that the first
    field of every form is not always given the same ones); the blocks are long enough for the form's fields to cover
    every class; a numeric field also takes every numeric class (the values its parsing must refuse). Under
    CHORUS_FUZZ_FULL=1: every class."""
    labels = list(HOSTILE)
    if FULL:
        return labels
    per_field = max(CLASSES_PER_FIELD, math.ceil(len(labels) / max(count, 1)))
    start = zlib.crc32(form.encode()) + index * per_field
    chosen = [labels[(start + step) % len(labels)] for step in range(per_field)]
    if numeric:
        chosen += [label for label in NUMERIC_CLASSES if label not in chosen]
    return chosen


IDENTITIES = ("mandataire", "moe", "moa", "st_platrerie", "st_peinture")
# The walk leaves through these (they end the session or are not pages).
NEVER_FOLLOW = ("/deconnexion", "/static/")
NEVER_FOLLOW_ENDPOINTS = {"chat_operator.operator_stream"}  # a stream: it does not end
PAGES_PER_ENDPOINT = 2
SKIPPED_FIELD_TYPES = {"checkbox", "radio", "file", "submit", "button", "image", "reset"}


def _client_of(app, key: str):
    company = next(c for c in demo.COMPANIES if c.key == key)
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == company.email))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    return client, company.siret


def _endpoint(app, path: str, method: str = "GET") -> str | None:
    try:
        return app.url_map.bind("localhost").match(path, method=method)[0]
    except Exception:  # not a route of the application (or not for this method)
        return None


class Discovered:
    def __init__(self):
        self.pages: dict[str, tuple[str, str]] = {}  # endpoint → (url, identity) of the first page reached
        self.forms: dict[tuple, dict] = {}  # (method, endpoint, field names) → the form's facts
        self.query_names: set[str] = set()


def _walk(app, discovered: Discovered, key: str, client, siret: str | None, start: list[str] | None = None) -> None:
    queue = start or [f"/s/{siret}/", "/mes-structures", "/profil"]
    visited: set[str] = set()
    per_endpoint: collections.Counter = collections.Counter()
    while queue:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url)
        assert response.status_code < 500, f"GET {url} as {key} → {response.status_code}"
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        endpoint = _endpoint(app, urlsplit(url).path)
        discovered.pages.setdefault(endpoint, (url, key))
        document = lxml.html.fromstring(response.get_data(as_text=True), base_url=f"http://localhost{url}")
        for form in document.forms:
            _record_form(app, discovered, key, url, form)
        for link in document.xpath("//a[@href]"):
            parts = urlsplit(link.get("href"))
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                continue
            if parts.path.startswith(NEVER_FOLLOW):
                continue
            discovered.query_names.update(name for name, _ in parse_qsl(parts.query, keep_blank_values=True))
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            endpoint = _endpoint(app, parts.path)
            if endpoint is None or endpoint == "static" or endpoint in NEVER_FOLLOW_ENDPOINTS or target in visited:
                continue
            if per_endpoint[endpoint] >= PAGES_PER_ENDPOINT:
                continue
            per_endpoint[endpoint] += 1
            queue.append(target)


def _record_form(app, discovered: Discovered, key: str, page_url: str, form) -> None:
    method = (form.method or "GET").upper()
    action = urlsplit(form.action or page_url).path
    if action.startswith(NEVER_FOLLOW):
        return
    fields: dict[str, dict] = {}
    for element in form.inputs:
        name = element.get("name")
        if not name:
            continue
        tag = element.tag
        kind = (element.get("type") or "text").lower() if tag == "input" else tag
        if kind in ("checkbox", "radio"):
            value = element.get("value", "on") if element.checked else None
        elif tag == "select":
            value = element.value if not element.multiple else None
        else:
            value = element.value or ""
        if value is None and name in fields:
            continue
        numeric = kind in NUMERIC_KINDS or (element.get("inputmode") or "") in NUMERIC_MODES
        fields[name] = {"kind": kind, "value": value, "numeric": numeric}
    if method == "GET":
        discovered.query_names.update(fields)
    # One form per endpoint and shape: the action form of piece 25 and of piece 28 are the same form.
    shape = tuple(sorted(re.sub(r"\d+", "#", name) for name in fields))
    identity = (method, _endpoint(app, action, method), shape)
    discovered.forms.setdefault(identity, {"key": key, "action": action, "method": method, "fields": fields})


def _counts(app) -> dict[str, int]:
    return row_counts(app)


def _base_data(fields: dict) -> dict[str, str]:
    return {name: facts["value"] for name, facts in fields.items()
            if facts["value"] is not None and facts["kind"] not in ("file", "submit", "button", "image", "reset")}


def _fuzzable(fields: dict):
    for name, facts in fields.items():
        if name == "csrf_token" or facts["kind"] in SKIPPED_FIELD_TYPES:
            continue
        yield name, facts


@pytest.fixture(scope="module")
def walked(app):
    """The walk as the demo companies, once for the module: its logins are committed in the module's own copy of the
    demo (outside any test's transaction), so the clients stay logged in for every test of the module."""
    propagate = app.config.get("PROPAGATE_EXCEPTIONS")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an error answers the 500 page
    try:
        found = Discovered()
        clients = {}
        for key in IDENTITIES:
            client, siret = _client_of(app, key)
            clients[key] = client
            _walk(app, found, key, client, siret)
        yield found, clients
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = propagate


@pytest.fixture
def discovered(app, walked, demo_world, monkeypatch):
    # As in production: an unhandled error answers the 500 page (which must itself work) instead of reaching pytest.
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    return walked


def test_the_walk_finds_the_forms(discovered):
    found, _clients = discovered
    endpoints = {identity[1] for identity in found.forms}
    # The walk must reach the forms that take free text, amounts and dates, else the fuzz proves nothing.
    for expected in ("pieces.draft_new", "marches.create", "marches.declare", "organisation.settings_save",
                     "organisation.bank_account_add", "support.new", "bordereau.add", "etats.set_index",
                     "dashboard.tableau_de_bord", "pieces.act"):
        assert expected in endpoints, f"the walk did not reach the form of {expected}"
    assert {"page", "marche_id", "number"} <= found.query_names


def test_no_form_field_gives_a_500_or_stores_a_hostile_value(app, discovered):
    found, clients = discovered
    failures = _fuzz_forms(app, found, clients)
    assert not failures, "\n".join(failures)


def test_the_public_and_the_operators_forms_too(app, demo_world, monkeypatch):
    """The forms a company's walk does not reach: the public ones (login, sign-up, password reset) posted by
    anonymous, and the platform operator's (tickets, contests, jobs, ECB rates)."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    found = Discovered()
    anonymous = app.test_client()
    _walk(app, found, "anonymous", anonymous, None, start=["/connexion", "/inscription", "/mot-de-passe-oublie"])
    operator = app.test_client()
    factories.login(operator, factories.account(app, is_operator=True))
    _walk(app, found, "operator", operator, None, start=["/operateur/demandes", "/operateur/conversations",
                                                          "/operateur/travaux", "/taux-bce/"])
    endpoints = {identity[1] for identity in found.forms}
    for expected in ("auth.login", "auth.signup", "auth.forgot_password", "rates.add"):
        assert expected in endpoints, f"the walk did not reach the form of {expected}"
    failures = _fuzz_forms(app, found, {"anonymous": anonymous, "operator": operator})
    assert not failures, "\n".join(failures)


def _fuzz_forms(app, found: Discovered, clients: dict) -> list[str]:
    """Each field of each form found, set to each hostile value: the failures (a 500, a hostile value stored)."""
    failures = []
    before = _counts(app)
    for (method, endpoint, _names), form in sorted(found.forms.items(), key=lambda item: str(item[0])):
        client = clients[form["key"]]
        fuzzable = list(_fuzzable(form["fields"]))
        for index, (name, facts) in enumerate(fuzzable):
            for label in hostile_labels(f"{method} {endpoint}", index, len(fuzzable), facts["numeric"]):
                value = HOSTILE[label]
                if label in MULTILINE_OK and facts["kind"] == "textarea":
                    continue
                may_store = label in TEXT_OK and not facts["numeric"]
                data = {**_base_data(form["fields"]), name: value}
                where = f"{method} {form['action']} ({endpoint}) {name}={label} as {form['key']}"
                try:
                    if method == "GET":
                        response = client.get(f"{form['action']}?{urlencode(data)}")
                    else:
                        response = client.post(form["action"], data=data)
                except Exception as error:  # the error page itself failed
                    failures.append(f"{where} → {type(error).__name__}: {error}"[:300])
                    continue
                if response.status_code >= 500:
                    failures.append(f"{where} → {response.status_code}")
                    continue
                after = _counts(app)
                if after != before and may_store:
                    before = after
                elif after != before:
                    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                    failures.append(f"{where} → {response.status_code} stored {changed}")
                    before = after
    return failures


def test_no_query_parameter_gives_a_500(app, discovered):
    found, clients = discovered
    failures = []
    names = sorted(found.query_names | {"next"})
    for endpoint, (url, key) in sorted(found.pages.items()):
        path = urlsplit(url).path
        for label, value in HOSTILE.items():
            try:
                response = clients[key].get(f"{path}?{urlencode({name: value for name in names})}")
            except Exception as error:  # the error page itself failed
                failures.append(f"GET {path} ?*={label} → {type(error).__name__}: {error}"[:300])
                continue
            if response.status_code >= 500:
                failures.append(f"GET {path} ({endpoint}) ?*={label} as {key} → {response.status_code}")
    assert not failures, "\n".join(failures)


def test_no_huge_id_in_a_url_gives_a_500(app, discovered):
    """Every route with an integer argument, each argument set to a number no database column holds."""
    found, clients = discovered
    client = clients["mandataire"]
    siret = next(c.siret for c in demo.COMPANIES if c.key == "mandataire")
    failures = []
    for rule in app.url_map.iter_rules():
        converters = {name: type(conv).__name__ for name, conv in rule._converters.items()}
        integers = [name for name, kind in converters.items() if kind == "IntegerConverter"]
        if not integers:
            continue
        values = {name: "99999999999999999999" if name in integers else None for name in rule.arguments}
        if "siret" in values:
            values["siret"] = siret
        if any(value is None for value in values.values()):
            continue  # an argument that is not an integer nor the structure (a token, a slug): not this test's
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            try:
                response = client.open(path, method=method, data={})
            except Exception as error:  # the error page itself failed
                failures.append(f"{method} {path} → {type(error).__name__}: {error}"[:300])
                continue
            if response.status_code >= 500:
                failures.append(f"{method} {path} ({rule.endpoint}) → {response.status_code}")
    assert not failures, "\n".join(failures)


def test_the_sample_gives_every_class_in_every_form_and_three_to_every_field():
    """The sampling's promise (`hostile_labels`), whatever a form's number of fields."""
    for count in range(1, 16):
        for form in ("POST pieces.draft_new", "GET dashboard.tableau_de_bord", "POST support.new"):
            chosen = [hostile_labels(form, index, count, numeric=False) for index in range(count)]
            assert set().union(*chosen) == set(HOSTILE), (form, count)
            assert all(len(set(labels)) >= CLASSES_PER_FIELD for labels in chosen)
    assert set(NUMERIC_CLASSES) <= set(hostile_labels("POST etats.set_index", 4, 6, numeric=True))
    assert NUMERIC_CLASSES == ["huge_number", "huge_int", "far_date", "old_date"]
