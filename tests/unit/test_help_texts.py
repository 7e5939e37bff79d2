"""Every status, cadre and deadline the application can show has its people-facing help text; the reform dates."""
from __future__ import annotations

from datetime import date

import pytest
from markupsafe import Markup

from chorus_chain.domain import help as texts
from chorus_chain.domain import reform
from chorus_chain.domain import transitions as T
from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.deadlines import DEADLINE_KINDS
from chorus_chain.domain.statuses import ALL_STATUSES
from chorus_chain.help_articles import BY_SLUG


@pytest.mark.parametrize("code", ALL_STATUSES)
def test_every_status_has_an_explanation(code):
    assert len(texts.status_help(code)) > 20


@pytest.mark.parametrize("code", ALL_STATUSES)
def test_every_waiting_status_says_what_to_do(code):
    step = T.current_step(code)
    if step in (None, T.SYSTEM):
        assert texts.what_to_do(code, "actor") is None
        return
    # the one who must act always has a text; the emitter too (even if it is "nothing to do, because...")
    assert texts.what_to_do(code, "actor")
    assert texts.what_to_do(code, "emitter")


@pytest.mark.parametrize("code", list(CADRES))
def test_every_cadre_has_its_text(code):
    assert len(texts.cadre_help(code)) > 20
    assert texts.cadre_help(None) == texts.PRIVATE_HELP


@pytest.mark.parametrize("kind", DEADLINE_KINDS)
def test_every_deadline_kind_has_its_text(kind):
    assert len(texts.deadline_help(kind)) > 20


def test_a_recycler_tells_the_emitter_what_to_do_and_keeps_the_number():
    text = texts.what_to_do("A_RECYCLER", "emitter")
    assert "code service" in text and "son numéro reste le même" in text
    assert texts.what_to_do("A_RECYCLER", "actor") == text  # the emitter is the one who acts


def test_status_articles_exist():
    assert set(texts.STATUS_ARTICLES.values()) <= set(BY_SLUG)


def test_badge_markup_is_escaped_and_accessible(app):
    from chorus_chain import help_ui

    with app.test_request_context():
        html = help_ui.status_badge("A_RECYCLER")
        explanation = help_ui.help_texts()
    assert isinstance(html, Markup) and isinstance(explanation, Markup)
    assert "<abbr" in html and "aria-describedby" in html and '<button type="button"' in html
    assert "popover" in explanation and 'role="note"' in explanation
    for written in (html, explanation):
        assert "style=" not in written and "<script" not in written
        assert "d&#39;" in written or "d'" not in written  # apostrophes escaped


@pytest.mark.parametrize("size, issue", [("ge", date(2026, 9, 1)), ("eti", date(2026, 9, 1)),
                                         ("pme", date(2027, 9, 1)), ("micro", date(2027, 9, 1))])
def test_reform_dates_by_size_class(size, issue):
    obligations = {o.kind: o for o in reform.obligations(size, date(2026, 1, 1))}
    assert obligations["reception"].starts_on == date(2026, 9, 1)
    assert obligations["emission"].starts_on == issue


def test_reform_countdown():
    before = {o.kind: o for o in reform.obligations("pme", date(2026, 8, 31))}
    assert before["reception"].when_text == "demain" and not before["reception"].in_force
    assert before["emission"].when_text == "dans 366 jours"
    after = {o.kind: o for o in reform.obligations("pme", date(2026, 11, 28))}
    assert after["reception"].in_force and after["reception"].when_text == "déjà en vigueur"
    assert after["emission"].days_left == 277
    on_the_day = {o.kind: o for o in reform.obligations("ge", date(2026, 9, 1))}
    assert on_the_day["emission"].in_force
    with pytest.raises(ValueError):
        reform.obligations("geante", date(2026, 1, 1))
