"""Irreversible actions ask for confirmation, saying what cannot be undone (issue 15): every submit button of a form
posting to one of these endpoints, in every template, carries `data-confirm` (`_confirm_macros.confirm_attrs`).

The piece actions (`pieces.act` and the Synthèse's rows, through `pieces/_action_macros.html` / `_action_fields.html`)
take their sentence from `display.IRREVERSIBLE`, checked below for the actions that validate, pay or refuse. The état's
validation by the MOA and its payable lines (service fait, mandat, payment, interest) had none: this test found them.
"""
from __future__ import annotations

import re
from pathlib import Path

from chorus_chain.domain import transitions as T

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# What cannot be undone once posted: sending a piece, issuing an état, validating it, the paying office's steps, the
# décompte général's establishment and signature.
IRREVERSIBLE_ENDPOINTS = {
    "pieces.send", "etats.issue", "etats.validate", "etats.pay_line",
    "decompte_general.establish_pdg", "decompte_general.establish_dg", "decompte_general.sign",
}
FORM = re.compile(r"<form\b(?P<open>[^>]*)>(?P<body>.*?)</form>", re.S)
ACTION = re.compile(r"""action="\{\{\s*url_for\(\s*['"](?P<endpoint>[\w.]+)['"]""")
BUTTON = re.compile(r"<button\b(?P<attrs>(?:[^>{]|\{\{.*?\}\}|\{%.*?%\})*)>", re.S)


def _posting_forms():
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for form in FORM.finditer(text):
            action = ACTION.search(form.group("open"))
            if action and 'method="post"' in form.group("open"):
                yield path.relative_to(TEMPLATES), action.group("endpoint"), form.group("body")


def _send_panel_buttons():
    """The décompte's « Envoyer la pièce » lives in a fragment swapped into its form (bordereau/_decompte_send.html)."""
    text = (TEMPLATES / "bordereau" / "_decompte_send.html").read_text(encoding="utf-8")
    return [b.group("attrs") for b in BUTTON.finditer(text)]


def test_every_irreversible_form_confirms_before_posting():
    found, missing = set(), []
    for path, endpoint, body in _posting_forms():
        if endpoint not in IRREVERSIBLE_ENDPOINTS:
            continue
        found.add(endpoint)
        for button in BUTTON.finditer(body):
            attrs = button.group("attrs")
            if 'type="button"' in attrs:
                continue
            if "data-confirm" not in attrs and "confirm_attrs(" not in attrs:
                missing.append(f"{path}: {endpoint}: <button{attrs[:80]}…>")
    assert not missing, "irreversible without confirmation:\n" + "\n".join(missing)
    # The scan reads the templates as they are written: an endpoint renamed or moved would silently escape it.
    assert found == IRREVERSIBLE_ENDPOINTS, IRREVERSIBLE_ENDPOINTS - found
    assert all("confirm_attrs(" in attrs for attrs in _send_panel_buttons())


def test_the_piece_actions_that_validate_pay_or_refuse_say_what_cannot_be_undone():
    from chorus_chain.blueprints.pieces.display import IRREVERSIBLE

    for action in (T.Action.VALIDATE, T.Action.VALIDATE_PARTIALLY, T.Action.MOA_VALIDATE, T.Action.MARK_SERVICE_FAIT,
                   T.Action.MARK_MANDATEE, T.Action.MARK_PAID, T.Action.REFUSE, T.Action.MOA_REFUSE, T.Action.REJECT):
        assert IRREVERSIBLE.get(action), action
    for name in ("_action_macros.html", "_action_fields.html"):
        text = (TEMPLATES / "pieces" / name).read_text(encoding="utf-8")
        assert "IRREVERSIBLE.get(choice.action)" in text or "undone" in text
        assert all("confirm_attrs(undone" in b.group("attrs") for b in BUTTON.finditer(text)
                   if 'type="submit"' in b.group("attrs"))
