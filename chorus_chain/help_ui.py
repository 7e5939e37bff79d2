"""The help texts of `domain.help` as template globals: a badge names a status, a cadre or a clock; its explanation
is written once per page, however many badges show it.

A Tableau de bord shows the same few statuses and cadres some sixty times; each badge carried its explanation twice
(a `title` and a `<details>` disclosure): a third of the page's 95 kB. Now:

- a badge is `<abbr aria-describedby="ID">label</abbr>` — a screen reader reads the explanation as its description —
  and a « ? » button that opens it (`popovertarget`: the HTML popover, no script; a keyboard, a tap or a click opens
  it, Esc or a click elsewhere closes it); on hover, static/app.js copies the explanation into the abbr's `title`
  when the pointer first comes (the tooltip the badges had), so that the page does not carry it twice;
- the explanations are hidden popovers (`help_texts()`): those of the badges written since its last call, once
  each. A fragment HTMX swaps (the Tableau de bord's `#board`, a list, a piece's status) writes them inside itself,
  so that they come and go with its badges; the layout writes the rest at the end of the page (base.html), and
  `web` appends to an HTML answer any that a fragment left unwritten.

Ids are `aide-statut-N`, `aide-cadre-N`, `aide-delai-N`, N counting up through the process: unique on any page,
fragments swapped in included. No inline script or style (strict CSP).
"""
from __future__ import annotations

import itertools
from contextvars import ContextVar
from functools import lru_cache

from markupsafe import Markup, escape

from chorus_chain.domain import help as texts
from chorus_chain.domain import statuses

_ids = itertools.count(1)

# Statuses where the money has arrived or the matter is settled: shown in green.
PAID = frozenset({statuses.Status.MISE_EN_PAIEMENT, statuses.Status.PAYEE_CONTRACTANT, statuses.Status.ASSOCIEE})


def badge(status: str) -> str:
    """The badge's colour class: ok (paid, closed), ko (refused, rejected), off (draft), wait (anything under way)."""
    code = statuses.as_status(status)
    if code == statuses.Status.BROUILLON:
        return "draft"
    if code in PAID:
        return "ok"
    if statuses.is_final(code):
        return "ko"
    return "wait"


# The explanations the badges of the request refer to and no page part has written yet: (prefix, escaped explanation)
# → (tip id, its written popover), in the order the badges came. A context variable, not `g`: the request's badges
# look it up some sixty times a page, and each access through `g`'s proxy cost about 4 µs (timeit, loaded machine). It
# is emptied when the app context ends (`register`), so that a thread's next request starts with none.
_written_later: ContextVar[dict[tuple[str, str], tuple[str, str]] | None] = ContextVar("help_texts", default=None)


def _pending() -> dict[tuple[str, str], tuple[str, str]]:
    pending = _written_later.get()
    if pending is None:
        pending = {}
        _written_later.set(pending)
    return pending


def _forget(_exc=None) -> None:
    _written_later.set(None)


def _tip_id(prefix: str, explanation: str) -> str:
    """The id of the explanation's popover in the part of the page being written: the badges of one part share it."""
    pending = _pending()
    known = pending.get((prefix, explanation))
    if known is None:
        tip_id = f"{prefix}-{next(_ids)}"
        known = pending[(prefix, explanation)] = (
            tip_id, f'<div class="help-text" id="{tip_id}" role="note" popover>{explanation}</div>')
    return known[0]


def help_texts() -> Markup:
    """The explanations of the badges written since the last call, once each (hidden popovers): where a page part
    ends (a swapped fragment inside its root, the layout at the end of the body)."""
    pending = _written_later.get()
    if not pending:
        return Markup("")
    written = "".join(popover for _tip, popover in pending.values())
    pending.clear()
    return Markup(written)


def _badge(parts: tuple[str, str, str, str], prefix: str) -> Markup:
    """A badge's HTML around the id of its explanation in this part of the page."""
    before_id, between_ids, after_id, explanation = parts
    tip_id = _tip_id(prefix, explanation)
    return Markup(f"{before_id}{tip_id}{between_ids}{tip_id}{after_id}")


@lru_cache(maxsize=2048)
def _badge_parts(label: str, explanation: str, css: str) -> tuple[str, str, str, str]:
    """The escaped HTML of a badge around its two mentions of the tip's id, and its escaped explanation: a page
    shows the same few statuses and cadres dozens of times, and escaping and formatting each anew was a tenth of
    the Tableau de bord's CPU."""
    label, css = escape(label), escape(css)
    return (f'<span class="help-badge"><abbr class="{css}" aria-describedby="',
            f'">{label}</abbr><button type="button" class="help-tip" popovertarget="',
            f'" aria-label="Que signifie « {label} » ?">?</button></span>', str(escape(explanation)))


# A badge's parts by its code: the label, the explanation and the colour of a status are a function of its code
# (statuses.as_status, an Enum lookup, then three tables), and a Tableau de bord writes some sixty badges.
@lru_cache(maxsize=256)
def _status_parts(code: str, big: bool) -> tuple[str, str, str, str]:
    css = f"badge{' big' if big else ''} {badge(code)}"
    return _badge_parts(statuses.label(code), texts.status_help(code), css)


@lru_cache(maxsize=256)
def _cadre_parts(code: str | None) -> tuple[str, str, str, str]:
    return _badge_parts(code or "privée", texts.cadre_help(code), "code")


def status_badge(code: str, big: bool = False) -> Markup:
    """The status label as a coloured badge with its explanation."""
    return _badge(_status_parts(code, big), "aide-statut")


def cadre_badge(code: str | None) -> Markup:
    """The cadre code ("A4", "privée") with what the cadre is."""
    return _badge(_cadre_parts(code), "aide-cadre")


def deadline_badge(kind: str, label: str) -> Markup:
    return _badge(_badge_parts(label, texts.deadline_help(kind), "deadline-label"), "aide-delai")


def register(app) -> None:
    app.teardown_appcontext(_forget)
    app.add_template_global(status_badge)
    app.add_template_global(cadre_badge)
    app.add_template_global(deadline_badge)
    app.add_template_global(help_texts)
    app.add_template_global(texts.what_to_do, "what_to_do")
    app.add_template_global(texts.STATUS_ARTICLES, "STATUS_ARTICLES")
