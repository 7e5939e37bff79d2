"""The deadline sweep: apply every due deadline exactly once (DESIGN.md §3.3).

`sweep(now)` selects the open deadlines due at `now` — on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that two
sweepers running at once never take the same row — applies each one and sets its `done_at` in the same
transaction, batch by batch (`apply_due`: a batch's pieces locked and its reads made at once by a
`sweep.SweepContext`, the same steps for each deadline as alone). The caller commits: the clock commits after each
batch (`in_batches`), so a user acting on a piece waits for one batch at most, and a sweep killed
mid-way keeps the batches it committed and leaves the rest open for the next one; a committed deadline is never
applied again.

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
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import datetime

from sqlalchemy import func, select, tuple_

from chorus_chain.access import system_access
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MarcheParty
from chorus_chain.operations import bell_digest, mail_digest
from chorus_chain.operations.marches import apply_tacit_dc4
from chorus_chain.operations.pieces_deadlines import PIECE_KINDS, DeadlineBusy, apply_piece_deadline, send_reminders
from chorus_chain.operations.sweep import collector

log = logging.getLogger(__name__)


def _dc4_acceptance(deadline: Deadline, at: datetime, applied_at: datetime, ctx=None) -> bool:
    party = db.session.get(MarcheParty, deadline.marche_party_id) if deadline.marche_party_id else None
    return party is not None and apply_tacit_dc4(party, deadline, at)


# kind → handler(deadline, at, applied_at, ctx) -> whether it changed something (False: the deadline was moot, e.g.
# answered). `at` is the deadline's due instant (the legal one), `applied_at` the sweep's; `ctx` the batch's
# `sweep.SweepContext` (None: the handler reads for itself).
HANDLERS: dict[str, Callable[..., bool]] = {
    "dc4_acceptance": _dc4_acceptance,
    **dict.fromkeys(PIECE_KINDS, apply_piece_deadline),
}
# Deadlines applied per batch: each batch is one transaction (its pieces locked for it alone), so a user acting on
# one of its pieces waits for one batch at most; large enough that the batch's reads and writes are few statements
# for many deadlines.
BATCH_SIZE = 500


def due(now: datetime, limit: int | None = None, *, after: tuple[datetime, int] | None = None,
        horizon: int | None = None, share: tuple[int, int] | None = None):
    """The open deadlines due at `now`, oldest first, locked for this transaction on PostgreSQL (SKIP LOCKED: those
    another sweeper holds are its own). `after` (due_at, id): the next ones in that order (a sweep's next batch);
    `horizon`: none created after the sweep started (the clocks its own transitions open wait for the next sweep,
    as they always did); `share` (k, n): only the k-th of n sweepers' share (`share_of`)."""
    query = (select(Deadline).where(Deadline.done_at.is_(None), Deadline.due_at <= now)
             .order_by(Deadline.due_at, Deadline.id))
    if share is not None:
        query = query.where(share_of(share))
    if after is not None:
        query = query.where(tuple_(Deadline.due_at, Deadline.id) > tuple_(*after))
    if horizon is not None:
        query = query.where(Deadline.id <= horizon)
    if limit:
        query = query.limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return db.session.scalars(query).all()


def share_of(share: tuple[int, int]):
    """The condition of the k-th of n concurrent sweepers' share (`jobs.sweepers`): the deadlines of the pieces whose
    id is k modulo n; those of no piece (a DC4's tacit acceptance) are the first sweeper's. Why by piece: a piece's
    deadlines are all one sweeper's, so two sweepers never want the same piece: neither skips the other's pieces
    (a deadline left open until the next tick), nor waits for them — two alerts-only expiries of one piece in two
    sweepers' batches would both hold it FOR SHARE, then each wait for the other's share in the read model's
    refresh (FOR NO KEY UPDATE): a deadlock. The DC4s' acceptances, which write their marchés' rows (their chains),
    are all one sweeper's."""
    k, n = share
    return (func.coalesce(Deadline.piece_id, 0) % n) == k


def apply_due(deadlines: list[Deadline], now: datetime, *, prepared: bool = True) -> tuple[int, int]:
    """Apply these due deadlines (locked by `due`) and mark them done; returns (done, applied). `prepared`: the
    batch's reads made at once (`sweep.SweepContext`), its rows written at its end, a statement per table; without
    it, each handler reads and writes for itself — the same steps. A deadline whose piece a user holds stays open.

    Either way the batch's e-mails go out as one per person (`mail_digest`: the product decision, and why), the
    in-app notifications as one per person, structure and kind (`bell_digest`)."""
    from chorus_chain.operations.sweep import SweepContext, expiries

    # A prepared batch's alerts-only expiries (a lapsed DGP, unpaid interest: no action) are one set-based step
    # (`sweep.expiries`); the rest goes through the handlers.
    alerts_only, rest = expiries.partition(deadlines) if prepared else ([], deadlines)
    done = applied = 0
    # A prepared batch flushes once, at its end: the reads its steps still make (who is told, the webhooks'
    # subscribers) need nothing it wrote, and an autoflush before each of them wrote the batch a few rows at a time
    # (bench/deadline_sweep.py: one flush per deadline, half the batch's time).
    with db.session.no_autoflush if prepared else nullcontext(), mail_digest.digested(now), \
            bell_digest.digested(now):
        expired = expiries.Expiries.apply(alerts_only, now) if alerts_only else None
        ctx = SweepContext.prepare(rest, told=expired) if prepared and rest else None
        for deadline in deadlines:
            if expired is not None and deadline.id in expired.outcome:
                # Its alerts told at its turn: the digests list them in the batch's order, as one by one.
                outcome = expired.tell(deadline)
                if outcome is not None:  # None: its piece (or payment) held by a user, the next sweep
                    done, applied = done + 1, applied + outcome
                continue
            handler = HANDLERS.get(deadline.kind)
            if handler is None:  # a kind of a later version: leave it for the code that knows it
                log.warning("deadline %s of unknown kind %r left open", deadline.id, deadline.kind)
                continue
            try:
                if handler(deadline, min(deadline.due_at, now), now, ctx):
                    applied += 1
            except DeadlineBusy:  # a user holds the piece: the next sweep applies it
                continue
            deadline.done_at = now
            done += 1
        if ctx is not None:
            ctx.finish()
    db.session.flush()
    return done, applied


def sweep(now: datetime, limit: int | None = None, *, batch_size: int = BATCH_SIZE,
          prepared: bool = True) -> dict[str, int]:
    """Apply the due deadlines in this transaction; returns {"done": n, "applied": m} (applied: those that changed
    something). Flushes, never commits (`in_batches` lets the caller commit each batch, as the clock does).
    `remind` sends the reminders before the coming ones (the job and the command call both)."""
    done = applied = 0
    for batch_done, batch_applied in in_batches(now, limit, batch_size=batch_size, prepared=prepared):
        done, applied = done + batch_done, applied + batch_applied
    return {"done": done, "applied": applied}


def horizon_now() -> int | None:
    """The last deadline's id: a sweep takes none created after it started (`due`'s `horizon`)."""
    with system_access("deadline sweep: every tenant's clocks"):
        return db.session.scalar(select(func.max(Deadline.id)))


def in_batches(now: datetime, limit: int | None = None, *, batch_size: int = BATCH_SIZE,
               prepared: bool = True, share: tuple[int, int] | None = None,
               horizon: int | None = None) -> Iterator[tuple[int, int]]:
    """Apply the deadlines due at `now` (at most `limit` taken) batch by batch, oldest first; yields (done, applied)
    after each batch is flushed, where the caller may commit: the batch's pieces are then free again, and what it
    did stays should the rest fail. A batch takes the next deadlines after the previous one's (its busy ones, whose
    piece a user held, are left for the next sweep), none created since the sweep started (`horizon`: the id the
    sweep started at, given by the caller when several sweepers share one sweep, `jobs.sweepers`). `share` (k, n):
    the k-th of n concurrent sweepers' share of the deadlines (`share_of`)."""
    if horizon is None:
        horizon = horizon_now()
    after = None
    taken = 0
    while limit is None or taken < limit:
        with system_access("deadline sweep: every tenant's clocks"):
            batch = due(now, batch_size if limit is None else min(batch_size, limit - taken), after=after,
                        horizon=horizon, share=share)
            if not batch:
                return
            taken += len(batch)
            after = (batch[-1].due_at, batch[-1].id)
            # The collector held off for the batch (`sweep.collector` says why), not across the caller's commit:
            # what the batch left is collected after it, on the collector's own schedule.
            with collector.held_off():
                result = apply_due(batch, now, prepared=prepared)
        yield result


def remind(now: datetime, limit: int | None = None) -> int:
    """Send the reminders due before the open clocks of the pieces (once per reminder); returns how many clocks
    reminded. Flushes, never commits."""
    with system_access("deadline reminders: every tenant's clocks"):
        return send_reminders(now, limit)
