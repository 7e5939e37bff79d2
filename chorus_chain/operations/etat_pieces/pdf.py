"""The état's PDF as the main file of its A15 (issue 12): issuing the état queues the job (an outbox row, in the
issue's own transaction); the documents worker renders the état from its frozen result — the same PDF the état page
offers — stores it once by content and attaches it to the A15 as its main document. Safe to run twice: an A15 that
already has its main file is left alone. Rendered off the request path (a PDF takes a second or more), and durable:
the outbox row is the truth until the file is there.

The PDF shows the frozen result, whatever happened to the état since (returned by the MOA, it stays the document
the MOE sent)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Marche, OutboxJob, PieceFile
from chorus_chain.models.money import EtatAcompte

JOB = "store_etat_pdf"


def queue_a15_pdf(etat: EtatAcompte) -> None:
    db.session.add(OutboxJob(job=JOB, payload={"etat_id": etat.id}))


def filename(etat: EtatAcompte) -> str:
    if etat.final:
        return f"décompte-général-{etat.label.replace(' ', '-')}.pdf"
    return f"état-acompte-{etat.label.replace(' ', '-')}.pdf"


def document_piece_id(etat: EtatAcompte) -> int | None:
    """The piece whose main file is the état's PDF: its A15, or, for the final état, the MOE's projet de décompte
    général (A17, `operations.decompte_general.pdg`), which carries the décompte général's PDF."""
    if not etat.final:
        return etat.piece_id
    from chorus_chain.models.decompte_general import DecompteGeneral

    return db.session.scalar(select(DecompteGeneral.pdg_piece_id).where(DecompteGeneral.etat_acompte_id == etat.id))


def store_a15_pdf(etat_id: int, now: datetime) -> bool:
    """Render and attach the PDF; False when there is nothing to do (no A15, or its main file already stored)."""
    from chorus_chain.documents.etat_doc import etat_acompte_pdf
    from chorus_chain.operations import documents

    etat = db.session.get(EtatAcompte, etat_id)
    piece_id = document_piece_id(etat) if etat is not None else None
    if piece_id is None or not etat.result:
        return False
    if db.session.scalar(select(PieceFile.id).where(PieceFile.piece_id == piece_id,
                                                    PieceFile.role == "main")) is not None:
        return False
    content = etat_acompte_pdf(documents.etat_doc(etat, db.session.get(Marche, etat.marche_id), frozen=True))
    sha = documents.store_content(content, now)
    db.session.add(PieceFile(piece_id=piece_id, role="main", name=filename(etat), content_type="application/pdf",
                             size=len(content), sha256=sha, added_by_id=etat.issued_by_id, added_at=now))
    db.session.flush()
    return True
