"""The private invoices unpaid past their due date, as the Synthèse and the Tableau de bord show them (what
`_overdue_private.html` wrote): up to twenty lines, each a link, an amount, who owes whom and since when — through
Jinja some seven hundred calls a page (bench/page_cpu.py), here one f-string a line from the same helpers. The HTML
is the template's to the byte (tests/integration/test_board_writers.py renders both)."""
from __future__ import annotations

from markupsafe import Markup, escape

from chorus_chain import formatting
from chorus_chain.row_urls import piece_url

_LAW = ("<small class=\"muted\">Code de commerce : pénalités au taux de la BCE majoré de 10 points et indemnité de "
        "40 €.</small>")


def overdue_html(rows) -> Markup:
    """`rows`: `private_invoices.overdue.Overdue`s, most overdue first; nothing without any."""
    if not rows:
        return Markup("\n")
    lines = []
    for row in rows:
        whom = ("due par votre donneur d&#39;ordre" if row.owed_to_us else f"à payer à {escape(row.emitter_name)}")
        lines.append(
            f'\n    <li><a class="mono" href="{escape(piece_url(row.piece.id))}">{escape(row.piece.number)}</a> —\n'
            f'      {escape(formatting.money(row.amount))} TTC, {whom},\n'
            f'      échue le {escape(formatting.day(row.due))} (il y a {row.days} jour{"s" if row.days > 1 else ""}).\n'
            f'      {_LAW}</li>\n  ')
    return Markup('\n\n<section class="card alert-card" aria-labelledby="overdue-private-title" '
                  'data-testid="overdue-private">\n'
                  '  <h2 id="overdue-private-title">Factures entre entreprises échues, non payées</h2>\n'
                  f'  <ul>\n  {"".join(lines)}\n  </ul>\n</section>\n')
