"""The rows of the Tableau de bord's tables of pieces, written in Python: its list (`_board.html`), its waiting panels
(`_waiting_table.html`, whole: `waiting_table`) and its clock panels (`_clock_table.html`).

Through Jinja each cell was an expression with its attribute lookups, an escape, a Markup, and the amount a macro
call (`_amount_macros.html`'s `amount_cell`): the list's 25 rows and the panels' dozens were about a third of the
page's CPU (bench/page_cpu.py). A row is written here in one f-string from the same helpers — the same badges
(`help_ui`), the same amount rule (`amount_ui.amount_why_of`), the same countdown and formats — in the same order
(the badges number their tips as they are written), and the HTML is the templates' to the byte:
tests/integration/test_board_writers.py renders both writers over rows of every kind and compares them. The list's
sort links (a macro call and a URL each) are written here too.
"""
from __future__ import annotations

from functools import cache

from markupsafe import Markup, escape

from chorus_chain import formatting
from chorus_chain.amount_ui import amount_target_url, amount_why_of
from chorus_chain.blueprints.dashboard.board_urls import board_url
from chorus_chain.blueprints.pieces.display import waiting_text
from chorus_chain.domain import deadlines as clocks
from chorus_chain.help_ui import cadre_badge, status_badge
from chorus_chain.layout_urls import layout_url
from chorus_chain.operations.tresorerie.forecast import say
from chorus_chain.row_urls import piece_link_parts, piece_url


def amount_cell(piece) -> str:
    """`_amount_macros.html`'s `amount_cell(p)`: the TTC requested, and the amount to pay when it differs, with why.
    (`money` writes digits, spaces, a comma, a sign and « € »: nothing to escape.)"""
    why = amount_why_of(piece)
    written = f'<span data-testid="amount-requested">{formatting.money(why.requested)}</span>'
    if not why.differs:
        return written
    link = (f' <a href="{escape(amount_target_url(why.target))}" data-testid="amount-why-link">Voir '
            f'{escape(why.target.label)}</a>' if why.target else "")
    return (f'{written}<small class="amount-why" data-testid="amount-why">{escape(why.accepted_label)} : '
            f'<strong data-testid="amount-accepted">{formatting.money(why.accepted)}</strong> — '
            f'{escape(why.reason)}{link}</small>')


def _countdown(deadline, countdowns: clocks.Countdowns) -> str:
    """A clock's countdown (`display.countdown`), late or not (`display.is_overdue`), at the table's instant."""
    late = " overdue" if countdowns.expired(deadline.due_at) else ""
    return f'<span class="countdown{late}">{escape(countdowns.text(deadline.kind, deadline.due_at))}</span>'


_NO_CLOCK = '<span class="muted">—</span>'


def _number_link(piece) -> str:
    return f'<a class="mono" href="{escape(piece_url(piece.id))}">{escape(piece.number)}</a>'


def _number_linker():
    """`_number_link` for the many rows of one request: the piece's URL read once (row_urls.piece_link_parts)."""
    parts = piece_link_parts()
    if parts is None:
        return _number_link
    before, after = parts

    def link(piece) -> str:
        if type(piece.id) is not int:
            return _number_link(piece)
        return f'<a class="mono" href="{before}{piece.id}{after}">{escape(piece.number)}</a>'

    return link


def list_rows(rows, now) -> Markup:
    """The rows of the list (`PieceRow`s of `ListedPiece`s), as `_board.html`'s loop wrote them."""
    written = []
    number_link = _number_linker()
    day = formatting.day
    countdowns = clocks.Countdowns(now)
    for row in rows:
        p = row.piece
        draft = ' class="is-draft"' if p.is_draft else ""
        avoir = ' <span class="badge off">avoir</span>' if p.piece_type == "AVOIR" else ""
        cadre = cadre_badge(p.cadre)  # before the status's badge: the tips are numbered in the page's order
        clock = _countdown(row.next_deadline, countdowns) if row.next_deadline else _NO_CLOCK
        deposited = (escape(day(p.deposited_at)) if p.deposited_at else "<strong>non envoyée</strong>")
        written.append(
            f'\n        <tr{draft} data-testid="board-row" data-piece-id="{p.id}">\n'
            f'          <td>{number_link(p)}{avoir}</td>\n'
            f'          <td>{cadre}</td>\n'
            f'          <td>{escape(row.marche_reference)}</td>\n'
            f'          <td>{escape(row.emitter_name)}</td>\n'
            f'          <td class="num">{amount_cell(p)}</td>\n'
            f'          <td>{status_badge(p.status)}</td>\n'
            f'          <td>{clock}</td>\n'
            f'          <td>{deposited}</td>\n'
            f'        </tr>\n      ')
    return Markup("".join(written))


def waiting_rows(rows, now) -> Markup:
    """The rows of a waiting panel (`PieceRow`s), as `_waiting_table.html`'s loop wrote them."""
    written = []
    countdowns = clocks.Countdowns(now)
    for row in rows:
        p = row.piece
        amount = amount_cell(p)
        status = status_badge(p.status)
        clock = _countdown(row.next_deadline, countdowns) if row.next_deadline else _NO_CLOCK
        written.append(
            f'\n    <tr data-piece-id="{p.id}"><td>{_number_link(p)}</td>\n'
            f'      <td>{escape(row.marche_reference)}</td><td>{escape(row.emitter_name)}</td>'
            f'<td class="num">{amount}</td>\n'
            f'      <td>{status}</td>\n'
            f'      <td>{clock}</td></tr>\n  ')
    return Markup("".join(written))


def waiting_table(panel, empty: str, now) -> Markup:
    """A waiting panel whole (a `PiecePage`, most urgent first; `empty`: what it says without pieces), as the
    `_waiting_table.html` the page included five times wrote it (an include is a new template context each time):
    its table and, beyond its rows, the link to the Synthèse."""
    if not panel.items:
        return Markup(f'\n\n<p class="muted">{escape(empty)}</p>')
    more = ""
    if panel.more_than or panel.total > len(panel.items):
        counted = (f"Plus de {escape(formatting.number(panel.more_than, 0))}" if panel.more_than
                   else f"Les {panel.total}")
        more = f'<p><a href="{escape(layout_url("dashboard.synthese"))}">{counted} pièces dans la synthèse</a></p>'
    return Markup('\n\n\n<table class="table compact">\n  <thead><tr><th scope="col">N°</th><th scope="col">Marché</th>'
                  '<th scope="col">Émetteur</th><th scope="col" class="num">Montant TTC</th><th scope="col">Statut</th>'
                  f'<th scope="col">Échéance</th></tr></thead>\n  <tbody>\n  {waiting_rows(panel.items, now)}\n'
                  f'  </tbody>\n</table>\n{more}\n')


def clock_rows(rows, now, interest: bool) -> Markup:
    """The rows of a clock panel (`dashboard.ClockRow`s), as `_clock_table.html`'s loop wrote them; with `interest`,
    the interest accruing on a late payment."""
    written = []
    countdowns = clocks.Countdowns(now)
    for row in rows:
        p, deadline = row.piece, row.deadline
        late = countdowns.expired(deadline.due_at)
        cell = ""
        if interest:
            if row.interest:
                accruing = row.interest
                figure = (f'<abbr title="{escape(accruing.days)} jour(s) de retard au taux de '
                          f'{escape(formatting.number(accruing.rate_percent))} % + indemnité forfaitaire de 40 €">'
                          f'{formatting.money(accruing.total)}</abbr>')
            else:
                figure = ('<span class="muted">taux BCE inconnu</span>' if late else _NO_CLOCK)
            cell = f'<td class="num" data-testid="interest">{figure}</td>'
        overdue = ' class="overdue"' if late else ""
        written.append(
            f'\n    <tr data-piece-id="{p.id}"{overdue}>\n'
            f'      <td>{_number_link(p)}</td>\n'
            f'      <td>{escape(row.marche_reference)}</td><td>{escape(row.emitter_name)}</td>\n'
            f'      <td class="num">{amount_cell(p)}</td>\n'
            f'      <td>{_countdown(deadline, countdowns)} <small class="muted">(le '
            f'{escape(formatting.day(deadline.due_at))})</small></td>\n'
            f'      {cell}\n'
            f'    </tr>\n  ')
    return Markup("".join(written))


def _step(step) -> str:
    """One milestone of a tracked piece: reached (its day, the payment day, its amount) or not yet."""
    if step.at:
        when = escape(formatting.day(step.at))
        if step.paid_on:
            when += f" (payée le {escape(formatting.day(step.paid_on))})"
        if step.amount is not None:
            when += f", {escape(formatting.money(step.amount))}"
    else:
        when = '<span class="muted">pas encore</span>'
    tacit = " (tacitement)" if step.tacit else ""
    return (f'\n      <li class="{"done" if step.at else ""}{_milestone_text(step.milestone)}{tacit} :\n'
            f'        {when}</li>\n      ')


@cache
def _milestone_text(milestone) -> str:
    """A milestone's key and label as its item writes them: constants, escaped once per process (seven milestones
    on each of the tracker's pieces were about ninety escapes a page)."""
    return f'" data-step="{escape(milestone.key)}">{escape(milestone.label)}'


def _etat(item) -> str:
    """Where a tracked projet de décompte stands in its état d'acompte: its line once validated (due, paid, late)."""
    if not item.etat_label:
        return ""
    money = formatting.money
    said = f"Dans l'état d'acompte n° {escape(item.etat_label)}"
    if item.etat_line:
        line = item.etat_line.line
        if line.paid_on:
            state = f"payée le {escape(formatting.day(line.paid_on))}"
        elif line.paid_amount > 0:
            state = f"{escape(money(line.paid_amount))} payés, reste {escape(money(line.remaining))}"
        else:
            state = f"validée, à payer au plus tard le {escape(formatting.day(line.due_on))}"
        late = ""
        if item.etat_line.late_total > 0:
            late = (f" — paiement en retard : {escape(money(item.etat_line.interest))} d'intérêts moratoires et "
                    f"{escape(money(item.etat_line.flat_fees))} d'indemnité forfaitaire dus")
        said += f" : votre ligne\n      <strong>{escape(money(line.amount))}</strong> — {state}{late}"
    else:
        said += " — à valider par le maître d'ouvrage"
    return f'<p data-testid="tracker-etat">{said}.</p>'


def tracker_items(tracker, now) -> Markup:
    """The sous-traitant's payment tracker (`dashboard.TrackedPiece`s), as `_panels.html`'s loop wrote them: each
    piece with its milestones, its état d'acompte, when its money is expected and whom it waits on. `say` and
    `waiting_text` are the Trésorerie's and the pieces' own words."""
    today = now.date()
    countdowns = clocks.Countdowns(now)
    written = []
    for item in tracker:
        p = item.piece
        amount = amount_cell(p)  # before the status's badge: the tips are numbered in the page's order
        badge = status_badge(p.status)
        expected = ""
        if item.expected:
            expected = (f'<div data-testid="tracker-expected"><p><strong>Paiement {escape(say(item.expected, today))}'
                        f'</strong></p>\n      <details><summary>Sur quoi repose cette date</summary><p>'
                        f'{escape(item.expected.explanation)}</p></details></div>')
        clock = f" — {_countdown(item.next_deadline, countdowns)}" if item.next_deadline else ""
        written.append(
            f'\n  <article class="tracker" data-testid="tracker" data-piece-id="{p.id}">\n'
            f'    <h3>{_number_link(p)} — {amount} <small class="muted">marché {escape(item.marche_reference)}</small> '
            f'{badge}</h3>\n    <ol class="route tracker-steps">\n      {"".join(_step(s) for s in item.steps)}\n'
            f'    </ol>\n    {_etat(item)}\n    {expected}\n'
            f'    <p><strong>En attente de</strong> : {escape(waiting_text(p, item.names))}{clock}</p>\n'
            f'  </article>\n  ')
    return Markup("".join(written))


# The sort keys whose first click sorts descending (the newest, the largest first); the others start ascending.
DESCENDING_FIRST = ("date", "montant")


def sort_link(key: str, label: str, sort: tuple[str, bool], filter_query: dict) -> Markup:
    """A column's sort link of the list, as `_board.html`'s `sort_link` macro wrote it: the same column again
    reverses its order, another one sorts on it; the filters are kept."""
    current = sort[0] == key
    if key in DESCENDING_FIRST:
        following = ("" if current and sort[1] else "-") + key
    else:
        following = ("-" if current and not sort[1] else "") + key
    url = escape(board_url({"tri": following, **filter_query}))
    mark = ""
    if current:
        mark = (f' <span aria-hidden="true">{"▼" if sort[1] else "▲"}</span><span class="visually-hidden">(trié, '
                f'ordre {"décroissant" if sort[1] else "croissant"})</span>')
    return Markup(f'<a href="{url}" hx-get="{url}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true" '
                  f'data-testid="sort-{escape(key)}">{escape(label)}{mark}</a>')
