"""One in-app notification per account, structure and kind per batch of the deadline sweep, naming its pieces
(issue 20): the product decision, the bell's counterpart of `mail_digest`.

Why: a night of deadlines lets hundreds of a structure's clocks run out at once. One row per member and piece put
300 lines « validée tacitement » in each member's list, the bell at « 99+ » for the rest of the week, and — 7.4 rows
per deadline — was the largest table the sweep wrote (bench/deadline_sweep.py: a third of a batch's writes). So the
sweep gathers, per (account, structure, kind), the in-app rows its batch would have written: what concerns one piece
only is written as before (the usual minute of the clock, one deadline: nothing changes); what concerns two pieces or
more becomes one row whose text says how many, and whose `items` list each piece's own line and link — the
notifications page shows them, each opening its piece. Reading one marks the whole digest read. Each item obeyed
the account's preference for its kind (in the bell or not) before it reached here, as before.

A digest is per batch (`operations.deadlines.apply_due`), like the e-mails': a batch commits its notifications with
its effect, so a sweep killed between batches loses none. `digested(now)` scopes it (the g key below); `notify`
hands it the in-app rows it would have written (`add`); `write` inserts the batch's rows in one statement
(`operations.bulk`) at the end of the batch.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g

from chorus_chain import formatting
from chorus_chain.models import Notification
from chorus_chain.operations import batch_digest, bulk

KEY = "_chorus_bell_digest"

# What a digest of each kind says, with the number of its pieces (French: the interface).
SUMMARY = {
    "piece_to_act": "{n} pièces attendent une action de votre structure",
    "piece_status": "{n} de vos pièces ont changé de statut",
    "deadline_reminder": "{n} rappels d'échéance sur vos pièces",
    "deadline_expired": "{n} échéances dépassées sur vos pièces",
    "receipt_slip": "{n} paiements attendus reculent de plus d'une semaine",
}


@dataclass
class BellDigest:
    """The in-app rows of one batch, per (account, structure, kind), in the order they were first told."""

    at: datetime
    groups: dict[tuple[int, int, str], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        """A row `notify` would have inserted (account_id, structure_id, piece_id, kind, text, url, created_at)."""
        self.groups.setdefault((row["account_id"], row["structure_id"], row["kind"]), []).append(row)

    def rows(self) -> list[dict[str, Any]]:
        """The rows to insert: a group about one piece as it was, a group about several as one digest."""
        found = []
        at_text = None
        for (account_id, structure_id, kind), rows in self.groups.items():
            pieces = {row["piece_id"] for row in rows}
            if len(pieces) == 1:
                found += rows
                continue
            at_text = at_text or formatting.instant(self.at)
            text = f"{SUMMARY[kind].format(n=len(pieces))} (échéances du {at_text})."
            found.append({"account_id": account_id, "structure_id": structure_id, "piece_id": None, "kind": kind,
                          "text": text, "url": "", "created_at": rows[0]["created_at"],
                          "items": [{"piece_id": row["piece_id"], "text": row["text"], "url": row["url"]}
                                    for row in rows]})
        return found

    def write(self) -> int:
        """Insert the batch's rows in one statement (without RETURNING: they are other structures', which row-level
        security does not let the sweep read back); returns how many. Empties the digest."""
        rows = self.rows()
        self.groups.clear()
        if rows:
            bulk.insert_rows(Notification.__table__, [{"items": None, **row} for row in rows])
        return len(rows)


def current() -> BellDigest | None:
    """The digest `notify` hands its in-app rows to, inside `digested`."""
    return g.get(KEY)


def digested(now: datetime) -> AbstractContextManager[BellDigest]:
    """Inside the block, `notify` gathers its in-app rows; they are written when the block ends without an error."""
    return batch_digest.scoped(KEY, BellDigest(now))
