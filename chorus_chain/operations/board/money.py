"""« Montants par entreprise »'s read model (issue 20): the titulaire's (mandataire's, co-traitant's) companies with
their money, ranked as the panel shows them, so that the panel reads its eight lines and one row of totals, not every
company of the structure (860 at a million pieces for the benchmark's titulaire: 3 156 rows of board_party_count).

- `board_money_line`: one row per line of the panel — a confirmed sous-traitant or co-traitant under a confirmed
  party of the structure (`members`) — with its figures folded so far and its rank (`attention`, `to_pay`) stored,
  in the index `ix_board_money_line_rank` in the panel's order; `board_money_total`: the structure's count of lines
  and their folded sums.
- `board_money_delta`: what each transaction adds, per (structure, emitting party) — board_party_count's sent,
  validated and paid — inserted by the statement that writes the rollups (`coarse.MONEY`), never an update: two
  transitions of one structure, or of one company, never queue on a row here.

Three writers, never a piece's transition: `fold` (the compaction, one at a time under its advisory lock) moves the
deltas into the lines and totals; `refresh_lines` (a party that changes: a sous-traitant accepted, a DC4's amount, a
name, a marché's reference) rewrites the lines of those parties from board_party_count less the deltas not folded
yet, under the same lock, waited for; `check` (`flask board recompute`) compares and corrects them.

A reader adds the deltas not folded yet to the lines they concern. The ranking stays exact: the panel reads the
first `limit` lines of the index that have no delta and the lines that have one, and ranks them again with their
deltas — a line outside both has no delta, and `limit` lines without one rank before it.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextlib import nullcontext
from decimal import Decimal

from sqlalchemy import and_, bindparam, case, delete, func, insert, select, tuple_, union, update
from sqlalchemy.orm import aliased

from chorus_chain.access import is_system, system_access
from chorus_chain.graph import Role
from chorus_chain.models import (BoardMoneyDelta, BoardMoneyLine, BoardMoneyTotal, BoardPartyCount, Marche,
                                 MarcheParty)
from chorus_chain.operations.board import rows

# A DC4 ceiling « in sight » from this share of the accepted amount invoiced on (the panel warns).
CEILING_WARNING = Decimal("0.90")
# The parties whose money the panel shows, under one of the structure's parties.
PANEL_ROLES = (Role.SOUS_TRAITANT, Role.COTRAITANT)
# The compaction's advisory lock (`rollup.LOCK_KEY`): the lines' writers take turns on it.
LOCK_KEY = 2020_0001
WHY = "board read model: the companies' money lines of the parties this transaction changed"
FIGURES = ("invoiced", "validated", "paid")
# What a line copies of its party and marché (compared by `check`).
FACTS = ("marche_id", "reference", "name", "role", "accepted")
ZERO = Decimal("0.00")


def attention(accepted, invoiced) -> int:
    """The panel's first key: 0 when the DC4 ceiling (the accepted amount) is passed, 1 when it is in sight (from
    CEILING_WARNING of it), else 2 — no accepted amount, no ceiling."""
    if accepted is not None and accepted > 0:
        if invoiced > accepted:
            return 0
        if invoiced >= accepted * CEILING_WARNING:
            return 1
    return 2


def attention_sql(accepted, invoiced):
    """`attention` in SQL."""
    return case((and_(accepted > 0, invoiced > accepted), 0),
                (and_(accepted > 0, invoiced >= accepted * CEILING_WARNING), 1), else_=2)


def ranked(structure_id, marche_id, reference, name, role, accepted, invoiced, validated, paid, party_id) -> dict:
    """A row of board_money_line: the facts, the figures and the rank they give."""
    return {"structure_id": structure_id, "party_id": party_id, "marche_id": marche_id, "reference": reference,
            "name": name, "role": role, "accepted": accepted, "invoiced": invoiced, "validated": validated,
            "paid": paid, "attention": attention(accepted, invoiced), "to_pay": validated - paid}


def members(*, structures: tuple[int, int] | None = None, party_ids=None):
    """The panel's lines as the parties give them: (structure, party, marché, reference, name, role, accepted) of
    every confirmed sous-traitant or co-traitant whose parent is a confirmed party of a structure — of the structures
    `structures` (first, last), or of the parties `party_ids`."""
    parent = aliased(MarcheParty, name="parent")
    statement = (select(parent.structure_id.label("structure_id"), MarcheParty.id.label("party_id"),
                        MarcheParty.marche_id, Marche.reference, MarcheParty.name, MarcheParty.role,
                        MarcheParty.montant_ttc.label("accepted"))
                 .join(parent, parent.id == MarcheParty.parent_id)
                 .join(Marche, Marche.id == MarcheParty.marche_id)
                 .where(MarcheParty.status == "confirmed", MarcheParty.role.in_(PANEL_ROLES),
                        parent.status == "confirmed", parent.structure_id.is_not(None)))
    if structures is not None:
        statement = statement.where(parent.structure_id.between(*structures))
    if party_ids is not None:
        statement = statement.where(MarcheParty.id.in_(party_ids))
    return statement


def _db():
    from chorus_chain.extensions import db

    return db


def _locked(session) -> None:
    """Wait for the compaction's lock (PostgreSQL; held to the end of the transaction): the lines' writers take
    turns, so that a line rewritten from board_party_count never misses a delta the compaction moved meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))


def _system():
    return nullcontext() if is_system() else system_access(WHY)


def refresh_lines(party_ids: Iterable[int] = (), marche_ids: Iterable[int] = ()) -> int:
    """Rewrite the lines of these parties, of the parties under them and of the lines of these marchés (a reference
    changed), and the totals of the structures concerned, from what the parties and board_party_count say now, less
    the deltas still to fold. Returns the number of lines written. A handful of statements; the parties' changes
    are rare (an acceptance, a DC4's amount, a name)."""
    party_ids, marche_ids = {int(i) for i in party_ids}, {int(i) for i in marche_ids}
    if not party_ids and not marche_ids:
        return 0
    session = _db().session
    line = BoardMoneyLine.__table__
    with _system():
        _locked(session)
        if party_ids:
            party_ids |= set(session.scalars(select(MarcheParty.id).where(MarcheParty.parent_id.in_(party_ids))))
        if marche_ids:
            party_ids |= set(session.scalars(select(line.c.party_id).where(line.c.marche_id.in_(marche_ids))))
        if not party_ids:
            return 0
        ids = sorted(party_ids)
        structures = set(session.scalars(delete(line).where(line.c.party_id.in_(ids)).returning(line.c.structure_id)))
        found = session.execute(members(party_ids=ids)).all()
        keys = [(row[0], row[1]) for row in found]
        folded = _rollup_less_pending(session, keys, {row[1]: row[2] for row in found})
        written = [ranked(row[0], *row[2:], *folded.get((row[0], row[1]), (ZERO, ZERO, ZERO)), party_id=row[1])
                   for row in found]
        if written:
            session.execute(insert(line), written)
        structures |= {row["structure_id"] for row in written}
        _total_again(session, structures)
    return len(written)


def _rollup_less_pending(session, keys, marche_of) -> dict[tuple, tuple]:
    """(structure, party) → (invoiced, validated, paid): board_party_count's sums, less the deltas of
    board_money_delta not folded yet (the fold will add them), read in one snapshot."""
    if not keys:
        return {}
    counts, deltas = BoardPartyCount.__table__, BoardMoneyDelta.__table__
    triples = [(structure_id, marche_of[party_id], party_id) for structure_id, party_id in keys]
    summed = (select(counts.c.structure_id, counts.c.emitter_party_id, func.sum(counts.c.sent_ttc),
                     func.sum(counts.c.validated_ttc), func.sum(counts.c.paid))
              .where(tuple_(counts.c.structure_id, counts.c.marche_id, counts.c.emitter_party_id).in_(triples))
              .group_by(counts.c.structure_id, counts.c.emitter_party_id))
    pending = (select(deltas.c.structure_id, deltas.c.emitter_party_id, -func.sum(deltas.c.sent_ttc),
                      -func.sum(deltas.c.validated_ttc), -func.sum(deltas.c.paid))
               .where(tuple_(deltas.c.structure_id, deltas.c.emitter_party_id).in_(keys))
               .group_by(deltas.c.structure_id, deltas.c.emitter_party_id))
    figures = _summed(session.execute(summed.union_all(pending)))
    return {key: tuple(Decimal(value) for value in total) for key, total in figures.items()}


def _summed(found) -> dict[tuple, list]:
    """(structure, party) → [invoiced, validated, paid]: these rows' figures (structure, party, sent, validated,
    paid) summed per line."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, 0, 0])
    for row in found:
        total = sums[(row[0], row[1])]
        for index, value in enumerate(row[2:]):
            total[index] += rows.money(value)
    return sums


def _total_again(session, structures) -> None:
    """The totals of these structures summed again from their lines (a structure without lines has none)."""
    if not structures:
        return
    ids = sorted(structures)
    line, total = BoardMoneyLine.__table__, BoardMoneyTotal.__table__
    session.execute(delete(total).where(total.c.structure_id.in_(ids)))
    session.execute(insert(total).from_select(
        ["structure_id", "lines", *FIGURES],
        select(line.c.structure_id, func.count(), *(func.sum(line.c[name]) for name in FIGURES))
        .where(line.c.structure_id.in_(ids)).group_by(line.c.structure_id)))


def fold(session, limit: int) -> int:
    """Move up to `limit` deltas of board_money_delta (the oldest) into the lines they concern and their structures'
    totals; the deltas of no line (a structure's own pieces, a maître d'œuvre's view) go: a line is rewritten from
    board_party_count when its party changes. The caller holds the compaction's lock. Returns the deltas moved."""
    deltas = BoardMoneyDelta.__table__
    oldest = select(deltas.c.id).order_by(deltas.c.id).limit(limit).scalar_subquery()
    gone = session.execute(delete(deltas).where(deltas.c.id.in_(oldest)).returning(
        deltas.c.structure_id, deltas.c.emitter_party_id, deltas.c.sent_ttc, deltas.c.validated_ttc,
        deltas.c.paid)).all()
    if not gone:
        return 0
    _add(session, _summed(gone))
    return len(gone)


def _add(session, sums: dict[tuple, list]) -> None:
    """Add these figures ((structure, party) → invoiced, validated, paid) to the lines they concern, ranked again,
    and to their structures' totals."""
    line, total = BoardMoneyLine.__table__, BoardMoneyTotal.__table__
    keys = sorted(sums)
    found = session.execute(select(line.c.structure_id, line.c.party_id, line.c.accepted,
                                   *(line.c[name] for name in FIGURES))
                            .where(tuple_(line.c.structure_id, line.c.party_id).in_(keys))).all()
    if not found:
        return
    changed, totals = [], defaultdict(lambda: [0, 0, 0])
    for structure_id, party_id, accepted, *figures in found:
        delta = sums[(structure_id, party_id)]
        invoiced, validated, paid = (Decimal(rows.money(value)) + Decimal(change)
                                     for value, change in zip(figures, delta))
        changed.append({"s": structure_id, "p": party_id, "invoiced": invoiced, "validated": validated,
                        "paid": paid, "attention": attention(accepted, invoiced), "to_pay": validated - paid})
        for index, change in enumerate(delta):
            totals[structure_id][index] += change
    session.execute(update(line).where(line.c.structure_id == bindparam("s"), line.c.party_id == bindparam("p"))
                    .values(invoiced=bindparam("invoiced"), validated=bindparam("validated"),
                            paid=bindparam("paid"), attention=bindparam("attention"), to_pay=bindparam("to_pay")),
                    changed)
    session.execute(update(total).where(total.c.structure_id == bindparam("s"))
                    .values(invoiced=total.c.invoiced + bindparam("di"), validated=total.c.validated
                            + bindparam("dv"), paid=total.c.paid + bindparam("dp")),
                    [{"s": structure_id, "di": Decimal(d[0]), "dv": Decimal(d[1]), "dp": Decimal(d[2])}
                     for structure_id, d in sorted(totals.items())])


def check(session, lo: int, hi: int, party_sums: dict[tuple, list], fix: bool) -> int:
    """`flask board recompute` for the structures lo..hi: the lines and totals the parties and the expected rollup
    (`party_sums`: coarse.PARTY's key (structure, marché, party) → n, sent, validated, paid) give, against the
    stored lines and totals plus the deltas not folded yet. Returns the number of lines (and totals) that differ;
    with `fix`, rewrites the batch's lines and totals (its deltas folded into them, under the compaction's lock)."""
    line, total, deltas = BoardMoneyLine.__table__, BoardMoneyTotal.__table__, BoardMoneyDelta.__table__
    want = {}
    for structure_id, party_id, marche_id, reference, name, role, accepted in session.execute(
            members(structures=(lo, hi))):
        _, sent, validated, paid = party_sums.get((structure_id, marche_id, party_id), (0, 0, 0, 0))
        want[(structure_id, party_id)] = ranked(structure_id, marche_id, reference, name, role, accepted,
                                                Decimal(sent), Decimal(validated), Decimal(paid), party_id)
    pending = _summed(session.execute(select(deltas.c.structure_id, deltas.c.emitter_party_id, deltas.c.sent_ttc,
                                             deltas.c.validated_ttc, deltas.c.paid)
                                      .where(deltas.c.structure_id.between(lo, hi))))
    have = {}
    for row in session.execute(select(line).where(line.c.structure_id.between(lo, hi))):
        stored = dict(row._mapping)
        key = (stored["structure_id"], stored["party_id"])
        if key in pending:  # the rank the figures with their deltas give
            have[key] = ranked(stored["structure_id"], *(stored[name] for name in FACTS),
                               *(Decimal(rows.money(stored[name])) + Decimal(change)
                                 for name, change in zip(FIGURES, pending[key])), party_id=stored["party_id"])
        else:  # as stored, rank included
            have[key] = stored
    different = sum(1 for key in set(want) | set(have) if want.get(key) != have.get(key))
    want_totals: dict[int, list] = defaultdict(lambda: [0, 0, 0, 0])
    for (structure_id, _), values in want.items():
        summed = want_totals[structure_id]
        summed[0] += 1
        for index, name in enumerate(FIGURES, start=1):
            summed[index] += values[name]
    have_totals = {}
    for row in session.execute(select(total).where(total.c.structure_id.between(lo, hi))):
        summed = [row.lines, *(rows.money(row._mapping[name]) for name in FIGURES)]
        for (structure_id, party_id), delta in pending.items():
            if structure_id == row.structure_id and (structure_id, party_id) in have:
                for index, change in enumerate(delta, start=1):
                    summed[index] += change
        have_totals[row.structure_id] = summed
    different += sum(1 for key in set(want_totals) | set(have_totals)
                     if want_totals.get(key) != have_totals.get(key))
    if fix and different:
        _locked(session)
        in_batch = [table.c.structure_id.between(lo, hi) for table in (line, total, deltas)]
        for table, where in zip((line, total, deltas), in_batch):
            session.execute(delete(table).where(where))
        if want:
            session.execute(insert(line), list(want.values()))
        _total_again(session, {structure_id for structure_id, _ in want})
    return different


def structures(session) -> list[int]:
    """The structures the parties give lines, or with lines, totals or deltas stored (recompute's batches must cover
    them all)."""
    tables = (BoardMoneyLine.__table__, BoardMoneyTotal.__table__, BoardMoneyDelta.__table__)
    given = members().subquery("given")
    return list(session.scalars(union(select(given.c.structure_id),
                                      *(select(table.c.structure_id) for table in tables))))
