"""Forms of the marchés. Amounts, rates and dates are text fields and the selects do not check their choices: the
operations read French numbers ("1 200 000,00", "5 %") and refuse bad values with a French field-level message
(WTForms' own messages would be in English); the rules live there, not here."""
from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from chorus_chain.blueprints.accounts.forms import StructureForm
from chorus_chain.blueprints.forms import Form, email_address, max_length, required
from chorus_chain.graph import ROLE_LABELS


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


KIND_CHOICES = [("travaux", "Travaux"), ("services", "Services"), ("fournitures", "Fournitures")]
CREATOR_ROLE_CHOICES = [
    ("moa", "Maître d'ouvrage (acheteur public)"),
    ("titulaire", "Titulaire du marché"),
    ("mandataire", "Mandataire d'un groupement"),
]
# The délai global de paiement is any number of days up to the buyer's ceiling (domain.deadlines.check_dgp_days).
BUYER_CHOICES = [("collectivite_territoriale", "Collectivité territoriale (délai de paiement : 30 jours au plus)"),
                 ("etat", "État ou établissement public de l'État (30 jours au plus)"),
                 ("etablissement_public_de_sante", "Établissement public de santé (50 jours au plus)"),
                 ("entreprise_publique", "Autre acheteur, entreprise publique (60 jours au plus)")]
PRICE_FORM_CHOICES = [("ferme", "Prix ferme"), ("actualisable", "Prix ferme actualisable"),
                      ("revisable", "Prix révisable")]
CCAG_CHOICES = [("2021", "CCAG Travaux 2021"), ("2009", "CCAG Travaux 2009")]
GROUPEMENT_CHOICES = [("none", "Titulaire seul (pas de groupement)"), ("conjoint", "Groupement conjoint"),
                      ("solidaire", "Groupement solidaire")]
CIRCUIT_CHOICES = [("each", "Chaque co-traitant dépose ses propres demandes de paiement"),
                   ("mandataire_for_all", "Le mandataire dépose une demande globale pour le groupement")]


def _siret_field(label: str, *validators) -> StringField:
    return StringField(label, validators=[*validators, max_length(20)],
                       render_kw={"inputmode": "numeric", "autocomplete": "off"})


class MarcheForm(Form):
    reference = StringField("Référence du marché", validators=[required(), max_length(100)])
    objet = TextAreaField("Objet", validators=[required(), max_length(500)], render_kw={"rows": 2})
    kind = SelectField("Nature", validate_choice=False, choices=choices(KIND_CHOICES), default="travaux")
    creator_role = SelectField("Votre rôle sur ce marché", validate_choice=False,
                               choices=choices(CREATOR_ROLE_CHOICES), default="moa")
    moa_siret = _siret_field("SIRET du maître d'ouvrage", Optional())
    moa_name = StringField("Nom du maître d'ouvrage (s'il n'est pas encore inscrit)",
                           validators=[Optional(), max_length(200)])
    moa_email = EmailField("E-mail à inviter (s'il n'est pas encore inscrit)",
                           validators=[Optional(), email_address(), max_length(254)])
    moa_service_code = StringField("Code service du maître d'ouvrage", validators=[Optional(), max_length(100)])
    engagement_number = StringField("N° d'engagement juridique (EJ)", validators=[Optional(), max_length(50)])
    paying_office_siret = _siret_field("SIRET du service financier (si ce n'est pas le maître d'ouvrage)",
                                       Optional())
    paying_office_name = StringField("Nom du service financier (s'il n'est pas encore inscrit)",
                                     validators=[Optional(), max_length(200)])
    paying_office_email = EmailField("E-mail du service financier à inviter",
                                     validators=[Optional(), email_address(), max_length(254)])
    paying_service_code = StringField("Code service du service financier", validators=[Optional(), max_length(100)])
    montant_ht = StringField("Montant du marché HT (€)", validators=[required(), max_length(30)],
                             render_kw={"inputmode": "decimal"})
    tva_rate = StringField("Taux de TVA (%)", default="20", validators=[required(), max_length(10)],
                           render_kw={"inputmode": "decimal"})
    holder_montant_ttc = StringField("Part TTC du mandataire (€)", validators=[Optional(), max_length(30)],
                                     render_kw={"inputmode": "decimal"})
    groupement = SelectField("Attributaire", validate_choice=False, choices=choices(GROUPEMENT_CHOICES),
                             default="none")
    cotraitance_circuit = SelectField("Circuit de facturation du groupement", validate_choice=False,
                                      choices=choices(CIRCUIT_CHOICES),
                                      default="each")
    buyer_category = SelectField("Type d'acheteur", validate_choice=False, choices=choices(BUYER_CHOICES),
                                 default="collectivite_territoriale")
    dgp_days = StringField("Délai global de paiement (jours)", default="30", validators=[required(), max_length(4)],
                           render_kw={"inputmode": "numeric"})
    moe_days = StringField("Délai du maître d'œuvre pour l'état d'acompte (jours)", default="7",
                           validators=[required(), max_length(3)], render_kw={"inputmode": "numeric"})
    retenue_rate = StringField("Retenue de garantie (%)", default="5", validators=[Optional(), max_length(10)],
                               render_kw={"inputmode": "decimal"})
    retenue_replaced_by_guarantee = BooleanField("Retenue remplacée par une garantie à première demande ou une "
                                                 "caution")
    avance_rate = StringField("Avance (% du montant TTC initial)", default="5",
                              validators=[Optional(), max_length(10)], render_kw={"inputmode": "decimal"})
    avance_guarantee = BooleanField("Avance garantie par une garantie à première demande (obligatoire au-delà de "
                                    "30 %)")
    avance_repayment_end = StringField("Avance remboursée en totalité à (% d'exécution)", default="80",
                                       validators=[Optional(), max_length(10)], render_kw={"inputmode": "decimal"})
    duration_months = StringField("Durée du marché (mois)", default="12", validators=[Optional(), max_length(3)],
                                  render_kw={"inputmode": "numeric"})
    guarantee_months = StringField("Délai de garantie (mois)", default="12", validators=[Optional(), max_length(3)],
                                   render_kw={"inputmode": "numeric"})
    penalty_daily_amount = StringField("Pénalité de retard par jour (€ HT)", validators=[Optional(), max_length(30)],
                                       render_kw={"inputmode": "decimal", "placeholder": "1/3000 du montant"})
    penalty_no_exemption = BooleanField("Pas d'exonération des pénalités d'un total de 1 000 € HT au plus (dérogation du CCAP)")
    price_form = SelectField("Forme du prix", validate_choice=False, choices=choices(PRICE_FORM_CHOICES),
                             default="revisable")
    revision_a = StringField("Partie fixe a de la formule", default="0,125", validators=[Optional(), max_length(10)],
                             render_kw={"inputmode": "decimal"})
    revision_index = StringField("Index", default="BT01", validators=[Optional(), max_length(20)])
    revision_base_month = StringField("Mois de base (mois zéro), AAAA-MM", validators=[Optional(), max_length(7)],
                                      render_kw={"placeholder": "2025-01"})
    ccag_version = SelectField("CCAG", validate_choice=False, choices=choices(CCAG_CHOICES), default="2021")


class PartyForm(Form):
    role = SelectField("Rôle", validate_choice=False, choices=[])
    siret = _siret_field("SIRET de l'entreprise ou de l'organisme", required())
    name = StringField("Raison sociale (si elle n'est pas encore inscrite)", validators=[Optional(), max_length(200)])
    email = EmailField("E-mail de la personne à inviter (si elle n'est pas encore inscrite)",
                       validators=[Optional(), email_address(), max_length(254)])
    montant_ttc = StringField("Part TTC (€), pour un membre du groupement", validators=[Optional(), max_length(30)],
                              render_kw={"inputmode": "decimal"})
    service_code = StringField("Code service (service financier)", validators=[Optional(), max_length(100)])

    def set_roles(self, roles: list[str]) -> None:
        self.role.choices = [SelectChoice(r, ROLE_LABELS[r][:1].upper() + ROLE_LABELS[r][1:]) for r in roles]


class SousTraitantForm(Form):
    parent_id = SelectField("Entreprise donneuse d'ordre", validate_choice=False, choices=[], coerce=str)
    siret = _siret_field("SIRET du sous-traitant", required())
    name = StringField("Raison sociale (s'il n'est pas encore inscrit)", validators=[Optional(), max_length(200)])
    email = EmailField("E-mail de la personne à inviter (s'il n'est pas encore inscrit)",
                       validators=[Optional(), email_address(), max_length(254)])
    dc4_nature = TextAreaField("Nature des prestations sous-traitées", validators=[required(), max_length(2000)],
                               render_kw={"rows": 2})
    montant_ttc = StringField("Montant TTC de la part sous-traitée (€)", validators=[required(), max_length(30)],
                              render_kw={"inputmode": "decimal"})
    dc4_payment_terms = TextAreaField("Conditions de paiement (avance, révision des prix, délais)",
                                      validators=[Optional(), max_length(2000)], render_kw={"rows": 2})
    dc4_excludes_revision = BooleanField("Le montant de l'acte spécial s'entend hors révision des prix")
    commercial_term_days = StringField("Délai de paiement convenu pour ses factures (jours)",
                                       validators=[Optional(), max_length(10)], render_kw={"inputmode": "numeric"})
    commercial_term_end_of_month = BooleanField("Jours « fin de mois »")
    iban = StringField("IBAN du sous-traitant", validators=[Optional(), max_length(42)])
    bic = StringField("BIC", validators=[Optional(), max_length(11)])


class ConfirmForm(Form):
    decision = HiddenField(validators=[required()])


class Dc4DecisionForm(Form):
    decision = RadioField("Décision", choices=[
        SelectChoice("accept", "Accepter le sous-traitant et agréer ses conditions de paiement"),
        SelectChoice("refuse", "Refuser")], validators=[required()])
    reason = TextAreaField("Motif (obligatoire en cas de refus)", validators=[Optional(), max_length(500)],
                           render_kw={"rows": 2})


class AvenantForm(Form):
    new_montant_ttc = StringField("Nouveau montant TTC de la part sous-traitée (€)",
                                  validators=[required(), max_length(30)], render_kw={"inputmode": "decimal"})
    signed_on = StringField("Date de signature de l'avenant", validators=[required(), max_length(10)],
                            render_kw={"type": "date"})
    reason = TextAreaField("Objet de l'avenant", validators=[Optional(), max_length(500)], render_kw={"rows": 2})


class InvitedStructureForm(StructureForm):
    """The structure form of the accounts area, without the SIRET: it is the invitation's."""

    siret = None


class ReceptionForm(Form):
    reception_on = StringField("Date de la réception des travaux", validators=[required(), max_length(10)],
                               render_kw={"type": "date"})
