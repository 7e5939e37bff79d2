"""Accounts: sign-up, activation, login, password reset and change, profile."""
from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from chorus_chain.domain.passwords import password_problems
from chorus_chain.extensions import db
from chorus_chain.models import Account
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations.mail import queue_mail

ACTIVATION_MAX_AGE = 7 * 24 * 3600
RESET_MAX_AGE = 2 * 3600
# Compared against when the e-mail is unknown, so that a login takes the same time either way.
_DUMMY_HASH = generate_password_hash("not a real password")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"chorus-chain:{purpose}")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_account(email: str) -> Account | None:
    return db.session.scalar(select(Account).where(Account.email == normalise_email(email)))


def check_new_password(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise OperationError(" ".join(problems), field="password")


def sign_up(email: str, password: str, first_name: str, last_name: str) -> Account | None:
    """Create an inactive account and mail its activation link.

    An e-mail already registered gets a notice instead, and the caller shows the same message either way:
    sign-up never tells a stranger whether an address has an account.
    """
    email = normalise_email(email)
    check_new_password(password, email)
    existing = find_account(email)
    if existing is not None:
        queue_mail(existing.email, "signup_existing", account_id=existing.id, account=existing,
                   login_url=_external("auth.login"), reset_url=_external("auth.forgot_password"))
        return None
    account = Account(email=email, first_name=first_name.strip(), last_name=last_name.strip())
    account.set_password(password)
    db.session.add(account)
    db.session.flush()
    send_activation(account)
    return account


def send_activation(account: Account) -> None:
    token = _serializer("activate").dumps(account.id)
    queue_mail(account.email, "activate", account_id=account.id, account=account,
               url=_external("auth.activate", token=token))


def activate(token: str) -> Account:
    try:
        account_id = _serializer("activate").loads(token, max_age=ACTIVATION_MAX_AGE)
    except SignatureExpired:
        raise OperationError("Ce lien d'activation a expiré. Inscrivez-vous à nouveau pour en recevoir un autre.")
    except BadSignature:
        raise OperationError("Ce lien d'activation n'est pas valide.")
    account = db.session.get(Account, account_id)
    if account is None:
        raise OperationError("Ce lien d'activation n'est pas valide.")
    if account.activated_at is None:
        account.activated_at = utcnow()
    return account


def authenticate(email: str, password: str) -> Account | None:
    """The account for these credentials, or None — with the same cost whether the e-mail exists or not."""
    account = find_account(email)
    if account is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not account.check_password(password):
        return None
    return account


def record_login(account: Account) -> None:
    account.last_login_at = utcnow()


def request_password_reset(email: str) -> None:
    """Mail a reset link if the account exists; say nothing either way."""
    account = find_account(email)
    if account is None:
        return
    # The token carries a fingerprint of the current hash: it works once, and dies with any password change.
    token = _serializer("reset").dumps({"id": account.id, "h": account.password_hash[-16:]})
    queue_mail(account.email, "reset_password", account_id=account.id, account=account,
               url=_external("auth.reset_password", token=token))


def reset_password(token: str, password: str) -> Account:
    try:
        data = _serializer("reset").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise OperationError("Ce lien a expiré. Demandez-en un nouveau.")
    except BadSignature:
        raise OperationError("Ce lien n'est pas valide.")
    account = db.session.get(Account, data.get("id"))
    if account is None or account.password_hash[-16:] != data.get("h"):
        raise OperationError("Ce lien a déjà servi ou n'est plus valide. Demandez-en un nouveau.")
    check_new_password(password, account.email)
    _set_password(account, password)
    if account.activated_at is None:  # the link proves the mailbox, as activation would
        account.activated_at = utcnow()
    return account


def change_password(account: Account, current: str, new: str) -> None:
    if not account.check_password(current):
        raise OperationError("Le mot de passe actuel est incorrect.", field="current_password")
    check_new_password(new, account.email)
    _set_password(account, new)
    queue_mail(account.notification_email, "password_changed", account_id=account.id, account=account)


def _set_password(account: Account, password: str) -> None:
    from chorus_chain.operations import sessions

    account.set_password(password)
    account.session_version += 1  # every other session of this account is logged out
    # ... and their records revoked (a reset: every one; a change: all but the session that made it).
    sessions.close_all_sessions(account, utcnow(), keep=account.login_secret)


def update_profile(account: Account, first_name: str, last_name: str, phone: str | None,
                   contact_email: str | None) -> None:
    account.first_name = first_name.strip()
    account.last_name = last_name.strip()
    account.phone = (phone or "").strip() or None
    account.contact_email = normalise_email(contact_email or "") or None



def _external(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)
