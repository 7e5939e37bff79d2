"""The structure's own administration: overview, members and approvals, rights, services, settings, bank details."""
from __future__ import annotations

from flask import g, render_template

from chorus_chain.tenancy import tenant_blueprint

bp = tenant_blueprint("organisation", __name__)


@bp.get("/")
def overview():
    return render_template("organisation/overview.html", structure=g.structure)
