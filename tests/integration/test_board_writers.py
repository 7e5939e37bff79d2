"""The Tableau de bord's HTML written in Python is the templates' to the byte: the rows of its list and of its panels
(`blueprints.dashboard.board_rows`, against the Jinja loops they replace, kept here as the reference) and its filter
fields (`blueprints.dashboard.filter_fields`, against `_form_macros.html`'s `field` macro and WTForms), over rows and
forms of every kind: drafts, avoirs, private invoices, amounts to pay that differ and why, clocks upcoming and late,
interest known and unknown, values to escape, options chosen or not.
"""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from werkzeug.datastructures import MultiDict

from chorus_chain.domain import amount_why
from chorus_chain.domain import deadlines as clocks
from chorus_chain.models.base import utcnow
from chorus_chain.operations.board_reading.lists import ListedPiece, NextClock
from chorus_chain.operations.pieces_queries import PieceRow

# The loops the rows' writers replace, as the templates had them (with their helpers: the page's context).
LIST_LOOP = """{% from "_amount_macros.html" import amount_cell %}{% for row in rows %}{% set p = row.piece %}
        <tr{% if p.is_draft %} class="is-draft"{% endif %} data-testid="board-row" data-piece-id="{{ p.id }}">
          <td><a class="mono" href="{{ piece_url(p.id) }}">{{ p.number }}</a>{% if p.piece_type == "AVOIR" %} <span class="badge off">avoir</span>{% endif %}</td>
          <td>{{ cadre_badge(p.cadre) }}</td>
          <td>{{ row.marche_reference }}</td>
          <td>{{ row.emitter_name }}</td>
          <td class="num">{{ amount_cell(p) }}</td>
          <td>{{ status_badge(p.status) }}</td>
          <td>{% if row.next_deadline %}<span class="countdown{% if is_overdue(row.next_deadline, now) %} overdue{% endif %}">{{ countdown(row.next_deadline, now) }}</span>{% else %}<span class="muted">—</span>{% endif %}</td>
          <td>{% if p.deposited_at %}{{ p.deposited_at | day }}{% else %}<strong>non envoyée</strong>{% endif %}</td>
        </tr>
      {% endfor %}"""
WAITING_LOOP = """{% from "_amount_macros.html" import amount_cell %}{% for row in rows %}{% set p = row.piece %}
    <tr data-piece-id="{{ p.id }}"><td><a class="mono" href="{{ piece_url(p.id) }}">{{ p.number }}</a></td>
      <td>{{ row.marche_reference }}</td><td>{{ row.emitter_name }}</td><td class="num">{{ amount_cell(p) }}</td>
      <td>{{ status_badge(p.status) }}</td>
      <td>{% if row.next_deadline %}<span class="countdown{% if is_overdue(row.next_deadline, now) %} overdue{% endif %}">{{ countdown(row.next_deadline, now) }}</span>{% else %}<span class="muted">—</span>{% endif %}</td></tr>
  {% endfor %}"""
CLOCK_LOOP = """{% from "_amount_macros.html" import amount_cell %}{% for row in rows %}{% set p = row.piece %}
    <tr data-piece-id="{{ p.id }}"{% if is_overdue(row.deadline, now) %} class="overdue"{% endif %}>
      <td><a class="mono" href="{{ piece_url(p.id) }}">{{ p.number }}</a></td>
      <td>{{ row.marche_reference }}</td><td>{{ row.emitter_name }}</td>
      <td class="num">{{ amount_cell(p) }}</td>
      <td><span class="countdown{% if is_overdue(row.deadline, now) %} overdue{% endif %}">{{ countdown(row.deadline, now) }}</span> <small class="muted">(le {{ row.deadline.due_at | day }})</small></td>
      {% if interest %}<td class="num" data-testid="interest">{% if row.interest %}<abbr title="{{ row.interest.days }} jour(s) de retard au taux de {{ row.interest.rate_percent | number }} % + indemnité forfaitaire de 40 €">{{ row.interest.total | money }}</abbr>{% elif is_overdue(row.deadline, now) %}<span class="muted">taux BCE inconnu</span>{% else %}<span class="muted">—</span>{% endif %}</td>{% endif %}
    </tr>
  {% endfor %}"""

SORT_MACRO = """{% macro sort_link(key, label) -%}
  {%- set current = sort[0] == key -%}
  {%- set next = ("" if current and sort[1] else "-") ~ key if key in ("date", "montant") else ("-" if current and not sort[1] else "") ~ key -%}
  {%- set url = url_for('dashboard.tableau_de_bord', tri=next, **filter_query) -%}
  <a href="{{ url }}" hx-get="{{ url }}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true" data-testid="sort-{{ key }}">{{ label }}{% if current %} <span aria-hidden="true">{{ "▼" if sort[1] else "▲" }}</span><span class="visually-hidden">(trié, ordre {{ "décroissant" if sort[1] else "croissant" }})</span>{% endif %}</a>
{%- endmacro %}{{ sort_link(key, label) }}"""

SIRET = "40000000000001"


def _tips_in_order(html: str) -> str:
    """The badges' tip ids count up through the process: numbered again from their first mention, in order."""
    seen: dict[str, int] = {}
    return re.sub(r"aide-(\w+)-\d+", lambda m: f"aide-{m.group(1)}-#{seen.setdefault(m.group(0), len(seen))}", html)


def _whys():
    """The stored reasons of an amount to pay, one of each kind (and none)."""
    partial = amount_why.partial_record("Travaux <non> conformes", "voir l'avenant « 2 » & la lettre")
    etat = amount_why.etat_record(etat_id=7, marche_id=3, label="4 bis", month="2026-03", final=False,
                                  columns={"ttc": "1300.00", "retenue": "65.00", "avance_repayment": "10.00"},
                                  beneficiary_key=12, beneficiary_name="Durand & fils")
    final = amount_why.etat_record(etat_id=8, marche_id=3, label="9", month=None, final=True,
                                   columns={"ttc": "900.00", "penalties": "12.50"})
    return [None, partial, etat, final, {"source": "unknown"}]


def _listed(now):
    rows = []
    cadres = ["A1", None, "A10", "A13"]
    for index, why in enumerate(_whys() * 2):
        accepted = None if index == 0 else (Decimal("1000.00") if index == 5 else Decimal("1234.56") - index)
        status = ["BROUILLON", "DEPOSEE", "A_VALIDER_1", "MISE_EN_PAIEMENT", "REFUSEE_1"][index % 5]
        piece = ListedPiece(100 + index, f"F-{index}<&>'\"", cadres[index % 4], "AVOIR" if index % 3 == 1 else "FACTURE",
                            status, Decimal("1000.00") if index != 3 else Decimal("-12.30"), accepted, why,
                            None if status == "BROUILLON" else now - timedelta(days=index * 11))
        clock = None
        if index % 4 == 1:
            clock = NextClock(clocks.VALIDATION_1, now + timedelta(days=index, hours=3))
        elif index % 4 == 2:
            clock = NextClock(clocks.PAIEMENT, now - timedelta(days=index))
        elif index % 4 == 3:
            clock = NextClock(clocks.MOE, now + timedelta(hours=2))
        rows.append(PieceRow(piece, f"M-{index} <b>", f"L'entreprise \"{index}\" & cie", "123", clock))
    return rows


def _clock_rows(now):
    interest = SimpleNamespace(days=12, rate_percent=Decimal("12.15"), total=Decimal("1040.20"))
    rows = []
    for index, row in enumerate(_listed(now)):
        due = now + timedelta(days=index - 5, hours=1)
        deadline = SimpleNamespace(kind=clocks.PAIEMENT if index % 2 else clocks.CONTEST_MOE_CORRECTIONS, due_at=due)
        rows.append(SimpleNamespace(piece=row.piece, marche_reference=row.marche_reference,
                                    emitter_name=row.emitter_name, deadline=deadline,
                                    interest=interest if index % 3 == 0 else None))
    return rows


@pytest.fixture
def page(app):
    """A request of a tenant page of the dashboard (its URLs name the structure), with the page's helpers."""
    from flask import g

    with app.test_request_context(f"/s/{SIRET}/tableau-de-bord"):
        g.structure = SimpleNamespace(siret=SIRET)
        yield app


def _jinja(app, source: str, **context) -> str:
    from flask import render_template_string

    from chorus_chain.blueprints.dashboard.views import dashboard_helpers

    return render_template_string(source, **dashboard_helpers(), **context)


def test_the_rows_of_the_list_and_of_the_panels_are_the_templates_loops(page):
    from chorus_chain.blueprints.dashboard import board_rows

    now = utcnow()
    listed, clock = _listed(now), _clock_rows(now)
    assert _tips_in_order(str(board_rows.list_rows(listed, now))) == _tips_in_order(
        _jinja(page, LIST_LOOP, rows=listed, now=now))
    assert _tips_in_order(str(board_rows.waiting_rows(listed, now))) == _tips_in_order(
        _jinja(page, WAITING_LOOP, rows=listed, now=now))
    for interest in (True, False):
        assert str(board_rows.clock_rows(clock, now, interest)) == _jinja(page, CLOCK_LOOP, rows=clock, now=now,
                                                                          interest=interest)
    written = str(board_rows.list_rows(listed, now))
    # Every kind was written: a draft, an avoir, each reason of an amount with its link, late and upcoming clocks.
    for seen in ('class="is-draft"', 'badge off">avoir', "amount-why-link", "Validée partiellement",
                 "État d&#39;acompte n° 4 bis", "Décompte général", "countdown overdue", 'class="countdown"',
                 "&lt;&amp;&gt;", "non envoyée"):
        assert seen in written, seen
    panel = str(board_rows.clock_rows(clock, now, True))
    assert "taux BCE inconnu" in panel and "<abbr title=" in panel and 'class="overdue"' in panel
    assert board_rows.list_rows([], now) == ""


def _form(page, args: dict, parties=()):
    from chorus_chain.blueprints.dashboard.forms import BoardFilterForm

    marches = [SimpleNamespace(id=1, reference="M-1"), SimpleNamespace(id=22, reference="L'<autre> & \"M\"")]
    return BoardFilterForm(formdata=MultiDict(args)).set_choices(marches, parties)


FILTER_STATES = [
    {},
    {"marche_id": "22", "party_id": "5", "cadre": "A10", "status": "DEPOSEE", "du": "2026-01-01",
     "au": "2026-12-31", "number": "F-<1>&'\"", "tri": "-montant"},
    {"cadre": "privee", "status": "nope", "marche_id": "x", "number": "   ST-2  "},
    {"status": "", "party_id": "999"},
]
PARTIES = [(5, "Durand & fils <SA>", "sous_traitant", "M-1"), (6, "L'Atelier \"bois\"", "cotraitant", "M-2")]


def test_the_filter_fields_are_the_field_macro(page):
    from flask import get_template_attribute

    from chorus_chain.blueprints.dashboard.filter_fields import filter_field, select_html

    macro = get_template_attribute("_form_macros.html", "field")
    help_text = "Choisissez d'abord un marché : <trop> nombreuses."
    for state in FILTER_STATES:
        for parties in ((), PARTIES):
            form = _form(page, state, parties)
            for name in ("marche_id", "party_id", "cadre", "status", "du", "au", "number"):
                for help in (None, help_text):
                    assert str(filter_field(form[name], help=help)) == str(macro(form[name], help=help)), (state,
                                                                                                           name)
            # The companies' select sent out of band with the list.
            assert str(select_html(form.party_id, **{"hx-swap-oob": "true"})) == str(
                form.party_id(**{"hx-swap-oob": "true"}))
    chosen = str(filter_field(_form(page, FILTER_STATES[1], PARTIES).status))
    assert chosen.count("<option selected ") == 1 and '<option selected value="DEPOSEE">' in chosen


def test_a_filter_field_with_errors_is_the_macros(page):
    """Not this GET form's case (it is not validated), but a field with errors keeps the macro's error and
    attributes."""
    from flask import get_template_attribute

    from chorus_chain.blueprints.dashboard.filter_fields import filter_field

    form = _form(page, {"number": "X" * 30})
    assert not form.validate()
    macro = get_template_attribute("_form_macros.html", "field")
    assert form.number.errors
    assert str(filter_field(form.number)) == str(macro(form.number)) and 'aria-invalid="true"' in str(
        filter_field(form.number))


def test_the_sort_links_are_the_macros(page):
    """Each column's link, on each sort and direction, with and without filters to keep (values to escape)."""
    from chorus_chain.blueprints.dashboard.board_rows import sort_link
    from chorus_chain.operations.dashboard import SORTS

    queries = ({}, {"status": "DEPOSEE", "marche_id": "22"}, {"number": "F&<1>'\"", "du": "2026-01-01"})
    seen = set()
    for key, label in (("numero", "N°"), ("marche", "Marché"), ("montant", "Montant TTC"), ("statut", "Statut"),
                       ("date", "Envoyée le")):
        for sorted_on in SORTS:
            for descending in (True, False):
                for query in queries:
                    sort = (sorted_on, descending)
                    written = str(sort_link(key, label, sort, query))
                    assert written == _jinja(page, SORT_MACRO, key=key, label=label, sort=sort,
                                             filter_query=query), (key, sort, query)
                    seen.add(re.search(r"tri=(-?\w+)", written).group(1))
    assert {"-date", "date", "-montant", "montant", "numero", "-numero", "statut", "-statut"} <= seen


# `_board.html` as it was (the `#board` fragment that board_fragment writes), with the helpers of its page; its badges'
# explanations written inside it since they are once per page part (help_ui).
BOARD_TEMPLATE = '{% from "_amount_macros.html" import amount_cell %}\n{# The counts and the list of the Tableau de bord: the target of the filters, the sort links and the page links. #}\n{# The list\'s rows and its sort links are written in Python (board_rows.list_rows, board_rows.sort_link). #}\n<div id="board" class="board" data-testid="board">\n  <div class="board-summary">\n    <section class="card" aria-labelledby="by-status-title" data-testid="by-status">\n      <h2 id="by-status-title">Par statut</h2>\n      <p class="muted">{% if overview.more_than %}Plus de {{ overview.more_than | number(0) }} pièces : précisez la période ou le numéro pour les compter{% else %}{{ overview.total }} pièce{{ "s" if overview.total > 1 }}, {{ overview.amount_ttc | money }} TTC{% endif %}{% if works is sameas true %} (factures de travaux seulement : vos droits){% elif works is sameas false %} (hors factures de travaux : vos droits){% endif %}</p>\n      <table class="table compact">\n        <thead><tr><th scope="col">Statut</th><th scope="col" class="num">Pièces</th><th scope="col" class="num">Montant TTC</th></tr></thead>\n        <tbody>\n        {% for row in overview.by_status %}\n          <tr data-status="{{ row.status }}"><td>{% set url = url_for(\'dashboard.tableau_de_bord\', **dict(filter_query, status=row.status)) %}<a href="{{ url }}" hx-get="{{ url }}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true">{{ status_label(row.status) }}</a></td>\n            <td class="num">{{ row.count }}</td><td class="num">{{ row.amount_ttc | money }}</td></tr>\n        {% else %}<tr><td colspan="3">Aucune pièce.</td></tr>{% endfor %}\n        </tbody>\n      </table>\n    </section>\n    <section class="card" aria-labelledby="by-marche-title" data-testid="by-marche">\n      <h2 id="by-marche-title">Par marché</h2>\n      <table class="table compact">\n        <thead><tr><th scope="col">Marché</th><th scope="col" class="num">Pièces</th><th scope="col" class="num">En cours</th><th scope="col" class="num">Montant TTC</th><th scope="col" class="num">Payé</th></tr></thead>\n        <tbody>\n        {% for row in overview.by_marche %}\n          <tr data-marche-id="{{ row.marche_id }}"><td>{{ row.reference }}</td><td class="num">{{ row.count }}</td><td class="num">{{ row.waiting }}</td>\n            <td class="num">{{ row.amount_ttc | money }}</td><td class="num">{{ row.paid | money }}</td></tr>\n        {% else %}<tr><td colspan="5">Aucune pièce.</td></tr>{% endfor %}\n        {% set others = overview.other_marches %}\n        {% if others.count %}\n          <tr data-testid="other-marches"><td>{{ others.count }} autre{{ "s" if others.count > 1 }} marché{{ "s" if others.count > 1 }}</td><td class="num">{{ others.pieces }}</td><td class="num">{{ others.waiting }}</td>\n            <td class="num">{{ others.amount_ttc | money }}</td><td class="num">{{ others.paid | money }}</td></tr>\n        {% endif %}\n        </tbody>\n      </table>\n      {% if others.count and not filter_query %}<p class="muted">Les marchés qui ont le plus de pièces en cours. <a href="{{ url_for(\'dashboard.marches\') }}" data-testid="marches-all">Tous les marchés ({{ overview.marches }}), par référence</a></p>{% endif %}\n    </section>\n  </div>\n  <section class="card" aria-labelledby="board-list-title">\n    <h2 id="board-list-title">Pièces</h2>\n    <p class="muted" aria-live="polite" data-testid="board-count">{% if page.more_than %}plus de {{ page.more_than | number(0) }} pièces{% else %}{{ page.total }} pièce{{ "s" if page.total > 1 }}{% endif %}</p>\n    <table class="table pieces-table" data-testid="board-list">\n      <thead><tr>\n        <th scope="col" aria-sort="{{ (\'descending\' if sort[1] else \'ascending\') if sort[0] == \'numero\' else \'none\' }}">{{ board_sort_link("numero", "N°", sort, filter_query) }}</th>\n        <th scope="col">Pièce</th>\n        <th scope="col" aria-sort="{{ (\'descending\' if sort[1] else \'ascending\') if sort[0] == \'marche\' else \'none\' }}">{{ board_sort_link("marche", "Marché", sort, filter_query) }}</th>\n        <th scope="col">Émetteur</th>\n        <th scope="col" class="num" aria-sort="{{ (\'descending\' if sort[1] else \'ascending\') if sort[0] == \'montant\' else \'none\' }}">{{ board_sort_link("montant", "Montant TTC", sort, filter_query) }}</th>\n        <th scope="col" aria-sort="{{ (\'descending\' if sort[1] else \'ascending\') if sort[0] == \'statut\' else \'none\' }}">{{ board_sort_link("statut", "Statut", sort, filter_query) }}</th>\n        <th scope="col">Échéance</th>\n        <th scope="col" aria-sort="{{ (\'descending\' if sort[1] else \'ascending\') if sort[0] == \'date\' else \'none\' }}">{{ board_sort_link("date", "Envoyée le", sort, filter_query) }}</th>\n      </tr></thead>\n      <tbody>\n      {% if page.items %}{{ board_list_rows(page.items, now) }}{% else %}\n        <tr><td colspan="8">{% if filter_query %}Aucune pièce ne correspond à ces filtres.{% else %}Aucune pièce pour l\'instant.{% endif %}</td></tr>\n      {% endif %}\n      </tbody>\n    </table>\n    {% if page.before or page.after %}\n    {# Keyset pagination: each link carries the row it starts from (« apres » / « avant »), read through the sort\'s\n       index at any depth. #}\n    <nav class="pagination" aria-label="Pages">\n      {% set keep = dict(filter_query, tri=("-" if sort[1] else "") ~ sort[0]) %}\n      {% if page.before %}{% set url = url_for(\'dashboard.tableau_de_bord\', avant=page.before, **keep) %}\n        <a class="button" href="{{ url }}" hx-get="{{ url }}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true" rel="prev" data-testid="previous-page">← Précédent</a>{% endif %}\n      {% if page.after %}{% set url = url_for(\'dashboard.tableau_de_bord\', apres=page.after, **keep) %}\n        <a class="button" href="{{ url }}" hx-get="{{ url }}" hx-target="#board" hx-swap="outerHTML" hx-push-url="true" rel="next" data-testid="next-page">Suivant →</a>{% endif %}\n    </nav>\n    {% endif %}\n  </section>\n{{ help_texts() }}</div>\n{# The companies of the marché just chosen, when there are too many to offer them all (operations.board_reading.parties). #}\n{% if party_oob %}{{ filter_select(form.party_id, **{"hx-swap-oob": "true"}) }}{% endif %}\n'


def _overviews():
    from chorus_chain.operations.board_reading.marches import MarcheLine, OtherMarches
    from chorus_chain.operations.dashboard import Overview, StatusCount

    statuses = [StatusCount("DEPOSEE", 1, Decimal("1200.00")), StatusCount("A_VALIDER_1", 12, Decimal("-30.50")),
                StatusCount("MISE_EN_PAIEMENT", 3, Decimal("0.00"))]
    lines = [MarcheLine(7, "M-7 <Lot & \"1\">", 4, Decimal("12345.67"), Decimal("100.00"), 2),
             MarcheLine(8, "L'autre", 1, Decimal("0.00"), Decimal("0.00"), 0)]
    return [Overview([], []), Overview(statuses[:1], lines[:1]),
            Overview(statuses, lines, other_marches=OtherMarches(1, 2, Decimal("10.00"), Decimal("5.00"), 1)),
            Overview(statuses, lines, other_marches=OtherMarches(5, 20, Decimal("-10.00"), Decimal("0.00"), 0)),
            Overview([], [], more_than=1000)]


def _pages(now):
    from chorus_chain.operations.board_reading.lists import BoardPage

    listed = _listed(now)
    return [BoardPage([], 0, None, 25, None, None), BoardPage(listed[:1], 1, None, 25, None, None),
            BoardPage(listed, 40, None, 25, None, "WzEsIjIiXQ"), BoardPage(listed, 2, None, 25, "a&b=c d", "é/?+"),
            BoardPage(listed, None, 1000, 25, "WzEsIjIiXQ", None)]


def test_the_board_fragment_is_the_template(page):
    """The whole `#board` fragment — the cards, the count, the head, the rows, the page links and the companies'
    select sent out of band — over summaries, pages and sorts of every kind, filters to keep or not."""
    from chorus_chain.blueprints.dashboard.board_fragment import board_html

    now = utcnow()
    queries = ({}, {"status": "DEPOSEE", "marche_id": "22"}, {"number": "F&<1>'\" +%", "du": "2026-01-01",
                                                              "tri": "-montant"})
    forms = [_form(page, query, PARTIES) for query in queries]
    seen = set()
    combination = 0
    for overview in _overviews():
        for board_page in _pages(now):
            for sort in (("date", True), ("numero", False), ("montant", False)):
                combination += 1  # the filters, the rights and the out-of-band select cycle through the others
                query, form = queries[combination % 3], forms[combination % 3]
                works, oob = (None, True, False)[combination // 3 % 3], combination % 2 == 0
                filter_query = {k: v for k, v in query.items() if k != "tri"}
                written = str(board_html(overview=overview, page=board_page, sort=sort, filter_query=filter_query,
                                         works=works, now=now, party_field=form.party_id if oob else None))
                expected = _jinja(page, BOARD_TEMPLATE, overview=overview, page=board_page, sort=sort,
                                  filter_query=filter_query, works=works, now=now, form=form, party_oob=oob)
                assert _tips_in_order(written) == _tips_in_order(expected), (overview, board_page, sort, query,
                                                                              works, oob)
                seen.update(mark for mark in ("other-marches", "marches-all", "previous-page", "next-page",
                                              "Plus de 1", "plus de 1", "hx-swap-oob", "Aucune pièce ne correspond",
                                              "Aucune pièce pour", "travaux seulement", "hors factures")
                            if mark in written)
    assert len(seen) == 11, seen


def test_the_boards_links_are_url_for(page):
    """The status lines', sort links' and page links' URLs: url_for's text, values quoted as it quotes them."""
    from flask import url_for

    from chorus_chain.blueprints.dashboard.board_urls import board_url

    for query in ({}, {"status": "DEPOSEE"}, {"avant": "WzEsIjIiXQ", "tri": "-date"},
                  {"number": "F&<1>'\" +%é/?:@!$()*,;=#[]~", "du": "2026-01-01", "party_id": None},
                  {"apres": "a b", "marche_id": "22", "status": "A_VALIDER_1", "tri": "montant"}):
        assert board_url(query) == url_for("dashboard.tableau_de_bord", **query), query


# `_waiting_table.html` as it was (a waiting panel whole, which board_rows.waiting_table writes).
WAITING_TEMPLATE = '{# A short list of pieces waiting on the structure (a panel), most urgent first: `panel` (a PiecePage), `empty`. #}\n{# Its rows are written in Python: board_rows.waiting_rows (the same HTML, a third of the page\'s CPU less). #}\n{% if panel.items %}\n<table class="table compact">\n  <thead><tr><th scope="col">N°</th><th scope="col">Marché</th><th scope="col">Émetteur</th><th scope="col" class="num">Montant TTC</th><th scope="col">Statut</th><th scope="col">Échéance</th></tr></thead>\n  <tbody>\n  {{ waiting_rows(panel.items, now) }}\n  </tbody>\n</table>\n{% if panel.more_than %}<p><a href="{{ url_for(\'dashboard.synthese\') }}">Plus de {{ panel.more_than | number(0) }} pièces dans la synthèse</a></p>{% elif panel.total > panel.items|length %}<p><a href="{{ url_for(\'dashboard.synthese\') }}">Les {{ panel.total }} pièces dans la synthèse</a></p>{% endif %}\n{% else %}<p class="muted">{{ empty }}</p>{% endif %}'


def test_a_waiting_panel_is_the_template(page):
    """A panel without pieces (its text escaped), with all of its pieces, with more than it shows and with more than
    counted (the links to the Synthèse)."""
    from chorus_chain.blueprints.dashboard.board_rows import waiting_rows, waiting_table
    from chorus_chain.operations.pieces_queries import PiecePage

    now = utcnow()
    listed = _listed(now)
    panels = [PiecePage([], 0, 1, 8), PiecePage(listed[:3], 3, 1, 8), PiecePage(listed, 40, 1, 8),
              PiecePage(listed, 1001, 1, 8, more_than=1000)]
    written = []
    for panel in panels:
        empty = "Aucune pièce <à> « valider » & c'est tout."
        mine = str(waiting_table(panel, empty, now))
        assert _tips_in_order(mine) == _tips_in_order(_jinja(page, WAITING_TEMPLATE, panel=panel, empty=empty,
                                                             now=now, waiting_rows=waiting_rows)), panel
        written.append(mine)
    assert "Aucune pièce &lt;à&gt;" in written[0] and "synthese" not in written[1]
    assert "Les 40 pièces dans la synthèse" in written[2] and "Plus de 1" in written[3]


# `_overdue_private.html` as it was (the private invoices unpaid past their due date, which overdue_list writes).
OVERDUE_TEMPLATE = '{# Private invoices (between companies, code de commerce) unpaid past their due date: on the Synthèse and the Tableau\n   de bord of the company owed and of the company that must pay. #}\n{% if overdue_private %}\n<section class="card alert-card" aria-labelledby="overdue-private-title" data-testid="overdue-private">\n  <h2 id="overdue-private-title">Factures entre entreprises échues, non payées</h2>\n  <ul>\n  {% for row in overdue_private %}\n    <li><a class="mono" href="{{ piece_url(row.piece.id) }}">{{ row.piece.number }}</a> —\n      {{ row.amount | money }} TTC, {{ "due par votre donneur d\'ordre" if row.owed_to_us else "à payer à " ~ row.emitter_name }},\n      échue le {{ row.due | day }} (il y a {{ row.days }} jour{{ "s" if row.days > 1 }}).\n      <small class="muted">Code de commerce : pénalités au taux de la BCE majoré de 10 points et indemnité de 40 €.</small></li>\n  {% endfor %}\n  </ul>\n</section>\n{% endif %}'


def test_the_overdue_private_invoices_are_the_template(page):
    """None, and lines owed to the structure and owed by it, late one day and many, names and numbers to escape."""
    from datetime import date

    from chorus_chain.blueprints.dashboard.overdue_list import overdue_html
    from chorus_chain.operations.private_invoices.overdue import Overdue, OverduePiece

    rows = [Overdue(OverduePiece(41, "FP-<1>&'", Decimal("1200.00"), None), date(2026, 3, 2), 1, True, "Nous"),
            Overdue(OverduePiece(42, "FP-2", Decimal("1200.00"), Decimal("-15.50")), date(2025, 12, 31), 97, False,
                    "L'Atelier \"bois\" & <fils>")]
    for shown in ([], rows[:1], rows):
        assert str(overdue_html(shown)) == _jinja(page, OVERDUE_TEMPLATE, overdue_private=shown), shown
    written = str(overdue_html(rows))
    assert "donneur d&#39;ordre" in written and "à payer à L&#39;Atelier &#34;bois&#34; &amp; &lt;fils&gt;" in written
    assert "(il y a 1 jour)" in written and "(il y a 97 jours)" in written


# The payment tracker's loop of `_panels.html` as it was (board_rows.tracker_items writes it).
TRACKER_LOOP = '{% from "_amount_macros.html" import amount_cell %}' + '  {% for item in panels.tracker %}{% set p = item.piece %}\n  <article class="tracker" data-testid="tracker" data-piece-id="{{ p.id }}">\n    <h3><a class="mono" href="{{ piece_url(p.id) }}">{{ p.number }}</a> — {{ amount_cell(p) }} <small class="muted">marché {{ item.marche_reference }}</small> {{ status_badge(p.status) }}</h3>\n    <ol class="route tracker-steps">\n      {% for step in item.steps %}\n      <li class="{{ \'done\' if step.at else \'\' }}" data-step="{{ step.milestone.key }}">{{ step.milestone.label }}{% if step.tacit %} (tacitement){% endif %} :\n        {% if step.at %}{{ step.at | day }}{% if step.paid_on %} (payée le {{ step.paid_on | day }}){% endif %}{% if step.amount is not none %}, {{ step.amount | money }}{% endif %}{% else %}<span class="muted">pas encore</span>{% endif %}</li>\n      {% endfor %}\n    </ol>\n    {% if item.etat_label %}<p data-testid="tracker-etat">Dans l\'état d\'acompte n° {{ item.etat_label }}{% if item.etat_line %}{% set l = item.etat_line.line %} : votre ligne\n      <strong>{{ l.amount | money }}</strong> — {% if l.paid_on %}payée le {{ l.paid_on | day }}{% elif l.paid_amount > 0 %}{{ l.paid_amount | money }} payés, reste {{ l.remaining | money }}{% else %}validée, à payer au plus tard le {{ l.due_on | day }}{% endif %}{% if item.etat_line.late_total > 0 %} — paiement en retard : {{ item.etat_line.interest | money }} d\'intérêts moratoires et {{ item.etat_line.flat_fees | money }} d\'indemnité forfaitaire dus{% endif %}{% else %} — à valider par le maître d\'ouvrage{% endif %}.</p>{% endif %}\n    {% if item.expected %}<div data-testid="tracker-expected"><p><strong>Paiement {{ say(item.expected, now.date()) }}</strong></p>\n      <details><summary>Sur quoi repose cette date</summary><p>{{ item.expected.explanation }}</p></details></div>{% endif %}\n    <p><strong>En attente de</strong> : {{ waiting_text(p, item.names) }}{% if item.next_deadline %} — <span class="countdown{% if is_overdue(item.next_deadline, now) %} overdue{% endif %}">{{ countdown(item.next_deadline, now) }}</span>{% endif %}</p>\n  </article>\n  {% endfor %}'


def _tracked(now):
    from datetime import date

    from chorus_chain.operations.dashboard import MILESTONES, Step, TrackedPiece
    from chorus_chain.operations.tresorerie.forecast import Expectation

    names = {1: "Durand & <fils>", 2: "L'Atelier \"bois\""}
    route = [{"step": "validation_1", "structure_id": 1, "siret": "1"}, {"step": "moe", "structure_id": 2}]
    lines = [SimpleNamespace(amount=Decimal("900.00"), paid_on=date(2026, 2, 3), paid_amount=Decimal("900.00"),
                             remaining=Decimal("0.00"), due_on=date(2026, 2, 1)),
             SimpleNamespace(amount=Decimal("900.00"), paid_on=None, paid_amount=Decimal("300.00"),
                             remaining=Decimal("600.00"), due_on=date(2026, 2, 1)),
             SimpleNamespace(amount=Decimal("-1.00"), paid_on=None, paid_amount=Decimal("0"),
                             remaining=Decimal("-1.00"), due_on=date(2026, 2, 1))]
    etat_lines = [None, SimpleNamespace(line=lines[0], late_total=Decimal("0")),
                  SimpleNamespace(line=lines[1], late_total=Decimal("52.10"), interest=Decimal("12.10"),
                                  flat_fees=Decimal("40.00")),
                  SimpleNamespace(line=lines[2], late_total=Decimal("0"))]
    expected = [None, Expectation(date(2026, 3, 14), date(2026, 3, 10), date(2026, 4, 2), (),
                                  said="Selon <la> loi & « lui »"),
                Expectation(date(2027, 1, 5), date(2027, 1, 5), date(2027, 1, 5), ())]
    items = []
    for index, row in enumerate(_listed(now)):
        listed = row.piece
        piece = SimpleNamespace(**{name: getattr(listed, name) for name in (
            "id", "number", "cadre", "piece_type", "status", "montant_ttc", "accepted_amount", "accepted_why",
            "deposited_at")}, is_draft=listed.is_draft, route=route, emitter_structure_id=1)
        steps = []
        for position, milestone in enumerate(MILESTONES):
            reached = (position + index) % 3 != 0
            steps.append(Step(milestone, now - timedelta(days=position) if reached else None,
                              Decimal("123.40") if reached and position % 2 else None, reached and position == 1,
                              (now - timedelta(days=1)).date() if reached and milestone.key == "paid" else None))
        items.append(TrackedPiece(piece, f"M-{index} <&>", steps, names, row.next_deadline,
                                  etat_lines[index % 4], ("4 <bis>" if index % 4 else None) if index % 5 else "7",
                                  expected[index % 3]))
    return items


def test_the_payment_tracker_is_the_templates_loop(page):
    """Milestones reached or not (tacit, paid, with amounts), each state of an état d'acompte's line (paid, partly,
    to pay, late with interest, not yet validated), a payment expected or not, clocks late and upcoming."""
    from chorus_chain.blueprints.dashboard.board_rows import tracker_items

    now = utcnow()
    items = _tracked(now)
    written = str(tracker_items(items, now))
    # The loop's indent stays in the template, before the call.
    assert _tips_in_order("  " + written) == _tips_in_order(_jinja(page, TRACKER_LOOP,
                                                                   panels=SimpleNamespace(tracker=items), now=now))
    for seen in ("(tacitement)", "payée le", "payés, reste", "à payer au plus tard", "d'intérêts moratoires",
                 "à valider par le maître d'ouvrage", "tracker-expected", "pas encore", "countdown overdue",
                 "Selon &lt;la&gt; loi"):
        assert seen in written, seen
    assert str(tracker_items([], now)) == ""
