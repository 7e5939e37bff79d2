"""The two numbers the layout of a tenant page reads from the database: the bell's unread notifications, and the
requests to join the structure waiting beside « Approbations » for a member who may approve them.

One statement for both, the first time the page shows either, kept for the rest of the request: they were two
statements on every page of a member who approves (a round trip, a plan and an ORM execution each), and the
Tableau de bord's panel already shares the bell's count (`g.unread_count`), and reads its newest unread
notifications with it (`unread_panel`: one statement for the panel and the layout). The page is rendered after the
request's own changes, so what is kept is what the page would have read.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from flask import g
from flask_login import current_user
from sqlalchemy import bindparam, select, true

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.models import Notification
from chorus_chain.operations import notifications as notification_ops
from chorus_chain.operations import organisation as organisation_ops
from chorus_chain.tenancy import has_right

APPROVES = ("organisation", "modification")


def unread_notifications() -> int:
    """The bell's count (capped: `notifications.UNREAD_COUNTED`), 0 outside a structure."""
    if not _in_structure():
        return 0
    if "unread_count" not in g:
        _read()
    return g.unread_count


def pending_approvals() -> int:
    """The structure's pending requests to join, 0 for a member who cannot approve them (no query then)."""
    if not _approves():
        return 0
    if "pending_approvals" not in g:
        _read()
    return g.pending_approvals


@dataclass(frozen=True, slots=True)
class UnreadLine:
    """An unread notification as the Tableau de bord's panel shows it (`dashboard/_notifications.html`)."""

    created_at: datetime
    text: str
    url: str
    items: list | None


def unread_panel(limit: int) -> tuple[int, list[UnreadLine]]:
    """The bell's count and the newest `limit` unread notifications (the Tableau de bord's panel), in one statement
    with the pending approvals when the page needs them too: the count is kept for the layout (`g.unread_count`).
    Two statements before (the layout's counts, then the panel's rows as `Notification` entities)."""
    pending = "pending_approvals" not in g and _approves()
    rows = db.session.execute(_panel_statement(pending, limit),
                              {"account_id": current_user.id, "structure_id": g.structure.id}).all()
    g.unread_count = rows[0].unread
    if pending:
        g.pending_approvals = rows[0].pending
    return g.unread_count, [UnreadLine(row.created_at, row.text, row.url, row.items) for row in rows
                            if row.id is not None]


def _in_structure() -> bool:
    return g.get("structure") is not None and current_user.is_authenticated


def _approves() -> bool:
    return _in_structure() and has_right(*APPROVES)


def _read() -> None:
    """Whichever of the two the request does not know yet, in one statement."""
    unread = "unread_count" not in g
    pending = "pending_approvals" not in g and _approves()
    row = db.session.execute(_statement(unread, pending),
                             {"account_id": current_user.id, "structure_id": g.structure.id}).one()
    if unread:
        g.unread_count = row.unread
    if pending:
        g.pending_approvals = row.pending


@cache
def _statement(unread: bool, pending: bool):
    """Built once per process and variant; the ORM's tenant criteria and row-level security apply as to any read."""
    columns = []
    if unread:
        columns.append(notification_ops.unread_count_of(bindparam("account_id"), bindparam("structure_id"))
                       .label("unread"))
    if pending:
        columns.append(organisation_ops.pending_count_of(bindparam("structure_id")).label("pending"))
    return access.built_once(select(*columns))


@cache
def _panel_statement(pending: bool, limit: int):
    """`unread_panel`'s statement: the counts (one row, `_statement`'s columns) outer-joined to the newest unread
    rows, so that the counts come back when none is unread. Built once per process and variant."""
    counted = _statement(True, pending).subquery("counted")
    keys = notification_ops.unread_keys_of(bindparam("account_id"), bindparam("structure_id"), limit)
    latest = (select(Notification.id, Notification.created_at, Notification.text, Notification.url,
                     Notification.items).join(keys, keys.c.id == Notification.id).subquery("latest"))
    return access.built_once(
        select(*counted.c, latest.c.id, latest.c.created_at, latest.c.text, latest.c.url, latest.c["items"])
        .select_from(counted.outerjoin(latest, true()))
        .order_by(latest.c.created_at.desc(), latest.c.id.desc()))
