"""What the Tableau de bord's marché and company filters find when they are search fields (beyond
`parties.OFFER_MAX` choices a select is no way to find one): the suggestions for a text typed, the marché a search
field holds (its id) and the one marché or company a text typed whole names.

Each read takes its rows from the same places as the selects' offer (`parties.offer_and_own`): the marchés of the
structure's own confirmed parties (`parties.own_branches`), and the companies whose pieces it sees (its rows of
`board_party_count`) with its own contractor parties. Every query names the structure (the read model's row-level
security is the same equality) and runs under the tenant's access criteria. Bounded by the structure's marchés and
companies, cut at `limit`."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.operations.board_reading import parties

SUGGESTIONS = 10
# A name typed whole may be the name of a company on many marchés (one party per marché): read that many at most.
NAMED_MAX = 50


def _pattern(text: str) -> str:
    """`text` anywhere, case-insensitive, its LIKE wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _marches(structure_id: int):
    return (select(Marche.id, Marche.reference)
            .join(MarcheParty, MarcheParty.marche_id == Marche.id)
            .where(MarcheParty.structure_id == structure_id, MarcheParty.status == "confirmed")
            .group_by(Marche.id, Marche.reference))


def marches_matching(structure_id: int, text: str, limit: int | None = None) -> list[tuple[int, str]]:
    """The structure's marchés whose reference holds `text` (any case), by reference: (id, reference), at most
    `limit` (SUGGESTIONS)."""
    statement = (_marches(structure_id).where(Marche.reference.ilike(_pattern(text), escape="\\"))
                 .order_by(Marche.reference, Marche.id).limit(limit or SUGGESTIONS))
    return [tuple(row) for row in db.session.execute(statement)]


def marches_named(structure_id: int, text: str | None, chosen: int | None = None) -> list[tuple[int, str]]:
    """The structure's marchés a search field's values name: the one `chosen` (its id) and those whose reference is
    `text` typed whole (any case): (id, reference), by reference, at most NAMED_MAX (a reference is unique: one or
    two rows). No query when there is nothing to name. Read here rather than picked from the structure's whole list
    of marchés, which the page no longer reads beyond `parties.OFFER_MAX`."""
    named = []
    if chosen is not None:
        named.append(Marche.id == chosen)
    if text:
        named.append(func.lower(Marche.reference) == func.lower(text))
    if not named:
        return []
    statement = (_marches(structure_id).where(or_(*named))
                 .order_by(Marche.reference, Marche.id).limit(NAMED_MAX))
    return [tuple(row) for row in db.session.execute(statement)]


def _companies(structure_id: int, marche_id: int | None):
    """The contractors the company filter may offer (`parties.offer_and_own`'s ids, uncut): (id, name, role,
    reference), as the select's choices are."""
    ids = parties._emitting(structure_id, marche_id).subquery()
    own = parties._own(structure_id, marche_id).subquery()
    offered = select(ids.c.emitter_party_id).union(select(own.c.emitter_party_id))
    return (select(MarcheParty.id, MarcheParty.name, MarcheParty.role, Marche.reference)
            .join(Marche, Marche.id == MarcheParty.marche_id)
            .where(MarcheParty.id.in_(offered), MarcheParty.role.in_(Role.CONTRACTORS)))


def companies_matching(structure_id: int, text: str, marche_id: int | None = None,
                       limit: int | None = None) -> list[tuple[int, str, str, str]]:
    """The companies the filter may offer (of the marché chosen, if any) whose name or marché reference holds `text`
    (any case), in the select's order: (id, name, role, reference), at most `limit` (SUGGESTIONS)."""
    pattern = _pattern(text)
    statement = (_companies(structure_id, marche_id)
                 .where(MarcheParty.name.ilike(pattern, escape="\\") | Marche.reference.ilike(pattern, escape="\\"))
                 .order_by(Marche.reference, MarcheParty.name, MarcheParty.id).limit(limit or SUGGESTIONS))
    return [tuple(row) for row in db.session.execute(statement)]


def companies_named(structure_id: int, name: str, marche_id: int | None = None) -> list[tuple[int, str, str, str]]:
    """The companies the filter may offer (of the marché chosen, if any) named `name` typed whole (any case): one
    per marché where it works, at most NAMED_MAX."""
    statement = (_companies(structure_id, marche_id)
                 .where(func.lower(MarcheParty.name) == name.strip().lower())
                 .order_by(Marche.reference, MarcheParty.name, MarcheParty.id).limit(NAMED_MAX))
    return [tuple(row) for row in db.session.execute(statement)]
