"""What every logged-in page pays before and around its own content (issue 20, the floor): the tenant switch rides on
the statement that reads the membership, and the layout's two counts (the bell, the pending approvals) are one
statement — with every property they had: row-level security set for the structure of the URL and no other, nothing
set for a stranger, the counts right and each member's own."""
from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy
from flask_login import login_user
from sqlalchemy import event, text
from werkzeug.exceptions import NotFound

from chorus_chain import access, tenancy
from chorus_chain.extensions import db
from chorus_chain.models import Account, Notification, Rattachement, Structure
from chorus_chain.models.base import utcnow
from tests import factories
from tests.integration import pieces_world as pw
from tests.integration.db_counts import statements

HX = {"HX-Request": "true"}


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _settings() -> tuple[str | None, str | None]:
    return tuple(db.session.execute(text("SELECT current_setting('chorus.structure_id', true), "
                                         "current_setting('chorus.system', true)")).one())


def _notify(app, who: pw.Actor, n: int, *, structure_id: int | None = None, read: bool = False) -> None:
    with pw.system(app):
        db.session.add_all(Notification(account_id=who.account_id, structure_id=structure_id or who.structure_id,
                                        kind="piece_to_act", text=f"Note {i}", url="",
                                        read_at=utcnow() if read else None) for i in range(n))
        db.session.commit()


@pytest.mark.postgres
def test_the_membership_read_sets_the_tenant_of_the_transaction(app, w):
    with app.test_request_context(f"/s/{w.st1.siret}/aide/"):
        login_user(db.session.get(Account, w.st1.account_id))
        assert _settings()[0] in (None, "")
        with statements(app) as seen:
            structure = tenancy.load_structure_for_current_user(w.st1.siret)
        assert structure.id == w.st1.structure_id and access.current_tenant() == w.st1.structure_id
        assert len(seen) == 1 and "set_config" in seen[0] and "FROM structure JOIN rattachement" in seen[0]
        assert _settings() == (str(w.st1.structure_id), "off")
        # Row-level security now answers for this structure alone: raw SQL sees its notifications, not others'.
        mine = db.session.execute(text("SELECT count(*) FROM notification")).scalar()
    _notify(app, w.st1, 2)
    _notify(app, w.mandataire, 3)
    with app.test_request_context(f"/s/{w.st1.siret}/aide/"):
        login_user(db.session.get(Account, w.st1.account_id))
        tenancy.load_structure_for_current_user(w.st1.siret)
        assert db.session.execute(text("SELECT count(*) FROM notification")).scalar() == mine + 2


@pytest.mark.postgres
def test_a_stranger_gets_a_404_and_no_tenant(app, w):
    with app.test_request_context(f"/s/{w.mandataire.siret}/aide/"):
        login_user(db.session.get(Account, w.st1.account_id))  # not a member of the mandataire
        with pytest.raises(NotFound):
            tenancy.load_structure_for_current_user(w.mandataire.siret)
        assert access.current_tenant() is None
        assert _settings()[0] in (None, "")
        assert db.session.execute(text("SELECT count(*) FROM piece_access")).scalar() == 0
    # A pending membership is no membership either.
    with app.app_context():
        db.session.add(Rattachement(account_id=w.st1.account_id, structure_id=w.mandataire.structure_id,
                                    status="pending"))
        db.session.commit()
    with app.test_request_context(f"/s/{w.mandataire.siret}/aide/"):
        login_user(db.session.get(Account, w.st1.account_id))
        with pytest.raises(NotFound):
            tenancy.load_structure_for_current_user(w.mandataire.siret)
        assert _settings()[0] in (None, "")


@contextmanager
def executed(app):
    """The statements the engine runs inside the block, with their parameters."""
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, *args):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_tenant_switch_needs_no_statement_of_its_own(app, w):
    """A tenant page: the account, the membership (with the settings on PostgreSQL), the layout's counts — nothing
    else before its own content (the structure's help index has none). (The tests' outer transaction adds
    its savepoints, and after_begin saying the empty settings at each transaction's start: not in production.)"""
    client = pw.logged_in(app, w.mandataire)
    client.get(f"/s/{w.mandataire.siret}/aide/")  # warm-up
    with executed(app) as seen:
        response = client.get(f"/s/{w.mandataire.siret}/aide/")
    assert response.status_code == 200
    switches = [p for s, p in seen if "set_config('chorus." in s and p.get("tenant")]
    assert switches == []  # the tenant's settings came with the membership
    reads = [s for s, p in seen if s.startswith("SELECT") and "set_config('chorus." not in s]  # not the savepoints
    # The account with its login session and its membership of the structure (+ the settings, on PostgreSQL:
    # tenancy.account_with_membership); the counts.
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    assert len(reads) == (2 if postgresql else 3), reads


@pytest.mark.postgres
def test_the_user_loader_reads_the_membership_with_the_account(app, w):
    """On a tenant page the user loader's statement also reads the membership of the structure of the URL and sets
    the tenant's settings: only for a session that holds and a member; `load_structure_for_current_user` then runs
    nothing. A stranger gets the account alone (then the 404), a session that no longer holds gets nothing."""
    from chorus_chain.models import LoginSession
    from chorus_chain.operations import sessions

    def user_id(who) -> str:
        account = db.session.get(Account, who.account_id)
        sessions.open_session(account, remember=False, now=utcnow())
        return account.get_id()

    with app.test_request_context(f"/s/{w.st1.siret}/aide/"):
        member = user_id(w.st1)
        with statements(app) as seen:
            account = tenancy.account_with_membership(member, w.st1.siret, utcnow())
        assert account.id == w.st1.account_id
        read = [s for s in seen if s.lstrip().startswith("SELECT") and "set_config('chorus." not in s]
        assert len(read) == 1 and "login_session" in read[0] and "rattachement" in read[0]
        assert _settings() == (str(w.st1.structure_id), "off")
        login_user(account)
        with statements(app) as seen:
            assert tenancy.load_structure_for_current_user(w.st1.siret).id == w.st1.structure_id
        assert seen == [] and access.current_tenant() == w.st1.structure_id
    with app.test_request_context(f"/s/{w.mandataire.siret}/aide/"):  # a valid session, not a member
        account = tenancy.account_with_membership(user_id(w.st1), w.mandataire.siret, utcnow())
        assert account.id == w.st1.account_id and _settings()[0] in (None, "")
        login_user(account)
        with pytest.raises(NotFound):
            tenancy.load_structure_for_current_user(w.mandataire.siret)
        assert access.current_tenant() is None and _settings()[0] in (None, "")
    with app.test_request_context(f"/s/{w.st1.siret}/aide/"):  # a member whose session was revoked
        revoked = user_id(w.st1)
        db.session.execute(sqlalchemy.update(LoginSession).values(revoked_at=utcnow()))
        assert tenancy.account_with_membership(revoked, w.st1.siret, utcnow()) is None
        assert _settings()[0] in (None, "")
        assert tenancy.account_with_membership("x:1:y", w.st1.siret, utcnow()) is None


def test_the_layouts_counts_are_one_statement_for_a_gestionnaire(app, w):
    _notify(app, w.mandataire, 3)
    _notify(app, w.mandataire, 2, read=True)
    _notify(app, w.mandataire, 4, structure_id=w.st1.structure_id)  # another structure's: not this bell's
    newcomer = factories.quick_account(app)
    with app.app_context():
        db.session.add(Rattachement(account_id=newcomer.id, structure_id=w.mandataire.structure_id, status="pending"))
        db.session.commit()
    client = pw.logged_in(app, w.mandataire)
    with statements(app) as seen:
        page = client.get(f"/s/{w.mandataire.siret}/aide/").get_data(as_text=True)
    counts = [s for s in seen if "FROM notification" in s]
    assert len(counts) == 1 and "FROM rattachement" in counts[0]
    assert not [s for s in seen if "FROM rattachement" in s and s not in counts and "JOIN rattachement" not in s]
    assert "Notifications : 3 non lues" in page
    assert 'id="pending-approvals" class="count" title="1 demande(s) en attente">1<' in page
    # The bell's fragment alone reads the same single statement.
    with statements(app) as seen:
        bell = client.get(f"/s/{w.mandataire.siret}/notifications/cloche", headers=HX).get_data(as_text=True)
    assert len([s for s in seen if "FROM notification" in s]) == 1 and "3 non lues" in bell


def test_a_member_who_cannot_approve_reads_the_bell_alone(app, w):
    colleague, newcomer = factories.quick_account(app), factories.quick_account(app)
    with app.app_context():
        structure = db.session.get(Structure, w.mandataire.structure_id)
    factories.member(app, structure, colleague, organisation="consultation")
    with app.app_context():
        db.session.add(Rattachement(account_id=newcomer.id, structure_id=w.mandataire.structure_id, status="pending"))
        db.session.commit()
    _notify(app, pw.Actor("colleague", w.mandataire.structure_id, w.mandataire.siret, w.mandataire.name,
                          colleague.id, None), 1)
    client = pw.logged_in(app, pw.Actor("colleague", w.mandataire.structure_id, w.mandataire.siret,
                                        w.mandataire.name, colleague.id, None))
    with statements(app) as seen:
        page = client.get(f"/s/{w.mandataire.siret}/aide/").get_data(as_text=True)
    counts = [s for s in seen if "FROM notification" in s]
    assert len(counts) == 1 and "FROM rattachement" not in counts[0]
    assert "Notifications : 1 non lue" in page and '<span id="pending-approvals"></span>' in page  # no number


def test_the_tableau_de_bords_count_is_the_bells(app, w):
    """The Tableau de bord counts the unread notifications for its panel: the layout reads only what it lacks."""
    _notify(app, w.mandataire, 2)
    client = pw.logged_in(app, w.mandataire)
    with statements(app) as seen:
        client.get(f"/s/{w.mandataire.siret}/tableau-de-bord")
    assert sum("count(" in s.lower() and "from notification" in s.lower() for s in seen) == 1


LAYOUT_LINKS = [("static", {"filename": "app.css"}), ("core.home", {}), ("accounts.structures", {}),
                ("dashboard.synthese", {}), ("organisation.members", {}), ("notifications.bell", {}),
                ("structure_help.article", {"slug": "premiers-pas"}), ("assistant.panel", {})]


def test_the_layouts_urls_are_url_fors_per_structure_and_mount_point(app, w):
    from flask import g, url_for

    from chorus_chain.layout_urls import layout_url

    seen = set()
    for who in (w.st1, w.mandataire, w.st1):
        for base_url in ("http://localhost/", "http://localhost/monte/"):
            with app.test_request_context(f"/s/{who.siret}/aide/", base_url=base_url):
                g.structure = db.session.get(Structure, who.structure_id)
                for endpoint, values in LAYOUT_LINKS:
                    url = layout_url(endpoint, **values)
                    assert url == url_for(endpoint, **values)
                    seen.add(url)
    assert "/monte/s/%s/synthese" % w.st1.siret in seen and "/s/%s/synthese" % w.mandataire.siret in seen
    with app.test_request_context("/aide/"):  # outside a structure: the public pages' links
        assert layout_url("core.home") == url_for("core.home") == "/"


def test_a_statement_built_once_gets_each_tenants_criteria(app, w):
    """access.built_once keeps the statement with its criteria per tenant: alternating tenants, each reads its own
    rows only (the ORM's criteria; row-level security besides on PostgreSQL)."""
    from sqlalchemy import select

    _notify(app, w.st1, 2)
    _notify(app, w.mandataire, 3)
    statement = access.built_once(select(Notification.structure_id))
    with app.test_request_context():
        for who in (w.st1, w.mandataire, w.st1, w.moe):
            with access.tenant(who.structure_id):
                seen = db.session.scalars(statement).all()
                assert set(seen) <= {who.structure_id}
                assert len(seen) == {w.st1.key: 2, w.mandataire.key: 3}.get(who.key, 0)
        assert db.session.scalars(statement).all() == []  # no tenant: nothing


def test_a_statement_run_again_builds_no_sql_expression_for_its_criteria(app, w, monkeypatch):
    """The tenant's criteria apply to each entity a statement names (here the notification and an alias of it); their
    bound tenant is one object wherever they apply (`access.TenantValue`), so that running the statement again from
    the compiled cache relates its parameters by identity. An annotated copy per application made SQLAlchemy compare
    them with `==`, which builds an SQL expression each time: about 90 per Tableau de bord. Each tenant still reads
    its own rows alone."""
    from sqlalchemy import select
    from sqlalchemy.orm import aliased
    from sqlalchemy.sql import annotation
    from sqlalchemy.sql.elements import BindParameter

    _notify(app, w.st1, 2)
    _notify(app, w.mandataire, 3)
    other = aliased(Notification)
    statement = access.built_once(select(Notification.structure_id, other.id).join(other, other.id == Notification.id))
    compared = []

    def counted(self, other):
        if isinstance(self, BindParameter):
            compared.append(self)
        return compare(self, other)

    compare = annotation.Annotated.__eq__
    with app.test_request_context():
        for turn in range(2):  # the first turn compiles (the compiled cache is the process's); the second runs again
            if turn:
                monkeypatch.setattr(annotation.Annotated, "__eq__", counted)
            for who in (w.st1, w.mandataire, w.moe):
                with access.tenant(who.structure_id):
                    seen = db.session.execute(statement).all()
                assert {structure_id for structure_id, _ in seen} <= {who.structure_id}
                assert len(seen) == {w.st1.key: 2, w.mandataire.key: 3}.get(who.key, 0)
    assert compared == []
