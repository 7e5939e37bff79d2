from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from chorus_chain.blueprints.forms import Form, strip, email_address, max_length, required
from chorus_chain.domain.passwords import MIN_LENGTH

SIZE_CHOICES = [
    ("micro", "Microentreprise (moins de 10 salariés)"),
    ("pme", "PME (moins de 250 salariés)"),
    ("eti", "ETI (moins de 5 000 salariés)"),
    ("ge", "Grande entreprise"),
]
SIZE_SELECT_CHOICES = [SelectChoice(value, label) for value, label in SIZE_CHOICES]


class ProfileForm(Form):
    first_name = StringField("Prénom", validators=[required(), max_length(100)])
    last_name = StringField("Nom", validators=[required(), max_length(100)])
    phone = StringField("Téléphone", validators=[Optional(), max_length(30)])
    contact_email = EmailField("E-mail de contact (notifications)", validators=[Optional(), email_address(),
                                                                                max_length(254)], filters=[strip])


class PasswordChangeForm(Form):
    current_password = PasswordField("Mot de passe actuel", validators=[required()],
                                     render_kw={"autocomplete": "current-password"})
    password = PasswordField(f"Nouveau mot de passe ({MIN_LENGTH} caractères au moins)", validators=[required()],
                             render_kw={"autocomplete": "new-password"})


class StructureForm(Form):
    siret = StringField("SIRET", validators=[required(), max_length(20)],
                        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    name = StringField("Raison sociale", validators=[required(), max_length(200)])
    is_public = BooleanField("Structure publique (collectivité, État, établissement public)")
    address_line = StringField("Adresse", validators=[required(), max_length(200)])
    postal_code = StringField("Code postal", validators=[required(), max_length(10)])
    city = StringField("Commune", validators=[required(), max_length(100)])
    vat_number = StringField("N° de TVA intracommunautaire", validators=[Optional(), max_length(20)])
    size_class = SelectField("Taille de l'entreprise", choices=SIZE_SELECT_CHOICES, default="pme")


class SearchForm(Form):
    class Meta:
        csrf = False  # a GET search

    q = StringField("SIRET (3 chiffres au moins) ou raison sociale exacte", validators=[required(), max_length(200)])


class JoinForm(Form):
    message = TextAreaField("Message au gestionnaire (facultatif)", validators=[Optional(), max_length(500)])


class ContestForm(Form):
    siret = StringField("SIRET de votre entreprise", validators=[required(), max_length(20)], filters=[strip])
    reason = TextAreaField("Pourquoi cette structure est la vôtre", validators=[required(), max_length(4000)],
                           filters=[strip])
