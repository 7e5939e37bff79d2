"""The tenant of a request: the structure named in the URL (/s/<siret>/...), checked on every request.

A user works "as" one structure at a time and the structure is part of every URL, so two tabs can work for two
companies. Membership is re-read on every request: a revoked member loses access on the next click.
Not a member → 404 (we do not even confirm the structure exists); a member without the right → 403.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache, wraps

from flask import Blueprint, abort, g
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import join as orm_join

from chorus_chain import access, plan_cache
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, LoginSession, Rattachement, Structure
from chorus_chain.operations import sessions


def tenant_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    """A blueprint whose every route lives under /s/<siret> and requires membership of that structure."""
    bp = Blueprint(name, import_name, url_prefix="/s/<siret>" + url_prefix)

    @bp.url_value_preprocessor
    def pull_siret(endpoint, values):
        g.siret = values.pop("siret", None) if values else None

    @bp.url_defaults
    def add_siret(endpoint, values):
        if "siret" not in values and g.get("structure") is not None:
            values["siret"] = g.structure.siret

    @bp.before_request
    @login_required
    def load_tenant():
        load_structure_for_current_user(g.siret)

    return bp


@cache
def _membership_statement(postgresql: bool, generic_plans: bool = False):
    """The structure of the URL and the current account's approved membership of it, built once per process (every
    tenant request runs it). On PostgreSQL the same statement sets the transaction's tenant settings for the
    structure it returns (`access.settings_columns`): the tenant switch costs no statement of its own; and, for a view
    marked `plan_cache.generic_plans`, lets the rest of the transaction keep generic plans."""
    statement = (select(Structure, Rattachement)
                 .join(Rattachement, Rattachement.structure_id == Structure.id)
                 .where(Structure.siret == bindparam("siret"), Rattachement.account_id == bindparam("account_id"),
                        Rattachement.status == "approved"))
    if postgresql:
        statement = statement.add_columns(*access.settings_columns(Structure.id))
        if generic_plans:
            statement = statement.add_columns(plan_cache.setting_column())
    return access.built_once(statement)


def load_structure_for_current_user(siret: str | None) -> Structure:
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    kept = g.pop(_READ_WITH_ACCOUNT, None)
    if kept is not None and kept[:2] == (siret, current_user.id):  # read by the user loader with the account
        structure, membership = kept[2], kept[3]
    else:
        parameters = {"siret": siret or "", "account_id": current_user.id}
        if postgresql:
            parameters["chorus_system"] = access.system_setting()
        row = db.session.execute(_membership_statement(postgresql, postgresql and plan_cache.wanted()),
                                 parameters).first()
        if row is None:
            abort(404)
        structure, membership = row[0], row[1]
    g.structure = structure
    g.membership = membership
    g.is_gestionnaire = structure.gestionnaire_id == current_user.id
    g.rights = rights_rules.effective_rights(membership.rights(), g.is_gestionnaire)
    # The pieces this request sees: the ORM's criteria, and row-level security (settings already applied on PostgreSQL).
    access.set_tenant(structure.id, applied=postgresql)
    return structure


# g: (siret, account id, structure, membership) read by the user loader with the account (`account_with_membership`).
_READ_WITH_ACCOUNT = "_chorus_tenant_read"


def account_with_membership(user_id: str, siret: str, now: datetime):
    """The user loader of a tenant page (/s/<siret>/…) on PostgreSQL: the account of the session id, as
    `sessions.account_for` decides, and in the same statement its approved membership of the structure of the URL,
    with the tenant's settings set on the row (`_membership_statement`'s columns) — kept for
    `load_structure_for_current_user`, which then runs nothing. Every tenant page ran both statements one after the
    other (a round trip, an ORM execution and PostgreSQL's planning each). The membership is joined only where the
    session holds (`sessions.valid_condition`): a revoked or expired session sets no tenant, and reads no membership.
    Not a member: the account alone, and `load_structure_for_current_user` answers 404 after its own statement."""
    parsed = sessions.parse_id(user_id)
    if parsed is None:
        return None
    account_id, version, secret = parsed
    parameters = {**sessions.account_parameters(account_id, secret), "siret": siret, "version": version, "now": now,
                  "chorus_system": access.system_setting()}
    row = db.session.execute(_account_membership_statement(plan_cache.wanted()), parameters).first()
    if row is None:
        return None
    account = sessions.valid_account(row[0], row[1], row[2], version, secret, now)
    if account is not None and row[3] is not None:
        setattr(g, _READ_WITH_ACCOUNT, (siret, account.id, row[3], row[4]))
    return account


@cache
def _account_membership_statement(generic_plans: bool):
    """`sessions.account_select`'s read outer-joined to the approved membership of the structure `siret`, for a session
    that holds; the tenant's settings (and, for a view marked `plan_cache.generic_plans`, the plan cache's) set only
    on a row that joined one. PostgreSQL only; built once per process."""
    joined = Structure.id.is_not(None)
    membership = orm_join(Structure, Rattachement, Rattachement.structure_id == Structure.id)
    read = (orm_join(Account, LoginSession, LoginSession.account_id == Account.id)
            .outerjoin(membership, and_(Rattachement.account_id == Account.id, Structure.siret == bindparam("siret"),
                                        Rattachement.status == "approved", sessions.valid_condition())))
    statement = (select(Account, LoginSession.expires_at, LoginSession.revoked_at, Structure, Rattachement,
                        *access.settings_columns(Structure.id, when=joined))
                 .select_from(read).where(*sessions.account_criteria()))
    if generic_plans:
        statement = statement.add_columns(plan_cache.setting_column(when=joined))
    return access.built_once(statement)


def has_right(domain: str, level: str) -> bool:
    return rights_rules.allows(g.rights.get(domain, "none"), level)


def require_right(domain: str, level: str):
    """403 unless the current member holds at least `level` on `domain` of the current structure."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_right(domain, level):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_right = (domain, level)
        return wrapped

    return decorator


def require_gestionnaire(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not g.get("is_gestionnaire"):
            abort(403)
        return view(*args, **kwargs)

    wrapped.required_right = ("gestionnaire", "principal")
    return wrapped
