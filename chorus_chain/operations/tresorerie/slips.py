"""The alert « an expected receipt slips by more than a week » (issue 19), as a notification, once a day.

What the person who does the books needs told: the day the page gave for money coming in has moved later by more
than a week — the maître d'œuvre sits on the projet, the paying office is slower than it was. Not every day's drift
of a day: each amount expected in keeps a reference day (`ExpectedReceipt`: the day first forecast, or the day last
announced; an earlier day replaces it, so the reference is the best the structure was told). When the forecast
passes the reference by more than `periods.SLIP_DAYS`, the structure's members with the right on the amount's domain
are told, in the bell and by e-mail as each prefers, and the reference becomes the new day: a slip is announced
once, a further slip of more than a week again.

Durable: the reference and the notification (its outbox e-mail) are written in one transaction, the sweep's
(`jobs.clock.tick` commits); a tick that fails writes neither, the next one does both. Two sweepers never announce the
same slip twice: the day's run is claimed by locking its `ClockState` row, and whoever comes second finds the day
done. Each structure's forecast is read as the structure itself (`access.tenant`, `reading.forecast_for`): a
structure is told only of what its own page shows.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.formatting import money as format_eur
from chorus_chain.graph import Role
from chorus_chain.models import ClockState, MarcheParty, Structure
from chorus_chain.models.tresorerie import ExpectedReceipt
from chorus_chain.operations.marches import today as paris_day
from chorus_chain.operations.notifications import notify
from chorus_chain.operations.tresorerie import reading
from chorus_chain.operations.tresorerie.forecast import say
from chorus_chain.operations.tresorerie.periods import slipped

log = logging.getLogger(__name__)

CLOCK = "tresorerie_slips"  # the ClockState row of the daily run
KIND = "receipt_slip"
WATCHED_ROLES = (Role.TITULAIRE, Role.MANDATAIRE, Role.COTRAITANT, Role.SOUS_TRAITANT)


def watch_daily(now: datetime) -> int | None:
    """Once a Paris day: watch every company that may be owed money. Returns how many slips were announced, None
    when today's run was done already. Flushes, never commits. Reads across tenants, and says so."""
    today = paris_day(now)
    with access.system_access("trésorerie: the daily watch of every company's expected receipts"):
        state = db.session.get(ClockState, CLOCK, with_for_update=True)
        if state is not None and paris_day(state.swept_to) >= today:
            return None
        if state is None:
            db.session.add(ClockState(name=CLOCK, swept_to=now, ran_at=now))
        else:
            state.swept_to, state.ran_at = now, now
        db.session.flush()
        companies = db.session.execute(
            select(Structure.id, Structure.siret).where(Structure.id.in_(
                select(MarcheParty.structure_id).where(MarcheParty.status == "confirmed",
                                                       MarcheParty.role.in_(WATCHED_ROLES))))
            .order_by(Structure.id)).all()
    announced = 0
    for structure_id, siret in companies:
        with access.tenant(structure_id):
            announced += watch(db.session.get(Structure, structure_id), now)
    if announced:
        log.info("trésorerie: %d receipt slip(s) announced", announced)
    return announced


def watch(structure: Structure, now: datetime) -> int:
    """Compare the structure's receipts forecast today with their references; announce the slips of more than a
    week, keep the references up to date, forget the amounts no longer expected. Returns the slips announced."""
    today = paris_day(now)
    receipts = {flow.key: flow for flow in reading.forecast_for(structure, today).flows if flow.incoming and flow.key}
    known = {row.flow_key: row for row in db.session.scalars(
        select(ExpectedReceipt).where(ExpectedReceipt.structure_id == structure.id).with_for_update())}
    announced = 0
    for key, flow in receipts.items():
        row = known.get(key)
        if row is None:
            db.session.add(ExpectedReceipt(structure_id=structure.id, flow_key=key, label=flow.label[:200],
                                           expected_on=flow.expected))
        elif slipped(row.expected_on, flow.expected):
            text = (f"Marché {flow.marche_reference} : {flow.label} ({format_eur(flow.amount)}, "
                    f"{flow.counterpart}) est maintenant {say(flow.expectation, today)}, au lieu du "
                    f"{row.expected_on:%d/%m/%Y} annoncé ({(flow.expected - row.expected_on).days} jours plus "
                    f"tard). Où en est l'argent : {flow.stage_now}.")
            notify(structure.id, KIND, text, now=now, domain=flow.domain, piece_id=flow.piece_id,
                   path=f"/s/{structure.siret}/tresorerie", url_label="La trésorerie",
                   subject=f"Paiement attendu repoussé : {flow.label}")
            row.expected_on, row.notified_at, row.label = flow.expected, now, flow.label[:200]
            announced += 1
        elif flow.expected < row.expected_on:
            row.expected_on = flow.expected  # sooner than said: the new reference a slip is measured from
    gone = [key for key in known if key not in receipts]
    if gone:
        db.session.execute(delete(ExpectedReceipt).where(ExpectedReceipt.structure_id == structure.id,
                                                         ExpectedReceipt.flow_key.in_(gone)))
    db.session.flush()
    return announced
