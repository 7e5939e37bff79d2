"""The operator's form to add (or correct) an ECB rate change, and the delete button."""
from __future__ import annotations

from wtforms import DateField, HiddenField, StringField

from chorus_chain.blueprints.forms import Form, max_length, required, strip


class RateForm(Form):
    effective_from = DateField("Date d'effet", validators=[required("Indiquez la date d'effet du taux.")],
                               render_kw={"type": "date"})
    rate = StringField("Taux de la BCE (en %)", filters=[strip],
                       validators=[required("Indiquez le taux, par exemple 2,15.")], render_kw={"inputmode": "decimal"})
    source = StringField("Source", filters=[strip], validators=[required("Indiquez d'où vient ce taux."),
                                                                max_length(200)])


class DeleteForm(Form):
    effective_from = HiddenField()
