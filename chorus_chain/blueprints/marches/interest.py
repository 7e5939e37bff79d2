"""The late-payment interest of a marché (/s/<siret>/marches/<id>/interets): the late payments ready to be claimed,
with their sum, and the unpaid pieces already late. The marché page loads it as an HTMX fragment after the page
(it reads every paid piece of the marché: kept off the page's own query budget); without JavaScript, the link
opens it as a page.

Access as the marché page: a confirmed role on the marché (404 otherwise) and "Factures de travaux – consultation"
(403); only the pieces the structure sees, in the rights domains the member may read, are counted.
"""
from __future__ import annotations

from flask import abort, g, render_template

from chorus_chain.extensions import htmx
from chorus_chain.models.base import utcnow
from chorus_chain.operations import interest as ops
from chorus_chain.operations import marches as marches_ops
from chorus_chain.tenancy import has_right, require_right, tenant_blueprint

bp = tenant_blueprint("marche_interest", __name__, url_prefix="/marches")


@bp.get("/<int:marche_id>/interets")
@require_right("travaux", "consultation")
def show(marche_id: int):
    access = marches_ops.access_for(g.structure, marche_id)
    if access is None or not access.confirmed:
        abort(404)
    today = marches_ops.today(utcnow())
    readable = [domain for domain in ops.PIECE_DOMAINS if has_right(domain, "consultation")]
    context = dict(marche=access.marche, today=today,
                   interest=ops.marche_interest(access.marche, g.structure.id, today, readable))
    fragment = bool(htmx) and not htmx.boosted and not htmx.history_restore_request
    return render_template("marches/_interest.html" if fragment else "marches/interest.html", **context)
