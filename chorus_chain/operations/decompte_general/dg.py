"""The MOA turns the MOE's projet de décompte général (A17) into its décompte général (A20) and notifies it to the
titulaire, who then has 30 days to sign it, with or without reservations (CCAG Travaux 2021 art. 12.4; CHORUS.md §5
"Titulaire signs the DG: 30 days" [assumed: 45 under CCAG 2009]).

In one click: the A17 is taken and closed (ESTABLISH_DG: the A20 takes over); the projets de décompte finals it
carries are validated on the MOA's side and wait at the paying office, inside the décompte général (they are paid
through its lines, never alone); the A20 is deposited in the MOA's name with the same frozen figures, signed by the
MOA (its own step) and addressed to the titulaire — it waits for the signature (`A_ASSOCIER_FOURNISSEUR`), and the
clock DG_SIGNATURE opens at that instant: `signature_due_at` is its due instant.

Refused when the titulaire already engaged the tacit procedure (its A22 replaced the A17: the MOA then has 10 days
to notify a DG on the A22's page, else the tacit DGD A23 follows).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Structure
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.decompte_general import rows
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.marches import MarcheAccess, record

A = T.Action
S = T.Status
AT_MOA = (S.A_ASSOCIER_MOA.value, S.PRISE_EN_COMPTE_MOA.value)


def _at_moa(status: str, then: str) -> list[str]:
    return ([A.MOA_TAKE] if status == S.A_ASSOCIER_MOA.value else []) + [then]


def establish_dg(access: MarcheAccess, etat_id: Any, account: Account, structure: Structure, *,
                 now: datetime) -> DecompteGeneral:
    if Role.MOA not in access.own_roles():
        raise OperationError("Seul le maître d'ouvrage du marché établit et notifie le décompte général.")
    marche, etat = rows.lock_final_etat(access, etat_id)
    row = rows.row_of(etat.id, lock=True)
    if row is None:
        raise OperationError("Le maître d'œuvre n'a pas encore établi le projet de décompte général : il n'y a "
                             "rien à transformer en décompte général.")
    if row.dg_piece_id is not None:
        raise OperationError("Le décompte général est déjà établi et notifié au titulaire. Rechargez la page.")
    pdg = records.load_for_update(row.pdg_piece_id)
    if pdg.status == S.REMPLACEE_PAR_A22.value:
        raise OperationError("Le titulaire a engagé la procédure tacite : son projet de décompte général (A22) a "
                             "remplacé celui du maître d'œuvre. Notifiez votre décompte général dans les 10 jours "
                             "depuis la pièce A22 ; sans cela, le décompte général et définitif est tacite (A23).")
    if pdg.status not in AT_MOA:
        raise OperationError(f"Le projet de décompte général n° {pdg.number} n'est plus chez le maître d'ouvrage. "
                             "Rechargez la page.")
    extra = {"etat": {"id": etat.id, "number": etat.label, "final": True}}
    piece_ops.move(pdg, _at_moa(pdg.status, A.ESTABLISH_DG), T.STEP_MOA, account=account, structure=structure,
                   now=now, extra=extra, announce=False)
    for piece, _link in piece_ops.linked_pdms(etat, lock=True):
        if piece.status in AT_MOA:
            piece_ops.move(piece, _at_moa(piece.status, A.MOA_VALIDATE), T.STEP_MOA, account=account,
                           structure=structure, now=now, extra=extra, announce=False)
    moa = piece_ops.party_row(marche, Role.MOA)
    holder = rows.holder_row(marche)
    dg = piece_ops.deposit_system_piece(
        marche, moa, "A20", piece_ops.etat_number(etat, "DG"), result=etat.result, account=account,
        structure=structure, now=now, previous_piece_id=pdg.id, recipient=holder, extra=extra)
    # The MOA signs its own décompte général (its step): it then waits for the titulaire's signature, and the
    # 30 days of DG_SIGNATURE start now.
    piece_ops.move(dg, _at_moa(dg.status, A.MOA_VALIDATE), T.STEP_MOA, account=account, structure=structure,
                   now=now, extra=extra)
    row.dg_piece_id = dg.id
    row.dg_notified_at = now
    row.dg_by_id = account.id
    row.signature_due_at = clocks.due_at(clocks.DG_SIGNATURE, now)
    db.session.flush()
    record(marche, "dg_notified", account=account, structure=structure, number=dg.number, etat=etat.label,
           signature_due_at=row.signature_due_at.isoformat())
    return row
