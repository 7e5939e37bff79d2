"""What a transaction made stale in the read model, kept on the session until `maintain.flush_pending` refreshes it
(before commit, before a read of the board tables). No dependency but the session: the writers that bypass the
ORM's flush (Core `insert()` of access rows…) call `touch` from anywhere without an import circle."""
from __future__ import annotations

from collections.abc import Iterable

PENDING = "board_pending"  # session.info key


def pending_of(session) -> dict[str, set]:
    """The session's stale pieces, and the états / emitters / marchés / emitting parties whose pieces are stale, and
    the late payments whose interest clock's piece is; and the parties whose money line is (`money_parties`)."""
    return session.info.setdefault(PENDING, {"pieces": set(), "etats": set(), "emitters": set(), "marches": set(),
                                             "parties": set(), "payments": set(), "money_parties": set()})


def touch(piece_ids: Iterable[int]) -> None:
    """These pieces' board rows are stale: refresh them before this transaction commits (or reads the board)."""
    from chorus_chain.extensions import db

    pending_of(db.session())["pieces"].update(int(piece_id) for piece_id in piece_ids)
