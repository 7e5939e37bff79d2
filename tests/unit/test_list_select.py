"""`ListSelect` writes the very HTML of WTForms' own select, only faster."""
from __future__ import annotations

from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select

from chorus_chain.blueprints.forms import ListSelect

CHOICES = [SelectChoice("", "Tous les marchés"), SelectChoice("12", "M-2026 <travaux> & « lot 1 »"),
           SelectChoice("13", 'Durand "& Fils"'), SelectChoice("14", ""),
           SelectChoice("15", "Avec attributs", render_kw={"data-kind": "x"})]


def _forms(data):
    class Plain(Form):
        marche_id = SelectField("Marché", validate_choice=False, choices=CHOICES, widget=Select())

    class Fast(Form):
        marche_id = SelectField("Marché", validate_choice=False, choices=CHOICES, widget=ListSelect())

    return Plain(data=data), Fast(data=data)


def test_same_html_as_wtforms_whatever_is_selected():
    for selected in (None, "", "12", "13", "14", "15", "99"):
        plain, fast = _forms({"marche_id": selected} if selected is not None else {})
        assert str(fast.marche_id()) == str(plain.marche_id())
        assert str(fast.marche_id(class_="wide", **{"aria-describedby": "h"})) == \
            str(plain.marche_id(class_="wide", **{"aria-describedby": "h"}))
    plain, fast = _forms({"marche_id": "13"})
    assert '<option selected value="13">Durand &#34;&amp; Fils&#34;</option>' in str(fast.marche_id())
