"""The adapter between the party rows of a marché and the pure chain graph (`chorus_chain.graph`).

- `to_info` / `to_parties` turn rows into graph values (declined rows are not part of the chain);
- `chain_of` builds the chain once per request at most (cached on `g` under the marché's version);
- `check_or_refuse` runs `graph.check` on a would-be list of rows and refuses with the first violation's French
  message, before anything is flushed;
- `visible_keys` is the one predicate of what a structure sees of a chain: everything for the MOA, the MOE and the
  holder (titulaire / mandataire), its own branch for everyone else (itself, the contractors above, the companies
  below, the public side), never a sibling branch;
- `amount_keys` is what it reads of their amounts: a sous-traitant names its contractors above, never their amounts.
"""
from __future__ import annotations

from collections.abc import Iterable

from flask import g, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from chorus_chain import graph
from chorus_chain.extensions import db
from chorus_chain.graph import Chain, MarcheInfo, Party, Role, Violation
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.operations import OperationError

# Roles that see the whole chain of a marché (and may download its export).
FULL_VIEW_ROLES = (Role.MOA, Role.MOE, Role.TITULAIRE, Role.MANDATAIRE)

# The form field a violation is about, so that its message is shown next to it.
VIOLATION_FIELDS = {
    "moa_duplicate": "role",
    "moe_duplicate": "role",
    "paying_office_duplicate": "role",
    "titulaire_duplicate": "role",
    "mandataire_duplicate": "role",
    "titulaire_and_mandataire": "role",
    "titulaire_in_groupement": "role",
    "mandataire_without_groupement": "role",
    "cotraitant_without_groupement": "role",
    "moe_not_travaux": "role",
    "structure_duplicate_role": "siret",
    "parent_not_allowed": "parent_id",
    "parent_missing": "parent_id",
    "parent_unknown": "parent_id",
    "parent_invalid": "parent_id",
    "cycle": "siret",
    "amount_negative": "montant_ttc",
    "amount_exceeds_part": "montant_ttc",
}


def to_info(marche: Marche) -> MarcheInfo:
    return MarcheInfo(kind=marche.kind, groupement=marche.groupement,
                      cotraitance_circuit=marche.cotraitance_circuit, montant_ttc=marche.montant_ttc)


def pseudo_structure_id(siret: str) -> int:
    """The graph needs a structure id per party; a company invited before its structure exists gets a negative id
    derived from its SIRET, so that "a structure at most once per role" holds for it too."""
    return -int(siret)


def to_party(row: MarcheParty, key: int | None = None) -> Party:
    return Party(
        key=row.id if key is None else key,
        structure_id=row.structure_id if row.structure_id is not None else pseudo_structure_id(row.siret),
        siret=row.siret,
        name=row.name,
        role=row.role,
        parent_key=row.parent_id,
        montant_ttc=row.montant_ttc,
        confirmed=row.status == "confirmed",
        accepted=row.role != Role.SOUS_TRAITANT or row.dc4_accepted,
    )


def to_parties(rows: Iterable[MarcheParty]) -> list[Party]:
    """The active rows as graph parties. A would-be row not flushed yet has no id: it gets a key above every
    existing one (new rows are leaves, or the first rows of a new marché, so nothing points at them)."""
    rows = [row for row in rows if row.is_active]
    next_key = max((row.id for row in rows if row.id is not None), default=0)
    parties = []
    for row in rows:
        key = row.id
        if key is None:
            next_key += 1
            key = next_key
        parties.append(to_party(row, key))
    return parties


_ROWS = "_chain_rows"


def rows_of(marche: Marche) -> list[MarcheParty]:
    """Every party row of the marché (declined ones included), by id: one query per request and version of the
    marché, like `chain_of` (a batch of a hundred deposits on one marché reads its chain once, not twice a piece).

    The cache also holds the marché itself, so that `session.get(Marche, id)` finds it in the session's (weak)
    identity map instead of reading it again. It is dropped whenever party rows are flushed or a transaction or
    savepoint is rolled back (`_forget_rows`), and bypassed while party rows wait to be flushed."""
    cache = g.setdefault(_ROWS, {}) if has_app_context() else None
    key = (marche.id, marche.version)
    if cache is not None and key in cache and not _party_rows_pending():
        return list(cache[key][1])
    rows = list(db.session.scalars(
        select(MarcheParty).where(MarcheParty.marche_id == marche.id).order_by(MarcheParty.id)))
    if cache is not None:
        cache[key] = (marche, rows)
    return list(rows)


def _party_rows_pending() -> bool:
    session = db.session()
    return any(isinstance(obj, MarcheParty) for obj in (*session.new, *session.deleted))


@event.listens_for(Session, "after_flush")
def _rows_flushed(session, flush_context) -> None:
    if any(isinstance(obj, MarcheParty) for obj in (*session.new, *session.dirty, *session.deleted)):
        _forget_rows()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session, previous_transaction) -> None:
    _forget_rows()


def _forget_rows() -> None:
    if has_app_context():
        g.pop(_ROWS, None)


def chain_of(marche: Marche, rows: list[MarcheParty] | None = None) -> Chain:
    """The chain of the marché, built at most once per request (cached under the marché's version)."""
    cache = g.setdefault("_chains", {}) if has_app_context() else {}
    key = (marche.id, marche.version)
    if key not in cache:
        cache[key] = graph.build_chain(to_info(marche), to_parties(rows if rows is not None else rows_of(marche)))
    return cache[key]


def first_violation(marche: Marche, rows: Iterable[MarcheParty], info: MarcheInfo | None = None) -> Violation | None:
    violations = graph.check(info or to_info(marche), to_parties(rows))
    return violations[0] if violations else None


def check_or_refuse(marche: Marche, rows: Iterable[MarcheParty], info: MarcheInfo | None = None,
                    field: str | None = None) -> None:
    """Refuse (OperationError, nothing flushed yet) when the would-be rows break a rule of the chain."""
    violation = first_violation(marche, rows, info)
    if violation is not None:
        raise OperationError(violation.message_fr, field=field or VIOLATION_FIELDS.get(violation.code))


def deposit_cadres(chain: Chain, key: int) -> list[str | None]:
    """What a party deposits: its allowed cadres, plus `None` — the private invoice to its contractor — for a
    sous-traitant without paiement direct (the same list as `graph.all_routes`, party by party)."""
    cadres: list[str | None] = list(graph.allowed_cadres(chain, key))
    if chain.party(key).role == Role.SOUS_TRAITANT and not graph.paiement_direct(chain, key):
        cadres.append(None)
    return cadres


def touch(marche: Marche) -> None:
    """Record that the chain changed: bumps the version that keys every cached chain."""
    marche.version = (marche.version or 1) + 1


# ---------------------------------------------------------------------------------------------------------------------
# What a structure sees


def own_rows(rows: Iterable[MarcheParty], structure_id: int, siret: str | None = None,
             status: str = "confirmed") -> list[MarcheParty]:
    """The structure's own rows of a marché with this status: the rows linked to it. Never by SIRET alone (issue 13,
    invitation takeover): anyone may register a structure for a SIRET (its checksum is all we check), so an
    invitation sent before the structure existed is linked only through its secret link, by the account it was sent
    to (`operations.marches.create_invited_structure` / `claim_invitation`). `siret` is kept for the callers' shape."""
    return [row for row in rows if row.status == status and row.structure_id == structure_id]


def sees_whole_chain(own: Iterable[MarcheParty]) -> bool:
    return any(row.role in FULL_VIEW_ROLES for row in own)


def visible_keys(chain: Chain, own: Iterable[MarcheParty]) -> set[int]:
    """The party keys a structure with these confirmed rows may see (see the module's docstring)."""
    own = [row for row in own if row.id in chain.parties]
    if not own:
        return set()
    if sees_whole_chain(own):
        return set(chain.parties)
    keys = {p.key for p in chain.parties.values() if p.role in Role.PUBLIC}
    for row in own:
        keys.add(row.id)
        keys.update(p.key for p in graph.contractors_above(chain, row.id))
        keys.update(p.key for p in graph.descendants(chain, row.id))
    return keys


def amount_keys(chain: Chain, own: Iterable[MarcheParty]) -> set[int]:
    """The party keys whose amounts (a part, a DC4's montant) a structure with these confirmed rows may read.

    The whole chain's for the MOA, the MOE and the holder. Otherwise its own and those of the companies below it (it
    declared them, it pays or validates them) — never a contractor's above it: a sous-traitant's rights concern its
    own acte spécial (loi 75-1334 art. 3 and 6, the DC4 accepted by the buyer), so it reads the name and contact of its
    donneur d'ordre and the public side, not their amounts (CONTRIBUTING « Ce qu'une entreprise voit de la chaîne »).
    A co-traitant signed the acte d'engagement that splits the marché between the groupement's members: it reads its
    own part and the mandataire's above it, as the acte it signed shows them."""
    own = [row for row in own if row.id in chain.parties]
    if sees_whole_chain(own):
        return set(chain.parties)
    keys: set[int] = set()
    for row in own:
        keys.add(row.id)
        keys.update(p.key for p in graph.descendants(chain, row.id))
        if row.role == Role.COTRAITANT:
            keys.update(p.key for p in graph.contractors_above(chain, row.id))
    return keys


def prune_tree(tree: dict, keys: set[int], amounts: set[int] | None = None) -> dict:
    """`graph.to_tree` restricted to these keys (a branch is closed upward, so no visible node is orphaned); with
    `amounts`, the amount of a node outside them is taken out (None, as a party without one)."""

    def prune(nodes: list[dict]) -> list[dict]:
        return [{**node, "children": prune(node["children"]),
                 **({"montant_ttc": None} if amounts is not None and node["key"] not in amounts else {})}
                for node in nodes if node["key"] in keys]

    return {"public": prune(tree["public"]), "contractors": prune(tree["contractors"])}
