"""The e-invoicing reform page of a structure (/s/<siret>/facturation-electronique): any member may read it."""
from __future__ import annotations

from flask import g, render_template

from chorus_chain.domain import reform
from chorus_chain.formatting import PARIS
from chorus_chain.models.base import utcnow
from chorus_chain.tenancy import tenant_blueprint

bp = tenant_blueprint("reform", __name__, url_prefix="/facturation-electronique")


def _today():
    return utcnow().astimezone(PARIS).date()


@bp.get("")
def page():
    size_class = g.structure.size_class
    return render_template("help/reform.html", size_class=size_class,
                           size_label=reform.SIZE_LABELS.get(size_class, size_class),
                           obligations=reform.obligations(size_class, _today()))
