"""Where jobs run: on rq when REDIS_URL is set, inline in the request otherwise (the embedded default).

Operations never import this module: they add OutboxJob rows (a job kind + a payload of ids), and `dispatch_outbox()`
hands the due ones over after the commit — after every committing request, and every minute from the clock process.
The row stays the truth (`jobs.outbox`): handing a row to rq only records `dispatched_at` and the rq job's id; the job
itself claims the row, and marks it done once its effect is durable.

A row handed over whose rq job is gone (Redis restarted empty, the job failed before it could claim — the database
was down —, or its work horse was killed and its lease ran out) is handed over again: nothing depends on Redis
keeping what it was given.

Three queues, so that a slow SMTP server never holds a PDF and a heavy PDF never holds a password-reset e-mail:
`mail`, `documents` and `sweeps` (run by separate worker processes, see the Procfile).
"""
from __future__ import annotations

import importlib
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from chorus_chain.extensions import db
from chorus_chain.models import OutboxJob
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

QUEUES = ("mail", "documents", "sweeps")


@dataclass(frozen=True)
class JobKind:
    """A kind of outbox job: the function that does it, its queue, how long a try may hold its claim (longer than
    rq's own timeout for it, so that a live job never loses its lease), and what to do when it gives up."""

    func: str
    queue: str
    lease_seconds: int
    on_give_up: str | None = None
    on_replay: str | None = None


JOBS: dict[str, JobKind] = {
    "send_mail": JobKind("chorus_chain.jobs.mail:send_mail", "mail", lease_seconds=120),
    "render_document": JobKind("chorus_chain.jobs.documents:render_document", "documents", lease_seconds=240,
                               on_give_up="chorus_chain.jobs.documents:give_up",
                               on_replay="chorus_chain.jobs.documents:replay"),
}


def _resolve(dotted: str):
    module, _, func = dotted.partition(":")
    return getattr(importlib.import_module(module), func)


def resolve(job: str):
    return _resolve(JOBS[job].func)


def give_up_handler(job: str):
    kind = JOBS.get(job)
    return _resolve(kind.on_give_up) if kind and kind.on_give_up else None


def replay_handler(job: str):
    kind = JOBS.get(job)
    return _resolve(kind.on_replay) if kind and kind.on_replay else None


def redis_connection():
    from redis import Redis

    # Short timeouts: a request must not hang on a Redis that does not answer (the row waits in the outbox).
    return Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5)


def get_queue(name: str, connection=None):
    from rq import Queue

    return Queue(name, connection=connection or redis_connection())


def _handed_over_and_alive(row: OutboxJob, connection) -> bool:
    """Whether the rq job of the row's last hand-over still exists and may still run (queued, scheduled, started)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    if row.rq_job_id is None:
        return False
    try:
        job = Job.fetch(row.rq_job_id, connection=connection)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED,
                                             JobStatus.DEFERRED)


RECHECK_SECONDS = 30
"""A row handed over less than this ago is left alone; older, the dispatcher asks Redis whether its job still lives."""


def due_rows(now, limit: int, *, handed_over_before=None):
    """Pending rows whose backoff has passed and that no live try holds (no lease, or an expired one); with
    `handed_over_before`, only those not handed over since then."""
    query = select(OutboxJob).where(OutboxJob.status == "pending", OutboxJob.available_at <= now,
                                    or_(OutboxJob.lease_until.is_(None), OutboxJob.lease_until < now))
    if handed_over_before is not None:
        query = query.where(or_(OutboxJob.dispatched_at.is_(None), OutboxJob.dispatched_at < handed_over_before,
                                OutboxJob.lease_until.is_not(None)))
    return db.session.scalars(query.order_by(OutboxJob.available_at, OutboxJob.id).limit(limit)).all()


def dispatch_outbox(limit: int = 200) -> int:
    """Hand the due outbox rows over (or run them inline without REDIS_URL); returns how many were handed over.

    Called after every committing request, by the clock every minute and by `flask outbox dispatch`. Never raises:
    if Redis is down the rows stay pending and the next dispatch takes them.
    """
    try:
        if not current_app.config.get("REDIS_URL"):
            return _run_inline(limit)
        return _enqueue(limit)
    except Exception:  # the caller's change is committed; the rows wait for the next dispatch
        log.exception("outbox not dispatched")
        db.session.rollback()
        return 0


def _run_inline(limit: int) -> int:
    from chorus_chain.jobs.outbox import run

    ids = [row.id for row in due_rows(utcnow(), limit)]
    db.session.commit()  # end the reading transaction: each job claims its row in its own
    for row_id in ids:
        run(row_id)
    return len(ids)


def _enqueue(limit: int) -> int:
    connection = redis_connection()
    now = utcnow()
    count = 0
    for row in due_rows(now, limit, handed_over_before=now - timedelta(seconds=RECHECK_SECONDS)):
        kind = JOBS.get(row.job)
        if kind is None:  # a kind of a later version: leave it for the code that knows it
            continue
        if row.lease_until is None and row.dispatched_at is not None and _handed_over_and_alive(row, connection):
            continue  # waiting in its queue: handed over once is enough
        job_id = f"outbox-{row.id}-{uuid.uuid4().hex[:8]}"
        get_queue(kind.queue, connection).enqueue(
            "chorus_chain.jobs.outbox.run", args=(row.id,), job_id=job_id,
            job_timeout=max(int(lease_seconds(row.job) * 0.75), 5), result_ttl=3600, failure_ttl=7 * 86400,
            description=f"{row.job} #{row.id}")
        row.dispatched_at, row.rq_job_id = now, job_id
        db.session.commit()
        count += 1
    db.session.commit()
    return count


def lease_seconds(job: str) -> int:
    """How long a try holds its row; rq kills the job at three quarters of it. OUTBOX_LEASE_SECONDS (a mapping
    kind → seconds) overrides it (the fault-injection tests shorten it)."""
    override = current_app.config.get("OUTBOX_LEASE_SECONDS") or {}
    return int(override.get(job) or (JOBS[job].lease_seconds if job in JOBS else 120))


def lease_for(job: str, now):
    return now + timedelta(seconds=lease_seconds(job))
