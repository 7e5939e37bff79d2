"""The head of a row of the Synthèse's work list, written in Python: its number and link, its cadre, kind, status and
amount, its marché and emitter, its next clock.

Through `_work_list.html` the twenty rows of a page were some nine hundred Jinja outputs (an attribute read, an
escape and a Markup each, passed up through the templates' generators), most of the page's rendering CPU
(bench/page_cpu.py). The same HTML is written here in one f-string per row, from the same helpers (the badges,
`display`'s clocks, `formatting`'s filters, `piece_url`); the amount that differs from the one requested (a reason
and a link) is still written by its macro, `_amount_macros.html`'s `amount_cell`, the one writer of that case.
tests/integration/test_work_items.py compares this writer with the template it replaced, row by row.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from markupsafe import Markup, escape

from chorus_chain import formatting
from chorus_chain.amount_ui import amount_why_of
from chorus_chain.blueprints.pieces import display
from chorus_chain.help_ui import cadre_badge, deadline_badge, status_badge
from chorus_chain.row_urls import piece_url

DRAFT = "<strong>Brouillon non envoyé</strong> : personne d'autre ne le voit tant que vous ne l'envoyez pas."
NO_CLOCK = '<span class="muted">Pas d\'échéance en cours.</span>'


def work_item_head(row, now: datetime) -> Markup:
    """The row's `<li>` opening tag and everything before its actions (`row`: a `PieceRow`)."""
    p, deadline = row.piece, row.next_deadline
    overdue = deadline is not None and display.is_overdue(deadline, now)
    sent = f", envoyée le {escape(formatting.day(p.deposited_at))}" if p.deposited_at else ""
    if deadline is not None:
        clock = (f'{deadline_badge(deadline.kind, display.deadline_label(deadline.kind))} :\n'
                 f'        <strong class="countdown{" overdue" if overdue else ""}" data-testid="countdown">'
                 f'{escape(display.countdown(deadline, now))}</strong>\n'
                 f'        <small class="muted">(échéance le {escape(formatting.instant(deadline.due_at))})</small>\n'
                 f'        ')
    elif p.is_draft:
        clock = f"{DRAFT}\n        "
    else:
        clock = NO_CLOCK
    return Markup(
        f'<li class="card work-item{" overdue" if overdue else ""}" id="work-{p.id}" data-testid="work-item" '
        f'data-piece-id="{p.id}" data-status="{escape(p.status)}">\n'
        f'      <div class="work-head">\n'
        f'        <a class="mono" href="{escape(piece_url(p.id))}">{escape(p.number)}</a>\n'
        f'        {cadre_badge(p.cadre)} <span>{escape(display.piece_kind(p))}</span>\n'
        f'        {status_badge(p.status)}\n'
        f'        <span class="num">{_amount(p)}</span>\n'
        f'      </div>\n'
        f'      <p class="work-meta"><small class="muted">Marché {escape(row.marche_reference)} — de '
        f'{escape(row.emitter_name)}{sent}</small></p><div class="work-deadline">{clock}</div>')


def _amount(p) -> Markup:
    """`amount_cell`'s text: the amount requested alone, or, when the amount to pay differs, the macro itself."""
    why = amount_why_of(p)
    if why.differs:
        return current_app.jinja_env.get_template("_amount_macros.html").module.amount_cell(p)
    return Markup(f'<span data-testid="amount-requested">{escape(formatting.money(why.requested))}</span>')
