"""What `records.notify_actors` asks a batch of the sweep (`context.SweepContext`, `expiries.Expiries`): the holder of
a marché and a structure, answered from what the batch read at once, else read one by one."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import MarcheParty, Structure
from chorus_chain.operations import bulk
from chorus_chain.operations import pieces_records as records


def holders_of(marche_ids: Iterable[int]) -> dict[int, int | None]:
    """Each marché's holder's structure (None: none confirmed), in one statement: the first confirmed holder in id
    order, as `records.holder_structure_id` answers for one marché."""
    holders: dict[int, int | None] = dict.fromkeys(marche_ids)
    if not holders:
        return holders
    for marche_id, structure_id in db.session.execute(
            select(MarcheParty.marche_id, MarcheParty.structure_id)
            .where(bulk.among(MarcheParty.marche_id, sorted(holders)), MarcheParty.role.in_(Role.HOLDERS),
                   MarcheParty.status == "confirmed").order_by(MarcheParty.id)):
        if holders[marche_id] is None:
            holders[marche_id] = structure_id
    return holders


class BatchReads:
    """`holder_of` and `structure_of` for a batch holding `holders` (marché -> its holder's structure) and
    `structures` (id -> Structure): what it did not read at once is read and kept."""

    holders: dict[int, int | None]
    structures: dict[int, Structure]

    def holder_of(self, marche_id: int) -> int | None:
        if marche_id not in self.holders:
            self.holders[marche_id] = records.holder_structure_id(marche_id)
        return self.holders[marche_id]

    def structure_of(self, structure_id: int) -> Structure:
        if structure_id not in self.structures:
            self.structures[structure_id] = db.session.get(Structure, structure_id)
        return self.structures[structure_id]
