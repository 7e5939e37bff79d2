"""Login sessions held server side (issue 13: sessions end at logout).

A login opens a `LoginSession` row and hands its secret to flask-login through `Account.get_id()`
("<account id>:<session version>:<secret>"): the signed session cookie and the « remember me » cookie carry it, the
database keeps only its SHA-256. Every request's user loader (`account_for`) finds the row and refuses a revoked or
expired one, so

- logout revokes the row: a session cookie or a remember cookie captured before logout stops working at once;
- the lifetime is the application's: REMEMBER_DAYS (14 by default) for « se souvenir de moi », SESSION_HOURS (12)
  otherwise — the server's `expires_at` decides, not the cookie's own expiry (flask-login's default is 365 days);
- a password change still logs every other session out (the session version in the id), and a reset revokes every
  row of the account.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, select, update

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Account, LoginSession


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def lifetime(remember: bool) -> timedelta:
    config = current_app.config
    return timedelta(days=config["REMEMBER_DAYS"]) if remember else timedelta(hours=config["SESSION_HOURS"])


def open_session(account: Account, *, remember: bool, now: datetime) -> str:
    """A new login session for the account; returns its secret (also set on `account.login_secret`)."""
    secret = secrets.token_urlsafe(32)
    db.session.add(LoginSession(account_id=account.id, secret_hash=_hash(secret), remember=remember, created_at=now,
                                expires_at=now + lifetime(remember)))
    db.session.flush()
    account.login_secret = secret
    return secret


def account_for(user_id: str, now: datetime) -> Account | None:
    """The account of a session id from a cookie, or None when the id is malformed, its session revoked or expired,
    its password changed since (session version) or the account deactivated."""
    parsed = parse_id(user_id)
    if parsed is None:
        return None
    account_id, version, secret = parsed
    row = db.session.execute(_account_statement(), account_parameters(account_id, secret)).first()
    return None if row is None else valid_account(row[0], row[1], row[2], version, secret, now)


def parse_id(user_id: str) -> tuple[int, int, str] | None:
    """(account id, session version, secret) of a session id (`Account.get_id`), None when malformed."""
    try:
        account_id, version, secret = user_id.split(":")
        account_id, version = int(account_id), int(version)
    except ValueError:
        return None
    return (account_id, version, secret) if secret else None


def account_parameters(account_id: int, secret: str) -> dict:
    """The parameters of `account_select`."""
    return {"secret_hash": _hash(secret), "account_id": account_id}


def valid_account(account: Account, expires_at: datetime, revoked_at: datetime | None, version: int, secret: str,
                  now: datetime) -> Account | None:
    """The account read by `account_select` if its session holds at `now` (`valid_condition` says the same in SQL)."""
    if revoked_at is not None or expires_at <= now or account.session_version != version or not account.is_active:
        return None
    account.login_secret = secret
    return account


def account_select():
    """The account and its login session by the secret's hash (parameters: `account_parameters`): the user loader's
    read, which a tenant page joins to the membership of the structure of its URL (tenancy)."""
    return (select(Account, LoginSession.expires_at, LoginSession.revoked_at)
            .join(LoginSession, LoginSession.account_id == Account.id).where(*account_criteria()))


def account_criteria() -> tuple:
    """`account_select`'s conditions: the session's row by its secret's hash, for the account of the id."""
    return LoginSession.secret_hash == bindparam("secret_hash"), Account.id == bindparam("account_id")


def valid_condition():
    """`valid_account`'s rule in SQL, on the row `account_select` reads (parameters `version` and `now`)."""
    return and_(LoginSession.revoked_at.is_(None), LoginSession.expires_at > bindparam("now"),
                Account.session_version == bindparam("version"), Account.activated_at.is_not(None))


@cache
def _account_statement():
    """`account_select`, built once per process (every logged-in request runs it; building it anew, then its criteria
    and cache key, was a visible part of the floor: bench/page_cpu.py)."""
    return access.built_once(account_select())


def close_session(account: Account, now: datetime) -> None:
    """Revoke the login session this account object was loaded for (logout)."""
    if account.login_secret:
        db.session.execute(update(LoginSession).where(LoginSession.secret_hash == _hash(account.login_secret),
                                                      LoginSession.revoked_at.is_(None)).values(revoked_at=now))


def close_all_sessions(account: Account, now: datetime, *, keep: str | None = None) -> None:
    """Revoke every login session of the account but `keep` (a password reset: all; a change: all but this one)."""
    statement = update(LoginSession).where(LoginSession.account_id == account.id, LoginSession.revoked_at.is_(None))
    if keep:
        statement = statement.where(LoginSession.secret_hash != _hash(keep))
    db.session.execute(statement.values(revoked_at=now))
