"""Shared form helpers: French messages for the standard validators."""
from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from markupsafe import escape
from wtforms import DateField, PasswordField, StringField, TextAreaField
from wtforms.meta import DefaultMeta
from wtforms.widgets import Select
from wtforms.validators import Email, InputRequired, Length

from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import text as text_rules
from chorus_chain.operations import OperationError


def strip(value):
    """Field filter: people paste addresses and numbers with spaces around them."""
    return value.strip() if isinstance(value, str) else value


def required(message: str = "Ce champ est obligatoire."):
    return InputRequired(message=message)


def email_address():
    return Email(message="Indiquez une adresse e-mail valide (par exemple nom@entreprise.fr).",
                 check_deliverability=False)


def max_length(n: int):
    return Length(max=n, message=f"{n} caractères au plus.")


class ListSelect(Select):
    """WTForms' select for long lists of plain choices (a filter's marchés and companies): the same HTML, each option
    written directly. WTForms builds every <option> through `html_params` and a formatted Markup, about 20 µs an
    option: the Tableau de bord's filters offered 263 of them on every request (bench/page_cpu.py). A choice with
    attributes of its own goes through WTForms."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw or not isinstance(choice.value, str):
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        return f'<option {selected}value="{escape(choice.value)}">{escape(choice.label or choice.value)}</option>'


class Form(FlaskForm):
    """A form that can show an operation's refusal next to the field it concerns."""

    class Meta:
        locales = ["fr_FR", "fr"]

        def get_translations(self, form):
            # Flask-WTF translates only through Flask-Babel, which the app does not use, and would fall back to
            # English ("Not a valid choice."); WTForms' own French catalogue answers for the built-in messages.
            return DefaultMeta.get_translations(self, form)

    def validate(self, extra_validators=None) -> bool:
        """The fields' own validators, then the rule of every free text field (`domain.text`): no control character,
        no bidirectional override, and no line break outside a multi-line field; and every date within the years a
        marché can concern (`domain.dates`). Applied here, once, so that no form
        can forget it; a password is left alone (never shown, and any character the person chose is theirs)."""
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, DateField) and isinstance(field.data, date) and not field.errors:
                try:
                    date_rules.check_plausible(field.data)
                except date_rules.ImplausibleDate as error:
                    field.errors = list(field.errors) + [str(error)]
                    valid = False
                continue
            if not isinstance(field, StringField) or isinstance(field, PasswordField):
                continue
            if not isinstance(field.data, str):
                continue
            problem = text_rules.text_problem(field.data, multiline=isinstance(field, TextAreaField))
            if problem and problem not in field.errors:
                field.errors = list(field.errors) + [problem]
                valid = False
        return valid

    def add_error(self, error: OperationError | str, field: str | None = None) -> None:
        message = error.message if isinstance(error, OperationError) else error
        field = field or (error.field if isinstance(error, OperationError) else None)
        if field and field in self._fields:
            self._fields[field].errors = list(self._fields[field].errors) + [message]
        else:
            self.form_errors.append(message)
