"""How a delivery is signed, and how a receiver checks it (pure: no Flask, no database).

`Chorus-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with the subscription's secret.
The timestamp is inside what is signed, so a receiver that refuses signatures older than a few minutes
(`verify(..., tolerance)`) cannot be fed a delivery captured and replayed later.

The secret is derived, not stored: HMAC-SHA256(application key, "webhook-secret:" + the row's random seed) — see
`models.webhooks.WebhookSubscription` for why.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Chorus-Signature"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300  # seconds


def new_seed() -> str:
    return secrets.token_hex(32)


def secret_of(application_key: str, seed: str) -> str:
    """The subscription's secret: shown once to the client, recomputed by the delivery job to sign."""
    digest = hmac.new(application_key.encode("utf-8"), f"webhook-secret:{seed}".encode("ascii"), hashlib.sha256)
    return SECRET_PREFIX + digest.hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, value: str, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """What a receiver does: the header parses, its time is within `tolerance` of `now`, and one of its v1
    signatures is the body's (compared in constant time)."""
    parts: dict[str, list[str]] = {}
    for item in (value or "").split(","):
        name, _, content = item.strip().partition("=")
        parts.setdefault(name, []).append(content)
    try:
        timestamp = int(parts.get("t", [""])[0])
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
