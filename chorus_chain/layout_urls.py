"""The URLs of the layout (top bar, menus, the static files it loads), built once per process and structure.

Every tenant page's layout links to some thirty places, and `url_for` costs some 30 µs each (the URL map's rule, the
tenant's `url_defaults`, quoting): about a millisecond of every page, more than its own content for a light one
(bench/page_cpu.py, the `aide` page). A layout link's URL depends only on the endpoint, the arguments given, the
structure of the address (its SIRET, which the tenant blueprints' `url_defaults` add) and where the application is
mounted (the script root): all of them are the key, so the text is exactly `url_for`'s (the tests compare them).
Only for links whose arguments are few and fixed (a page's own path as an argument would fill the table: the table
stops growing at MAX_KEPT and `url_for` answers beyond).
"""
from __future__ import annotations

from flask import g, has_request_context, request, url_for

MAX_KEPT = 20_000  # a few hundred structures × some thirty links: the busiest process keeps every one

_kept: dict[tuple, str] = {}


def layout_url(endpoint: str, **values) -> str:
    """`url_for(endpoint, **values)` for an absolute endpoint, kept per structure."""
    if endpoint.startswith(".") or not has_request_context():  # relative to the request's blueprint: not kept
        return url_for(endpoint, **values)
    structure = g.get("structure")
    key = (request.script_root, structure.siret if structure is not None else None, endpoint)
    if values:
        key += tuple(sorted(values.items()))
    url = _kept.get(key)
    if url is None:
        url = url_for(endpoint, **values)
        if len(_kept) < MAX_KEPT:
            _kept[key] = url
    return url


def register(app) -> None:
    app.add_template_global(layout_url)
