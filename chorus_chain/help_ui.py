"""The help texts of `domain.help` as template globals: a badge with its explanation on hover (`<abbr title>`) and
on tap (a small `<details>` disclosure, tied to the badge by aria-describedby). No inline script or style (strict CSP).
"""
from __future__ import annotations

import itertools
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


def _disclosure(label: str, explanation: str, css: str, prefix: str) -> Markup:
    return _numbered(_disclosure_parts(label, explanation, css), prefix)


def _numbered(parts: tuple[str, str, str], prefix: str) -> Markup:
    """A badge's HTML around a new tip id (ids count up through the process: unique on any page)."""
    tip_id = f"{prefix}-{next(_ids)}"
    before_id, between_ids, after_id = parts
    return Markup(f"{before_id}{tip_id}{between_ids}{tip_id}{after_id}")


@lru_cache(maxsize=2048)
def _disclosure_parts(label: str, explanation: str, css: str) -> tuple[str, str, str]:
    """The escaped HTML of a badge around its two mentions of the tip's id: a page shows the same few statuses and
    cadres dozens of times, and escaping and formatting each anew was a tenth of the Tableau de bord's CPU."""
    label, explanation, css = escape(label), escape(explanation), escape(css)
    return (f'<span class="help-badge"><abbr class="{css}" title="{explanation}" aria-describedby="',
            f'">{label}</abbr><details class="help-tip"><summary aria-label="Que signifie « {label} » ?">?</summary>'
            f'<span class="help-text" id="',
            f'" role="note">{explanation}</span></details></span>')


# A badge's parts by its code: the label, the explanation and the colour of a status are a function of its code
# (statuses.as_status, an Enum lookup, then three tables), and a Tableau de bord writes some sixty badges.
@lru_cache(maxsize=256)
def _status_parts(code: str, big: bool) -> tuple[str, str, str]:
    css = f"badge{' big' if big else ''} {badge(code)}"
    return _disclosure_parts(statuses.label(code), texts.status_help(code), css)


@lru_cache(maxsize=256)
def _cadre_parts(code: str | None) -> tuple[str, str, str]:
    return _disclosure_parts(code or "privée", texts.cadre_help(code), "code")


def status_badge(code: str, big: bool = False) -> Markup:
    """The status label as a coloured badge with its explanation."""
    return _numbered(_status_parts(code, big), "aide-statut")


def cadre_badge(code: str | None) -> Markup:
    """The cadre code ("A4", "privée") with what the cadre is."""
    return _numbered(_cadre_parts(code), "aide-cadre")


def deadline_badge(kind: str, label: str) -> Markup:
    return _disclosure(label, texts.deadline_help(kind), "deadline-label", "aide-delai")


def register(app) -> None:
    app.add_template_global(status_badge)
    app.add_template_global(cadre_badge)
    app.add_template_global(deadline_badge)
    app.add_template_global(texts.what_to_do, "what_to_do")
    app.add_template_global(texts.STATUS_ARTICLES, "STATUS_ARTICLES")
