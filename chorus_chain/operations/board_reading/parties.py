"""The companies the Tableau de bord names, read from the companies' rollup (`board_party_count`: one row per
company whose pieces the structure sees, after compaction), each read bounded by what the page shows:

- `offer_and_own`: with the companies, what the page reads of the structure's own parties — the parts it plays (its
  roles, grouped: a handful of rows) and the marché filter's choices (its marchés, cut at `OFFER_MAX + 1`: beyond,
  the filter is a search field) —, never one row per party of its history (`OwnRead`);
- `offer`: the companies the « Entreprise émettrice » filter offers — the structure's own parties and the parties whose
  pieces it sees (its rollup's rows). A maître d'œuvre of hundreds of marchés sees thousands of companies: the filter
  offers them all only up to `OFFER_MAX` (read as the first `OFFER_MAX + 1` (marché, party) groups of the rollup's
  index), else those of the marché chosen in the filter (the marché's rows);
- `is_offered`: whether a company typed in the URL is one of those (one probe of its row);
- `money_lines` / `money_page`: « Montants par entreprise », the titulaire's (mandataire's, co-traitant's) panel: the
  parties working under its own, with what they invoiced, what was validated and paid (the rollups by emitting party,
  probed by its whole key). The panel shows `PANEL_LINES` of them, those to look at first, and the others summed; the
  whole list is a page of its own, keyset-paginated (marché, name, party).

Every query names the structure (the read model's row-level security is the same equality).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Integer, and_, bindparam, distinct, func, literal, null, select, true, union_all
from sqlalchemy.orm import aliased

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.models.board import BoardMoneyDelta, BoardMoneyLine, BoardMoneyTotal, BoardPartyCount
from chorus_chain.operations.board import money
from chorus_chain.operations.board_reading import keyset
from chorus_chain.operations.board_reading.planning import any_of, none_of, opaque_limit

ZERO = Decimal("0.00")
# The « Entreprise émettrice » filter offers every company the structure sees as a select up to this many (beyond, a
# select is no longer a way to find one: the filter becomes a search field, `filter_lookups`). The page
# reads the first OFFER_MAX + 1 to know which to write: its read stays bounded at any size.
OFFER_MAX = 30
# A DC4 ceiling « in sight » from this share of the accepted amount invoiced on (the panel warns; as the page did).
CEILING_WARNING = money.CEILING_WARNING
# `money.attention`'s ranks as the panel names them (2: no ceiling in sight).
CEILING_LABELS = {0: "over", 1: "near"}


@dataclass(frozen=True)
class Offer:
    """The companies the filter offers, (party id, name, role, marché reference) in the order of the marchés'
    references; `complete` False when the structure sees more than OFFER_MAX and no marché was chosen (then only
    the company already chosen, if any, is offered)."""

    parties: list[tuple[int, str, str, str]]
    complete: bool = True


def _emitting(structure_id, marche_id=None):
    """(marché, emitting party) of the companies whose pieces the structure still sees (deltas not cancelled), in
    the order of `board_party_count`'s index (structure, marché, party): a few rows per company."""
    conditions = [BoardPartyCount.structure_id == structure_id]
    if marche_id is not None:
        conditions.append(BoardPartyCount.marche_id == marche_id)
    return (select(BoardPartyCount.marche_id, BoardPartyCount.emitter_party_id).where(*conditions)
            .group_by(BoardPartyCount.marche_id, BoardPartyCount.emitter_party_id)
            .having(func.sum(BoardPartyCount.n) != 0))


def _own(structure_id, marche_id=None):
    """The structure's own confirmed parties as a contractor (the `ix_marche_party_structure_status` index)."""
    conditions = [MarcheParty.structure_id == structure_id, MarcheParty.status == "confirmed",
                  MarcheParty.role.in_(Role.CONTRACTORS)]
    if marche_id is not None:
        conditions.append(MarcheParty.marche_id == marche_id)
    return select(MarcheParty.marche_id, MarcheParty.id.label("emitter_party_id")).where(*conditions)


def _named(party_ids) -> list[tuple[int, str, str, str]]:
    """The contractors among `party_ids`, with their marché's reference, by primary key (a few rows)."""
    ids = sorted(set(party_ids))
    if not ids:
        return []
    return [tuple(row) for row in db.session.execute(
        select(MarcheParty.id, MarcheParty.name, MarcheParty.role, Marche.reference)
        .join(Marche, Marche.id == MarcheParty.marche_id)
        .where(MarcheParty.id.in_(ids), MarcheParty.role.in_(Role.CONTRACTORS))
        .order_by(Marche.reference, MarcheParty.name, MarcheParty.id))]


@dataclass(frozen=True)
class OwnRead:
    """What the Tableau de bord reads of the structure's own confirmed parties: the roles it plays (each once) and its
    marchés, (id, reference) by reference — at most `OFFER_MAX + 1` of them: beyond OFFER_MAX the marché filter is a
    search field, which reads what is typed (`filter_lookups`), so which ones were read does not matter."""

    roles: list[str]
    marches: list[tuple[int, str]]


def own_branches(structure_id, cut):
    """The own rows as branches of a UNION ALL, each of the columns (kind, offered, id, name, role, marche_id,
    reference): the structure's roles (`kind` "role", grouped: a row per role, not per party) and its marchés (`kind`
    "marche", `id` the marché's, cut at `cut` — OFFER_MAX + 1, a bound parameter — in no order: a structure that
    worked on 800 marchés sends 31 rows). `ownread_of` makes an `OwnRead` of their rows.

    Both group the structure's confirmed rows of parties, read once by their index (structure, status) in a CTE
    (PostgreSQL materialises a CTE read twice): the marchés grouped straight from the table and cut were read along
    the marché index instead, in its order, through every party of the platform until the cut. The roles need every
    row of the structure (no index holds the role): read by the database, a few hundred at a million pieces, they
    leave it as a handful."""
    mine = (select(MarcheParty.role, MarcheParty.marche_id)
            .where(MarcheParty.structure_id == structure_id, MarcheParty.status == "confirmed").cte("mine"))
    roles = select(mine.c.role).group_by(mine.c.role).subquery("own_roles")
    marche_id, reference = cut_marches(mine, cut, "own_marches")
    return (select(literal("role").label("kind"), null().label("offered"), null().label("id"), null().label("name"),
                   roles.c.role, null().label("marche_id"), null().label("reference")),
            select(literal("marche").label("kind"), null(), marche_id, null(), null(), marche_id, reference))


def cut_marches(mine, cut, name: str):
    """(marché id, reference) columns of the marchés of `mine` — the structure's confirmed rows of parties, a CTE
    with `marche_id` —, grouped and cut at `cut` in no order: the Tableau de bord's own read (`own_branches`) and the
    other pages' marché filter (`marches.marche_choices`). The limit hidden from the planner
    (`planning.opaque_limit`), a parameter so that it follows OFFER_MAX; each reference by the marché's primary key:
    joined, the 31 marchés were hashed against every marché of the platform (a sequential scan of 1 200 at a million
    pieces). `name`: the cut's subquery's."""
    ids = select(mine.c.marche_id).group_by(mine.c.marche_id).limit(opaque_limit(cut)).subquery(name)
    return ids.c.marche_id, select(Marche.reference).where(Marche.id == ids.c.marche_id).scalar_subquery()


def ownread_of(rows) -> OwnRead:
    """`OwnRead` of the rows of `own_branches` (in the statement's order: by kind, then reference)."""
    roles, marches = [], []
    for row in rows:
        if row.kind == "role":
            roles.append(row.role)
        elif row.kind == "marche":
            marches.append((row.marche_id, row.reference))
    return OwnRead(roles, marches)


def own_read(structure_id: int) -> OwnRead:
    """The structure's roles and marchés alone (`own_branches`): one statement, for a caller without the offer."""
    return ownread_of(db.session.execute(_own_statement(), {"structure_id": structure_id, "cut": OFFER_MAX + 1}))


@lru_cache(maxsize=1)
def _own_statement():
    """`own_read`'s statement, built once per process (`access.built_once`)."""
    both = union_all(*own_branches(bindparam("structure_id", type_=Integer),
                                   bindparam("cut", type_=Integer))).subquery("own")
    return access.built_once(select(both).order_by(both.c.kind, both.c.reference, both.c.id))


def offer(structure_id: int, marche_id: int | None = None, chosen: int | None = None) -> Offer:
    """The companies of the « Entreprise émettrice » filter: those of the chosen marché, or of every marché when the
    structure sees at most OFFER_MAX (`offer_and_own`)."""
    return offer_and_own(structure_id, marche_id, chosen)[0]


def offer_and_own(structure_id: int, marche_id: int | None = None,
                  chosen: int | None = None) -> tuple[Offer, OwnRead]:
    """The companies of the « Entreprise émettrice » filter, and what the page reads of the structure's own parties
    (`OwnRead`: its roles, its marchés up to OFFER_MAX + 1 — the Tableau de bord reads them anyway, for its marché
    filter and its panels). One statement (`_offer_statement`): the ids — each half cut at OFFER_MAX + 1 in the order
    of its index, or one marché's rows —, how many distinct ones, and the contractors among them named by primary
    key; beside them, the own rows (`own_branches`). Beyond OFFER_MAX (no marché chosen), only the company already
    chosen is offered, when the structure may see it (two more queries)."""
    params = {"structure_id": structure_id, "cut": OFFER_MAX + 1}
    if marche_id is not None:
        params["marche_id"] = marche_id
    rows = db.session.execute(_offer_statement(marche_id is not None), params).all()
    offered = [row for row in rows if row.kind == "offer"]
    own = ownread_of(rows)
    if marche_id is None and offered[0].offered > OFFER_MAX:  # one marché's companies are tens: all offered
        shown = [chosen] if chosen is not None and is_offered(structure_id, chosen) else []
        return Offer(_named(shown), complete=False), own
    return Offer([(row.id, row.name, row.role, row.reference) for row in offered if row.id is not None]), own


@lru_cache(maxsize=2)
def _offer_statement(by_marche: bool):
    """`offer_and_own`'s statement, the structure (and the marché) bound at execution: built once per process
    (`access.built_once`). Built on every Tableau de bord, its two halves, their union and the names' query were
    about a tenth of the page's CPU (bench/page_cpu.py), in two round trips, and the own rows a third.

    The ids are a CTE read twice — counted (distinct: a company both own and emitting is one), and joined to their
    names (the contractors among them, by primary key) —, the count carried on each row; the names are outer-joined
    to the count so that a row comes back even when none is a contractor. The own rows are a branch of their own
    (`kind`), each branch planned apart. Its generic plan is kept (it was marked `plan_cache.custom_plan` since
    session 11, when the ids' generic plan read 3 357 rows instead of 491 for the titulaire at 1 000 000 pieces): since
    the own rows are read once (session 13), the generic plan reads fewer rows than the custom one for the four
    accounts of the benchmark at 100 000 and 1 000 000 pieces (`bench/explain_dashboards.py --generic`; at 100 000
    it groups a structure's whole range of the rollup, 172 rows for the titulaire, where the custom plan stops at 31
    groups), and parsing and planning it on every Tableau de bord cost more than running it (the bench README,
    session 14)."""
    structure_id = bindparam("structure_id", type_=Integer)
    marche_id = bindparam("marche_id", type_=Integer) if by_marche else None
    cut = bindparam("cut", type_=Integer)  # OFFER_MAX + 1, bound: the statement follows OFFER_MAX
    emitting, own = _emitting(structure_id, marche_id), _own(structure_id, marche_id)
    if not by_marche:
        # Each half cut at OFFER_MAX + 1 (beyond, none is offered: which ones were read does not matter), the limit
        # hidden from the planner. The grouped half in the order of its index, so that it groups the first rows
        # only; the structure's own parties in none, so that their index (structure, status) is read — ordered by
        # marché, the planner walked the marché index through every party of the marchés.
        emitting = emitting.order_by(*emitting.selected_columns).limit(opaque_limit(cut))
        own = own.limit(opaque_limit(cut))
    halves = [select(half.subquery().c.emitter_party_id.label("party_id")) for half in (emitting, own)]
    offered = halves[0].union_all(halves[1]).cte("offered")
    counted = select(func.count(distinct(offered.c.party_id)).label("offered")).subquery("counted")
    named = (select(MarcheParty.id, MarcheParty.name, MarcheParty.role, MarcheParty.marche_id, Marche.reference)
             .join(Marche, Marche.id == MarcheParty.marche_id)
             .where(MarcheParty.id.in_(select(offered.c.party_id)), MarcheParty.role.in_(Role.CONTRACTORS))
             .subquery("named"))
    both = union_all(
        select(literal("offer").label("kind"), counted.c.offered, named.c.id, named.c.name, named.c.role,
               named.c.marche_id, named.c.reference).select_from(counted.outerjoin(named, true())),
        *own_branches(structure_id, cut)).subquery("read")
    return access.built_once(select(both).order_by(both.c.kind, both.c.reference, both.c.name, both.c.id))


def is_offered(structure_id: int, party_id: int) -> bool:
    """Whether the filter may offer this party: one of the structure's own confirmed parties, or one whose pieces
    it sees — its row of `board_party_count` (the index's three columns), not all the structure's. One query."""
    own = select(MarcheParty.id).where(MarcheParty.id == party_id, MarcheParty.structure_id == structure_id,
                                       MarcheParty.status == "confirmed").exists()
    party_marche = select(MarcheParty.marche_id).where(MarcheParty.id == party_id).scalar_subquery()
    seen = (select(func.coalesce(func.sum(BoardPartyCount.n), 0))
            .where(BoardPartyCount.structure_id == structure_id, BoardPartyCount.marche_id == party_marche,
                   BoardPartyCount.emitter_party_id == party_id).scalar_subquery())
    is_own, pieces = db.session.execute(select(own, seen)).one()
    return bool(is_own) or pieces != 0


# --- « Montants par entreprise » -------------------------------------------------------------------------------------

PANEL_LINES = 8
PAGE_LINES = 50


@dataclass(frozen=True)
class MoneyLine:
    """A sous-traitant (or co-traitant) under one of the structure's parties, with its money: the amount accepted
    (DC4, or the co-traitant's part), invoiced (sent, not refused; credit notes deducted), validated by its
    contractor (expressly or tacitly; the accepted amount of a partial validation) and paid — the rollups' sums of
    the engine's figures."""

    party_id: int
    name: str
    role: str
    marche_reference: str
    accepted: Decimal | None
    invoiced: Decimal
    validated: Decimal
    paid: Decimal

    @property
    def used(self) -> Decimal | None:
        """The share of the accepted amount invoiced (None: no accepted amount)."""
        if not self.accepted:
            return None
        return self.invoiced / self.accepted

    @property
    def ceiling(self) -> str | None:
        """"over" beyond the accepted amount, "near" from CEILING_WARNING of it on: the rank's rule
        (`money.attention`, which the read model stores and the panel sorts by), named for the template."""
        return CEILING_LABELS.get(money.attention(self.accepted, self.invoiced))

    @property
    def to_pay(self) -> Decimal:
        """Validated and not paid yet."""
        return self.validated - self.paid


@dataclass(frozen=True)
class Rest:
    """The lines the panel does not show, summed: how many, and their invoiced, validated and paid amounts."""

    count: int
    invoiced: Decimal
    validated: Decimal
    paid: Decimal


@dataclass(frozen=True)
class MoneyPanel:
    lines: list[MoneyLine]
    rest: Rest

    @property
    def total(self) -> int:
        return len(self.lines) + self.rest.count


def _under(structure_id):
    """The parties working under one of the structure's confirmed parties (sous-traitants, co-traitants), probed in
    the parent index for each of the structure's parties, read as one array (`planning.any_of`): as a plain subquery
    PostgreSQL joined it to the whole index of parents (every sous-traitant of the platform), and their ids read
    beforehand made an expanding parameter of hundreds of ids at a million pieces (`money_lines`)."""
    mine = aliased(MarcheParty, name="mine")
    parents = select(mine.id).where(mine.structure_id == structure_id, mine.status == "confirmed")
    return (select(MarcheParty.id, MarcheParty.name, MarcheParty.role, MarcheParty.marche_id,
                   MarcheParty.montant_ttc, Marche.reference)
            .join(Marche, Marche.id == MarcheParty.marche_id)
            .where(any_of(MarcheParty.parent_id, parents), MarcheParty.status == "confirmed",
                   MarcheParty.role.in_((Role.SOUS_TRAITANT, Role.COTRAITANT))))


def _line(row) -> MoneyLine:
    party_id, name, role, reference, accepted, invoiced, validated, paid = row[:8]
    return MoneyLine(party_id, name, role, reference, accepted, Decimal(invoiced), Decimal(validated), Decimal(paid))


def money_lines(structure_id: int, limit: int = PANEL_LINES) -> MoneyPanel:
    """The panel: the `limit` lines to look at first — a DC4 ceiling passed, then one in sight, then the most
    validated and not yet paid, then by marché and name — and the others summed. One query on the panel's read model
    (`operations.board.money`): the first lines of its index in that order and the totals' row, with the deltas not
    folded yet — rows bounded by what the panel shows, whatever the number of companies (`_money_lines_statement`)."""
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    rows = db.session.execute(_money_lines_statement(limit, postgresql), {"structure_id": structure_id}).all()
    lines = [_line(row) for row in rows]
    if not rows:
        return MoneyPanel([], Rest(0, ZERO, ZERO, ZERO))
    total, all_invoiced, all_validated, all_paid = rows[0][8:]
    rest = Rest(int(total) - len(lines),
                Decimal(all_invoiced) - sum((line.invoiced for line in lines), ZERO),
                Decimal(all_validated) - sum((line.validated for line in lines), ZERO),
                Decimal(all_paid) - sum((line.paid for line in lines), ZERO))
    return MoneyPanel(lines, rest)


@lru_cache(maxsize=8)
def _money_lines_statement(limit: int, postgresql: bool = True):
    """`money_lines`' statement, the structure bound at execution: built once per process (`access.built_once`).

    `board_money_line` holds each line's figures folded so far and its rank (`attention`, `to_pay`), indexed in the
    panel's order; `board_money_delta` what transactions added since the last fold (`pending`, summed per company:
    a few rows, compaction keeps them few). The candidates are the first `limit` lines of the index without a
    delta and the lines with one: a line outside them has no delta, and `limit` lines without one rank before it,
    so that ranking the candidates with their deltas gives the panel's first lines. The totals: the structure's row
    of `board_money_total` and its lines' deltas. Before (session 14), every company under the structure's parties
    was probed in the rollup: 860 companies, 3 156 rows at a million pieces for eight lines."""
    structure_id = bindparam("structure_id", type_=Integer)
    line, delta, total = BoardMoneyLine, BoardMoneyDelta, BoardMoneyTotal
    pending = (select(delta.emitter_party_id.label("party_id"), func.sum(delta.sent_ttc).label("invoiced"),
                      func.sum(delta.validated_ttc).label("validated"), func.sum(delta.paid).label("paid"))
               .where(delta.structure_id == structure_id).group_by(delta.emitter_party_id).cte("pending"))
    columns = (line.party_id, line.name, line.role, line.reference, line.accepted, line.invoiced, line.validated,
               line.paid)
    # The first `limit` lines of the index without a delta (an index scan, its filter skipping the k companies
    # with one; the limit hidden from the planner, `planning.opaque_limit`: misled by the row-level security
    # filter, with a plain limit or `limit + k` or the k as an anti-join, it read the structure's every line and
    # sorted them — at 100 000 pieces, where the table is a few pages, its generic plan still does); and the lines
    # of the companies with a delta, each probed by its key — on PostgreSQL a LATERAL, whose only plan is the
    # probe (joined, the structure's lines were hashed: all of them).
    first = (select(*columns)
             .where(line.structure_id == structure_id, none_of(line.party_id, select(pending.c.party_id)))
             .order_by(line.attention, line.to_pay.desc(), line.reference, line.name, line.party_id)
             .limit(opaque_limit(limit)))
    probed = select(*columns).where(line.structure_id == structure_id, line.party_id == pending.c.party_id)
    if postgresql:
        probed = select(*probed.lateral("probed").c).select_from(pending)
    first = select(*first.subquery("first_lines").c)  # SQLite: no ORDER BY / LIMIT in a compound's member
    candidate = union_all(first, probed).subquery("candidate")  # disjoint: `first` has no line with a delta
    exact = (select(candidate.c.party_id, candidate.c.name, candidate.c.role, candidate.c.reference,
                    candidate.c.accepted,
                    *((candidate.c[name] + func.coalesce(pending.c[name], 0)).label(name)
                      for name in ("invoiced", "validated", "paid")))
             .select_from(candidate).outerjoin(pending, pending.c.party_id == candidate.c.party_id)
             .subquery("exact"))
    # The totals: the structure's row (its primary key) and the deltas of its lines — one row, read once.
    own = aliased(BoardMoneyLine, name="own_line")
    lines_pending = (select(*(func.coalesce(func.sum(pending.c[name]), 0).label(name)
                              for name in ("invoiced", "validated", "paid")))
                     .select_from(pending)
                     .join(own, and_(own.structure_id == structure_id, own.party_id == pending.c.party_id))
                     .subquery("lines_pending"))
    totals = (select(total.lines, *((total_column + lines_pending.c[name]).label(name) for total_column, name in
                                    ((total.invoiced, "invoiced"), (total.validated, "validated"),
                                     (total.paid, "paid"))))
              .select_from(total).join(lines_pending, true()).where(total.structure_id == structure_id)
              .cte("totals"))
    if postgresql:  # each read more than once, or inside a loop: computed once
        pending, totals = pending.prefix_with("MATERIALIZED"), totals.prefix_with("MATERIALIZED")
    return access.built_once(
        select(exact.c.party_id, exact.c.name, exact.c.role, exact.c.reference, exact.c.accepted, exact.c.invoiced,
               exact.c.validated, exact.c.paid, totals.c.lines, totals.c.invoiced, totals.c.validated,
               totals.c.paid)
        .select_from(exact).join(totals, true())
        .order_by(money.attention_sql(exact.c.accepted, exact.c.invoiced),
                  (exact.c.validated - exact.c.paid).desc(), exact.c.reference, exact.c.name, exact.c.party_id)
        .limit(limit))


@dataclass(frozen=True)
class MoneyPage:
    """A page of the whole list, by marché reference, name and party; the cursors of the pages around it."""

    lines: list[MoneyLine]
    before: str | None
    after: str | None


def money_page(structure_id: int, *, after: str | None = None, before: str | None = None,
               per_page: int = PAGE_LINES) -> MoneyPage:
    """One page of every party under the structure's, keyset-paginated on (marché reference, name, party): the
    parties of the page first (the structure's companies, not its pieces), then the sums of those only (their
    rows). Two queries whatever the page."""
    under = _under(structure_id).subquery("under")
    page = keyset.window(
        select(under.c.id, under.c.name, under.c.role, under.c.reference, under.c.montant_ttc, under.c.marche_id),
        (under.c.reference, under.c.name, under.c.id), (str, str, int), lambda row: (row[3], row[1], row[0]),
        after=after, before=before, per_page=per_page)
    parties = page.rows
    sums = {}
    if parties:
        sums = {row.party_id: row for row in db.session.execute(
            select(BoardPartyCount.emitter_party_id.label("party_id"),
                   func.sum(BoardPartyCount.sent_ttc).label("invoiced"),
                   func.sum(BoardPartyCount.validated_ttc).label("validated"),
                   func.sum(BoardPartyCount.paid).label("paid"))
            .where(BoardPartyCount.structure_id == structure_id,
                   BoardPartyCount.marche_id.in_({row[5] for row in parties}),
                   BoardPartyCount.emitter_party_id.in_([row[0] for row in parties]))
            .group_by(BoardPartyCount.emitter_party_id))}
    lines = []
    for party_id, name, role, reference, accepted, _ in parties:
        found = sums.get(party_id)
        lines.append(MoneyLine(party_id, name, role, reference, accepted,
                               Decimal(found.invoiced if found else 0), Decimal(found.validated if found else 0),
                               Decimal(found.paid if found else 0)))
    return MoneyPage(lines, page.before, page.after)
