"""Generated documents (issue 6): ask for a PDF, a Factur-X or a dossier ZIP; the rq job `jobs.documents` renders it.

The flow (DESIGN.md §3 rule 8, §6):
1. `request_document` (the request): checks that the asker sees the piece or marché, builds the document's data,
   and computes its `content_key` = SHA-256 of the canonical inputs (kind, template version, the data the document
   shows). A row of the same structure with the same key that is done, queued or running is offered as it is: an
   issued piece's PDF never changes, so it is rendered once. Otherwise a `GeneratedDocument` row (queued) and an
   `OutboxJob` are added; the request commits; the outbox hands the job to rq (or runs it inline).
2. `build_content` (the job, under the same tenant): loads the same rows again, checks the data still gives the same
   key (a piece whose data changed in between is reported, not printed under a stale key), renders, and reports its
   progress through a callback. The job stores the bytes (`store_content`, in `stored_file` by SHA-256) and marks the
   row done — or failed with a French message.

Who sees what: a row belongs to the structure that asked (`structure_id`) and is only ever looked up with it
(`document_for`); a piece is reached through `pieces_queries.piece_for` (the access predicate), a marché through
`marches.access_for` (a confirmed role). The ZIP of a whole marché and an état d'acompte need the full view of the
chain (MOA, MOE, titulaire / mandataire), as the export does; anyone else gets the ZIP of a dossier, made of the
pieces of that dossier it sees.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from chorus_chain import formatting
from chorus_chain.access import sees_bank_details, visible_to
from chorus_chain.documents import from_pieces
from chorus_chain.documents.fingerprint import canonical_document
from chorus_chain.documents.from_pieces import DocumentUnavailable
from chorus_chain.domain import piece_documents, statuses
from chorus_chain.domain.cadres import DECOMPTE_CADRES as PDM_CADRES
from chorus_chain.domain import transitions as T
from chorus_chain.domain.audit_chain import canonical_json
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    Deadline,
    GeneratedDocument,
    InterestRate,
    Marche,
    MarcheParty,
    OutboxJob,
    Piece,
    PieceEvent,
    PieceFile,
    StoredFile,
    Structure,
)
from chorus_chain.models.money import Decompte, EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import interest as interest_ops
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.private_invoices import overdue as private_terms

TEMPLATE_VERSION = 3
"""Bump when a template changes what a document shows: every key changes, so every document is rendered anew."""

PDF = "application/pdf"
ZIP = "application/zip"
PIECE_KINDS = ("piece_pdf", "facturx", "attestation", "interets", "dossier_zip")
MARCHE_KINDS = ("fiche", "etat", "marche_zip")
KIND_LABELS = {
    "piece_pdf": "PDF de la pièce",
    "facturx": "Factur-X",
    "attestation": "Attestation d'acceptation tacite",
    "interets": "Demande d'intérêts moratoires",
    "dossier_zip": "Archive du dossier (ZIP)",
    "fiche": "Fiche d'identité du marché (PDF)",
    "etat": "État d'acompte (PDF)",
    "marche_zip": "Archive du marché (ZIP)",
}
FAILED_MESSAGE = ("La génération du document a échoué. Réessayez ; si l'erreur persiste, signalez-la au support en "
                  "indiquant la pièce concernée.")

Progress = Callable[[int], None]


@dataclass
class Prepared:
    """What one document is made of: its data (`doc`, a dataclass of `documents`) or, for an archive, the rows to
    pack; its name and type; the canonical inputs hashed into `content_key`."""

    kind: str
    filename: str
    content_type: str
    key_data: Any
    doc: Any = None
    label: str = ""
    piece: Piece | None = None
    marche: Marche | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content_key(self) -> str:
        text = canonical_json({"kind": self.kind, "template_version": TEMPLATE_VERSION, "data": self.key_data})
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_name_part(text: str) -> str:
    """A file-name-safe version of a piece number, a label or a reference: letters (accents kept: « décompte », not
    « d-compte »), digits, dot, dash, underscore; anything else a dash. The download carries it as RFC 6266
    `filename*` (UTF-8) with an ASCII fallback (werkzeug's send_file)."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-._")[:80] or "document"


def _doc_key(doc: Any) -> Any:
    return json.loads(canonical_document(doc))


# ---------------------------------------------------------------------------------------------------------------------
# Loading, under the current tenant


def _piece(structure: Structure, piece_id: int) -> Piece:
    from chorus_chain.operations.pieces_queries import piece_for

    piece = piece_for(structure, piece_id)
    if piece is None:
        raise OperationError("Cette pièce n'existe pas ou vous n'y avez pas accès.")
    return piece


def _access(structure: Structure, marche_id: int, *, full: bool) -> marches_ops.MarcheAccess:
    access = marches_ops.access_for(structure, marche_id)
    if access is None or not access.confirmed or (full and not access.full):
        raise OperationError("Ce marché n'existe pas ou vous n'y avez pas accès.")
    return access


def _structure_by_siret(siret: str) -> Structure | None:
    return db.session.scalar(select(Structure).where(Structure.siret == siret))


def _buyer(piece: Piece) -> from_pieces.Party:
    structure = _structure_by_siret(piece.recipient_siret)
    if structure is not None:
        return from_pieces.party_of(structure)
    row = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == piece.marche_id,
                                                      MarcheParty.siret == piece.recipient_siret).limit(1))
    if row is None:
        raise DocumentUnavailable("Le destinataire de la pièce n'est pas une partie connue du marché.")
    return from_pieces.party_of(None, name=row.name, siret=row.siret)


def _structure_party(structure_id: int | None) -> from_pieces.Party:
    structure = db.session.get(Structure, structure_id) if structure_id else None
    if structure is None:
        raise DocumentUnavailable("Une partie de la pièce n'a pas encore de structure sur chorus-chain.")
    return from_pieces.party_of(structure)


def _invoice_doc(piece: Piece, structure: Structure):
    """The invoice as `structure` sees it: the bank details masked as its piece page masks them. A projet de
    décompte is not an invoice: its document is laid out as a décompte (`works_documents.decompte`)."""
    if from_pieces.is_decompte(piece):
        from chorus_chain.operations.works_documents.decompte import decompte_doc

        return decompte_doc(piece, structure, buyer=_buyer(piece), shows_bank=sees_bank_details(piece, structure.id))
    original = None
    if piece.original_piece_id:
        original = db.session.scalar(select(Piece).where(Piece.id == piece.original_piece_id))
    month = db.session.scalar(select(Decompte.month).where(Decompte.piece_id == piece.id))
    return from_pieces.invoice_of(piece, marche=piece.marche, seller=piece.emitter_structure, buyer=_buyer(piece),
                                  bank_account=piece.bank_account, original=original, decompte_month=month,
                                  shows_bank=sees_bank_details(piece, structure.id),
                                  commercial_term=private_terms.term_of(piece) if piece.cadre is None else None)


def _tacit_doc(piece: Piece, on: date):
    event = db.session.scalar(select(PieceEvent).where(PieceEvent.piece_id == piece.id,
                                                       PieceEvent.action == T.Action.TACIT_VALIDATION)
                              .order_by(PieceEvent.seq.desc()).limit(1))
    if event is None:
        raise DocumentUnavailable("Cette pièce n'a pas été validée tacitement : il n'y a pas d'attestation "
                                  "d'acceptation tacite à établir.")
    clock = db.session.scalar(select(Deadline).where(
        Deadline.piece_id == piece.id, Deadline.kind.in_(("validation_1", "validation_2")),
        Deadline.done_at.is_not(None), Deadline.due_at <= event.at).order_by(Deadline.due_at.desc()).limit(1))
    if clock is None:
        raise DocumentUnavailable("Le délai de validation de cette pièce est introuvable : l'attestation ne peut "
                                  "pas en prouver les dates.")
    step = {"validation_1": T.STEP_VALIDATION_1, "validation_2": T.STEP_VALIDATION_2}[clock.kind]
    validator_id = next((s.get("structure_id") for s in piece.route or () if s.get("step") == step), None)
    return from_pieces.tacit_attestation_of(
        piece, marche=piece.marche, emitter=from_pieces.party_of(piece.emitter_structure),
        validator=_structure_party(validator_id), started_at=clock.created_at, due_at=clock.due_at,
        attested_on=on)


def _late_interest(piece: Piece):
    """The interest owed on the piece's payment: H3's `operations.interest.interest_of` when it exists, otherwise
    the money engine on the piece's receipt and payment dates and the ECB rates of the database."""
    if piece.paid_on is None or piece.received_at is None:
        raise DocumentUnavailable("Cette pièce n'est pas encore payée, ou sa date de réception est inconnue : il "
                                  "n'y a pas d'intérêts moratoires à calculer.")
    try:
        from chorus_chain.operations.interest import interest_of  # type: ignore[import-not-found]
    except ImportError:
        interest_of = None
    if interest_of is not None:
        late = interest_of(piece)
        if late is None:
            raise DocumentUnavailable("Les intérêts moratoires ne s'appliquent pas à cette pièce (avoir, facture "
                                      "privée, ou paiement non enregistré).")
        return late
    from chorus_chain.domain.money import MoneyError, RateTable, late_payment_interest
    from chorus_chain.domain.money.interest import RateChange

    rates = RateTable(tuple(RateChange(row.effective_from, row.rate_percent)
                            for row in db.session.scalars(select(InterestRate))))
    try:
        return late_payment_interest(
            rates, receipt=piece.received_at.astimezone(formatting.PARIS).date(), dgp_days=piece.marche.dgp_days,
            payment=piece.paid_on, net_payable_ttc=piece.paid_amount or piece.montant_ttc)
    except MoneyError as error:
        raise DocumentUnavailable(str(error)) from None


def _interest_doc(piece: Piece, on: date):
    late = _late_interest(piece)
    return from_pieces.interest_claim_of(piece, marche=piece.marche,
                                         creditor=from_pieces.party_of(piece.emitter_structure),
                                         debtor=_buyer(piece), late=late, letter_date=on)


def piece_facts(piece: Piece, *, tacit_validated: bool = False, interest_claimable: bool = False,
                viewer_is_emitter: bool = False) -> piece_documents.PieceFacts:
    """The facts `domain.piece_documents` decides on; what is not given is taken as absent (the piece page gives
    what it has already loaded: the events of the timeline, the interest block)."""
    return piece_documents.PieceFacts(draft=piece.is_draft, cadre=piece.cadre, credit_note=piece.piece_type == "AVOIR",
                                      tacit_validated=tacit_validated, interest_claimable=interest_claimable,
                                      viewer_is_emitter=viewer_is_emitter)


def prepare_piece(structure: Structure, piece_id: int, kind: str, on: date) -> Prepared:
    """The data of a piece's document (`kind` in PIECE_KINDS) as `structure` sees it. Raises OperationError when
    the piece is not visible, DocumentUnavailable when this document does not exist for it."""
    piece = _piece(structure, piece_id)
    if piece.is_draft:
        raise DocumentUnavailable("Un brouillon n'a pas de document : envoyez d'abord la pièce.")
    number = file_name_part(piece.number)
    if kind in ("piece_pdf", "facturx"):
        refused = piece_documents.refusal(kind, piece_facts(piece))
        if refused:
            raise DocumentUnavailable(refused)
        doc = _invoice_doc(piece, structure)
        label = from_pieces.piece_label(piece)
        name = f"facturx-{number}.pdf" if kind == "facturx" else f"{file_name_part(label.lower())}-{number}.pdf"
        return Prepared(kind, name, PDF, _doc_key(doc), doc, label, piece, piece.marche)
    if kind == "attestation":
        doc = _tacit_doc(piece, on)
        return Prepared(kind, f"attestation-acceptation-tacite-{number}.pdf", PDF, _doc_key(doc), doc, piece=piece,
                        marche=piece.marche)
    if kind == "interets":
        if piece.emitter_structure_id != structure.id:
            raise DocumentUnavailable(piece_documents.refusal(kind, piece_documents.PieceFacts(
                draft=False, cadre=piece.cadre, credit_note=piece.piece_type == "AVOIR", interest_claimable=True)))
        if piece.cadre in PDM_CADRES and piece.id in interest_ops.carried_by_etat([piece.id]):
            raise DocumentUnavailable(piece_documents.refusal(kind, piece_facts(piece)))
        doc = _interest_doc(piece, on)
        return Prepared(kind, f"intérêts-moratoires-{number}.pdf", PDF, _doc_key(doc), doc, piece=piece,
                        marche=piece.marche)
    if kind == "dossier_zip":
        pieces = _dossier_pieces(structure, piece)
        name = f"dossier-{file_name_part(piece.dossier_number or piece.number)}.zip"
        return Prepared(kind, name, ZIP, _archive_key(pieces, None), piece=piece, marche=piece.marche,
                        extra={"pieces": pieces})
    raise ValueError(f"unknown piece document kind {kind!r}")


def prepare_marche(structure: Structure, marche_id: int, kind: str, on: date, etat_id: int | None = None) -> Prepared:
    """The data of a marché's document (`kind` in MARCHE_KINDS) as `structure` sees it."""
    access = _access(structure, marche_id, full=kind in ("etat", "marche_zip"))
    marche = access.marche
    reference = file_name_part(marche.reference)
    if kind == "fiche":
        return fiche_prepared(structure, access, on)
    if kind == "etat":
        etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.id == etat_id,
                                                           EtatAcompte.marche_id == marche.id))
        if etat is None:
            raise OperationError("Cet état d'acompte n'existe pas.")
        doc = etat_doc(etat, marche)
        prefix = "décompte-général" if doc.final else f"état-acompte-{doc.number:02d}"
        return Prepared(kind, f"{prefix}-{reference}.pdf", PDF, _doc_key(doc), doc, marche=marche,
                        extra={"etat_id": etat.id})
    if kind == "marche_zip":
        pieces = list(db.session.scalars(
            select(Piece).where(Piece.marche_id == marche.id, Piece.status != "BROUILLON",
                                visible_to(structure.id))
            .order_by(Piece.deposited_at, Piece.id)))
        etats = list(db.session.scalars(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id,
                                                                  EtatAcompte.status == "issued")
                                        .order_by(EtatAcompte.number)))
        key = _archive_key(pieces, marche) | {"etats": [e.id for e in etats], "fiche_on": on.isoformat()}
        return Prepared(kind, f"marché-{reference}.zip", ZIP, key, marche=marche,
                        extra={"pieces": pieces, "etats": etats, "access": access})
    raise ValueError(f"unknown marché document kind {kind!r}")


def fiche_prepared(structure: Structure, access: marches_ops.MarcheAccess, on: date) -> Prepared:
    """The fiche d'identité of a marché from its access, already loaded: no query (the marché page computes its key
    to offer a fiche already made today at once)."""
    marche = access.marche
    doc = from_pieces.fiche_of(marche, issuer=from_pieces.party_of(structure), rows=access.visible_rows(),
                               sheet=marches_ops.identity_sheet(access), edited_on=on, amounts=access.amounts)
    return Prepared("fiche", f"fiche-marché-{file_name_part(marche.reference)}.pdf", PDF, _doc_key(doc), doc, marche=marche)


def etat_doc(etat: EtatAcompte, marche: Marche, *, frozen: bool = False):
    """The état's document from its frozen result. `frozen`: also an état returned since (the A15's PDF is the
    document the MOE sent)."""
    from chorus_chain.documents.etat_doc import etat_from_result

    if not etat.result or (etat.status != "issued" and not (frozen and etat.status == "returned")):
        raise DocumentUnavailable("Un état d'acompte en préparation n'a pas de PDF : il faut d'abord l'émettre.")
    moe = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche.id,
                                                      MarcheParty.role == "moe", MarcheParty.status == "confirmed"))
    issuer_structure = db.session.get(Structure, moe.structure_id) if moe and moe.structure_id else None
    if issuer_structure is None:  # a marché without MOE (services): the MOA draws the état
        moa = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche.id,
                                                          MarcheParty.role == "moa"))
        issuer_structure = db.session.get(Structure, moa.structure_id) if moa and moa.structure_id else None
    from chorus_chain.operations.works_documents import etat_lines

    issued_on = etat.issued_at.astimezone(formatting.PARIS).date() if etat.issued_at else None
    issuer = from_pieces.party_of(issuer_structure)
    return etat_from_result(etat.result, marche_reference=marche.reference, marche_objet=marche.objet,
                            issuer=issuer, issued_on=issued_on, pdms=etat_lines.pdms_of_etat(etat),
                            signatories=etat_lines.signatories_of(etat, marche, issuer.name))


def _dossier_pieces(structure: Structure, piece: Piece) -> list[Piece]:
    condition = (Piece.dossier_number == piece.dossier_number) if piece.dossier_number else (Piece.id == piece.id)
    return list(db.session.scalars(
        select(Piece).where(condition, Piece.status != "BROUILLON", visible_to(structure.id))
        .order_by(Piece.deposited_at, Piece.id)))


def _archive_key(pieces: list[Piece], marche: Marche | None) -> dict[str, Any]:
    """What an archive is made of: each piece's last event (its head hash moves with every event) and files, the
    marché's version (its chain) — so a new event, file or party makes a new archive, and nothing else does."""
    ids = [p.id for p in pieces]
    files: dict[int, list[str]] = {}
    for piece_id, sha in db.session.execute(select(PieceFile.piece_id, PieceFile.sha256)
                                            .where(PieceFile.piece_id.in_(ids)).order_by(PieceFile.id)):
        files.setdefault(piece_id, []).append(sha)
    return {
        "marche": None if marche is None else {"id": marche.id, "version": marche.version},
        "pieces": [{"id": p.id, "head": p.head_hash, "status": p.status, "files": files.get(p.id, [])}
                   for p in pieces],
    }


# ---------------------------------------------------------------------------------------------------------------------
# Asking


def request_document(account: Account, structure: Structure, kind: str, *, now: datetime, piece_id: int | None = None,
                     marche_id: int | None = None, etat_id: int | None = None) -> GeneratedDocument:
    """Find or queue the document `kind` of a piece or a marché for `structure`. Right: consultation of the piece
    (its domain) or of the marché ("travaux"), checked by the view. Refusals are OperationError (French)."""
    on = now.astimezone(formatting.PARIS).date()
    try:
        if kind in PIECE_KINDS:
            prepared = prepare_piece(structure, piece_id, kind, on)
        elif kind in MARCHE_KINDS:
            prepared = prepare_marche(structure, marche_id, kind, on, etat_id)
        else:
            raise OperationError("Ce type de document n'existe pas.")
    except DocumentUnavailable as refusal:
        raise OperationError(refusal.message) from None
    key = prepared.content_key
    row = db.session.scalar(select(GeneratedDocument).where(GeneratedDocument.structure_id == structure.id,
                                                            GeneratedDocument.content_key == key)
                            .with_for_update())
    if row is not None and (row.status == "done" or (row.status != "failed" and not is_stalled(row, now))):
        return row  # done: offered at once; queued or running: the page follows its progress
    if row is None:
        row = GeneratedDocument(structure_id=structure.id, content_key=key, kind=kind,
                                piece_id=prepared.piece.id if prepared.piece else None,
                                marche_id=prepared.marche.id if prepared.marche else None,
                                filename=prepared.filename, content_type=prepared.content_type,
                                requested_by_id=account.id, created_at=now, updated_at=now)
        db.session.add(row)
    else:  # asked again after a failure, or while its job gave no sign of life: a new job
        row.requested_by_id = account.id
        row.updated_at = now
    row.status, row.progress, row.error, row.sha256 = "queued", 0, None, None
    db.session.flush()
    db.session.add(OutboxJob(job="render_document",
                             payload={"document_id": row.id, "etat_id": etat_id, "on": on.isoformat()}))
    return row


def is_stalled(row: GeneratedDocument, now: datetime) -> bool:
    """A queued or running row whose job gave no sign of life (its heartbeat, `updated_at`) for
    DOCUMENT_STALL_SECONDS: its worker died or it waits behind a lost hand-over. Asking again starts a new job."""
    from flask import current_app

    stall = timedelta(seconds=int(current_app.config.get("DOCUMENT_STALL_SECONDS", 90)))
    return row.status in ("queued", "running") and row.updated_at < now - stall


def document_for(structure: Structure, document_id: int) -> GeneratedDocument | None:
    """A document row of this structure (None for anyone else's: the view answers 404)."""
    return db.session.scalar(select(GeneratedDocument).where(GeneratedDocument.id == document_id,
                                                             GeneratedDocument.structure_id == structure.id))


def still_visible(structure: Structure, row: GeneratedDocument) -> bool:
    """The asker still sees what the document shows (a role withdrawn since: no more download)."""
    if row.piece_id is not None:
        from chorus_chain.operations.pieces_queries import piece_for

        if piece_for(structure, row.piece_id) is None:
            return False
    if row.marche_id is not None and row.piece_id is None:
        access = marches_ops.access_for(structure, row.marche_id)
        if access is None or not access.confirmed or (row.kind in ("etat", "marche_zip") and not access.full):
            return False
    return True


def document_content(row: GeneratedDocument) -> bytes | None:
    if row.status != "done" or row.sha256 is None:
        return None
    return db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == row.sha256))


def documents_of_piece(structure: Structure, piece_id: int) -> dict[str, GeneratedDocument]:
    """The latest row of each kind this structure asked for the piece (the piece page shows their state)."""
    rows = db.session.scalars(select(GeneratedDocument).where(GeneratedDocument.structure_id == structure.id,
                                                              GeneratedDocument.piece_id == piece_id)
                              .order_by(GeneratedDocument.id))
    return {row.kind: row for row in rows}


# ---------------------------------------------------------------------------------------------------------------------
# Rendering (called by the job)


def store_content(content: bytes, now: datetime) -> str:
    """Store bytes in `stored_file` once per content; returns their SHA-256."""
    sha = hashlib.sha256(content).hexdigest()
    insert = postgresql.insert if records.is_postgresql() else sqlite.insert
    db.session.execute(insert(StoredFile).values(sha256=sha, size=len(content), content=content, created_at=now)
                       .on_conflict_do_nothing(index_elements=["sha256"]))
    return sha


def piece_html(prepared: Prepared) -> str:
    """The HTML of a piece's PDF: a projet de décompte laid out as a décompte (decompte.html); any other piece in
    the invoice layout under its own heading (FACTURE, AVOIR, ÉTAT D'ACOMPTE…)."""
    from chorus_chain.documents.decompte_doc import DecompteDoc
    from chorus_chain.documents.fingerprint import fingerprint
    from chorus_chain.documents.model import vat_breakdown
    from chorus_chain.documents.templates import render_html

    doc = prepared.doc
    if isinstance(doc, DecompteDoc):
        return render_html("decompte.html", doc=doc, issuer=doc.seller, title=doc.label, piece_number=doc.number,
                           fingerprint=fingerprint(doc))
    title = "Avoir" if doc.is_credit_note else (prepared.label or "Facture")
    return render_html("piece.html", doc=doc, issuer=doc.seller, title=title, heading=title.upper(),
                       piece_number=doc.number, fingerprint=fingerprint(doc), vat=vat_breakdown(doc))


def _render_piece_pdf(prepared: Prepared) -> bytes:
    from chorus_chain.documents.render import render_pdf

    return render_pdf(piece_html(prepared))


def _render_facturx(prepared: Prepared) -> bytes:
    from chorus_chain.documents.facturx_out import facturx_pdf

    return facturx_pdf(prepared.doc)


def _render_attestation(prepared: Prepared) -> bytes:
    from chorus_chain.documents.templates import tacit_acceptance_pdf

    return tacit_acceptance_pdf(prepared.doc)


def _render_interest(prepared: Prepared) -> bytes:
    from chorus_chain.documents.templates import interest_claim_pdf

    return interest_claim_pdf(prepared.doc)


def _render_fiche(prepared: Prepared) -> bytes:
    from chorus_chain.documents.templates import fiche_marche_pdf

    return fiche_marche_pdf(prepared.doc)


def _render_etat(prepared: Prepared) -> bytes:
    from chorus_chain.documents.etat_doc import etat_acompte_pdf

    return etat_acompte_pdf(prepared.doc)


RENDERERS: dict[str, Callable[[Prepared], bytes]] = {
    "piece_pdf": _render_piece_pdf,
    "facturx": _render_facturx,
    "attestation": _render_attestation,
    "interets": _render_interest,
    "fiche": _render_fiche,
    "etat": _render_etat,
}
"""kind → renderer of a PDF (the archives are assembled by `build_archive`). A mapping so that a test can count."""


def prepare_again(row: GeneratedDocument, structure: Structure, payload: dict[str, Any]) -> Prepared:
    """The job's view of the document: the same loading as the request, under the asker's tenant."""
    on = date.fromisoformat(payload["on"]) if payload.get("on") else row.created_at.astimezone(formatting.PARIS).date()
    if row.kind in PIECE_KINDS:
        return prepare_piece(structure, row.piece_id, row.kind, on)
    return prepare_marche(structure, row.marche_id, row.kind, on, payload.get("etat_id"))


def build_content(row: GeneratedDocument, structure: Structure, payload: dict[str, Any], progress: Progress,
                  now: datetime) -> bytes:
    """The bytes of the document of `row` (the job calls this under the asker's tenant)."""
    prepared = prepare_again(row, structure, payload)
    if row.kind in ("dossier_zip", "marche_zip"):
        # An archive shows the state of the moment it is packed; its key said which pieces, not every byte.
        return build_archive(prepared, structure, progress, now)
    if prepared.content_key != row.content_key:
        raise DocumentUnavailable("Les données du document ont changé pendant sa préparation : demandez-le à "
                                  "nouveau.")
    progress(30)
    return RENDERERS[row.kind](prepared)


# ---------------------------------------------------------------------------------------------------------------------
# Archives


def _cached_or_rendered(structure: Structure, prepared: Prepared, now: datetime) -> bytes:
    """A PDF of the archive: the stored one when this structure already has it (same key), else rendered now and
    kept as a done row, so that the piece page offers it at once afterwards."""
    key = prepared.content_key
    row = db.session.scalar(select(GeneratedDocument).where(GeneratedDocument.structure_id == structure.id,
                                                            GeneratedDocument.content_key == key))
    if row is not None and row.status == "done":
        content = document_content(row)
        if content is not None:
            return content
    content = RENDERERS[prepared.kind](prepared)
    sha = store_content(content, now)
    if row is None:
        row = GeneratedDocument(structure_id=structure.id, content_key=key, kind=prepared.kind,
                                piece_id=prepared.piece.id if prepared.piece else None,
                                marche_id=prepared.marche.id if prepared.marche else None,
                                filename=prepared.filename, content_type=prepared.content_type,
                                created_at=now, updated_at=now)
        db.session.add(row)
    row.status, row.progress, row.sha256, row.error = "done", 100, sha, None
    db.session.flush()
    return content


def history_text(pieces: list[Piece], events: dict[int, list[PieceEvent]], names: dict[int, str]) -> str:
    """historique.txt: each piece, then its events in order, in plain French (Paris time)."""
    out = ["Historique des pièces", "=====================", ""]
    for piece in pieces:
        label = from_pieces.piece_label(piece)
        out.append(f"{label} n° {piece.number}" + (f" (cadre {piece.cadre})" if piece.cadre else ""))
        out.append(f"  Émise par : {names.get(piece.emitter_structure_id, '?')}")
        out.append(f"  Montants : {formatting.money(piece.montant_ht)} HT, {formatting.money(piece.montant_tva)} "
                   f"de TVA, {formatting.money(piece.montant_ttc)} TTC")
        if piece.dossier_number:
            out.append(f"  Dossier : {piece.dossier_number}")
        out.append(f"  Statut actuel : {statuses.label(piece.status)}")
        for event in events.get(piece.id, []):
            action = T.ACTION_LABELS.get(event.action, event.action)
            who = "le système" if event.actor == "system" else event.actor
            if event.actor_siret:
                who += f" (SIRET {event.actor_siret})"
            line = (f"  - {formatting.instant(event.at)} : {action} par {who} — "
                    f"{statuses.label(event.from_status) if event.from_status else 'création'} → "
                    f"{statuses.label(event.to_status)}")
            if event.amount is not None:
                line += f" — montant {formatting.money(event.amount)}"
            if event.reason:
                line += f" — motif : {event.reason}"
            out.append(line)
            out.append(f"      empreinte de l'événement : {event.hash}")
        out.append("")
    if not pieces:
        out.append("Aucune pièce envoyée.")
    return "\n".join(out) + "\n"


def manifest_text(entries: list[tuple[str, bytes]]) -> str:
    """MANIFEST.sha256 in the format of `sha256sum` (checked with `sha256sum -c MANIFEST.sha256`)."""
    return "".join(f"{hashlib.sha256(content).hexdigest()}  {name}\n" for name, content in entries)


def build_archive(prepared: Prepared, structure: Structure, progress: Progress, now: datetime) -> bytes:
    """The ZIP of a dossier or of a marché: every original file of every piece the asker sees, the PDFs of each
    piece (and its attestation of tacit acceptance, when there is one), for a marché its fiche, its issued états and
    its export JSON (a dossier: its pieces' entries of the export), historique.txt and MANIFEST.sha256."""
    from chorus_chain.operations.export import marche_export
    from chorus_chain.operations.export import pieces as export_pieces

    pieces: list[Piece] = prepared.extra["pieces"]
    marche = prepared.marche
    on = now.astimezone(formatting.PARIS).date()
    ids = [p.id for p in pieces]
    files: dict[int, list[PieceFile]] = {}
    for row in db.session.scalars(select(PieceFile).where(PieceFile.piece_id.in_(ids)).order_by(PieceFile.id)):
        files.setdefault(row.piece_id, []).append(row)
    events: dict[int, list[PieceEvent]] = {}
    for event in db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id.in_(ids))
                                    .order_by(PieceEvent.piece_id, PieceEvent.seq)):
        events.setdefault(event.piece_id, []).append(event)
    names = dict(db.session.execute(select(Structure.id, Structure.name).where(
        Structure.id.in_({p.emitter_structure_id for p in pieces}))).all())
    entries: list[tuple[str, bytes]] = []
    notes: list[str] = []
    steps = max(len(pieces), 1) + 2
    done = 0
    for piece in pieces:
        folder = f"pieces/{file_name_part(piece.number)}-{piece.id}"
        for row in files.get(piece.id, []):
            content = db.session.scalar(select(StoredFile.content).where(StoredFile.sha256 == row.sha256))
            kind = {"main": "original", "attachment": "annexe", "completion": "complement"}.get(row.role, row.role)
            entries.append((f"{folder}/{kind}-{row.id}-{file_name_part(row.name)}", content))
        for kind in ("piece_pdf", "attestation"):
            if kind == "piece_pdf" and piece_documents.refusal(kind, piece_facts(piece)):
                continue  # an état's pieces: their document is their main file, packed above
            try:
                doc = prepare_piece(structure, piece.id, kind, on)
            except DocumentUnavailable as refusal:
                if kind == "piece_pdf":
                    notes.append(f"{piece.number} : pas de PDF généré — {refusal.message}")
                continue
            entries.append((f"{folder}/{doc.filename}", _cached_or_rendered(structure, doc, now)))
        done += 1
        progress(min(90, 5 + 85 * done // steps))
    if prepared.kind == "marche_zip":
        try:
            fiche = prepare_marche(structure, marche.id, "fiche", on)
            entries.append((f"marché/{fiche.filename}", _cached_or_rendered(structure, fiche, now)))
        except DocumentUnavailable as refusal:
            notes.append(f"Fiche d'identité non générée — {refusal.message}")
        for etat in prepared.extra["etats"]:
            try:
                doc = prepare_marche(structure, marche.id, "etat", on, etat.id)
            except DocumentUnavailable as refusal:
                notes.append(f"État d'acompte n° {etat.number} non généré — {refusal.message}")
                continue
            entries.append((f"marché/{doc.filename}", _cached_or_rendered(structure, doc, now)))
        export = marche_export(marche, now, structure.id)
        entries.append(("export.json", json.dumps(export, ensure_ascii=False, indent=2).encode("utf-8")))
    else:
        # The export of a dossier: the export's entries of the pieces the asker sees (the whole-marché export is
        # for the full view only).
        seen = {(p.number, p.emitter_structure_id) for p in pieces}
        sirets = dict(db.session.execute(select(Structure.siret, Structure.id)
                                         .where(Structure.id.in_({p.emitter_structure_id for p in pieces}))).all())
        entries_of_dossier = [entry for entry in export_pieces(marche, structure.id)
                              if (entry["number"], sirets.get(entry["emitter_siret"])) in seen]
        export = {"format": "chorus-chain/dossier-export/v1", "exported_at": now.isoformat(),
                  "marche": {"reference": marche.reference, "objet": marche.objet},
                  "dossier": pieces[0].dossier_number if pieces else None, "pieces": entries_of_dossier}
        entries.append(("export.json", json.dumps(export, ensure_ascii=False, indent=2).encode("utf-8")))
    progress(92)
    history = history_text(pieces, events, names)
    if notes:
        history += "\nDocuments non générés\n=====================\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    entries.append(("historique.txt", history.encode("utf-8")))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
        archive.writestr("MANIFEST.sha256", manifest_text(entries))
    return buffer.getvalue()
