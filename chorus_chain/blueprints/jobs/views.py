"""The operators' view of the job outbox (/operateur/travaux, 403 for anyone else): the jobs « en échec » with their
error and tries, the ones waiting longer than expected, and « Relancer » (the same replay as `flask outbox replay`).

Operators are platform staff: the page reads across tenants on purpose (`system_access`), and shows what a job is
(its kind, its ids, its error), never the e-mail's body or the document's content."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from chorus_chain.access import system_access
from chorus_chain.blueprints.support.forms import ButtonForm
from chorus_chain.blueprints.support.views import operator_required
from chorus_chain.extensions import db
from chorus_chain.models import OutboxJob
from chorus_chain.models.base import utcnow

bp = Blueprint("operator_jobs", __name__, url_prefix="/operateur/travaux")

KIND_LABELS = {"send_mail": "E-mail", "render_document": "Document"}


@bp.get("")
@operator_required
def index():
    from chorus_chain.jobs.outbox import failed_rows

    now = utcnow()
    with system_access("operators: the outbox of every tenant"):
        failed = failed_rows()
        waiting = db.session.scalars(select(OutboxJob).where(OutboxJob.status == "pending",
                                                             OutboxJob.created_at < now - timedelta(minutes=10))
                                     .order_by(OutboxJob.created_at).limit(200)).all()
        pending = db.session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.status == "pending"))
    return render_template("jobs/index.html", failed=failed, waiting=waiting, pending=pending,
                           KIND_LABELS=KIND_LABELS, button=ButtonForm(formdata=None))


@bp.post("/<int:job_id>/relancer")
@operator_required
def replay(job_id: int):
    from chorus_chain.jobs.outbox import replay as replay_job

    form = ButtonForm()
    if form.validate_on_submit():
        with system_access("operators: replay a job of any tenant"):
            row = replay_job(job_id)
        if row is None:
            flash("Ce travail n'est pas en échec : rien à relancer.", "info")
        else:
            flash(f"Travail n° {job_id} relancé : il repart pour de nouveaux essais.", "success")
    return redirect(url_for("operator_jobs.index"), 303)
