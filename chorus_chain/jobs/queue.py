"""Where jobs run: on rq when REDIS_URL is set, inline in the request otherwise (the embedded default).

Operations never import this module: they add OutboxJob rows (a job kind + a payload of ids), and `dispatch_outbox()`
hands the due ones over after the commit — after every committing request, and every minute from the clock process.
The row stays the truth (`jobs.outbox`): handing a row to rq only records `dispatched_at` and the rq job's id; the job
itself claims the row, and marks it done once its effect is durable.

A row handed over whose rq job is gone (Redis restarted empty, the job failed before it could claim — the database
was down —, or its work horse was killed and its lease ran out) is handed over again: nothing depends on Redis
keeping what it was given.

Four queues, so that a slow SMTP server never holds a PDF, a heavy PDF never holds a password-reset e-mail, and an
integrator's slow webhook receiver holds neither: `mail`, `documents`, `webhooks` and `sweeps` (run by separate
worker processes, see the Procfile).
"""
from __future__ import annotations

import importlib
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from chorus_chain.extensions import db
from chorus_chain.models import OutboxJob
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

QUEUES = ("mail", "documents", "webhooks", "sweeps")


@dataclass(frozen=True)
class JobKind:
    """A kind of outbox job: the function that does it, its queue, how long a try may hold its claim (longer than
    rq's own timeout for it, so that a live job never loses its lease), and what to do when it gives up."""

    func: str
    queue: str
    lease_seconds: int
    on_give_up: str | None = None
    on_replay: str | None = None
    # "smtp" (an e-mail handed over), "http" (a webhook POSTed): the try does something no rollback undoes, then
    # records it durably — its claim must outlast both (`minimum_lease`).
    effect_outside: str | None = None


JOBS: dict[str, JobKind] = {
    "send_mail": JobKind("chorus_chain.jobs.mail:send_mail", "mail", lease_seconds=120, effect_outside="smtp"),
    "render_document": JobKind("chorus_chain.jobs.documents:render_document", "documents", lease_seconds=240,
                               on_give_up="chorus_chain.jobs.documents:give_up",
                               on_replay="chorus_chain.jobs.documents:replay"),
    "store_etat_pdf": JobKind("chorus_chain.jobs.documents:store_etat_pdf", "documents", lease_seconds=240),
    "store_etat_valide_pdf": JobKind("chorus_chain.jobs.documents:store_etat_valide_pdf", "documents",
                                     lease_seconds=240),
    "deliver_webhook": JobKind("chorus_chain.jobs.webhooks:deliver", "webhooks", lease_seconds=60,
                               on_give_up="chorus_chain.jobs.webhooks:give_up",
                               on_replay="chorus_chain.jobs.webhooks:replay", effect_outside="http"),
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


_clients: dict[str, object] = {}  # per Redis URL: one client, and its pool of connections, per process


def redis_connection():
    """The process's client of REDIS_URL. A client made per call opened a new connection each time (connect, HELLO,
    CLIENT SETINFO — which reads redis-py's version from its package metadata, parsing it with the e-mail parser):
    about 3 ms of CPU, half of /healthz's and of every committing request's dispatch (bench/page_cpu.py). The pool
    reuses its connections; it notices a fork (its pid) and starts afresh in the child; a connection Redis dropped
    (a restart) is replaced on its next command by redis-py's retry."""
    url = current_app.config["REDIS_URL"]
    client = _clients.get(url)
    if client is None:
        from redis import Redis

        # Short timeouts: a request must not hang on a Redis that does not answer (the row waits in the outbox).
        client = _clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return client


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


def due_rows(now, limit: int, *, handed_over_before=None, lock: bool = False):
    """Pending rows whose backoff has passed and that no live try holds (no lease, or an expired one); with
    `handed_over_before`, only those not handed over since then."""
    query = select(OutboxJob).where(OutboxJob.status == "pending", OutboxJob.available_at <= now,
                                    or_(OutboxJob.lease_until.is_(None), OutboxJob.lease_until < now))
    if handed_over_before is not None:
        query = query.where(or_(OutboxJob.dispatched_at.is_(None), OutboxJob.dispatched_at < handed_over_before,
                                OutboxJob.lease_until.is_not(None)))
    query = query.order_by(OutboxJob.available_at, OutboxJob.id).limit(limit)
    if lock and db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query).all()


REDIS_PAUSE_SECONDS = 10.0
_redis_down_until: dict[str, float] = {}  # per Redis URL: after a failure, requests stop trying it for a while


def dispatch_outbox(limit: int = 200) -> int:
    """Hand the due outbox rows over (or run them inline without REDIS_URL); returns how many were handed over.

    Called after every committing request, by the clock every minute and by `flask outbox dispatch`. Never raises:
    if Redis is down the rows stay pending and the next dispatch takes them.
    """
    url = current_app.config.get("REDIS_URL")
    try:
        if not url:
            return _run_inline(limit)
        if time.monotonic() < _redis_down_until.get(url, 0.0):
            return 0  # Redis failed a moment ago: do not make every request wait for its timeout
        return _enqueue(limit)
    except Exception as exc:  # the caller's change is committed; the rows wait for the next dispatch
        from redis.exceptions import RedisError

        if isinstance(exc, RedisError):
            _redis_down_until[url] = time.monotonic() + REDIS_PAUSE_SECONDS
            log.warning("outbox not dispatched, Redis unavailable: %s", exc)
        else:
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
    """Hand the due rows to their queues, in two steps. First the rows are taken (on PostgreSQL locked with SKIP
    LOCKED, so that two dispatchers at once — a request and the clock — never take the same row) and marked handed
    over with a new rq job id, and that is committed; then the jobs are enqueued. So a worker never receives a job
    whose row is still locked by its dispatcher, and a hand-over that failed half-way is found again by the next
    dispatch (its rq job does not exist)."""
    connection = redis_connection()
    now = utcnow()
    handed: list[tuple[int, str, str, str]] = []
    for row in due_rows(now, limit, handed_over_before=now - timedelta(seconds=RECHECK_SECONDS), lock=True):
        kind = JOBS.get(row.job)
        if kind is None:  # a kind of a later version: leave it for the code that knows it
            continue
        if row.lease_until is None and row.dispatched_at is not None and _handed_over_and_alive(row, connection):
            continue  # waiting in its queue: handed over once is enough
        row.dispatched_at, row.rq_job_id = now, f"outbox-{row.id}-{uuid.uuid4().hex[:8]}"
        handed.append((row.id, row.job, kind.queue, row.rq_job_id))
    db.session.commit()
    for count, (row_id, job, queue, job_id) in enumerate(handed):
        try:
            get_queue(queue, connection).enqueue(
                "chorus_chain.jobs.outbox.run", args=(row_id,), job_id=job_id,
                job_timeout=rq_timeout(job), result_ttl=3600, failure_ttl=7 * 86400,
                description=f"{job} #{row_id}")
        except Exception:  # Redis went away half-way: the rest are handed over by the next dispatch
            _not_handed_over([row_id for row_id, *_ in handed[count:]])
            raise
    return len(handed)


def _not_handed_over(row_ids: list[int]) -> None:
    db.session.rollback()
    for row in db.session.scalars(select(OutboxJob).where(OutboxJob.id.in_(row_ids))):
        row.dispatched_at = row.rq_job_id = None
    db.session.commit()


RQ_TIMEOUT_SHARE = 0.75
"""rq kills a try at this share of its lease, so that a try is dead before another may take its row over."""

SMTP_ROUND_TRIPS = 8
"""The SMTP dialogue's waits, each bounded by SMTP_TIMEOUT: connect, EHLO, STARTTLS and EHLO again, AUTH, MAIL and
RCPT, DATA, the end of the message."""

HTTP_ROUND_TRIPS = 5
"""A webhook POST's waits, each bounded by WEBHOOK_TIMEOUT_SECONDS: connect, the TLS handshake, sending the body, the
status line and headers, the start of the answer kept for the log. (The name's resolution before it is the system
resolver's, bounded by its own timeout.)"""


def lease_seconds(job: str) -> int:
    """How long a try holds its row; rq kills the job at three quarters of it. OUTBOX_LEASE_SECONDS (seconds, or a
    mapping kind → seconds) overrides it (the fault-injection tests shorten it), never below `minimum_lease`."""
    override = current_app.config.get("OUTBOX_LEASE_SECONDS")
    if isinstance(override, (int, float)):
        chosen = int(override)
    else:
        chosen = int((override or {}).get(job) or (JOBS[job].lease_seconds if job in JOBS else 120))
    return max(chosen, minimum_lease(job))


def minimum_lease(job: str) -> int:
    """The shortest claim a try of this kind may hold without risking its effect twice.

    A try that did something outside the database (an e-mail the SMTP server accepted, a webhook a receiver took)
    records it `durably`, waiting out a database outage for up to JOB_DB_RETRY_SECONDS. While it waits it must stay alive (rq's timeout later than
    that wait) and keep its claim (the lease later still): a lease that ran out mid-wait let another try take the row
    over, find no `sent_at` yet and send the e-mail again — what the soak benchmark saw under PostgreSQL restarts.
    The price is the other way round: the e-mail of a work horse killed mid-try waits that long before it is retried."""
    kind = JOBS.get(job)
    if kind is None or kind.effect_outside is None:
        return 0
    config = current_app.config
    if kind.effect_outside == "http":
        outside = HTTP_ROUND_TRIPS * float(config.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    else:
        outside = SMTP_ROUND_TRIPS * float(config.get("SMTP_TIMEOUT", 15))
    worst_try = outside + float(config.get("JOB_DB_RETRY_SECONDS", 120)) + 5  # + the try's own queries
    return math.ceil(worst_try / RQ_TIMEOUT_SHARE) + 1


def rq_timeout(job: str) -> int:
    return max(int(lease_seconds(job) * RQ_TIMEOUT_SHARE), 5)


def lease_for(job: str, now):
    return now + timedelta(seconds=lease_seconds(job))
