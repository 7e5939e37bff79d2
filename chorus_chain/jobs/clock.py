"""The clock: `flask deadlines clock`, the Procfile's `clock` process — the deadline sweep every minute, from PostgreSQL
alone.

Why not `rq cron`: it exits on the first Redis error (refused, or a 5 s timeout) and stays down, and then nothing
sweeps — no tacit validation, no reminder — until someone restarts it. The sweep needs only the database (deadlines
are rows), so the clock needs only the database too: Redis down, it still sweeps; the e-mails the sweep queued wait
in the outbox and the next dispatch hands them over. A database restart is waited out (the loop catches the error
and tries again at the next tick).

One clock at a time: each process takes a PostgreSQL advisory lock (session-level, on a connection of its own) before
it sweeps; a second clock started by mistake, or a standby, waits for the lock and takes over if the first dies (its
session ends, the lock goes with it). The row locks of the sweep (`SKIP LOCKED`) make a concurrent manual
`flask deadlines sweep` harmless anyway.

Missed ticks are caught up by construction: a tick applies every deadline due up to now, each **at its own due
instant** (operations.deadlines.sweep), so an outage delays the e-mails, never the legal dates.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import text

from chorus_chain.extensions import db
from chorus_chain.models import ClockState
from chorus_chain.models.base import utcnow

log = logging.getLogger(__name__)

CLOCK = "deadlines"
ADVISORY_KEY = 0x43484F52  # "CHOR": the clock's advisory lock
FAR_FROM_REAL_TIME = timedelta(hours=1)


class InstantRefused(Exception):
    """A `--now` the clock must not take without --force (French message)."""


def state() -> ClockState | None:
    return db.session.get(ClockState, CLOCK)


def check_instant(now: datetime, *, real: datetime | None = None) -> None:
    """Refuse an instant before the last sweep (the law's clocks never run backwards) or far from the real time."""
    real = real or utcnow()
    current = state()
    if current is not None and now < current.swept_to:
        raise InstantRefused(f"L'instant {now.isoformat()} précède le dernier passage de l'horloge "
                             f"({current.swept_to.isoformat()}) : refusé (--force pour passer outre).")
    if abs(now - real) > FAR_FROM_REAL_TIME:
        raise InstantRefused(f"L'instant {now.isoformat()} est à plus d'une heure de l'heure réelle "
                             f"({real.isoformat()}) : refusé (--force pour passer outre).")


def tick(now: datetime | None = None) -> dict[str, int]:
    """One sweep at `now`: apply the due deadlines (each at its due instant, a commit per batch, CLOCK_SWEEPERS
    sweepers at once), send the
    reminders and the releases, record where the clock stands, commit; then hand the e-mails over (never raises for
    Redis)."""
    from chorus_chain.access import system_access
    from chorus_chain.jobs import sweepers
    from chorus_chain.jobs.queue import dispatch_outbox
    from chorus_chain.operations.deadlines import remind
    from chorus_chain.operations.retenue import notify_releases
    from chorus_chain.operations.tresorerie.slips import watch_daily

    now = now or utcnow()
    # Each batch of due deadlines commits on its own: a user acting on one of its pieces waits for one batch at
    # most, and a tick killed mid-way keeps what it committed (the rest is due at the next tick). CLOCK_SWEEPERS
    # sweepers share the due deadlines, each its pieces (`jobs.sweepers` says why, and how).
    swept = sweepers.sweep(now, int(current_app.config.get("CLOCK_SWEEPERS", 1)))
    with system_access("deadline clock: every tenant's clocks"):
        result = {"done": swept["done"], "applied": swept["applied"]}
        result["reminded"] = remind(now)
        result["retenues_releasable"] = notify_releases(now)
        _record(now)
        db.session.commit()
    # Once a day, after the sweep moved the pieces, in a transaction of its own: the receipts that slipped by more
    # than a week (issue 19). Its failure must not undo the legal sweep, committed above; rolled back, its day is
    # not claimed and the next tick tries again.
    try:
        result["receipt_slips"] = watch_daily(now) or 0
        db.session.commit()
    except Exception:
        log.exception("clock: the trésorerie watch failed; next try at the next tick")
        db.session.rollback()
        result["receipt_slips"] = 0
    result["board_buckets_folded"] = _compact_board()
    result["dispatched"] = dispatch_outbox()
    return result


def _compact_board() -> int:
    """Fold the dashboards' rollup deltas (issue 20), in a transaction of its own: it never blocks a user's
    transaction (they only insert) and its failure undoes nothing else; the next tick tries again."""
    from chorus_chain.operations import board

    try:
        folded = board.compact()
        db.session.commit()
        return folded
    except Exception:
        log.exception("clock: folding the board's rollups failed; next try at the next tick")
        db.session.rollback()
        return 0


def _record(now: datetime) -> None:
    current = state()
    real = utcnow()
    if current is None:
        db.session.add(ClockState(name=CLOCK, swept_to=now, ran_at=real))
    else:
        current.swept_to, current.ran_at = max(current.swept_to, now), real
    db.session.flush()


def run_forever(interval: float | None = None, *, ticks: int | None = None) -> None:
    """The clock process: take the advisory lock (PostgreSQL), then tick every `interval` seconds (the next tick
    starts `interval` after the previous one started, so a slow sweep is not followed by a gap). `ticks` bounds the
    loop (tests)."""
    interval = interval if interval is not None else float(current_app.config.get("CLOCK_INTERVAL_SECONDS", 60))
    done = 0
    lock = None
    while ticks is None or done < ticks:
        started = time.monotonic()
        try:
            if lock is not None and lock is not True:
                lock.execute(text("SELECT 1"))  # still ours: a database restart ended the session and its lock
            lock = lock or _take_lock()
            if lock is not None:
                result = tick()
                if result["done"] or result["reminded"]:
                    log.info("clock: %s", result)
        except Exception:  # the database restarting, a bug in one handler: logged, tried again next tick
            log.exception("clock tick failed; next try in %.0f s", interval)
            db.session.rollback()
            db.session.remove()
            lock = _release(lock)
        done += 1
        if ticks is not None and done >= ticks:
            break  # the last tick asked for: no interval to wait out (`--ticks 1` held its caller a whole minute)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
    _release(lock)


def _take_lock():
    """A connection holding the clock's advisory lock, or None if another clock holds it (SQLite: no lock needed)."""
    if db.engine.dialect.name != "postgresql":
        return True
    connection = db.engine.connect()
    if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar():
        connection.commit()
        return connection
    connection.close()
    log.info("clock: another clock holds the lock; standing by")
    return None


def _release(lock):
    """Unlock and give the connection back (a pooled connection keeps its session, and a session-level lock with it);
    a connection the database dropped is invalidated (its session, and the lock, are gone already)."""
    if lock is not None and lock is not True:
        try:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            lock.commit()
        except Exception:
            lock.invalidate()
        lock.close()
    return None
