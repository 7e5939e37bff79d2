"""The clock (jobs/clock.py): legal dates do not drift when the sweep runs late, `--now` is checked, the clock sweeps
with Redis down and only one clock sweeps at a time."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import ClockState, Deadline, PieceEvent
from chorus_chain.models.base import utcnow
from tests.integration.pieces_world import NOW, deposit, rows, status_of, world

DEAD_REDIS = "redis://127.0.0.1:6390/0"  # nothing listens there


def test_a_late_sweep_records_the_tacit_validation_at_its_due_instant(app, db):
    """A validation due on 17 March swept 26 days late (an outage): the event is dated 17 March and says when it was
    applied; the MOE's clock starts on 17 March, so its deadline is where the law puts it."""
    from chorus_chain.jobs.clock import tick

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1")
    with app.app_context():
        due = db.session.scalar(db.select(Deadline.due_at).where(Deadline.piece_id == piece_id,
                                                                 Deadline.kind == "validation_1"))
    late = due + timedelta(days=26)
    with app.test_request_context():
        assert tick(late)["applied"] == 1
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    events = rows(app, PieceEvent, PieceEvent.piece_id == piece_id, order_by=PieceEvent.seq)
    tacit = next(e for e in events if e.action == "tacit_validation")
    assert tacit.at == due and tacit.extra == {"applied_at": late.isoformat()}
    forward = next(e for e in events if e.action == "forward")
    assert forward.at == due
    clocks = {d.kind: d for d in rows(app, Deadline, Deadline.piece_id == piece_id)}
    assert clocks["validation_1"].done_at == late  # when the sweep applied it
    moe = clocks["moe"]
    assert moe.created_at == due  # the next clock starts from the legal instant, not from the late sweep
    with app.app_context():
        from chorus_chain.access import system_access
        from chorus_chain.domain import deadlines as clocks_domain
        from chorus_chain.models import Piece
        from chorus_chain.operations.pieces_records import clock_days, marche_of

        with system_access("test: the piece's marché"):
            marche = marche_of(db.session.get(Piece, piece_id))
            assert moe.due_at == clocks_domain.due_at("moe", due, days=clock_days("moe", marche))
    with app.app_context():
        assert db.session.get(ClockState, "deadlines").swept_to == late


def test_audit_chain_holds_after_a_late_sweep(app, db):
    from chorus_chain.jobs.clock import tick

    w = world(app)
    deposit(app, w, w.st1, "A10", "F-1")
    with app.test_request_context():
        tick(NOW + timedelta(days=40))
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_now_before_the_last_sweep_or_far_from_real_time_is_refused_unless_forced(app, db):
    runner = app.test_cli_runner()
    now = utcnow()
    assert runner.invoke(args=["deadlines", "sweep", "--now", now.isoformat()]).exit_code == 0
    earlier = runner.invoke(args=["deadlines", "sweep", "--now", (now - timedelta(minutes=5)).isoformat()])
    assert earlier.exit_code == 1 and "précède le dernier passage de l'horloge" in earlier.output
    far = runner.invoke(args=["deadlines", "sweep", "--now", (now + timedelta(days=3)).isoformat()])
    assert far.exit_code == 1 and "à plus d'une heure de l'heure réelle" in far.output
    forced = runner.invoke(args=["deadlines", "sweep", "--force", "--now", (now + timedelta(days=3)).isoformat()])
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        assert db.session.get(ClockState, "deadlines").swept_to == now + timedelta(days=3)
    # The real clock never moves swept_to backwards.
    assert runner.invoke(args=["deadlines", "sweep"]).exit_code == 0
    with app.app_context():
        assert db.session.get(ClockState, "deadlines").swept_to == now + timedelta(days=3)


def test_the_clock_sweeps_while_redis_is_down(app, db):
    from chorus_chain.jobs.clock import run_forever

    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "F-1", now=utcnow() - timedelta(days=16), issue_date="2026-02-10")
    app.config["REDIS_URL"] = DEAD_REDIS
    try:
        with app.app_context():
            run_forever(0, ticks=2)
    finally:
        app.config["REDIS_URL"] = None
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    with app.app_context():
        state = db.session.get(ClockState, "deadlines")
        assert utcnow() - state.ran_at < timedelta(minutes=1)


@pytest.mark.postgres
def test_one_clock_at_a_time(app, db):
    from chorus_chain.jobs import clock

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("advisory locks on PostgreSQL only")
        first = clock._take_lock()
        try:
            assert first is not None and first is not True
            assert clock._take_lock() is None  # a second clock stands by
        finally:
            clock._release(first)
        second = clock._take_lock()  # the first one gone, the standby takes over
        assert second is not None
        clock._release(second)


def test_the_clock_waits_between_ticks_not_after_the_last(app, db, monkeypatch):
    """`flask deadlines clock --ticks N` (the README's check, and tests) ends with its last tick: it waited out a
    whole interval (60 s) after it before."""
    from chorus_chain.jobs import clock

    waits = []
    monkeypatch.setattr(clock.time, "sleep", waits.append)
    with app.app_context():
        clock.run_forever(30, ticks=2)
    assert len(waits) == 1 and 0 < waits[0] <= 30
