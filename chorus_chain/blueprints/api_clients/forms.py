from __future__ import annotations

from wtforms import IntegerField, StringField
from wtforms.validators import NumberRange

from chorus_chain.blueprints.forms import max_length, required, strip
from chorus_chain.blueprints.organisation.forms import RightsForm
from chorus_chain.operations.api_clients import DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS


class NewClientForm(RightsForm):
    name = StringField("Nom du client", validators=[required(), max_length(100)], filters=[strip],
                       render_kw={"autocomplete": "off"})
    validity_days = IntegerField("Validité (jours)", default=DEFAULT_VALIDITY_DAYS,
                                 validators=[required(), NumberRange(1, MAX_VALIDITY_DAYS,
                                                                     f"Entre 1 et {MAX_VALIDITY_DAYS} jours.")])
