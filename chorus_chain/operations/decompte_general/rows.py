"""The `DecompteGeneral` row of a final état: read, or locked before a change (two users at once make one change)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as etats_ops
from chorus_chain.operations.marches import MarcheAccess


def row_of(etat_id: int, *, lock: bool = False) -> DecompteGeneral | None:
    query = select(DecompteGeneral).where(DecompteGeneral.etat_acompte_id == etat_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


def lock_final_etat(access: MarcheAccess, etat_id: Any) -> tuple[Marche, EtatAcompte]:
    """The marché's row, then the état's, locked; refused unless it is the marché's final état."""
    marche = db.session.get(Marche, access.marche.id, with_for_update=True, populate_existing=True)
    try:
        etat_id = int(etat_id)
    except (TypeError, ValueError):
        etat_id = None
    etat = etats_ops.get_etat(marche, etat_id, lock=True) if etat_id else None
    if etat is None:
        raise OperationError("Cet état n'existe pas.")
    if not etat.final:
        raise OperationError(f"L'état d'acompte n° {etat.label} est un acompte mensuel : seul l'état final (le "
                             "décompte général du marché) donne un projet de décompte général.")
    return marche, etat


def holder_row(marche: Marche) -> MarcheParty:
    """The holder of the marché (titulaire, or mandataire of a groupement): who signs the décompte général."""
    row = db.session.scalar(select(MarcheParty).where(
        MarcheParty.marche_id == marche.id, MarcheParty.role.in_(Role.HOLDERS), MarcheParty.status == "confirmed")
        .order_by(MarcheParty.id))
    if row is None or row.structure_id is None:
        raise OperationError("Le marché n'a pas de titulaire confirmé : le décompte général ne peut pas lui être "
                             "notifié.")
    return row


def is_holder(access: MarcheAccess) -> bool:
    return bool(access.own_roles() & set(Role.HOLDERS))
