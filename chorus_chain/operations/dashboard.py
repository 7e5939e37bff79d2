"""What the dashboards read: the Synthèse (the work list of the structure, with the actions it may take inline) and the
Tableau de bord (counts and amounts by status and by marché, a filtered, sorted and paginated list, and one panel
per part the structure plays on its marchés).

Reads only, under the current tenant's criteria (chorus_chain.access), naming the structure explicitly too. Each
function costs a fixed number of queries whatever the number of pieces (DESIGN.md §3 rule 7), and since issue 20
each reads rows bounded by what the page shows: the lists, counts and panels read the dashboards' read model
(`board_row`, `board_count`: `operations.board_reading`) through an index of the structure's rows — never the
structure's whole history; the facts a row needs (next clock, events, names, the holder of a marché) are read for
the whole page at once.

The work list is the "à traiter" box (the same predicate and urgency order as `pieces_queries.pieces_for`, kept as
board_row's `waiting`); the panels are that list filtered by the statuses each part acts on, plus sums no box
shows.

Rights (the views check them): consultation on the pieces' domains, as the boxes (`works` narrows to what the
member may read).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache, lru_cache
from typing import NamedTuple

from sqlalchemy import Integer, bindparam, case, cast, func, literal, null, select, union_all

from chorus_chain import access
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import money
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.statuses import Status
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche, MarcheParty, Structure
from chorus_chain.models.board import BoardRow
from chorus_chain.models.pieces import PieceRules
from chorus_chain.models.etat_pieces import LinePayment, PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import interest as interest_ops
from chorus_chain.operations import pieces_actions
from chorus_chain.operations.board_reading import collation, counts, lists, marches, numbers, parties
from chorus_chain.operations.board_reading import overview as overview_sums
from chorus_chain.operations.board_reading.planning import any_of
from chorus_chain.operations.decompte_general import reading as dg_reading
from chorus_chain.operations.etat_pieces import reading as etat_reading
from chorus_chain.operations.interets import reading as interets_reading
from chorus_chain.operations.marches import today
from chorus_chain.operations.pieces_queries import PiecePage
from chorus_chain.operations.synthese import reading as synthese_reading
from chorus_chain.operations.tracker import reading as tracker_reading
from chorus_chain.operations.tresorerie import reading as tresorerie

ZERO = Decimal("0.00")
PER_PAGE_MAX = 100

# The parts a structure may play, as the dashboards group them (a structure may play several on different marchés).
PART_HOLDER = "holder"  # titulaire, mandataire or co-traitant: validates its sous-traitants' (co-traitants') pieces
PART_SOUS_TRAITANT = "sous_traitant"
PART_MOE = "moe"
PART_MOA = "moa"  # maître d'ouvrage or paying office
PART_LABELS = {
    PART_HOLDER: "Titulaire, mandataire ou co-traitant",
    PART_SOUS_TRAITANT: "Sous-traitant",
    PART_MOE: "Maître d'œuvre",
    PART_MOA: "Maître d'ouvrage et service financier",
}
_PARTS_OF_ROLE = {
    Role.TITULAIRE: PART_HOLDER, Role.MANDATAIRE: PART_HOLDER, Role.COTRAITANT: PART_HOLDER,
    Role.SOUS_TRAITANT: PART_SOUS_TRAITANT, Role.MOE: PART_MOE, Role.MOA: PART_MOA, Role.PAYING_OFFICE: PART_MOA,
}

# The statuses each panel lists from the "à traiter" box (the box already keeps those waiting on this structure).
VALIDATION_WAITING = (Status.A_VALIDER_1.value, Status.A_VALIDER_2.value)
MOE_TO_TAKE = (Status.A_ASSOCIER_MOE.value,)
MOE_TO_ISSUE = (Status.PRISE_EN_COMPTE_MOE.value, Status.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE.value)
MOA_TO_VALIDATE = (Status.A_ASSOCIER_MOA.value, Status.PRISE_EN_COMPTE_MOA.value)
PAYMENT_TO_PROCESS = tuple(s.value for s, actor in T.WAITING_ON.items() if actor == T.STEP_PAIEMENT)
PANEL_SIZE = 8
# The waiting panels of each part (the field of `Panels` each fills, its statuses): slices of the "à traiter" box by
# statuses that do not overlap, read together (`board_reading.lists.waiting_panels`).
WAITING_PANELS = {
    PART_HOLDER: (("validations", VALIDATION_WAITING),),
    PART_MOE: (("moe_to_take", MOE_TO_TAKE), ("moe_to_issue", MOE_TO_ISSUE)),
    PART_MOA: (("moa_to_validate", MOA_TO_VALIDATE), ("to_pay", PAYMENT_TO_PROCESS)),
}

REFUSED = statuses.REFUSED_STATUSES
PAID = statuses.PAID_STATUSES
# A DC4 ceiling "in sight": from this share of the accepted amount invoiced on, the panel warns.
CEILING_WARNING = parties.CEILING_WARNING

# The sort keys of the Tableau de bord's list (the URL's "tri"), each a column of board_row with its index
# (board_reading.lists.SORT_COLUMNS); "-" in front: descending.
SORTS = tuple(lists.SORT_COLUMNS)
DEFAULT_SORT = "-date"


class MarcheChoice(NamedTuple):
    """A marché as the filters offer it (`marches.marche_choices`' rows: `id`, `reference`)."""

    id: int
    reference: str


@dataclass(frozen=True)
class OwnParties:
    """What the Tableau de bord reads of the structure's confirmed rows of parties, once (`parties.OwnRead`): the
    parts it plays, and its marchés by reference — the marché filter's choices, at most `parties.OFFER_MAX + 1`
    (beyond OFFER_MAX the filter is a search field, `blueprints.search_fields.marche`). Nothing in it grows with
    the structure's history: a panel that needs the structure's parties or marchés reads them in its own statement,
    through the structure (« Montants par entreprise »: `parties.money_lines`; the MOE's états: `etats_by_marche`;
    the tracker's lines: its état's payee, `tracker.reading`)."""

    parts: frozenset[str]
    marches: list[MarcheChoice]


def own_parties(structure: Structure) -> OwnParties:
    """What the Tableau de bord reads of the structure's own parties (`parties.own_read`): its panels' parts and its
    marché filter's choices. One query; none on the page, which reads them with its filter's companies
    (`filter_reads`)."""
    return _own_parties_of(parties.own_read(structure.id))


def _own_parties_of(read: parties.OwnRead) -> OwnParties:
    """`OwnParties` of the roles and marchés read (`parties.OwnRead`)."""
    return OwnParties(frozenset(_PARTS_OF_ROLE[role] for role in read.roles if role in _PARTS_OF_ROLE),
                      [MarcheChoice(*item) for item in read.marches])


def parts_of(structure: Structure) -> frozenset[str]:
    """The parts the structure plays on its marchés (confirmed rows): one query."""
    return own_parties(structure).parts


# --- Synthèse: the work list -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkPage:
    """A page of the work list, with the actions the structure may take on each piece (piece id → choices)."""

    page: PiecePage
    choices: dict[int, list[pieces_actions.ActionChoice]]
    # piece id → the état d'acompte to open instead of acting on the piece alone (issue 12): the état of an A15 /
    # A19, or, for a projet de décompte the MOE has taken, None (the marché's états page).
    etats: dict[int, object] = field(default_factory=dict)


def holders_of(marche_ids) -> dict[int, int | None]:
    """The structure holding each marché (titulaire or mandataire): one query for a whole page of pieces."""
    ids = sorted(set(marche_ids))
    if not ids:
        return {}
    found: dict[int, int | None] = {marche_id: None for marche_id in ids}
    for marche_id, structure_id in db.session.execute(
            select(MarcheParty.marche_id, MarcheParty.structure_id).where(
                MarcheParty.marche_id.in_(ids), MarcheParty.role.in_(Role.HOLDERS),
                MarcheParty.status == "confirmed").order_by(MarcheParty.id.desc())):
        found[marche_id] = structure_id  # the first row wins, as pieces_records.holder_structure_id reads it
    return found


def work_list(structure: Structure, *, works: bool | None, marche_id: int | None = None,
              status: str | list[str] | None = None, page: int = 1, per_page: int = 20) -> WorkPage:
    """The Synthèse: every piece waiting on the structure, most urgent first (the "à traiter" box), and the actions
    it may take on each. One query for the rows, their count, clocks and holders (`synthese.reading`), then the
    page's facts (`pieces_actions.page_facts`), whatever the page size."""
    page, per_page = max(1, int(page)), min(max(1, int(per_page)), PER_PAGE_MAX)
    read = synthese_reading.work_page(structure.id, works=works, marche_id=marche_id, statuses=status, page=page,
                                      per_page=per_page)
    found, holders = read.page, read.holders
    # A few queries for the page, none a row (the carried pieces came with the rows).
    facts = pieces_actions.page_facts((row.piece for row in found.items), carried=read.carried,
                                      referred=read.referred)
    choices = {row.piece.id: pieces_actions.allowed_actions_for(row.piece, structure,
                                                                holders.get(row.piece.marche_id), facts=facts)
               for row in found.items}
    etats: dict[int, object] = dict(etat_reading.etats_of_pieces(
        row.piece.id for row in found.items if row.piece.cadre in ("A15", "A19")))
    # The décompte général's pieces open the final état's page (where the DG is established, signed and paid).
    etats.update(dg_reading.etats_of_pieces(
        row.piece.id for row in found.items if row.piece.cadre in dg_reading.DG_CADRES))
    for row in found.items:
        if row.piece.cadre in T.PDM_CADRES and row.piece.status in ETAT_TO_ISSUE:
            etats.setdefault(row.piece.id, None)
    return WorkPage(found, choices, etats)


# A projet de décompte in these statuses waits for the MOE's état d'acompte: the Synthèse opens the état.
ETAT_TO_ISSUE = frozenset({T.Status.PRISE_EN_COMPTE_MOE.value,
                           T.Status.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE.value})


# --- Tableau de bord: counts, amounts, the list ----------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The Tableau de bord's filters (all optional): marché, emitting party, cadre ("" = private invoices), status,
    deposit period (days, Paris time, both included) and a number to search (`number_condition`)."""

    marche_id: int | None = None
    party_id: int | None = None
    cadre: str | None = None
    status: str | None = None
    deposited_from: date | None = None
    deposited_to: date | None = None
    number: str | None = None

    def active(self) -> bool:
        return any(value not in (None, "") for value in vars(self).values()) or self.cadre == ""


def _start(day: date) -> datetime:
    from chorus_chain.operations.marches import start_of_day

    return start_of_day(day)


def bound_scope(structure: Structure, filters: Filters, works: bool | None) -> tuple[lists.KeptConditions, dict]:
    """The conditions on the structure's read-model rows (`board_row`) of the Tableau de bord: every piece the
    structure sees (its own, drafts included, and those it receives), narrowed by the member's rights (`works`)
    and the filters — built once per process and shape (which filters are set, not their values) with bound
    parameters, and this request's values for them: the statements built from them are kept too
    (`lists.board_page`, `counts.capped_groups`). A period's or a number search's are planned for their values
    (`lists.KeptConditions.custom_plan`)."""
    typed = filters.number.strip().upper() if filters.number else None
    shape = (works is not None, filters.marche_id is not None, filters.party_id is not None,
             None if filters.cadre is None else filters.cadre == "", bool(filters.status),
             filters.deposited_from is not None, filters.deposited_to is not None,
             None if typed is None else (numbers.successor(typed) is not None, _number_order()))
    params = {"structure_id": structure.id, "works": works, "marche_id": filters.marche_id,
              "party_id": filters.party_id, "cadre": filters.cadre or None, "status": filters.status or None}
    if filters.deposited_from is not None:
        params["deposited_from"] = _start(filters.deposited_from)
    if filters.deposited_to is not None:
        params["deposited_to"] = _start(filters.deposited_to + timedelta(days=1))
    if typed is not None:
        params.update(numbers.prefix_params(typed))
    return _bound_conditions(shape), {name: value for name, value in params.items() if value is not None}


@lru_cache(maxsize=256)
def _bound_conditions(shape: tuple) -> lists.KeptConditions:
    """The conditions of a shape of `bound_scope`, each value a bound parameter of its name."""
    by_works, by_marche, by_party, cadre, by_status, by_from, by_to, number = shape
    conditions = [BoardRow.structure_id == bindparam("structure_id")]
    if by_works:
        conditions.append(BoardRow.works == bindparam("works"))
    if by_marche:
        conditions.append(BoardRow.marche_id == bindparam("marche_id"))
    if by_party:
        conditions.append(BoardRow.emitter_party_id == bindparam("party_id"))
    if cadre is not None:  # True: the private invoices (no cadre)
        conditions.append(BoardRow.cadre.is_(None) if cadre else BoardRow.cadre == bindparam("cadre"))
    if by_status:
        conditions.append(BoardRow.status == bindparam("status"))
    # A deposited piece's sort date is its deposit (`pieces_queries.sort_date`): the period is a range of the sort
    # date among the deposited pieces, which the date index (structure, sort_date) serves. Not the range written
    # on `deposited_at` too: PostgreSQL multiplies the two ranges' selectivities as if they were independent,
    # estimated a month of the MOA's pieces at one row, and read the whole month by a bitmap, then sorted it,
    # rather than the index's newest entries up to the page (or the count's cap).
    if by_from or by_to:
        conditions.append(BoardRow.deposited_at.is_not(None))
    period = []
    if by_from:
        period.append(BoardRow.sort_date >= bindparam("deposited_from", type_=BoardRow.sort_date.type))
    if by_to:
        period.append(BoardRow.sort_date < bindparam("deposited_to", type_=BoardRow.sort_date.type))
    conditions += period
    # A period alone: its count bounds the month's deposited rows from below by entries of the date index (the
    # structure and the range: every column of it), and reads its rows only when that bound is within the cap —
    # the CAP + 1 rows of a busy structure's month were as many pages of the table for « plus de 1 000 ».
    alone = not (by_works or by_marche or by_party or cadre is not None or by_status or number is not None)
    floor = counts.deposited_floor([conditions[0], *period]) if period and alone else None
    if number is not None:  # (the prefix has a successor: the range is bounded above, the column sorts by code point)
        conditions.append(number_condition(*number))
    return lists.KeptConditions(conditions, custom_plan=by_from or by_to or number is not None, floor=floor)


def _number_order() -> bool:
    """Whether the number column sorts by code point in this database (`board_reading.collation`): the number
    search's range is compared in its collation then, `COLLATE "C"` otherwise."""
    return collation.sorts_by_code_point(db.session.connection(), BoardRow.number_key)


def number_condition(bounded_above: bool, code_points: bool = True):
    """What the number search matches: the numbers starting with what was typed, case ignored — the number as
    printed on the invoice, whole or its beginning (« F0047-2026 », « ST-2 »), whatever its length; the prefix bound
    at execution (`numbers.prefix_params` of the text typed, stripped and upper-cased: `bound_scope`).

    Why not « contains » (the former search, a trigram index): under row-level security PostgreSQL evaluates no
    condition that is not leakproof before the policy's, and LIKE is not; the trigram index then returned every row
    of the structure and the recheck dropped them — 3.8 s for the maître d'œuvre at 1 000 000 pieces. The prefix is
    a range of the number, with comparisons PostgreSQL may run inside the index under row-level security: the
    (structure, number_key) index of the « numero » sort reads the matching rows only (`board_reading.numbers`).
    `code_points`: whether the column sorts by code point (`_number_order`); in a linguistic collation the range is
    compared `COLLATE "C"`, or it would miss numbers (« F9-001 » for « F9 »)."""
    return numbers.bound_starting_with(BoardRow.number_key, bounded_above, code_points)


# The number index's order (structure, number_key, piece_id): a number search's capped count reads its range so.
NUMBER_ORDER = (BoardRow.number_key, BoardRow.piece_id)
# The date index's order (structure, sort_date, piece_id): a period's capped count reads its range so.
DATE_ORDER = (BoardRow.sort_date, BoardRow.piece_id)


def capped_order(filters: Filters) -> tuple:
    """The order in which a capped count (`counts.capped_groups`) reads the filters' rows, that of the index of the
    range they bound — the number's for a number search, the date's for a period — so that the read stops at the
    cap; () for filters bounding no range."""
    if filters.number:
        return NUMBER_ORDER
    if filters.deposited_from is not None or filters.deposited_to is not None:
        return DATE_ORDER
    return ()


def is_rollup(filters: Filters) -> bool:
    """Every filter is a dimension of the rollups (`board_count`): no deposit period, no number."""
    return filters.deposited_from is None and filters.deposited_to is None and not filters.number


@dataclass(frozen=True)
class StatusCount:
    status: str
    count: int
    amount_ttc: Decimal


# « Par marché »'s line: a marché's pieces (count, under way, amount TTC, paid) — board_reading.marches.
MarcheCount = marches.MarcheLine


@dataclass(frozen=True)
class Overview:
    by_status: list[StatusCount]
    # The marchés shown (at most `marches.CARD_LINES`, those with the most pieces under way) and the others summed.
    by_marche: list[MarcheCount]
    # Set when the filters select more pieces than `counts.CAP` outside the rollups: « plus de 1 000 », nothing
    # summed (a period or a number search over a structure's whole history is not counted, it is narrowed).
    more_than: int | None = None
    other_marches: marches.OtherMarches = field(default_factory=marches.OtherMarches)

    @property
    def total(self) -> int | None:
        return None if self.more_than else sum(row.count for row in self.by_status)

    @property
    def amount_ttc(self) -> Decimal:
        return sum((row.amount_ttc for row in self.by_status), ZERO)

    @property
    def marches(self) -> int:
        """How many marchés the structure's pieces (under the filters) are on."""
        return len(self.by_marche) + self.other_marches.count


def _by_status(found) -> list[StatusCount]:
    """(status, count, amount) in the order of the statuses' table."""
    order = {code.value: index for index, code in enumerate(Status)}
    return sorted((StatusCount(status, count, amount) for status, count, amount in found),
                  key=lambda row: order.get(row.status, len(order)))


def overview(structure: Structure, filters: Filters, works: bool | None) -> Overview:
    """Counts and amounts TTC by status (in the order of the statuses' table) and by marché (the marchés with the
    most pieces under way, the others summed: `marches`).

    Unfiltered (the rights' `works` aside): two queries on the coarser rollups, bounded by the statuses and by the
    structure's marchés. Filtered on a status alone: one query on that status's rollup (a row per marché). On a
    cadre, alone or with a status: one query on the cadre's rollup (a row per status and marché). With other
    filters that are all dimensions of `board_count`: one query on its buckets the filters select (a marché's, a
    company's). Else one on at most `counts.CAP + 1` rows of board_row (beyond: `more_than`)."""
    if not filters.active():
        by_status, (lines, others) = overview_sums.unfiltered(structure.id, works)
        return Overview(_by_status(by_status), lines, other_marches=others)
    if filters == Filters(status=filters.status):  # a status alone: its own rollup, one row per marché
        groups = counts.status_groups(structure.id, works, filters.status)
    elif filters == Filters(cadre=filters.cadre, status=filters.status):  # a cadre, and maybe a status
        groups = counts.cadre_groups(structure.id, works, filters.cadre, filters.status or None)
    elif is_rollup(filters):
        groups = counts.rollup_groups(counts.rollup_params(
            structure.id, works=works, marche_id=filters.marche_id, party_id=filters.party_id, cadre=filters.cadre,
            status=filters.status or None))
    else:
        # A number search reads its range of the number's index in order, up to the cap (board_reading.numbers); a
        # period its range of the date's index (the sort date bounded as the deposit: `_bound_conditions`). Without
        # an order, PostgreSQL read a month's range by a bitmap, whole before the cap could stop it: 12–19 thousand
        # entries at a million pieces for a count that says « plus de 1 000 ».
        conditions, params = bound_scope(structure, filters, works)
        groups = counts.capped_groups(conditions, params, along=capped_order(filters))
        if groups is None:
            return Overview([], [], more_than=counts.CAP)
    statuses_found: dict[str, list] = {}
    marches_found: dict[int, list] = {}
    for group in groups:
        by_status = statuses_found.setdefault(group.status, [0, ZERO])
        by_status[0] += group.count
        by_status[1] += group.amount_ttc
        by_marche = marches_found.setdefault(group.marche_id, [group.reference, 0, ZERO, ZERO, 0])
        by_marche[1] += group.count
        by_marche[2] += group.amount_ttc
        by_marche[3] += group.paid
        by_marche[4] += group.under_way
    lines, others = marches.cut([MarcheCount(marche_id, reference, count, amount, paid, under_way)
                                 for marche_id, (reference, count, amount, paid, under_way) in marches_found.items()])
    return Overview(_by_status((status, count, amount) for status, (count, amount) in statuses_found.items()),
                    lines, other_marches=others)


def marche_page(structure: Structure, works: bool | None, *, after: str | None = None, before: str | None = None,
                per_page: int = marches.PAGE_LINES) -> marches.MarchePage:
    """« Par marché » whole: every marché of the structure's pieces (within `works`), by reference, a page at a time
    (`board_reading.marches.marche_page`)."""
    return marches.marche_page(structure.id, works, after=after, before=before, per_page=per_page)


def parse_sort(value: str | None) -> tuple[str, bool]:
    """("montant", True) from "-montant"; an unknown key falls back to the newest first."""
    value = (value or "").strip() or DEFAULT_SORT
    descending = value.startswith("-")
    key = value.lstrip("-")
    if key not in SORTS:
        return parse_sort(DEFAULT_SORT)
    return key, descending


def piece_list(structure: Structure, filters: Filters, works: bool | None, *, sort: str | None = None,
               after: str | None = None, before: str | None = None, per_page: int = 25,
               counted: Overview | None = None) -> lists.BoardPage:
    """The Tableau de bord's list, sorted on a column, keyset-paginated (`after` / `before`: the cursors of the
    page links) through the sort's index of board_row. Its count is the overview's (same filters: `counted`) or,
    without one, the overview's query."""
    per_page = min(max(1, int(per_page)), PER_PAGE_MAX)
    if counted is None:
        counted = overview(structure, filters, works)
    key, descending = parse_sort(sort)
    conditions, params = bound_scope(structure, filters, works)
    return lists.board_page(structure.id, conditions, key, descending, after=after, before=before,
                            per_page=per_page, total=counted.total, more_than=counted.more_than, params=params,
                            read=page_read(filters, works, key, counted.total))


def page_read(filters: Filters, works: bool | None, sort_key: str, total: int | None) -> str:
    """How the list's keys are read (`board_reading.lists.WALK`, `FILTERED` or `SIFTED`), so that a page reads rows
    bounded by what it shows whatever the filters and the sort:

    - the sort's index in its order (WALK) when an index of board_row holds the filters' columns before the sort's:
      no filter but the structure (each sort has its index), the date's order under one of a marché, a company, a
      status (`ix_board_row_marche`, `_emitter`, `_status_date`) and a period (a range of the date itself), every
      sort under a status (`ix_board_row_status_number`, `_amount`, `_marche_ref`, migration 0041; the status's own
      order is `ix_board_row_status`: the piece's order within it);
    - else, when the filters select at most `counts.CAP` rows (`total`: the overview's exact count) and one of them
      has an index of its own (a marché, a company, a status, a period, a number), those rows and their top sorted
      (FILTERED: at most CAP rows, however the structure's history grows);
    - else, for more than CAP rows under filters that are all dimensions of the rollups with an equality among them
      (a marché, a company, a status; the cadre and the member's `works` beside them), the structure's rows in the
      sort's order sifted, at most a quarter of them (SIFTED, `lists.sift_rows`: those rows sorted only when the
      sifted ones give less than a page) — sorting all the rows of « À valider » read 27 480 of them at a million
      pieces (a status since has its index on every sort; a marché or a company on another sort than the date is
      still sifted);
    - else the sort's index in its order (WALK), the rows kept being more than CAP: about (page + 1) × the
      structure's rows / their number entries read (the member's `works` or a cadre alone are no index's column)."""
    equalities = [value for value in (filters.marche_id, filters.party_id, filters.status or None) if value is not None]
    period = filters.deposited_from is not None or filters.deposited_to is not None
    dimensions_only = works is None and filters.cadre is None and not filters.number
    if dimensions_only and not equalities and not period:
        return lists.WALK
    # An index holds the equality's column before the sort's: the date's under a marché, a company or a status;
    # every sort's under a status (`ix_board_row_status_*`).
    held = len(equalities) == 1 and (sort_key == "date" or bool(filters.status))
    if dimensions_only and (held or (sort_key == "date" and not equalities)):
        return lists.WALK
    indexed = bool(equalities) or period or bool(filters.number)
    if indexed and total is not None and total <= counts.CAP:
        return lists.FILTERED
    if equalities and not held and total is not None and is_rollup(filters):
        return lists.SIFTED
    return lists.WALK


def filter_parties(structure: Structure, marche_id: int | None = None,
                   chosen: int | None = None) -> parties.Offer:
    """The companies offered by the "Entreprise émettrice" filter: (party id, name, role, marché reference). Only
    what the structure may see: its own parties, and the parties that emitted a piece it sees (the rollups, which
    hold a bucket per party whose pieces it sees) — not every company of its marchés (a private invoice's emitter, a
    sibling branch, a sous-traitant of another co-traitant are not named to a structure that sees none of their
    pieces). Bounded by what a select can show (`parties.OFFER_MAX`): beyond, the companies of the chosen marché
    (`marche_id`), or only the one already chosen (`chosen`, when the structure may see it)."""
    return parties.offer(structure.id, marche_id, chosen)


def filter_reads(structure: Structure, marche_id: int | None = None,
                 chosen: int | None = None) -> tuple[parties.Offer, OwnParties]:
    """What the Tableau de bord's filters read: the companies offered (`filter_parties`) and the structure's own
    parties (`own_parties`: the marché filter's choices, and the panels' parts), in one statement
    (`parties.offer_and_own`; two before, three with `marches.marche_choices`)."""
    offer, own = parties.offer_and_own(structure.id, marche_id, chosen)
    return offer, _own_parties_of(own)


# --- Panels per part -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TacitRow:
    piece_id: int
    number: str
    emitter_name: str
    marche_reference: str
    amount_ttc: Decimal
    at: datetime


def tacit_validations(structure: Structure, works: bool | None, limit: int = PANEL_SIZE) -> list[TacitRow]:
    """The pieces this structure let go by silence as their validator (15 days), newest first: the partial index of
    board_row's `tacit_at` — on the Tableau de bord a branch of the waiting panels' statement (`panels`)."""
    return [TacitRow(*row) for row in lists.panels_read(structure.id, {}, works=works, per_page=limit,
                                                         tacit=True).tacit]


# A line of « Montants par entreprise » (board_reading.parties).
SubcontractorLine = parties.MoneyLine


def subcontractors(structure: Structure, limit: int | None = None) -> parties.MoneyPanel:
    """« Montants par entreprise »: the parties working under the structure's, the `limit` to look at first (a DC4
    ceiling passed or in sight, then the most validated and not yet paid) and the others summed; the whole list is
    `subcontractor_page`. Sums of the engine's figures from the rollups: one query, the structure's parties read in
    it (`parties.money_lines`)."""
    return parties.money_lines(structure.id, parties.PANEL_LINES if limit is None else limit)


def subcontractor_page(structure: Structure, *, after: str | None = None, before: str | None = None,
                       per_page: int | None = None) -> parties.MoneyPage:
    """Every party working under the structure's, by marché and name, a page at a time (keyset cursors)."""
    per_page = parties.PAGE_LINES if per_page is None else min(max(1, int(per_page)), PER_PAGE_MAX)
    return parties.money_page(structure.id, after=after, before=before, per_page=per_page)


# The milestones of a sous-traitant's payment, in order: the step of the route each needs, the actions that reach it.
@dataclass(frozen=True)
class Milestone:
    key: str
    label: str
    step: str | None  # the route step it needs (None: every piece)
    actions: tuple[str, ...]


MILESTONES = (
    Milestone("deposit", "Déposée", None, (T.Action.DEPOSIT,)),
    Milestone("validated", "Validée par le donneur d'ordre", T.STEP_VALIDATION_1,
              (T.Action.VALIDATE, T.Action.VALIDATE_PARTIALLY, T.Action.TACIT_VALIDATION)),
    Milestone("taken", "Prise en compte par le maître d'œuvre", T.STEP_MOE, (T.Action.TAKE,)),
    Milestone("etat", "Dans l'état d'acompte", T.STEP_MOE, (T.Action.ISSUE_ETAT_ACOMPTE,)),
    Milestone("moa", "Validée par le maître d'ouvrage", T.STEP_MOA, (T.Action.MOA_VALIDATE,)),
    Milestone("contractor", "Acceptée par l'entreprise donneuse d'ordre", T.STEP_CONTRACTOR,
              (T.Action.VALIDATE,)),
    Milestone("paid", "Payée", None, (T.Action.MARK_PAID,)),
)


@dataclass(frozen=True)
class Step:
    milestone: Milestone
    at: datetime | None
    amount: Decimal | None
    tacit: bool
    paid_on: date | None


@dataclass(frozen=True)
class TrackedPiece:
    piece: tracker_reading.SentPiece  # the piece's own figures, route and status, as plain values
    marche_reference: str
    steps: list[Step]
    names: dict[int, str]  # the structures of its route (the page says whom it waits on now)
    next_deadline: lists.NextClock | None  # its earliest open clock, as its board row keeps it
    etat_line: object | None = None  # its line of a validated état d'acompte, when paid to this structure
    etat_label: str | None = None  # « 4 », « 4 bis »: the état that carries it
    expected: object | None = None  # when its money is expected (operations.tresorerie: the Trésorerie's rule)


def payment_tracker(structure: Structure, works: bool | None, limit: int = PANEL_SIZE,
                    now: datetime | None = None) -> list[TrackedPiece]:
    """The structure's own sent pieces, newest first, each with how far its money came (the milestones of its route,
    with dates and amounts from its events), who it waits on now and when its money is expected (the Trésorerie's
    forecast): two queries (the pieces with all they show, their events: `operations.tracker.reading`), the
    Trésorerie's habits when they are not kept, and the lines of the validated états carrying them."""
    day = today(now or datetime.now(timezone.utc))
    rows = tracker_reading.sent(structure.id, works, limit, day)
    if not rows:
        return []
    events: dict[int, list] = defaultdict(list)
    for event in tracker_reading.events([row.piece.id for row in rows]):
        events[event.piece_id].append(event)
    names: dict[int, str] = {}
    for row in rows:
        names.update(row.names)
    tracked = [TrackedPiece(row.piece, row.marche.reference, _steps(row.piece.route_steps, events[row.piece.id]),
                            names, row.next_clock) for row in rows]
    tracked = _with_etat_lines(tracked, {row.piece.id: row.etat for row in rows if row.etat})
    # The days the pieces entered their stages, from the events read above (those of the Trésorerie's sample).
    sampled = {row.piece.id for row in rows if row.in_history}
    entered = tresorerie.last_entered((e.piece_id, e.to_status, e.at) for piece_id in sampled
                                      for e in events[piece_id])
    terms = {row.piece.emitter_party_id: row.term for row in rows if row.piece.cadre is None and row.term}
    marches = {row.piece.id: row.marche for row in rows}
    expected = tresorerie.tracker_expectations(
        structure.id, [(t.piece, marches[t.piece.id], t.etat_line.line if t.etat_line else None) for t in tracked],
        names, day, entered=entered, terms=terms)
    return [replace(t, expected=expected.get(t.piece.id)) for t in tracked]


# action → the milestones it may reach (`MILESTONES`), for one pass over a piece's events.
_MILESTONES_OF_ACTION: dict[str, tuple[Milestone, ...]] = defaultdict(tuple)
for _milestone in MILESTONES:
    for _action in _milestone.actions:
        _MILESTONES_OF_ACTION[_action] += (_milestone,)


def _reaches(milestone: Milestone, event) -> bool:
    """Whether an event of one of the milestone's actions reaches it."""
    if milestone.key == "contractor":  # a private invoice: its contractor's "validate" is the acceptance
        return event.actor_step == T.STEP_CONTRACTOR
    if milestone.key == "validated":
        return event.from_status in VALIDATION_WAITING
    return True


def _steps(route: tuple[str, ...], events) -> list[Step]:
    """The milestones of a piece's route, each reached by its first event (in the piece's order) or not yet."""
    first: dict[str, object] = {}
    for event in events:
        for milestone in _MILESTONES_OF_ACTION.get(event.action, ()):
            if milestone.key not in first and _reaches(milestone, event):
                first[milestone.key] = event
    steps = []
    for milestone in MILESTONES:
        if milestone.step is not None and milestone.step not in route:
            continue
        found = first.get(milestone.key)
        steps.append(Step(milestone, found.at, found.amount, found.action == T.Action.TACIT_VALIDATION,
                          found.paid_on) if found else Step(milestone, None, None, False, None))
    return steps


def _with_etat_lines(tracked: list[TrackedPiece],
                     carried: dict[int, tracker_reading.CarryingEtat]) -> list[TrackedPiece]:
    """Each projet de décompte with the état that carries it (`carried`: piece id → the issued état, read with the
    pieces) and, once validated, its line (amount due, paid, interest if late) — only a line paid to one of this
    structure's confirmed parties (`CarryingEtat.payee_is_own`, read with the pieces): a neighbour's line is never
    shown (two queries when such an état is validated)."""
    if not carried:
        return tracked
    wanted = {(etat.id, etat.payee_party_id) for etat in carried.values() if etat.validated_at and etat.payee_is_own}
    lines = {}
    if wanted:
        rows = list(db.session.scalars(select(PayableLine).where(
            PayableLine.etat_acompte_id.in_({e for e, _ in wanted}),
            PayableLine.payee_party_id.in_({p for _, p in wanted}))))
        payments: dict[int, list] = defaultdict(list)
        if rows:
            for payment in db.session.scalars(select(LinePayment).where(
                    LinePayment.line_id.in_([r.id for r in rows])).order_by(LinePayment.paid_on, LinePayment.id)):
                payments[payment.line_id].append(payment)
        lines = {(r.etat_acompte_id, r.payee_party_id): etat_reading.LineView(r, payments[r.id]) for r in rows}
    found = []
    for item in tracked:
        etat = carried.get(item.piece.id)
        if etat is not None:
            item = replace(item, etat_line=lines.get((etat.id, etat.payee_party_id)), etat_label=etat.label)
        found.append(item)
    return found


@dataclass(frozen=True)
class DraftEtats:
    """A marché of the MOE where an état d'acompte is being prepared: how many drafts, the last one issued."""

    marche_id: int
    reference: str
    drafts: int
    last_issued: int | None


def etats_by_marche(structure_id: int, limit: int = PANEL_SIZE) -> tuple[list[DraftEtats], int]:
    """The marchés where the structure is maître d'œuvre and an état d'acompte is being prepared (a draft), by
    reference, at most `limit`, with the number of the last one issued; and how many such marchés there are (one
    query).

    Only the marchés with a draft: the panel listed every marché of the MOE (1 200 at a million pieces, each with
    « 0 » and « — » mostly) from all of their états. The drafts are read through the partial index of the drafts
    (`ix_etat_acompte_draft`, migration 0037): a probe per marché of the MOE finding its drafts, not its history of
    états; the last issued number only for the marchés shown (the (marché, number) index, read backwards). The MOE's
    marchés are read in the statement, as one array (`planning.any_of`): passed in, they were an expanding parameter
    of a thousand ids at a million pieces."""
    rows = db.session.execute(_etats_statement(limit), {"structure_id": structure_id}).all()
    return [DraftEtats(*row[:4]) for row in rows], (int(rows[0][4]) if rows else 0)


@lru_cache(maxsize=4)
def _etats_statement(limit: int):
    """`etats_by_marche`'s statement, the structure bound: built once per process (`access.built_once`; its
    subqueries and window were built on every MOE's Tableau de bord)."""
    moe_marches = select(MarcheParty.marche_id).where(
        MarcheParty.structure_id == bindparam("structure_id", type_=Integer), MarcheParty.status == "confirmed",
        MarcheParty.role == Role.MOE)
    drafts = (select(EtatAcompte.marche_id.label("marche_id"), func.count().label("drafts"))
              .where(EtatAcompte.status == "draft", any_of(EtatAcompte.marche_id, moe_marches))
              .group_by(EtatAcompte.marche_id).subquery("drafts"))
    shown = (select(drafts.c.marche_id, Marche.reference, drafts.c.drafts, func.count().over().label("total"))
             .join(Marche, Marche.id == drafts.c.marche_id).order_by(Marche.reference, Marche.id).limit(limit)
             .subquery("shown"))
    last_issued = (select(EtatAcompte.number).where(EtatAcompte.marche_id == shown.c.marche_id,
                                                    EtatAcompte.status == "issued")
                   .order_by(EtatAcompte.number.desc()).limit(1).scalar_subquery())
    return access.built_once(select(shown.c.marche_id, shown.c.reference, shown.c.drafts, last_issued,
                                    shown.c.total).order_by(shown.c.reference, shown.c.marche_id))


@dataclass(frozen=True, slots=True)
class ClockPiece(PieceRules):
    """A piece of a clock panel, as plain values: what the panel shows (`board_rows.clock_rows`) and what the rule of
    the interest accruing reads (`interest.accruing_interest`: a `Piece`'s attributes of those names)."""

    id: int
    number: str
    cadre: str | None
    piece_type: str
    status: str
    montant_ttc: Decimal
    accepted_amount: Decimal | None
    accepted_why: dict | None
    received_at: datetime | None
    paid_on: date | None
    route: list | None


@dataclass(frozen=True, slots=True)
class ClockMarche:
    id: int
    reference: str
    dgp_days: int


@dataclass(frozen=True, slots=True)
class Clock:
    """An open clock of a panel (`Deadline`'s columns the panel reads)."""

    id: int
    kind: str
    due_at: datetime


@dataclass(frozen=True)
class ClockRow:
    """A piece with one open clock of a kind (corrections to contest, the délai global de paiement), and for a late
    payment the interest accruing to date."""

    piece: ClockPiece
    marche: ClockMarche
    emitter_name: str
    deadline: Clock
    interest: money.LatePaymentInterest | None = None

    @property
    def marche_reference(self) -> str:
        return self.marche.reference


def open_clocks(structure: Structure, panel: str, works: bool | None,
                limit: int = PANEL_SIZE) -> tuple[list[ClockRow], int, int | None]:
    """The pieces with an open clock of a panel (`board.rows.CLOCK_PANELS`: "payment", "corrections") that this
    structure sees in one of the panel's parts, earliest due first, how many there are and, beyond `counts.CAP`,
    « plus de CAP » (the count is then not exact: `more_than`): one query on the read model
    (`board_reading.lists.clock_page`)."""
    rows, total, more_than = lists.clock_page(structure.id, panel, works, limit)
    return _clock_rows(rows), total, more_than


def _clock_rows(rows) -> list[ClockRow]:
    return [ClockRow(ClockPiece(*row[:11]), ClockMarche(*row[11:14]), row[14], Clock(*row[15:18])) for row in rows]


ClockPanel = tuple[list[ClockRow], int, int | None]  # `open_clocks`' answer
InterestPanel = tuple[list[interets_reading.InterestDue], int, int | None]  # `interets_reading.unpaid_for`'s


def clocks_and_interest(structure: Structure, clock_panel: str, interest_panel: str, works: bool | None,
                        limit: int = PANEL_SIZE) -> tuple[ClockPanel, InterestPanel]:
    """`open_clocks(clock_panel)` and `interets_reading.unpaid_for(interest_panel)` in one statement — the parts
    that show both (the holder: the corrections to contest and the interest owed; the maître d'ouvrage: the
    payments and the interest to pay) paid a statement each, about as costly to run as the rows they read
    (bench/README, session 16). Each read is its own statement as a subquery, unchanged (its index, its limit,
    its count), their rows side by side in a UNION ALL, each padded with the other's columns as NULLs."""
    statement, clock_width = _clocks_and_interest_statement(clock_panel, interest_panel, works, limit,
                                                            counts.count_limit(0, limit))
    clock_rows, interest_rows = [], []
    for row in db.session.execute(statement, {"structure_id": structure.id}):
        if row[0] == 0:
            clock_rows.append(row[1:1 + clock_width])
        else:
            interest_rows.append(row[1 + clock_width:])
    found, total, more_than = lists.clock_page_of(clock_rows, limit)
    return (_clock_rows(found), total, more_than), interets_reading.unpaid_of(interest_rows, limit)


@lru_cache(maxsize=16)
def _clocks_and_interest_statement(clock_panel: str, interest_panel: str, works: bool | None, limit: int,
                                   count_limit: int):
    """`clocks_and_interest`' statement and the width of its clock rows, the structure bound at execution: built
    once per process (`count_limit`: the counts' bound, `counts.count_limit`, so that the statement kept follows
    `counts.CAP`; each part's statement is taken as its reader builds it)."""
    clock = lists.clock_statement(clock_panel, works, limit).subquery("clock_rows")
    interest = interets_reading.unpaid_statement(interest_panel, works, limit).subquery("interest_rows")
    clock_columns, interest_columns = list(clock.c), list(interest.c)

    def padding(columns, name: str):  # labelled: unlabelled, every NULL of the first part bore the same name
        return [cast(null(), column.type).label(f"{name}_{n}") for n, column in enumerate(columns)]

    # Each part in its own order (its due instant, then its clock's id): one part's columns are NULL on the other's
    # rows, so ordering by both pairs after the part keeps each part's order.
    both = union_all(select(literal(0).label("part"), *clock_columns, *padding(interest_columns, "interest")),
                     select(literal(1), *padding(clock_columns, "clock"), *interest_columns)).subquery("clock_panels")
    columns = list(both.c)
    clock_at, interest_at = columns[1:1 + len(clock_columns)], columns[1 + len(clock_columns):]
    return access.built_once(select(*columns).order_by(
        columns[0], clock_at[lists.CLOCK_DUE_AT], clock_at[lists.CLOCK_ID_AT],
        interest_at[interets_reading.UNPAID_DUE_AT], interest_at[interets_reading.UNPAID_ID_AT])), len(clock_columns)


def with_interest(rows: list[ClockRow], now: datetime) -> list[ClockRow]:
    """The délai global de paiement rows, the late ones with the interest accruing if paid today: the one rule of
    `operations.interest.accruing_interest` (CHORUS.md §5, §6b). The rate table is read once, only when a clock has
    expired; a half-year without a known ECB rate leaves the row without a figure (the page says so)."""
    if not any(clocks.is_expired(row.deadline.due_at, now) for row in rows):
        return rows
    table = interest_ops.rate_table()
    pay_day = today(now)
    found = []
    for row in rows:
        try:
            accruing = interest_ops.accruing_interest(row.piece, pay_day, table, marche=row.marche)
        except OperationError:
            accruing = None
        found.append(ClockRow(row.piece, row.marche, row.emitter_name, row.deadline, accruing))
    return found


@dataclass
class Panels:
    """What the Tableau de bord shows for each part the structure plays (only the parts it plays are filled)."""

    parts: frozenset[str]
    validations: PiecePage | None = None
    tacit: list[TacitRow] = field(default_factory=list)
    subcontractors: parties.MoneyPanel | None = None
    tracker: list[TrackedPiece] = field(default_factory=list)
    moe_to_take: PiecePage | None = None
    moe_to_issue: PiecePage | None = None
    etats: list[DraftEtats] = field(default_factory=list)
    etats_total: int = 0  # the MOE's marchés with an état d'acompte in preparation
    corrections: list[ClockRow] = field(default_factory=list)
    corrections_total: int = 0
    corrections_more_than: int | None = None  # more than this many (counts.CAP): not counted further
    moa_to_validate: PiecePage | None = None
    to_pay: PiecePage | None = None
    payments: list[ClockRow] = field(default_factory=list)
    payments_total: int = 0
    payments_more_than: int | None = None
    # Interest of late payments the buyer still owes (R2192-36: 45 days), on the buyer's side and on the companies'.
    interest_to_pay: list[interets_reading.InterestDue] = field(default_factory=list)
    interest_to_pay_total: int = 0
    interest_to_pay_more_than: int | None = None  # more than this many pieces owe some (counts.CAP): not counted
    interest_owed: list[interets_reading.InterestDue] = field(default_factory=list)
    interest_owed_total: int = 0
    interest_owed_more_than: int | None = None

    @property
    def interest_accruing(self) -> Decimal:
        return sum((row.interest.total for row in self.payments if row.interest), ZERO)


def panels(structure: Structure, works: bool | None, now: datetime, own: OwnParties | None = None) -> Panels:
    """Every panel of the parts the structure plays (a structure may be MOE on one marché and titulaire on
    another). A fixed number of queries per part, the waiting panels of every part read together with the holder's
    tacit validations (`lists.panels_read`: one statement for all of them), a clock panel with the interest panel of
    the same part (`clocks_and_interest`): at most about twenty for a structure playing every
    part. `own`: the structure's parties when the page read them already (`own_parties`: its marché filter)."""
    parts = (own_parties(structure) if own is None else own).parts
    found = Panels(parts)
    wanted = {name: statuses for part, panel_statuses in WAITING_PANELS.items() if part in parts
              for name, statuses in panel_statuses}
    # The holder's tacit validations are read with the waiting panels (one statement: `lists.panels_read`).
    read = (lists.panels_read(structure.id, wanted, works=works, per_page=PANEL_SIZE, tacit=PART_HOLDER in parts)
            if wanted else None)
    waiting = read.pages if read else {}
    if PART_HOLDER in parts:
        found.validations = waiting["validations"]
        found.tacit = [TacitRow(*row) for row in read.tacit]
        found.subcontractors = subcontractors(structure)
    if PART_SOUS_TRAITANT in parts:
        found.tracker = payment_tracker(structure, works, now=now)
    # The MOE's corrections the titulaire may still contest (the MOE sees whom it waits on, the holder what it has
    # left to answer) and the interest owed to the companies: read together when the structure shows both.
    owed = PART_HOLDER in parts or PART_SOUS_TRAITANT in parts
    corrections = PART_HOLDER in parts or PART_MOE in parts
    if owed and corrections:
        (found.corrections, found.corrections_total, found.corrections_more_than), (
            found.interest_owed, found.interest_owed_total, found.interest_owed_more_than) = clocks_and_interest(
            structure, "corrections", interets_reading.OWED, works, PANEL_SIZE)
    elif owed:
        found.interest_owed, found.interest_owed_total, found.interest_owed_more_than = interets_reading.unpaid_for(
            structure, interets_reading.OWED, works, PANEL_SIZE)
    elif corrections:
        found.corrections, found.corrections_total, found.corrections_more_than = open_clocks(
            structure, "corrections", works, PANEL_SIZE)
    if PART_MOE in parts:
        found.moe_to_take = waiting["moe_to_take"]
        found.moe_to_issue = waiting["moe_to_issue"]
        found.etats, found.etats_total = etats_by_marche(structure.id, PANEL_SIZE)
    if PART_MOA in parts:
        found.moa_to_validate = waiting["moa_to_validate"]
        found.to_pay = waiting["to_pay"]
        (rows, found.payments_total, found.payments_more_than), (
            found.interest_to_pay, found.interest_to_pay_total, found.interest_to_pay_more_than) = (
            clocks_and_interest(structure, "payment", interets_reading.TO_PAY, works, PANEL_SIZE))
        found.payments = with_interest(rows, now)
    return found
