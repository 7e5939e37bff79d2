"""The action forms of the Synthèse's rows, written in Python.

A row of the work list carries a form per action (`ListedActionForm`: its token, the action, the status the user
saw, and a button — or a disclosure whose fields come by HTMX when it is opened, `views.action_fields`). Through the
piece page's Jinja macro (`pieces/_action_macros.html`) the forty-odd forms of a page were about an eighth of its
CPU (bench/page_cpu.py): a macro call, its escapes and its nested macros per form. The same HTML is written here
from parts escaped once per process (`_parts`): what varies between two rows is the piece's id and status and the
form's token. The macro stays the one writer of a bound form (an action just refused, shown again with what was
typed and its errors), and tests/integration/test_dashboard.py compares both writers for every kind of action.
"""
from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup, escape

from chorus_chain.blueprints.pieces import display
from chorus_chain.blueprints.pieces.forms import ListedActionForm
from chorus_chain.row_urls import id_url

TARGET = "#work-list"


@lru_cache(maxsize=512)
def _parts(action: str, label: str, first: bool, asks: bool) -> tuple[str, str]:
    """The escaped HTML of one action's form around the row's values: (the opening up to the form's attributes,
    what follows the token's input) — the button, or the disclosure and its link's tail."""
    label = display.sentence(label)
    style = "danger" if action in display.DANGER_ACTIONS else ("primary" if first else "")
    action_text, label_text = escape(action), escape(label)
    if asks:
        body = (f'<details><summary class="button {style}">{label_text}…</summary>'
                f'<div class="action-fields" hx-get="{{fields_url}}" hx-trigger="toggle once from:closest details" '
                f'hx-target="this" hx-swap="outerHTML"><p><a href="{{piece_url}}">{label_text} depuis la page de la '
                f'pièce</a></p></div></details>')
    else:
        undone = display.IRREVERSIBLE.get(action)
        confirm = (f' data-confirm="{escape(undone)}" data-confirm-title="{escape(label + " ?")}"' if undone else "")
        body = f'<button type="submit" class="{style}"{confirm}>{label_text}</button>'
    return action_text, body


def listed_action_form(choice, form: ListedActionForm, piece_id: int, status: str, first: bool) -> Markup:
    """One listed action's form of a row of the Synthèse: `pieces/_action_macros.html`'s `action_form` with the
    Synthèse's URL, target and ids, for a form that shows no field (no errors)."""
    action_text, body = _parts(choice.action, choice.label, first, form.has_inputs)
    url = escape(id_url("dashboard.act", "piece_id", piece_id))
    if form.has_inputs:
        body = body.replace("{fields_url}", escape(id_url("dashboard.action_fields", "piece_id", piece_id,
                                                          action=choice.action)), 1).replace(
            "{piece_url}", escape(id_url("pieces.show", "piece_id", piece_id, _anchor=f"action-{choice.action}")), 1)
    multipart = ' enctype="multipart/form-data"' if hasattr(form, "files") else ""
    return Markup(
        f'<form method="post" action="{url}" class="action-form" novalidate id="work-{piece_id}-{action_text}" '
        f'hx-post="{url}" hx-target="{TARGET}" hx-swap="outerHTML"{multipart}>{form.hidden_tag()}'
        f'<input type="hidden" name="action" value="{action_text}">'
        f'<input type="hidden" name="expected_status" value="{escape(status)}">{body}</form>')
