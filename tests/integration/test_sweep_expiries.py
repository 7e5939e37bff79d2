"""The sweep's alerts-only expiries as one set-based step per batch (`operations.sweep.expiries`, issue 20), on
committed transactions (PostgreSQL, a database of its own, several connections):

- a batch of lapsed délais globaux de paiement costs the same statements whatever their number, reads none of the
  pieces' events or clocks, and holds their pieces FOR SHARE, not FOR UPDATE;
- it writes what the one-by-one path writes (deadlines, notifications, e-mails, outbox), the read model exact;
- a payment under way (the user holds the piece) is not alerted as late: its clock waits for the next sweep, which
  finds it closed; a payment starting while the batch runs waits for the batch, a reader of the piece does not;
- an interest payment under way (the paying office holds the payment's row, not the piece) is not alerted as
  unpaid — the one-by-one path, reading it unlocked, did.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, Deadline, Notification, Piece, Structure
from chorus_chain.models.etat_pieces import LinePayment
from chorus_chain.operations import pieces as ops
from tests.conftest import live_application
from tests.integration.pieces_world import NOW, act, assert_board_exact, deposit, settle_clocks, world
from tests.integration.test_sweep_batches import _tacit_counts, snapshot

pytestmark = pytest.mark.postgres

UTC = timezone.utc
INTEREST = "Paiement des intérêts moratoires et de l'indemnité forfaitaire"


@pytest.fixture(scope="module")
def live_app():
    """The application on its own database, migrated; no outer transaction: commits are real."""
    yield from live_application("chorus_sweep_expiries")


def _sweep(app, now, **options) -> dict:
    from chorus_chain.operations.deadlines import sweep

    with app.app_context():
        result = sweep(now, **options)
        db.session.commit()
    return result


def _lapsing_dgps(app, w, count: int, start: datetime, tag: str) -> tuple[list[int], datetime]:
    """`count` works pieces validated at `start` + 1 day (their DGP runs from the MOE's receipt: 30 days), their
    MOE's clock run out and swept; returns them and an instant at which their DGPs alone are due."""
    pieces = [deposit(app, w, w.st1, "A10", f"{tag}-{i}", now=start) for i in range(count)]
    for piece_id in pieces:
        act(app, w.mandataire, piece_id, "validate", now=start + timedelta(days=1))
    _sweep(app, start + timedelta(days=12))  # the MOE late (an action): the transitions' path
    with app.app_context(), access.system_access("test: the clocks"):
        open_kinds = db.session.scalars(select(Deadline.kind).where(Deadline.piece_id.in_(pieces),
                                                                    Deadline.done_at.is_(None))).all()
        db.session.commit()
    assert sorted(open_kinds) == ["paiement"] * count
    return pieces, start + timedelta(days=40)


def _statements_of(app, fn) -> list[str]:
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", before)
    return seen


def _locked_out(statement) -> bool:
    """Whether the statement (taking a row lock NOWAIT, under the system's access) found the row locked."""
    from sqlalchemy.exc import OperationalError

    found = False
    with access.system_access("test: the batch's locks"):
        try:
            with db.session.begin_nested():  # the refusal rolls back to here, the access's settings still readable
                statement()
        except OperationalError as refused:
            found = "could not obtain lock" in str(refused)
    db.session.rollback()
    return found


def _expired_told(app, piece_ids, label: str = "Délai global de paiement") -> int:
    """How many in-app lines about these pieces say their clock of this label expired (a digest's items counted one
    by one)."""
    def about(piece_id, line):
        return piece_id in piece_ids and line.startswith(f"{label} : ")

    with app.app_context(), access.system_access("test: the notifications"):
        found = 0
        for row in db.session.scalars(select(Notification).where(Notification.kind == "deadline_expired")):
            found += sum(1 for item in row.items if about(item["piece_id"], item["text"])) if row.items else \
                about(row.piece_id, row.text)
        db.session.commit()
    return found


def test_an_interest_payment_under_way_is_not_alerted_as_unpaid(live_app):
    """The paying office records the interest paid holding the payment's row (`interets.paying`), not the piece:
    the sweep leaves the clock open (SKIP LOCKED on the payment), and the payment, once committed, closes it."""
    from tests.integration.etat_pieces_world import pay
    from tests.integration.test_interets import _interest_paid, _validated_may

    app = live_app
    w, pdm, etat_id, lines = _validated_may(app)
    line_id = lines[w.st_co.name].id
    pay(app, w, etat_id, line_id, service_fait="2026-06-02", mandat="2026-06-30", amount="5130.00",
        paid_on="2026-07-06")  # late: an interest clock, due 20 August 23:59:59.999999 Paris
    lapse = datetime(2026, 8, 20, 22, 0, tzinfo=UTC)
    _sweep(app, lapse - timedelta(minutes=1))  # everything else of the month
    with app.app_context(), access.system_access("test: the clock"):
        clock = db.session.scalar(select(Deadline).where(Deadline.kind == "interets_moratoires"))
        clock_id, payment_id = clock.id, clock.line_payment_id
        assert clock.done_at is None and clock.due_at < lapse
        db.session.commit()

    # The paying office is recording the interest paid: it holds the payment (another connection, not committed).
    office = app.app_context()
    office.push()
    try:
        with access.tenant(w.moa.structure_id):
            db.session.scalar(select(LinePayment).where(LinePayment.id == payment_id).with_for_update())
        assert _sweep(app, lapse) == {"done": 0, "applied": 0}  # left for the next sweep, not waited for
        assert _expired_told(app, {pdm["st_co"]}, INTEREST) == 0
    finally:
        db.session.rollback()
        office.pop()
    _interest_paid(app, w, etat_id, line_id, payment_id, "2026-08-20", lapse + timedelta(minutes=5))
    assert _sweep(app, lapse + timedelta(minutes=10)) == {"done": 0, "applied": 0}  # the payment closed it
    assert _expired_told(app, {pdm["st_co"]}, INTEREST) == 0
    with app.app_context(), access.system_access("test: the clock"):
        assert db.session.get(Deadline, clock_id).done_at == lapse + timedelta(minutes=5)
        db.session.commit()


def test_a_batch_of_lapsed_payment_clocks_costs_the_same_statements_whatever_their_number(live_app):
    """One statement locks the pieces (FOR SHARE: nothing of them is written) and reads what the alerts say, one
    marks the clocks done, the audience is read once; no event, no clock, no ORM piece is read per deadline."""
    app = live_app
    w = world(app)
    counts = []
    for count, tag in ((2, "S2"), (7, "S7")):
        start = settle_clocks(app)
        pieces, due = _lapsing_dgps(app, w, count, start, tag)
        result = {}
        statements = _statements_of(app, lambda: result.update(_sweep(app, due)))
        assert result == {"done": count, "applied": count}  # each alerted: the payments are awaited
        assert _expired_told(app, set(pieces)) > 0
        assert not [s for s in statements if "piece_event" in s]  # no event, nor its number, read
        locks = [s for s in statements if re.search(r"\bFOR (UPDATE|SHARE|NO KEY UPDATE|KEY SHARE)\b", s)
                 and re.search(r"\bFROM piece\b", s)]
        assert len(locks) == 1 and "FOR SHARE" in locks[0] and "SKIP LOCKED" in locks[0], locks
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert_board_exact(app)


def test_lapsed_payment_clocks_write_what_the_one_by_one_path_writes(live_app):
    """The batch path (set-based) and the one-by-one path (each handler alone) on the same clocks, rolled back
    between them: the same deadlines, in-app notifications, e-mails and outbox rows; some payments awaited (alerted),
    and the read model exact after the batch path."""
    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    start = settle_clocks(app)
    pieces, due = _lapsing_dgps(app, w, 5, start, "EQ")
    with app.app_context():
        before = snapshot()
        one_by_one = sweep(due, prepared=False)
        alone = snapshot()
        db.session.rollback()
        assert snapshot() == before
        batched = sweep(due, batch_size=3)
        together = snapshot()
        db.session.commit()
    assert one_by_one == batched == {"done": 5, "applied": 5}
    for table in ("deadlines", "notifications", "mails", "outbox"):
        assert together[table] == alone[table], table
    assert len(together["notifications"]) > len(before["notifications"])
    assert len(together["mails"]) > len(before["mails"])
    assert_board_exact(app)


def test_a_payment_under_way_is_not_alerted_as_late_and_one_starting_waits_for_the_batch_alone(live_app):
    """A user paying a piece holds it: the sweep leaves its lapsed DGP open (SKIP LOCKED), and the next sweep
    finds the clock closed by the payment — no alert. While a batch holds its lapsed DGPs' pieces (FOR SHARE), a
    payment of one of them (FOR UPDATE) must wait for the batch's commit; a reader's key-share lock (the foreign
    keys' checks of the rows others insert about the piece) does not wait."""
    from chorus_chain.operations.deadlines import in_batches

    app = live_app
    w = world(app)
    start = settle_clocks(app)
    pieces, due = _lapsing_dgps(app, w, 3, start, "PAY")
    held, swept = pieces[0], pieces[1:]
    user = app.app_context()
    user.push()
    try:
        with access.tenant(w.moe.structure_id):
            db.session.scalar(select(Piece).where(Piece.id == held).with_for_update())  # the payment begins
        sweeper = app.app_context()
        sweeper.push()
        try:
            batches = in_batches(due, batch_size=500)
            assert next(batches) == (2, 2)  # the held piece's clock left open; the batch not yet committed
            probe = app.app_context()
            probe.push()
            try:
                assert not _locked_out(lambda: db.session.execute(select(Piece.id).where(
                    Piece.id == swept[0]).with_for_update(read=True, key_share=True, nowait=True)).all())  # FOR KEY SHARE
                assert _locked_out(lambda: db.session.execute(select(Piece.id).where(
                    Piece.id == swept[0]).with_for_update(nowait=True)).all())  # a payment: waits for the batch
            finally:
                probe.pop()
            assert next(batches, None) is None
            db.session.commit()
        finally:
            sweeper.pop()
        # The user's action goes on and ends the DGP's run under the lock it held all along (the MOE refuses the
        # piece: its clock closes as a payment's would, in the user's transaction).
        account = db.session.get(Account, w.moe.account_id)
        structure = db.session.get(Structure, w.moe.structure_id)
        with access.tenant(w.moe.structure_id):
            ops.act(held, account, structure, "refuse", expected_status="ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE",
                    reason="non_conforme", now=due + timedelta(minutes=1))
            db.session.commit()
    finally:
        db.session.rollback()
        user.pop()
    assert _sweep(app, due + timedelta(minutes=2)) == {"done": 0, "applied": 0}  # the clock closed by the user
    assert _expired_told(app, {held}) == 0 and _expired_told(app, set(swept)) > 0
    with app.app_context(), access.system_access("test: the clock"):
        assert db.session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.piece_id == held, Deadline.done_at.is_(None))) == 0
        db.session.commit()
    assert_board_exact(app)


def test_a_mixed_batch_reads_who_it_tells_once_and_decides_it_once_per_structure(live_app, monkeypatch):
    """A batch of lapsed DGPs (alerts-only expiries) and of silent validators' clocks (transitions): the members
    and preferences of the structures it tells are read once (the transitions' context shares the expiries'
    audience, `Audience.extend`), and who a structure is told of the alerts is decided once for the batch
    (`notifications.BatchNotices`), not once per alert: as many decisions for 2 lapsed pieces as for 7."""
    from chorus_chain.operations import notifications

    app = live_app
    w = world(app)
    decided = [0]
    original = notifications._told

    def told(*args, **kwargs):
        decided[-1] += 1  # the sweep's decisions only: the set-up's are counted into an entry left out below
        return original(*args, **kwargs)

    monkeypatch.setattr(notifications, "_told", told)
    for count, tag in ((2, "MX2"), (7, "MX7")):
        start = settle_clocks(app)
        pieces, due = _lapsing_dgps(app, w, count, start, tag)
        # Two pieces whose validator stays silent: their validation clocks fall due at the same sweep (a transition).
        silent = [deposit(app, w, w.st1, "A10", f"{tag}-silent-{i}", now=due - timedelta(days=20)) for i in range(2)]
        decided.append(0)
        result = {}
        statements = _statements_of(app, lambda: result.update(_sweep(app, due)))
        decided.append(0)
        assert result == {"done": count + 2, "applied": count + 2}
        assert _expired_told(app, set(pieces)) > 0
        with app.app_context():
            assert _tacit_counts(silent) == dict.fromkeys(silent, 1)  # tacitly validated, in the same batch
            db.session.commit()
        for table in ("rattachement", "notification_preference"):
            assert len([s for s in statements if re.search(rf"\bFROM {table}\b", s)]) == 1, table
    assert decided[1] == decided[3] > 0, decided  # the sweeps' (the set-ups' at 0, 2 and 4)
    assert_board_exact(app)


def test_a_batch_binds_the_same_number_of_parameters_whatever_the_number_of_its_pieces(live_app):
    """The batch's lists of ids (its pieces, deadlines, structures, accounts) travel as one array parameter each
    (`bulk.among`), not one placeholder per id, and the read model's refresh of its pieces likewise: a sweep of 7
    lapsed DGPs binds as many parameters as a sweep of 2."""
    app = live_app
    w = world(app)
    bound = []
    for count, tag in ((2, "P2"), (7, "P7")):
        start = settle_clocks(app)
        pieces, due = _lapsing_dgps(app, w, count, start, tag)
        # Each batch also refreshes the read model of two pieces of each size (a transition: a silent validator).
        silent = [deposit(app, w, w.st1, "A10", f"{tag}-silent-{i}", now=due - timedelta(days=20))
                  for i in range(count)]
        seen: list[int] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            seen.append(len(parameters or ()))

        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", before)
        try:
            assert _sweep(app, due) == {"done": 2 * count, "applied": 2 * count}
        finally:
            with app.app_context():
                event.remove(db.engine, "before_cursor_execute", before)
        with app.app_context():
            assert _tacit_counts(silent) == dict.fromkeys(silent, 1)
            db.session.commit()
        bound.append(sum(seen))
    assert bound[0] == bound[1], bound
    assert_board_exact(app)
