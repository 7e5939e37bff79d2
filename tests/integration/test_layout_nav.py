"""The structure's navigation kept by `layout_nav` is the one its template writes, for every member and page: the
rights, the gestionnaire, the current page and the pending approvals are its key (a member never gets another's
links, nor a stale count)."""
from __future__ import annotations

import re

from flask import template_rendered

from chorus_chain import layout_nav
from tests import factories

NAV = re.compile(r'<nav class="tenantnav".*?</nav>', re.S)
PAGES = ("", "aide/", "synthese", "tableau-de-bord", "utilisateurs", "approbations", "marches/", "pieces/")


def _navs(clients: dict, base: str, forget: bool) -> dict:
    """The navigation of every page for every member; `forget`: rendered anew for each page."""
    seen = {}
    for who, client in clients.items():
        for page in PAGES:
            if forget:
                layout_nav._kept.clear()
            response = client.get(f"{base}/{page}")
            found = NAV.search(response.get_data(as_text=True))
            seen[who, page] = (response.status_code, found.group(0) if found else None)
    return seen


def _renders(app):
    """How many times the navigation's template is rendered (a list the signal appends to)."""
    renders = []

    def rendered(sender, template, context, **extra):
        if template.name == "_tenantnav.html":
            renders.append(1)

    template_rendered.connect(rendered, app)
    return renders, lambda: template_rendered.disconnect(rendered, app)


def test_the_navigation_kept_is_the_navigation_rendered(app, db):
    t = factories.team(app)
    clients = {}
    for who in ("gp", "admin", "viewer", "colleague", "powerless"):
        clients[who] = app.test_client()
        factories.login(clients[who], getattr(t, who))
    rendered = _navs(clients, t.base, forget=True)
    assert len({nav for _, nav in rendered.values() if nav}) > len(PAGES)  # members and pages see different navs
    assert 'aria-current="page"' in rendered["gp", "utilisateurs"][1]
    assert "Utilisateurs" in rendered["admin", ""][1] and "Utilisateurs" not in rendered["colleague", ""][1]
    assert 'class="count" title="1 demande(s)' in rendered["admin", ""][1]  # the pending applicant
    # Kept in another order (a member's variant first in the table, the others after it), then read again.
    assert _navs(dict(reversed(clients.items())), t.base, forget=False) == rendered
    renders, stop = _renders(app)
    try:
        assert _navs(clients, t.base, forget=False) == rendered
    finally:
        stop()
    assert renders == []  # every one came from the table
    # A new request to join: the approvers' count follows (the count is part of the key).
    factories.member(app, t.structure, factories.quick_account(app), status="pending")
    page = clients["admin"].get(f"{t.base}/aide/").get_data(as_text=True)
    assert 'class="count" title="2 demande(s)' in NAV.search(page).group(0)
