"""The help badges (`help_ui`): each badge names its status, cadre or clock and points at its explanation, which
`help_texts` writes once for all the badges of a page part, and anew for the next part (a fragment swapped alone)."""
from __future__ import annotations

import re

import pytest
from flask import Flask
from markupsafe import Markup, escape

from chorus_chain import help_ui
from chorus_chain.domain import help as texts
from chorus_chain.domain import statuses
from chorus_chain.domain.cadres import CADRES


@pytest.fixture
def request_context():
    app = Flask(__name__)
    help_ui.register(app)  # the explanations not written are forgotten with the context
    with app.test_request_context("/"):
        yield


def _reference(label: str, css: str, tip_id: str) -> str:
    return str(Markup(
        '<span class="help-badge"><abbr class="{css}" aria-describedby="{tid}">{label}</abbr>'
        '<button type="button" class="help-tip" popovertarget="{tid}" aria-label="Que signifie « {label} » ?">?'
        '</button></span>'
    ).format(css=css, tid=tip_id, label=escape(label)))


def _popover(explanation: str, tip_id: str) -> str:
    return str(Markup('<div class="help-text" id="{tid}" role="note" popover>{expl}</div>').format(
        tid=tip_id, expl=explanation))


def _tip_id(html: str) -> str:
    return re.search(r'aria-describedby="([^"]+)"', html).group(1)


def test_badges_are_the_html_of_the_plain_format(request_context):
    for status in statuses.STATUS_INFO:
        for big in (False, True):
            html = str(help_ui.status_badge(status.value, big=big))
            css = f"badge{' big' if big else ''} {help_ui.badge(status.value)}"
            assert html == _reference(statuses.label(status.value), css, _tip_id(html))
            assert str(help_ui.help_texts()) == _popover(texts.status_help(status.value), _tip_id(html))
    for code in [*CADRES, None]:
        html = str(help_ui.cadre_badge(code))
        assert html == _reference(code or "privée", "code", _tip_id(html))
        assert str(help_ui.help_texts()) == _popover(texts.cadre_help(code), _tip_id(html))
    kind = next(iter(texts.DEADLINE_HELP))
    html = str(help_ui.deadline_badge(kind, 'Délai <« test » & co>'))
    assert html == _reference('Délai <« test » & co>', "deadline-label", _tip_id(html))
    assert "&lt;« test » &amp; co&gt;" in html
    assert str(help_ui.help_texts()) == _popover(texts.deadline_help(kind), _tip_id(html))


def test_an_explanation_is_written_once_per_page_part(request_context):
    first, again, other = help_ui.cadre_badge("A4"), help_ui.cadre_badge("A4"), help_ui.cadre_badge("A10")
    assert _tip_id(first) == _tip_id(again) != _tip_id(other)
    # A status's big badge and its small one share the explanation; a cadre never shares a status's.
    small, big = help_ui.status_badge("DEPOSEE"), help_ui.status_badge("DEPOSEE", big=True)
    assert _tip_id(small) == _tip_id(big) and _tip_id(small).startswith("aide-statut-")
    written = str(help_ui.help_texts())
    assert written.count('class="help-text"') == 3
    assert [f'id="{_tip_id(badge)}"' in written for badge in (first, other, small)] == [True] * 3
    assert written.count(str(escape(texts.cadre_help("A4")))) == 1
    assert str(help_ui.help_texts()) == ""  # written: nothing left for the next part
    # The next part (a fragment swapped alone) writes its own, under another id: ids stay unique on the page.
    later = help_ui.cadre_badge("A4")
    assert _tip_id(later) != _tip_id(first) and f'id="{_tip_id(later)}"' in str(help_ui.help_texts())


def test_what_a_request_left_unwritten_is_not_the_next_ones():
    app = Flask(__name__)
    help_ui.register(app)
    with app.test_request_context("/"):
        help_ui.status_badge("DEPOSEE")  # written by nobody
    with app.test_request_context("/"):
        assert str(help_ui.help_texts()) == ""
