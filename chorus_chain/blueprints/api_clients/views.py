"""The API seen from the portal: the structure's API clients (gestionnaire principal only: create, with the secret
shown once; revoke; the journal of their calls), their webhook subscriptions with the delivery log (pause, resume),
and « Dépôts par lot », the reports of the batch deposits."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from chorus_chain.blueprints.api_clients.forms import NewClientForm
from chorus_chain.extensions import db
from chorus_chain.models import DepositBatch
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import api_clients as ops
from chorus_chain.operations import webhooks
from chorus_chain.security import recent_login_required
from chorus_chain.tenancy import has_right, require_gestionnaire, tenant_blueprint

bp = tenant_blueprint("api_clients", __name__)


def _page(form: NewClientForm, status: int = 200, created: ops.NewClient | None = None):
    return render_template("api_clients/index.html", clients=ops.clients_of(g.structure), form=form,
                           calls=ops.recent_calls(g.structure), created=created, now=utcnow()), status


@bp.get("/organisation/api")
@require_gestionnaire
def index():
    form = NewClientForm(formdata=None)
    form.fill({"emises": "consultation", "travaux": "consultation", "recues": "consultation",
               "organisation": "none"})
    return _page(form)


@bp.post("/organisation/api")
@require_gestionnaire
@recent_login_required
def create():
    form = NewClientForm()
    if form.validate_on_submit():
        try:
            created = ops.create_client(current_user, g.structure, form.data, now=utcnow())
        except OperationError as error:
            form.add_error(error)
        else:
            # Shown once, on this answer only: the secret is kept as a hash and never displayed again.
            return _page(NewClientForm(formdata=None).fill(created.client.rights()), 200, created)
    return _page(form, 422)


@bp.post("/organisation/api/<int:api_client_id>/revoquer")
@require_gestionnaire
def revoke(api_client_id: int):
    if ops.client_of(g.structure, api_client_id) is None:
        abort(404)
    try:
        client = ops.revoke_client(current_user, g.structure, api_client_id, now=utcnow())
    except OperationError as error:
        flash(error.message, "error")
    else:
        flash(f"Le client « {client.name} » est révoqué : ses jetons ne sont plus acceptés.", "success")
    return redirect(url_for(".index"))


@bp.get("/organisation/api/webhooks")
@require_gestionnaire
def webhooks_page():
    clients = {client.id: client for client in ops.clients_of(g.structure)}
    return render_template("api_clients/webhooks.html", subscriptions=webhooks.subscriptions_of(g.structure),
                           deliveries=webhooks.recent_deliveries(g.structure), clients=clients,
                           events=webhooks.EVENTS)


def _set_active(subscription_id: int, active: bool):
    if webhooks.subscription_of(g.structure, subscription_id) is None:
        abort(404)
    subscription = webhooks.set_active(g.structure, current_user, subscription_id, active)
    flash(f"Les envois vers {subscription.url} " + ("reprennent." if active else "sont suspendus : les changements "
                                                    "de statut n'en créent plus."), "success")
    return redirect(url_for(".webhooks_page"))


@bp.post("/organisation/api/webhooks/<int:subscription_id>/suspendre")
@require_gestionnaire
def webhook_pause(subscription_id: int):
    return _set_active(subscription_id, False)


@bp.post("/organisation/api/webhooks/<int:subscription_id>/reprendre")
@require_gestionnaire
def webhook_resume(subscription_id: int):
    return _set_active(subscription_id, True)


def _may_see_batches() -> bool:
    return has_right("emises", "consultation") or has_right("travaux", "consultation")


@bp.get("/depots-par-lot")
def batches():
    if not _may_see_batches():
        abort(403)
    rows = db.session.scalars(select(DepositBatch).where(DepositBatch.structure_id == g.structure.id)
                              .order_by(DepositBatch.at.desc(), DepositBatch.id.desc()).limit(100)).all()
    return render_template("api_clients/batches.html", batches=rows)


batches.required_right = ("emises", "consultation")


@bp.get("/depots-par-lot/<int:batch_id>")
def batch(batch_id: int):
    if not _may_see_batches():
        abort(403)
    row = db.session.scalar(select(DepositBatch).where(DepositBatch.id == batch_id,
                                                       DepositBatch.structure_id == g.structure.id))
    if row is None:
        abort(404)
    return render_template("api_clients/batch.html", batch=row)


batch.required_right = ("emises", "consultation")
