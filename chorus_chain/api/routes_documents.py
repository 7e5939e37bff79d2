"""Documents through the API: ask for a piece's PDF, Factur-X, attestation, interest claim or dossier ZIP (the
portal's `operations.documents.request_document`: the same content key, the same durable outbox job), follow its
status, download the file. Who sees what is the portal's: the piece through the access predicate
(`pieces.piece_for`) and the right on its domain; a document row only ever for the structure that asked, and only
while it still sees what the document shows (`documents.still_visible`)."""
from __future__ import annotations

import io

from flask import g, send_file, url_for

from chorus_chain.api import schemas as S
from chorus_chain.api.core import api_blueprint, has_right, idempotent, now
from chorus_chain.api.problems import problem
from chorus_chain.api.routes_pieces import _visible
from chorus_chain.models import GeneratedDocument, Piece
from chorus_chain.operations import documents as ops
from chorus_chain.operations import pieces as pieces_ops

bp = api_blueprint("api_documents", "", "Documents : demander, suivre, télécharger (PDF, Factur-X, ZIP).")
PIECE_DOMAINS = ("emises", "travaux", "recues")
FILE_TYPES = ("application/pdf", "application/zip")



def document_out(row: GeneratedDocument) -> dict:
    return {"id": row.id, "type": row.kind, "libelle": ops.KIND_LABELS.get(row.kind, "Document"),
            "statut": row.status, "progression": row.progress, "erreur": row.error, "piece_id": row.piece_id,
            "marche_id": row.marche_id, "nom_fichier": row.filename, "type_contenu": row.content_type,
            "demande_le": row.created_at,
            "fichier_url": url_for("api_documents.download", document_id=row.id) if row.status == "done" else None}


def _document(document_id: int) -> GeneratedDocument | tuple:
    """The portal's `_document_or_404`: this structure's row, still visible to it, with the right on what it
    shows."""
    if not any(has_right(domain, "consultation") for domain in PIECE_DOMAINS):
        return problem(403)
    row = ops.document_for(g.structure, document_id)
    if row is None or not ops.still_visible(g.structure, row):
        return problem(404)
    if row.piece_id is not None:
        piece = pieces_ops.piece_for(g.structure, row.piece_id)
        if not has_right(pieces_ops.rights_domain(piece, g.structure.id), "consultation"):
            return problem(403)
    elif not has_right("travaux", "consultation"):
        return problem(403)
    return row


@bp.post("/pieces/<int:piece_id>/documents")
@idempotent(bp)
@bp.arguments(S.DocumentIn)
@bp.response(202, S.DocumentOut)
@bp.problems(400, 401, 403, 404, 422, 429)
def ask(body, piece_id: int):
    """Demander un document d'une pièce : il est produit par une tâche durable (celle du portail). Un document
    déjà produit pour le même contenu est rendu tel quel (statut done). Suivez `GET /documents/{id}`."""
    piece = _visible(piece_id, "consultation")
    if not isinstance(piece, Piece):
        return piece
    row = ops.request_document(g.api_account, g.structure, body["type"], now=now(), piece_id=piece.id)
    return document_out(row)


@bp.get("/documents/<int:document_id>")
@bp.response(200, S.DocumentOut)
@bp.problems(401, 403, 404, 429)
def status(document_id: int):
    """L'état d'un document demandé : queued, running (avec sa progression), done (avec `fichier_url`) ou failed
    (avec l'erreur : demandez-le à nouveau)."""
    row = _document(document_id)
    if not isinstance(row, GeneratedDocument):
        return row
    out = document_out(row)
    if ops.is_stalled(row, now()):  # its job gave no sign of life: asking again starts a new one (as the portal)
        out["erreur"] = "La production de ce document ne donne plus signe de vie : demandez-le à nouveau."
    return out


@bp.get("/documents/<int:document_id>/fichier")
@bp.doc(responses={"200": {"description": "Le fichier (PDF, Factur-X — un PDF/A-3 portant son XML —, ou ZIP).",
                           "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in FILE_TYPES}}})
@bp.problems(401, 403, 404, 409, 429)
def download(document_id: int):
    """Télécharger le fichier d'un document prêt (statut done) ; 409 tant qu'il ne l'est pas."""
    row = _document(document_id)
    if not isinstance(row, GeneratedDocument):
        return row
    content = ops.document_content(row)
    if content is None:
        return problem(409, f"Ce document n'est pas prêt (statut : {row.status}) : suivez GET "
                            f"/api/v1/documents/{row.id} jusqu'à done.", kind="document-pas-pret")
    response = send_file(io.BytesIO(content), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, etag=False, conditional=False, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
