from __future__ import annotations

from wtforms import HiddenField, TextAreaField

from chorus_chain.blueprints.forms import Form


class QuestionForm(Form):
    # No strip filter and no length validator: the operation says what is wrong (empty, too long) in French.
    question = TextAreaField("Votre question")
    conversation_id = HiddenField()
    page = HiddenField()


class HandOverForm(Form):
    conversation_id = HiddenField()
    page = HiddenField()


class ReplyForm(Form):
    body = TextAreaField("Votre réponse")


class ButtonForm(Form):
    """A button: only the CSRF token travels."""
