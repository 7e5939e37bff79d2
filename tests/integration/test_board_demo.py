"""The demo's story — every kind of operation the product has: deposits of every cadre, validations (express,
partial, tacit by the sweep), états d'acompte issued, returned and validated, payments and their interest clocks,
the décompte général, private invoices — leaves the dashboards' read model equal to its recompute from the pieces
(issue 20), and `flask board recompute --check` says so."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import BoardRow, Piece, PieceAccess
from tests.integration.pieces_world import assert_board_exact


@pytest.fixture(scope="module")
def app(demo_app):
    return demo_app


def test_the_demo_leaves_the_read_model_exact(app, db):
    assert_board_exact(app)
    with app.test_request_context(), access.system_access("test: the demo's rows, every structure"):
        rows = db.session.scalar(select(func.count()).select_from(BoardRow))
        drafts = db.session.scalar(select(func.count()).select_from(Piece).where(Piece.status == "BROUILLON"))
        grants = db.session.scalar(select(func.count()).select_from(PieceAccess))
        kinds = set(db.session.scalars(select(BoardRow.next_kind).distinct()))
        tacit = db.session.scalar(select(func.count()).where(BoardRow.tacit_at.is_not(None)))
    # One row per access row, and one per draft (its emitter alone sees it).
    assert rows == grants + drafts
    assert tacit >= 1 and len(kinds - {None}) >= 2


def test_the_check_command_says_exact_and_exits_0(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["board", "recompute", "--check"])
    assert result.exit_code == 0, result.output
    assert "0 manquante(s), 0 en trop, 0 différente(s)" in result.output and "exact" in result.output
