"""`work_items.work_item_head` writes a row's head of the Synthèse's work list exactly as the template it replaced did
(kept here, as it was in `dashboard/_work_list.html`): for a clock run out, one to come, none, a draft, a piece not
sent, an amount that differs from the one requested (with and without its stored why), an avoir, a private invoice,
and texts that need escaping."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

from chorus_chain.models.base import utcnow
from chorus_chain.operations.synthese.reading import NextClock

# The head of a row as `_work_list.html` wrote it before `work_items` (issue 20, session 9).
TEMPLATE = """{% from "_amount_macros.html" import amount_cell %}{% set p = row.piece %}\
<li class="card work-item{% if row.next_deadline and is_overdue(row.next_deadline, now) %} overdue{% endif %}" id="work-{{ p.id }}" data-testid="work-item" data-piece-id="{{ p.id }}" data-status="{{ p.status }}">
      <div class="work-head">
        <a class="mono" href="{{ piece_url(p.id) }}">{{ p.number }}</a>
        {{ cadre_badge(p.cadre) }} <span>{{ piece_kind(p) }}</span>
        {{ status_badge(p.status) }}
        <span class="num">{{ amount_cell(p) }}</span>
      </div>
      <p class="work-meta"><small class="muted">Marché {{ row.marche_reference }} — de {{ row.emitter_name }}{% if p.deposited_at %}, envoyée le {{ p.deposited_at | day }}{% endif %}</small></p>
      {#- a div, not a p: the badge's help is a <details>, which would end a paragraph and break the line -#}
      <div class="work-deadline">{% if row.next_deadline %}{{ deadline_badge(row.next_deadline.kind, deadline_label(row.next_deadline.kind)) }} :
        <strong class="countdown{% if is_overdue(row.next_deadline, now) %} overdue{% endif %}" data-testid="countdown">{{ countdown(row.next_deadline, now) }}</strong>
        <small class="muted">(échéance le {{ row.next_deadline.due_at | instant }})</small>
        {% elif p.is_draft %}<strong>Brouillon non envoyé</strong> : personne d'autre ne le voit tant que vous ne l'envoyez pas.
        {% else %}<span class="muted">Pas d'échéance en cours.</span>{% endif %}</div>"""


def _piece(piece_id, *, cadre="A10", status="A_VALIDER_1", ttc="1200.00", accepted=None, why=None, sent=True,
           number=None, piece_type="FACTURE"):
    return SimpleNamespace(id=piece_id, number=number or f"F-{piece_id}", cadre=cadre, piece_type=piece_type,
                           status=status, montant_ttc=Decimal(ttc),
                           accepted_amount=None if accepted is None else Decimal(accepted), accepted_why=why,
                           deposited_at=utcnow() - timedelta(days=3) if sent else None,
                           is_draft=status == "BROUILLON")


def _row(piece, clock=None, reference="M-2026-001", emitter="Durand BTP"):
    return SimpleNamespace(piece=piece, marche_reference=reference, emitter_name=emitter, emitter_siret="1",
                           next_deadline=clock)


def _ids_apart(html: str) -> str:
    """The badges' tip ids count up through the process: equal but for their numbers."""
    return re.sub(r"aide-(statut|cadre|delai)-\d+", r"aide-\1-N", str(html))


def test_the_head_written_in_python_is_the_templates(app):
    from flask import g, render_template_string

    from chorus_chain.blueprints.dashboard.work_items import work_item_head

    now = utcnow()
    partial = {"source": "partial", "reason": "Travaux non faits", "comment": "lot 2"}
    rows = [
        _row(_piece(11), NextClock("validation_1", now - timedelta(days=20))),
        _row(_piece(12, accepted="1000.00", why=partial), NextClock("validation_1", now + timedelta(days=3))),
        _row(_piece(13, accepted="900.00"), NextClock("moe", now + timedelta(hours=5))),
        _row(_piece(14, status="BROUILLON", sent=False)),
        _row(_piece(15, cadre=None, status="TRANSMISE_CONTRACTANT")),
        _row(_piece(16, piece_type="AVOIR", ttc="-150.50", accepted="-150.50"), NextClock("paiement", now)),
        _row(_piece(17, number='F<1>&"2\''), NextClock("paiement", now + timedelta(days=30)),
             reference="M & <b>", emitter="L'Atelier \"Roux\" <SA>"),
        _row(_piece(18, status="A_VALIDER_1", sent=False)),
    ]
    siret = "40000047700010"
    with app.test_request_context(f"/s/{siret}/synthese"):
        g.structure = SimpleNamespace(siret=siret)  # the tenant's URLs (tenancy's url_defaults)
        for row in rows:
            expected = render_template_string(TEMPLATE, row=row, now=now)
            assert _ids_apart(work_item_head(row, now)) == _ids_apart(expected), row.piece.id
    # The cases above are the ones meant: a differing amount with its link, a draft, a clock run out.
    with app.test_request_context(f"/s/{siret}/synthese"):
        g.structure = SimpleNamespace(siret=siret)
        written = [str(work_item_head(row, now)) for row in rows]
    assert 'data-testid="amount-why-link"' in written[1] and 'data-testid="amount-why"' in written[2]
    assert "Brouillon non envoyé" in written[3] and "Pas d'échéance en cours." in written[4]
    assert 'class="card work-item overdue"' in written[0] and "&lt;SA&gt;" in written[6]
