"""Late-payment interest (intérêts moratoires) of the pieces, and the ECB rate table they are computed from.

The arithmetic is the pure engine's (`domain.money.interest.late_payment_interest`, CHORUS.md §5 and §6b); this module
feeds it from the database and keeps the rate table as editable data.

Which dates (the rule we chose, and why):
- receipt = `piece.received_at`, as a date in Paris. It is the instant the délai global de paiement (DGP) started:
  the operations open the "paiement" clock when the piece enters the statuses in which the DGP runs
  (`domain.deadlines.running_in`) and set `received_at` then (`pieces_records.open_clock`). For a works piece that is
  its arrival at the maître d'œuvre (the DGP "runs from the MOE's receipt", CHORUS.md §5), so `received_at` equals
  `received_by_moe_at`; for any other piece, its arrival at the paying office. A piece sent back "à recycler" was
  never received: its DGP starts again when it is resent, and `received_at` moves with it.
- expiry = receipt + the marché's DGP days; payment = `piece.paid_on`; base = `piece.paid_amount` (the amount the
  paying office says it paid: the net payable TTC of that payment, §6b default).

Not applicable (None): a draft, a credit note (nothing is paid on it), a piece whose DGP never started (a private
invoice between companies — commercial law, not the public DGP — or an état d'acompte continuing a dossier whose
DGP runs on its first piece), and a piece not yet paid (see `accruing_interest` for that one).

The rate table: one row per ECB rate change (`InterestRate`), seeded by migration 0005 with the real rates, changed
by an operator (`flask rates set|delete`, or the form of /taux-bce). Every computation reads it in one query, and
only when a payment is late (a payment on time needs no rate).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from chorus_chain.access import visible_to
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain.transitions import PDM_CADRES
from chorus_chain.domain.money import (
    FLAT_FEE,
    LatePaymentInterest,
    MoneyError,
    RateChange,
    RateTable,
    late_payment_interest,
)
from chorus_chain.domain.money.rounding import ZERO
from chorus_chain.extensions import db
from chorus_chain.models import InterestRate, Marche, Piece
from chorus_chain.operations import OperationError
from chorus_chain.operations.marches import today as paris_day

RATE_MAX = Decimal("20")
"""Above 20 % an ECB main refinancing rate is a typing error (it peaked at 4.75 % in 2000-2001 and 2008)."""
RATE_PLACES = Decimal("0.001")  # the column is Numeric(6, 3)
SOURCE_MAX = 200
PIECE_DOMAINS = ("emises", "travaux", "recues")


# ---------------------------------------------------------------------------------------------------------------------
# The rate table


def rates() -> list[InterestRate]:
    """Every ECB rate change, oldest first (one query)."""
    return list(db.session.scalars(select(InterestRate).order_by(InterestRate.effective_from)))


def table_of(rows: Iterable[InterestRate]) -> RateTable:
    """The engine's rate table from rows already read."""
    return RateTable(tuple(RateChange(row.effective_from, row.rate_percent) for row in rows))


def rate_table() -> RateTable:
    """The engine's rate table from the rows (one query): the two columns the engine reads, not the rows as
    entities — read on every maître d'ouvrage's Tableau de bord with a late payment, where making some twenty
    entities cost more than the statement (bench/README, session 16)."""
    return RateTable(tuple(RateChange(effective_from, rate_percent) for effective_from, rate_percent in
                           db.session.execute(_RATES)))


_RATES = select(InterestRate.effective_from, InterestRate.rate_percent).order_by(InterestRate.effective_from)


def parse_rate(value: object) -> Decimal:
    """A rate in percent as typed ("2,15", "2.15 %", Decimal): between 0 and 20 %, at most three decimals."""
    if isinstance(value, Decimal):
        rate = value
    else:
        cleaned = str(value or "").strip().removesuffix("%").strip().replace("\u202f", "").replace(" ", "")
        try:
            rate = Decimal(cleaned.replace(",", "."))
        except InvalidOperation:
            raise OperationError("Indiquez le taux en pourcentage, par exemple 2,15.", field="rate") from None
    if not rate.is_finite():
        raise OperationError("Indiquez le taux en pourcentage, par exemple 2,15.", field="rate")
    if rate < 0:
        raise OperationError("Le taux de la BCE ne peut pas être négatif ici : le taux des intérêts moratoires "
                             "serait inférieur à 8 %. Vérifiez la saisie.", field="rate")
    if rate > RATE_MAX:
        raise OperationError("Un taux de la BCE supérieur à 20 % est certainement une erreur de saisie "
                             "(indiquez-le en pourcentage : 2,15 pour 2,15 %).", field="rate")
    if rate != rate.quantize(RATE_PLACES):
        raise OperationError("Trois décimales au plus (par exemple 2,125).", field="rate")
    return rate.quantize(RATE_PLACES)


def set_rate(day: date, rate: object, *, source: str, now: datetime) -> InterestRate:
    """Record the ECB rate in force from `day` (a new change, or a correction of the one already at that date)."""
    value = parse_rate(rate)
    source = (source or "").strip()
    if not source:
        raise OperationError("Indiquez la source du taux (décision de la BCE, Banque de France…).", field="source")
    if len(source) > SOURCE_MAX:
        raise OperationError(f"La source tient en {SOURCE_MAX} caractères au plus.", field="source")
    row = db.session.scalar(select(InterestRate).where(InterestRate.effective_from == day))
    if row is None:
        row = InterestRate(effective_from=day, rate_percent=value, source=source, updated_at=now)
        db.session.add(row)
    else:
        row.rate_percent, row.source, row.updated_at = value, source, now
    db.session.flush()
    return row


def delete_rate(day: date) -> InterestRate:
    """Remove the rate change of `day` (a change entered by mistake). The oldest one stays: without it no date
    would have a rate."""
    rows = rates()
    row = next((r for r in rows if r.effective_from == day), None)
    if row is None:
        raise OperationError(f"Aucun taux n'est enregistré au {day.strftime('%d/%m/%Y')}.", field="effective_from")
    if len(rows) == 1:
        raise OperationError("C'est le seul taux de la table : ajoutez-en un autre avant de le supprimer.",
                             field="effective_from")
    db.session.delete(row)
    db.session.flush()
    return row


@dataclass(frozen=True)
class HalfYearRate:
    """The rate of late-payment interest of one calendar half-year: the ECB rate on its first day + 8 points."""

    start: date
    ecb: RateChange
    rate_percent: Decimal

    @property
    def label(self) -> str:
        return half_year_label(self.start)


def half_year_label(start: date) -> str:
    """"1er semestre 2025" / "2nd semestre 2025"."""
    return f"{'1er' if start.month <= 6 else '2nd'} semestre {start.year}"


def half_year_rates(table: RateTable, first_year: int, last_year: int) -> list[HalfYearRate]:
    """The applicable rate of each half-year from `first_year` to `last_year` (those the table covers)."""
    from chorus_chain.domain.money import MARGIN_POINTS

    found = []
    for year in range(first_year, last_year + 1):
        for month in (1, 7):
            start = date(year, month, 1)
            try:
                ecb = table.rate_on(start)
            except MoneyError:
                continue
            found.append(HalfYearRate(start, ecb, ecb.rate_percent + MARGIN_POINTS))
    return found


# ---------------------------------------------------------------------------------------------------------------------
# One piece


def receipt_of(piece: Piece) -> date | None:
    """The day the DGP of the piece started (see the module docstring), in Paris."""
    return paris_day(piece.received_at) if piece.received_at is not None else None


def expiry_of(piece: Piece, marche: Marche | None = None) -> date | None:
    """The last day the piece may be paid without interest: receipt + the marché's DGP days."""
    receipt = receipt_of(piece)
    if receipt is None:
        return None
    return receipt + timedelta(days=(marche or piece.marche).dgp_days)


def _applicable(piece: Piece) -> bool:
    """Public procurement's interest (R. 2192-31): a deposited invoice to the public buyer. A private invoice
    between companies (no cadre) falls under the code de commerce instead (`domain.commercial_terms`)."""
    return (not piece.is_draft and piece.piece_type == "FACTURE" and piece.cadre is not None
            and piece.received_at is not None)


def carried_by_etat(piece_ids: Iterable[int]) -> set[int]:
    """The projets de décompte paid through the lines of a validated état d'acompte (issue 12): their interest is
    the lines' (`operations.etat_pieces.paying`), never counted a second time on the piece. One query."""
    from chorus_chain.models.etat_pieces import EtatAcomptePdm
    from chorus_chain.models.money import EtatAcompte

    ids = list(piece_ids)
    if not ids:
        return set()
    return set(db.session.scalars(
        select(EtatAcomptePdm.piece_id).join(EtatAcompte, EtatAcompte.id == EtatAcomptePdm.etat_acompte_id)
        .where(EtatAcomptePdm.piece_id.in_(ids), EtatAcompte.status == "issued",
               EtatAcompte.validated_at.is_not(None))))


class _Rates:
    """The rate table, read at most once and only when a payment is late."""

    def __init__(self, table: RateTable | None = None) -> None:
        self._table = table

    def get(self) -> RateTable:
        if self._table is None:
            self._table = rate_table()
        return self._table


def _compute(piece: Piece, marche: Marche, payment: date, base: Decimal, table: _Rates) -> LatePaymentInterest:
    receipt = receipt_of(piece)
    late = payment > receipt + timedelta(days=marche.dgp_days)
    try:
        return late_payment_interest(table.get() if late else RateTable(), receipt=receipt,
                                     dgp_days=marche.dgp_days, payment=payment, net_payable_ttc=base)
    except MoneyError as error:  # no ECB rate for that half-year: the table must be completed
        raise OperationError(error.message, field=error.field) from None


def interest_of(piece: Piece, table: RateTable | None = None, *, marche: Marche | None = None,
                _rates: _Rates | None = None) -> LatePaymentInterest | None:
    """The interest and flat fee owed on the payment of a paid piece (zero when paid on time), or None while it is
    unpaid or when it does not apply (see the module docstring). `marche`: the piece's, when not loaded on it.
    OperationError when the rate table has no rate for the half-year the interest starts in."""
    if not _applicable(piece) or piece.paid_on is None or piece.paid_amount is None:
        return None
    return _compute(piece, marche or piece.marche, piece.paid_on, piece.paid_amount, _rates or _Rates(table))


def dgp_running(piece: Piece) -> bool:
    """True while the piece waits for its payment with its DGP running (not paid, refused, rejected, or sent back
    to be recycled): the statuses of `domain.deadlines.running_in` for the "paiement" clock."""
    if piece.is_draft or not piece.route:
        return False
    running = clocks.running_in(clocks.PAIEMENT, piece.route_steps, cadre=piece.cadre)
    return piece.status in {status.value for status in running}


def accruing_interest(piece: Piece, today: date, table: RateTable | None = None, *, marche: Marche | None = None,
                      _rates: _Rates | None = None) -> LatePaymentInterest | None:
    """What the delay would cost if the piece were paid `today`, for an unpaid piece past its expiry; None
    otherwise. The base is what would be paid: the amount accepted (partial validation, the MOE's admitted amount)
    or else the amount TTC of the piece — the figure the paying office's payment form starts with."""
    if not _applicable(piece) or piece.paid_on is not None or not dgp_running(piece):
        return None
    marche = marche or piece.marche
    if today <= expiry_of(piece, marche):
        return None
    base = piece.accepted_amount if piece.accepted_amount is not None else piece.montant_ttc
    return _compute(piece, marche, today, base, _rates or _Rates(table))


@dataclass(frozen=True)
class PieceInterest:
    """What the piece page shows: the interest of a paid piece (`accruing` False), or the interest accruing on an
    unpaid piece past its expiry (`accruing` True); `error` when the rate table lacks a rate."""

    result: LatePaymentInterest | None
    accruing: bool
    receipt: date | None
    expiry: date | None
    error: str | None = None

    @property
    def half_year_label(self) -> str | None:
        return half_year_label(self.result.half_year) if self.result and self.result.half_year else None


def piece_interest(piece: Piece, today: date) -> PieceInterest | None:
    """The piece page's block, or None when there is nothing to show (not applicable, or unpaid and not yet late).
    At most one query (the rate table, when late)."""
    if not _applicable(piece):
        return None
    accruing = piece.paid_on is None
    try:
        result = accruing_interest(piece, today) if accruing else interest_of(piece)
    except OperationError as error:
        return PieceInterest(None, accruing, receipt_of(piece), expiry_of(piece), error.message)
    if result is None or (piece.works and piece.cadre in PDM_CADRES and carried_by_etat([piece.id])):
        return None  # a projet de décompte paid through an état's line: the line carries its interest
    return PieceInterest(result, accruing, receipt_of(piece), result.expiry)


# ---------------------------------------------------------------------------------------------------------------------
# A marché


@dataclass(frozen=True)
class Claim:
    """One late payment of the marché (or one piece late and still unpaid)."""

    piece: Piece
    interest: LatePaymentInterest


@dataclass(frozen=True)
class MarcheInterest:
    """The interest of a marché's pieces the structure sees: the late payments ready to be claimed (with their sum:
    interest, flat fees, total), the payments made on time, the unpaid pieces already late (accruing to `today`), and
    the pieces whose half-year has no rate in the table."""

    claims: list[Claim] = field(default_factory=list)
    on_time: int = 0
    accruing: list[Claim] = field(default_factory=list)
    errors: list[tuple[Piece, str]] = field(default_factory=list)

    @property
    def interest(self) -> Decimal:
        return sum((c.interest.interest for c in self.claims), ZERO)

    @property
    def fees(self) -> Decimal:
        return sum((c.interest.flat_fee for c in self.claims), ZERO)

    @property
    def total(self) -> Decimal:
        """Interest + fees, a sum of lines each already rounded to the cent."""
        return sum((c.interest.total for c in self.claims), ZERO)

    @property
    def accruing_total(self) -> Decimal:
        return sum((c.interest.total for c in self.accruing), ZERO)

    @property
    def empty(self) -> bool:
        return not (self.claims or self.on_time or self.accruing or self.errors)


def _domain(piece: Piece, structure_id: int) -> str:
    if piece.works:
        return "travaux"
    return "emises" if piece.emitter_structure_id == structure_id else "recues"


def marche_interest(marche: Marche, structure_id: int, today: date,
                    domains: Iterable[str] = PIECE_DOMAINS) -> MarcheInterest:
    """The interest owed on the marché's pieces that the structure sees and whose rights domain the member may
    read (`domains`): one query for the pieces (with their emitters), one for the rate table when a payment is
    late. Paid pieces are listed by payment date, the unpaid late ones by expiry."""
    readable = set(domains)
    pieces = db.session.scalars(
        select(Piece).where(Piece.marche_id == marche.id, visible_to(structure_id),
                            Piece.status != "BROUILLON", Piece.piece_type == "FACTURE",
                            Piece.received_at.is_not(None))
        .options(joinedload(Piece.emitter_structure)).order_by(Piece.paid_on, Piece.received_at, Piece.id)).all()
    carried = carried_by_etat([p.id for p in pieces if p.works])
    pieces = [p for p in pieces if p.id not in carried]
    table = _Rates()
    claims: list[Claim] = []
    late_unpaid: list[Claim] = []
    errors: list[tuple[Piece, str]] = []
    on_time = 0
    for piece in pieces:
        if _domain(piece, structure_id) not in readable:
            continue
        try:
            if piece.paid_on is not None:
                result = interest_of(piece, marche=marche, _rates=table)
                if result is not None and result.late:
                    claims.append(Claim(piece, result))
                elif result is not None:
                    on_time += 1
            else:
                result = accruing_interest(piece, today, marche=marche, _rates=table)
                if result is not None:
                    late_unpaid.append(Claim(piece, result))
        except OperationError as error:
            errors.append((piece, error.message))
    return MarcheInterest(claims, on_time, late_unpaid, errors)


__all__ = [
    "FLAT_FEE",
    "Claim",
    "HalfYearRate",
    "MarcheInterest",
    "PieceInterest",
    "accruing_interest",
    "delete_rate",
    "dgp_running",
    "expiry_of",
    "half_year_label",
    "half_year_rates",
    "interest_of",
    "marche_interest",
    "parse_rate",
    "piece_interest",
    "rate_table",
    "rates",
    "receipt_of",
    "set_rate",
    "table_of",
]
