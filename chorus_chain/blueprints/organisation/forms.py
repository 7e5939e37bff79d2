"""Forms of the structure's administration. Business checks (IBAN, VAT, unique code...) live in the operations;
these forms only carry the input and show the operations' refusals next to their fields."""
from __future__ import annotations

from decimal import Decimal

from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from chorus_chain.blueprints.accounts.forms import SIZE_CHOICES
from chorus_chain.blueprints.forms import Form
from chorus_chain.blueprints.forms import max_length, required, strip
from chorus_chain import formatting
from chorus_chain.domain import legal_identity
from chorus_chain.domain import rights as rights_rules
from chorus_chain.operations.organisation import ROUTING_LABELS

LEVEL_CHOICES = [SelectChoice(value, label) for value, label in rights_rules.LEVEL_LABELS.items()]
ROUTING_CHOICES = [SelectChoice(value, label) for value, label in ROUTING_LABELS.items()]
SIZE_CLASS_CHOICES = [SelectChoice(value, label) for value, label in SIZE_CHOICES]


def person_choices(rows, value=lambda row: row.id, account=lambda row: row) -> list[SelectChoice]:
    """Options naming people, after an empty "Choisissez…" one."""
    return [SelectChoice("", "Choisissez un utilisateur…")] + [
        SelectChoice(value(row), f"{account(row).full_name} ({account(row).email})") for row in rows]


def _int_or_none(value):
    # A tampered or empty choice reaches the operation as None, which answers with a French sentence.
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class RightsForm(Form):
    right_emises = SelectField(rights_rules.DOMAIN_LABELS["emises"], choices=LEVEL_CHOICES)
    right_travaux = SelectField(rights_rules.DOMAIN_LABELS["travaux"], choices=LEVEL_CHOICES)
    right_recues = SelectField(rights_rules.DOMAIN_LABELS["recues"], choices=LEVEL_CHOICES)
    right_organisation = SelectField(rights_rules.DOMAIN_LABELS["organisation"], choices=LEVEL_CHOICES)

    def rights(self) -> dict[str, str]:
        return {d: self[f"right_{d}"].data for d in rights_rules.DOMAINS}

    def fill(self, rights: dict[str, str]) -> RightsForm:
        for domain, level in rights.items():
            self[f"right_{domain}"].data = level
        return self


class RefuseForm(Form):
    reason = TextAreaField("Motif (facultatif, envoyé au demandeur)", validators=[Optional(), max_length(500)],
                           filters=[strip])


class ActionForm(Form):
    """A button that changes something: only the CSRF token travels."""


class HandOverForm(Form):
    member_id = SelectField("Nouveau gestionnaire principal", coerce=_int_or_none, validate_choice=False)


class SettingsForm(Form):
    name = StringField("Raison sociale", validators=[required(), max_length(200)], filters=[strip])
    is_public = BooleanField("Structure publique (collectivité, État, établissement public)")
    address_line = StringField("Adresse", validators=[required(), max_length(200)], filters=[strip])
    postal_code = StringField("Code postal", validators=[required(), max_length(10)], filters=[strip])
    city = StringField("Commune", validators=[required(), max_length(100)], filters=[strip])
    vat_number = StringField("N° de TVA intracommunautaire", validators=[Optional(), max_length(20)],
                             filters=[strip])
    size_class = SelectField("Taille de l'entreprise", choices=SIZE_CLASS_CHOICES)
    routing_requirement = SelectField("Exigence pour les factures reçues", choices=ROUTING_CHOICES)
    legal_form = StringField("Forme juridique", validators=[Optional(), max_length(legal_identity.LEGAL_FORM_MAX)],
                             filters=[strip], render_kw={"list": "legal-forms", "autocomplete": "off"})
    share_capital = StringField("Capital social (€)", filters=[strip], render_kw={"inputmode": "decimal"})
    registration = StringField("Immatriculation (RCS ou RM)",
                               validators=[Optional(), max_length(legal_identity.REGISTRATION_MAX)], filters=[strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The stored capital is a Decimal ("50000.00"); show it as people write it ("50 000,00"). The operation
        # reads French decimals back (domain.decimals), so the shown text saves unchanged.
        if isinstance(self.share_capital.data, Decimal):
            self.share_capital.data = formatting.number(self.share_capital.data, 2)


class ServiceForm(Form):
    name = StringField("Nom du service", validators=[required(), max_length(200)], filters=[strip])
    valid_from = DateField("Début de validité", validators=[Optional()])
    valid_to = DateField("Fin de validité", validators=[Optional()])
    engagement_required = BooleanField("Numéro d'engagement obligatoire pour ce service")


class NewServiceForm(ServiceForm):
    code = StringField("Code service", validators=[required(), max_length(100)], filters=[strip],
                       render_kw={"autocomplete": "off"})


class ServiceMemberForm(Form):
    account_id = SelectField("Utilisateur", coerce=_int_or_none, validate_choice=False)


class BankAccountForm(Form):
    label = StringField("Libellé", validators=[required(), max_length(100)], filters=[strip])
    iban = StringField("IBAN", validators=[required(), max_length(50)], filters=[strip],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    bic = StringField("BIC", validators=[required(), max_length(20)], filters=[strip],
                      render_kw={"autocomplete": "off", "spellcheck": "false"})
    affactureur = BooleanField("Compte d'un affactureur (factor)")
    is_default = BooleanField("Compte par défaut")


class BankAccountEditForm(Form):
    label = StringField("Libellé", validators=[required(), max_length(100)], filters=[strip])
    affactureur = BooleanField("Compte d'un affactureur (factor)")
