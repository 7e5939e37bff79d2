"""The documents a structure already generated (issue 6 follow-up): on the piece page, on the marché page and on its
"Mes documents" page, so that a PDF asked for yesterday is still there to download, a running one still shows its
progress and a failed one its reason.

Each list is one query (the row, the stored file's size, the piece's number, the marché's reference), whatever the
number of documents; the page of all documents adds one COUNT. Only the structure's own rows are listed, and only
those it still sees (`operations.documents.still_visible`, written here as SQL): a piece it sees in a rights domain
the member may read; a marché where it still holds a confirmed role — the full view for an état d'acompte or a
marché's archive.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, exists, false, func, or_, select

from chorus_chain.access import visible_piece_ids
from chorus_chain.documents.from_pieces import DocumentUnavailable
from chorus_chain.domain import document_reuse
from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument, Marche, MarcheParty, Piece, StoredFile, Structure
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations.chain import FULL_VIEW_ROLES
from chorus_chain.operations.documents import KIND_LABELS, fiche_prepared

PIECE_PAGE_LIMIT = 10
"""The piece and marché pages show the latest documents; the rest is on "Mes documents"."""
PER_PAGE = 25
FULL_VIEW_KINDS = ("etat", "marche_zip")


@dataclass(frozen=True)
class Listed:
    """One generated document as a list shows it."""

    row: GeneratedDocument
    size: int | None
    piece_number: str | None
    marche_reference: str | None

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def kind(self) -> str:
        return self.row.kind

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.row.kind, "Document")


@dataclass(frozen=True)
class DocumentsPage:
    items: list[Listed]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class Block:
    """The documents block of a piece or a marché: the latest documents, and per kind the done one that a button may
    offer at once (a direct download instead of a new request)."""

    items: list[Listed]
    ready: dict[str, Listed]

    def ready_for(self, kind: str) -> Listed | None:
        return self.ready.get(kind)


def _columns():
    return (select(GeneratedDocument, StoredFile.size, Piece.number, Marche.reference)
            .outerjoin(StoredFile, StoredFile.sha256 == GeneratedDocument.sha256)
            .outerjoin(Piece, Piece.id == GeneratedDocument.piece_id)
            .outerjoin(Marche, Marche.id == GeneratedDocument.marche_id))


def _listed(result) -> list[Listed]:
    return [Listed(row, size, number, reference) for row, size, number, reference in result]


def _still_seen(structure_id: int, piece_domains: Iterable[str], marche_documents: bool):
    """SQL of `documents.still_visible` plus the member's rights: the piece's rights domain
    (`pieces_records.rights_domain`: "travaux" for works, else "emises" for its emitter, "recues" otherwise) must be
    one the member may read; a marché's document needs `marche_documents` (right "travaux") and a confirmed role."""
    domains = set(piece_domains)
    by_domain = []
    if "travaux" in domains:
        by_domain.append(Piece.works.is_(True))
    if "emises" in domains:
        by_domain.append(and_(Piece.works.is_(False), Piece.emitter_structure_id == structure_id))
    if "recues" in domains:
        by_domain.append(and_(Piece.works.is_(False), Piece.emitter_structure_id != structure_id))
    piece_seen = and_(GeneratedDocument.piece_id.is_not(None),
                      GeneratedDocument.piece_id.in_(visible_piece_ids(structure_id)),
                      or_(*by_domain) if by_domain else false())
    if not marche_documents:
        return piece_seen
    party = (select(MarcheParty.id).where(MarcheParty.marche_id == GeneratedDocument.marche_id,
                                          MarcheParty.structure_id == structure_id,
                                          MarcheParty.status == "confirmed"))
    marche_seen = and_(
        GeneratedDocument.piece_id.is_(None), exists(party),
        or_(GeneratedDocument.kind.not_in(FULL_VIEW_KINDS),
            exists(party.where(MarcheParty.role.in_([str(role) for role in FULL_VIEW_ROLES])))))
    return or_(piece_seen, marche_seen)


def documents_page(structure: Structure, *, piece_domains: Iterable[str], marche_documents: bool, page: int = 1,
                   per_page: int | None = None) -> DocumentsPage:
    """"Mes documents": the structure's documents it still sees, most recent first, cut by the database (LIMIT /
    OFFSET and one COUNT): two queries whatever the number of documents."""
    page, per_page = max(1, int(page)), max(1, int(per_page or PER_PAGE))
    condition = and_(GeneratedDocument.structure_id == structure.id,
                     _still_seen(structure.id, piece_domains, marche_documents))
    total = db.session.scalar(
        select(func.count()).select_from(GeneratedDocument)
        .outerjoin(Piece, Piece.id == GeneratedDocument.piece_id).where(condition))
    items = _listed(db.session.execute(
        _columns().where(condition)
        .order_by(GeneratedDocument.created_at.desc(), GeneratedDocument.id.desc())
        .limit(per_page).offset((page - 1) * per_page)))
    return DocumentsPage(items, total or 0, page, per_page)


def piece_block(structure: Structure, piece: Piece, dossier_pieces: Iterable[Piece], today: date) -> Block:
    """The documents of the piece page (one query). The caller has checked the piece is seen and readable.

    A button offers its document at once when the latest one of its kind is done and the piece (for the dossier's
    archive: any piece of the dossier) has not changed since (`domain.document_reuse`)."""
    items = _listed(db.session.execute(
        _columns().where(GeneratedDocument.structure_id == structure.id, GeneratedDocument.piece_id == piece.id)
        .order_by(GeneratedDocument.id.desc()).limit(PIECE_PAGE_LIMIT)))
    dossier_changed = max((p.updated_at for p in dossier_pieces if p.updated_at is not None),
                          default=piece.updated_at)
    ready = {}
    for kind, listed in document_reuse.latest_by_kind(items).items():
        changed = max(dossier_changed, piece.updated_at) if kind == "dossier_zip" else piece.updated_at
        if document_reuse.reusable(kind, listed.row.status, listed.row.updated_at, today=today,
                                   data_changed_at=changed):
            ready[kind] = listed
    return Block(items, ready)


def marche_block(structure: Structure, access: marches_ops.MarcheAccess, today: date) -> Block:
    """The marché's own documents on its page (one query): the fiche, the archive, the états d'acompte (the last two
    only for the full view). The fiche's key is computed from the access already loaded (no query), so a fiche made
    today from the same data is offered at once; an archive is packed anew on request (its key follows every piece
    of the marché), so its button always asks — asking finds the same archive when nothing moved."""
    kinds = ["fiche", *FULL_VIEW_KINDS] if access.full else ["fiche"]
    items = _listed(db.session.execute(
        _columns().where(GeneratedDocument.structure_id == structure.id,
                         GeneratedDocument.marche_id == access.marche.id, GeneratedDocument.piece_id.is_(None),
                         GeneratedDocument.kind.in_(kinds))
        .order_by(GeneratedDocument.id.desc()).limit(PIECE_PAGE_LIMIT)))
    ready = {}
    fiche = next((item for item in items if item.kind == "fiche" and item.row.status == "done"), None)
    if fiche is not None:
        try:
            key = fiche_prepared(structure, access, today).content_key
        except DocumentUnavailable:
            key = None
        if key is not None:
            same = next((item for item in items if item.kind == "fiche" and item.row.status == "done"
                         and item.row.content_key == key), None)
            if same is not None:
                ready["fiche"] = same
    return Block(items, ready)

