"""The price schedule of a marché (bordereau des prix) and the décompte of a PDM draft, cumulative since the start.

- /marches/<id>/bordereau: the lines the structure sees, totals per lot and per party; the MOA, the MOE and the
  holder add, change, remove and attribute lines inline (HTMX swaps the #schedule block) and import a CSV / XLSX
  sheet: a preview first (nothing written, errors per line), then the confirmation (all or nothing).
- /pieces/<id>/decompte: one row per price line of the depositor's part, last month's cumul, this month's (quantity
  or %), progress, amount, a justification where needed; extras and totals. Saving sets the draft's amounts.

Each view loads and authorises in one helper, calls one operation, renders a page or a fragment; a form refused
answers 422 (nothing kept). Rights: "Factures de travaux" consultation to read, modification to change.
"""
from __future__ import annotations

import json

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from chorus_chain.blueprints.bordereau.forms import (
    AssignForm,
    ConfirmImportForm,
    ImportForm,
    PriceLineForm,
    StartDecompteForm,
    party_choices,
)
from chorus_chain.domain.money import schedule as rules
from chorus_chain.extensions import db, htmx
from chorus_chain.formatting import money
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import decomptes as decompte_ops
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations.decompte_entry import readiness
from chorus_chain.operations.decompte_entry import start as start_ops
from chorus_chain.operations import pieces as piece_ops
from chorus_chain.operations import price_schedule as ops
from chorus_chain.operations.pieces_drafts import Problem
from chorus_chain.tenancy import has_right, require_right, tenant_blueprint

bp = tenant_blueprint("bordereau", __name__)

VIEW = ("travaux", "consultation")
CHANGE = ("travaux", "modification")


@bp.app_template_global("is_decompte_cadre")
def is_decompte_cadre(cadre: str | None) -> bool:
    """For the draft page's link to the décompte (a PDM cadre: A4, A10, A13, A7, A14)."""
    return cadre in decompte_ops.PDM_CADRES


def _inline() -> bool:
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def _schedule(marche_id: int) -> ops.Schedule:
    schedule = ops.schedule_for(g.structure, marche_id)
    if schedule is None:
        abort(404)
    return schedule


def _editable(marche_id: int) -> ops.Schedule:
    schedule = _schedule(marche_id)
    if not schedule.can_edit:
        abort(403)
    return schedule


def _line_form(schedule: ops.Schedule, *, bound: bool = True, **kwargs) -> PriceLineForm:
    """The line form with the parties lines may be given to; `bound` False: not read from the request."""
    form = PriceLineForm(**kwargs) if bound else PriceLineForm(formdata=None, **kwargs)
    form.party_id.choices = party_choices(schedule.parties)
    return form


def _render(marche_id: int, *, status: int = 200, add_form=None, edit=None, assign_form=None, notice=None,
            error=None):
    """The page, or the #schedule block for HTMX; reloaded so that it shows what is stored now."""
    schedule = _schedule(marche_id)
    add_form = add_form or _line_form(schedule, bound=False)
    assign_form = assign_form or AssignForm(formdata=None)
    assign_form.party_id.choices = party_choices(schedule.parties)
    context = dict(schedule=schedule, marche=schedule.access.marche, add_form=add_form, edit=edit,
                   assign_form=assign_form, notice=notice, error=error, ROLE_LABELS=ROLE_LABELS,
                   import_form=ImportForm(formdata=None), can_change=schedule.can_edit and has_right(*CHANGE))
    if _inline():
        return render_template("bordereau/_schedule.html", **context), status
    return render_template("bordereau/index.html", **context), status


def _done(marche_id: int, notice: str):
    if _inline():
        return _render(marche_id, notice=notice)
    flash(notice, "success")
    return redirect(url_for("bordereau.index", marche_id=marche_id), 303)


# --- The schedule --------------------------------------------------------------------------------------------------

@bp.get("/marches/<int:marche_id>/bordereau")
@require_right(*VIEW)
def index(marche_id: int):
    return _render(marche_id)


@bp.post("/marches/<int:marche_id>/bordereau/lignes")
@require_right(*CHANGE)
def add(marche_id: int):
    schedule = _editable(marche_id)
    form = _line_form(schedule)
    if form.validate_on_submit():
        try:
            line = ops.add_line(current_user, g.structure, marche_id, form.raw(), now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            return _done(marche_id, f"Ligne « {line.reference} » ajoutée au bordereau.")
    db.session.rollback()
    return _render(marche_id, status=422, add_form=form)


@bp.get("/marches/<int:marche_id>/bordereau/lignes/<int:line_id>/modifier")
@require_right(*CHANGE)
def edit(marche_id: int, line_id: int):
    schedule = _editable(marche_id)
    line = next((row for row in schedule.lines if row.id == line_id), None)
    if line is None:
        abort(404)
    form = _line_form(schedule, bound=False).fill_from(line)
    if _inline():
        return render_template("bordereau/_row_edit.html", schedule=schedule, marche=schedule.access.marche,
                               line=line, form=form)
    return _render(marche_id, edit=(line_id, form))


@bp.post("/marches/<int:marche_id>/bordereau/lignes/<int:line_id>")
@require_right(*CHANGE)
def update(marche_id: int, line_id: int):
    schedule = _editable(marche_id)
    if not any(row.id == line_id for row in schedule.lines):
        abort(404)
    form = _line_form(schedule)
    if form.validate_on_submit():
        try:
            line = ops.update_line(current_user, g.structure, marche_id, line_id, form.raw(), now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            return _done(marche_id, f"Ligne « {line.reference} » modifiée.")
    db.session.rollback()
    return _render(marche_id, status=422, edit=(line_id, form))


@bp.post("/marches/<int:marche_id>/bordereau/lignes/<int:line_id>/suppression")
@require_right(*CHANGE)
def delete(marche_id: int, line_id: int):
    schedule = _editable(marche_id)
    line = next((row for row in schedule.lines if row.id == line_id), None)
    if line is None:
        abort(404)
    reference = line.reference
    form = AssignForm()  # only its CSRF token travels
    if not form.validate_on_submit():
        return _render(marche_id, status=422, error="La demande a expiré : rechargez la page.")
    try:
        ops.delete_line(current_user, g.structure, marche_id, line_id, now=utcnow())
    except OperationError as error:
        db.session.rollback()
        return _render(marche_id, status=422, error=error.message)
    return _done(marche_id, f"Ligne « {reference} » supprimée.")


@bp.post("/marches/<int:marche_id>/bordereau/attribution")
@require_right(*CHANGE)
def assign(marche_id: int):
    schedule = _editable(marche_id)
    form = AssignForm()
    form.party_id.choices = party_choices(schedule.parties)
    if form.validate_on_submit():
        try:
            count = ops.assign_lines(current_user, g.structure, marche_id, request.form.getlist("line_ids"),
                                     form.party_id.data, now=utcnow())
        except OperationError as error:
            form.add_error(error, "party_id")
        else:
            return _done(marche_id, f"{count} ligne{'s' if count > 1 else ''} attribuée{'s' if count > 1 else ''}.")
    db.session.rollback()
    return _render(marche_id, status=422, assign_form=form)


# --- Import: preview, then confirmation ----------------------------------------------------------------------------

@bp.post("/marches/<int:marche_id>/bordereau/import")
@require_right(*CHANGE)
def import_preview(marche_id: int):
    schedule = _editable(marche_id)
    form = ImportForm()
    result, token, status, filename = None, None, 422, None
    if form.validate_on_submit():
        storage = form.file.data
        if storage is None or not getattr(storage, "filename", None):
            form.add_error("Choisissez le fichier à importer.", "file")
        else:
            try:
                result, token = ops.stage_import(g.structure, marche_id, storage.filename, storage.read(),
                                                 now=utcnow())
            except OperationError as error:
                form.add_error(error, "file")
            else:
                status = 200 if token else 422
                filename = storage.filename
    if status != 200:
        db.session.rollback()
    return render_template("bordereau/import.html", schedule=schedule, marche=schedule.access.marche, form=form,
                           result=result, confirm=ConfirmImportForm(formdata=None, token=token) if token else None,
                           filename=filename, COLUMN_LABELS=rules.COLUMN_LABELS), \
        status


@bp.post("/marches/<int:marche_id>/bordereau/import/confirmation")
@require_right(*CHANGE)
def import_confirm(marche_id: int):
    schedule = _editable(marche_id)
    form = ConfirmImportForm()
    result = None
    if form.validate_on_submit():
        try:
            lines = ops.confirm_staged_import(current_user, g.structure, marche_id, form.token.data, now=utcnow())
        except ops.ImportRefused as error:
            result = error.result
            form.add_error(error)
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"{len(lines)} ligne{'s' if len(lines) > 1 else ''} importée{'s' if len(lines) > 1 else ''} au "
                  "bordereau.", "success")
            return redirect(url_for("bordereau.index", marche_id=marche_id), 303)
    db.session.rollback()
    import_form = ImportForm(formdata=None)
    import_form.form_errors.extend(form.form_errors + [e for f in form for e in f.errors])
    return render_template("bordereau/import.html", schedule=schedule, marche=schedule.access.marche,
                           form=import_form, result=result, confirm=None, filename=None,
                           COLUMN_LABELS=rules.COLUMN_LABELS), 422


# --- The décompte of a PDM piece -----------------------------------------------------------------------------------

def _decompte_piece(piece_id: int, level: str):
    piece = piece_ops.piece_for(g.structure, piece_id)
    if piece is None or not decompte_ops.is_decompte_piece(piece):
        abort(404)
    if not has_right(piece_ops.rights_domain(piece, g.structure.id), level):
        abort(403)
    return piece


def _decompte_page(piece, sheet, *, values=None, error=None, error_field=None, status=200, notice=None):
    own_draft = piece.is_draft and piece.emitter_structure_id == g.structure.id
    editable = own_draft and has_right(*CHANGE)
    context = dict(piece=piece, sheet=sheet, marche=sheet.marche, values=values or {}, error=error,
                   error_field=error_field, notice=notice, editable=editable,
                   send_problems=readiness.send_problems(piece, sheet, utcnow()) if editable else [],
                   EXTRAS=rules.EXTRAS, EXTRA_LABELS=rules.EXTRA_LABELS, button=ConfirmImportForm(formdata=None))
    if _inline():
        return render_template("bordereau/_decompte_form.html", **context), status
    return render_template("bordereau/decompte.html", **context), status


def _decompte_row(piece, values: dict):
    """A figure typed in one row (or in the other amounts): every row's progress, amount and problems and the
    totals, out of band, computed from the whole form as it was sent — never an input, which stays as the user
    types. Nothing is written."""
    figures = {name: value for name, value in values.items() if name.startswith("m_") or name in rules.EXTRAS}
    context = dict(piece=piece, row_error=None, error_line=None, error=None, general_error=None, values=values,
                   all_figures=json.dumps(figures, sort_keys=True), EXTRAS=rules.EXTRAS,
                   EXTRA_LABELS=rules.EXTRA_LABELS)
    try:
        sheet = decompte_ops.preview_decompte(g.structure, piece.id, values)
    except OperationError as error:
        db.session.rollback()
        line = error.field[2:] if error.field and error.field.startswith(("m_", "j_")) else None
        if line is not None:
            context.update(error_line=line, error=error.message)
        else:
            context.update(general_error=error.message)
        # An unreadable figure stops the sending until it is corrected: the send panel says so (never « Prêt »).
        context["send_problems"] = [Problem(error.message, "decompte")]
        return render_template("bordereau/_decompte_row.html", sheet=None, **context), 422
    context["general_error"] = sheet.amount_error
    context["send_problems"] = readiness.send_problems(piece, sheet, utcnow())
    db.session.rollback()  # a computation only
    # A total refused (below the previous décompte's) still answers every row as typed, with the refusal (422).
    return render_template("bordereau/_decompte_row.html", sheet=sheet, editable=True, **context), \
        422 if sheet.amount_error else 200


def _send_from_decompte(piece_id: int, values: dict):
    """Deposit the draft whose décompte was just saved. Refused by the pre-flight check: the saved décompte stays
    (it is the user's work) and the page lists what stops the sending."""
    try:
        piece = piece_ops.deposit(piece_id, current_user, g.structure, now=utcnow())
    except piece_ops.PreflightRefused as error:
        piece = _decompte_piece(piece_id, "modification")
        problems = " ".join(p.message_fr for p in error.problems)
        return _decompte_page(piece, decompte_ops.sheet_for(piece), values=values,
                              error=f"Décompte enregistré, mais la pièce n'est PAS envoyée : {problems}")
    except OperationError as error:  # already sent (a double click, another tab): the piece page shows it
        db.session.rollback()
        flash(error.message, "error")
        piece = _decompte_piece(piece_id, "consultation")
    else:
        flash(f"Le projet de décompte n° {piece.number} est envoyé. Il ne peut plus être modifié.", "success")
    target = url_for("pieces.show", piece_id=piece.id)
    if _inline():  # htmx follows a 303 inside its request: tell it to load the page instead
        return "", 200, {"HX-Redirect": target}
    return redirect(target, 303)


# --- Starting a projet de décompte from its décompte ----------------------------------------------------------------

def _pdm_choices(marche_id: int):
    return [c for c in piece_ops.deposit_choices(g.structure, marche_id) if c.cadre in decompte_ops.PDM_CADRES]


@bp.route("/marches/<int:marche_id>/projet-de-decompte", methods=["GET", "POST"])
@require_right(*CHANGE)
def decompte_start(marche_id: int):
    """A works piece starts from its décompte: the title, the month (after the last décompte), the number; then the
    cumul per line on the décompte page, which sends it."""
    access = marches_ops.access_for(g.structure, marche_id)
    if access is None or not access.confirmed:
        abort(404)
    choices = _pdm_choices(marche_id)
    party_id, cadre = request.values.get("party_id", type=int), (request.values.get("cadre") or "").upper()
    choice = next((c for c in choices if c.party_id == party_id and c.cadre == cadre), None)
    if choice is None:
        if len(choices) == 1:
            choice = choices[0]
        else:
            flash("Choisissez d'abord ce que vous déposez sur ce marché.", "error")
            return redirect(url_for("pieces.new", marche_id=marche_id), 303)
    party = next((row for row in access.own if row.id == choice.party_id), None)
    if party is None or not start_ops.has_lines(marche_id, party):  # no bordereau for its part: its PDF and amount
        return redirect(url_for("pieces.draft_new", marche_id=marche_id, party_id=choice.party_id,
                                cadre=choice.cadre), 303)
    form = StartDecompteForm(formdata=None) if request.method == "GET" else StartDecompteForm()
    if request.method == "GET":
        month = start_ops.default_month(choice.party_id, utcnow())
        form.party_id.data, form.cadre.data, form.month.data = str(choice.party_id), choice.cadre, month
        form.number.data = start_ops.suggested_number(month)
        form.issue_date.data = marches_ops.today(utcnow()).isoformat()
    elif form.validate_on_submit():
        try:
            piece = start_ops.start_decompte(current_user, g.structure, marche_id, form.raw(),
                                             main_file=form.main_upload(), now=utcnow())
        except OperationError as error:
            db.session.rollback()
            form.add_error(error)
        else:
            flash(f"Projet de décompte n° {piece.number} commencé : saisissez le cumul à ce jour de chaque ligne. "
                  "Il n'est PAS envoyé.", "info")
            return redirect(url_for("bordereau.decompte", piece_id=piece.id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("bordereau/decompte_start.html", marche=access.marche, choice=choice, form=form,
                           role_label=ROLE_LABELS.get(choice.role, choice.role)), status


@bp.get("/pieces/<int:piece_id>/decompte")
@require_right(*VIEW)
def decompte(piece_id: int):
    piece = _decompte_piece(piece_id, "consultation")
    return _decompte_page(piece, decompte_ops.sheet_for(piece))


@bp.post("/pieces/<int:piece_id>/decompte")
@require_right(*CHANGE)
def decompte_save(piece_id: int):
    piece = _decompte_piece(piece_id, "modification")
    form = ConfirmImportForm()  # only its CSRF token is checked
    values = request.form.to_dict()
    if not form.validate_on_submit():
        return _decompte_page(piece, decompte_ops.sheet_for(piece), values=values, status=422,
                              error="La demande a expiré : rechargez la page.")
    intent = request.form.get("intent")
    preview = intent == "preview"
    if preview and _inline() and request.form.get("row"):
        return _decompte_row(piece, values)
    try:
        if preview:
            sheet = decompte_ops.preview_decompte(g.structure, piece.id, values)
        else:
            sheet = decompte_ops.save_decompte(current_user, g.structure, piece.id, values, now=utcnow())
            if intent == "send":  # what the user sees is what is sent: saved, then deposited, in one request
                return _send_from_decompte(piece_id, values)
    except OperationError as error:
        db.session.rollback()
        piece = _decompte_piece(piece_id, "modification")
        return _decompte_page(piece, decompte_ops.sheet_for(piece), values=values, error=error.message,
                              error_field=error.field, status=422)
    if preview:
        db.session.rollback()  # nothing to keep: a computation only
        return _decompte_page(piece, sheet, values=values, status=422 if sheet.amount_error else 200)
    notice = (f"Décompte enregistré : {money(sheet.amount.montant_ht)} HT ce mois-ci, reportés sur le brouillon. "
              "Il n'est PAS envoyé.")
    if _inline():
        piece = _decompte_piece(piece_id, "modification")
        return _decompte_page(piece, decompte_ops.sheet_for(piece), notice=notice)
    flash(notice, "success")
    return redirect(url_for("bordereau.decompte", piece_id=piece.id), 303)
