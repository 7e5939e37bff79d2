"""Request shapes no person sends, answered with a French 4xx instead of a 500 (issue 13).

- An integer in a URL beyond PostgreSQL's `integer` (ids are 32-bit): no such row, 404, before any query.
- A control character (NUL, escape, bell...) in a query or form value: 400. No one types one; PostgreSQL refuses NUL
  in text, and the others end up invisible in other companies' pages and documents. Tab, and line breaks in a posted
  form (a multi-line reason), stay allowed; the forms refuse line breaks in one-line fields (`blueprints.forms`).
- Whatever still reaches the database out of range (a huge number in a filter, a value a column cannot hold) is a
  DataError: the transaction is rolled back and the answer is 400, not 500. So is an OverflowError (date arithmetic
  on year 9999): the parsers bound the dates they read (`domain.dates`), this is the net behind them.
"""
from __future__ import annotations

import logging

from flask import Flask, current_app, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from chorus_chain.domain import text as text_rules

log = logging.getLogger(__name__)

PG_INTEGER_MAX = 2**31 - 1

CONTROL_TEXT = ("La demande contient un caractère de contrôle invisible (caractère nul ou autre) : retirez-le du "
                "texte saisi (retapez-le plutôt que de le coller) puis recommencez. Rien n'a été enregistré.")
OUT_OF_RANGE_TEXT = ("Une valeur de la demande est hors des limites acceptées (nombre trop grand, date trop lointaine "
                     "ou texte trop long). Corrigez-la puis recommencez : rien n'a été enregistré.")


class HostileInput(BadRequest):
    """A 400 whose French text says what was wrong (web._error_page shows `text`)."""

    def __init__(self, text: str):
        super().__init__(description=text)
        self.text = text


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to what an `integer` column holds: a larger id matches no route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=PG_INTEGER_MAX if max is None else max,
                         signed=signed)


def install_converters(app: Flask) -> None:
    """Before any blueprint is registered: the rules pick their converter when they are added."""
    app.url_map.converters["int"] = BoundedIntConverter


def init_app(app: Flask) -> None:
    install_converters(app)
    app.before_request(refuse_control_characters)


# What a view or a blueprint declares about its own input (instead of a list of routes kept here):
# - `@large_form(max_bytes)` on a view whose posts carry a file in base64 (the e-invoice import's preview): its own
#   field-size limit must apply before this guard reads the form, or the form would be refused as too large before
#   the view could raise it;
# - `checks_own_input = True` on a blueprint that refuses such input itself in its own format (the API: a documented
#   problem+json, chorus_chain/api/core.py), so this guard's HTML page never answers it.
_MAX_FORM_MEMORY = "input_guard_max_form_memory"
OWN_INPUT = "checks_own_input"


def large_form(max_bytes: int):
    """Declare on a view (under its route decorator) that its form fields may hold `max_bytes`."""
    def declare(view):
        setattr(view, _MAX_FORM_MEMORY, max_bytes)
        return view
    return declare


def _view():
    return current_app.view_functions.get(request.endpoint) if request.endpoint else None


def _checks_own_input() -> bool:
    if request.blueprint:
        return getattr(current_app.blueprints.get(request.blueprint), OWN_INPUT, False)
    # No route matched (its 404 is to come): a blueprint whose addresses these are still answers in its own format
    # (the API's problem+json 404 for /api/v1/webhooks/-1/livraisons?x=…, not this guard's HTML 400).
    return any(getattr(bp, OWN_INPUT, False) and bp.url_prefix
               and request.path.startswith(bp.url_prefix.rstrip("/") + "/") for bp in current_app.blueprints.values())


def refuse_control_characters() -> None:
    if _checks_own_input():
        return
    max_bytes = getattr(_view(), _MAX_FORM_MEMORY, None)
    if max_bytes is not None:
        request.max_form_memory_size = max_bytes
    for value in request.args.values():
        if text_rules.has_control(value, allow_line_breaks=False):
            raise HostileInput(CONTROL_TEXT)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for key, value in request.form.items(multi=True):
            if text_rules.has_control(key, allow_line_breaks=False) or text_rules.has_control(value):
                raise HostileInput(CONTROL_TEXT)
