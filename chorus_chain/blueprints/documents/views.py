"""Documents: ask for a piece's PDF or Factur-X, its attestation of tacit acceptance, its interest claim, the ZIP of
its dossier; a marché's fiche, état d'acompte or whole archive; follow the rendering; download the file.

Each "ask" view loads and authorises (the piece or marché as the structure sees it: 404 otherwise; the right on its
domain: 403), calls `operations.documents.request_document`, and answers the status fragment, which polls itself
every second (HTMX) until the job is done, then offers the file. Without HTMX the same views answer a page.
"""
from __future__ import annotations

import io
from functools import wraps

from flask import abort, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from chorus_chain.extensions import htmx
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import documents as ops
from chorus_chain.operations import documents_list
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations import pieces as pieces_ops
from chorus_chain.tenancy import has_right, require_right, tenant_blueprint

bp = tenant_blueprint("documents", __name__, url_prefix="/documents")

PIECE_DOMAINS = ("emises", "travaux", "recues")
VIEW_MARCHE = ("travaux", "consultation")


def require_consultation(view):
    """403 unless the member may read pieces in at least one domain; the document's own domain is checked once
    it is loaded."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not any(has_right(domain, "consultation") for domain in PIECE_DOMAINS):
            abort(403)
        return view(*args, **kwargs)

    wrapped.required_right = ("pieces", "consultation")
    return wrapped


def _piece_or_404(piece_id: int):
    piece = pieces_ops.piece_for(g.structure, piece_id)
    if piece is None:
        abort(404)
    if not has_right(pieces_ops.rights_domain(piece, g.structure.id), "consultation"):
        abort(403)
    return piece


def _marche_or_404(marche_id: int, *, full: bool = False) -> marches_ops.MarcheAccess:
    access = marches_ops.access_for(g.structure, marche_id)
    if access is None or not access.confirmed or (full and not access.full):
        abort(404)
    return access


def _document_or_404(document_id: int):
    row = ops.document_for(g.structure, document_id)
    if row is None or not ops.still_visible(g.structure, row):
        abort(404)
    if row.piece_id is not None:
        piece = pieces_ops.piece_for(g.structure, row.piece_id)
        if not has_right(pieces_ops.rights_domain(piece, g.structure.id), "consultation"):
            abort(403)
    elif not has_right(*VIEW_MARCHE):
        abort(403)
    return row


def ask_url(row) -> str | None:
    """Where to ask again for the document of `row` (after a failure)."""
    if row.piece_id is not None:
        return url_for(PIECE_ENDPOINTS[row.kind], piece_id=row.piece_id)
    if row.kind in MARCHE_ENDPOINTS:
        return url_for(MARCHE_ENDPOINTS[row.kind], marche_id=row.marche_id)
    return None  # an état d'acompte: asked again from the marché's page


def _answer(row=None, error: str | None = None, kind: str | None = None):
    """The status fragment (HTMX) or page: progress while queued or running, the link when done, the error."""
    context = dict(row=row, error=error, label=ops.KIND_LABELS.get(kind or (row.kind if row else ""), "Document"),
                   ask_url=ask_url(row) if row is not None else None)
    if htmx and not htmx.boosted:
        return render_template("documents/_status.html", **context)
    if row is not None:
        return redirect(url_for("documents.status", document_id=row.id), 303)
    return render_template("documents/status.html", **context), 200


def _ask(kind: str, **target):
    try:
        row = ops.request_document(current_user._get_current_object(), g.structure, kind, now=utcnow(), **target)
    except OperationError as error:  # nothing was written: the commit is empty
        return _answer(error=error.message, kind=kind)
    return _answer(row)


# --- A piece's documents -------------------------------------------------------------------------------------------

def _piece_view(kind: str):
    def view(piece_id: int):
        _piece_or_404(piece_id)
        return _ask(kind, piece_id=piece_id)

    view.__name__ = f"piece_{kind}"
    return require_consultation(view)


PIECE_ENDPOINTS = {}
for _kind, _path in (("piece_pdf", "pdf"), ("facturx", "facturx"), ("attestation", "attestation"),
                     ("interets", "interets"), ("dossier_zip", "dossier-zip")):
    bp.add_url_rule(f"/pieces/<int:piece_id>/{_path}", f"piece_{_kind}", _piece_view(_kind), methods=["POST"])
    PIECE_ENDPOINTS[_kind] = f"documents.piece_{_kind}"


# --- A marché's documents ------------------------------------------------------------------------------------------

@bp.post("/marches/<int:marche_id>/fiche")
@require_right(*VIEW_MARCHE)
def marche_fiche(marche_id: int):
    _marche_or_404(marche_id)
    return _ask("fiche", marche_id=marche_id)


@bp.post("/marches/<int:marche_id>/archive")
@require_right(*VIEW_MARCHE)
def marche_zip(marche_id: int):
    _marche_or_404(marche_id, full=True)  # the whole chain's archive: MOA, MOE, titulaire / mandataire
    return _ask("marche_zip", marche_id=marche_id)


@bp.post("/marches/<int:marche_id>/etats/<int:etat_id>/pdf")
@require_right(*VIEW_MARCHE)
def etat_pdf(marche_id: int, etat_id: int):
    _marche_or_404(marche_id, full=True)
    return _ask("etat", marche_id=marche_id, etat_id=etat_id)


MARCHE_ENDPOINTS = {"fiche": "documents.marche_fiche", "marche_zip": "documents.marche_zip"}


# --- The documents already generated -------------------------------------------------------------------------------

@bp.app_context_processor
def document_helpers() -> dict:
    """For the documents blocks of the piece and marché pages (other blueprints) and the list."""
    from chorus_chain.blueprints.pieces.display import size_text

    return {"document_ask_url": ask_url, "document_size_text": size_text, "DOCUMENT_KIND_LABELS": ops.KIND_LABELS}


@bp.get("/")
@require_consultation
def index():
    """"Mes documents": what the structure generated and still sees, most recent first (the database cuts the
    pages)."""
    page = documents_list.documents_page(
        g.structure, piece_domains=[d for d in PIECE_DOMAINS if has_right(d, "consultation")],
        marche_documents=has_right(*VIEW_MARCHE), page=max(request.args.get("page", 1, type=int) or 1, 1))
    return render_template("documents/index.html", page=page)


# --- Following and downloading -------------------------------------------------------------------------------------

@bp.get("/<int:document_id>")
@require_consultation
def status(document_id: int):
    row = _document_or_404(document_id)
    context = dict(row=row, error=None, label=ops.KIND_LABELS.get(row.kind, "Document"), ask_url=ask_url(row))
    if htmx and not htmx.boosted:
        return render_template("documents/_status.html", **context)
    return render_template("documents/status.html", **context)


@bp.get("/<int:document_id>/fichier")
@require_consultation
def download(document_id: int):
    row = _document_or_404(document_id)
    content = ops.document_content(row)
    if content is None:
        abort(404)
    response = send_file(io.BytesIO(content), mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, etag=False, conditional=False, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
