"""The financial picture of a marché (issue 7, "Marché financial page"): amount vs executed vs certified vs paid, per
party, the advance and its repayment, the retenue held, and the cumulative curves per month.

Nothing is recomputed here: the figures are those of the issued états d'acompte (the engine's frozen result, see
`models.money.EtatAcompte.result`) and the payments recorded on the pieces (`paid_on`, `paid_amount`). Three queries
whatever the size of the marché: the issued états, the payments (pieces the viewer may see — the access criteria apply),
nothing else (the parties come with the marché's access).

Who sees what: the MOA, the MOE and the titulaire/mandataire see every beneficiary; anyone else sees its own lines only
(its beneficiary part of each état, its own payments).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from chorus_chain import graph
from chorus_chain.domain.money import month_fr
from chorus_chain.graph import Role
from chorus_chain.extensions import db
from chorus_chain.models import EtatAcompte, Piece
from chorus_chain.operations.marches import MarcheAccess

ZERO = Decimal("0.00")


@dataclass
class PartyMoney:
    """One beneficiary's figures to date (from the last issued état) and what it was paid."""

    party_id: int | None
    name: str
    role: str
    part_ttc: Decimal | None
    works_ht: Decimal = ZERO
    ttc: Decimal = ZERO
    amount_due: Decimal = ZERO  # certified to date (net of retenue, advance repayment, penalties)
    retenue: Decimal = ZERO
    avance_paid: Decimal = ZERO
    avance_repaid: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def avance_outstanding(self) -> Decimal:
        return self.avance_paid - self.avance_repaid

    @property
    def waiting(self) -> Decimal:
        """Certified but not paid yet."""
        return max(self.amount_due - self.paid, ZERO)


@dataclass
class MonthPoint:
    month: str  # YYYY-MM
    works_ht: Decimal
    amount_due: Decimal
    paid: Decimal

    @property
    def label(self) -> str:
        return month_fr(self.month)


@dataclass
class MarcheFinances:
    full: bool
    montant_ht: Decimal
    montant_ttc: Decimal
    etats: int
    last_month: str | None
    totals: PartyMoney
    parties: list[PartyMoney] = field(default_factory=list)
    months: list[MonthPoint] = field(default_factory=list)
    paid_by: str | None = None
    """The donneur d'ordre that pays this structure on this marché, when it is never in an état d'acompte (a
    sous-traitant of rang 2 or more, or with a part under the paiement direct threshold): its money is its private
    invoices, not the états' figures. None for everyone the états pay."""

    @property
    def executed_share(self) -> Decimal:
        """Works executed at base prices ÷ the marché's amount HT (what the advance repayment measures)."""
        return self.totals.works_ht / self.montant_ht if self.montant_ht else ZERO


def _party_id(key) -> int | None:
    try:
        return int(key)
    except (TypeError, ValueError):
        return None


def _to_date(columns: dict, name: str) -> Decimal:
    column = columns.get(name) or {}
    return Decimal(column.get("to_date", "0.00"))


def paid_by_contractor(access: MarcheAccess) -> str | None:
    """The name of the contractor that pays this structure on the marché, when none of its roles is ever a
    beneficiary of an état d'acompte: a sous-traitant below rang 1, or of rang 1 with a part under the threshold of
    the paiement direct (graph.PAIEMENT_DIRECT_THRESHOLD_TTC). A rang-1 one still waiting for its DC4 may become a
    beneficiary: it is not said to be paid privately."""
    if access.full or access.chain is None or not access.own:
        return None
    payers = []
    for row in access.own:
        if row.id not in access.chain.parties:
            return None
        party = access.chain.party(row.id)
        if party.role != Role.SOUS_TRAITANT:
            return None
        below_threshold = party.montant_ttc is not None and party.montant_ttc < graph.PAIEMENT_DIRECT_THRESHOLD_TTC
        if graph.rang(access.chain, row.id) == 1 and not below_threshold:
            return None
        above = graph.parent(access.chain, row.id)
        payers.append(above.name if above is not None else "votre donneur d'ordre")
    return payers[0]


def marche_finances(access: MarcheAccess) -> MarcheFinances:
    marche = access.marche
    own_ids = {row.id for row in access.own}
    rows_by_id = {row.id: row for row in access.rows}

    def mine(party_id: int | None) -> bool:
        return access.full or party_id in own_ids

    etats = db.session.scalars(
        select(EtatAcompte)
        .where(EtatAcompte.marche_id == marche.id, EtatAcompte.status == "issued")
        .order_by(EtatAcompte.number)
    ).all()
    payments = db.session.execute(
        select(Piece.emitter_party_id, Piece.paid_on, Piece.paid_amount)
        .where(Piece.marche_id == marche.id, Piece.paid_on.is_not(None), Piece.paid_amount.is_not(None))
    ).all()

    paid_by_party: dict[int, Decimal] = defaultdict(lambda: ZERO)
    paid_by_month: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for party_id, paid_on, amount in payments:
        if not mine(party_id):
            continue
        row = rows_by_id.get(party_id)
        if row is not None and row.role in Role.PUBLIC:
            # An état's A19 (or a décompte général's A20) is the buyer's own document: its « paid » is the sum of
            # the beneficiaries' lines, already counted on their projets de décompte. Counted here too, it paid the
            # MOA (« Commune … payé 469 224,00 € ») and doubled the marché's « Payé » in the demo.
            continue
        paid_by_party[party_id] += amount
        paid_by_month[_month(paid_on)] += amount

    parties: dict[int | None, PartyMoney] = {}
    etat_points: dict[str, tuple[Decimal, Decimal]] = {}
    for etat in etats:
        result = etat.result or {}
        works = due = ZERO
        for b in result.get("beneficiaries", []):
            party_id = _party_id(b.get("key"))
            if not mine(party_id):
                continue
            columns = b.get("columns", {})
            works += _to_date(columns, "works_ht")
            due += _to_date(columns, "amount_due")
            row = rows_by_id.get(party_id)
            parties[party_id] = PartyMoney(
                party_id=party_id,
                name=b.get("name") or (row.name if row else "—"),
                role=b.get("role", ""),
                part_ttc=row.montant_ttc if row else None,
                works_ht=_to_date(columns, "works_ht"),
                ttc=_to_date(columns, "ttc"),
                amount_due=_to_date(columns, "amount_due"),
                retenue=_to_date(columns, "retenue"),
                avance_paid=_to_date(columns, "avance_paid"),
                avance_repaid=_to_date(columns, "avance_repayment"),
            )
        etat_points[etat.month] = (works, due)

    for party_id, amount in paid_by_party.items():
        if party_id not in parties:
            row = rows_by_id.get(party_id)
            parties[party_id] = PartyMoney(party_id, row.name if row else "—", row.role if row else "",
                                           row.montant_ttc if row else None)
        parties[party_id].paid = amount

    totals = PartyMoney(None, "Marché", "", marche.montant_ttc)
    for p in parties.values():
        for name in ("works_ht", "ttc", "amount_due", "retenue", "avance_paid", "avance_repaid", "paid"):
            setattr(totals, name, getattr(totals, name) + getattr(p, name))

    months: list[MonthPoint] = []
    works = due = paid = ZERO
    for month in sorted(set(etat_points) | set(paid_by_month)):
        if month in etat_points:
            works, due = etat_points[month]
        paid += paid_by_month.get(month, ZERO)
        months.append(MonthPoint(month, works, due, paid))

    ordered = sorted(parties.values(), key=lambda p: (p.party_id is None, p.party_id or 0))
    return MarcheFinances(
        full=access.full,
        montant_ht=marche.montant_ht,
        montant_ttc=marche.montant_ttc,
        etats=len(etats),
        last_month=etats[-1].month if etats else None,
        totals=totals,
        parties=ordered,
        months=months,
        paid_by=paid_by_contractor(access),
    )


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"
