"""API clients of a structure: created by its gestionnaire principal (name, rights among the portal's, expiry), the
secret shown once and kept as a hash, exchanged for short-lived bearer tokens (OAuth2 client credentials); revoking
takes effect on the next call (every call re-reads the client).

Every change records a StructureEvent (the structure's journal), like the other organisation changes.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import delete, select

from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, ApiCall, ApiClient, ApiToken, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations.structures import record

TOKEN_LIFETIME = timedelta(minutes=15)
MAX_VALIDITY_DAYS = 730
DEFAULT_VALIDITY_DAYS = 365
NAME_MAX = 100


def digest(value: str) -> str:
    """How a secret or a token is kept: its SHA-256 (they are 256-bit random values, not passwords)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    secret: str  # shown once, never stored


def _rights(raw: Mapping[str, Any]) -> dict[str, str]:
    rights = {}
    for domain in rights_rules.DOMAINS:
        level = str(raw.get(f"right_{domain}") or "none")
        if level not in rights_rules.LEVELS:
            raise OperationError("Choisissez un niveau de droit de la liste.", field=f"right_{domain}")
        rights[domain] = level
    if all(level == "none" for level in rights.values()):
        raise OperationError("Donnez au moins un droit au client : sans droit il ne pourrait rien faire.",
                             field="right_emises")
    return rights


def _validity(raw: Mapping[str, Any]) -> int:
    value = str(raw.get("validity_days") or DEFAULT_VALIDITY_DAYS).strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_VALIDITY_DAYS:
        raise OperationError(f"La durée de validité est un nombre de jours entre 1 et {MAX_VALIDITY_DAYS}.",
                             field="validity_days")
    return int(value)


def create_client(account: Account, structure: Structure, raw: Mapping[str, Any], *, now: datetime) -> NewClient:
    """A new client of the structure (gestionnaire principal only: the view checks it). `raw`: name, right_<domain>
    for each rights domain (none / consultation / modification), validity_days (1–730). Returns the client and its
    secret, which is never shown again."""
    name = str(raw.get("name") or "").strip()
    if not name:
        raise OperationError("Donnez un nom au client (le logiciel qui l'utilise, par exemple).", field="name")
    if len(name) > NAME_MAX:
        raise OperationError(f"Le nom du client tient en {NAME_MAX} caractères au plus.", field="name")
    rights = _rights(raw)
    days = _validity(raw)
    secret = "ccs_" + secrets.token_urlsafe(32)
    client = ApiClient(structure_id=structure.id, name=name, client_id="cc_" + secrets.token_hex(12),
                       secret_hash=digest(secret), expires_at=now + timedelta(days=days), created_by_id=account.id,
                       created_at=now, **{f"right_{d}": level for d, level in rights.items()})
    db.session.add(client)
    db.session.flush()
    record(structure, account, "api_client_created", name=name, client_id=client.client_id, rights=rights,
           expires_at=client.expires_at.isoformat())
    return NewClient(client, secret)


def clients_of(structure: Structure) -> list[ApiClient]:
    return list(db.session.scalars(select(ApiClient).where(ApiClient.structure_id == structure.id)
                                   .order_by(ApiClient.revoked_at.is_not(None), ApiClient.created_at.desc())))


def client_of(structure: Structure, client_row_id: int) -> ApiClient | None:
    return db.session.scalar(select(ApiClient).where(ApiClient.id == client_row_id,
                                                     ApiClient.structure_id == structure.id))


def revoke_client(account: Account, structure: Structure, client_row_id: int, *, now: datetime) -> ApiClient:
    """Revoke at once: its tokens are deleted and the client refused from the next call on."""
    client = client_of(structure, client_row_id)
    if client is None:
        raise OperationError("Ce client n'existe pas.")
    if client.revoked_at is not None:
        raise OperationError("Ce client est déjà révoqué.")
    client.revoked_at = now
    db.session.execute(delete(ApiToken).where(ApiToken.client_id == client.id))
    record(structure, account, "api_client_revoked", name=client.name, client_id=client.client_id)
    db.session.flush()
    return client


def recent_calls(structure: Structure, client_row_id: int | None = None, limit: int = 50) -> list[ApiCall]:
    query = select(ApiCall).where(ApiCall.structure_id == structure.id)
    if client_row_id is not None:
        query = query.where(ApiCall.client_id == client_row_id)
    return list(db.session.scalars(query.order_by(ApiCall.at.desc(), ApiCall.id.desc()).limit(limit)))


# ---------------------------------------------------------------------------------------------------------------------
# Tokens


class CredentialsRefused(Exception):
    """OAuth2 `invalid_client`: unknown client, wrong secret, expired or revoked (one French message for all)."""

    message_fr = "Identifiant ou secret du client incorrect, ou client expiré ou révoqué."


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    client: ApiClient


def issue_token(client_id: str, secret: str, *, now: datetime) -> IssuedToken:
    """Exchange a client's credentials for a bearer token valid TOKEN_LIFETIME. Expired tokens of the client are
    deleted on the way (the table stays small)."""
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == (client_id or "")))
    if client is None or not secrets.compare_digest(client.secret_hash, digest(secret or "")) \
            or not client.active(now):
        raise CredentialsRefused()
    db.session.execute(delete(ApiToken).where(ApiToken.client_id == client.id, ApiToken.expires_at <= now))
    token = "cct_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(client_id=client.id, token_hash=digest(token), expires_at=now + TOKEN_LIFETIME,
                            created_at=now))
    db.session.flush()
    return IssuedToken(token, int(TOKEN_LIFETIME.total_seconds()), client)


def client_for_token(token: str, *, now: datetime) -> ApiClient | None:
    """The active client a bearer token belongs to, or None (unknown, expired, or its client revoked/expired)."""
    if not token:
        return None
    row = db.session.execute(select(ApiToken, ApiClient).join(ApiClient, ApiClient.id == ApiToken.client_id)
                             .where(ApiToken.token_hash == digest(token))).first()
    if row is None:
        return None
    token_row, client = row
    if token_row.expires_at <= now or not client.active(now):
        return None
    return client


def journal(client: ApiClient, method: str, path: str, status_code: int, now: datetime) -> None:
    client.last_used_at = now
    db.session.add(ApiCall(structure_id=client.structure_id, client_id=client.id, client_name=client.name,
                           method=method, path=path[:300], status_code=status_code, at=now))
