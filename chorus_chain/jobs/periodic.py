"""Periodic work, run by `rq cron` (see cron.py) and by hand with `flask outbox dispatch` / `flask deadlines sweep`.

Deadlines are rows, never timers held in Redis: this sweep applies whatever is due, idempotently, so a restarted
Redis or worker loses nothing.
"""
from __future__ import annotations

import logging

from chorus_chain.jobs.context import job_context

log = logging.getLogger(__name__)


def dispatch_pending_outbox() -> int:
    """Hand over outbox rows a request committed but could not dispatch (Redis down at the time)."""
    from chorus_chain.jobs.queue import dispatch_outbox

    with job_context():
        return dispatch_outbox()
