"""What the final état's page shows of its décompte général, for the structure reading it (through the one access
predicate: a piece this structure does not see is not named), and what it may do now.

The public side (MOA, MOE, paying office) and the holder read the whole — the pieces, the signature, the reservations
and the sums claimed; a co-traitant or a sous-traitant reads where the décompte général stands and, once signed, its
own line (`etat_pieces.reading.lines_for`), never the holder's mémoire nor a neighbour's line.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Piece, PieceFile
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import etats_acompte as etats_ops
from chorus_chain.operations.decompte_general import rows
from chorus_chain.operations.decompte_general.signature import SIGNATURE_LABELS
from chorus_chain.operations.marches import MarcheAccess

DG_CADRES = ("A17", "A20", "A8")  # the décompte général's pieces: the MOE's PDG, the MOA's DG, the holder's DGD

TACIT_CADRES = ("A22", "A23")  # the titulaire's tacit procedure: its PDG, then the tacit DGD

STATES = {
    "to_issue": "L'état final est à émettre par le maître d'œuvre.",
    "pdg_to_establish": "L'état final est émis : le maître d'œuvre établit le projet de décompte général.",
    "at_moa": "Le projet de décompte général est chez le maître d'ouvrage, qui en fait son décompte général.",
    "replaced_by_a22": "Le titulaire a engagé la procédure tacite : son projet de décompte général (A22) remplace "
                       "celui du maître d'œuvre.",
    "to_sign": "Le décompte général est notifié au titulaire, qui le signe, avec ou sans réserves.",
    "late": "Le délai de signature est dépassé : le décompte général est réputé accepté par le titulaire.",
    "signed": "Le décompte général est signé : c'est le décompte général et définitif, transmis au service "
              "financier.",
    "tacit": "Le décompte général est réputé accepté (délai de signature dépassé).",
}


@dataclass
class DgView:
    row: DecompteGeneral | None
    state: str
    pdg: Piece | None
    dg: Piece | None
    dgd: Piece | None
    memoire: PieceFile | None
    whole: bool  # reads the signature's reservations and the sums claimed
    can_pdg: bool
    can_dg: bool
    can_sign: bool
    countdown: str | None
    overdue: bool
    tacit_pieces: list[Piece]  # the titulaire's A22 / A23 of the tacit procedure, as this structure sees them

    @property
    def text(self) -> str:
        return STATES[self.state]

    @property
    def signature_label(self) -> str | None:
        return SIGNATURE_LABELS.get(self.row.signature) if self.row is not None and self.row.signature else None


def _state(etat: EtatAcompte, row: DecompteGeneral | None, pdg: Piece | None, dg: Piece | None,
           now: datetime) -> str:
    if etat.status != "issued":
        return "to_issue"
    if row is None:
        return "pdg_to_establish"
    if row.signature == "tacite":
        return "tacit"
    if row.signature is not None:
        return "signed"
    if row.dg_piece_id is None:
        return "replaced_by_a22" if pdg is not None and pdg.status == T.Status.REMPLACEE_PAR_A22.value else "at_moa"
    if now >= row.signature_due_at or (dg is not None and dg.status != T.Status.A_ASSOCIER_FOURNISSEUR.value):
        return "late"
    return "to_sign"


def view_for(access: MarcheAccess, etat: EtatAcompte, *, can_change: bool, now: datetime) -> DgView | None:
    """None for a monthly état. `can_change`: the member holds « Factures de travaux – modification »."""
    if not etat.final:
        return None
    row = rows.row_of(etat.id)
    ids = [i for i in ((row.pdg_piece_id, row.dg_piece_id, row.dgd_piece_id) if row else ()) if i]
    # Read under the tenant: a piece this structure does not see comes back as nothing.
    pieces = {p.id: p for p in db.session.scalars(select(Piece).where(Piece.id.in_(ids)))} if ids else {}
    pdg = pieces.get(row.pdg_piece_id) if row else None
    dg = pieces.get(row.dg_piece_id) if row and row.dg_piece_id else None
    dgd = pieces.get(row.dgd_piece_id) if row and row.dgd_piece_id else None
    state = _state(etat, row, pdg, dg, now)
    whole = etats_ops.sees_whole(access)
    memoire = db.session.get(PieceFile, row.memoire_file_id) if row and row.memoire_file_id and whole else None
    roles = access.own_roles()
    countdown = None
    if row is not None and row.signature_due_at is not None and state in ("to_sign", "late"):
        countdown = clocks.countdown_fr(clocks.DG_SIGNATURE, row.signature_due_at, now)
    # The tacit branch (A22 → 10 days → A23) runs on its own pieces: the page links them (read under the tenant).
    tacit = list(db.session.scalars(select(Piece).where(Piece.marche_id == etat.marche_id,
                                                        Piece.cadre.in_(TACIT_CADRES),
                                                        Piece.status != T.Status.BROUILLON.value)
                                    .order_by(Piece.id))) if etat.status == "issued" else []
    return DgView(
        row=row, state=state, pdg=pdg, dg=dg, dgd=dgd, memoire=memoire, whole=whole, tacit_pieces=tacit,
        can_pdg=can_change and state == "pdg_to_establish" and Role.MOE in roles,
        can_dg=can_change and state == "at_moa" and Role.MOA in roles,
        can_sign=can_change and state == "to_sign" and rows.is_holder(access),
        countdown=countdown, overdue=state == "late")


def etats_of_pieces(piece_ids: Iterable[int]) -> dict[int, EtatAcompte]:
    """piece id → the final état whose A17, A20 or A8 it is (the work lists link to its page). Two queries."""
    ids = list(piece_ids)
    if not ids:
        return {}
    found_rows = list(db.session.scalars(select(DecompteGeneral).where(or_(
        DecompteGeneral.pdg_piece_id.in_(ids), DecompteGeneral.dg_piece_id.in_(ids),
        DecompteGeneral.dgd_piece_id.in_(ids)))))
    if not found_rows:
        return {}
    etats = {e.id: e for e in db.session.scalars(select(EtatAcompte).where(
        EtatAcompte.id.in_([r.etat_acompte_id for r in found_rows])))}
    found = {}
    for row in found_rows:
        for piece_id in (row.pdg_piece_id, row.dg_piece_id, row.dgd_piece_id):
            if piece_id in ids:
                found[piece_id] = etats[row.etat_acompte_id]
    return found


def final_etat_of(marche_id: int) -> EtatAcompte | None:
    """The marché's issued final état (the décompte général's page), if any."""
    return db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche_id,
                                                       EtatAcompte.final.is_(True), EtatAcompte.status == "issued"))
