"""The ECB rate table of late-payment interest (/taux-bce): read by anyone logged in (the interest block of a piece
links here), changed by the platform operators only (403 for anyone else). Not a tenant page: the table is reference
data shared by every marché. A form with errors answers 422 (nothing kept)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from chorus_chain.blueprints.rates.forms import DeleteForm, RateForm
from chorus_chain.blueprints.support.views import operator_required
from chorus_chain.formatting import day, exact
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import interest as ops

bp = Blueprint("rates", __name__, url_prefix="/taux-bce")

FIRST_YEAR = 2023  # the half-years shown: from 2023 (the seeded rates of the issue) to next year


def _page(form: RateForm | None = None, status: int = 200):
    rows = ops.rates()
    table = ops.table_of(rows)
    today = utcnow().date()
    halves = [h for h in ops.half_year_rates(table, FIRST_YEAR, today.year + 1) if h.start <= today]
    operator = current_user.is_operator
    return render_template("rates/index.html", rows=list(reversed(rows)), halves=list(reversed(halves)),
                           operator=operator, form=form or (RateForm(formdata=None) if operator else None),
                           delete_form=DeleteForm(formdata=None), FLAT_FEE=ops.FLAT_FEE), status


@bp.get("/")
@login_required
def index():
    return _page()


@bp.post("/")
@operator_required
def add():
    form = RateForm()
    if form.validate_on_submit():
        try:
            row = ops.set_rate(form.effective_from.data, form.rate.data, source=form.source.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            flash(f"Taux de la BCE au {day(row.effective_from)} : {exact(row.rate_percent)} % enregistré.",
                  "success")
            return redirect(url_for("rates.index"), 303)
    return _page(form, 422)


@bp.post("/supprimer")
@operator_required
def delete():
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            removed = ops.delete_rate(date.fromisoformat(form.effective_from.data or ""))
        except ValueError:
            flash("Date illisible : rien n'est supprimé.", "error")
            return _page(status=422)
        except OperationError as error:
            flash(error.message, "error")
            return _page(status=422)
        flash(f"Le taux du {day(removed.effective_from)} est supprimé.", "success")
        return redirect(url_for("rates.index"), 303)
    return _page(status=422)
