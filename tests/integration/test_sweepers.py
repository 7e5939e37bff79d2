"""The clock's sweep as two sweepers at once (`jobs.sweepers`, issue 20), on committed transactions (PostgreSQL, a
database of its own, a connection per sweeper):

- the clock's tick runs two sweepers, in threads, each its share of the pieces: every due deadline done once, the
  hash chains whole, the read model exact;
- pieces with several due deadlines (a validated piece: its MOE clock, then its délai global de paiement): while one
  sweeper holds a batch of them, the other sweeps its whole share without meeting them — none left open;
- a sweeper that dies mid-batch loses that batch only: the other finishes its share, the tick raises, and the next
  tick applies the rest, each deadline once.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, PieceEvent
from tests.conftest import live_application
from tests.integration.pieces_world import NOW, act, assert_board_exact, deposit, settle_clocks, world

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def live_app():
    """The application on its own database, migrated, two sweepers in the clock (no outer transaction)."""
    yield from live_application("chorus_sweepers", {"CLOCK_SWEEPERS": 2})


def _open_due(app, now, pieces) -> list[tuple[int, str]]:
    with app.app_context(), access.system_access("test: the open clocks"):
        found = db.session.execute(select(Deadline.piece_id, Deadline.kind).where(
            Deadline.piece_id.in_(pieces), Deadline.done_at.is_(None), Deadline.due_at <= now)).all()
        db.session.commit()
    return sorted(found)


def _events(app, pieces, action) -> dict[int, int]:
    with app.app_context(), access.system_access("test: the events"):
        found = dict(db.session.execute(select(PieceEvent.piece_id, func.count()).where(
            PieceEvent.piece_id.in_(pieces), PieceEvent.action == action).group_by(PieceEvent.piece_id)).all())
        db.session.commit()
    return found


def _audit_and_board(app):
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    assert_board_exact(app)


def _waiting(app, w, count, start, tag) -> list[int]:
    """`count` pieces left to their validator's silence: one due clock each (validation), due 15 days on."""
    kinds = [w.st1, w.sibling, w.st_co]
    return [deposit(app, w, kinds[i % 3], "A10", f"{tag}-{i}", now=start) for i in range(count)]


def test_the_clock_s_tick_runs_two_sweepers_each_its_share_of_the_pieces(live_app, monkeypatch):
    from chorus_chain.jobs.clock import tick
    from chorus_chain.operations import deadlines

    app = live_app
    w = world(app)
    start = settle_clocks(app)
    pieces = _waiting(app, w, 12, start, "TICK")
    due = start + timedelta(days=20)
    seen: list[tuple[str, tuple[int, int] | None, list[int]]] = []
    due_of = deadlines.due

    def watched(now, limit=None, **options):
        batch = due_of(now, limit, **options)
        seen.append((threading.current_thread().name, options.get("share"), [row.piece_id for row in batch]))
        return batch

    monkeypatch.setattr(deadlines, "due", watched)
    with app.app_context():
        result = tick(due)
    assert result["done"] == len(pieces)
    shares = {share for _, share, _ in seen}
    assert shares == {(0, 2), (1, 2)}  # two sweepers
    assert len({thread for thread, _, _ in seen}) == 2  # each in a thread (a connection) of its own
    for _, (k, n), taken in seen:
        assert all(piece_id % n == k for piece_id in taken)  # each its pieces only
    assert sorted(piece_id for _, _, taken in seen for piece_id in taken) == sorted(pieces)
    assert _open_due(app, due, pieces) == []
    assert _events(app, pieces, "tacit_validation") == {piece_id: 1 for piece_id in pieces}  # each once
    _audit_and_board(app)


def test_pieces_with_several_due_deadlines_are_each_one_sweeper_s_and_none_is_left_open(live_app):
    """Validated pieces have two clocks due at the sweep: the MOE's (an action) and, later in the sweep's order, the
    délai global de paiement (alerts only). One sweeper holds its first batch (two MOE clocks, their pieces
    locked) while the other sweeps its whole share: it must meet none of the first's pieces. Sharing the deadlines
    rather than the pieces, it took the held pieces' DGPs, found the pieces locked and left them open (SKIP LOCKED:
    the next tick's, unless the first sweeper's cursor had not passed them yet) — and, with two alerts-only clocks
    of one piece, both sweepers would hold it FOR SHARE and then wait on each other in the read model's refresh."""
    from chorus_chain.operations.deadlines import horizon_now, in_batches

    app = live_app
    w = world(app)
    start = settle_clocks(app)
    pieces = [deposit(app, w, w.st1, "A10", f"TWO-{i}", now=start) for i in range(8)]
    for piece_id in pieces:
        act(app, w.mandataire, piece_id, "validate", now=start + timedelta(days=1))
    due = start + timedelta(days=40)
    assert {kind for _, kind in _open_due(app, due, pieces)} == {"moe", "paiement"}
    assert len(_open_due(app, due, pieces)) == 2 * len(pieces)
    first = app.app_context()
    first.push()
    try:
        with access.system_access("test: the horizon"):
            horizon = horizon_now()
        db.session.commit()
        held = in_batches(due, batch_size=2, share=(0, 2), horizon=horizon)
        assert next(held)[0] == 2  # a batch applied, its pieces locked, not committed
        other = app.app_context()
        other.push()
        done_by_other = 0
        try:
            with access.system_access("test: the other sweeper"):
                for done, _ in in_batches(due, batch_size=2, share=(1, 2), horizon=horizon):
                    db.session.commit()
                    done_by_other += done
        finally:
            other.pop()
        odd = [piece_id for piece_id in pieces if piece_id % 2 == 1]
        assert odd and len(odd) < len(pieces)
        assert done_by_other == 2 * len(odd)  # its share whole, none skipped for the first sweeper's locks
        assert {piece_id for piece_id, _ in _open_due(app, due, pieces)} == set(pieces) - set(odd)
        with access.system_access("test: the first sweeper goes on"):
            db.session.commit()
            for _ in held:
                db.session.commit()
    finally:
        db.session.rollback()
        first.pop()
    assert _open_due(app, due, pieces) == []
    _audit_and_board(app)


def test_a_sweeper_that_dies_mid_batch_loses_that_batch_only_and_the_next_tick_applies_the_rest(live_app,
                                                                                                 monkeypatch):
    from chorus_chain.jobs.clock import tick
    from chorus_chain.operations import deadlines

    app = live_app
    w = world(app)
    start = settle_clocks(app)
    pieces = _waiting(app, w, 16, start, "DIE")
    due = start + timedelta(days=20)
    apply_due = deadlines.apply_due
    applied: dict[str, int] = {}

    def dying(batch, now, **options):
        name = threading.current_thread().name
        applied[name] = applied.get(name, 0) + 1
        outcome = apply_due(batch, now, **options)
        if name == "deadline-sweeper-1" and applied[name] == 2:
            raise RuntimeError("the sweeper's connection dropped")  # its batch written, never committed
        return outcome

    monkeypatch.setattr(deadlines, "apply_due", dying)
    monkeypatch.setattr(deadlines, "BATCH_SIZE", 2)
    with app.app_context(), pytest.raises(RuntimeError, match="connection dropped"):
        tick(due)
    left = _open_due(app, due, pieces)
    odd = [piece_id for piece_id in pieces if piece_id % 2 == 1]
    assert len(odd) >= 4
    assert left and all(piece_id % 2 == 1 for piece_id, _ in left)  # the other sweeper finished its share
    assert len(left) == len(odd) - 2  # the dying sweeper's first batch committed, its second lost
    monkeypatch.setattr(deadlines, "apply_due", apply_due)
    with app.app_context():
        assert tick(due + timedelta(minutes=1))["done"] == len(left)
    assert _open_due(app, due, pieces) == []
    assert _events(app, pieces, "tacit_validation") == {piece_id: 1 for piece_id in pieces}  # each once
    _audit_and_board(app)
