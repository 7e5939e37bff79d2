"""Running one outbox row: claim it, do its job, record the outcome — the row is the truth until the job succeeded.

1. **Claim** (its own transaction): the row must be pending, due, and held by no live try (no lease, or an expired
   one); on PostgreSQL it is read `FOR UPDATE SKIP LOCKED`, so two workers handed the same row (a re-dispatch after
   a Redis restart, two dispatchers) never both run it. The claim counts the try and sets a lease longer than rq's
   timeout for the job: a lease that runs out means the work horse died, and the dispatcher hands the row over again.
2. **Do**: the job function, which commits its own effect (an e-mail's `sent_at`, a document's bytes) and is safe to
   run twice (it checks that effect first).
3. **Record**: done; or, on any exception, pending again after a backoff (30 s, 1 min, 2 min… up to an hour), or
   `failed` after the last try, with the error, for the operators (`flask outbox list --failed`, the operators'
   page) who can replay it. A job kind may say what its give-up means for the user (a document: « Réessayer »).

Recording an outcome waits out a database restart (`durably`): a job that sent an e-mail must not lose the fact that
it did, or the retry would send it twice.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from chorus_chain.extensions import db
from chorus_chain.jobs.context import describe_error, durably, job_context
from chorus_chain.jobs.queue import JOBS, give_up_handler, lease_for, replay_handler, resolve
from chorus_chain.models import OutboxJob
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

INTERRUPTED = "Travail interrompu (processus arrêté ou délai dépassé) avant d'avoir abouti."


def max_attempts() -> int:
    return int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", 8))


def backoff(attempts: int) -> timedelta:
    """The wait before try `attempts + 1`: doubling from OUTBOX_BACKOFF_SECONDS, at most OUTBOX_BACKOFF_MAX."""
    base = float(current_app.config.get("OUTBOX_BACKOFF_SECONDS", 30))
    cap = float(current_app.config.get("OUTBOX_BACKOFF_MAX", 3600))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def run(outbox_id: int) -> str:
    """Run outbox row `outbox_id` once (the rq job, and the inline mode); returns what happened."""
    with job_context():
        return _run(outbox_id)


def _run(outbox_id: int) -> str:
    claimed = _claim(outbox_id)
    if claimed is None:
        return "skipped"
    job, payload, attempt = claimed
    try:
        resolve(job)(**payload)
    except Exception as exc:  # any failure: the row says so and is tried again (or given up)
        db.session.rollback()
        log.warning("outbox job %s #%s failed (try %s): %s", job, outbox_id, attempt, exc, exc_info=True)
        return durably(lambda: _record_failure(outbox_id, attempt, describe_error(exc)))
    return durably(lambda: _record_done(outbox_id, attempt))


def _claim(outbox_id: int) -> tuple[str, dict, int] | None:
    now = utcnow()
    query = select(OutboxJob).where(OutboxJob.id == outbox_id, OutboxJob.status == "pending",
                                    OutboxJob.available_at <= now,
                                    or_(OutboxJob.lease_until.is_(None), OutboxJob.lease_until < now))
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = db.session.scalar(query)
    if row is None or row.job not in JOBS:  # done, failed, held by a live try, or not due yet
        db.session.commit()
        return None
    if row.attempts >= max_attempts():  # its last try was interrupted (lease ran out): give up now
        _give_up(row, row.last_error or INTERRUPTED, now)
        db.session.commit()
        return None
    if row.lease_until is not None:  # the previous try's worker died holding it
        row.last_error = INTERRUPTED
    row.attempts += 1
    row.lease_until = lease_for(row.job, now)
    claimed = (row.job, dict(row.payload or {}), row.attempts)
    db.session.commit()
    return claimed


def _mine(outbox_id: int, attempt: int) -> OutboxJob | None:
    """The row, locked, if this try still holds it (a try whose lease ran out was superseded: it records nothing)."""
    query = select(OutboxJob).where(OutboxJob.id == outbox_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None or row.status != "pending" or row.attempts != attempt:
        db.session.commit()
        return None
    return row


def _record_done(outbox_id: int, attempt: int) -> str:
    row = _mine(outbox_id, attempt)
    if row is None:
        return "superseded"
    row.status, row.finished_at, row.lease_until = "done", utcnow(), None
    db.session.commit()
    return "done"


def _record_failure(outbox_id: int, attempt: int, error: str) -> str:
    row = _mine(outbox_id, attempt)
    if row is None:
        return "superseded"
    now = utcnow()
    row.last_error, row.lease_until, row.dispatched_at, row.rq_job_id = error, None, None, None
    if row.attempts >= max_attempts():
        _give_up(row, error, now)
        outcome = "failed"
    else:
        row.available_at = now + backoff(row.attempts)
        outcome = "retry"
    db.session.commit()
    return outcome


def _give_up(row: OutboxJob, error: str, now) -> None:
    row.status, row.finished_at, row.lease_until, row.last_error = "failed", now, None, error[:500]
    log.error("outbox job %s #%s given up after %s tries: %s", row.job, row.id, row.attempts, error)
    handler = give_up_handler(row.job)
    if handler is not None:
        handler(error=error, **dict(row.payload or {}))


def replay(outbox_id: int) -> OutboxJob | None:
    """An operator's replay of a failed row: pending again, tries counted from zero. The caller commits and then
    dispatches. Returns None for a row that is not failed."""
    row = db.session.get(OutboxJob, outbox_id)
    if row is None or row.status != "failed":
        return None
    row.status, row.attempts, row.available_at = "pending", 0, utcnow()
    row.lease_until = row.dispatched_at = row.rq_job_id = row.finished_at = None
    handler = replay_handler(row.job)
    if handler is not None:
        handler(**dict(row.payload or {}))
    return row


def failed_rows(limit: int = 200) -> list[OutboxJob]:
    """The rows given up, newest first (operators' list)."""
    return list(db.session.scalars(select(OutboxJob).where(OutboxJob.status == "failed")
                                   .order_by(OutboxJob.finished_at.desc(), OutboxJob.id.desc()).limit(limit)))
