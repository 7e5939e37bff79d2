"""The Tableau de bord's `#board` fragment written in Python: the cards « Par statut » and « Par marché », the list's
count, head, rows and page links — what `_board.html` wrote, the target of the filters, the sort links and the page
links (the whole page and its HTMX fragment).

Through Jinja the fragment was about a third of the page's template time (bench/page_cpu.py), most of it one
`url_for` per status line, per sort link and per page link (the URL map's rule, the tenant's `url_defaults`, the
query's quoting: some 40 µs each) and the attribute lookups and escapes of its cells. Here the Tableau de bord's path
is kept per structure and each link's query quoted as Werkzeug quotes it (`board_urls`); the rows are
`board_rows.list_rows`. The HTML is the template's to the byte: tests/integration/test_board_writers.py
renders both over summaries, lists and pages of every kind and compares them.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from chorus_chain import formatting, help_ui
from chorus_chain.blueprints.dashboard import board_rows, filter_fields
from chorus_chain.blueprints.dashboard.board_urls import board_path, board_url
from chorus_chain.domain import statuses
from chorus_chain.layout_urls import layout_url

_HX = 'hx-target="#board" hx-swap="outerHTML" hx-push-url="true"'


def _link(url: str, text: str, extra: str = "") -> str:
    url = escape(url)
    return f'<a{extra} href="{url}" hx-get="{url}" {_HX}>{text}</a>'


def _plural(count) -> str:
    return "s" if count > 1 else ""


def _rights_note(works: bool | None) -> str:
    if works is True:
        return " (factures de travaux seulement : vos droits)"
    if works is False:
        return " (hors factures de travaux : vos droits)"
    return ""


def _by_status(overview, works, filter_query: dict) -> str:
    if overview.more_than:
        counted = (f"Plus de {escape(formatting.number(overview.more_than, 0))} pièces : précisez la période ou le "
                   f"numéro pour les compter")
    else:
        total = overview.total
        counted = f"{total} pièce{_plural(total)}, {escape(formatting.money(overview.amount_ttc))} TTC"
    rows = []
    path = board_path()
    for row in overview.by_status:
        url = board_url({**filter_query, "status": row.status}, path)
        rows.append(f'\n          <tr data-status="{escape(row.status)}"><td>'
                    f'{_link(url, escape(statuses.label(row.status)))}</td>\n'
                    f'            <td class="num">{row.count}</td><td class="num">'
                    f'{escape(formatting.money(row.amount_ttc))}</td></tr>\n        ')
    body = "".join(rows) if rows else '<tr><td colspan="3">Aucune pièce.</td></tr>'
    return ('    <section class="card" aria-labelledby="by-status-title" data-testid="by-status">\n'
            '      <h2 id="by-status-title">Par statut</h2>\n'
            f'      <p class="muted">{counted}{_rights_note(works)}</p>\n'
            '      <table class="table compact">\n'
            '        <thead><tr><th scope="col">Statut</th><th scope="col" class="num">Pièces</th>'
            '<th scope="col" class="num">Montant TTC</th></tr></thead>\n'
            '        <tbody>\n'
            f'        {body}\n'
            '        </tbody>\n'
            '      </table>\n'
            '    </section>\n')


def _by_marche(overview, filter_query: dict) -> str:
    money = formatting.money
    rows = [f'\n          <tr data-marche-id="{row.marche_id}"><td>{escape(row.reference)}</td>'
            f'<td class="num">{row.count}</td><td class="num">{row.waiting}</td>\n'
            f'            <td class="num">{escape(money(row.amount_ttc))}</td><td class="num">'
            f'{escape(money(row.paid))}</td></tr>\n        ' for row in overview.by_marche]
    body = "".join(rows) if rows else '<tr><td colspan="5">Aucune pièce.</td></tr>'
    others = overview.other_marches
    other_row = ""
    if others.count:
        plural = _plural(others.count)
        other_row = (f'\n          <tr data-testid="other-marches"><td>{others.count} autre{plural} marché{plural}'
                     f'</td><td class="num">{others.pieces}</td><td class="num">{others.waiting}</td>\n'
                     f'            <td class="num">{escape(money(others.amount_ttc))}</td><td class="num">'
                     f'{escape(money(others.paid))}</td></tr>\n        ')
    all_link = ""
    if others.count and not filter_query:
        all_link = (f'<p class="muted">Les marchés qui ont le plus de pièces en cours. <a href="'
                    f'{escape(layout_url("dashboard.marches"))}" data-testid="marches-all">Tous les marchés '
                    f'({overview.marches}), par référence</a></p>')
    return ('    <section class="card" aria-labelledby="by-marche-title" data-testid="by-marche">\n'
            '      <h2 id="by-marche-title">Par marché</h2>\n'
            '      <table class="table compact">\n'
            '        <thead><tr><th scope="col">Marché</th><th scope="col" class="num">Pièces</th>'
            '<th scope="col" class="num">En cours</th><th scope="col" class="num">Montant TTC</th>'
            '<th scope="col" class="num">Payé</th></tr></thead>\n'
            '        <tbody>\n'
            f'        {body}\n'
            '        \n'
            f'        {other_row}\n'
            '        </tbody>\n'
            '      </table>\n'
            f'      {all_link}\n'
            '    </section>\n')


# The list's sortable columns: (key, label, class of the header cell), in the order of the columns.
_SORTED_HEADS = {"numero": ("N°", ""), "marche": ("Marché", ""), "montant": ("Montant TTC", ' class="num"'),
                 "statut": ("Statut", ""), "date": ("Envoyée le", "")}


def _head(key: str, sort: tuple[str, bool], filter_query: dict) -> str:
    label, cell_class = _SORTED_HEADS[key]
    order = ("descending" if sort[1] else "ascending") if sort[0] == key else "none"
    return (f'        <th scope="col"{cell_class} aria-sort="{order}">'
            f'{board_rows.sort_link(key, label, sort, filter_query)}</th>\n')


def _count(page) -> str:
    if page.more_than:
        return f"plus de {escape(formatting.number(page.more_than, 0))} pièces"
    return f"{page.total} pièce{_plural(page.total)}"


def _pages(page, sort: tuple[str, bool], filter_query: dict) -> str:
    """Keyset pagination: each link carries the row it starts from (« apres » / « avant »), read through the sort's
    index at any depth."""
    if not (page.before or page.after):
        return ""
    keep = {**filter_query, "tri": ("-" if sort[1] else "") + sort[0]}
    previous = following = ""
    if page.before:
        url = escape(board_url({"avant": page.before, **keep}))
        previous = (f'\n        <a class="button" href="{url}" hx-get="{url}" {_HX} rel="prev" '
                    f'data-testid="previous-page">← Précédent</a>')
    if page.after:
        url = escape(board_url({"apres": page.after, **keep}))
        following = (f'\n        <a class="button" href="{url}" hx-get="{url}" {_HX} rel="next" '
                     f'data-testid="next-page">Suivant →</a>')
    return ('\n    \n    <nav class="pagination" aria-label="Pages">\n      \n'
            f'      {previous}\n'
            f'      {following}\n'
            '    </nav>\n    ')


def board_html(*, overview, page, sort: tuple[str, bool], filter_query: dict, works: bool | None, now,
               party_field=None) -> Markup:
    """The fragment; with `party_field`, the companies' select of the filters out of band (the companies offered
    follow the marché chosen when they are too many to offer them all: operations.board_reading.parties)."""
    if page.items:
        rows = board_rows.list_rows(page.items, now)
    else:
        empty = ("Aucune pièce ne correspond à ces filtres." if filter_query else "Aucune pièce pour l'instant.")
        rows = f'\n        <tr><td colspan="8">{empty}</td></tr>\n      '
    heads = (_head("numero", sort, filter_query) + '        <th scope="col">Pièce</th>\n'
             + _head("marche", sort, filter_query) + '        <th scope="col">Émetteur</th>\n'
             + _head("montant", sort, filter_query) + _head("statut", sort, filter_query)
             + '        <th scope="col">Échéance</th>\n' + _head("date", sort, filter_query))
    oob = filter_fields.select_html(party_field, **{"hx-swap-oob": "true"}) if party_field is not None else ""
    return Markup(
        '\n\n\n<div id="board" class="board" data-testid="board">\n'
        '  <div class="board-summary">\n'
        f'{_by_status(overview, works, filter_query)}'
        f'{_by_marche(overview, filter_query)}'
        '  </div>\n'
        '  <section class="card" aria-labelledby="board-list-title">\n'
        '    <h2 id="board-list-title">Pièces</h2>\n'
        f'    <p class="muted" aria-live="polite" data-testid="board-count">{_count(page)}</p>\n'
        '    <table class="table pieces-table" data-testid="board-list">\n'
        '      <thead><tr>\n'
        f'{heads}'
        '      </tr></thead>\n'
        '      <tbody>\n'
        f'      {rows}\n'
        '      </tbody>\n'
        '    </table>\n'
        f'    {_pages(page, sort, filter_query)}\n'
        '  </section>\n'
        f'{help_ui.help_texts()}'  # its badges' explanations inside it: HTMX swaps them with it
        '</div>\n'
        f'\n{oob}')
