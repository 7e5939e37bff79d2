"""The form of a modification de marché (avenant). The bordereau's lines it changes come as `line_<id>` fields (one
per line of the marché), read by the operation from the posted form."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from chorus_chain.blueprints.forms import Form, max_length, required


class AvenantForm(Form):
    signed_on = StringField("Date de signature", validators=[required(), max_length(10)],
                            render_kw={"type": "date"})
    amount_ht = StringField("Montant HT de l'avenant (€), négatif pour une moins-value",
                            validators=[required(), max_length(30)], render_kw={"inputmode": "decimal"})
    objet = TextAreaField("Objet de l'avenant", validators=[required(), max_length(500)], render_kw={"rows": 2})
    party_id = SelectField("Part modifiée", validate_choice=False, choices=[], coerce=str)
    modifies_dc4 = BooleanField("L'acte spécial du sous-traitant est modifié en conséquence (DC4 modificatif)")
    new_reference = StringField("Référence de la ligne ajoutée", validators=[Optional(), max_length(30)])
    new_designation = StringField("Désignation", validators=[Optional(), max_length(300)])
    new_unit = StringField("Unité", validators=[Optional(), max_length(20)])
    new_quantity = StringField("Quantité", validators=[Optional(), max_length(30)], render_kw={"inputmode": "decimal"})
    new_unit_price = StringField("Prix unitaire HT (€)", validators=[Optional(), max_length(30)],
                                 render_kw={"inputmode": "decimal"})
    new_amount = StringField("ou montant forfaitaire HT (€)", validators=[Optional(), max_length(30)],
                             render_kw={"inputmode": "decimal"})
