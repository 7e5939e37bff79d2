"""The structure's navigation in the layout of every tenant page (`_tenantnav.html`: base.html's `tenantnav` block),
rendered once per process for each combination of what it reads, then kept.

Its twenty-odd links, the rights that decide which are shown and the current page's mark were half of the layout's
template time (about 0.5 of 0.85 ms of CPU per page, bench/page_cpu.py): the same few dozen variants rendered anew on
every page. What the template reads is the key here — the application's mount point and the structure (its links'
URLs, as `layout_urls`), the member's rights and whether it is the structure's gestionnaire (which links are shown),
the page's endpoint and blueprint (aria-current), the pending approvals beside « Approbations » (read as before, with
the bell's count: `layout_counts`) — so the text kept is the text the template writes for that key. The table stops
growing at MAX_KEPT; beyond, the template renders each time.
"""
from __future__ import annotations

from flask import g, render_template, request
from flask_login import current_user
from markupsafe import Markup

from chorus_chain import layout_counts
from chorus_chain.tenancy import has_right

MAX_KEPT = 20_000  # structures × rights × pages: a busy process keeps the variants its members see

_kept: dict[tuple, Markup] = {}


def tenant_nav() -> Markup:
    """The navigation of the current structure for the current member and page."""
    key = _key()
    html = _kept.get(key)
    if html is None:
        html = Markup(render_template("_tenantnav.html"))
        if len(_kept) < MAX_KEPT:
            _kept[key] = html
    return html


def _key() -> tuple:
    structure, rights = g.structure, g.rights
    # Read only where the template shows it (beside « Approbations », for a member who sees the organisation).
    pending = layout_counts.pending_approvals() if has_right("organisation", "consultation") else None
    return (request.script_root, structure.siret, tuple(sorted(rights.items())),
            structure.gestionnaire_id == current_user.id, request.endpoint, request.blueprint, pending)


def register(app) -> None:
    app.add_template_global(tenant_nav)
