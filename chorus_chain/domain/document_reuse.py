"""When a document already generated can be offered at once, without asking again (pure; no Flask, no database).

A generated document is keyed by everything it shows (`operations.documents.Prepared.content_key`). Computing that
key means loading the document's data (several queries per kind), too much for a page that shows six buttons. The
pages therefore decide from what they already hold, on the safe side:

- the document is done;
- the data it was made from has not moved since it was rendered: every change of a piece (an event, a correction,
  a payment) moves its `updated_at`, and an archive of a dossier moves with any of the dossier's pieces;
- for a kind whose content carries the day it is made (the attestation's "attested on", the interest claim's
  letter date, the fiche's "edited on", the marché archive's fiche), it was rendered today (Paris time).

Wrong on the safe side costs one request: the page shows the button, and asking again finds the same key done and
offers the file at once (`request_document`). It never offers a stale document as current.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

DATED_KINDS = frozenset({"attestation", "interets", "fiche", "marche_zip"})
"""Kinds whose content (hence key) carries the day they are made: yesterday's is not today's."""


def reusable(kind: str, status: str, rendered_at: datetime | None, *, today: date,
             data_changed_at: datetime | None) -> bool:
    """True when a row of `kind` in `status`, last written at `rendered_at`, is still the document the same request
    would give today. `data_changed_at`: the latest change of what the document is made from (None: unknown → not
    reusable, the page shows the button)."""
    if status != "done" or rendered_at is None or data_changed_at is None:
        return False
    if rendered_at < data_changed_at:
        return False
    if kind in DATED_KINDS and rendered_at.astimezone(PARIS).date() != today:
        return False
    return True


def latest_by_kind(rows: Iterable) -> dict:
    """The most recent row of each kind among `rows` (objects with `kind` and `id`; a later id is a later request)."""
    latest: dict = {}
    for row in rows:
        if row.kind not in latest or row.id > latest[row.kind].id:
            latest[row.kind] = row
    return latest
