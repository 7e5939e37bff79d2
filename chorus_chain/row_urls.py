"""The URLs of a list's rows, built from one `url_for` per request and endpoint.

A list of pieces links each row to its page, its action and its fields: `url_for` costs some 40 µs each time (the URL
map's rule, the tenant's `url_defaults`, quoting), about a tenth of the Synthèse's and the Tableau de bord's CPU for
their hundred-odd links (bench/page_cpu.py). The URL of one row is the URL of another but for its id: the first call
of a request builds it around a marker id, the next ones put their id in its place. Only the integer argument varies;
the other arguments are part of what is kept. The text is exactly `url_for`'s (the tests compare them).
"""
from __future__ import annotations

import re

from flask import has_request_context, request, url_for
from markupsafe import escape

_MARK = 1_987_654_321  # an id within the `int` converter's bounds that no URL holds otherwise (checked below)
_SLUG_MARK = "chorus-slug-mark-1987654321"  # the same for a slug
_ATTRIBUTE = "_chorus_row_urls"  # kept on the request: a URL names the request's tenant (its SIRET)
# A slug `url_for` writes as it is (the `string` converter quotes nothing of these): put in place of the marker, it
# gives url_for's very text.
_PLAIN_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


def id_url(endpoint: str, name: str, value: int, **values) -> str:
    """`url_for(endpoint, **{name: value}, **values)`, for an integer `value`."""
    if type(value) is not int or not has_request_context():
        return url_for(endpoint, **{name: value}, **values)
    return _kept_url(endpoint, name, value, _MARK, values)


def slug_url(endpoint: str, name: str, value: str, **values) -> str:
    """`url_for(endpoint, **{name: value}, **values)`, for a slug (lower-case letters, digits, hyphens): the help
    centre's index links to some sixty articles, a url_for each was a quarter of its CPU (bench/page_cpu.py)."""
    if type(value) is not str or not _PLAIN_SLUG.fullmatch(value) or not has_request_context():
        return url_for(endpoint, **{name: value}, **values)
    return _kept_url(endpoint, name, value, _SLUG_MARK, values)


def _kept_url(endpoint: str, name: str, value, mark, values: dict) -> str:
    parts = _parts(endpoint, name, mark, values)
    if not parts:
        return url_for(endpoint, **{name: value}, **values)
    return f"{parts[0]}{value}{parts[1]}"


def _parts(endpoint: str, name: str, mark, values: dict) -> tuple[str, ...]:
    """The request's text of the URL before and after the argument, or () where `url_for` must answer each time."""
    kept = request.__dict__.get(_ATTRIBUTE)
    if kept is None:
        kept = request.__dict__[_ATTRIBUTE] = {}
    key = (endpoint, name, *sorted(values.items())) if values else (endpoint, name)
    parts = kept.get(key)
    if parts is None:
        built, mark_text = url_for(endpoint, **{name: mark}, **values), str(mark)
        # Anything else than one mention of the marker (a value holding its text): url_for, each time.
        parts = kept[key] = tuple(built.split(mark_text)) if built.count(mark_text) == 1 else ()
    return parts


def piece_url(piece_id: int) -> str:
    """The piece's page (`pieces.show`): the link of every row of every list of pieces."""
    return id_url("pieces.show", "piece_id", piece_id)


def piece_link_parts() -> tuple[str, str] | None:
    """The HTML-escaped text of `piece_url` before and after the id, for a writer of many rows in one request: the
    request is read once, not once a row (each `piece_url` reads it through Werkzeug's proxy). None where `piece_url`
    must answer itself (outside a request, or a marker `url_for` did not write once). An id is digits: escaping the
    parts escapes the whole."""
    if not has_request_context():
        return None
    parts = _parts("pieces.show", "piece_id", _MARK, {})
    return (str(escape(parts[0])), str(escape(parts[1]))) if parts else None


def register(app) -> None:
    app.add_template_global(id_url)
    app.add_template_global(piece_url)
