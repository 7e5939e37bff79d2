"""The release of the retenue de garantie: its date on the marché page, and the reminder the sweep sends once.

The date is `domain.guarantee.guarantee_release` (réception + the marché's guarantee period). When it is reached, the
periodic sweep (`jobs.periodic.sweep_deadlines`, `flask deadlines sweep`) tells the holder of the marché (titulaire,
or the mandataire of a groupement) and the maître d'ouvrage, in-app and by e-mail as each prefers. "Sent" is
remembered by a `MarcheEvent` row of kind RELEASE_NOTIFIED (no deadline row: a marché's réception is a fact of the
marché, entered or corrected at any time, and the sweep derives the date from it each time). A réception date
corrected after the reminder went out does not send it again: the event names the date it was sent for.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from flask import current_app, has_request_context, url_for
from sqlalchemy import exists, select

from chorus_chain.access import system_access
from chorus_chain.domain.guarantee import GuaranteeRelease, guarantee_release
from chorus_chain.extensions import db
from chorus_chain.graph.chain import Role
from chorus_chain.models import Marche, MarcheEvent, MarcheParty, Structure
from chorus_chain.operations.marches import record
from chorus_chain.operations.marches import today as paris_day
from chorus_chain.operations.notifications import notify

log = logging.getLogger(__name__)

RELEASE_NOTIFIED = "retenue.release_notified"
NOTIFIED_ROLES = (Role.TITULAIRE, Role.MANDATAIRE, Role.MOA)
NOTIFICATION_KIND = "deadline_expired"  # "Échéance dépassée": the guarantee period has run out


def release_of(marche: Marche) -> GuaranteeRelease | None:
    """The marché's release date, or None before the réception (or when it withholds nothing)."""
    return guarantee_release(marche.reception_on, marche.guarantee_months, retenue_rate=marche.retenue_rate,
                             replaced_by_guarantee=marche.retenue_replaced_by_guarantee)


def _marche_path(siret: str, marche_id: int) -> str:
    if has_request_context():
        return url_for("marches.show", siret=siret, marche_id=marche_id)
    with current_app.test_request_context("/"):
        return url_for("marches.show", siret=siret, marche_id=marche_id)


def _due_marches(today: date) -> list[Marche]:
    """The marchés received on or before `today` with no reminder sent yet, locked for this transaction on
    PostgreSQL (SKIP LOCKED: two sweepers never take the same marché)."""
    sent = exists().where(MarcheEvent.marche_id == Marche.id, MarcheEvent.kind == RELEASE_NOTIFIED)
    query = select(Marche).where(Marche.reception_on.is_not(None), Marche.reception_on <= today, ~sent) \
        .order_by(Marche.id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(db.session.scalars(query))


def notify_releases(now: datetime) -> int:
    """Tell the holder and the MOA of each marché whose retenue became releasable (once per marché); returns how
    many marchés were announced. Flushes, never commits. Reads across tenants, and says so."""
    today = paris_day(now)
    announced = 0
    with system_access("retenue release reminders: every marché's réception"):
        candidates = [m for m in _due_marches(today) if (r := release_of(m)) is not None and r.due(today)]
        if not candidates:
            return 0
        # Checked again once the rows are locked: a sweeper that committed in between has recorded its event.
        ids = [m.id for m in candidates]
        already = set(db.session.scalars(select(MarcheEvent.marche_id).where(
            MarcheEvent.marche_id.in_(ids), MarcheEvent.kind == RELEASE_NOTIFIED)))
        parties = db.session.execute(
            select(MarcheParty.marche_id, MarcheParty.role, Structure.id, Structure.siret)
            .join(Structure, Structure.id == MarcheParty.structure_id)
            .where(MarcheParty.marche_id.in_(ids), MarcheParty.role.in_(NOTIFIED_ROLES),
                   MarcheParty.status == "confirmed")).all()
        for marche in candidates:
            if marche.id in already:
                continue
            release = release_of(marche)
            text = f"Marché {marche.reference} : {release.sentence(today)}"
            reached = []
            for marche_id, role, structure_id, siret in parties:
                if marche_id != marche.id or structure_id in reached:
                    continue
                reached.append(structure_id)
                notify(structure_id, NOTIFICATION_KIND, text, now=now, domain="travaux",
                       path=_marche_path(siret, marche.id), url_label="Le marché",
                       subject=f"Marché {marche.reference} : retenue de garantie libérable")
            record(marche, RELEASE_NOTIFIED, account=None, structure=None,
                   release_on=release.release_on.isoformat(), reception_on=release.reception_on.isoformat(),
                   replaced_by_guarantee=release.replaced_by_guarantee, structures=reached)
            announced += 1
        db.session.flush()
    if announced:
        log.info("retenue release announced for %d marché(s)", announced)
    return announced
