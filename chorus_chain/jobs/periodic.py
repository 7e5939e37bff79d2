"""Periodic work as rq jobs, for whoever wants to enqueue it on the `sweeps` queue; the clock process
(`jobs.clock`, `flask deadlines clock`) runs the same tick every minute without Redis, and by hand
`flask outbox dispatch` / `flask deadlines sweep` do too.

Deadlines are rows, never timers held in Redis: the sweep applies whatever is due, idempotently, each at its due
instant, so a restarted Redis or worker loses nothing and moves no legal date.
"""
from __future__ import annotations

import logging

from chorus_chain.jobs.context import job_context

log = logging.getLogger(__name__)


def dispatch_pending_outbox() -> int:
    """Hand over the due outbox rows (Redis was down at commit, a retry's backoff passed, a job Redis lost)."""
    from chorus_chain.jobs.queue import dispatch_outbox

    with job_context():
        return dispatch_outbox()


def sweep_deadlines() -> dict[str, int]:
    """One tick of the clock (jobs.clock.tick): apply every due deadline once at its due instant (row locks with
    SKIP LOCKED: two sweepers never act twice; a crashed sweep rolled back leaves them for the next one), send the
    reminders before the coming ones, commit, then hand the e-mails over. Reads across tenants, and says so."""
    from chorus_chain.jobs.clock import tick

    with job_context():
        return tick()
