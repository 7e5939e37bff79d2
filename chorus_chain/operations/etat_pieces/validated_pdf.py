"""The validated état's PDF as the main file of its A19 (issue 12): the MOA's validation queues the job (an outbox
row, in the validation's own transaction); the documents worker renders the état d'acompte validé
(`documents.etat_valide_doc`: the frozen figures under the MOA's validation, dated), stores it once by content and
attaches it to the A19 as its main document. Like the A15's (`etat_pieces.pdf`): off the request path, durable (the
outbox row is the truth until the file is there), safe to run twice (an A19 that has its main file is left alone).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from chorus_chain import formatting
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty, OutboxJob, Piece, PieceFile, Structure
from chorus_chain.models.money import EtatAcompte

JOB = "store_etat_valide_pdf"


def queue_a19_pdf(etat: EtatAcompte) -> None:
    db.session.add(OutboxJob(job=JOB, payload={"etat_id": etat.id}))


def filename(etat: EtatAcompte) -> str:
    return f"état-acompte-validé-{etat.label.replace(' ', '-')}.pdf"


def validated_doc(etat: EtatAcompte, marche: Marche):
    """The document of the validated état: the état's own (its frozen result, its signature blocks, the MOA's dated
    since it validated), headed by the MOA, with the A19's and the A15's numbers."""
    from chorus_chain.documents import from_pieces
    from chorus_chain.documents.etat_valide_doc import EtatValideDoc
    from chorus_chain.operations import documents

    moa = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche.id, MarcheParty.role == "moa",
                                                      MarcheParty.status == "confirmed"))
    validator = from_pieces.party_of(db.session.get(Structure, moa.structure_id) if moa and moa.structure_id
                                     else None, name=moa.name if moa else None, siret=moa.siret if moa else None)
    a19 = db.session.get(Piece, etat.validated_piece_id)
    a15 = db.session.get(Piece, etat.piece_id) if etat.piece_id else None
    return EtatValideDoc(etat=documents.etat_doc(etat, marche, frozen=True), validator=validator,
                         validated_on=etat.validated_at.astimezone(formatting.PARIS).date(),
                         piece_number=a19.number, etat_piece_number=a15.number if a15 else None)


def store_a19_pdf(etat_id: int, now: datetime) -> bool:
    """Render and attach the PDF; False when there is nothing to do (not validated, no A19, a décompte général — its
    A8 is the holder's signed piece —, or the A19's main file already stored)."""
    from chorus_chain.documents.etat_valide_doc import etat_valide_pdf
    from chorus_chain.operations import documents

    etat = db.session.get(EtatAcompte, etat_id)
    if etat is None or etat.final or etat.validated_at is None or etat.validated_piece_id is None \
            or not etat.result:
        return False
    piece_id = etat.validated_piece_id
    if db.session.scalar(select(PieceFile.id).where(PieceFile.piece_id == piece_id,
                                                    PieceFile.role == "main")) is not None:
        return False
    content = etat_valide_pdf(validated_doc(etat, db.session.get(Marche, etat.marche_id)))
    sha = documents.store_content(content, now)
    db.session.add(PieceFile(piece_id=piece_id, role="main", name=filename(etat), content_type="application/pdf",
                             size=len(content), sha256=sha, added_by_id=etat.validated_by_id, added_at=now))
    db.session.flush()
    return True
