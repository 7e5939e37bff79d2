"""Helpers for the états d'acompte tests: the pieces world (tests/integration/pieces_world.py) plus the money rows a
projet de décompte carries — price lines written directly, décomptes entered before the deposit through the real
operation (`pdm_with_decompte`; `decompte` writes rows directly, for the cases the deposit would refuse) — and the
MOE's operations run as the MOE.

The world's beneficiaries (groupement conjoint, 1 000 000 € HT, TVA 20 %):
- mandataire: 600 000 TTC = 500 000 HT, less its sous-traitants in paiement direct st1 (96 000) and sibling
  (48 000) → part 356 000 HT;
- cotraitant: 500 000 HT less st_co (54 000) → part 446 000 HT;
- st1 96 000, sibling 48 000, st_co 54 000 (DC4 amounts, reverse-charged: no VAT, so HT = the DC4 amount).
356 000 + 446 000 + 96 000 + 48 000 + 54 000 = 1 000 000.
"""
from __future__ import annotations

from decimal import Decimal

from chorus_chain.extensions import db
from chorus_chain.models import Marche
from chorus_chain.models.money import Decompte, DecompteLine, IndexValue, PriceLine
from chorus_chain.operations import decomptes as decompte_ops
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations import pieces as piece_ops
from tests.integration.pieces_world import NOW, Actor, act, acting, create, deposit, later, system


def setup_marche(app, w, **fields) -> None:
    """Change the world's marché settings (money terms) directly."""
    with system(app):
        marche = db.session.get(Marche, w.marche_id)
        for name, value in fields.items():
            setattr(marche, name, value)


def price_line(app, w, reference: str, party_id: int | None, *, quantity: str | None = None,
               unit_price: str | None = None, amount: str | None = None) -> int:
    """A unit-price line (quantity × unit price) or, with `amount` only, a lump-sum line."""
    with system(app):
        if amount is None:
            value = (Decimal(quantity) * Decimal(unit_price)).quantize(Decimal("0.01"))
            row = PriceLine(marche_id=w.marche_id, party_id=party_id, reference=reference, designation=reference,
                            unit="m2", quantity=Decimal(quantity), unit_price_ht=Decimal(unit_price),
                            amount_ht=value)
        else:
            row = PriceLine(marche_id=w.marche_id, party_id=party_id, reference=reference, designation=reference,
                            lump_sum=True, amount_ht=Decimal(amount))
        db.session.add(row)
        db.session.flush()
        return row.id


def decompte(app, w, piece_id: int, who: Actor, month: str, lines: list[tuple[int, str | None, str | None, str]],
             **extras) -> int:
    """A décompte of piece `piece_id`: `lines` = (price line id, quantity, percent, claimed amount HT)."""
    with system(app):
        row = Decompte(piece_id=piece_id, marche_id=w.marche_id, party_id=who.party_id, month=month,
                       **{k: Decimal(v) for k, v in extras.items()})
        db.session.add(row)
        db.session.flush()
        for price_line_id, quantity, percent, amount in lines:
            db.session.add(DecompteLine(decompte_id=row.id, price_line_id=price_line_id,
                                        quantity=Decimal(quantity) if quantity else None,
                                        percent=Decimal(percent) if percent else None, amount_ht=Decimal(amount)))
        return row.id


def index_value(app, w, month: str, value: str, definitive: bool = True) -> None:
    with system(app):
        db.session.add(IndexValue(marche_id=w.marche_id, month=month, value=Decimal(value), definitive=definitive))


def pdm_with_decompte(app, w, who: Actor, cadre: str, number: str, month: str, measures: dict[int, str], *,
                      now=NOW, **extras) -> int:
    """A projet de décompte entered line by line before it is sent, as the deposit asks where the marché has a
    bordereau for the party: the draft, its décompte through the real operation (`measures`: {price line id:
    cumulative quantity, or % of a lump sum}; `extras`: approvisionnements, primes… in French figures), which sets
    the piece's amounts, then the deposit."""
    piece_id = create(app, w, who, cadre, number, ht="1.00", now=now)
    raw = {"month": month, **{f"m_{line_id}": value for line_id, value in measures.items()}, **extras}
    with acting(app, who) as (account, structure):
        decompte_ops.save_decompte(account, structure, piece_id, raw, now=now)
    with acting(app, who) as (account, structure):
        piece_ops.deposit(piece_id, account, structure, now=now)
    return piece_id


def taken_pdm(app, w, who: Actor, number: str, *, ht: str = "10000.00", days: float = 0, month: str | None = None,
              measures: dict[int, str] | None = None, **extras) -> int:
    """A PDM deposited by `who` (A4 for the mandataire, A13 co-traitant, A10 sous-traitant, validated by its
    contractors) and taken by the MOE: PRISE_EN_COMPTE_MOE. With `month` and `measures`, its décompte is entered
    before the deposit (`pdm_with_decompte`: the piece then takes the décompte's amounts, not `ht`); without, it is a
    PDF and a total — for a party the bordereau gives no line."""
    cadre = {"mandataire": "A4", "cotraitant": "A13"}.get(who.key, "A10")
    if measures is not None:
        piece_id = pdm_with_decompte(app, w, who, cadre, number, month, measures, now=later(days), **extras)
    else:
        piece_id = deposit(app, w, who, cadre, number, ht=ht, now=later(days))
    if cadre == "A10":
        contractor = {"st1": w.mandataire, "sibling": w.mandataire, "st_co": w.cotraitant}[who.key]
        act(app, contractor, piece_id, "validate", now=later(days))
        if who.key == "st_co":
            act(app, w.mandataire, piece_id, "validate", now=later(days))
    elif cadre == "A13":
        act(app, w.mandataire, piece_id, "validate", now=later(days))
    act(app, w.moe, piece_id, "take", now=later(days))
    return piece_id


def as_moe(app, w, fn, *, who: Actor | None = None):
    """Run fn(access, account, structure) as the MOE (or `who`) inside a committed request-like block."""
    who = who or w.moe
    with acting(app, who) as (account, structure):
        access = marche_ops.access_for(structure, w.marche_id)
        return fn(access, account, structure)


__all__ = ["NOW", "as_moe", "decompte", "index_value", "later", "pdm_with_decompte", "price_line", "setup_marche",
           "taken_pdm"]
