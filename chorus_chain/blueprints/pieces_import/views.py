"""Importer une facture électronique: a Factur-X PDF, a CII or a UBL XML read into the deposit form.

Pages: the upload (from "Déposer une pièce", a new draft's page, or a saved draft's page), then one preview page that
shows what was read, what is missing and how it matches this structure's marchés, with the draft form pre-filled
underneath ("Créer le brouillon", or "Mettre à jour le brouillon" for a saved draft). The work is in
operations.einvoice_import; a refused file answers 422 with its French message, so nothing is kept.

Why this blueprint switches off the global CSRF check and runs it itself: the preview page posts the file back as
base64 in a hidden field (nothing is stored before the user confirms), which can exceed Flask's default in-memory
limit for a form field (500 000 bytes). The limit must be raised for these requests before the form is parsed, and the
global check parses it in a `before_request` that runs first. So the view raises the limit, then calls the same
CSRF check (`csrf.protect()`, same error page).
"""
from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from chorus_chain import input_guard
from chorus_chain.blueprints.pieces import display
from chorus_chain.blueprints.pieces.views import (
    _draft_values,
    _piece_or_404,
    _set_draft_choices,
    piece_helpers,
    require_piece_right,
)
from chorus_chain.blueprints.pieces_import.forms import ImportDraftForm, UploadForm
from chorus_chain.domain import attachments as attachment_rules
from chorus_chain.extensions import csrf, db
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import einvoice_import as ops
from chorus_chain.tenancy import has_right, tenant_blueprint

bp = tenant_blueprint("pieces_import", __name__, url_prefix="/pieces/importer")
bp.context_processor(piece_helpers)

# A 10 Mo file (strictly less: domain.attachments) in base64, with room for the other fields.
FORM_MEMORY = (attachment_rules.FILE_MAX_BYTES * 4) // 3 + 1024 * 1024


def _guard_post() -> None:
    """Raise the field-size limit for this request, then check the CSRF token (see the module's docstring)."""
    request.max_form_memory_size = FORM_MEMORY
    if current_app.config.get("WTF_CSRF_ENABLED", True) and current_app.config.get("WTF_CSRF_CHECK_DEFAULT", True):
        csrf.protect()


def _actor():
    return current_user._get_current_object()


def _may_deposit(choice, marche) -> bool:
    return has_right(display.deposit_domain(choice.cadre, marche), "modification")


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _posted_upload():
    """The file of this POST: posted back by the preview page (hidden base64), or freshly uploaded."""
    if "einvoice_data" in request.form:
        return ops.decode_upload(request.form.get("einvoice_name"), request.form.get("einvoice_data"))
    return UploadForm().upload()


def _upload_page(form: UploadForm, *, piece=None, status: int = 200, error: OperationError | None = None):
    if error is not None:
        form.add_error(error)
    return render_template("pieces/import_upload.html", form=form, piece=piece,
                           marche_id=request.values.get("marche_id", type=int)), status


def _draft_form(result: ops.ImportPreview, posted: bool = False) -> ImportDraftForm:
    form = ImportDraftForm() if posted else ImportDraftForm(formdata=None).fill(result.values)
    form.marche_id.data = str(result.marche.id) if result.marche else ""
    form.einvoice_name.data = result.upload.name
    form.einvoice_data.data = ops.encode_upload(result.upload)
    if result.marche is not None:
        _set_draft_choices(form, result.marche.id)
    return form


def _preview_page(result: ops.ImportPreview, form: ImportDraftForm | None = None, status: int = 200):
    if form is None and (result.ready or result.piece is not None):
        form = _draft_form(result)
    choice = result.choice
    return render_template(
        "pieces/import_preview.html", result=result, form=form, upload=result.upload,
        encoded=ops.encode_upload(result.upload), piece=result.piece,
        role_label=ROLE_LABELS.get(choice.role, choice.role) if choice else None,
        ROLE_LABELS=ROLE_LABELS), status


# --- A new piece ---------------------------------------------------------------------------------------------------

@bp.get("/")
@require_piece_right("modification")
def start():
    return _upload_page(UploadForm(formdata=None))


@bp.post("/")
@require_piece_right("modification")
@input_guard.large_form(FORM_MEMORY)
def read():
    _guard_post()
    intent = request.form.get("intent", "")
    try:
        upload = _posted_upload()
        if intent == "create":
            return _create(upload)
        marche_id = _int(request.form.get("marche_id"))
        party_id, _, cadre = (request.form.get("choix") or "").partition(":")
        result = ops.preview(g.structure, upload, marche_id=marche_id, party_id=_int(party_id),
                             cadre=cadre or None, chosen=bool(request.form.get("choix")), allowed=_may_deposit)
    except OperationError as error:
        db.session.rollback()
        return _upload_page(UploadForm(formdata=None), status=422, error=error)
    return _preview_page(result)


def _create(upload):
    marche_id = _int(request.form.get("marche_id"))
    party_id, cadre = _int(request.form.get("party_id")), (request.form.get("cadre") or "").upper() or None
    result = ops.preview(g.structure, upload, marche_id=marche_id, party_id=party_id, cadre=cadre, chosen=True,
                         allowed=_may_deposit)  # OperationError for a refused file: the caller shows it
    if result.marche is None:
        abort(404)
    if result.choice is None:
        raise OperationError("Choisissez à quel titre vous déposez cette facture.", field="fichier")
    form = _draft_form(result, posted=True)
    if not result.blocking and form.validate_on_submit():
        try:
            piece = ops.create_draft_from_import(_actor(), g.structure, result.marche.id, form.raw(), upload,
                                                 main_pdf=form.main_upload(), now=utcnow())
        except OperationError as error:
            db.session.rollback()
            form.add_error(error)
        else:
            kept = "document principal" if ops.is_pdf(upload) else "pièce jointe"
            flash(f"Brouillon n° {piece.number} créé depuis la facture électronique « {upload.name} » (gardée comme "
                  f"{kept}). Il n'est PAS envoyé : vérifiez-le puis cliquez sur « Envoyer la pièce ».", "info")
            return redirect(url_for("pieces.show", piece_id=piece.id), 303)
    return _preview_page(result, form, 422)


# --- A saved draft -------------------------------------------------------------------------------------------------

def _own_draft(piece_id: int):
    piece = _piece_or_404(piece_id, "modification")
    if not piece.is_draft or piece.emitter_structure_id != g.structure.id:
        flash("Seul un brouillon de votre structure peut recevoir une facture importée.", "error")
        return None, redirect(url_for("pieces.show", piece_id=piece.id), 303)
    return piece, None


@bp.get("/brouillon/<int:piece_id>")
@require_piece_right("modification")
def draft_start(piece_id: int):
    piece, gone = _own_draft(piece_id)
    if gone:
        return gone
    return _upload_page(UploadForm(formdata=None), piece=piece)


@bp.post("/brouillon/<int:piece_id>")
@require_piece_right("modification")
@input_guard.large_form(FORM_MEMORY)
def draft_read(piece_id: int):
    _guard_post()
    piece, gone = _own_draft(piece_id)
    if gone:
        return gone
    try:
        upload = _posted_upload()
        result = ops.preview_for_draft(g.structure, piece, upload, _draft_values(piece))
    except OperationError as error:
        db.session.rollback()
        return _upload_page(UploadForm(formdata=None), piece=piece, status=422, error=error)
    if request.form.get("intent") != "apply":
        return _preview_page(result)
    form = _draft_form(result, posted=True)
    if not result.blocking and form.validate_on_submit():
        try:
            ops.reimport_into_draft(_actor(), g.structure, piece.id, form.raw(), upload, now=utcnow())
        except OperationError as error:
            db.session.rollback()
            if error.field == "fichier":
                return _upload_page(UploadForm(formdata=None), piece=_piece_or_404(piece_id), status=422,
                                    error=error)
            form.add_error(error)
        else:
            flash(f"Brouillon mis à jour depuis « {upload.name} ». Il n'est toujours PAS envoyé.", "info")
            return redirect(url_for("pieces.show", piece_id=piece.id), 303)
    return _preview_page(result, form, 422)


for _view in (read, draft_read):
    csrf.exempt(_view)
