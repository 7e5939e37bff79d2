"""The Tableau de bord's links to itself with a query (a status line, a sort, a page), without a `url_for` each.

`url_for` costs some 40 µs a link (the URL map's rule, the tenant's `url_defaults`, the query's quoting) and the
page wrote a dozen to twenty such links on every request (bench/page_cpu.py). Only the query differs between them:
the page's path is read once per request (`layout_urls`, kept per structure) and each name and value is quoted once
per process as Werkzeug quotes it (`urllib.parse.urlencode` with Werkzeug's safe characters: `quote_plus` of each),
in the order given (the URL map does not sort the parameters). The text is `url_for`'s
(tests/integration/test_board_writers.py compares them over values to quote).
"""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote_plus

from flask import g

from chorus_chain.layout_urls import layout_url

ENDPOINT = "dashboard.tableau_de_bord"
# What Werkzeug leaves unquoted in a query (werkzeug.urls._urlencode: the WHATWG's percent-encode set).
_QUERY_SAFE = "!$'()*,/:;?@"


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return quote_plus(text, safe=_QUERY_SAFE)


def board_path() -> str:
    """The Tableau de bord's path for the request's structure (read once per request)."""
    path = g.get("_board_path")
    if path is None:
        path = g._board_path = layout_url(ENDPOINT)
    return path


def board_url(query: dict, path: str | None = None) -> str:
    """`url_for("dashboard.tableau_de_bord", **query)` for text values (None values left out, as url_for does);
    `path`: `board_path()`, for a writer of many links (read once, not once a link through Werkzeug's proxy)."""
    if path is None:
        path = board_path()
    pairs = "&".join(f"{_quoted(key)}={_quoted(str(value))}" for key, value in query.items() if value is not None)
    return f"{path}?{pairs}" if pairs else path
