"""The hash chain of a piece's events: each event's hash covers its content and the previous event's hash, so that
altering, removing or reordering any event breaks every hash after it (DESIGN.md §3 rule 5, `flask audit verify`).

Why a canonical JSON: the hash must come out the same when the event is rebuilt from the database months later, on
PostgreSQL or SQLite, whatever Python computed before storing. So the payload is serialised with sorted keys, no
spaces, UTF-8; instants as ISO-8601 in UTC with microseconds ("2026-03-02T09:15:00.000000+00:00", naive datetimes
refused: an instant without an offset is ambiguous); dates as "YYYY-MM-DD"; Decimals as plain strings with at least
two decimals and no trailing zeros beyond them ("1234.50", "0.125": Numeric(14, 2) gives back "1234.50" for a stored
1234.5, and both hash the same); floats refused (money is never a float).

hash_n = SHA-256(hash_{n-1} + "\\n" + canonical_json(payload_n)), hex, with hash_{-1} = GENESIS (64 zeros).

A chain alone cannot see its last events being removed: keep the last hash on the piece row (`head`) and pass it to
`verify_chain`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64
_HASH = re.compile(r"^[0-9a-f]{64}$")


def _canonical_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise TypeError("floats are not hashed: use Decimal for amounts")
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        return canonical_instant(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"payload keys must be strings, not {key!r}")
        return {key: _canonical_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical_value(item) for item in value]
    # StrEnum members (statuses) are str and handled above; anything else would hash by its repr: refuse.
    raise TypeError(f"cannot hash a {type(value).__name__} in an event payload")


def canonical_decimal(value: Decimal) -> str:
    """"1234.50" for 1234.5, 1234.50 or 1234.500; "0.125" for 0.1250; "1000.00" for 1E+3."""
    if not value.is_finite():
        raise ValueError(f"cannot hash {value}")
    normal = value.normalize()
    text = format(normal, "f")
    whole, _, decimals = text.partition(".")
    if len(decimals) < 2:
        decimals = decimals.ljust(2, "0")
    if whole in ("-0", "+0"):
        whole = "0"
    return f"{whole}.{decimals}"


def canonical_instant(value: datetime) -> str:
    """An aware instant in UTC with microseconds; a naive datetime is refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime in an event payload: {value!r}")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def canonical_json(payload: Mapping[str, Any]) -> str:
    """The one serialisation of a payload that is hashed."""
    return json.dumps(_canonical_value(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def event_hash(previous_hash: str, payload: Mapping[str, Any]) -> str:
    """The hash of an event: SHA-256 over the previous hash and the canonical JSON of its payload."""
    if not isinstance(previous_hash, str) or not _HASH.match(previous_hash):
        raise ValueError("previous_hash must be 64 lower-case hexadecimal characters (GENESIS for the first event)")
    data = previous_hash + "\n" + canonical_json(payload)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def chain_hashes(payloads: Sequence[Mapping[str, Any]], previous_hash: str = GENESIS) -> list[str]:
    """The hashes of consecutive payloads, starting after `previous_hash`."""
    hashes = []
    for payload in payloads:
        previous_hash = event_hash(previous_hash, payload)
        hashes.append(previous_hash)
    return hashes


def verify_chain(events: Sequence[tuple[Mapping[str, Any], str]], *, head: str | None = None) -> int | None:
    """The index of the first event whose stored hash does not match its payload and predecessor, or None when the
    chain is intact. `events` are (payload, stored hash) pairs in order. With `head` (the last hash kept on the
    piece), a chain cut short is caught too: the index returned is then len(events), where an event is missing.
    A payload that cannot be hashed (a float, a naive instant) counts as a break."""
    previous = GENESIS
    for index, (payload, stored) in enumerate(events):
        try:
            expected = event_hash(previous, payload)
        except (TypeError, ValueError):
            return index
        if stored != expected:
            return index
        previous = stored
    if head is not None and head != previous:
        return len(events)
    return None


def event_payload(
    *,
    piece: str,
    seq: int,
    at: datetime,
    actor: str,
    actor_siret: str | None,
    action: str,
    from_status: str | None,
    to_status: str,
    reason: str | None = None,
    comment: str | None = None,
    amount: Decimal | None = None,
    paid_on: date | None = None,
    extra: Mapping[str, Any] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """The payload of a piece event, with every field the audit needs (CHORUS.md §4: who, which structure, when, from,
    to, reason, comment). `piece` identifies the piece (e.g. "<emitter siret>/<number>") and `seq` its event number
    (0 for the creation), so that an event cannot be moved to another piece or position unnoticed. `actor` is the
    account's e-mail or "system". `extra` holds action-specific data (file SHA-256, deposited amounts...).
    `check` False: the caller hashes the payload at once (`event_hash` serialises it, and refuses what cannot be
    hashed the same way), so it is not serialised twice (the sweep records an event per tacit transition)."""
    payload: dict[str, Any] = {
        "piece": piece,
        "seq": seq,
        "at": at,
        "actor": actor,
        "actor_siret": actor_siret,
        "action": action,
        "from": None if from_status is None else str(from_status),
        "to": str(to_status),
        "reason": reason,
        "comment": comment,
        "amount": amount,
        "paid_on": paid_on,
    }
    if extra:
        payload["extra"] = dict(extra)
    if check:
        canonical_json(payload)  # fail now, not at verification time
    return payload
