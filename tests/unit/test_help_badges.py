"""The help badges (`help_ui`) are built from cached escaped parts: the HTML is the one of the plain Markup.format
they replaced, for every status, cadre and clock, and each badge has its own tip id."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from chorus_chain import help_ui
from chorus_chain.domain import help as texts
from chorus_chain.domain import statuses
from chorus_chain.domain.cadres import CADRES


def _reference(label: str, explanation: str, css: str, tip_id: str) -> str:
    return str(Markup(
        '<span class="help-badge"><abbr class="{css}" title="{expl}" aria-describedby="{tid}">{label}</abbr>'
        '<details class="help-tip"><summary aria-label="Que signifie « {label} » ?">?</summary>'
        '<span class="help-text" id="{tid}" role="note">{expl}</span></details></span>'
    ).format(css=css, expl=escape(explanation), tid=tip_id, label=escape(label)))


def _tip_id(html: str) -> str:
    return re.search(r'aria-describedby="([^"]+)"', html).group(1)


def test_badges_are_the_html_of_the_plain_format():
    for status in statuses.STATUS_INFO:
        for big in (False, True):
            html = str(help_ui.status_badge(status.value, big=big))
            css = f"badge{' big' if big else ''} {help_ui.badge(status.value)}"
            assert html == _reference(statuses.label(status.value), texts.status_help(status.value), css, _tip_id(html))
    for code in [*CADRES, None]:
        html = str(help_ui.cadre_badge(code))
        assert html == _reference(code or "privée", texts.cadre_help(code), "code", _tip_id(html))
    kind = next(iter(texts.DEADLINE_HELP))
    html = str(help_ui.deadline_badge(kind, 'Délai <« test » & co>'))
    assert html == _reference('Délai <« test » & co>', texts.deadline_help(kind), "deadline-label", _tip_id(html))
    assert "&lt;« test » &amp; co&gt;" in html


def test_each_badge_has_its_own_tip():
    first, second = str(help_ui.cadre_badge("A4")), str(help_ui.cadre_badge("A4"))
    assert _tip_id(first) != _tip_id(second)
    assert f'id="{_tip_id(second)}"' in second
