"""Forms of the pièces. Amounts, dates and identifiers are text fields read by the operations (French numbers such as
"1 200,50", SIRET with spaces...), which refuse bad values with a French message naming the form field; the selects do
not check their choices for the same reason. These forms only carry the input and show the refusals.

Field names are the operations' (`create_draft`'s raw keys, `act`'s inputs), so that `OperationError.field` and
`Problem.field` land next to the right field.
"""
from __future__ import annotations

from flask import current_app, request
from flask_wtf.csrf import generate_csrf
from flask_wtf.file import FileField, MultipleFileField
from markupsafe import Markup, escape
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import HiddenInput

from chorus_chain.blueprints.forms import Form, ListSelect, max_length, strip
from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import transitions as T
from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.statuses import STATUS_INFO
from chorus_chain.models.pieces import PAYMENT_MODE_LABELS
from chorus_chain.operations.pieces import ActionChoice, UploadedFile

PRIVATE = "prive"  # the cadre filter's value for private invoices (no Chorus cadre)

PIECE_TYPE_CHOICES = [SelectChoice("FACTURE", "Facture"), SelectChoice("AVOIR", "Avoir (note de crédit)")]
VAT_CHOICES = [SelectChoice("normal", "TVA normale"),
               SelectChoice("autoliquidation", "Autoliquidation (sans TVA : sous-traitance de travaux)")]
PAYMENT_CHOICES = [SelectChoice(value, label) for value, label in PAYMENT_MODE_LABELS.items()]


def _amount_field(label: str, **kwargs) -> StringField:
    return StringField(label, validators=[Optional(), max_length(30)], filters=[strip],
                       render_kw={"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})},
                       **kwargs)


class FilterForm(Form):
    """The filters of a box (a GET form: no CSRF token, the values travel in the URL)."""

    class Meta:
        csrf = False

    marche_id = SelectField("Marché", validate_choice=False, choices=[], widget=ListSelect())
    cadre = SelectField("Type de pièce", validate_choice=False, choices=[], widget=ListSelect())
    status = SelectField("Statut", validate_choice=False, choices=[], widget=ListSelect())
    # Typing searches (HTMX, the other filters included); the form itself answers its "change" and "submit".
    number = StringField("N° de pièce", validators=[Optional(), max_length(20)], filters=[strip],
                         render_kw={"type": "search", "autocomplete": "off", "placeholder": "ex. F-2026-014",
                                    "hx-trigger": "input changed delay:400ms, search", "hx-include": "closest form"})

    def set_url(self, url: str) -> FilterForm:
        self.number.render_kw = {**self.number.render_kw, "hx-get": url}
        return self

    def set_choices(self, marches) -> FilterForm:
        self.marche_id.choices = [SelectChoice("", "Tous les marchés")] + [
            SelectChoice(str(marche.id), marche.reference) for marche in marches]
        self.cadre.choices = [SelectChoice("", "Tous les types")] + [
            SelectChoice(code, f"{code} — {cadre.label}") for code, cadre in CADRES.items()] + [
            SelectChoice(PRIVATE, "Facture privée à l'entreprise donneuse d'ordre")]
        self.status.choices = [SelectChoice("", "Tous les statuts")] + [
            SelectChoice(code.value, info.label) for code, info in STATUS_INFO.items()]
        return self

    def int_or_none(self, name: str) -> int | None:
        try:
            return int(self[name].data)
        except (TypeError, ValueError):
            return None

    def cadre_filter(self) -> str | None:
        value = (self.cadre.data or "").strip().upper()
        if value == PRIVATE.upper():
            return ""
        return value if value in CADRES else None

    def status_filter(self) -> str | None:
        value = self.status.data or ""
        return value if value in {code.value for code in STATUS_INFO} else None


class DraftForm(Form):
    """A draft's fields (new or saved). `party_id` and `cadre` come from the choice made before."""

    party_id = HiddenField()
    cadre = HiddenField()
    piece_type = SelectField("Nature", validate_choice=False, choices=PIECE_TYPE_CHOICES, default="FACTURE")
    number = StringField("Numéro de la pièce", validators=[Optional(), max_length(20)], filters=[strip],
                         render_kw={"autocomplete": "off", "placeholder": "ex. F-2026-014"})
    issue_date = StringField("Date d'émission", validators=[Optional(), max_length(10)], filters=[strip],
                             render_kw={"type": "date"})
    montant_ht = _amount_field("Montant HT (€)")
    montant_tva = _amount_field("Montant de la TVA (€)")
    montant_ttc = _amount_field("Montant TTC (€)")
    vat_regime = SelectField("Régime de TVA", validate_choice=False, choices=VAT_CHOICES, default="normal")
    recipient_siret = StringField("SIRET du destinataire", validators=[Optional(), max_length(20)], filters=[strip],
                                  render_kw={"inputmode": "numeric", "autocomplete": "off"})
    service_code = StringField("Code service du destinataire", validators=[Optional(), max_length(100)],
                               filters=[strip], render_kw={"autocomplete": "off"})
    engagement_number = StringField("N° d'engagement juridique (EJ)", validators=[Optional(), max_length(60)],
                                    filters=[strip], render_kw={"autocomplete": "off"})
    payment_mode = SelectField("Mode de paiement", validate_choice=False, choices=PAYMENT_CHOICES,
                               default="virement")
    bank_account_id = SelectField("Compte bancaire à créditer", validate_choice=False, choices=[])
    original_piece_id = SelectField("Facture d'origine (pour un avoir)", validate_choice=False, choices=[])
    previous_piece_id = SelectField("Pièce précédente du dossier (facultatif)", validate_choice=False, choices=[])
    main_file = FileField("Document principal (PDF)", render_kw={"accept": ".pdf,application/pdf"})
    files = MultipleFileField("Pièces jointes (facultatif)")

    RAW_FIELDS = ("party_id", "cadre", "piece_type", "number", "issue_date", "montant_ht", "montant_tva",
                  "montant_ttc", "vat_regime", "recipient_siret", "service_code", "engagement_number",
                  "payment_mode", "bank_account_id", "original_piece_id", "previous_piece_id")

    def set_choices(self, bank_accounts, invoices, previous) -> DraftForm:
        self.bank_account_id.choices = [SelectChoice("", "Aucun (paiement hors virement)")] + [
            SelectChoice(str(account.id), f"{account.label} — {account.iban_masked}"
                         + (" (affactureur)" if account.affactureur else "")) for account in bank_accounts]
        self.original_piece_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(piece.id), _piece_choice(piece)) for piece in invoices]
        self.previous_piece_id.choices = [SelectChoice("", "Aucune (nouvelle demande de paiement)")] + [
            SelectChoice(str(piece.id), _piece_choice(piece)) for piece in previous]
        return self

    def fill(self, values: dict) -> DraftForm:
        """Pre-fill a blank form (draft_defaults, a rejected piece's facts, a saved draft)."""
        for name, value in values.items():
            if name in self._fields and name not in ("main_file", "files"):
                self[name].data = "" if value is None else str(value)
        return self

    def raw(self) -> dict[str, str]:
        """What the operations read. Under autoliquidation an empty VAT is 0: the invoice carries none."""
        raw = {name: self[name].data or "" for name in self.RAW_FIELDS}
        if raw["vat_regime"] == "autoliquidation" and not raw["montant_tva"]:
            raw["montant_tva"] = "0"
        return raw

    def main_upload(self) -> UploadedFile | None:
        return uploaded(self.main_file.data)

    def attachment_uploads(self) -> list[UploadedFile]:
        return uploads(self.files.data)


def _piece_choice(piece) -> str:
    code = piece.cadre or "privée"
    kind = "Avoir" if piece.piece_type == "AVOIR" else "n°"
    return f"{kind} {piece.number} ({code}) — {amount_rules.format_fr(piece.montant_ttc)} TTC"


def uploaded(storage) -> UploadedFile | None:
    """A werkzeug FileStorage as the operations take it, or None when no file was chosen. The name is passed as the
    browser sent it: the operations refuse path parts rather than silently cutting them."""
    if storage is None or not getattr(storage, "filename", None):
        return None
    return UploadedFile(storage.filename, storage.read())


def uploads(storages) -> list[UploadedFile]:
    return [file for file in (uploaded(storage) for storage in storages or ()) if file is not None]


# ---------------------------------------------------------------------------------------------------------------------
# Actions on a deposited piece: one small form per action this structure may take (ActionChoice), prefixed with the
# action's name so that several live on one page. `action` and `expected_status` travel as plain hidden inputs.

REASON_LABELS = {
    "refusal": "Motif",
    "recycle": "Champ d'acheminement erroné",
    "text": "Motif (obligatoire)",
    "optional": "Commentaire (facultatif)",
}
AMOUNT_LABELS = {
    T.Action.VALIDATE_PARTIALLY: "Montant accepté TTC (€)",
    T.Action.MARK_PAID: "Montant payé (€)",
    T.Action.ISSUE_ETAT_ACOMPTE: "Montant admis TTC (€), si vous corrigez le montant demandé",
}
FILE_LABELS = {
    T.Action.COMPLETE: "Pièces demandées par le service financier",
    T.Action.ISSUE_ETAT_ACOMPTE: "Votre état d'acompte (PDF, facultatif)",
}
RESEND_LABELS = {
    "recipient_siret": "SIRET du destinataire",
    "service_code": "Code service du destinataire",
    "engagement_number": "N° d'engagement juridique (EJ)",
}


class ActionFormBase(Form):
    """Fields are added per action by `action_form_class`."""

    input_names: tuple[str, ...] = ()  # the fields the class adds (besides the CSRF token)

    @property
    def has_inputs(self) -> bool:
        """Whether the action asks for something (a reason, an amount, a day, files…) or is a button alone."""
        return bool(self.input_names)

    def hidden_tag(self, *fields):
        """Flask-WTF's hidden_tag, the CSRF token's input written directly when it is the only hidden field (as in
        every action's form): the Synthèse holds some forty of these forms, and WTForms' attribute rendering of each
        token was a tenth of its CPU (bench/page_cpu.py). Same HTML."""
        hidden = [f for f in self if isinstance(f.widget, HiddenInput)]
        if fields or len(hidden) != 1 or hidden[0].type != "CSRFTokenField" or hidden[0].render_kw:
            return super().hidden_tag(*fields)
        token = hidden[0]
        return Markup(f'<input id="{escape(token.id)}" name="{escape(token.name)}" type="hidden" '
                      f'value="{escape(token.current_token)}">')

    def inputs(self) -> dict:
        """The keyword inputs of `operations.pieces.act` this form carries."""
        found: dict = {}
        if "reason" in self._fields:
            found["reason"] = self.reason.data or None
        if "comment" in self._fields:
            found["comment"] = self.comment.data or None
        if "amount" in self._fields:
            found["amount"] = self.amount.data or None
        if "paid_on" in self._fields:
            found["paid_on"] = self.paid_on.data or None
        if "files" in self._fields:
            found["files"] = uploads(self.files.data)
        changes = {name: self[name].data or "" for name in RESEND_LABELS if name in self._fields}
        if changes:
            found["changes"] = changes
        return found


_FORM_CLASSES: dict = {}


def action_form_class(choice: ActionChoice | None, action: str) -> type[ActionFormBase]:
    """The form of one action. `choice` None (the action is no longer offered: someone acted first) gives a form
    that still reads whatever was posted, so that the operation answers with its own French refusal."""
    key = (action, choice)
    if key in _FORM_CLASSES:
        return _FORM_CLASSES[key]
    reason = choice.reason if choice else T.REASON_POLICY.get(action)
    amount = choice.amount if choice else T.AMOUNT_POLICY.get(action)
    paid_on = choice.paid_on if choice else action in T.PAID_ON_REQUIRED
    files = choice.files if choice else None
    changes = choice.changes if choice else ()
    attributes: dict = {}
    if reason in ("refusal", "recycle"):
        reasons = choice.reasons if choice else ()
        attributes["reason"] = SelectField(REASON_LABELS[reason], validate_choice=False,
                                           choices=[SelectChoice("", "Choisissez…")]
                                           + [SelectChoice(code, label) for code, label in reasons])
        attributes["comment"] = TextAreaField("Commentaire" + (" (obligatoire pour « Autre motif »)"
                                                               if reason == "refusal" else " (facultatif)"),
                                              validators=[Optional(), max_length(2000)], filters=[strip],
                                              render_kw={"rows": 2})
    elif reason in ("text", "optional"):
        attributes["reason"] = TextAreaField(REASON_LABELS[reason], validators=[Optional(), max_length(1000)],
                                             filters=[strip], render_kw={"rows": 2})
    if amount:
        attributes["amount"] = _amount_field(AMOUNT_LABELS.get(action, "Montant (€)"))
    if paid_on:
        attributes["paid_on"] = StringField("Date de paiement", validators=[Optional(), max_length(10)],
                                            filters=[strip], render_kw={"type": "date"})
    if files:
        attributes["files"] = MultipleFileField(FILE_LABELS.get(action, "Fichiers"))
    for name in changes:
        attributes[name] = StringField(RESEND_LABELS[name], validators=[Optional(), max_length(100)],
                                       filters=[strip], render_kw={"autocomplete": "off"})
    form_class = type(f"ActionForm_{action}", (ActionFormBase,), {**attributes, "input_names": tuple(attributes)})
    _FORM_CLASSES[key] = form_class
    return form_class


_TOKEN = "_chorus_listed_csrf"  # the request's CSRF token, escaped, kept on the request for its listed forms


class ListedActionForm:
    """What a list's row shows of an action's form whose fields it does not show (the Synthèse fetches them when the
    action is opened: `dashboard.action_fields`): its CSRF token's input, whether it asks for something, whether it
    sends files, no errors. A WTForms form bound per row and action, with its defaults, was a tenth of the Synthèse's
    CPU for some eighty forms whose fields it never rendered (bench/page_cpu.py). The token's input is the one the
    bound form writes (`ActionFormBase.hidden_tag`, compared in tests/integration/test_dashboard.py), so the post
    that the row sends is read by the bound form as ever."""

    errors: dict = {}
    form_errors: tuple = ()
    listed = True  # a bound form has no such attribute: the Synthèse writes this one in Python (work_actions)

    def __init__(self, form_class: type[ActionFormBase], prefix: str):
        self.has_inputs = bool(form_class.input_names)
        if "files" in form_class.input_names:
            self.files = None  # `form.files is defined`: the form is sent as multipart
        # WTForms joins a prefix to a field's name with "-" unless it ends with a separator of its own.
        self._token_name = f"{prefix}{'' if prefix[-1:] in '-_;:/.' else '-'}"

    def hidden_tag(self) -> Markup:
        config = current_app.config
        if not config.get("WTF_CSRF_ENABLED", True):
            return Markup("")  # no token field at all, as a bound form without CSRF
        name = escape(self._token_name + config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
        # One token per request (generate_csrf gives the same one each time, after its config and session reads):
        # a page lists some forty of these forms.
        token = request.__dict__.get(_TOKEN)
        if token is None:
            token = request.__dict__[_TOKEN] = escape(generate_csrf())
        return Markup(f'<input id="{name}" name="{name}" type="hidden" value="{token}">')


class ButtonForm(Form):
    """A button that changes something (send, remove a file, mark read): only the CSRF token travels."""


class PreferencesForm(Form):
    """Per kind of notification: in the application and/or by e-mail (checkboxes read from the request)."""
