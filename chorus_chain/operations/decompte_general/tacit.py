"""The titulaire kept silent for 30 days after the notification of the décompte général: it is deemed to accept it,
and the DG becomes the décompte général et définitif (CCAG Travaux 2021 art. 12.4; `domain.deadlines` DG_SIGNATURE).

The sweep applies the tacit acceptance to the A20 at the clock's due instant (`operations.pieces_deadlines`), then
calls `accept_tacitly`: the décompte général is recorded as accepted « tacite » at that instant, and the solde becomes
payable — the final état's lines are written (the engine's solde per payee), their délai de paiement starting on the
day the DG became definitive. No A8 is deposited: nobody signed one; the paying office pays the lines from the final
état's page. System work (no user): it runs under the sweep's system access.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Marche, Piece
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.money import Decompte, EtatAcompte
from chorus_chain.operations.etat_pieces import lines as line_ops
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.marches import record, today


def accept_tacitly(dg_piece: Piece, at: datetime) -> DecompteGeneral | None:
    """After the sweep's tacit acceptance of `dg_piece` (an A20) at `at`; None when it is no décompte général's A20
    (a DG deposited by hand) or when it was signed already."""
    row = db.session.scalar(select(DecompteGeneral).where(DecompteGeneral.dg_piece_id == dg_piece.id)
                            .with_for_update().execution_options(populate_existing=True))
    if row is None or row.signature is not None:
        return None
    etat = db.session.get(EtatAcompte, row.etat_acompte_id, with_for_update=True, populate_existing=True)
    marche = db.session.get(Marche, row.marche_id)
    etat.validated_at = at
    pdms = piece_ops.linked_pdms(etat)
    party_of = {d.piece_id: d.party_id for d in db.session.scalars(
        select(Decompte).where(Decompte.piece_id.in_([p.id for p, _ in pdms])))} if pdms else {}
    line_ops.build_lines(marche, etat, [(p, party_of.get(p.id, p.emitter_party_id)) for p, _ in pdms], now=at,
                         started_on=today(at))
    row.signature = "tacite"
    row.signed_at = at
    db.session.flush()
    record(marche, "dg_accepted_tacitly", account=None, structure=None, etat=etat.label,
           solde=etat.result["marche"]["amount_due"]["this"])
    return row
