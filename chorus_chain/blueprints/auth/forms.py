from __future__ import annotations

from wtforms import BooleanField, EmailField, PasswordField, StringField

from chorus_chain.blueprints.forms import Form, strip, email_address, max_length, required
from chorus_chain.domain.passwords import MIN_LENGTH


class SignUpForm(Form):
    first_name = StringField("Prénom", validators=[required(), max_length(100)], render_kw={"autocomplete": "given-name"})
    last_name = StringField("Nom", validators=[required(), max_length(100)], render_kw={"autocomplete": "family-name"})
    email = EmailField("Adresse e-mail de connexion", validators=[required(), email_address(), max_length(254)], filters=[strip],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(f"Mot de passe ({MIN_LENGTH} caractères au moins)", validators=[required()],
                             render_kw={"autocomplete": "new-password"})


class LoginForm(Form):
    email = EmailField("Adresse e-mail", validators=[required(), max_length(254)], filters=[strip], render_kw={"autocomplete": "username"})
    password = PasswordField("Mot de passe", validators=[required()], render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Rester connecté sur cet appareil")


class ReauthenticateForm(Form):
    password = PasswordField("Mot de passe", validators=[required()], render_kw={"autocomplete": "current-password"})


class ForgotPasswordForm(Form):
    email = EmailField("Adresse e-mail de connexion", validators=[required(), email_address(), max_length(254)], filters=[strip])


class ResetPasswordForm(Form):
    password = PasswordField(f"Nouveau mot de passe ({MIN_LENGTH} caractères au moins)", validators=[required()],
                             render_kw={"autocomplete": "new-password"})
