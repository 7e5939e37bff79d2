"""The Tableau de bord's links to itself with a query (a status line, a sort, a page), without a `url_for` each.

`url_for` costs some 40 µs a link (the URL map's rule, the tenant's `url_defaults`, the query's quoting) and the
page wrote a dozen to twenty such links on every request (bench/page_cpu.py). Only the query differs between them:
the page's path is kept per structure (`layout_urls`) and the query is quoted as Werkzeug quotes it, in the order
given (the URL map does not sort the parameters). The text is `url_for`'s (tests/integration/test_board_writers.py
compares them over values to quote).
"""
from __future__ import annotations

from urllib.parse import urlencode

from chorus_chain.layout_urls import layout_url

ENDPOINT = "dashboard.tableau_de_bord"
# What Werkzeug leaves unquoted in a query (werkzeug.urls._urlencode: the WHATWG's percent-encode set).
_QUERY_SAFE = "!$'()*,/:;?@"


def board_url(query: dict) -> str:
    """`url_for("dashboard.tableau_de_bord", **query)` for text values (None values left out, as url_for does)."""
    items = [(key, value) for key, value in query.items() if value is not None]
    path = layout_url(ENDPOINT)
    return f"{path}?{urlencode(items, safe=_QUERY_SAFE)}" if items else path
