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
