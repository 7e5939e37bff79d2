"""Pièces de facturation: the boxes (à traiter, émises, reçues), the deposit (what to deposit, the draft, the pre-flight
check, the sending), the piece page (amounts, parties, route, status, files, dossier, timeline, deadlines) and the
actions this structure may take on it.

Each view loads and authorises in one helper (`_piece_or_404`, `_marche_or_404`), calls one operation
(`operations.pieces`) and renders a page or an HTMX fragment. A form shown again with errors answers 422, so the
request rolls back and nothing is kept.

Rights (CHORUS.md §1): the domain of a piece is "travaux" for a works piece, otherwise "emises" for its emitter and
"recues" for everyone else (`operations.pieces.rights_domain`). The routes ask for consultation (reading) or
modification (changing) on at least one of the three domains (`require_piece_right`, 403 otherwise), then
`_piece_or_404` checks the piece's own domain (404 when the structure does not see the piece, 403 when the member
lacks the right on its domain); the boxes only list the domains the member may read.
"""
from __future__ import annotations

import io
from functools import wraps

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from chorus_chain import access as tenant_access
from chorus_chain.blueprints.pieces import display
from chorus_chain.blueprints.pieces.forms import ButtonForm, DraftForm, FilterForm, action_form_class
from chorus_chain.blueprints.search_fields import html as search_html
from chorus_chain.blueprints.search_fields import marche as search_marche
from chorus_chain.domain import piece_documents, statuses
from chorus_chain.domain.cadres import CADRES
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db, htmx
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import documents as doc_ops
from chorus_chain.operations import documents_list
from chorus_chain.operations import interest as interest_ops
from chorus_chain.operations.interets import reading as interets_reading
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations import organisation as organisation_ops
from chorus_chain.operations import pieces as ops
from chorus_chain.operations.decompte_entry.start import has_lines
from chorus_chain.operations.decomptes import PDM_CADRES
from chorus_chain.operations.private_invoices import overdue as overdue_ops
from chorus_chain.tenancy import has_right, tenant_blueprint

bp = tenant_blueprint("pieces", __name__, url_prefix="/pieces")

PIECE_DOMAINS = ("emises", "travaux", "recues")
PER_PAGE = 25
BOX_TITLES = {"a_traiter": "À traiter", "emises": "Émises", "recues": "Reçues"}
BOX_ENDPOINTS = {"a_traiter": "pieces.a_traiter", "emises": "pieces.emises", "recues": "pieces.recues"}
# Files a browser may open as what they are; anything else is downloaded as bytes.
SAFE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif"}
FILTERS = ("marche_id", "cadre", "status", "number")
USER_ACTIONS = frozenset(T.ALL_ACTIONS) - {T.Action.DEPOSIT}


@bp.context_processor
def piece_helpers():
    return {**display.template_helpers(), "BOX_TITLES": BOX_TITLES, "BOX_ENDPOINTS": BOX_ENDPOINTS,
            "search_field": search_html.search_field}


def require_piece_right(level: str):
    """403 unless the member holds `level` on at least one of the pieces' domains (emises, travaux, recues); the
    domain of the piece itself is checked once it is loaded (`_piece_or_404`)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not any(has_right(domain, level) for domain in PIECE_DOMAINS):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_right = ("pieces", level)
        return wrapped

    return decorator


# --- Loading and authorising ---------------------------------------------------------------------------------------

def _piece_or_404(piece_id: int, level: str = "consultation"):
    """The piece if this structure sees it (404 otherwise, whoever's it is), and if the member holds `level` in the
    piece's domain for this structure (403 otherwise)."""
    piece = ops.piece_for(g.structure, piece_id)
    if piece is None:
        abort(404)
    if not has_right(ops.rights_domain(piece, g.structure.id), level):
        abort(403)
    return piece


def _marche_or_404(marche_id: int) -> marches_ops.MarcheAccess:
    access = marches_ops.access_for(g.structure, marche_id)
    if access is None or not access.confirmed:
        abort(404)
    return access


def _actor():
    return current_user._get_current_object()


def _inline() -> bool:
    """An HTMX request that wants a fragment (a boosted link or form, or a history restore, wants the page)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def _see_other(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), 303)


# --- The boxes -----------------------------------------------------------------------------------------------------

@bp.get("/")
@require_piece_right("consultation")
def a_traiter():
    return _box("a_traiter")


@bp.get("/emises")
@require_piece_right("consultation")
def emises():
    return _box("emises")


@bp.get("/recues")
@require_piece_right("consultation")
def recues():
    return _box("recues")


def _works_scope(box: str) -> tuple[bool, bool | None]:
    """(may list, `works` filter) for the member: a box mixes works pieces (right "travaux") with the others (right
    "emises" or "recues"); only what the member may read is listed."""
    works = has_right("travaux", "consultation")
    if box == "a_traiter":  # its drafts (emises) and what waits on it (recues, or emises as the emitter)
        others = has_right("emises", "consultation") and has_right("recues", "consultation")
    else:
        others = has_right(box, "consultation")
    if works and others:
        return True, None
    if works or others:
        return True, works
    return False, None


def _box(box: str):
    now = utcnow()
    # The marché filter: a select up to OFFER_MAX marchés, a search field beyond (search_fields.marche); the list's
    # HTMX request reads no choices (the form is not sent with it): the field's text, when it comes, says it is one.
    marches = marches_ops.marche_choices(g.structure) if not _inline() else None
    marche = search_marche.marche_search(request.args, g.structure.id, marches)
    form = FilterForm(formdata=request.args).set_choices([] if marche is not None or marches is None else marches)
    if marche is not None:
        form.marche_id.data = "" if marche.value is None else str(marche.value)
    form.set_url(url_for(BOX_ENDPOINTS[box]))
    allowed, works = _works_scope(box)
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    page = None
    if allowed:
        page = ops.pieces_for(g.structure, box=box, marche_id=form.int_or_none("marche_id"),
                              status=form.status_filter(), cadre=form.cadre_filter(), works=works,
                              number=form.number.data or None, page=page_number, per_page=PER_PAGE)
    rows = list(page.items) if page else []
    query = {k: v for k, v in request.args.items() if k in FILTERS and v}
    if marche is not None:  # the links carry what the text was read as
        query.pop("marche_id", None)
        if marche.value is not None:
            query["marche_id"] = str(marche.value)
    context = dict(box=box, form=form, page=page, rows=rows, now=now, allowed=allowed, works=works, query=query,
                   marche_search=marche)
    if _inline():
        listed = Markup(render_template("pieces/_list.html", **context))  # rendered: escaped already
        if marche is not None:  # what the text typed was read as, out of band (the field is outside the list)
            listed += search_html.understood(form.marche_id.id, form.marche_id.name, marche, oob=True)
        return listed
    return render_template("pieces/list.html", **context)


# --- Depositing: what, then the draft ------------------------------------------------------------------------------

def _choices_for(marche_id: int | None) -> tuple[marches_ops.MarcheAccess | None, list[tuple]]:
    if marche_id is None:
        return None, []
    access = marches_ops.access_for(g.structure, marche_id)
    if access is None or not access.confirmed:
        return None, []
    found = []
    for choice in ops.deposit_choices(g.structure, marche_id):
        domain = display.deposit_domain(choice.cadre, access.marche)
        found.append((choice, has_right(domain, "modification"), domain, _from_decompte(access, choice.party_id,
                                                                                         choice.cadre)))
    return access, found


def _from_decompte(access, party_id: int | None, cadre: str | None) -> bool:
    """A projet de décompte starts from its décompte when the party has lines in the bordereau (otherwise its PDF and
    its amount are the piece)."""
    if cadre not in PDM_CADRES:
        return False
    party = next((row for row in access.own if row.id == party_id), None)
    return party is not None and has_lines(access.marche.id, party)


@bp.get("/nouvelle")
@require_piece_right("modification")
def new():
    marches = marches_ops.marches_of(g.structure)
    marche_id = request.args.get("marche_id", type=int)
    if marche_id is None and len(marches) == 1:
        marche_id = marches[0][0].id
    access, choices = _choices_for(marche_id)
    context = dict(marches=marches, marche_id=marche_id, access=access, choices=choices)
    if _inline():
        return render_template("pieces/_choices.html", **context)
    return render_template("pieces/new.html", **context)


def _find_choice(marche_id: int, party_id: int | None, cadre: str | None):
    return next((c for c in ops.deposit_choices(g.structure, marche_id)
                 if c.party_id == party_id and c.cadre == cadre), None)


def _requested_cadre() -> str | None:
    """The cadre asked for (None: a private invoice). A code Chorus Pro does not have is no cadre to deposit in."""
    cadre = (request.values.get("cadre") or "").strip().upper() or None
    if cadre is not None and cadre not in CADRES:
        abort(404)
    return cadre


@bp.route("/nouvelle/<int:marche_id>", methods=["GET", "POST"])
@require_piece_right("modification")
def draft_new(marche_id: int):
    access = _marche_or_404(marche_id)
    party_id, cadre = request.values.get("party_id", type=int), _requested_cadre()
    if not has_right(display.deposit_domain(cadre, access.marche), "modification"):
        abort(403)
    choice = _find_choice(marche_id, party_id, cadre)
    if choice is None and request.method == "GET":
        flash("Choisissez d'abord ce que vous déposez sur ce marché.", "error")
        return _see_other("pieces.new", marche_id=marche_id)
    if request.method == "GET" and not request.args.get("depuis") and _from_decompte(access, party_id, cadre):
        # A works piece starts from its décompte (month, then the cumul per line), never from an amount.
        return _see_other("bordereau.decompte_start", marche_id=marche_id, party_id=party_id, cadre=cadre)
    if request.method == "GET":
        form = DraftForm(formdata=None).fill(ops.draft_defaults(g.structure, marche_id, party_id, cadre))
        form.issue_date.data = marches_ops.today(utcnow()).isoformat()
        _prefill_from(form, request.args.get("depuis", type=int), as_credit_note=request.args.get("avoir") == "1")
        return _new_draft_page(access, choice, form)
    form = DraftForm()
    if form.validate_on_submit():
        try:
            piece = ops.create_draft(_actor(), g.structure, marche_id, form.raw(), main_file=form.main_upload(),
                                     attachments=form.attachment_uploads(), now=utcnow())
        except OperationError as error:
            db.session.rollback()  # the piece may have been flushed before a file was refused: forget it now
            form.add_error(error)
        else:
            if request.form.get("intent") == "send":
                return _send(piece, after_create=True)
            flash(f"Brouillon n° {piece.number} enregistré. Il n'est PAS envoyé : personne d'autre ne le voit "
                  "tant que vous ne cliquez pas sur « Envoyer la pièce ».", "info")
            return _see_other("pieces.show", piece_id=piece.id)
    return _new_draft_page(access, choice, form, 422)


def _prefill_from(form: DraftForm, piece_id: int | None, *, as_credit_note: bool) -> None:
    """A new piece after a refusal or rejection: the refused piece's facts, with a new number to choose; as a
    credit note, the whole amount credited and the original invoice chosen."""
    if piece_id is None:
        return
    source = ops.piece_for(g.structure, piece_id)
    if source is None or source.emitter_structure_id != g.structure.id or source.is_draft:
        return
    values = _draft_values(source)
    values.pop("issue_date")  # today's, as for any new piece
    values.update(number="", original_piece_id="", previous_piece_id=source.previous_piece_id or "")
    if as_credit_note:
        values.update(piece_type="AVOIR", original_piece_id=source.id)
    form.fill(values)


def _draft_values(piece) -> dict:
    return {
        "party_id": piece.emitter_party_id, "cadre": piece.cadre or "", "piece_type": piece.piece_type,
        "number": piece.number, "issue_date": piece.issue_date.isoformat() if piece.issue_date else "",
        "montant_ht": display.amount_text(piece.montant_ht), "montant_tva": display.amount_text(piece.montant_tva),
        "montant_ttc": display.amount_text(piece.montant_ttc), "vat_regime": piece.vat_regime,
        "recipient_siret": piece.recipient_siret, "service_code": piece.service_code or "",
        "engagement_number": piece.engagement_number or "", "payment_mode": piece.payment_mode,
        "bank_account_id": piece.bank_account_id or "", "original_piece_id": piece.original_piece_id or "",
        "previous_piece_id": piece.previous_piece_id or "",
    }


def _set_draft_choices(form: DraftForm, marche_id: int) -> DraftForm:
    """The selects of a draft: the structure's active bank accounts, its invoices sent on the marché (for a credit
    note), and the pieces of the marché it sees (the previous piece of a dossier)."""
    bank_accounts = [a for a in organisation_ops.bank_accounts_of(g.structure) if a.active]
    sent = [row.piece for row in ops.pieces_for(g.structure, box="emises", marche_id=marche_id, per_page=100).items
            if not row.piece.is_draft]
    received = [row.piece for row in ops.pieces_for(g.structure, box="recues", marche_id=marche_id,
                                                     per_page=100).items]
    invoices = [piece for piece in sent if piece.piece_type == "FACTURE"]
    return form.set_choices(bank_accounts, invoices, sent + received)


def _new_draft_page(access, choice, form: DraftForm, status: int = 200):
    _set_draft_choices(form, access.marche.id)
    return render_template("pieces/draft_new.html", marche=access.marche, choice=choice, form=form,
                           role_label=ROLE_LABELS.get(choice.role, choice.role) if choice else None), \
        status


def _send(piece, *, after_create: bool = False):
    """Deposit a draft. Refused by the pre-flight check: a new draft stays saved (it was the user's work) and its
    page lists what to fix; a saved draft's page answers 422 with the problems."""
    try:
        piece = ops.deposit(piece.id, _actor(), g.structure, now=utcnow())
    except ops.PreflightRefused as error:
        if after_create:
            flash(f"Brouillon n° {piece.number} enregistré, mais PAS envoyé : {len(error.problems)} point(s) à "
                  "corriger avant l'envoi (voir ci-dessous).", "error")
            return _see_other("pieces.show", piece_id=piece.id)
        db.session.rollback()
        return _draft_page(_piece_or_404(piece.id), problems=error.problems, status=422)
    except OperationError as error:  # already sent (a double click, another tab): the page shows it as it is
        db.session.rollback()
        flash(error.message, "error")
        return _see_other("pieces.show", piece_id=piece.id)
    flash(f"La pièce n° {piece.number} est envoyée. Statut : « {statuses.label(piece.status)} ». "
          f"{statuses.explanation(piece.status)}", "success")
    return _see_other("pieces.show", piece_id=piece.id)


# --- The piece page ------------------------------------------------------------------------------------------------

@bp.get("/<int:piece_id>")
@require_piece_right("consultation")
def show(piece_id: int):
    piece = _piece_or_404(piece_id)
    if piece.is_draft:
        return _draft_page(piece)
    return render_template("pieces/show.html", **_piece_context(piece))


def _draft_page(piece, form: DraftForm | None = None, problems=None, status: int = 200):
    if problems is None:
        problems = ops.preflight(piece, utcnow())
    if form is None:
        form = DraftForm(formdata=None).fill(_draft_values(piece))
        for problem in problems:  # point at the fields to fix (the banner lists them all)
            if problem.field in form._fields and problem.field not in ("party_id", "cadre"):
                form[problem.field].errors = list(form[problem.field].errors) + [problem.message_fr]
    _set_draft_choices(form, piece.marche_id)
    can_change = has_right(ops.rights_domain(piece, g.structure.id), "modification")
    return render_template("pieces/draft.html", piece=piece, marche=piece.marche, form=form, problems=problems,
                           can_change=can_change, button=ButtonForm(formdata=None),
                           has_decompte=_decompte_of(piece) is not None), status


def _piece_context(piece, failed: tuple[str, object] | None = None, notice: str | None = None) -> dict:
    """Everything the piece page (and its fragments) shows. `failed`: the action just refused, with its form (kept
    with what was typed and its errors)."""
    now = utcnow()
    dossier = ops.dossier_of(piece, g.structure)
    names = display.structure_names(piece, dossier)
    domain = ops.rights_domain(piece, g.structure.id)
    can_act = has_right(domain, "modification")
    forms = []
    for choice in ops.allowed_actions_for(piece, g.structure):
        if failed is not None and failed[0] == choice.action:
            form = failed[1]
        else:
            form = action_form_class(choice, choice.action)(formdata=None, prefix=choice.action,
                                                            **_action_defaults(choice, piece, now))
        forms.append((choice, form))
    offered = {choice.action for choice, _ in forms}
    stale_errors = []
    if failed is not None and failed[0] not in offered:  # someone acted first: the action is gone, say why
        form = failed[1]
        stale_errors = list(form.form_errors) + [e for field in form for e in field.errors]
    own = piece.emitter_structure_id == g.structure.id
    deadlines = dossier.deadlines.get(piece.id, [])
    interest = interest_ops.piece_interest(piece, marches_ops.today(now))  # the rate table: 1 query, if late
    return dict(
        piece=piece, marche=piece.marche, dossier=dossier, names=names, now=now, domain=domain, can_act=can_act,
        forms=forms, stale_errors=stale_errors, notice=notice, own=own,
        route=display.route_lines(piece, names), waiting=display.waiting_text(piece, names),
        timeline=display.timeline(piece, dossier, names),
        open_deadlines=[d for d in deadlines if d.done_at is None],
        closed_deadlines=[d for d in deadlines if d.done_at is not None],
        start_again=own and display.is_refused_for_good(piece.status),
        interest=interest,
        interest_dues=interets_reading.dues_of_pieces([piece.id]).get(piece.id, []),  # 1 query
        documents=documents_list.piece_block(g.structure, piece, dossier.pieces, marches_ops.today(now)),  # 1 query
        document_kinds=_document_kinds(piece, dossier, interest, own),
        sees_bank=tenant_access.sees_bank_details(piece, g.structure.id),
        decompte=_decompte_of(piece),
        etat_associations=_etat_associations(piece),
        etat_document=_etat_document(piece),
        commercial_due=overdue_ops.due_of(piece, marches_ops.today(now)),
    )


def _etat_document(piece):
    """The état whose document this piece is (an A15 or A19 of an état d'acompte; the A17, A20 or A8 of the
    décompte général, or the A22 / A23 of its tacit procedure): its page shows the figures, the PDF and the
    decisions. None for any other piece (no query)."""
    from chorus_chain.operations.decompte_general import reading as dg_reading
    from chorus_chain.operations.etat_pieces import reading

    if piece.cadre in ("A15", "A19"):
        return reading.etats_of_pieces([piece.id]).get(piece.id)
    if piece.cadre in dg_reading.DG_CADRES:
        return dg_reading.etats_of_pieces([piece.id]).get(piece.id)
    if piece.cadre in dg_reading.TACIT_CADRES:  # the tacit procedure replaces the décompte général's PDG
        return dg_reading.final_etat_of(piece.marche_id)
    return None


def _document_kinds(piece, dossier, interest, own: bool) -> tuple[str, ...]:
    """The documents that apply to this piece for this structure (`domain.piece_documents`), from what the page has
    already loaded: the dossier's events (a tacit validation) and the interest block (paid late)."""
    tacit = any(entry.piece.id == piece.id and entry.event.action == T.Action.TACIT_VALIDATION
                for entry in dossier.timeline)
    claimable = (interest is not None and interest.error is None and interest.result is not None
                 and interest.result.late and not interest.accruing)
    return piece_documents.applicable(doc_ops.piece_facts(piece, tacit_validated=tacit, interest_claimable=claimable,
                                                          viewer_is_emitter=own))


def _decompte_of(piece):
    """A projet de décompte's lines as its validators must see them before validating (claimed cumul, previous,
    this month), and the état d'acompte that admitted them; None for any other piece or one without a décompte."""
    from chorus_chain.models.money import Decompte
    from chorus_chain.operations import decomptes as decompte_ops

    if piece.cadre not in PDM_CADRES:
        return None
    row = db.session.scalar(select(Decompte).where(Decompte.piece_id == piece.id))
    if row is None:
        return None
    return {"sheet": decompte_ops.sheet_for(piece), "etat_acompte_id": row.etat_acompte_id}


def _etat_associations(piece) -> list:
    """The états d'acompte that carried this projet de décompte (none for any other piece: no query)."""
    if piece.cadre not in T.PDM_CADRES:
        return []
    from chorus_chain.operations.etat_pieces import reading

    return reading.associations_of(piece.id, marches_ops.access_for(g.structure, piece.marche_id))


def _action_defaults(choice, piece, now) -> dict:
    """What an action's form starts with: the routing fields to correct (resend), the amount and day of a
    payment."""
    values = {name: getattr(piece, name) or "" for name in choice.changes}
    if choice.action == T.Action.MARK_PAID:
        values["amount"] = display.amount_text(piece.accepted_amount or piece.montant_ttc)
        values["paid_on"] = marches_ops.today(now).isoformat()
    return values


def perform_action(piece, action: str, *, prefix: str):
    """Validate the posted form of one action on `piece` and take it (the piece page and the Synthèse's work list
    both post here through their own views). Returns (the piece after the action, or None when it was refused; the
    form, carrying the French refusal on its fields)."""
    choice = next((c for c in ops.allowed_actions_for(piece, g.structure) if c.action == action), None)
    form = action_form_class(choice, action)(prefix=prefix)
    if form.validate_on_submit():
        try:
            return ops.act(piece.id, _actor(), g.structure, action,
                           expected_status=request.form.get("expected_status", ""), now=utcnow(),
                           **form.inputs()), form
        except ops.PreflightRefused as error:
            for problem in error.problems:
                form.add_error(problem.message_fr, problem.field)
        except OperationError as error:
            form.add_error(error)
    return None, form


@bp.post("/<int:piece_id>/action")
@require_piece_right("modification")
def act(piece_id: int):
    piece = _piece_or_404(piece_id, "modification")
    action = request.form.get("action", "")
    if action not in USER_ACTIONS:
        abort(400)
    done, form = perform_action(piece, action, prefix=action)
    if done is not None:
        notice = (f"C'est fait : « {T.ACTION_LABELS[action]} ». La pièce est maintenant "
                  f"« {statuses.label(done.status)} ».")
        if not _inline():
            flash(notice, "success")
            return _see_other("pieces.show", piece_id=done.id)
        db.session.expire(done)
        return _after_action(_piece_or_404(done.id), notice=notice)
    db.session.rollback()  # nothing of the refused action stays, and the page shows the piece as it is now
    piece = _piece_or_404(piece_id)
    if _inline():
        return _after_action(piece, failed=(action, form)), 422
    return render_template("pieces/show.html", **_piece_context(piece, failed=(action, form))), 422


def _after_action(piece, **kwargs):
    """The action panel (the request's target), with the status block, the files and the timeline swapped out of
    band: the rest of the page stays as it is."""
    return render_template("pieces/_after_action.html", **_piece_context(piece, **kwargs))


# --- Drafts: change, send, files -----------------------------------------------------------------------------------

@bp.post("/<int:piece_id>/brouillon")
@require_piece_right("modification")
def draft_save(piece_id: int):
    piece = _piece_or_404(piece_id, "modification")
    form = DraftForm()
    if form.validate_on_submit():
        try:
            piece = ops.update_draft(_actor(), g.structure, piece.id, form.raw(), main_file=form.main_upload(),
                                     attachments=form.attachment_uploads(), now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Brouillon n° {piece.number} enregistré. Il n'est toujours PAS envoyé.", "info")
            return _see_other("pieces.show", piece_id=piece.id)
    db.session.rollback()
    return _draft_page(_piece_or_404(piece_id), form=form, status=422)


@bp.post("/<int:piece_id>/envoyer")
@require_piece_right("modification")
def send(piece_id: int):
    piece = _piece_or_404(piece_id, "modification")
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _send(piece)


@bp.post("/<int:piece_id>/fichiers/<int:file_id>/retirer")
@require_piece_right("modification")
def file_remove(piece_id: int, file_id: int):
    piece = _piece_or_404(piece_id, "modification")
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        ops.remove_file(_actor(), g.structure, piece.id, file_id, now=utcnow())
    except OperationError as error:
        flash(error.message, "error")
        return _see_other("pieces.show", piece_id=piece.id)  # nothing changed: the commit is empty
    flash("Le fichier est retiré du brouillon.", "success")
    return _see_other("pieces.show", piece_id=piece.id)


@bp.get("/<int:piece_id>/fichiers/<int:file_id>")
@require_piece_right("consultation")
def file_download(piece_id: int, file_id: int):
    piece = _piece_or_404(piece_id)
    found = ops.file_content(piece.id, file_id)
    if found is None:
        abort(404)
    row, content = found
    mimetype = row.content_type if row.content_type in SAFE_TYPES else "application/octet-stream"
    response = send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=row.name,
                         etag=False, conditional=False, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
