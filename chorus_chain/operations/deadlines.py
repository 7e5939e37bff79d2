"""The deadline sweep: apply every due deadline exactly once (DESIGN.md §3.3).

`sweep(now)` selects the open deadlines due at `now` — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that two
sweepers running at once never take the same row — applies each one and sets its `done_at` in the same
transaction. The caller commits (the `flask deadlines sweep` command, or a periodic job); a rolled-back sweep leaves
the rows open for the next one, a committed one never applies them again.

**Legal instants** (DESIGN.md §3.11): a handler acts **at the instant the deadline fell due** (`deadline.due_at`), not
at the sweep's: the tacit transition's event is dated from it (and says in `extra.applied_at` when the sweep applied
it), and the clock it opens starts from it. A sweep that ran late after an outage therefore moves no legal date; only
the e-mails are late. `done_at` is when the sweep applied it.

The sweep reads across tenants on purpose: it acts for no structure (events record the system as the actor), so it
runs under `access.system_access(...)` (the job and the command set it; `sweep` sets it too when called bare).
The pieces' clocks (validation, MOE, DGP, contest, DG signature, tacit DGD) are handled by `pieces_deadlines`; a
handler that finds its piece locked by a user leaves the deadline open for the next sweep (`DeadlineBusy`). After the
due deadlines, `remind` sends the reminders before the coming ones (once per reminder).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from chorus_chain.access import system_access
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MarcheParty
from chorus_chain.operations.marches import apply_tacit_dc4
from chorus_chain.operations.pieces_deadlines import PIECE_KINDS, DeadlineBusy, apply_piece_deadline, send_reminders

log = logging.getLogger(__name__)


def _dc4_acceptance(deadline: Deadline, at: datetime, applied_at: datetime) -> bool:
    party = db.session.get(MarcheParty, deadline.marche_party_id) if deadline.marche_party_id else None
    return party is not None and apply_tacit_dc4(party, deadline, at)


# kind → handler(deadline, at, applied_at) -> whether it changed something (False: the deadline was moot, e.g.
# answered). `at` is the deadline's due instant (the legal one), `applied_at` the sweep's.
HANDLERS: dict[str, Callable[[Deadline, datetime, datetime], bool]] = {
    "dc4_acceptance": _dc4_acceptance,
    **dict.fromkeys(PIECE_KINDS, apply_piece_deadline),
}


def due(now: datetime, limit: int | None = None):
    """The open deadlines due at `now`, oldest first, locked for this transaction on PostgreSQL."""
    query = (select(Deadline).where(Deadline.done_at.is_(None), Deadline.due_at <= now)
             .order_by(Deadline.due_at, Deadline.id))
    if limit:
        query = query.limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query).all()


def sweep(now: datetime, limit: int | None = None) -> dict[str, int]:
    """Apply the due deadlines; returns {"done": n, "applied": m} (applied: those that changed something).
    Flushes, never commits. `remind` sends the reminders before the coming ones (the job and the command call
    both)."""
    with system_access("deadline sweep: every tenant's clocks"):
        done = applied = 0
        for deadline in due(now, limit):
            handler = HANDLERS.get(deadline.kind)
            if handler is None:  # a kind of a later version: leave it for the code that knows it
                log.warning("deadline %s of unknown kind %r left open", deadline.id, deadline.kind)
                continue
            try:
                if handler(deadline, min(deadline.due_at, now), now):
                    applied += 1
            except DeadlineBusy:  # a user holds the piece: the next sweep applies it
                continue
            deadline.done_at = now
            done += 1
        db.session.flush()
    return {"done": done, "applied": applied}


def remind(now: datetime, limit: int | None = None) -> int:
    """Send the reminders due before the open clocks of the pieces (once per reminder); returns how many clocks
    reminded. Flushes, never commits."""
    with system_access("deadline reminders: every tenant's clocks"):
        return send_reminders(now, limit)
