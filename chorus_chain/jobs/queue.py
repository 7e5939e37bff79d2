"""Where jobs run: on rq when REDIS_URL is set, inline in the request otherwise (the embedded default).

The same job functions serve both. Operations never import this module: they add OutboxJob rows, and
dispatch_outbox() enqueues them after the commit.
"""
from __future__ import annotations

import importlib
import logging

from flask import current_app
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import OutboxJob
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

QUEUE_NAME = "chorus"
JOBS = {
    "send_mail": "chorus_chain.jobs.mail:send_mail",
    "render_document": "chorus_chain.jobs.documents:render_document",
}


def resolve(job: str):
    module, _, func = JOBS[job].partition(":")
    return getattr(importlib.import_module(module), func)


def redis_connection():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def get_queue():
    from rq import Queue

    return Queue(QUEUE_NAME, connection=redis_connection())


def dispatch_outbox(limit: int = 100) -> int:
    """Enqueue committed outbox rows not yet dispatched; returns how many were handed over.

    Called after every committing request and by the periodic sweep. If Redis is down the rows stay
    and the next dispatch takes them: nothing is lost.
    """
    rows = db.session.scalars(
        select(OutboxJob).where(OutboxJob.dispatched_at.is_(None)).order_by(OutboxJob.id).limit(limit)
    ).all()
    if not rows:
        return 0
    inline = not current_app.config.get("REDIS_URL")
    count = 0
    for row in rows:
        job, payload = row.job, dict(row.payload)
        try:
            if inline:
                row.dispatched_at = utcnow()
                db.session.commit()
                resolve(job)(**payload)
            else:
                get_queue().enqueue(JOBS[job].replace(":", "."), kwargs=payload, job_id=f"outbox-{row.id}")
                row.dispatched_at = utcnow()
                db.session.commit()
            count += 1
        except Exception:  # Redis down, or an inline job failed: keep the row for the next dispatch
            log.exception("outbox job %s #%s not dispatched", job, row.id)
            db.session.rollback()
            if inline:
                _reset_dispatch(row.id)
            break
    return count


def _reset_dispatch(row_id: int) -> None:
    row = db.session.get(OutboxJob, row_id)
    if row is not None:
        row.dispatched_at = None
        db.session.commit()
