"""One e-mail per person per batch of the deadline sweep, listing what happened (issue 20): the product decision.

Why: a maître d'œuvre whose 300 pieces were tacitly validated in one night would otherwise receive 300 e-mails
(each validation tells whoever must act next and the emitter, and the expiry alerts whom the clock names), and a
national platform would send millions of them after a night of deadlines — nobody reads them, filters learn to
bin them, and the one that matters is lost among them. So the sweep gathers, per account, the e-mails its batch
would have sent: what concerns one piece only is sent as before, as the ordinary e-mails of their kinds (the usual
minute of the clock, one deadline: nothing changes); what concerns two pieces or more becomes one e-mail
« deadlines_digest » listing it all, grouped by structure, each line with its link. The in-app notifications stay
one per piece (the bell, the list: each opens its piece), and each item obeys the account's preference for its own
kind, as before.

A digest is per batch (`operations.deadlines.apply_due`), not per sweep: a batch commits its e-mails with its
effect (a job is done when its effect is durable), so a sweep killed between batches loses none, and the person
told of a batch's 300 pieces gets one e-mail. A sweep after an outage has many batches: one e-mail each at most.

`digested(now)` scopes it (the g key below, like `notifications.without_email`); `notify` hands each e-mail it would
have queued to `MailDigest.tell`; `write` queues the messages at the end of the batch: on PostgreSQL their rows and
their outbox rows in one statement each (`operations.bulk`), elsewhere through `mail.queue_mail`.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import g

from chorus_chain import formatting
from chorus_chain.extensions import db
from chorus_chain.models import MailMessage, OutboxJob
from chorus_chain.operations import batch_digest, bulk
from chorus_chain.operations.mail import NotPlain, freeze, queue_mail

KEY = "_chorus_mail_digest"
TEMPLATE = "deadlines_digest"


@dataclass
class _Recipient:
    address: str
    items: list[tuple[str, int | None, dict[str, Any]]] = field(default_factory=list)  # (kind, piece, context)


@dataclass
class MailDigest:
    """The e-mails of one batch, per account (see the module)."""

    at: datetime
    recipients: dict[int, _Recipient] = field(default_factory=dict)

    def tell(self, accounts, kind: str, piece_id: int | None, context: dict[str, Any]) -> None:
        """What `queue_mail(address, kind, **context)` would have queued for each of these accounts, about this
        piece: the one `context`, built once for all of them (never changed after)."""
        item = (kind, piece_id, context)
        for account in accounts:
            recipient = self.recipients.get(account.id)
            if recipient is None:
                recipient = self.recipients[account.id] = _Recipient(account.notification_email)
            recipient.items.append(item)

    def messages(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        """(account id, address, template, context) of each e-mail to send, in the order the accounts were first
        told: what concerns one piece as it was, what concerns several as one digest."""
        found = []
        entries: dict[int, dict[str, Any]] = {}  # each item's digest entry, shared by the digests that list it
        for account_id, recipient in self.recipients.items():
            if len({piece_id for _, piece_id, _ in recipient.items}) == 1:
                found += [(account_id, recipient.address, kind, context) for kind, _, context in recipient.items]
            else:
                found.append((account_id, recipient.address, TEMPLATE, self._digest(recipient, entries)))
        return found

    def _digest(self, recipient: _Recipient, entries: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """`entries`: each item's entry, by the item's identity, built once for every recipient of the item."""
        by_structure: dict[str, dict[str, Any]] = {}
        for item in recipient.items:
            kind, _, context = item
            structure = context.get("structure") or {"name": "", "siret": ""}
            group = by_structure.setdefault(structure["siret"], {"name": structure["name"],
                                                                 "siret": structure["siret"], "entries": []})
            entry = entries.get(id(item))
            if entry is None:
                # Plain text only, by construction: the digest's context is stored as it is (`freeze` would walk
                # hundreds of entries to find nothing to tag).
                entry = entries[id(item)] = {"kind": kind, "subject": str(context.get("subject") or ""),
                                             "text": str(context.get("text") or ""), "url": context.get("url")}
            group["entries"].append(entry)
        count = len(recipient.items)
        at_text = formatting.instant(self.at)
        return {"subject": f"{count} notifications sur vos pièces — échéances du {at_text}", "count": count,
                "at_text": at_text, "structures": list(by_structure.values())}

    def write(self) -> int:
        """Queue the batch's e-mails (see the module); returns how many. Empties the digest."""
        messages = self.messages()
        self.recipients.clear()
        if not messages:
            return 0
        bulk_rows = []
        for account_id, address, template, context in messages:
            try:
                frozen = context if template == TEMPLATE else freeze(context)
            except NotPlain:
                frozen = None
            if frozen is None or db.session.get_bind().dialect.name != "postgresql":
                # queue_mail's own rule for what cannot be stored as plain data (rendered now), and elsewhere
                # than PostgreSQL.
                queue_mail(address, template, account_id=account_id, **context)
            else:
                bulk_rows.append({"to_address": address, "account_id": account_id, "template": template,
                                  "context": frozen})
        if not bulk_rows:
            return len(messages)
        ids = bulk.allocate_ids(MailMessage.__table__, len(bulk_rows))
        bulk.insert_rows(MailMessage.__table__, [{"id": mail_id, **row} for mail_id, row in zip(ids, bulk_rows)])
        bulk.insert_rows(OutboxJob.__table__, [{"job": "send_mail", "payload": {"mail_id": mail_id}}
                                               for mail_id in ids])
        return len(messages)


def current() -> MailDigest | None:
    """The digest `notify` hands its e-mails to, inside `digested`."""
    return g.get(KEY)


def digested(now: datetime) -> AbstractContextManager[MailDigest]:
    """Inside the block, `notify` gathers its e-mails; they are written when the block ends without an error."""
    return batch_digest.scoped(KEY, MailDigest(now))
