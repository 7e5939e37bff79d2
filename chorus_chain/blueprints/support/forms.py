from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from chorus_chain.blueprints.forms import Form, strip
from chorus_chain.models.support import TICKET_CATEGORY_LABELS


class MessageForm(Form):
    body = TextAreaField("Votre message", filters=[strip])
    attachment = FileField("Pièce jointe (facultative, 2 Mo au plus)")


class TicketForm(MessageForm):
    subject = StringField("Objet", filters=[strip])
    page = HiddenField()
    piece_id = HiddenField()


class CategoryForm(Form):
    category = SelectField("Catégorie", choices=[SelectChoice(code, label) for code, label in TICKET_CATEGORY_LABELS.items()])


class ButtonForm(Form):
    """A button: only the CSRF token travels."""
