"""Support tickets. `support`: a member's tickets in its structure (tenant pages); `operator`: the platform
operators' queue (/operateur/demandes, 403 for anyone else). A form with errors answers 422."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from chorus_chain.blueprints.support.forms import ButtonForm, CategoryForm, MessageForm, TicketForm
from chorus_chain.blueprints.support.page_names import name_page
from chorus_chain.extensions import db
from chorus_chain.models.support import MAX_ATTACHMENT, TICKET_CATEGORY_LABELS, TICKET_STATUS_LABELS, Ticket
from chorus_chain.operations import OperationError
from chorus_chain.operations import support as ops
from chorus_chain.tenancy import tenant_blueprint

bp = tenant_blueprint("support", __name__, url_prefix="/demandes-aide")
operator_bp = Blueprint("operator", __name__, url_prefix="/operateur/demandes")

LABELS = {"STATUS_LABELS": TICKET_STATUS_LABELS, "CATEGORY_LABELS": TICKET_CATEGORY_LABELS}


def _attachment(form):
    upload = form.attachment.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    return upload.filename, upload.read(MAX_ATTACHMENT + 1)


def _own_ticket_or_404(ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.structure_id != g.structure.id:
        abort(404)
    return ticket


@bp.get("")
def index():
    tickets = db.session.scalars(select(Ticket).where(Ticket.structure_id == g.structure.id)
                                 .order_by(Ticket.updated_at.desc(), Ticket.id.desc())).all()
    return render_template("support/index.html", tickets=tickets, **LABELS)


@bp.route("/nouvelle", methods=["GET", "POST"])
def new():
    form = TicketForm()
    if request.method == "GET":
        form.page.data = request.args.get("page", "")[:500]
        form.piece_id.data = request.args.get("piece_id", "")
    elif form.validate_on_submit():
        try:
            ticket = ops.open_ticket(g.structure, current_user, form.subject.data, form.body.data,
                                     page_url=form.page.data, piece_id=form.piece_id.data,
                                     attachment=_attachment(form))
        except OperationError as error:
            form.add_error(error)
        else:
            flash("Votre demande est envoyée : l'équipe chorus-chain vous répondra ici.", "success")
            return redirect(url_for("support.show", ticket_id=ticket.id))
    status = 422 if request.method == "POST" else 200
    return render_template("support/new.html", form=form, piece=_piece_named(form.piece_id.data)), status


def _piece_named(piece_id):
    """The piece the form was opened from, named on the form as on the ticket (« la pièce n° PL-PDM-02 »), if the
    structure sees it (the one access predicate)."""
    from chorus_chain.operations import pieces as piece_ops

    try:
        number = int(piece_id or 0)
    except (TypeError, ValueError):
        return None
    return piece_ops.piece_for(g.structure, number) if 0 < number < 2**31 else None


@bp.get("/<int:ticket_id>")
def show(ticket_id: int):
    ticket = _own_ticket_or_404(ticket_id)
    return render_template("support/show.html", ticket=ticket, form=MessageForm(formdata=None),
                           ticket_piece=_ticket_piece(ticket), ticket_page=name_page(ticket.page_url, g.structure),
                           **LABELS)


def _ticket_piece(ticket):
    """The piece the ticket was opened from, as the structure sees it (the one access predicate): its number and a
    link; None when it no longer sees it."""
    from chorus_chain.operations import pieces as piece_ops

    return piece_ops.piece_for(g.structure, ticket.piece_id) if ticket.piece_id else None


@bp.post("/<int:ticket_id>/repondre")
def reply(ticket_id: int):
    ticket = _own_ticket_or_404(ticket_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            ops.user_reply(ticket, current_user, form.body.data, _attachment(form))
        except OperationError as error:
            form.add_error(error)
        else:
            return redirect(url_for("support.show", ticket_id=ticket.id))
    return render_template("support/show.html", ticket=ticket, form=form, ticket_piece=_ticket_piece(ticket),
                           ticket_page=name_page(ticket.page_url, g.structure), **LABELS), 422


def operator_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_operator:
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def _ticket_or_404(ticket_id: int) -> Ticket:
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        abort(404)
    return ticket


@operator_bp.get("")
@operator_required
def queue():
    show_closed = request.args.get("clos") == "1"
    query = select(Ticket).order_by(Ticket.created_at, Ticket.id)  # the oldest first
    if not show_closed:
        query = query.where(Ticket.status != "closed")
    return render_template("support/queue.html", tickets=db.session.scalars(query).all(), show_closed=show_closed,
                           **LABELS)


def _operator_page(ticket, form=None, category_form=None, status=200):
    if category_form is None:
        category_form = CategoryForm(formdata=None, category=ticket.category or "autre")
    # The page named without its objects and without a link: an operator reads no tenant's rows (page_names).
    return render_template("support/operator_show.html", ticket=ticket, form=form or MessageForm(formdata=None),
                           category_form=category_form, button=ButtonForm(formdata=None),
                           ticket_page=name_page(ticket.page_url), operator_view=True, **LABELS), status


@operator_bp.get("/contestations")
@operator_required
def contests():
    from chorus_chain.models.contests import CONTEST_STATUS_LABELS
    from chorus_chain.operations import contests as contest_ops

    return render_template("support/contests.html", contests=contest_ops.open_contests(), button=ButtonForm(),
                           CONTEST_STATUS_LABELS=CONTEST_STATUS_LABELS)


@operator_bp.post("/contestations/<int:contest_id>/decision")
@operator_required
def decide_contest(contest_id: int):
    from chorus_chain.models.base import utcnow
    from chorus_chain.models.contests import StructureContest
    from chorus_chain.operations import contests as contest_ops

    contest = db.session.get(StructureContest, contest_id)
    if contest is None:
        abort(404)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        contest_ops.decide(contest, current_user, upheld=request.form.get("decision") == "upheld",
                           decision=request.form.get("reason", ""), now=utcnow())
    except OperationError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("operator.contests"), 303)
    flash("Décision enregistrée et inscrite au journal de la structure ; le demandeur est prévenu par e-mail.",
          "success")
    return redirect(url_for("operator.contests"), 303)


@operator_bp.get("/<int:ticket_id>")
@operator_required
def ticket(ticket_id: int):
    return _operator_page(_ticket_or_404(ticket_id))


@operator_bp.post("/<int:ticket_id>/repondre")
@operator_required
def answer(ticket_id: int):
    found = _ticket_or_404(ticket_id)
    form = MessageForm()
    if form.validate_on_submit():
        try:
            ops.operator_answer(found, current_user, form.body.data, _attachment(form))
        except OperationError as error:
            form.add_error(error)
        else:
            return redirect(url_for("operator.ticket", ticket_id=found.id))
    return _operator_page(found, form=form, status=422)


@operator_bp.post("/<int:ticket_id>/categorie")
@operator_required
def categorise(ticket_id: int):
    found = _ticket_or_404(ticket_id)
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            ops.categorise(found, current_user, form.category.data)
        except OperationError as error:
            form.add_error(error)
        else:
            return redirect(url_for("operator.ticket", ticket_id=found.id))
    return _operator_page(found, category_form=form, status=422)


@operator_bp.post("/<int:ticket_id>/clore")
@operator_required
def close(ticket_id: int):
    found = _ticket_or_404(ticket_id)
    if ButtonForm().validate_on_submit():
        ops.close(found, current_user)
        flash("La demande est close.", "success")
        return redirect(url_for("operator.queue"))
    return _operator_page(found, status=422)
