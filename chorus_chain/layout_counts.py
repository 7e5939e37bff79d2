"""The two numbers the layout of a tenant page reads from the database: the bell's unread notifications, and the
requests to join the structure waiting beside « Approbations » for a member who may approve them.

One statement for both, the first time the page shows either, kept for the rest of the request: they were two
statements on every page of a member who approves (a round trip, a plan and an ORM execution each), and the
Tableau de bord's panel already shares the bell's count (`g.unread_count`). The page is rendered after the
request's own changes, so what is kept is what the page would have read.
"""
from __future__ import annotations

from functools import cache

from flask import g
from flask_login import current_user
from sqlalchemy import bindparam, select

from chorus_chain import access
from chorus_chain.extensions import db
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
