"""The payable lines of a validated état d'acompte: one per payee of the engine's result — the titulaire or the
mandataire (with the VAT it self-assesses on its reverse-charged sous-traitants' works), each co-traitant of a
groupement conjoint, each sous-traitant in paiement direct — each carrying the engine's figure for this acompte and
the payee's bank account.

Every euro the engine computed for the état is on exactly one line: the lines are the engine's `payables`, and the
engine's payables add up to the état's amount due (`check_lines`, run at every validation, refuses anything else).

When the délai global de paiement of a line started (a legal instant, frozen on the line): the MOE's receipt of the
first projet de décompte whose money the line carries — the payee's own, or that of a company below it (the
mandataire's VAT on its sous-traitant's works is owed from that sous-traitant's projet) — and, for a payee with no
such projet in the état, the first projet of the état.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from chorus_chain import graph
from chorus_chain.extensions import db
from chorus_chain.models import BankAccount, Marche, MarcheParty, Piece
from chorus_chain.models.etat_pieces import PayableLine
from chorus_chain.models.money import EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations.marches import today

ZERO = Decimal("0.00")


def check_lines(result: dict) -> None:
    """Σ payables == the état's amount due, to the cent; else the état cannot be paid as computed (a programming
    error in the engine: refused rather than paid wrong)."""
    total = sum((Decimal(p["this"]) for p in result["payables"]), ZERO)
    due = Decimal(result["marche"]["amount_due"]["this"])
    if total != due:
        raise OperationError(f"Les lignes à payer ({total} €) ne font pas le montant de l'état ({due} €) : l'état "
                             "ne peut pas être validé. Signalez-le au support.")


def _receipt(piece: Piece) -> date | None:
    instant = piece.received_at or piece.received_by_moe_at
    return today(instant) if instant is not None else None


def dgp_start(chain: graph.Chain, keys: set[int], pdms: Iterable[tuple[Piece, int]], fallback: date) -> date:
    """The day the line's DGP started (see the module docstring). `pdms`: (piece, depositor party id)."""
    pdms = list(pdms)

    def carried(party_id: int) -> bool:
        if party_id in keys:
            return True
        if party_id not in chain.parties:
            return False
        return any(p.key in keys for p in graph.contractors_above(chain, party_id))

    own = [d for piece, party_id in pdms if carried(party_id) and (d := _receipt(piece)) is not None]
    if own:
        return min(own)
    every = [d for piece, _ in pdms if (d := _receipt(piece)) is not None]
    return min(every) if every else fallback


def bank_of(party: MarcheParty, pdms: Iterable[tuple[Piece, int]]) -> tuple[int | None, str | None, str | None]:
    """The account the payee is paid on: the one chosen on its latest projet de décompte of the état, else its
    DC4's (a sous-traitant), else its structure's default account."""
    chosen = [piece.bank_account_id for piece, party_id in pdms if party_id == party.id and piece.bank_account_id]
    if chosen:
        bank = db.session.get(BankAccount, chosen[-1])
        if bank is not None:
            return bank.id, bank.iban, bank.bic
    if party.iban:
        return None, party.iban, party.bic
    if party.structure_id is not None:
        bank = db.session.scalar(select(BankAccount).where(
            BankAccount.structure_id == party.structure_id, BankAccount.active.is_(True))
            .order_by(BankAccount.is_default.desc(), BankAccount.id))
        if bank is not None:
            return bank.id, bank.iban, bank.bic
    return None, None, None


def build_lines(marche: Marche, etat: EtatAcompte, pdms: list[tuple[Piece, int]], *, now: datetime,
                started_on: date | None = None) -> list[PayableLine]:
    """Write the payable lines of the état the MOA validates (once: the validation is locked). `started_on`: the
    day every line's DGP started when the law fixes one for all (the solde of the décompte général: the receipt of
    the DGD the titulaire signed), instead of each line's first projet de décompte."""
    result = etat.result
    check_lines(result)
    rows = chain_ops.rows_of(marche)
    chain = chain_ops.chain_of(marche, rows)
    by_id = {row.id: row for row in rows}
    day = today(now)
    lines = []
    for position, payable in enumerate(result["payables"]):
        if Decimal(payable["this"]) == 0:
            continue  # a payee with nothing this month (no work declared): no line to pay, no euro left out
        payee = payable["payee_key"]
        keys = {b["key"] for b in result["beneficiaries"] if b["payee_key"] == payee}
        started = started_on or dgp_start(chain, keys, pdms, day)
        party = by_id[payee]
        bank_id, iban, bic = bank_of(party, pdms)
        line = PayableLine(etat_acompte_id=etat.id, marche_id=marche.id, payee_party_id=payee, position=position,
                           name=payable["name"], role=party.role, amount=Decimal(payable["this"]),
                           beneficiary_keys=sorted(keys), bank_account_id=bank_id, iban=iban, bic=bic,
                           dgp_started_on=started, due_on=started + timedelta(days=marche.dgp_days),
                           paid_amount=ZERO, created_at=now)
        db.session.add(line)
        lines.append(line)
    db.session.flush()
    return lines


def lines_of(etat_id: int, *, lock: bool = False) -> list[PayableLine]:
    query = select(PayableLine).where(PayableLine.etat_acompte_id == etat_id).order_by(PayableLine.position)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(db.session.scalars(query))
