"""The pieces' clocks in the deadline sweep (`operations.deadlines`): what an expired clock does, and the reminders
before each one.

An expired clock applies its system action (domain.deadlines.expiry_action: tacit validation after 15 days, MOE
late, tacit DG acceptance, tacit DGD), recorded as done by the system with the deadline as its reason, and alerts
whom the clock names (`alert_on_expiry`). A clock whose action the table no longer allows (code "not_allowed": the
piece was answered in time) is simply done. A piece another transaction holds is left for the next sweep
(`DeadlineBusy`): the sweep never waits on a user's lock, so it never deadlocks with one.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import select

from chorus_chain import formatting
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Piece
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.decompte_general import tacit as dg_tacit
from chorus_chain.operations.interets import clock as interets_clock
from chorus_chain.operations.pieces_actions import system_act

PIECE_KINDS = tuple(kind for kind, spec in clocks.DEADLINES.items() if spec.subject == clocks.SUBJECT_PIECE)
# Refusals that mean "the piece was processed before the clock ran out": the clock is done, nothing happens.
MOOT_CODES = frozenset({"not_allowed", "final"})


class DeadlineBusy(Exception):
    """The deadline's piece is locked by another transaction: leave the deadline open for the next sweep."""


def apply_piece_deadline(deadline: Deadline, at: datetime, applied_at: datetime, ctx=None) -> bool:
    """The sweep's handler for a piece's clock. The transition is recorded at `at`, the instant the deadline fell due
    (its event says in `extra.applied_at` when the sweep applied it) and the clocks it opens start there; the alerts go
    out now. Returns whether something happened (a transition, or alerts). `ctx` (a `sweep.SweepContext`): the
    batch's pieces locked and their reads made at once; the same steps, one deadline as many."""
    piece = ctx.locked(deadline.piece_id) if ctx is not None else \
        records.load_for_update(deadline.piece_id, skip_locked=True)
    if piece is None:
        raise DeadlineBusy(deadline.id)
    spec = clocks.DEADLINES[deadline.kind]
    action = clocks.expiry_action(deadline.kind)
    due_text = formatting.instant(deadline.due_at)  # the reason and the alert both say it
    if action is not None:
        reason = f"Échéance « {spec.label} » du {due_text} dépassée"
        try:
            system_act(piece, action, reason=reason, now=at, applied_at=applied_at, ctx=ctx)
        except T.TransitionRefused as refused:
            if refused.code in MOOT_CODES:
                return False
            raise
        if deadline.kind == clocks.DG_SIGNATURE:
            if ctx is not None:
                ctx.finish()  # the décompte général's own steps read the piece's state back: write the batch so far
            dg_tacit.accept_tacitly(piece, at)  # the solde of a décompte général becomes payable
    elif deadline.kind == clocks.PAIEMENT and not payment_awaited(piece):
        return False  # paid (or stopped) in time
    elif deadline.kind == clocks.INTERETS and interets_clock.is_paid(deadline):
        return False  # the interest was paid in time
    alert_expiry(piece, deadline.kind, due_text, applied_at, ctx)
    return True


def payment_awaited(piece) -> bool:
    """The piece is in a status its délai global de paiement runs in (its route's and cadre's): a lapsed DGP is
    late; otherwise it was paid (or stopped) in time and its expiry is moot."""
    return piece.status in _running_values(clocks.PAIEMENT, piece.route_steps, piece.cadre)


@lru_cache(maxsize=1024)
def _running_values(kind: str, route_steps: tuple[str, ...], cadre: str | None) -> frozenset[str]:
    return frozenset(status.value for status in clocks.running_in(kind, route_steps, cadre=cadre))


def alert_expiry(piece, kind: str, due_text: str, applied_at: datetime, ctx=None) -> None:
    """Alert whom an expired clock of `kind` names (`alert_on_expiry`) that it ran out at `due_text` (its due
    instant, formatted). `piece`: the piece or a plain row with what the alert reads of it (id, number, status,
    route, cadre, works, emitter_structure_id, marche_id: `sweep.expiries`); `ctx` a batch's context answering
    `records.notify_actors`' reads."""
    spec = clocks.DEADLINES[kind]
    text = (f"{spec.label} : l'échéance du {due_text} est dépassée pour la pièce "
            f"n° {piece.number}. {spec.expiry_effect}")
    records.notify_actors(piece, spec.alert_on_expiry, "deadline_expired", text,
                          subject=f"Échéance dépassée : pièce n° {piece.number}", now=applied_at, ctx=ctx)


def send_reminders(now: datetime, limit: int | None = None) -> int:
    """Remind whom each open clock of a piece names, once per reminder (domain.deadlines.reminders_due): when a
    sweep ran late and several are due, one message (the most urgent) and all of them recorded as sent. Rows locked
    with SKIP LOCKED on PostgreSQL, so two sweepers never remind twice. Returns how many clocks reminded."""
    horizon = max(max(spec.reminders, default=0) for spec in clocks.DEADLINES.values())
    query = (select(Deadline).where(Deadline.piece_id.is_not(None), Deadline.done_at.is_(None),
                                    Deadline.due_at > now, Deadline.due_at <= now + horizon * clocks.DAY)
             .order_by(Deadline.due_at, Deadline.id))
    if limit:
        query = query.limit(limit)
    if records.is_postgresql():
        query = query.with_for_update(skip_locked=True)
    reminded = 0
    for deadline in db.session.scalars(query).all():
        sent = list(deadline.reminders_sent or [])
        due = clocks.reminders_due(deadline.kind, deadline.due_at, now, sent=sent, start=deadline.created_at)
        if not due:
            continue
        piece = db.session.get(Piece, deadline.piece_id)
        spec = clocks.DEADLINES[deadline.kind]
        countdown = clocks.countdown_fr(deadline.kind, deadline.due_at, now)
        text = (f"Pièce n° {piece.number} : {countdown} ({spec.label}, échéance le "
                f"{formatting.instant(deadline.due_at)}). {spec.expiry_effect}")
        records.notify_actors(piece, spec.remind, "deadline_reminder", text,
                              subject=f"Rappel : pièce n° {piece.number}, {countdown}", now=now)
        deadline.reminders_sent = sorted(set(sent) | set(due))
        reminded += 1
    db.session.flush()
    return reminded
