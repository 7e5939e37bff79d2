"""Periodic work, run by `rq cron` (see cron.py: the outbox every minute, the deadline sweep every 5 minutes) and by
hand with `flask outbox dispatch` / `flask deadlines sweep`.

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


def sweep_deadlines() -> dict[str, int]:
    """Apply every due deadline exactly once (row locks with SKIP LOCKED: two sweepers never act twice; a crashed
    sweep rolled back leaves them for the next one), send the reminders before the coming ones, commit, then hand
    the e-mails over. Reads across tenants, and says so."""
    from chorus_chain.access import system_access
    from chorus_chain.extensions import db
    from chorus_chain.jobs.queue import dispatch_outbox
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations.deadlines import remind, sweep
    from chorus_chain.operations.retenue import notify_releases

    with job_context(), system_access("periodic deadline sweep"):
        now = utcnow()
        result = sweep(now)
        result["reminded"] = remind(now)
        result["retenues_releasable"] = notify_releases(now)
        db.session.commit()
        dispatch_outbox()
        return result
