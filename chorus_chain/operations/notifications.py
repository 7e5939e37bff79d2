"""Notifications: the in-app bell and the e-mails, per the preferences of each account.

`notify(structure_id, kind, text, ...)` reaches the approved members of a structure holding the right the notification
is about (a works piece: "travaux"; otherwise "emises" for the emitter, "recues" for the recipients): an in-app row
(bell) and/or an e-mail through the outbox (`operations.mail.queue_mail`, template `mail/<kind>.txt`), as each
account prefers (no preference row: both).

Reading (the bell, the list, marking read) works for the current tenant: the ORM criteria and the row-level security
both restrict Notification to `structure_id = tenant`.
"""
from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache

from flask import current_app, g, has_request_context, url_for
from sqlalchemy import bindparam, func, insert, select, update
from werkzeug.routing import BuildError

from chorus_chain import access
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    Notification,
    NotificationPreference,
    OutboxJob,
    Rattachement,
    Structure,
)
from chorus_chain.models.notifications import NOTIFICATION_KINDS
from chorus_chain.operations import OperationError, bell_digest, bulk, mail_digest
from chorus_chain.operations.board_reading.planning import opaque_limit
from chorus_chain.operations.mail import queue_mail

PIECE_ENDPOINT = "pieces.show"
_NO_EMAIL = "_chorus_notifications_without_email"


@contextmanager
def without_email():
    """Notify in-app only inside the block (the demo's seeding replays weeks of history: nobody wants those
    e-mails)."""
    previous = g.get(_NO_EMAIL, False)
    setattr(g, _NO_EMAIL, True)
    try:
        yield
    finally:
        setattr(g, _NO_EMAIL, previous)


def piece_path(siret: str, piece_id: int) -> str:
    """The page of a piece for a structure: `url_for("pieces.show", siret=..., piece_id=...)` once the pages exist,
    else the agreed path /s/<siret>/pieces/<id>."""
    try:
        if has_request_context():
            return url_for(PIECE_ENDPOINT, siret=siret, piece_id=piece_id)
        head, tail = _piece_path_around(siret)
        return f"{head}{int(piece_id)}{tail}"
    except BuildError:
        return f"/s/{siret}/pieces/{piece_id}"


_SOME_PIECE = 987654321  # an id no test or demo reaches, to find where the id goes in a structure's piece path
_PATHS_KEPT = 10_000


def _piece_path_around(siret: str) -> tuple[str, str]:
    """What comes before and after the piece's id in the structure's piece path, built once per structure (werkzeug
    builds a path in about 0.1 ms: the sweep builds one per notification)."""
    kept = current_app.extensions.setdefault("chorus_piece_paths", {})
    if siret not in kept:
        if len(kept) >= _PATHS_KEPT:
            kept.clear()
        head, _, tail = _url_adapter().build(PIECE_ENDPOINT, {"siret": siret, "piece_id": _SOME_PIECE}) \
            .partition(str(_SOME_PIECE))
        kept[siret] = (head, tail)
    return kept[siret]


def _url_adapter():
    """The application's URL map bound as `test_request_context("/")` binds it, kept for the application: outside a
    request (the sweep, a job), a fake request per notification cost more than the rest of `notify` together
    (bench/deadline_sweep.py's profile before issue 20's set-based sweep: 16 of its 117 seconds)."""
    adapter = current_app.extensions.get("chorus_url_adapter")
    if adapter is None:
        with current_app.test_request_context("/") as request_context:
            adapter = current_app.extensions["chorus_url_adapter"] = request_context.url_adapter
    return adapter


def absolute(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


def members_with_right(structure_id: int, domain: str | None, level: str = "consultation") -> list[Account]:
    """The active accounts of a structure (approved membership) whose rights cover `level` on `domain` (the
    gestionnaire principal holds every right). `domain` None: every member."""
    structure = db.session.get(Structure, structure_id)
    return members_allowed(structure, memberships_of([structure_id]).get(structure_id, []), domain, level)


def memberships_of(structure_ids: Iterable[int]) -> dict[int, list[tuple[Rattachement, Account]]]:
    """The approved memberships of these structures with their accounts, by structure, accounts in id order: one
    query for a structure, or for every structure a sweep's batch tells (`Audience`)."""
    ids = sorted(set(structure_ids))
    found: dict[int, list[tuple[Rattachement, Account]]] = {structure_id: [] for structure_id in ids}
    if ids:
        for membership, account in db.session.execute(
                select(Rattachement, Account).join(Account, Account.id == Rattachement.account_id)
                .where(bulk.among(Rattachement.structure_id, ids), Rattachement.status == "approved")
                .order_by(Account.id)):
            found[membership.structure_id].append((membership, account))
    return found


def members_allowed(structure: Structure, rows: Iterable[tuple[Rattachement, Account]], domain: str | None,
                    level: str) -> list[Account]:
    """The rule of `members_with_right` on memberships already read: active accounts whose rights (the gestionnaire
    principal's: all) cover `level` on `domain`."""
    found = []
    for membership, account in rows:
        if not account.is_active:
            continue
        granted = rights_rules.effective_rights(membership.rights(), structure.gestionnaire_id == account.id)
        if domain is None or rights_rules.allows(granted.get(domain, "none"), level):
            found.append(account)
    return found


def preferences_of(account_ids: Iterable[int], kind: str) -> dict[int, NotificationPreference]:
    ids = list(account_ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.account_id.in_(ids), NotificationPreference.kind == kind))
    return {row.account_id: row for row in rows}


class Audience:
    """Who a batch tells, read once for the batch (the sweep's `SweepContext` and `Expiries`): the structures, their
    approved memberships and their accounts' preferences, for every structure the batch's pieces name — three queries,
    instead of two per structure, domain and level and one per kind and audience. `notify` asks it through its
    `cache` (the key "prepared"); the rule deciding who is told stays `members_allowed`."""

    def __init__(self, structures: dict[int, Structure]):
        self.structures: dict[int, Structure] = {}
        self.memberships: dict[int, list[tuple[Rattachement, Account]]] = {}
        self.preferences: dict[tuple[int, str], NotificationPreference] = {}
        self.accounts: set[int] = set()  # those whose preferences were read
        self.pending: dict[int, Structure] = {}  # added, not read yet
        self.extend(structures)

    def extend(self, structures: dict[int, Structure]) -> None:
        """Add these structures: who they tell is read at the first question asked of the audience, for every
        structure added by then (`_read`) — a batch's alerts-only expiries and its transitions each add theirs, and
        the batch reads them together (bench/deadline_sweep.py: their members and preferences were read twice a
        batch, once for each)."""
        self.pending.update({structure_id: row for structure_id, row in structures.items()
                             if structure_id not in self.memberships})

    def _read(self) -> None:
        if not self.pending:
            return
        new, self.pending = self.pending, {}
        self.structures.update(new)
        memberships = memberships_of(new)
        self.memberships.update(memberships)
        accounts = {account.id for rows in memberships.values() for _, account in rows} - self.accounts
        if accounts:
            self.accounts |= accounts
            for row in db.session.scalars(select(NotificationPreference).where(
                    bulk.among(NotificationPreference.account_id, sorted(accounts)))):
                self.preferences[(row.account_id, row.kind)] = row

    def knows(self, structure_id: int) -> bool:
        self._read()
        return structure_id in self.memberships

    def members(self, structure_id: int, domain: str | None, level: str) -> tuple[Structure, list[Account]]:
        self._read()
        structure = self.structures[structure_id]
        return structure, members_allowed(structure, self.memberships[structure_id], domain, level)

    def preferences_for(self, accounts: Iterable[Account], kind: str) -> dict[int, NotificationPreference]:
        return {account.id: self.preferences[(account.id, kind)] for account in accounts
                if (account.id, kind) in self.preferences}


def notify(structure_id: int, kind: str, text: str, *, now: datetime, domain: str | None,
           level: str = "consultation", piece_id: int | None = None, path: str = "",
           subject: str | None = None, exclude_account_id: int | None = None, cache: dict | None = None,
           mails: list | None = None, rows: list | None = None, **mail_context) -> int:
    """Tell the members of a structure (holding `level` on `domain`) something, in-app and/or by e-mail as each
    prefers. The actor who caused it (`exclude_account_id`) is not told what they just did. Returns how many
    accounts were reached.

    A batch of deposits tells the same people a hundred times: `cache` (a dict kept for one request) keeps who they
    are and what they prefer, `mails` collects the e-mails whose outbox rows its caller writes at once and `rows` the
    in-app rows it inserts at once (`deposits.DepositContext.finish`)."""
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    cache = {} if cache is None else cache
    structure, accounts, in_app_ids, by_email_accounts = _told(cache, structure_id, kind, domain, level,
                                                                exclude_account_id)
    by_email = not g.get(_NO_EMAIL, False)
    if in_app_ids:
        # The line each account sees, built once for all of them; the sweep's batch (`bell_digest`) keeps it for
        # its digests, shared, and writes it once per structure.
        line = in_app_line(piece_id, text, path, now)
        bell = bell_digest.current()  # the sweep's batch: one row per account, structure, kind
        if bell is not None:
            bell.tell(in_app_ids, structure_id, kind, line)
        else:
            in_app = [{"account_id": account_id, "structure_id": structure_id, "kind": kind, **line}
                      for account_id in in_app_ids]
            if rows is not None:
                rows.extend(in_app)
            else:
                # A plain INSERT, without RETURNING: the rows are another structure's, which row-level security
                # does not let the actor read back.
                db.session.execute(insert(Notification.__table__).inline(), in_app)
    if by_email and by_email_accounts:
        # What the e-mail shows of the structure, as plain values: the job renders it (`operations.mail`). The
        # same for every account told, and its absolute URL too.
        context = mail_context_of(text, subject, _shown(structure), absolute(path) if path else None,
                                  **mail_context)
        digest = mail_digest.current()  # the deadline sweep's batch: one e-mail per account (mail_digest says why)
        if digest is not None:
            digest.tell(by_email_accounts, kind, piece_id, context)
        else:
            for account in by_email_accounts:
                queue_mail(account.notification_email, kind, account_id=account.id, later=mails, **context)
    return len(accounts)


def in_app_line(piece_id: int | None, text: str, path: str, now: datetime) -> dict:
    """The in-app line of a notification, one dict for every account told of it (`notify`, `BatchNotices`)."""
    return {"piece_id": piece_id, "text": text[:500], "url": path, "created_at": now}


def _shown(structure: Structure) -> dict[str, str]:
    """What an e-mail shows of the structure told, as plain values: the job renders it (`operations.mail`)."""
    return {"name": structure.name, "siret": structure.siret}


def mail_context_of(text: str, subject: str | None, structure: dict[str, str], url: str | None,
                    **mail_context) -> dict:
    """The context of a notification's e-mail (its template `mail/<kind>.txt`), the same for every account told."""
    return dict(text=text, subject=subject or text, structure=structure, url=url, **mail_context)


class BatchNotices:
    """`notify` for the clocks' alerts of one batch of the deadline sweep (`records.notify_actors` given a batch's
    context), inside the batch's digests (`bell_digest`, `mail_digest`): who a structure tells of a kind and right,
    what its e-mails show of it and the head and tail of its pieces' links are decided once per batch, then each
    notification costs its line and its e-mail's context, handed to the digests as `notify` hands them. The same
    rules as `notify` (`_told`, `in_app_line`, `mail_context_of`, `piece_path`'s path): the same rows.

    Why (bench/deadline_sweep.py, issue 20): a night's lapsed délais globaux de paiement are two thirds of the due
    deadlines, and each told its two structures through `notify`'s every step — the kind checked, the cache's keys
    built, both digests and the e-mail switch looked up in `g`, the link built, the structure's name copied, the
    base URL read from the configuration: most of the expiries' alerts' CPU."""

    def __init__(self, cache: dict):
        self.cache = cache
        self.targets: dict[tuple[int, str, str | None, bool], tuple] = {}

    def tell(self, structure_id: int, kind: str, text: str, *, now: datetime, domain: str | None, piece_id: int,
             subject: str | None = None) -> None:
        """What `notify(structure_id, kind, text, now=now, domain=domain, piece_id=piece_id, path=<the piece's
        link for the structure>, subject=subject, cache=…)` does inside the batch's digests."""
        bell, digest = bell_digest.current(), mail_digest.current()
        if bell is None or digest is None or has_request_context():  # outside a sweep's batch: notify itself
            structure = db.session.get(Structure, structure_id)
            notify(structure_id, kind, text, now=now, domain=domain, piece_id=piece_id, subject=subject,
                   path=piece_path(structure.siret, piece_id), cache=self.cache)
            return
        key = (structure_id, kind, domain, g.get(_NO_EMAIL, False))
        target = self.targets.get(key)
        if target is None:
            target = self.targets[key] = self._target(structure_id, kind, domain)
        shown, in_app_ids, by_email_accounts, head, tail, base = target
        path = f"{head}{int(piece_id)}{tail}"
        if in_app_ids:
            bell.tell(in_app_ids, structure_id, kind, in_app_line(piece_id, text, path, now))
        if by_email_accounts:
            digest.tell(by_email_accounts, kind, piece_id, mail_context_of(text, subject, shown, base + path))

    def _target(self, structure_id: int, kind: str, domain: str | None) -> tuple:
        if kind not in NOTIFICATION_KINDS:
            raise ValueError(f"unknown notification kind {kind!r}")
        structure, _, in_app_ids, by_email_accounts = _told(self.cache, structure_id, kind, domain, "consultation",
                                                            None)
        if g.get(_NO_EMAIL, False):
            by_email_accounts = ()
        try:
            head, tail = _piece_path_around(structure.siret)
        except BuildError:
            head, tail = f"/s/{structure.siret}/pieces/", ""
        return _shown(structure), in_app_ids, by_email_accounts, head, tail, absolute("")


def _told(cache: dict, structure_id: int, kind: str, domain: str | None, level: str,
          exclude_account_id: int | None) -> tuple[Structure, list[Account], tuple[int, ...], tuple[Account, ...]]:
    """(the structure, the accounts told, the ids of those told in-app, those told by e-mail) of a notification,
    per each account's preference for its kind — decided once per structure, kind, right and actor in `cache` (a
    batch tells the same people of many pieces: the sweep's and the deposits' contexts keep it for the batch)."""
    key = ("told", structure_id, kind, domain, level, exclude_account_id)
    if key in cache:
        return cache[key]
    prepared: Audience | None = cache.get("prepared")
    if prepared is not None and not prepared.knows(structure_id):
        prepared = None
    audience_key = ("members", structure_id, domain, level)
    if audience_key not in cache:
        cache[audience_key] = prepared.members(structure_id, domain, level) if prepared is not None else (
            db.session.get(Structure, structure_id), members_with_right(structure_id, domain, level))
    structure, members = cache[audience_key]
    accounts = [a for a in members if a.id != exclude_account_id]
    preferences = prepared.preferences_for(accounts, kind) if prepared is not None else \
        preferences_of((a.id for a in accounts), kind)
    in_app_ids = tuple(a.id for a in accounts if a.id not in preferences or preferences[a.id].in_app)
    by_email_accounts = tuple(a for a in accounts if a.id not in preferences or preferences[a.id].by_email)
    cache[key] = structure, accounts, in_app_ids, by_email_accounts
    return cache[key]


def write_later(rows: list[dict], mails: list) -> None:
    """Write what a batch collected with `notify(..., rows=, mails=)`: the in-app rows in one INSERT, then the
    outbox rows of its e-mails (they need the e-mails' ids: one flush for all of them, then one for their jobs).
    Empties both lists. The deposits' and the sweep's contexts end their batches with it."""
    if rows:
        # One INSERT of arrays, without RETURNING: the rows are other structures', which row-level security does
        # not let the actor read back.
        bulk.insert_rows(Notification.__table__, rows)
        rows.clear()
    if not mails:
        return
    db.session.flush()
    db.session.add_all([OutboxJob(job="send_mail", payload={"mail_id": mail.id}) for mail in mails])
    mails.clear()
    db.session.flush()


# ---------------------------------------------------------------------------------------------------------------------
# The bell (tenant pages: the current tenant is `structure`)


# The bell counts up to this and then says « 99+ »: counting every unread row of a busy account (thousands, for a
# maître d'œuvre that never opens them) read as many index entries on every page.
UNREAD_COUNTED = 100


def unread_count(account: Account, structure: Structure, at_most: int = UNREAD_COUNTED) -> int:
    """The number on the bell, counted up to `at_most` (`unread_label` writes « 99+ » from 100). Right needed:
    membership of the structure (any)."""
    return db.session.scalar(select(unread_count_of(account.id, structure.id, at_most)))


def unread_count_of(account_id, structure_id, at_most: int = UNREAD_COUNTED):
    """`unread_count` as a scalar subquery, for a statement that reads it with other figures (the layout's counts,
    `layout_counts`); the ids may be bound parameters."""
    unread = (select(Notification.id).where(
        Notification.account_id == account_id, Notification.structure_id == structure_id,
        Notification.read_at.is_(None)).limit(at_most).subquery())
    return select(func.count()).select_from(unread).scalar_subquery()


def unread_label(count: int) -> str:
    """What the bell shows for `unread_count`: the number, or « 99+ » once the count reached its cap."""
    return f"{UNREAD_COUNTED - 1}+" if count >= UNREAD_COUNTED else str(count)


def unread_notifications(account: Account, structure: Structure, limit: int = 20) -> list[Notification]:
    """The unread notifications of this account in this structure, newest first. Right: membership (any).

    In two steps: the keys from `ix_notification_unread` alone, read backwards under a limit hidden from the planner
    (`opaque_limit`), then the rows by primary key. Selecting the rows with a plain limit, PostgreSQL misled by the
    row-level security filter read every unread notification of the account and sorted them (1 892 for the
    busiest sous-traitant at 100 000 pieces, to show five)."""
    return list(db.session.scalars(_unread_statement(limit), {"account_id": account.id,
                                                              "structure_id": structure.id}))


def unread_keys_of(account_id, structure_id, limit: int):
    """The keys (id, created_at) of the newest `limit` unread notifications of an account in a structure, as a
    subquery: `ix_notification_unread` read backwards under a limit hidden from the planner (`unread_notifications`
    says why); the ids may be bound parameters."""
    return (select(Notification.id.label("id"), Notification.created_at.label("created_at")).where(
        Notification.account_id == account_id, Notification.structure_id == structure_id,
        Notification.read_at.is_(None)).order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(opaque_limit(limit)).subquery("unread_keys"))


@lru_cache(maxsize=8)
def _unread_statement(limit: int):
    """`unread_notifications`' statement, the account and the structure bound: built once per process
    (`access.built_once`)."""
    keys = unread_keys_of(bindparam("account_id"), bindparam("structure_id"), limit)
    return access.built_once(select(Notification).join(keys, keys.c.id == Notification.id)
                             .order_by(keys.c.created_at.desc(), keys.c.id.desc()))


def recent_notifications(account: Account, structure: Structure, limit: int = 50) -> list[Notification]:
    """Read and unread, newest first (the notifications page). Right: membership (any)."""
    return list(db.session.scalars(select(Notification).where(
        Notification.account_id == account.id, Notification.structure_id == structure.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(account: Account, structure: Structure, *, now: datetime,
              notification_ids: Iterable[int] | None = None) -> int:
    """Mark this account's notifications in this structure read (all of them, or those ids); returns how many.
    Right: membership (any); only one's own notifications are touched."""
    statement = update(Notification).where(
        Notification.account_id == account.id, Notification.structure_id == structure.id,
        Notification.read_at.is_(None))
    if notification_ids is not None:
        statement = statement.where(Notification.id.in_(list(notification_ids)))
    result = db.session.execute(statement.values(read_at=now).execution_options(synchronize_session=False))
    return result.rowcount


def preferences(account: Account) -> list[tuple[str, str, bool, bool]]:
    """(kind, French label, by_email, in_app) for every kind, defaults included (the preferences page)."""
    stored = {row.kind: row for row in db.session.scalars(
        select(NotificationPreference).where(NotificationPreference.account_id == account.id))}
    return [(kind, label, stored[kind].by_email if kind in stored else True,
             stored[kind].in_app if kind in stored else True) for kind, label in NOTIFICATION_KINDS.items()]


def set_preference(account: Account, kind: str, *, by_email: bool, in_app: bool) -> NotificationPreference:
    """How this account wants one kind of notification. Right: one's own account (no structure right)."""
    if kind not in NOTIFICATION_KINDS:
        raise OperationError("Type de notification inconnu.", field="kind")
    row = db.session.scalar(select(NotificationPreference).where(
        NotificationPreference.account_id == account.id, NotificationPreference.kind == kind))
    if row is None:
        row = NotificationPreference(account_id=account.id, kind=kind)
        db.session.add(row)
    row.by_email, row.in_app = bool(by_email), bool(in_app)
    db.session.flush()
    return row
