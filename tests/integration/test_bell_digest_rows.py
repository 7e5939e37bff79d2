"""The sweep's in-app digest (`operations.bell_digest`) writes each line once for every account it goes to: the
members of a structure told the same pieces share one row of the statement (`bulk.insert_rows(..., fanned=...)`),
and each account still gets its own notification — on PostgreSQL (the copies made by the database) and on SQLite
(the embedded database of `make run`: the copies made in Python)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Notification
from tests import factories
from tests.conftest import make_test_app

AT = datetime(2026, 12, 6, 23, 0, tzinfo=timezone.utc)


def _line(piece_id, text):
    return {"piece_id": piece_id, "text": text, "url": f"/s/x/pieces/{piece_id}" if piece_id else "", "created_at": AT}


def _told_and_written(app):
    from chorus_chain.operations.bell_digest import BellDigest

    t = factories.team(app)
    with app.app_context(), access.system_access("test: a batch's digest"):
        digest = BellDigest(AT)
        first, second = _line(901, "Pièce n° T-901 : validée tacitement."), _line(902, "Pièce n° T-902 : validée.")
        digest.tell([t.gp.id, t.admin.id], t.structure.id, "piece_to_act", first)
        digest.tell([t.gp.id, t.admin.id], t.structure.id, "piece_to_act", second)
        digest.tell([t.colleague.id], t.structure.id, "deadline_expired", _line(None, "Une échéance est dépassée."))
        shapes = [(row["account_ids"], row["kind"]) for row in digest.rows()]
        assert shapes == [([t.gp.id, t.admin.id], "piece_to_act"), ([t.colleague.id], "deadline_expired")]
        assert digest.write() == 3
        db.session.commit()
        found = {n.account_id: (n.kind, n.piece_id, n.text, n.items) for n in db.session.scalars(
            select(Notification).where(Notification.structure_id == t.structure.id, Notification.created_at == AT))}
    return t, found


def _check(t, found):
    from chorus_chain import formatting

    items = [{"piece_id": 901, "text": "Pièce n° T-901 : validée tacitement.", "url": "/s/x/pieces/901"},
             {"piece_id": 902, "text": "Pièce n° T-902 : validée.", "url": "/s/x/pieces/902"}]
    digest = ("piece_to_act", None,
              f"2 pièces attendent une action de votre structure (échéances du {formatting.instant(AT)}).", items)
    assert found == {t.gp.id: digest, t.admin.id: digest,
                     t.colleague.id: ("deadline_expired", None, "Une échéance est dépassée.", None)}


def test_the_members_told_the_same_pieces_share_a_row_and_each_gets_a_notification(app, db):
    # `db`: the test's outer transaction, rolled back (the other modules of the session never see these rows).
    _check(*_told_and_written(app))


@pytest.fixture
def sqlite_app(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path / 'embedded.db'}")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_the_same_on_the_embedded_database(sqlite_app):
    _check(*_told_and_written(sqlite_app))
