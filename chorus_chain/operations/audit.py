"""The proof that nothing was altered: every piece's event chain checked against its hashes and its head
(`flask audit verify`), its events replayed through the transition table, and its deposited facts compared with the
piece as it stands (DESIGN.md §3 rule 5)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from chorus_chain.access import system_access
from chorus_chain.domain import audit_chain
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.models import Piece, PieceEvent, Structure
from chorus_chain.operations.pieces_records import jsonable, payload_of

# The deposit event's facts that the piece row must still show (the trigger forbids changing them; this catches a
# change made around it, by a superuser).
_DEPOSITED = ("number", "montant_ht", "montant_tva", "montant_ttc", "main_sha256", "cadre", "vat_regime")


@dataclass(frozen=True)
class Break:
    """The first thing found wrong: which piece, which event (its seq, None for the piece row), and what."""

    piece_id: int
    number: str
    emitter_siret: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = f"événement n° {self.seq}" if self.seq is not None else "pièce"
        return (f"Pièce id {self.piece_id} (n° {self.number}, émetteur {self.emitter_siret}) — {where} : "
                f"{self.message}")


@dataclass(frozen=True)
class AuditResult:
    pieces: int
    events: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def check_piece(piece: Piece, events: list[PieceEvent], siret: str) -> Break | None:
    """The first break in one piece's history, or None."""
    def broken(seq: int | None, message: str) -> Break:
        return Break(piece.id, piece.number, siret, seq, message)

    for index, event in enumerate(events):
        if event.seq != index:
            return broken(event.seq, f"numéro d'ordre inattendu (attendu : {index}) — un événement manque ou a été "
                                     "déplacé")
    index = audit_chain.verify_chain([(payload_of(e), e.hash) for e in events], head=piece.head_hash)
    if index is not None:
        if index == len(events):
            last = events[-1].seq if events else None
            return broken(last, "la chaîne s'arrête avant le dernier événement connu de la pièce (événement "
                                "supprimé ?)")
        return broken(events[index].seq, f"empreinte invalide ({events[index].action}) : l'événement a été modifié")
    previous = audit_chain.GENESIS
    for event in events:
        if event.prev_hash != previous:
            return broken(event.seq, "l'empreinte précédente enregistrée ne correspond pas")
        previous = event.hash
    if piece.route:
        try:
            status = T.replay(events, piece.route_steps, cadre=piece.cadre)
        except T.ReplayError as error:
            return broken(events[error.index].seq, f"transition impossible dans la table : {error}")
        if status != piece.status:
            return broken(None, f"statut {piece.status} alors que l'historique mène à {status.value}")
        deposit = next((e for e in events if e.action == T.Action.DEPOSIT), None)
        if deposit is None:
            return broken(None, "pièce envoyée sans événement de dépôt")
        facts = deposit.extra or {}
        current = jsonable({name: getattr(piece, name) for name in _DEPOSITED})
        for name in _DEPOSITED:
            if facts.get(name) != current.get(name):
                return broken(deposit.seq, f"« {name} » de la pièce ({current.get(name)}) diffère de celui du dépôt "
                                           f"({facts.get(name)})")
    elif piece.status != "BROUILLON":
        return broken(None, "pièce envoyée sans circuit figé")
    return None


def verify_pieces() -> AuditResult:
    """Check every piece, in id order, and stop at the first break. Reads across tenants (system access)."""
    with system_access("audit verify: every piece's chain"):
        pieces = events = 0
        ids = db.session.scalars(select(Piece.id).order_by(Piece.id)).all()
        for piece_id in ids:
            piece, siret = db.session.execute(
                select(Piece, Structure.siret).join(Structure, Structure.id == Piece.emitter_structure_id)
                .where(Piece.id == piece_id)).one()
            history = list(db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id == piece_id)
                                              .order_by(PieceEvent.seq)))
            pieces += 1
            events += len(history)
            found = check_piece(piece, history, siret)
            if found is not None:
                return AuditResult(pieces, events, found)
        orphans = db.session.scalar(select(func.count()).select_from(PieceEvent)
                                    .where(PieceEvent.piece_id.not_in(select(Piece.id))))
        if orphans:
            return AuditResult(pieces, events, Break(0, "?", "?", None, f"{orphans} événement(s) sans pièce"))
        return AuditResult(pieces, events, None)
