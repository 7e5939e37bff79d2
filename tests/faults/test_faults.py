"""Fault injection (issue 14): the Procfile's processes on a real PostgreSQL and a real Redis that this module starts
itself on spare loopback ports, a real SMTP sink; one fault per test. After each, what a user relies on holds:
every e-mail delivered exactly once (by its Message-ID, the row's own), every document done or failed (never stuck),
every due deadline applied once at its due instant, and `flask audit verify` intact.

Leases, backoffs and the stall delay are shortened (seconds instead of minutes) so that the module runs in a few
minutes; the code paths are the production ones.
"""
from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest

from tests.faults.harness import Stack, children, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres, pytest.mark.redis]

SETTLE = 120  # seconds: the longest any recovery may take here


def _binaries_missing() -> str | None:
    import shutil
    from pathlib import Path

    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        return "PostgreSQL server binaries absent"
    if not shutil.which("redis-server"):
        return "redis-server absent"
    return None


@pytest.fixture(scope="module")
def stack():
    missing = _binaries_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the fault suite needs them in CI: {missing}")
        pytest.skip(missing)
    stack = Stack(secret="fault-injection", backoff_max=2, max_attempts=30, lease=8, stall=4,
                  config={"WTF_CSRF_ENABLED": False, "LOGIN_RATE_LIMIT": "10000 per minute"})
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def procs(stack):
    """The processes of one test; stopped after it (the services stay for the module)."""
    yield stack.processes
    stack.processes.close()
    stack.sink.mode, stack.sink.delay, stack.sink.on_accept = "accept", 0.0, None


# --- making work ----------------------------------------------------------------------------------------------------


def queue_mails(app, count: int, prefix: str) -> list[int]:
    from chorus_chain.extensions import db
    from chorus_chain.jobs.queue import dispatch_outbox
    from chorus_chain.models import Account
    from chorus_chain.operations.mail import queue_mail

    ids = []
    with app.test_request_context():
        account = db.session.scalar(db.select(Account).limit(1))
        if account is None:
            from tests import factories

            factories.account(app, email="faults@exemple.fr")
            account = db.session.scalar(db.select(Account).limit(1))
        for number in range(count):
            ids.append(queue_mail(f"{prefix}-{number}@exemple.fr", "password_changed", account=account).id)
        db.session.commit()
        dispatch_outbox()
    return ids


def the_world(stack):
    if not hasattr(stack, "world"):
        from tests.integration.pieces_world import world

        stack.world = world(stack.app)
        stack.numbers = iter(range(1, 10_000))
    return stack.world


def deposit_now(stack, *, days_ago: float = 0.0) -> int:
    """A sous-traitant deposits a piece (its validator is told by e-mail, its validation clock starts)."""
    from chorus_chain.models.base import utcnow
    from tests.integration.pieces_world import deposit

    w = the_world(stack)
    # 100 € a piece: the soak deposits hundreds, and st1's DC4 (96 000 € TTC) must never refuse one of them
    return deposit(stack.app, w, w.st1, "A10", f"FLT-{next(stack.numbers)}", ht="100.00",
                   now=utcnow() - timedelta(days=days_ago))


def ask_pdfs(stack, piece_ids: list[int]) -> list[int]:
    from chorus_chain.jobs.queue import dispatch_outbox
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations.documents import request_document
    from tests.integration.pieces_world import acting

    w = the_world(stack)
    ids = []
    for piece_id in piece_ids:
        with acting(stack.app, w.st1) as (account, structure):
            ids.append(request_document(account, structure, "piece_pdf", now=utcnow(), piece_id=piece_id).id)
    with stack.app.app_context():
        dispatch_outbox()
    return ids


# --- what must hold after every fault -------------------------------------------------------------------------------


def _outbox_settled(app) -> bool:
    from chorus_chain.extensions import db
    from chorus_chain.models import OutboxJob

    with app.app_context():
        try:
            return db.session.scalar(db.select(db.func.count()).select_from(OutboxJob)
                                     .where(OutboxJob.status == "pending")) == 0
        except Exception:
            db.session.rollback()
            return False


def assert_everything_holds(stack) -> None:
    from chorus_chain.access import system_access
    from chorus_chain.extensions import db
    from chorus_chain.jobs.mail import message_id
    from chorus_chain.models import Deadline, GeneratedDocument, MailMessage, OutboxJob, PieceEvent
    from chorus_chain.models.base import utcnow

    app, sink = stack.app, stack.sink
    wait_for(lambda: _outbox_settled(app), SETTLE, "every outbox job to finish")
    with app.app_context(), system_access("fault tests: every tenant's rows"):
        failed = db.session.scalars(db.select(OutboxJob).where(OutboxJob.status == "failed")).all()
        assert failed == [], [(row.job, row.last_error) for row in failed]
        mails = db.session.scalars(db.select(MailMessage)).all()
        counts = sink.counts()
        assert all(mail.sent_at is not None for mail in mails)
        lost = [mail.id for mail in mails if counts[message_id(mail.id)] == 0]
        twice = {mid: n for mid, n in counts.items() if n > 1}
        assert lost == [] and twice == {}, f"lost {lost}, delivered more than once {twice}"
        assert len(counts) == len(mails)
        stuck = db.session.scalars(db.select(GeneratedDocument)
                                   .where(GeneratedDocument.status.in_(("queued", "running")))).all()
        assert stuck == [], [(row.id, row.status) for row in stuck]
        overdue = db.session.scalars(db.select(Deadline).where(
            Deadline.done_at.is_(None), Deadline.due_at < utcnow() - timedelta(seconds=10))).all()
        assert overdue == [], [(row.id, row.kind, row.due_at) for row in overdue]
        for event in db.session.scalars(db.select(PieceEvent).where(PieceEvent.action == "tacit_validation")):
            due = db.session.scalars(db.select(Deadline.due_at).where(Deadline.piece_id == event.piece_id,
                                                                      Deadline.kind == "validation_1")).all()
            assert event.at in due, (event.piece_id, event.at, due)  # at its due instant, not the sweep's
        applied = db.session.execute(db.select(PieceEvent.piece_id, db.func.count()).where(
            PieceEvent.action == "tacit_validation").group_by(PieceEvent.piece_id)).all()
        assert all(n == 1 for _, n in applied), applied  # once
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def _document_statuses(app, ids):
    from chorus_chain.extensions import db
    from chorus_chain.models import GeneratedDocument

    with app.app_context():
        return {row.id: (row.status, row.attempts) for row in
                db.session.scalars(db.select(GeneratedDocument).where(GeneratedDocument.id.in_(ids)))}


# --- the faults -----------------------------------------------------------------------------------------------------


def test_kill_9_a_work_horse_mid_pdf(stack, procs):
    piece_ids = [deposit_now(stack) for _ in range(3)]
    procs.clock()
    worker = procs.worker("documents", slow_render=2.5)
    documents = ask_pdfs(stack, piece_ids)
    procs.worker("mail")
    running = wait_for(lambda: [i for i, (status, _) in _document_statuses(stack.app, documents).items()
                                if status == "running"], 60, "a PDF being rendered")
    horses = wait_for(lambda: children(worker.pid), 10, "the work horse")
    for horse in horses:
        os.kill(horse, 9)
    wait_for(lambda: all(status in ("done", "failed") for status, _ in
                         _document_statuses(stack.app, documents).values()), SETTLE, "the documents to settle")
    statuses = _document_statuses(stack.app, documents)
    assert all(status == "done" for status, _ in statuses.values()), statuses
    assert statuses[running[0]][1] >= 2  # the killed one was rendered again
    assert_everything_holds(stack)


def test_redis_killed_and_restarted_empty_with_jobs_queued(stack, procs):
    mails = queue_mails(stack.app, 20, "redis")  # handed to Redis, no worker yet
    stack.redis.kill()
    time.sleep(1)
    stack.redis.start()  # empty: every queued job is gone
    procs.clock()  # the clock hands the rows over again
    procs.worker("mail")
    assert_everything_holds(stack)
    assert len(mails) == 20


def test_postgres_restarted_mid_mail(stack, procs):
    stack.sink.delay = 1.0  # each mail takes a second: some are in flight when the database goes
    before = len(stack.sink.delivered)
    queue_mails(stack.app, 20, "pg")
    procs.clock()
    procs.worker("mail")
    procs.worker("mail")
    wait_for(lambda: len(stack.sink.delivered) >= before + 3, 60, "the first mails")
    stack.postgres.restart(down_seconds=3)
    back = time.monotonic()
    assert_everything_holds(stack)
    assert any(when > back for _, when in stack.sink.delivered)  # the restart did fall in the middle of the mails


def test_database_lost_right_after_the_smtp_server_accepted(stack, procs):
    """The worst instant for « nothing twice »: the SMTP server has accepted the message and the database goes before
    the job could record it, for longer than rq would let a job of the lease's length run. The try must outlive the
    outage still holding its claim, record the send when the database is back, and nobody may send it again."""
    lost = threading.Event()

    def database_lost_now():
        if not lost.is_set():
            lost.set()
            stack.postgres.stop("immediate")  # before the « 250 » reaches the job
            threading.Thread(target=lambda: (time.sleep(12), stack.postgres.start()), daemon=True).start()

    queue_mails(stack.app, 1, "lost-after-250")
    stack.sink.on_accept = database_lost_now
    procs.clock()
    procs.worker("mail")
    procs.worker("mail")
    wait_for(lost.is_set, 60, "the message accepted")
    assert_everything_holds(stack)


def test_smtp_refusing_then_hanging_then_back(stack, procs):
    stack.sink.mode = "refuse"
    queue_mails(stack.app, 10, "smtp")
    procs.clock()
    procs.worker("mail")
    time.sleep(3)
    stack.sink.mode, stack.sink.hang_seconds = "hang", 4
    time.sleep(6)
    stack.sink.mode = "accept"
    assert_everything_holds(stack)


def test_a_hanging_smtp_server_does_not_hold_the_pdfs(stack, procs):
    stack.sink.mode, stack.sink.hang_seconds = "hang", 30
    queue_mails(stack.app, 5, "hang")
    piece_ids = [deposit_now(stack) for _ in range(2)]
    procs.clock()
    procs.worker("mail")
    procs.worker("documents")
    started = time.monotonic()
    documents = ask_pdfs(stack, piece_ids)
    wait_for(lambda: all(status == "done" for status, _ in _document_statuses(stack.app, documents).values()),
             30, "the PDFs while the mail server hangs")
    assert time.monotonic() - started < 30
    stack.sink.mode = "accept"
    assert_everything_holds(stack)


def test_two_workers_and_concurrent_deposits(stack, procs):
    from concurrent.futures import ThreadPoolExecutor

    procs.clock()
    procs.worker("mail")
    procs.worker("mail")
    the_world(stack)
    with ThreadPoolExecutor(4) as pool:  # deposits from four threads while the clock and two workers run
        list(pool.map(lambda _: deposit_now(stack), range(12)))
        list(pool.map(lambda n: queue_mails(stack.app, 3, f"concurrent-{n}"), range(4)))
    assert_everything_holds(stack)


def test_the_clock_through_a_redis_outage(stack, procs):
    """Validation clocks falling due during the outage are applied at their due instants by the clock, which needs
    no Redis; their e-mails go out once Redis is back."""
    piece_ids = [deposit_now(stack, days_ago=15 - 6 / 86400) for _ in range(3)]  # due in ~6 s
    procs.worker("mail")
    procs.clock()
    stack.redis.kill()
    from tests.integration.pieces_world import status_of

    wait_for(lambda: all(status_of(stack.app, piece_id) == "A_ASSOCIER_MOE" for piece_id in piece_ids), 60,
             "the tacit validations while Redis is down")
    stack.redis.start()
    assert_everything_holds(stack)
