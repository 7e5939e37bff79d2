"""An action's form writes its CSRF token itself (`ActionFormBase.hidden_tag`): the very input Flask-WTF writes."""
from __future__ import annotations

from flask_wtf import FlaskForm

from chorus_chain.blueprints.pieces.forms import DraftForm, action_form_class


def test_the_token_input_is_flask_wtfs(app, csrf):
    with app.test_request_context("/"):
        for action in ("validate", "refuse", "mark_paid", "resend"):
            form = action_form_class(None, action)(formdata=None, prefix=f"p12-{action}")
            written = str(form.hidden_tag())
            assert written == str(FlaskForm.hidden_tag(form))
            assert written.startswith(f'<input id="p12-{action}-csrf_token" name="p12-{action}-csrf_token" '
                                      'type="hidden" value="') and written.count("<input") == 1
        draft = DraftForm(formdata=None)  # other hidden fields: Flask-WTF's own rendering
        assert str(draft.hidden_tag()).count("<input") == 3


def test_without_csrf_there_is_nothing_to_write(app):
    with app.test_request_context("/"):
        assert str(action_form_class(None, "validate")(formdata=None, prefix="p1-validate").hidden_tag()) == ""
