"""Who sees which pieces: the tenant of the current work, and the one access predicate applied twice (DESIGN.md §3
rule 4).

A structure sees a piece when it is the piece's emitter or holds a `PieceAccess` row for it (written from the chain
graph when the piece is deposited). The predicate is applied

- by the ORM: a `do_orm_execute` event adds `with_loader_criteria` on Piece, PieceEvent, PieceFile, PieceAccess,
  Notification and the dashboards' read model (BoardRow, BoardCount, the coarser rollups) to every ORM statement (a query that forgets the tenant still sees only the tenant's rows);
- by PostgreSQL: row-level security (migration 0003) compares the rows to `chorus.structure_id` /
  `chorus.system`, which an `after_begin` session event sets for each transaction with `set_config(..., true)`
  (local to the transaction: nothing leaks to the next user of a pooled connection, and every transaction of a
  request gets them again).

The tenant lives on `flask.g` (one per request, per job, per app context):

- `tenancy.load_structure_for_current_user` sets it for the tenant pages (/s/<siret>/...) with `set_tenant`;
- `with tenant(structure_id):` sets it for a block (tests, jobs acting for one structure, the demo);
- `with system_access("why"):` lets a block read and change across tenants: the deadline sweep, the export of a
  whole marché, `flask audit verify`. It must say why (logged).

Outside all three (a page that is not a tenant page, a job that set nothing) no piece is visible at all.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import lru_cache
from flask import g, has_app_context
from sqlalchemy import Integer, String, bindparam, case, cast, event, exists, false, func, or_, select, text, union_all
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.elements import BindParameter

from chorus_chain.read_requests import reads_only

log = logging.getLogger(__name__)

_TENANT = "_chorus_tenant"
_SYSTEM = "_chorus_system"
_SET_CONFIG = reads_only(text("SELECT set_config('chorus.structure_id', :tenant, true), "
                              "set_config('chorus.system', :system, true)"))  # transaction-local: no write


def current_tenant() -> int | None:
    """The structure the current work is done for, or None."""
    return g.get(_TENANT) if has_app_context() else None


def is_system() -> bool:
    """True inside `system_access()`: every row is visible."""
    return bool(g.get(_SYSTEM)) if has_app_context() else False


def set_tenant(structure_id: int | None, *, applied: bool = False) -> None:
    """Make `structure_id` the tenant of the rest of this app context (a request: see tenancy.py).

    `applied`: the statement that read the structure already set the transaction's settings (`settings_columns`),
    so they are not sent again; the next transactions get them from after_begin as always."""
    setattr(g, _TENANT, structure_id)
    if not applied:
        _sync()


def settings_columns(structure_id_column, when=None) -> tuple:
    """The tenant's settings as two columns of the statement that reads the tenant's own row (PostgreSQL only): the
    same `set_config(..., true)` as `_SET_CONFIG`, evaluated on the one row that statement returns — a tenant page
    then switches tenant without a statement of its own (tenancy.load_structure_for_current_user). No row (not a
    member), no settings: the request ends in a 404 before reading anything. Bind `chorus_system` to
    `system_setting()`. `when`: a condition on that row, for a statement whose row may hold no tenant (an outer join:
    tenancy's account and membership); the settings are set only where it holds (CASE evaluates its branch alone)."""
    columns = (func.set_config("chorus.structure_id", cast(structure_id_column, String), True),
               func.set_config("chorus.system", bindparam("chorus_system"), True))
    if when is not None:
        columns = tuple(case((when, column)) for column in columns)
    return columns[0].label("chorus_tenant"), columns[1].label("chorus_system")


def system_setting() -> str:
    """`chorus.system` as the current work has it ("on" inside `system_access`)."""
    return "on" if is_system() else "off"


@contextmanager
def tenant(structure_id: int):
    """Work for one structure inside the block (the previous tenant is restored after)."""
    previous_tenant, previous_system = g.get(_TENANT), g.get(_SYSTEM)
    setattr(g, _TENANT, structure_id)
    setattr(g, _SYSTEM, False)
    _sync()
    try:
        yield
    finally:
        setattr(g, _TENANT, previous_tenant)
        setattr(g, _SYSTEM, previous_system)
        _sync()


@contextmanager
def system_access(reason: str):
    """Read and change across tenants inside the block, for a stated reason (the sweep, an export, the audit)."""
    if not reason:
        raise ValueError("system_access needs a reason")
    log.debug("system access: %s", reason)
    previous = g.get(_SYSTEM)
    setattr(g, _SYSTEM, True)
    _sync()
    try:
        yield
    finally:
        setattr(g, _SYSTEM, previous)
        _sync()


_DEFAULTS = {"tenant": "", "system": "off"}


def _settings() -> dict[str, str]:
    tenant_id = current_tenant()
    return {"tenant": "" if tenant_id is None else str(tenant_id), "system": system_setting()}


def _sync() -> None:
    """Apply the settings to the transaction already under way, if any (the next ones get them from after_begin)."""
    from chorus_chain.extensions import db

    session = db.session()
    if session.in_transaction():
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(_SET_CONFIG, _settings())


# ---------------------------------------------------------------------------------------------------------------------
# Session events


def _after_begin(session: Session, transaction, connection) -> None:
    if connection.dialect.name != "postgresql" or not has_app_context():
        return
    settings = _settings()
    if settings == _DEFAULTS and not connection.in_nested_transaction():
        return  # a fresh transaction starts with the settings empty: nothing to say (one statement saved)
    # (Inside an outer transaction — the tests' — a previous session may have set them: always say.)
    connection.execute(_SET_CONFIG, settings)


def visible_piece_ids(structure_id: int):
    """The ids of the pieces a structure sees (a SELECT to use in IN, for the tables that point at a piece): its own,
    and those it holds an access row for. The same predicate as the `piece_select` policy of migration 0003.

    A UNION ALL of two index scans (the emitter's numbers, the structure's access rows), not one scan of `piece`
    with an OR: the OR form made PostgreSQL read every piece of the platform (bench/dashboards.py)."""
    from chorus_chain.models import Piece, PieceAccess

    return union_all(
        select(Piece.id).where(Piece.emitter_structure_id == structure_id),
        select(PieceAccess.piece_id).where(PieceAccess.structure_id == structure_id),
    )


def visible_to(structure_id: int):
    """The same predicate as a condition on `Piece` itself, correlated: checked on the rows a query already selects
    (an index probe each), so a list or a count costs what its own conditions select, not the whole platform."""
    from chorus_chain.models import Piece, PieceAccess

    return or_(Piece.emitter_structure_id == structure_id,
               exists().where(PieceAccess.piece_id == Piece.id, PieceAccess.structure_id == structure_id))


def _own_piece_visible(piece_id_column, structure_id):
    """The predicate on a row pointing at a piece (an event, a file), correlated on its piece_id: the piece is the
    structure's own (read through the bare table, aliased, so that neither the outer statement's `piece` swallows it
    by auto-correlation nor the Piece criteria apply to it again) or the structure holds an access row for it."""
    from chorus_chain.models import Piece, PieceAccess

    own = Piece.__table__.alias("own_piece")
    access_table = PieceAccess.__table__.alias("own_access")
    return or_(exists().where(own.c.id == piece_id_column, own.c.emitter_structure_id == structure_id),
               exists().where(access_table.c.piece_id == piece_id_column,
                              access_table.c.structure_id == structure_id))


class TenantValue(BindParameter):
    """The tenant's id as its criteria bind it: a bound parameter that stays the same object when the ORM annotates
    the criteria for each entity it applies them to.

    The ORM annotates a copy of every element of a loader criteria at each application (`_deep_annotate`), and an
    annotated copy of a bound parameter hashes as the original. When a cached statement runs again, SQLAlchemy
    relates the statement's bound parameters to the compiled ones in a dict (`SQLCompiler.construct_params`): each
    copy beyond the first is compared to the first with `==`, and `==` on an SQL element builds an SQL expression
    (`annotation.__eq__`, `_boolean_compare`) — about 90 per Tableau de bord, a tenth of the CPU of running its
    statements (bench/page_cpu.py, issue 20). Refusing the annotation (it carries nothing a value needs) leaves one
    object per criteria: the dict finds it by identity. The SQL and the values bound are the same."""

    inherit_cache = True

    def _annotate(self, values):
        return self

    def _with_annotations(self, values):
        return self


@lru_cache(maxsize=1024)
def _criteria(tenant_id: int | None) -> tuple:
    """The tenant's criteria on every ORM statement, each correlated on the row the statement already reads: an
    index probe per row (the piece's emitter, the (structure, piece) access row), never
    `IN (SELECT piece_id FROM piece_access WHERE structure_id = …)`, which hashed every access row of the tenant —
    262 000 at a million pieces — to show twenty (issue 20).

    Built once per tenant and kept (a tuple of immutable options, the tenant's id bound in each: `TenantValue`):
    building them cost about 1.8 ms of CPU, paid by every ORM statement of every page before."""
    from chorus_chain.models import (BoardCadreMarcheCount, BoardCount, BoardMarcheCount, BoardMoneyDelta,
                                     BoardMoneyLine, BoardMoneyTotal, BoardPartyCount, BoardRow, BoardStatusCount,
                                     BoardStatusMarcheCount, Notification, Piece, PieceAccess, PieceEvent, PieceFile)

    board = (BoardRow, BoardCount, BoardStatusCount, BoardMarcheCount, BoardStatusMarcheCount, BoardCadreMarcheCount,
             BoardPartyCount, BoardMoneyDelta, BoardMoneyLine, BoardMoneyTotal)
    if tenant_id is None:
        return tuple(with_loader_criteria(entity, false(), include_aliases=True)
                     for entity in (Piece, PieceEvent, PieceFile, PieceAccess, Notification, *board))
    tenant = TenantValue(None, tenant_id, type_=Integer, unique=True)
    return (
        with_loader_criteria(
            Piece,
            lambda cls: or_(cls.emitter_structure_id == tenant,
                            exists().where(PieceAccess.piece_id == cls.id, PieceAccess.structure_id == tenant)),
            include_aliases=True),
        # An event or a file is visible with its own piece: the same two probes, on the row's piece_id.
        with_loader_criteria(PieceEvent, lambda cls: _own_piece_visible(cls.piece_id, tenant),
                             include_aliases=True),
        with_loader_criteria(PieceFile, lambda cls: _own_piece_visible(cls.piece_id, tenant),
                             include_aliases=True),
        with_loader_criteria(PieceAccess, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(Notification, lambda cls: cls.structure_id == tenant, include_aliases=True),
        # The dashboards' read model carries the structure it belongs to: an equality, as its RLS policy (0023).
        with_loader_criteria(BoardRow, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardCount, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardStatusCount, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardMarcheCount, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardStatusMarcheCount, lambda cls: cls.structure_id == tenant,
                             include_aliases=True),
        with_loader_criteria(BoardCadreMarcheCount, lambda cls: cls.structure_id == tenant,
                             include_aliases=True),
        with_loader_criteria(BoardPartyCount, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardMoneyDelta, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardMoneyLine, lambda cls: cls.structure_id == tenant, include_aliases=True),
        with_loader_criteria(BoardMoneyTotal, lambda cls: cls.structure_id == tenant, include_aliases=True),
    )


BUILT_ONCE = "chorus_built_once"


def built_once(statement):
    """Mark a statement built once per process and run on many requests (the floor's: the account, the membership,
    the layout's counts): the tenant's criteria are added to it once per tenant and the result kept, so neither the
    options nor the statement's cache key are made again on every execution — about a fifth of the CPU of running
    such a statement (bench/page_cpu.py). The criteria are the same as on any statement."""
    return statement.execution_options(**{BUILT_ONCE: True})


@lru_cache(maxsize=16384)
def _with_criteria(statement, tenant_id: int | None):
    return statement.options(*_criteria(tenant_id))


def _do_orm_execute(state: ORMExecuteState) -> None:
    if not has_app_context() or is_system() or state.is_column_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    statement = state.statement
    if statement.get_execution_options().get(BUILT_ONCE):
        state.statement = _with_criteria(statement, current_tenant())
    else:
        state.statement = statement.options(*_criteria(current_tenant()))


_installed = False


def install() -> None:
    """Register the session events (once per process; create_app calls it)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_begin", _after_begin)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    _installed = True


def sees_bank_details(piece, structure_id: int) -> bool:
    """Whether a structure reading a piece sees its full bank details (IBAN, BIC) or only the masked IBAN: the
    emitter (its own account) and whoever pays it (it pays to that account) — the paying step of a public piece's
    route, or the contractor of a private invoice, which accepts and pays it itself under the code de commerce (a
    rang 2's invoice to its rang 1, a small sous-traitant's to its contractor: its only step). One rule for the piece
    page, its PDF and its Factur-X: a document built for a viewer masks what that viewer's page masks."""
    from chorus_chain.domain import transitions as T

    if piece.emitter_structure_id == structure_id:
        return True
    return any(step.get("step") in (T.STEP_PAIEMENT, T.STEP_CONTRACTOR) and step.get("structure_id") == structure_id
               for step in piece.route or ())
