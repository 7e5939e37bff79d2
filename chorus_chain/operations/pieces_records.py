"""The building blocks every operation on a piece shares: loading and locking, the hash-chained events, the clocks
(deadline rows), the access rows and the actors a structure plays on a piece.

Nothing here checks a user's right: the callers (`pieces`, `pieces_actions`, `pieces_deadlines`) do.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.exc import StaleDataError

from chorus_chain import graph
from chorus_chain.domain import audit_chain
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import (
    Account,
    Deadline,
    Marche,
    MarcheParty,
    Piece,
    PieceAccess,
    PieceEvent,
    Structure,
)
from chorus_chain.operations import OperationError
from chorus_chain.operations import board

SYSTEM_ACTOR = "system"


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def already_processed(piece: Piece) -> OperationError:
    """The refusal a user gets when someone else changed the piece first (the page they acted from is stale)."""
    return OperationError(f"Cette pièce a déjà été traitée (statut actuel : {statuses.label(piece.status)}). "
                          "Rechargez la page.")


def load_for_update(piece_id: int, *, skip_locked: bool = False) -> Piece | None:
    """The piece, reloaded and locked for this transaction (SELECT ... FOR UPDATE on PostgreSQL: a second user acting
    at the same instant waits, then sees the first one's change). The version column (`version_id_col`) guards the
    same on SQLite. None when the piece does not exist or is not visible to the current tenant, or (skip_locked, for
    the sweep) when another transaction holds it."""
    query = select(Piece).where(Piece.id == piece_id).execution_options(populate_existing=True)
    if is_postgresql():
        query = query.with_for_update(skip_locked=skip_locked)
    return db.session.scalar(query)


def flush_piece() -> None:
    """Flush, turning a lost optimistic-concurrency race (SQLite, or a piece changed under us) into the French
    "already processed" refusal."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise OperationError("Cette pièce a été modifiée par quelqu'un d'autre au même moment. Rechargez la page.") \
            from None


def marche_of(piece: Piece) -> Marche:
    return db.session.get(Marche, piece.marche_id)


# ---------------------------------------------------------------------------------------------------------------------
# Events


def piece_ref(piece_id: int) -> str:
    """How a payload names its piece: the id, so that an event cannot be moved to another piece unnoticed."""
    return f"piece/{piece_id}"


def payload_of(event: PieceEvent) -> dict[str, Any]:
    """The hashed payload of a stored event, rebuilt from the row alone (what `flask audit verify` checks)."""
    return audit_chain.event_payload(
        piece=piece_ref(event.piece_id), seq=event.seq, at=event.at, actor=event.actor,
        actor_siret=event.actor_siret, action=event.action, from_status=event.from_status,
        to_status=event.to_status, reason=event.reason, comment=event.comment, amount=event.amount,
        paid_on=event.paid_on, extra=event.extra or None)


def jsonable(extra: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """`extra` as stored in JSON and hashed: Decimals as canonical strings, dates and instants in ISO."""
    if not extra:
        return None

    def value(item: Any) -> Any:
        if isinstance(item, Decimal):
            return audit_chain.canonical_decimal(item)
        if isinstance(item, datetime):
            return audit_chain.canonical_instant(item)
        if hasattr(item, "isoformat"):
            return item.isoformat()
        if isinstance(item, Mapping):
            return {k: value(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [value(v) for v in item]
        return item

    return value(dict(extra))


def record_event(piece: Piece, *, action: str, actor_step: str, from_status: str | None, to_status: str,
                 account: Account | None, structure: Structure | None, now: datetime, reason: str | None = None,
                 comment: str | None = None, amount: Decimal | None = None, paid_on=None,
                 extra: Mapping[str, Any] | None = None, ctx=None) -> PieceEvent:
    """Append one event to the piece's chain and move its head. The piece must be locked (or new). `ctx` (a
    `deposits.DepositContext` or a `sweep.SweepContext`) knows the next number of the events of the pieces it
    created or locked; a context that writes its batch's rows at its end (`rows`: the sweep's) gets the event's
    values, the same ones, hashed the same way (returned as they are, not as a row)."""
    seq = ctx.next_seq(piece.id) if ctx is not None else None
    if seq is None:
        seq = db.session.scalar(select(func.coalesce(func.max(PieceEvent.seq), -1))
                                .where(PieceEvent.piece_id == piece.id)) + 1
    system = actor_step == T.SYSTEM or account is None
    values = dict(
        piece_id=piece.id, seq=seq, at=now, account_id=None if system else account.id,
        actor=SYSTEM_ACTOR if system else account.email, structure_id=None if system else structure.id,
        actor_siret=None if system else structure.siret, actor_step=actor_step, action=action,
        from_status=None if from_status is None else str(from_status), to_status=str(to_status), reason=reason,
        comment=comment, amount=amount, paid_on=paid_on, extra=jsonable(extra),
        prev_hash=piece.head_hash or audit_chain.GENESIS)
    # Hashed at once: the payload is serialised (and refused if it cannot be) by the hash itself.
    values["hash"] = audit_chain.event_hash(values["prev_hash"], _payload(values, check=False))
    rows = getattr(ctx, "rows", None)
    if rows is not None:
        rows.add(PieceEvent, values)
        event = values
    else:
        event = PieceEvent(**values)
        db.session.add(event)
    piece.head_hash = values["hash"]
    if ctx is not None:
        ctx.recorded(piece.id, seq)
    return event


def _payload(values: Mapping[str, Any], *, check: bool = True) -> dict[str, Any]:
    """`payload_of` for an event's values not yet a row (`check`: `audit_chain.event_payload`'s)."""
    return audit_chain.event_payload(
        piece=piece_ref(values["piece_id"]), seq=values["seq"], at=values["at"], actor=values["actor"],
        actor_siret=values["actor_siret"], action=values["action"], from_status=values["from_status"],
        to_status=values["to_status"], reason=values["reason"], comment=values["comment"],
        amount=values["amount"], paid_on=values["paid_on"], extra=values["extra"] or None, check=check)


def record_transition(piece: Piece, transition: T.Transition, *, account: Account | None,
                      structure: Structure | None, now: datetime, extra: Mapping[str, Any] | None = None,
                      ctx=None) -> PieceEvent:
    """The event of one transition of the table, recorded as the system's when the table says the system acts; a
    change of status also writes its webhook deliveries, in this transaction (the outbox of `operations.webhooks`).
    Every caller has written the piece's access rows before its transitions, so the subscribers that see the piece
    are known here."""
    from chorus_chain.operations import webhooks

    system = transition.actor_step == T.SYSTEM
    event = record_event(
        piece, action=transition.action, actor_step=transition.actor_step, from_status=transition.from_status,
        to_status=transition.to_status, account=None if system else account, structure=None if system else structure,
        now=now, reason=transition.reason, comment=transition.comment, amount=transition.amount,
        paid_on=transition.paid_on, extra=extra, ctx=ctx)
    if transition.to_status != transition.from_status:
        webhooks.status_changed(piece, action=transition.action, from_status=transition.from_status,
                                to_status=transition.to_status, reason=transition.reason, at=now)
    return event


def events_of(piece_id: int) -> list[PieceEvent]:
    return list(db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id == piece_id)
                                   .order_by(PieceEvent.seq)))


# ---------------------------------------------------------------------------------------------------------------------
# Clocks


def clock_days(kind: str, marche: Marche) -> int | None:
    """The marché's setting for the clocks that have one (MOE deadline, délai global de paiement)."""
    if kind == clocks.MOE:
        return marche.moe_days
    if kind == clocks.PAIEMENT:
        return marche.dgp_days
    return None


def open_clock(piece: Piece, kind: str, now: datetime, marche: Marche | None = None, open_clocks=None) -> Deadline:
    """Start a clock of `kind` for the piece at `now` (its due instant from domain.deadlines). `open_clocks` (a
    `sweep.OpenClocks`, the batch's open clocks read at once) is told of it."""
    marche = marche or marche_of(piece)
    deadline = Deadline(kind=kind, piece_id=piece.id, created_at=now, reminders_sent=[],
                        due_at=clocks.due_at(kind, now, days=clock_days(kind, marche)))
    if open_clocks is not None:
        open_clocks.opened(deadline)  # the sweep's batch inserts the clocks it opened at its end
    else:
        db.session.add(deadline)
    if kind == clocks.PAIEMENT:
        piece.received_at = now  # the DGP runs from here (again, after a resend)
    if kind == clocks.MOE and piece.received_by_moe_at is None:
        piece.received_by_moe_at = now
    return deadline


def close_clocks(piece: Piece, kinds: Iterable[str], now: datetime, open_clocks=None) -> None:
    """End the piece's open clocks of these kinds at `now`; `open_clocks` (a `sweep.OpenClocks`) knows them
    already (no query)."""
    kinds = list(kinds)
    if not kinds:
        return
    rows = open_clocks.open_of(piece.id, kinds) if open_clocks is not None else db.session.scalars(select(
        Deadline).where(Deadline.piece_id == piece.id, Deadline.kind.in_(kinds), Deadline.done_at.is_(None)))
    for deadline in rows:
        deadline.done_at = now


def apply_clock_changes(piece: Piece, transition: T.Transition, now: datetime, open_clocks=None) -> None:
    """Open and close the clocks a transition starts and ends (domain.deadlines.clock_changes). `open_clocks`: the
    sweep's batch, which flushes once at its end (a flush writes the updates of a table before its inserts, so a
    clock closed and reopened there never meets the unique open index either)."""
    changes = clocks.clock_changes(transition.from_status, transition.to_status, piece.route_steps,
                                   cadre=piece.cadre)
    if changes.closed:
        close_clocks(piece, changes.closed, now, open_clocks)
        if open_clocks is None:
            db.session.flush()  # a clock closed and reopened at once (none today) must not meet the unique index
    marche = marche_of(piece) if changes.opened else None
    for kind in changes.opened:
        open_clock(piece, kind, now, marche, open_clocks)


def open_deadlines(piece_id: int) -> list[Deadline]:
    return list(db.session.scalars(select(Deadline).where(Deadline.piece_id == piece_id, Deadline.done_at.is_(None))
                                   .order_by(Deadline.due_at)))


# ---------------------------------------------------------------------------------------------------------------------
# Who plays which part on a piece


def holder_structure_id(marche_id: int) -> int | None:
    """The structure holding the marché (titulaire, or mandataire of a groupement), who signs a décompte général."""
    from chorus_chain.operations.chain import rows_of

    # The chain's rows of this request (read once per marché and version), not a query per deposit.
    return next((row.structure_id for row in rows_of(db.session.get(Marche, marche_id))
                 if row.role in Role.HOLDERS and row.status == "confirmed"), None)


def route_has_actor(steps: tuple[str, ...], cadre: str | None, actor: str) -> bool:
    return any(row.actor_step == actor for row in T.rows_for_route(steps, cadre=cadre))


HOLDER_UNKNOWN = object()  # actors_of's default: look the holder up (a list passes the holders it read at once)


def actors_of(piece: Piece, structure_id: int, holder_id: Any = HOLDER_UNKNOWN) -> list[str]:
    """Every actor name of the transition table this structure plays on the piece, in this order: "emitter", its
    steps on the frozen route, "titulaire" (the holder of the marché, where the route has a titulaire's row).
    `holder_id`: the holder's structure id when the caller already knows it (no query)."""
    actors = []
    if piece.emitter_structure_id == structure_id:
        actors.append(T.EMITTER)
    actors += [step["step"] for step in piece.route or () if step["structure_id"] == structure_id]
    if piece.route and route_has_actor(piece.route_steps, piece.cadre, T.TITULAIRE) \
            and (holder_structure_id(piece.marche_id) if holder_id is HOLDER_UNKNOWN else holder_id) == structure_id:
        actors.append(T.TITULAIRE)
    return actors


@dataclass(frozen=True)
class Grant:
    """An access row to write: the structure, its main reason, and every actor name it plays on the piece."""

    structure_id: int
    reason: str
    roles: tuple[str, ...]


def grants(chain: graph.Chain, key: int, cadre: str | None, route: list[dict], holder_id: int | None
           ) -> list[Grant]:
    """The access rows of a piece deposited by party `key` (graph.visible_structures: the emitter, its route, the
    contractors above it, never a sibling), plus the holder of the marché where the route asks for the titulaire's
    signature (an end-of-contract piece of the MOE or the MOA)."""
    roles: dict[int, list[str]] = {}
    emitter_id = chain.party(key).structure_id
    roles.setdefault(emitter_id, []).append(T.EMITTER)
    for step in route:
        roles.setdefault(step["structure_id"], []).append(step["step"])
    steps = tuple(step["step"] for step in route)
    if holder_id is not None and route_has_actor(steps, cadre, T.TITULAIRE):
        roles.setdefault(holder_id, []).append(T.TITULAIRE)
    visible = graph.visible_structures(chain, key, cadre)
    for structure_id in sorted(visible - set(roles)):
        roles[structure_id] = ["contractor_above"]
    return [Grant(structure_id, actor_roles[0], tuple(actor_roles)) for structure_id, actor_roles in roles.items()]


def roles_text(roles: Iterable[str]) -> str:
    """" moa paiement ": padded, so that a LIKE '% moa %' never matches part of another name."""
    return " " + " ".join(roles) + " "


def write_access(piece: Piece, rows: Iterable[Grant], now: datetime) -> None:
    """Insert the access rows; a structure that already has one keeps it (see `insert_access`)."""
    insert_access(access_rows(piece, rows, now))


def access_rows(piece: Piece, rows: Iterable[Grant], now: datetime) -> list[dict[str, Any]]:
    return [{"piece_id": piece.id, "structure_id": grant.structure_id, "reason": grant.reason,
             "roles": roles_text(grant.roles), "created_at": now} for grant in rows]


def insert_access(values: list[dict[str, Any]]) -> None:
    """Insert access rows (of one piece or of a batch's, in one statement); a structure that already has one keeps
    it (INSERT ... ON CONFLICT DO NOTHING, without a conflict target: with one, PostgreSQL would also check the row
    against the SELECT policy, which only shows a tenant its own access rows)."""
    if not values:
        return
    insert = postgresql.insert if is_postgresql() else sqlite.insert
    db.session.execute(insert(PieceAccess).values(values).on_conflict_do_nothing())
    board.touch(row["piece_id"] for row in values)  # a Core insert: the flush hook does not see it


def structures_playing(piece: Piece, actor: str, ctx=None) -> list[int]:
    """The structures that play `actor` (emitter, titulaire or a route step) on the piece. `ctx` (the sweep's
    batch) may know the holders of its marchés (`holder_of`), read at once."""
    if actor == T.EMITTER:
        return [piece.emitter_structure_id]
    if actor == T.TITULAIRE:
        holder_of = getattr(ctx, "holder_of", None)
        holder = holder_of(piece.marche_id) if holder_of is not None else holder_structure_id(piece.marche_id)
        return [holder] if holder is not None else []
    return list(dict.fromkeys(step["structure_id"] for step in piece.route or () if step["step"] == actor))


def rights_domain(piece: Piece, structure_id: int) -> str:
    """The rights domain a piece falls under for a structure: "travaux" for a works piece, otherwise "emises" for
    its emitter and "recues" for everyone else (CHORUS.md §1, rights per domain)."""
    if piece.works:
        return "travaux"
    return "emises" if structure_id == piece.emitter_structure_id else "recues"


def describe(piece: Piece, ctx=None) -> str:
    """"Projet de décompte mensuel de sous-traitant (A10) n° F-12 de Plâtrerie Leroy, 1 200,00 € TTC"."""
    from chorus_chain.domain.amounts import format_fr
    from chorus_chain.domain.cadres import CADRES

    emitter = _structure(piece.emitter_structure_id, ctx)
    kind = "Avoir" if piece.piece_type == "AVOIR" else (
        f"{CADRES[piece.cadre].label} ({piece.cadre})" if piece.cadre else "Facture à l'entreprise donneuse d'ordre")
    return f"{kind} n° {piece.number} de {emitter.name}, {format_fr(piece.montant_ttc)} TTC"


def _structure(structure_id: int, ctx) -> Structure:
    return ctx.structure_of(structure_id) if ctx is not None else db.session.get(Structure, structure_id)


def announce(piece: Piece, transitions: list[T.Transition], *, account: Account | None,
             structure: Structure | None, now: datetime, ctx=None) -> None:
    """After a change: tell whoever must act now ("piece_to_act", members with the modification right), and tell
    the emitter what happened to its piece when someone else changed it ("piece_status"). `ctx` (a
    `deposits.DepositContext`) answers the reads that are the same for every piece of a batch."""
    from chorus_chain.operations.notifications import notify, piece_path

    if not transitions:
        return
    audience = _audience(ctx)
    status = transitions[-1].to_status
    what = describe(piece, ctx)
    marche = marche_of(piece)
    actor_account_id = account.id if account is not None else None
    waiting = T.current_step(status)
    told: set[int] = set()
    if waiting not in (None, T.SYSTEM):
        for structure_id in structures_playing(piece, waiting, ctx):
            target = _structure(structure_id, ctx)
            notify(structure_id, "piece_to_act",
                   f"{what} : {statuses.label(status)}. {statuses.explanation(status)}",
                   subject=f"À traiter : pièce n° {piece.number} — marché {marche.reference}",
                   now=now, domain=rights_domain(piece, structure_id), level="modification", piece_id=piece.id,
                   path=piece_path(target.siret, piece.id), exclude_account_id=actor_account_id, **audience)
            told.add(structure_id)
    emitter_id = piece.emitter_structure_id
    by_someone_else = structure is None or structure.id != emitter_id
    if by_someone_else and emitter_id not in told:
        emitter = _structure(emitter_id, ctx)
        reasons = [t.reason for t in transitions if t.reason]
        reason = f" Motif : {_reason_label(reasons[0])}." if reasons else ""
        notify(emitter_id, "piece_status",
               f"Votre pièce n° {piece.number} est maintenant « {statuses.label(status)} ».{reason}"
               f"{_payment_text(transitions)}",
               subject=f"Pièce n° {piece.number} : {statuses.label(status)} — marché {marche.reference}",
               now=now, domain=rights_domain(piece, emitter_id), piece_id=piece.id,
               path=piece_path(emitter.siret, piece.id), **audience)


def _audience(ctx) -> dict[str, Any]:
    """What `notify` is given of a batch's context (deposits, sweep): its cache of who is told, and its lists of
    e-mails and in-app rows written at the end of the batch."""
    return {"cache": ctx.audience, "mails": ctx.mails, "rows": ctx.notifications} if ctx is not None else {}


def _payment_text(transitions: list[T.Transition]) -> str:
    """A payment says how much was paid, and when: the figure the company will look for on its bank statement; a
    partial validation, how much was accepted."""
    from chorus_chain.domain.amounts import format_fr
    from chorus_chain.formatting import day

    partial = next((t for t in transitions if t.action == T.Action.VALIDATE_PARTIALLY and t.amount is not None), None)
    if partial is not None:  # accepted less than asked: how much, beside the reason
        return f" Montant accepté : {format_fr(partial.amount)} TTC."
    paid = next((t for t in transitions if t.action == T.Action.MARK_PAID and t.amount is not None), None)
    if paid is None:
        return ""
    on = f" le {day(paid.paid_on)}" if paid.paid_on else ""
    return f" Montant payé : {format_fr(paid.amount)}{on}."


def _reason_label(code: str) -> str:
    if code in T.REFUSAL_REASONS:
        return T.REFUSAL_REASONS[code].label
    return T.RECYCLE_REASONS.get(code, code)


def notify_actors(piece: Piece, actors: Iterable[str], kind: str, text: str, subject: str, now: datetime,
                  ctx=None) -> None:
    """Tell the structures playing these actors on the piece (reminders and alerts of a clock). `ctx` (a
    `sweep.SweepContext`) answers the reads that are the same for every deadline of a batch."""
    from chorus_chain.operations.notifications import notify, piece_path

    # A sweep's batch tells its alerts through its `notifications.BatchNotices` (who a structure tells decided once
    # for the batch), the same rows as `notify`.
    notices = getattr(ctx, "notices", None)
    seen: set[int] = set()
    for actor in actors:
        for structure_id in structures_playing(piece, actor, ctx):
            if structure_id in seen:
                continue
            seen.add(structure_id)
            if notices is not None:
                notices.tell(structure_id, kind, text, now=now, domain=rights_domain(piece, structure_id),
                             piece_id=piece.id, subject=subject)
                continue
            target = _structure(structure_id, ctx)
            notify(structure_id, kind, text, subject=subject, now=now, domain=rights_domain(piece, structure_id),
                   piece_id=piece.id, path=piece_path(target.siret, piece.id), **_audience(ctx))
