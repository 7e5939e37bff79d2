"""The MOE establishes the projet de décompte général (A17) from the issued final état.

The final état froze the figures: the projets de décompte finals (A7 of the titulaire or mandataire, A14 of the
co-traitants) as the MOE admitted them, and the engine's décompte général (solde per payee, reconciliation, retenue
to release). The A17 carries them to the MOA, with the état's PDF as its main file (rendered from the frozen result
by the documents worker, as the A15's: `etat_pieces.pdf`). One A17 per final état; none before the final état is issued.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chorus_chain.graph import Role
from chorus_chain.extensions import db
from chorus_chain.models import Account, Structure
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as etats_ops
from chorus_chain.operations.decompte_general import rows
from chorus_chain.operations.etat_pieces import pdf
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.marches import MarcheAccess, record


def establish_pdg(access: MarcheAccess, etat_id: Any, account: Account, structure: Structure, *,
                  now: datetime) -> DecompteGeneral:
    if not etats_ops.is_moe(access):
        raise OperationError("Seul le maître d'œuvre du marché établit le projet de décompte général.")
    marche, etat = rows.lock_final_etat(access, etat_id)
    if etat.status != "issued" or not etat.result:
        raise OperationError(f"Émettez d'abord l'état final n° {etat.label} : le projet de décompte général reprend "
                             "ses montants, figés à l'émission à partir des projets de décompte finals admis.")
    existing = rows.row_of(etat.id, lock=True)
    if existing is not None:
        raise OperationError("Le projet de décompte général de ce marché est déjà établi : il est chez le maître "
                             "d'ouvrage. Rechargez la page.")
    moe = piece_ops.party_row(marche, Role.MOE)
    carried = piece_ops.linked_pdms(etat)
    # The dossier follows the holder's projet de décompte final (A7): A7 → A17 → A20 → A8.
    first = next((p for p, _ in carried if p.cadre == "A7"), carried[0][0] if carried else None)
    pdg = piece_ops.deposit_system_piece(
        marche, moe, "A17", piece_ops.etat_number(etat, "PDG"), result=etat.result, account=account,
        structure=structure, now=now, previous_piece_id=first.id if first is not None else None,
        extra={"etat": {"id": etat.id, "number": etat.label, "final": True}})
    row = DecompteGeneral(marche_id=marche.id, etat_acompte_id=etat.id, pdg_piece_id=pdg.id, pdg_at=now,
                          pdg_by_id=account.id)
    db.session.add(row)
    db.session.flush()
    pdf.queue_a15_pdf(etat)  # its main file: the décompte général's PDF, rendered by the documents worker
    record(marche, "pdg_established", account=account, structure=structure, number=pdg.number,
           etat=etat.label, solde=etat.result["marche"]["amount_due"]["this"])
    return row
