"""The deadline sweep in batches (issue 20), on committed transactions (PostgreSQL, a database of its own):

- the batch path (`SweepContext`: the batch's pieces locked and its reads made at once) leaves exactly what the
  one-by-one path leaves on a generated set — pieces, hash-chained events, clocks, notifications, e-mails and their
  outbox rows — and `flask audit verify` passes after it;
- the clock commits after each batch: killed between batches, what it committed stays and the next sweep applies the
  rest, each deadline once;
- two sweepers in batches at once apply each deadline exactly once;
- a user is never held by the whole sweep: a piece of a batch already committed is free at once while the sweep goes
  on, and a piece a user holds is skipped (SKIP LOCKED) and applied by the next sweep.
"""
from __future__ import annotations

import json
import random
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    BoardRow,
    Deadline,
    MailMessage,
    Notification,
    OutboxJob,
    Piece,
    PieceEvent,
    Structure,
)
from chorus_chain.operations import pieces as ops
from tests.conftest import live_application
from tests.integration.pieces_world import NOW, act, assert_board_exact, deposit, later, world

pytestmark = pytest.mark.postgres

SWEPT_AT = NOW + timedelta(days=40)  # validation (15 days), MOE (7), payment clocks of the set have run out


@pytest.fixture(scope="module")
def live_app():
    """The application on its own database, migrated; no outer transaction: commits are real."""
    yield from live_application("chorus_sweep_batches")


def generated_set(app, w, count: int, seed: int) -> list[int]:
    """`count` pieces of several kinds deposited over a few days, some validated (their MOE clock runs), some
    refused (no clock left), the rest left to their validator's silence: clocks of several kinds due at SWEPT_AT."""
    rng = random.Random(seed)
    kinds = [(w.st1, "A10"), (w.sibling, "A10"), (w.st_co, "A10"), (w.mandataire, "A4"), (w.cotraitant, "A13")]
    pieces = []
    for index in range(count):
        who, cadre = rng.choice(kinds)
        at = NOW + timedelta(hours=rng.randint(0, 96))
        piece_id = deposit(app, w, who, cadre, f"G{seed}-{index}", now=at)
        fate = rng.random()
        if cadre == "A10" and fate < 0.3:
            validator = w.cotraitant if who == w.st_co else w.mandataire
            act(app, validator, piece_id, "validate", now=at + timedelta(days=2))
        elif fate < 0.4 and cadre == "A10":
            act(app, w.cotraitant if who == w.st_co else w.mandataire, piece_id, "refuse", reason="non_conforme",
                now=at + timedelta(days=1))
        pieces.append(piece_id)
    return pieces


def _plain(value):
    return json.dumps(value, sort_keys=True, default=str)


def told_by_mail(mail: MailMessage) -> list[tuple]:
    """What an e-mail tells, item by item: an e-mail of one notification, or each entry of a batch's digest (the
    sweep sends one e-mail per person and batch, `operations.mail_digest`: two sweeps cutting the same deadlines
    into other batches send other e-mails, telling the same things to the same people)."""
    context = mail.context or {}
    if mail.template == "deadlines_digest":
        return [(mail.to_address, mail.account_id, entry["kind"], entry["subject"], entry["text"], entry["url"],
                 group["name"], group["siret"])
                for group in context["structures"] for entry in group["entries"]]
    return [(mail.to_address, mail.account_id, mail.template, context.get("subject"), context.get("text"),
             context.get("url"), context["structure"]["name"], context["structure"]["siret"])]


def told_in_app(n: Notification) -> list[tuple]:
    """What an in-app notification tells, item by item: one piece's, or each line of a batch's digest (one per
    account, structure and kind, `operations.bell_digest`: other batches, other digests, the same lines)."""
    if n.items:
        return [(n.account_id, n.structure_id, item["piece_id"], n.kind, item["text"], item["url"], n.created_at)
                for item in n.items]
    return [(n.account_id, n.structure_id, n.piece_id, n.kind, n.text, n.url, n.created_at)]


def snapshot() -> dict[str, list]:
    """What a sweep leaves, without the ids the database draws (sequences do not roll back); the e-mails as what
    they tell (`told_by_mail`)."""
    with access.system_access("test: what the sweep left"):
        mails = {m.id: told_by_mail(m) for m in db.session.scalars(select(MailMessage))}
        return {
            "pieces": db.session.execute(select(
                Piece.id, Piece.status, Piece.updated_at, Piece.received_at, Piece.received_by_moe_at,
                Piece.head_hash).order_by(Piece.id)).all(),
            "events": [(e.piece_id, e.seq, e.at, e.actor, e.actor_step, e.action, e.from_status, e.to_status,
                        e.reason, _plain(e.extra), e.prev_hash, e.hash)
                       for e in db.session.scalars(select(PieceEvent).order_by(PieceEvent.piece_id, PieceEvent.seq))],
            "deadlines": sorted(db.session.execute(select(
                Deadline.piece_id, Deadline.kind, Deadline.due_at, Deadline.done_at, Deadline.created_at)).all()),
            "notifications": sorted(item for n in db.session.scalars(select(Notification))
                                    for item in told_in_app(n)),
            "mails": sorted(item for told in mails.values() for item in told),
            "outbox": sorted(item for job in db.session.scalars(select(OutboxJob).where(OutboxJob.job == "send_mail"))
                             for item in mails.get(job.payload.get("mail_id"), [("no such e-mail",)])),
        }


def _due_count(now) -> int:
    with access.system_access("test: counting"):
        return db.session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.done_at.is_(None), Deadline.due_at <= now))


def _tacit_counts(pieces) -> dict[int, int]:
    with access.system_access("test: counting"):
        return dict(db.session.execute(select(PieceEvent.piece_id, func.count()).where(
            PieceEvent.piece_id.in_(pieces), PieceEvent.action == "tacit_validation")
            .group_by(PieceEvent.piece_id)).all())


def test_the_batch_path_leaves_exactly_what_the_one_by_one_path_leaves(live_app):
    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    generated_set(app, w, 30, seed=1)
    with app.app_context():
        due = _due_count(SWEPT_AT)
        assert due >= 25  # several kinds, several per piece for some
        before = snapshot()
        one_by_one = sweep(SWEPT_AT, prepared=False)  # each handler reads and writes for itself
        alone = snapshot()
        db.session.rollback()
        assert snapshot() == before
        batched = sweep(SWEPT_AT, batch_size=7)  # batches that cut the set anywhere
        together = snapshot()
        db.session.commit()
    assert one_by_one == batched and batched["done"] == due and batched["applied"] > 0
    for table in ("pieces", "events", "deadlines", "notifications", "mails", "outbox"):
        assert together[table] == alone[table], table
    assert len(together["events"]) > len(before["events"]) and len(together["mails"]) > len(before["mails"])
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "toutes les chaînes sont intactes" in result.output, result.output
    # The dashboards' read model followed each batch in its transaction (issue 20): nothing to correct.
    result = app.test_cli_runner().invoke(args=["board", "recompute", "--check"])
    assert result.exit_code == 0 and "Le modèle de lecture est exact." in result.output, result.output


def _commit_batches(app, now, batch_size, *, stop_after=None, pause=None):
    """The clock's loop (`jobs.clock.tick`): a commit after each batch. `stop_after`: killed after that many commits,
    the batch under way lost with its transaction; `pause(n)`: called after the n-th commit (the sweep goes on)."""
    from chorus_chain.operations.deadlines import in_batches

    committed = batches = 0
    with app.app_context():
        for done, _ in in_batches(now, batch_size=batch_size):
            if stop_after is not None and batches == stop_after:
                db.session.rollback()  # the process died: this batch's transaction never committed
                break
            db.session.commit()
            committed += done
            batches += 1
            if pause is not None:
                pause(committed)
    return committed


def test_a_sweep_killed_between_batches_keeps_what_it_committed_and_the_next_applies_the_rest(live_app):
    app = live_app
    w = world(app)
    pieces = [deposit(app, w, who, "A10", f"K-{i}") for i, who in enumerate([w.st1, w.sibling, w.st_co] * 3)]
    due = NOW + timedelta(days=15)
    with app.app_context():
        total = _due_count(due)
    done = _commit_batches(app, due, 2, stop_after=2)  # two batches committed, the third lost
    assert done == 4
    with app.app_context():
        assert _due_count(due) == total - 4
        assert sum(_tacit_counts(pieces).values()) == 4
    assert _commit_batches(app, due + timedelta(minutes=1), 2) == total - 4
    with app.app_context():
        assert _due_count(due) == 0
        assert _tacit_counts(pieces) == {piece_id: 1 for piece_id in pieces}  # each once
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["board", "recompute", "--check"]).exit_code == 0


def test_each_batch_runs_with_the_collector_held_off_and_gives_it_back_for_the_commit(live_app, monkeypatch):
    import gc

    from chorus_chain.operations import deadlines

    app = live_app
    w = world(app)
    for i, who in enumerate([w.st1, w.sibling, w.st_co]):
        deposit(app, w, who, "A10", f"GC-{i}")
    due = NOW + timedelta(days=15)
    seen = []
    apply_due = deadlines.apply_due

    def watched(batch, now, **options):
        seen.append(gc.isenabled())
        return apply_due(batch, now, **options)

    monkeypatch.setattr(deadlines, "apply_due", watched)
    committing = []
    assert gc.isenabled()
    assert _commit_batches(app, due, 2, pause=lambda _: committing.append(gc.isenabled())) >= 3
    assert seen and not any(seen)  # every batch applied with the collector off
    assert committing and all(committing)  # and on again for the caller's commit
    assert gc.isenabled()


def test_two_sweepers_in_batches_apply_each_deadline_once(live_app):
    app = live_app
    w = world(app)
    pieces = [deposit(app, w, who, "A10", f"D-{i}") for i, who in enumerate([w.st1, w.sibling, w.st_co] * 4)]
    due = NOW + timedelta(days=15)
    with app.app_context():
        total = _due_count(due)
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(index):
        barrier.wait()
        try:
            results[index] = _commit_batches(app, due, 3)
        except Exception as error:  # reported below
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == total
    with app.app_context():
        assert _due_count(due) == 0
        assert _tacit_counts(pieces) == {piece_id: 1 for piece_id in pieces}
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_a_user_waits_for_one_batch_at_most_and_a_piece_a_user_holds_waits_for_the_next_sweep(live_app):
    app = live_app
    w = world(app)
    pieces = [deposit(app, w, w.st1, "A10", f"U-{i}") for i in range(6)]
    due = NOW + timedelta(days=15)
    first_committed, go_on = threading.Event(), threading.Event()
    outcome: dict = {}

    def pause(committed):
        if not first_committed.is_set():
            first_committed.set()
            go_on.wait(30)  # the sweep is still running: its next batches are to come

    sweeper = threading.Thread(target=lambda: outcome.setdefault("done", _commit_batches(app, due, 2,
                                                                                          pause=pause)))
    # A user holds the last piece (its lock, on a connection of its own) before the sweep reaches it.
    holder = app.app_context()
    holder.push()
    with access.tenant(w.mandataire.structure_id):
        db.session.scalar(select(Piece).where(Piece.id == pieces[-1]).with_for_update())
    sweeper.start()
    assert first_committed.wait(30)
    # The sweep is under way, its first batch committed: a user acts on one of its pieces at once (another
    # connection; a lock the sweep still held would make this wait, here it does not).
    ctx = app.app_context()
    ctx.push()
    try:
        with access.tenant(w.moe.structure_id):
            db.session.execute(select(Piece.id).where(Piece.id == pieces[0]).with_for_update(nowait=True)).all()
            account = db.session.get(Account, w.moe.account_id)
            structure = db.session.get(Structure, w.moe.structure_id)
            assert ops.act(pieces[0], account, structure, "take", expected_status="A_ASSOCIER_MOE",
                           now=due + timedelta(minutes=1)).status
            db.session.commit()
    finally:
        ctx.pop()
    go_on.set()
    sweeper.join(60)
    db.session.rollback()  # the user lets the last piece go
    holder.pop()
    assert outcome["done"] == len(pieces) - 1  # the held piece was skipped, not waited for
    with app.app_context():
        assert pieces[-1] not in _tacit_counts(pieces)
    assert _commit_batches(app, later(16), 2) >= 1  # the next sweep applies it, at its own due instant
    with app.app_context():
        assert _tacit_counts(pieces) == {piece_id: 1 for piece_id in pieces}
        with access.system_access("test"):
            last = db.session.scalar(select(PieceEvent).where(PieceEvent.piece_id == pieces[-1],
                                                              PieceEvent.action == "tacit_validation"))
            assert last.at == due  # rule 4: the legal instant is the due one, not the late sweep's


def _mails_since(mark: int) -> list[MailMessage]:
    with access.system_access("test: the e-mails of a sweep"):
        return list(db.session.scalars(select(MailMessage).where(MailMessage.id > mark).order_by(MailMessage.id)))


def _last_mail_id() -> int:
    with access.system_access("test: the e-mails so far"):
        return db.session.scalar(select(func.coalesce(func.max(MailMessage.id), 0)))


def test_a_person_told_of_many_pieces_by_a_batch_gets_one_e_mail_listing_them(live_app):
    """The product decision (`operations.mail_digest`): per account and batch, one e-mail for what concerns several
    pieces; what concerns one piece goes out as the ordinary e-mails of its kinds; in the bell likewise, one
    notification per kind naming the pieces (`operations.bell_digest`); each e-mail has its outbox row."""
    from chorus_chain.operations.mail import render, thaw

    app = live_app
    w = world(app)
    pieces = [deposit(app, w, w.st1, "A10", f"N-{i}", now=NOW + timedelta(minutes=i)) for i in range(4)]
    alone = deposit(app, w, w.sibling, "A10", "N-alone", now=NOW + timedelta(hours=5))
    with app.app_context():
        mark = _last_mail_id()
    # The four pieces of Plâtrerie Test fall due in one batch; the fifth falls due in a sweep of its own.
    assert _commit_batches(app, NOW + timedelta(days=15, hours=1), 500) == len(pieces)
    with app.app_context():
        first = _mails_since(mark)
        mark = _last_mail_id()
    assert _commit_batches(app, NOW + timedelta(days=15, hours=6), 500) == 1
    with app.app_context():
        second = _mails_since(mark)
        with access.system_access("test: notifications"):
            in_app = list(db.session.scalars(select(Notification).where(
                Notification.account_id == w.st1.account_id,
                Notification.created_at == NOW + timedelta(days=15, hours=1))))
            in_app_alone = list(db.session.scalars(select(Notification).where(
                Notification.account_id == w.sibling.account_id,
                Notification.created_at == NOW + timedelta(days=15, hours=6))))
            outboxed = {job.payload["mail_id"] for job in db.session.scalars(
                select(OutboxJob).where(OutboxJob.job == "send_mail"))}

    accounts = [mail.account_id for mail in first]
    assert first and len(accounts) == len(set(accounts))  # one e-mail per person for the batch (told of 4 pieces)
    digests = [mail for mail in first if mail.template == "deadlines_digest"]
    emitter = next(mail for mail in digests if mail.account_id == w.st1.account_id)
    context = thaw(emitter.context)
    entries = [entry for group in context["structures"] for entry in group["entries"]]
    assert context["count"] == len(entries) >= len(pieces)  # its four pieces' news (and the alerts), in one e-mail
    with app.app_context():
        subject, body = render("deadlines_digest", context)
    assert subject.startswith(f"{len(entries)} notifications sur vos pièces")
    for index in range(len(pieces)):
        assert f"N-{index} " in body  # each piece named, with its link
    assert body.count("/pieces/") == len(entries)
    # In-app (`operations.bell_digest`): one notification per kind for the emitter's member, each naming its four
    # pieces with their own lines; together they tell what the e-mail lists, line for line.
    kinds = [n.kind for n in in_app]
    assert len(kinds) == len(set(kinds)) and all(n.items and n.piece_id is None for n in in_app)
    assert all(n.text.startswith(f"{len({item['piece_id'] for item in n.items})} ") for n in in_app)
    assert sorted(item["piece_id"] for n in in_app for item in n.items) == sorted(
        int(entry["url"].rsplit("/", 1)[1]) for entry in entries)
    assert sorted(item["text"] for n in in_app for item in n.items) == sorted(entry["text"] for entry in entries)
    # A deadline alone: its notifications as always, one per piece and kind, no digest.
    assert in_app_alone and all(n.items is None and n.piece_id == alone for n in in_app_alone)
    # A deadline alone: the ordinary e-mails of their kinds, no digest (the emitter: its piece's new status and the
    # expiry's alert, two e-mails as before).
    assert second and all(mail.template != "deadlines_digest" for mail in second)
    assert len([mail for mail in second if mail.account_id == w.sibling.account_id]) >= 2
    assert any(mail.account_id == w.sibling.account_id and "N-alone" in mail.context["subject"] for mail in second)
    assert {mail.id for mail in first + second} <= outboxed


def test_a_batch_writes_the_changes_of_each_table_in_one_update_and_leaves_the_rows_whole(live_app):
    """The batch's end writes the changes of the rows it read one UPDATE per table (`sweep.context.Adopted`):
    pieces whose clocks changed different columns (the status, a clock's start instant, both) are written together,
    each row completed with its own values; what the pieces hold afterwards is every column the one-by-one path
    leaves (but the version counter, which counts flushes)."""
    from sqlalchemy import event

    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    generated_set(app, w, 24, seed=5)
    columns = [column for column in Piece.__table__.columns if column.name != "version"]
    updates: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        found = re.search(r'\bUPDATE\s+"?(\w+)"?\s+SET\b', statement)
        if found:
            updates.append(found.group(1))

    with app.app_context():
        due = _due_count(SWEPT_AT)
        sweep(SWEPT_AT, prepared=False)
        with access.system_access("test: the pieces"):
            alone = db.session.execute(select(*columns).order_by(Piece.id)).all()
        db.session.rollback()
        event.listen(db.engine, "before_cursor_execute", before)
        try:
            batched = sweep(SWEPT_AT, batch_size=1000)  # one batch
        finally:
            event.remove(db.engine, "before_cursor_execute", before)
        with access.system_access("test: the pieces"):
            together = db.session.execute(select(*columns).order_by(Piece.id)).all()
        db.session.commit()
    assert batched["done"] == due and batched["applied"] > 0
    assert updates.count("piece") == 1 and updates.count("deadline") == 1, updates
    assert together == alone


def test_a_batch_reads_its_pieces_as_plain_rows_and_leaves_them_as_the_one_by_one_path(live_app):
    """The batch's pieces are plain rows (`sweep.context.SweptPiece`), not ORM objects loaded only to be expunged:
    no piece goes through the ORM's loading during a batch, and the pieces, their events and clocks are what the
    one-by-one path (ORM pieces) leaves."""
    from sqlalchemy import event

    from chorus_chain.operations.deadlines import sweep

    app = live_app
    w = world(app)
    generated_set(app, w, 24, seed=11)
    columns = [column for column in Piece.__table__.columns if column.name != "version"]
    loaded: list[int] = []

    def on_load(target, context):
        loaded.append(target.id)

    with app.app_context():
        due = _due_count(SWEPT_AT)
        sweep(SWEPT_AT, prepared=False)
        with access.system_access("test: the pieces"):
            alone = db.session.execute(select(*columns).order_by(Piece.id)).all()
        left_alone = snapshot()
        db.session.rollback()
        event.listen(Piece, "load", on_load)
        try:
            batched = sweep(SWEPT_AT, batch_size=1000)  # one batch
        finally:
            event.remove(Piece, "load", on_load)
        with access.system_access("test: the pieces"):
            together = db.session.execute(select(*columns).order_by(Piece.id)).all()
        left_together = snapshot()
        db.session.commit()
    assert batched["done"] == due and batched["applied"] > 0
    assert loaded == []
    assert together == alone
    assert left_together["events"] == left_alone["events"] and left_together["deadlines"] == left_alone["deadlines"]


def test_the_batch_s_update_finds_its_rows_by_id_under_row_level_security(live_app):
    """`bulk.update_statement` as the application's role (row-level security applies): each row is found through the
    primary key, not by scanning the table. Joined to the rows' subquery itself, the casts from JSON text in the
    join's condition are not leakproof, so PostgreSQL ran the policy first on every row of the table (a sequential
    scan of all the pieces for each batch, or with sequential scans off, a walk through the whole primary key with
    no condition)."""
    from sqlalchemy import text

    from chorus_chain.operations import bulk

    app = live_app
    w = world(app)
    pieces = [deposit(app, w, w.st1, "A10", f"B-{i}") for i in range(3)]
    with app.app_context():
        with access.system_access("test: the plan of the batch's update"):
            rows = [{"id": piece_id, "updated_at": later(16)} for piece_id in pieces]
            statement, parameters = bulk.update_statement(Piece.__table__, ("updated_at",), rows)
            # The planner weighs a probe per row against reading the table once per row: with the few pieces the
            # test world holds (three when this test runs alone), reading them all is rightly the cheaper, and it
            # took that plan. Copies of a piece, inside this transaction (rolled back below), give the table a size
            # where the choice is the one a real table's is.
            copied = [f'"{column.name}"' for column in Piece.__table__.columns
                      if column.name not in ("id", "number", "number_key")]
            db.session.execute(text(
                f"INSERT INTO piece ({', '.join(copied)}, number, number_key) "
                f"SELECT {', '.join(copied)}, number || '-c' || g, number_key || '-C' || g "
                "FROM piece CROSS JOIN generate_series(1, 400) AS g WHERE piece.id = :id"), {"id": pieces[0]})
            # Whether the planner *can* look the rows up by id: every other way of joining is switched off.
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                db.session.execute(text(f"SET LOCAL {setting} = off"))
            plan = "\n".join(db.session.scalars(text(f"EXPLAIN {statement.text}"), parameters))
            db.session.execute(*bulk.update_statement(Piece.__table__, ("updated_at",), rows))
            written = db.session.scalars(select(Piece.updated_at).where(Piece.id.in_(pieces))).all()
        db.session.rollback()
    assert re.search(r"Index Scan using pk_piece on piece\s.*\n\s*Index Cond: \(id = r\.id\)", plan), plan
    assert written == [later(16)] * 3


def _board_rows_of(piece_id: int) -> list[dict]:
    """The piece's board rows, every column, each with its row version (xmin: a row rewritten gets a new one)."""
    from sqlalchemy import literal_column

    with access.system_access("test: the piece's board rows"):
        return [dict(row._mapping) for row in db.session.execute(
            select(literal_column("xmin::text").label("xmin"), *BoardRow.__table__.columns)
            .where(BoardRow.piece_id == piece_id).order_by(BoardRow.structure_id))]


def test_a_lapsed_payment_clock_leaves_the_read_model_as_it_was_until_the_piece_is_paid(live_app):
    """The expiry of a délai global de paiement is no action (alerts only): the sweep closes the clock and the
    pages keep it as the piece's clock, overdue — its due instant against now — while the payment is awaited
    (`domain.deadlines.counts_after_expiry`). The batch therefore rewrites none of the piece's board rows (issue 20:
    most of a night's deadlines are such lapses), the read model stays exact, and the payment takes the clock off
    the rows as it would have taken an open one."""
    from sqlalchemy import event

    from chorus_chain.operations.deadlines import sweep

    app = live_app
    with app.app_context():  # the module's earlier pieces: nothing of theirs due when this one's DGP is
        while _due_count(later(82)):
            sweep(later(82))
            db.session.commit()
    w = world(app)
    piece_id = deposit(app, w, w.st1, "A10", "DGP-1", ht="10000.00", now=later(50))
    act(app, w.mandataire, piece_id, "validate", now=later(51))  # the DGP runs from the MOE's receipt: 30 days
    act(app, w.moe, piece_id, "take", now=later(52))
    act(app, w.moe, piece_id, "issue_etat_acompte", amount="9 500,00", now=later(53))  # a contest clock: 30 days
    act(app, w.moa, piece_id, "moa_take", now=later(54))
    assert act(app, w.moa, piece_id, "moa_validate", now=later(55)) == "MISE_A_DISPOSITION"
    with app.app_context():
        with access.system_access("test: the clock"):
            dgp = db.session.scalar(select(Deadline).where(Deadline.piece_id == piece_id, Deadline.kind == "paiement"))
            dgp_id, dgp_due = dgp.id, dgp.due_at
        before = _board_rows_of(piece_id)
        assert dgp_due == later(81) and _due_count(later(82)) == 1  # the DGP alone (the contest's is due a day later)
        statements: list[str] = []

        def seen(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert sweep(later(82)) == {"done": 1, "applied": 1}  # alerts sent
            db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert not [text for text in statements if "board_" in text]  # the read model not even read
        with access.system_access("test: the clock"):
            assert db.session.get(Deadline, dgp_id).done_at == later(82)
        after = _board_rows_of(piece_id)
        db.session.commit()
    assert after == before  # not one row rewritten: the same values, the same row versions
    assert {row["next_kind"] for row in after} == {"paiement"} and {row["next_due"] for row in after} == {dgp_due}
    assert {row["payment_clock_id"] for row in after} == {None, dgp_id}  # the MOA's and paying office's panel
    assert_board_exact(app)
    for day, action, inputs in ((83, "mark_service_fait", {}), (84, "mark_mandatee", {}),
                                (85, "mark_paid", {"amount": "9500,00", "paid_on": later(85).date().isoformat()})):
        act(app, w.moa, piece_id, action, now=later(day), **inputs)
    with app.app_context():
        paid = _board_rows_of(piece_id)
        db.session.commit()
    assert {row["payment_clock_id"] for row in paid} == {None}
    assert "paiement" not in {row["next_kind"] for row in paid}
    assert_board_exact(app)
