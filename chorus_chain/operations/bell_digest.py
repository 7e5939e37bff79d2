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
hands it what one structure is told, once for all the accounts told (`tell`: the line built once, not a row per
person); `write` inserts the batch's rows in one statement (`operations.bulk`) at the end of the batch, each row
built once for every account it goes to — the members of a structure told of the same pieces share one row of the
statement, which PostgreSQL writes once per account (`bulk.insert_rows(..., fanned=...)`): the lines of a digest
travel and are parsed once per structure, not once per person.
"""
from __future__ import annotations

from collections.abc import Iterable
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
    """The in-app lines of one batch, per (account, structure, kind), in the order they were first told. A line (one
    piece's: piece_id, text, url, created_at) is one dict shared by every account told of it."""

    at: datetime
    groups: dict[tuple[int, int, str], list[dict[str, Any]]] = field(default_factory=dict)

    def tell(self, account_ids: Iterable[int], structure_id: int, kind: str, line: dict[str, Any]) -> None:
        """What `notify` would have inserted for each of these accounts of the structure: the same `line`."""
        for account_id in account_ids:
            self.groups.setdefault((account_id, structure_id, kind), []).append(line)

    def rows(self) -> list[dict[str, Any]]:
        """The rows to insert, each with the accounts it goes to (`account_ids`, in the order they were told): a
        group about one piece as its lines were, a group about several as one digest. The accounts of a structure
        told the same lines of a kind share their rows."""
        shared: dict[tuple, list[dict[str, Any]]] = {}  # (structure, kind, its lines) -> the rows, for every account
        found = []
        at_text = None
        for (account_id, structure_id, kind), lines in self.groups.items():
            key = (structure_id, kind, *map(id, lines))
            if key in shared:
                for row in shared[key]:
                    row["account_ids"].append(account_id)
                continue
            pieces = {line["piece_id"] for line in lines}
            if len(pieces) == 1:
                made = [{"account_ids": [account_id], "structure_id": structure_id, "kind": kind, **line}
                        for line in lines]
            else:
                at_text = at_text or formatting.instant(self.at)
                made = [{"account_ids": [account_id], "structure_id": structure_id, "piece_id": None, "kind": kind,
                         "text": f"{SUMMARY[kind].format(n=len(pieces))} (échéances du {at_text}).", "url": "",
                         "created_at": lines[0]["created_at"],
                         "items": [{"piece_id": line["piece_id"], "text": line["text"], "url": line["url"]}
                                   for line in lines]}]
            shared[key] = made
            found += made
        return found

    def write(self) -> int:
        """Insert the batch's rows in one statement (without RETURNING: they are other structures', which row-level
        security does not let the sweep read back); returns how many. Empties the digest."""
        rows = self.rows()
        self.groups.clear()
        if not rows:
            return 0
        return bulk.insert_rows(Notification.__table__, [{"items": None, **row} for row in rows],
                                fanned=("account_ids", "account_id"))


def current() -> BellDigest | None:
    """The digest `notify` hands its in-app rows to, inside `digested`."""
    return g.get(KEY)


def digested(now: datetime) -> AbstractContextManager[BellDigest]:
    """Inside the block, `notify` gathers its in-app rows; they are written when the block ends without an error."""
    return batch_digest.scoped(KEY, BellDigest(now))
