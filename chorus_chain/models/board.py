"""The dashboards' read model (issue 20): what the Synthèse and the Tableau de bord show, kept per structure so that a
page reads rows bounded by what it shows, not every piece the structure sees.

- `BoardRow`: one row per (structure, piece) the structure sees — exactly the access predicate (the emitter, drafts
  included, and every `PieceAccess` row) — with the facts the lists, the sorts and the panels need copied from the
  piece, its marché, its emitter, its access row, its open clocks and its events. The pages never go back to `piece`
  to filter or sort.
- `BoardCount`: counts and sums per (structure, marché, emitting party, cadre, works, status), kept as **insert-only
  deltas** (+1 in the new bucket, −1 in the old one): two transactions acting on pieces of the same structure never
  wait on one counter row. Readers sum the rows of their buckets; `operations.board.compact` folds them into one row
  per bucket now and then (never blocking a user's transaction).
- `BoardStatusCount`, `BoardMarcheCount`, `BoardStatusMarcheCount`, `BoardCadreMarcheCount`, `BoardPartyCount`:
  coarser rollups of the same deltas, kept the same way (the same inserts, in the same transaction, compacted and
  checked with board_count), one per thing the Tableau de bord shows — « Par statut » (structure × works × status),
  « Par marché » (structure × works × marché), « Par marché » of one status (structure × status × works × marché),
  the overview of one cadre (structure × cadre × status × works × marché), the companies (structure × marché ×
  emitting party) — so that each reads rows bounded by what it shows, not by every bucket of board_count (19 000 to
  41 000 rows for the busiest structures at a million pieces).

- `BoardMoneyLine`, `BoardMoneyTotal`, `BoardMoneyDelta`: « Montants par entreprise » — a line per company under
  the structure's parties, ranked in an index in the panel's order, its totals, and the insert-only deltas the
  compaction folds into them (`operations.board.money`): the panel reads the lines it shows, not every company.

Both are written only by `operations.board` (`refresh`, in the transaction of the change that made them stale; the
recompute command), from one set-based SELECT over the source tables. Row-level security (migration 0023) makes
each row readable and writable by its structure only: writing the rows of the other structures that see a piece is
done in one narrow place, `operations.board.refresh`, under `system_access`.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer, Numeric, PrimaryKeyConstraint, String, text
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base

Money = Numeric(14, 2)
# The open clock a panel of the Tableau de bord lists (payment_clock_id, corrections_clock_id): a partial index
# condition each.
PAYMENT_CLOCK = "payment_clock_id IS NOT NULL"
CORRECTIONS_CLOCK = "corrections_clock_id IS NOT NULL"
# The private invoices unpaid, with their due date, on the rows of the company owed and of the one that must pay.
PRIVATE_DUE = "private_due IS NOT NULL"
# The first unpaid interest clock of a late payment, on the buyer's side and on the companies owed it.
INTEREST_TO_PAY_CLOCK = "interest_to_pay_clock_id IS NOT NULL"
INTEREST_OWED_CLOCK = "interest_owed_clock_id IS NOT NULL"
# The emitter's own deposited pieces (the payment tracker's rows).
EMITTED = "reason = 'emitter' AND deposited_at IS NOT NULL"


class BoardRow(Base):
    """A piece as one structure that sees it reads it on its dashboards."""

    __tablename__ = "board_row"
    __table_args__ = (
        # The key, the piece first: refresh() reads and rewrites the rows of the pieces a transaction changed, for
        # every structure (a range of the key per piece), and a page reads each of its rows by (structure, piece)
        # (both equalities: either order serves). The structure first, it needed an index of its own on the piece
        # (`ix_board_row_piece`, dropped by migration 0044): one more entry every write of a row paid for nothing.
        PrimaryKeyConstraint("piece_id", "structure_id", name="pk_board_row"),
        # The Synthèse: what waits on the structure, most urgent first (earliest open clock, then newest).
        Index("ix_board_row_waiting", "structure_id", "next_due", text("sort_date DESC"), text("piece_id DESC"),
              postgresql_where=text("waiting"), sqlite_where=text("waiting")),
        # The Tableau de bord's waiting panels (`lists.waiting_panels`): one status's waiting rows in the waiting
        # order, so that a panel reads its own rows only, not those of the statuses ahead of them (migration 0031).
        Index("ix_board_row_waiting_status", "structure_id", "status", "next_due", text("sort_date DESC"),
              text("piece_id DESC"), postgresql_where=text("waiting"), sqlite_where=text("waiting")),
        # The Tableau de bord's sorts (tri=date, numero, montant, statut, marche), each read backwards for "-".
        Index("ix_board_row_date", "structure_id", "sort_date", "piece_id"),
        Index("ix_board_row_number", "structure_id", "number_key", "piece_id"),
        # The amount in cents (`montant_cents`, not the numeric amount): under row-level security PostgreSQL
        # runs only leakproof comparisons inside an index scan, and numeric's are not — a later page's cursor on
        # the amount was a filter after the structure's rows before it, read again (migration 0043).
        Index("ix_board_row_amount", "structure_id", "montant_cents", "piece_id"),
        Index("ix_board_row_status", "structure_id", "status", "piece_id"),
        Index("ix_board_row_marche_ref", "structure_id", "marche_reference", "piece_id"),
        # One marché of the structure, newest first.
        Index("ix_board_row_marche", "structure_id", "marche_id", "sort_date", "piece_id"),
        # One status of the structure, newest first (the list filtered on a status, a line of « Par statut »): the
        # page's entries, not every row of that status sorted — all the paid pieces of its history (migration 0038).
        Index("ix_board_row_status_date", "structure_id", "status", "sort_date", "piece_id"),
        # The same on the other sorts (number, amount, marché; the status's own order is ix_board_row_status): the
        # page's entries from the cursor, not the status's rows sifted or sorted — 27–32 thousand rows read to show
        # 25 at a million pieces (migration 0041).
        Index("ix_board_row_status_number", "structure_id", "status", "number_key", "piece_id"),
        Index("ix_board_row_status_amount", "structure_id", "status", "montant_cents", "piece_id"),
        Index("ix_board_row_status_marche_ref", "structure_id", "status", "marche_reference", "piece_id"),
        # The tacit validations panel: the pieces this structure let go by silence, newest first.
        Index("ix_board_row_tacit", "structure_id", "tacit_at", "piece_id",
              postgresql_where=text("tacit_at IS NOT NULL"), sqlite_where=text("tacit_at IS NOT NULL")),
        # The « Entreprise émettrice » filter: one emitting party's rows of the structure, newest first. (The number
        # search, « starts with », is a range of ix_board_row_number: board_reading.numbers.)
        Index("ix_board_row_emitter", "structure_id", "emitter_party_id", "sort_date", "piece_id"),
        # The payment tracker: the structure's own deposited pieces, newest first. The emitter leads, not a partial
        # index on `structure_id = emitter_structure_id`: PostgreSQL rewrites both sides of that equality to the
        # query's constant and then cannot prove the index's predicate (migration 0027). Partial on the emitter's
        # rows (`reason`, which `rows.board_select` sets to "emitter" on them and on no other: EMITTED), a constant
        # the tracker repeats: the other viewers' rows — three in four — hold no entry to rewrite (migration 0044).
        Index("ix_board_row_emitted", "emitter_structure_id", "structure_id", "deposited_at", "piece_id",
              postgresql_where=text(EMITTED), sqlite_where=text(EMITTED)),
        # The open clocks' panels (the MOA's délai global de paiement, the MOE's corrections to contest): the
        # structure's rows holding the panel's clock, earliest due first; the piece in the index too, so that a
        # panel's keys are an index-only scan.
        Index("ix_board_row_payment_clock", "structure_id", "payment_due", "payment_clock_id", "piece_id",
              postgresql_where=text(PAYMENT_CLOCK), sqlite_where=text(PAYMENT_CLOCK)),
        Index("ix_board_row_corrections_clock", "structure_id", "corrections_due", "corrections_clock_id", "piece_id",
              postgresql_where=text(CORRECTIONS_CLOCK), sqlite_where=text(CORRECTIONS_CLOCK)),
        # « Factures entre entreprises échues, non payées »: the structure's unpaid private invoices, earliest due
        # first (migration 0035) — the overdue ones are the first entries, read up to what the panel shows.
        Index("ix_board_row_private_due", "structure_id", "private_due", "piece_id",
              postgresql_where=text(PRIVATE_DUE), sqlite_where=text(PRIVATE_DUE)),
        # The interest panels (migration 0036): the structure's pieces owing interest, by their first clock.
        Index("ix_board_row_interest_to_pay_clock", "structure_id", "interest_to_pay_due", "interest_to_pay_clock_id",
              "piece_id", postgresql_where=text(INTEREST_TO_PAY_CLOCK), sqlite_where=text(INTEREST_TO_PAY_CLOCK)),
        Index("ix_board_row_interest_owed_clock", "structure_id", "interest_owed_due", "interest_owed_clock_id",
              "piece_id", postgresql_where=text(INTEREST_OWED_CLOCK), sqlite_where=text(INTEREST_OWED_CLOCK)),
    )

    structure_id: Mapped[int] = mapped_column(primary_key=True)  # the structure that sees the piece
    piece_id: Mapped[int] = mapped_column(primary_key=True)
    # The ORM's identity stays (structure, piece), whatever the order of the key's columns in the database.
    __mapper_args__ = {"primary_key": [structure_id, piece_id]}
    # No foreign keys: the rows are rebuilt from the pieces by refresh() and `flask board recompute`, and a key
    # to piece would take a share lock on the piece row at every insert.
    marche_id: Mapped[int]
    marche_reference: Mapped[str] = mapped_column(String(100))
    emitter_party_id: Mapped[int]
    emitter_structure_id: Mapped[int]
    emitter_name: Mapped[str] = mapped_column(String(200))
    emitter_siret: Mapped[str] = mapped_column(String(14))
    number: Mapped[str] = mapped_column(String(20))
    number_key: Mapped[str] = mapped_column(String(20))
    dossier_number: Mapped[str | None] = mapped_column(String(20))
    cadre: Mapped[str | None] = mapped_column(String(3))  # None: a private invoice (as piece.cadre)
    works: Mapped[bool]
    piece_type: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(50))
    roles: Mapped[str] = mapped_column(String(120))  # the access row's roles (" moa paiement "), "" for the emitter
    reason: Mapped[str] = mapped_column(String(20))  # the access row's reason, "emitter" for the emitter
    sort_date: Mapped[datetime]  # coalesce(deposited_at, created_at): the lists' "newest first"
    deposited_at: Mapped[datetime | None]
    montant_ttc: Mapped[Decimal] = mapped_column(Money)
    signed_ttc: Mapped[Decimal] = mapped_column(Money)  # montant_ttc, negative for a credit note (avoir)
    accepted_amount: Mapped[Decimal | None] = mapped_column(Money)
    paid_amount: Mapped[Decimal | None] = mapped_column(Money)
    # The piece waits on this structure (the "à traiter" box: pieces_queries.awaiting), and as which actor.
    waiting: Mapped[bool]
    waiting_role: Mapped[str | None] = mapped_column(String(20))
    # The earliest clock of the piece (NULL: none): open, or a délai global de paiement lapsed while the payment is
    # still awaited (`pieces_queries.counting_clock`) — the pages compare it with now, the sweep need not move it.
    next_due: Mapped[datetime | None]
    next_kind: Mapped[str | None] = mapped_column(String(30))  # that clock's kind
    # The latest tacit validation of the piece when this structure is its validation_1 / validation_2, else NULL.
    tacit_at: Mapped[datetime | None]
    validated: Mapped[bool]  # validated by a contractor (expressly, partially or tacitly)
    # The piece's open clock of each clock panel when this structure plays one of the panel's parts on it
    # (`operations.board.rows.CLOCK_PANELS`), else NULL: its id and due instant — not necessarily the next clock.
    payment_clock_id: Mapped[int | None]
    payment_due: Mapped[datetime | None]
    corrections_clock_id: Mapped[int | None]
    corrections_due: Mapped[datetime | None]
    # An unpaid private invoice's due date (the term its emitter agreed with its contractor, or the legal 30 days:
    # `private_invoices.due_sql`) on the rows of its emitter and of its contractor, else NULL. A calendar date: the
    # panel compares it with the day in Paris when it is read, so no sweep has to move it.
    private_due: Mapped[date | None]
    # The piece's first clock (due, id) of the interest of a late payment still unpaid, when this structure plays
    # one of the panel's parts on it (`operations.board.rows.CLOCK_PANELS`: interest_to_pay, interest_owed).
    interest_to_pay_clock_id: Mapped[int | None]
    interest_to_pay_due: Mapped[datetime | None]
    interest_owed_clock_id: Mapped[int | None]
    interest_owed_due: Mapped[datetime | None]
    # montant_ttc in cents (× 100, exact: two decimals), the amount sort's key (`board_reading.lists.SORT_COLUMNS`):
    # bigint comparisons are leakproof, so PostgreSQL runs the sort's cursor inside the index scan under row-level
    # security — numeric's are not, and a later page read every entry before it again (migration 0043). Written by
    # `operations.board.rows.board_select` as every column, compared by `flask board recompute`.
    montant_cents: Mapped[int] = mapped_column(BigInteger)


# The mixins below hold the columns the count tables share; `sort_order` keeps each table's columns in the order its
# migration created them (id and structure first, the key, then the measures).
class _Delta:
    """What every row of board_count and of its coarser rollups has: an id of its own (the rows are insert-only
    deltas, folded now and then by compaction) and the structure it belongs to (row-level security's equality)."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, sort_order=-2)
    structure_id: Mapped[int] = mapped_column(sort_order=-1)


class _PieceSums:
    """The measures « Par statut » and « Par marché » show, as board_count's: n, signed_ttc, paid, under_way."""

    n: Mapped[int] = mapped_column(sort_order=1)
    signed_ttc: Mapped[Decimal] = mapped_column(Money, sort_order=1)
    paid: Mapped[Decimal] = mapped_column(Money, sort_order=1)
    under_way: Mapped[int] = mapped_column(sort_order=1)


class BoardCount(_Delta, Base):
    """A delta (or, after compaction, the total) of one bucket of a structure's pieces.

    Measures: n (pieces), signed_ttc (credit notes negative), paid (sum of paid_amount, whatever the status: the
    bucket's status says whether it is paid), sent_ttc (signed_ttc of the pieces sent and not refused),
    validated_ttc (coalesce(accepted_amount, montant_ttc) of the pieces sent and validated), under_way (pieces
    neither a draft nor final). A bucket's figure is the SUM of its rows."""

    __tablename__ = "board_count"
    __table_args__ = (
        Index("ix_board_count_bucket", "structure_id", "marche_id", "emitter_party_id", "cadre", "works", "status"),
    )

    marche_id: Mapped[int]
    emitter_party_id: Mapped[int]
    cadre: Mapped[str] = mapped_column(String(3))  # "" for a private invoice (no NULL in a bucket's key)
    works: Mapped[bool]
    status: Mapped[str] = mapped_column(String(50))
    n: Mapped[int]
    signed_ttc: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    sent_ttc: Mapped[Decimal] = mapped_column(Money)
    validated_ttc: Mapped[Decimal] = mapped_column(Money)
    under_way: Mapped[int]


class BoardStatusCount(_Delta, _PieceSums, Base):
    """« Par statut »: board_count's deltas summed per (structure, works, status) — a few dozen rows per structure
    whatever its history. Measures as board_count's (n, signed_ttc, paid, under_way)."""

    __tablename__ = "board_status_count"
    __table_args__ = (Index("ix_board_status_count_key", "structure_id", "works", "status"),)

    works: Mapped[bool]
    status: Mapped[str] = mapped_column(String(50))


class BoardMarcheCount(_Delta, _PieceSums, Base):
    """« Par marché »: board_count's deltas summed per (structure, works, marché) — one row per marché the structure
    sees (after compaction). Measures as board_count's (n, signed_ttc, paid, under_way)."""

    __tablename__ = "board_marche_count"
    __table_args__ = (Index("ix_board_marche_count_key", "structure_id", "works", "marche_id"),)

    works: Mapped[bool]
    marche_id: Mapped[int]


class BoardStatusMarcheCount(_Delta, _PieceSums, Base):
    """The overview filtered on a status (a click on a line of « Par statut »): board_count's deltas summed per
    (structure, status, works, marché) — the status leads, so that one status is a range of the structure's rows,
    one per marché with pieces in it. Measures as board_count's (n, signed_ttc, paid, under_way)."""

    __tablename__ = "board_status_marche_count"
    __table_args__ = (Index("ix_board_status_marche_count_key", "structure_id", "status", "works", "marche_id"),)

    status: Mapped[str] = mapped_column(String(50))
    works: Mapped[bool]
    marche_id: Mapped[int]


class BoardCadreMarcheCount(_Delta, _PieceSums, Base):
    """The overview filtered on a cadre (« A10 », or "" for the private invoices), alone or with a status: board_count's
    deltas summed per (structure, cadre, status, works, marché) — the cadre leads, so that one cadre is a range of
    the structure's rows, one per status and marché with pieces in it (board_count's index holds the cadre fourth,
    after the marché and the party: a cadre's buckets were every bucket of the structure, 15 000 to 22 000 at a
    million pieces). Measures as board_count's (n, signed_ttc, paid, under_way)."""

    __tablename__ = "board_cadre_marche_count"
    __table_args__ = (Index("ix_board_cadre_marche_count_key", "structure_id", "cadre", "status", "works",
                            "marche_id"),)

    cadre: Mapped[str] = mapped_column(String(3))  # "" for a private invoice, as board_count's
    status: Mapped[str] = mapped_column(String(50))
    works: Mapped[bool]
    marche_id: Mapped[int]


class BoardPartyCount(_Delta, Base):
    """The companies: board_count's deltas summed per (structure, marché, emitting party) — one row per company whose
    pieces the structure sees (a party belongs to one marché: the marché leads so that one marché's companies are a
    range). Measures: n, sent_ttc and validated_ttc as board_count's, and `paid` — the paid amounts of the pieces in
    a paid status only (`statuses.PAID_STATUSES`), what « Montants par entreprise » calls paid."""

    __tablename__ = "board_party_count"
    __table_args__ = (Index("ix_board_party_count_key", "structure_id", "marche_id", "emitter_party_id"),)

    marche_id: Mapped[int]
    emitter_party_id: Mapped[int]
    n: Mapped[int]
    sent_ttc: Mapped[Decimal] = mapped_column(Money)
    validated_ttc: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)


class BoardMoneyDelta(_Delta, Base):
    """« Montants par entreprise »'s deltas: per (structure, emitting party), what a transaction added to the
    companies' money — board_party_count's sent_ttc, validated_ttc and paid — written by the same statement as the
    rollups (insert-only: no row for two transactions to queue on). `operations.board.money.fold` moves them into
    `board_money_line` (the compaction's single writer); until then a reader adds them to the line they concern
    (every structure's deltas, the panel keeping those of its own lines)."""

    __tablename__ = "board_money_delta"
    __table_args__ = (Index("ix_board_money_delta_structure", "structure_id", "emitter_party_id"),)

    emitter_party_id: Mapped[int]
    sent_ttc: Mapped[Decimal] = mapped_column(Money)
    validated_ttc: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)


class BoardMoneyLine(Base):
    """A line of « Montants par entreprise »: a confirmed sous-traitant or co-traitant (`party_id`) working under a
    confirmed party of the structure, with its figures folded so far (invoiced, validated, paid: board_party_count's
    sums for (structure, its marché, itself), less the deltas still in board_money_delta) and the panel's ranking —
    `attention` (0: its DC4 ceiling passed, 1: in sight, 2: neither) and `to_pay` (validated − paid) — stored, so
    that the panel's first lines are the first entries of `ix_board_money_line_rank`. Written by the compaction (the
    figures) and by the change of a party (the line itself: `money.refresh_lines`), never by a piece's transition."""

    __tablename__ = "board_money_line"
    __table_args__ = (Index("ix_board_money_line_rank", "structure_id", "attention", text("to_pay DESC"),
                            "reference", "name", "party_id"),)

    structure_id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(primary_key=True)
    marche_id: Mapped[int]
    reference: Mapped[str] = mapped_column(String(100))  # the marché's
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(15))
    accepted: Mapped[Decimal | None] = mapped_column(Money)  # the party's montant_ttc (DC4, co-traitant's part)
    invoiced: Mapped[Decimal] = mapped_column(Money)
    validated: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
    attention: Mapped[int]
    to_pay: Mapped[Decimal] = mapped_column(Money)


class BoardMoneyTotal(Base):
    """The panel's totals per structure: how many lines, and their folded invoiced, validated and paid amounts (as
    `board_money_line`'s, written by the same two writers: no piece's transition writes it)."""

    __tablename__ = "board_money_total"

    structure_id: Mapped[int] = mapped_column(primary_key=True)
    lines: Mapped[int]
    invoiced: Mapped[Decimal] = mapped_column(Money)
    validated: Mapped[Decimal] = mapped_column(Money)
    paid: Mapped[Decimal] = mapped_column(Money)
