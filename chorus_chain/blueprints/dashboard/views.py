"""The dashboards of a structure: the Synthèse (what waits on it, most urgent first, with the actions inline) and the
Tableau de bord (counts and amounts, a filtered and sorted list, one panel per part it plays, its unread
notifications refreshing themselves).

Thin views on `operations.dashboard`. They reuse the pieces' rules: the same rights (`require_piece_right`, and the
member's reading scope `_works_scope`), the same loading helper (`_piece_or_404`), the same action forms and the same
operation (`operations.pieces.act`, with the status the user saw). An HTMX request gets the fragment it targets; a
boosted link, a history restore or a browser without JavaScript gets the whole page (and `Vary: HX-Request` is set
for every answer by `web`).
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from chorus_chain import layout_counts, plan_cache, web
from chorus_chain.blueprints.dashboard import (board_filters, board_fragment, board_rows, filter_fields, overdue_list,
                                              work_actions, work_items)
from chorus_chain.blueprints.dashboard.forms import BoardFilterForm
from chorus_chain.blueprints.pieces import display
from chorus_chain.blueprints.search_fields import html as search_html
from chorus_chain.blueprints.search_fields import marche as search_marche
from chorus_chain.blueprints.search_fields import pages as search_pages
from chorus_chain.blueprints.pieces import views as pieces_views
from chorus_chain.blueprints.pieces.forms import ListedActionForm, action_form_class
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db, htmx
from chorus_chain.models.base import utcnow
from chorus_chain.operations import dashboard as board
from chorus_chain.operations import marches as marches_ops
from chorus_chain.operations import pieces as ops
from chorus_chain.operations.board_reading import filter_lookups, parties
from chorus_chain.operations.private_invoices import overdue as overdue_ops
from chorus_chain.operations.tresorerie import forecast as tresorerie_rules
from chorus_chain.tenancy import has_right, tenant_blueprint

bp = tenant_blueprint("dashboard", __name__)

WORK_PER_PAGE = 20
BOARD_PER_PAGE = 25
NOTIFICATIONS_SHOWN = 5
SYNTHESE_MARCHE = "synthese-marche"  # the id of the Synthèse's marché filter (a select, or a search field's prefix)
require_piece_right = pieces_views.require_piece_right
_inline = pieces_views._inline


@bp.context_processor
def dashboard_helpers():
    return {**display.template_helpers(), "PART_LABELS": board.PART_LABELS, "waiting_text": display.waiting_text,
            "action_prefix": action_prefix, "say": tresorerie_rules.say,
            "listed_action_form": work_actions.listed_action_form, "work_item_head": work_items.work_item_head,
            "filter_field": filter_fields.filter_field, "filter_select": filter_fields.select_html,
            "marche_options": filter_fields.marche_options, "search_field": search_html.search_field,
            "SYNTHESE_MARCHE": SYNTHESE_MARCHE,
            "board_list_rows": board_rows.list_rows, "waiting_table": board_rows.waiting_table,
            "clock_rows": board_rows.clock_rows, "board_sort_link": board_rows.sort_link,
            "overdue_html": overdue_list.overdue_html, "tracker_items": board_rows.tracker_items}


def action_prefix(piece_id: int, action: str) -> str:
    """The form prefix of one action of one row: field ids stay unique on a page listing many pieces."""
    return f"p{piece_id}-{action}"


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


# --- Synthèse ------------------------------------------------------------------------------------------------------

@bp.get("/synthese")
@require_piece_right("consultation")
@plan_cache.generic_plans  # its statements read the same bounded index ranges for every structure (plan_cache)
def synthese():
    return _synthese()


def _synthese(failed: tuple[int, str, object] | None = None, notice: str | None = None, status: int = 200):
    """The page, or the work list alone for HTMX. `failed`: (piece id, action, form) of an action just refused,
    shown again in its row with what was typed and the errors."""
    allowed, works = pieces_views._works_scope("a_traiter")
    # The marché filter: a select up to OFFER_MAX marchés, a search field beyond (its list's HTMX request reads no
    # choices: the field's text, when it comes, says it is one).
    marches = marches_ops.marche_choices(g.structure) if not _inline() else None
    marche = search_marche.marche_search(request.values, g.structure.id, marches)
    marche_id = marche.value if marche is not None else request.values.get("marche_id", type=int)
    work = board.work_list(g.structure, works=works, marche_id=marche_id, page=_page_number(),
                           per_page=WORK_PER_PAGE) if allowed else None
    rows = []
    for row in work.page.items if work else ():
        forms = []
        for choice in work.choices.get(row.piece.id, ()):
            if failed is not None and failed[:2] == (row.piece.id, choice.action):
                form = failed[2]
            else:  # its fields come when the action is opened (action_fields): the row needs its token alone
                form = ListedActionForm(action_form_class(choice, choice.action),
                                        action_prefix(row.piece.id, choice.action))
            forms.append((choice, form))
        rows.append((row, forms, has_right(ops.rights_domain(row.piece, g.structure.id), "modification")))
    stale = None
    if failed is not None and not any(row.piece.id == failed[0] and any(c.action == failed[1] for c, _ in forms)
                                      for row, forms, _ in rows):
        form = failed[2]  # someone acted first: the action is gone from the list, say why
        stale = " ".join(list(form.form_errors) + [e for f in form for e in f.errors]) or None
    context = dict(work=work, rows=rows, allowed=allowed, works=works, now=utcnow(), notice=notice, stale=stale,
                   marche_id=marche_id, marches=marches or [], marche_search=marche,
                   overdue_private=_overdue_private() if not _inline() else [])
    if _inline():
        work_list = Markup(render_template("dashboard/_work_list.html", **context))  # rendered: escaped already
        if marche is not None:  # what the text typed was read as, out of band (the field is outside the list)
            work_list += search_html.understood(SYNTHESE_MARCHE, "marche_id", marche, oob=True)
        return work_list, status
    return render_template("dashboard/synthese.html", **context), status


@bp.post("/synthese/<int:piece_id>/action")
@require_piece_right("modification")
def act(piece_id: int):
    """One action of the work list, then the list again (the piece leaves it, or shows its next step)."""
    piece = pieces_views._piece_or_404(piece_id, "modification")
    action = request.form.get("action", "")
    if action not in pieces_views.USER_ACTIONS:
        abort(400)
    done, form = pieces_views.perform_action(piece, action, prefix=action_prefix(piece.id, action))
    if done is not None:
        notice = (f"Pièce n° {done.number} : « {T.ACTION_LABELS[action]} » fait. Elle est maintenant "
                  f"« {statuses.label(done.status)} ».")
        if not _inline():
            flash(notice, "success")
            return redirect(url_for("dashboard.synthese"), 303)
        db.session.expire_all()
        return _synthese(notice=notice)
    db.session.rollback()  # nothing of the refused action stays; the list shows the pieces as they are now
    return _synthese(failed=(piece_id, action, form), status=422)


@bp.get("/synthese/<int:piece_id>/action")
@require_piece_right("modification")
def action_fields(piece_id: int):
    """The fields of one action of the work list (a reason, an amount, a day…), fetched by HTMX when its row's action
    is opened: the list itself carries every action's button but not every field of every row, which was most of the
    page's CPU (bench/page_cpu.py). Without JavaScript the row links to the piece's page, where the same form is
    whole; this address, opened as a page, sends there too."""
    piece = pieces_views._piece_or_404(piece_id, "modification")
    action = request.args.get("action", "")
    if action not in pieces_views.USER_ACTIONS:
        abort(404)  # no such action, hence no such form (the address is read, not posted: not a bad request)
    choice = next((c for c in ops.allowed_actions_for(piece, g.structure) if c.action == action), None)
    if choice is None:  # someone acted first: the list, as it is now, says what is left to do
        gone = (f"Pièce n° {piece.number} : « {T.ACTION_LABELS[action]} » n'est plus possible, elle est maintenant "
                f"« {statuses.label(piece.status)} ».")
        if _inline():
            return render_template("_message.html", category="error", text=gone), 409, web.HTMX_TO_MESSAGES
        flash(gone, "error")
        return redirect(url_for("dashboard.synthese"), 303)
    if not _inline():
        return redirect(url_for("pieces.show", piece_id=piece.id, _anchor=f"action-{action}"), 303)
    form = action_form_class(choice, action)(formdata=None, prefix=action_prefix(piece.id, action),
                                             **pieces_views._action_defaults(choice, piece, utcnow()))
    return render_template("pieces/_action_fields.html", choice=choice, form=form)


# --- Tableau de bord -----------------------------------------------------------------------------------------------

@bp.get("/tableau-de-bord")
@require_piece_right("consultation")
@plan_cache.generic_plans  # but for its statements marked `plan_cache.custom_plan` (checked: bench README, session 11)
def tableau_de_bord():
    now = utcnow()
    allowed, works = pieces_views._works_scope("a_traiter")
    # The companies offered are bounded (a select of thousands is no filter): beyond, those of the chosen marché.
    # With the companies, the structure's own parties, read once: the marché filter's choices and the panels' parts.
    args = request.args
    offer, own = board.filter_reads(g.structure, args.get("marche_id", type=int), args.get("party_id", type=int))
    # Beyond OFFER_MAX marchés or companies, those filters are search fields (search_fields.marche, board_filters): their text is read.
    marche = (search_marche.read_marche(args, g.structure.id) if search_marche.marche_is_search(own.marches)
              else None)
    if marche is not None and marche.value != args.get("marche_id", type=int):
        offer = parties.offer(g.structure.id, marche.value, args.get("party_id", type=int))  # typed by hand
    party = (board_filters.read_party(args, g.structure.id, offer, marche.value if marche else
                                      args.get("marche_id", type=int))
             if board_filters.party_is_search(args, offer) else None)
    form = (BoardFilterForm(formdata=args).set_choices([] if marche else own.marches, offer.parties)
            .set_searches(marche, party))
    filters = form.filters()
    sort = args.get("tri") or board.DEFAULT_SORT
    query = {k: v for k, v in args.items() if k in BoardFilterForm.NAMES and v}
    for name, search in (("marche_id", marche), ("party_id", party)):  # the links carry what the text was read as
        if search is not None:
            query.pop(name, None)
            if search.value is not None:
                query[name] = str(search.value)
    context = dict(form=form, allowed=allowed, works=works, now=now, sort=board.parse_sort(sort), offer=offer,
                   query=query, marche_search=marche, party_search=party)
    context["filter_query"] = {k: v for k, v in context["query"].items() if k != "tri"}
    if allowed:
        context["overview"] = summary = board.overview(g.structure, filters, works)
        context["page"] = board.piece_list(g.structure, filters, works, sort=sort, after=request.args.get("apres"),
                                           before=request.args.get("avant"), per_page=BOARD_PER_PAGE,
                                           counted=summary)
    if _inline():
        # The companies offered follow the marché chosen (beyond OFFER_MAX, only its companies are offered): the
        # select comes with the list, out of band. Without the right to read pieces there is no list to send (the
        # page says why; the template's fragment failed on the missing counts).
        if not allowed:
            abort(403)
        said = Markup("").join(search_html.understood(field.id, field.name, search, oob=True) for field, search in (
            (form.marche_id, marche), (form.party_id, party)) if search is not None)
        return _board(context, party_oob=party is None) + said
    if allowed:
        context["board"] = _board(context)
        context["panels"] = board.panels(g.structure, works, now, own=own)
    return render_template("dashboard/tableau_de_bord.html", **context, **_notifications_context(),
                           overdue_private=_overdue_private())


def _board(context: dict, party_oob: bool = False):
    """The `#board` fragment (board_fragment: what `_board.html` wrote)."""
    return board_fragment.board_html(overview=context["overview"], page=context["page"], sort=context["sort"],
                                     filter_query=context["filter_query"], works=context["works"],
                                     now=context["now"], party_field=context["form"].party_id if party_oob else None)


@bp.get("/tableau-de-bord/filtres/marches")
@require_piece_right("consultation")
def marche_suggestions():
    """The marché filter's suggestions for the text typed (HTMX: the options of its list): the structure's marchés
    whose reference holds it, as the select offered them — for every page's marché filter (the Tableau de bord, the
    Synthèse, the pieces' lists: `search_fields.html.SEARCHES`). Opened as a page (no JavaScript), the page the
    field was on (`search_fields.pages`: one of the structure's pages named, never an address sent) with the text
    typed, which it reads whole."""
    text = request.args.get(search_marche.MARCHE_TEXT, "").strip()
    if not _inline():
        return _back("marche_id", **{search_marche.MARCHE_TEXT: text})
    found = filter_lookups.marches_matching(g.structure.id, text)
    return search_html.suggestions_html("marche_id", found, "Aucun de vos marchés ne correspond.")


@bp.get("/tableau-de-bord/filtres/entreprises")
@require_piece_right("consultation")
def party_suggestions():
    """The company filter's suggestions for the text typed (HTMX), of the marché chosen if any: the companies whose
    pieces the structure sees and its own, as the select offered them. Opened as a page, the page the field was on
    (the Tableau de bord alone writes it) filtered by the text typed whole."""
    text = request.args.get(board_filters.PARTY_TEXT, "").strip()
    marche_id = request.args.get("marche_id", type=int)
    if not _inline():
        return _back("party_id", marche_id=marche_id, **{board_filters.PARTY_TEXT: text})
    found = filter_lookups.companies_matching(g.structure.id, text, marche_id)
    return search_html.suggestions_html(
        "party_id", [(row[0], board_filters.party_label(*row[1:])) for row in found],
        "Aucune entreprise ne correspond.")


def _back(field: str, **values):
    """A suggestions' route opened as a page: back to the page its field was on, or 400 when the page named is not
    one of the structure's pages writing that field (an address sent in the parameter is never followed)."""
    url = search_pages.back_url(field, request.args, **values)
    if url is None:
        abort(400)
    return redirect(url, 303)


@bp.get("/tableau-de-bord/entreprises")
@require_piece_right("consultation")
def entreprises():
    """« Montants par entreprise » whole: every party working under the structure's, by marché and name, a page at a
    time (the Tableau de bord's panel shows the few to look at first and sums the others)."""
    allowed, _ = pieces_views._works_scope("a_traiter")
    if not allowed:
        abort(403)
    page = board.subcontractor_page(g.structure, after=request.args.get("apres"), before=request.args.get("avant"))
    return render_template("dashboard/entreprises.html", page=page)


@bp.get("/tableau-de-bord/marches")
@require_piece_right("consultation")
def marches():
    """« Par marché » whole: every marché of the structure's pieces (within the member's rights), by reference, a
    page at a time (the Tableau de bord's card shows those with the most pieces under way and sums the others)."""
    allowed, works = pieces_views._works_scope("a_traiter")
    if not allowed:
        abort(403)
    page = board.marche_page(g.structure, works, after=request.args.get("apres"), before=request.args.get("avant"))
    return render_template("dashboard/marches.html", page=page, works=works)


def _overdue_private():
    """The private invoices this structure issued or must pay, unpaid past their due date (code de commerce)."""
    if not has_right("emises", "consultation") and not has_right("recues", "consultation"):
        return []
    return overdue_ops.overdue_for(g.structure, marches_ops.today(utcnow()))


@bp.get("/tableau-de-bord/notifications")
def notifications():
    """The unread notifications panel alone (HTMX polls it every 60 s); without HTMX, the notifications page. Any
    member reads its own notifications (as the bell)."""
    if not htmx:
        return redirect(url_for("notifications.index"))
    return render_template("dashboard/_notifications.html", **_notifications_context())


def _notifications_context() -> dict:
    # The bell's own count and the panel's rows (layout_counts: one statement, with the pending approvals beside
    # « Approbations »; the layout reads the count kept).
    unread, latest = layout_counts.unread_panel(NOTIFICATIONS_SHOWN)
    return dict(unread=unread, latest=latest)
