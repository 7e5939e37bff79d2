"""The Synthèse's marché options written in Python (filter_fields.marche_options) are what its template's loop wrote."""
from __future__ import annotations

from collections import namedtuple

import pytest
from jinja2 import Environment

from chorus_chain.blueprints.dashboard.filter_fields import marche_options

# The loop synthese.html had, verbatim.
LOOP = ('{% for marche in marches %}<option value="{{ marche.id }}"{% if marche.id == marche_id %} selected'
        '{% endif %}>{{ marche.reference }}</option>{% endfor %}')
Choice = namedtuple("Choice", "id reference")  # as marches.marche_choices returns its rows: (id, reference)
MARCHES = [Choice(3, "BENCH-2025-0003"), Choice(12, 'Lot "A" & <B>'), Choice(7, "Rénovation l'école — 2026"),
           Choice(40, "M-40")]


@pytest.mark.parametrize("chosen", [None, 3, 12, 40, 99])
@pytest.mark.parametrize("marches", [MARCHES, MARCHES[:1], []])
def test_the_options_are_the_loops(marches, chosen):
    loop = Environment(autoescape=True).from_string(LOOP)
    written = marche_options(marches, chosen)
    assert str(written) == loop.render(marches=marches, marche_id=chosen)
    assert written.count(" selected") == (1 if chosen in {m.id for m in marches} else 0)
