"""Modifications de marché (avenants), issue 16: the MOA records one; the marché's amount, the part it changes, the
price lines it changes and the lines it adds move together, or nothing moves.

Why this shape (CCP R2194-1 ff.; CHORUS.md §6b "Advance amount"):
- the marché keeps its amount **as modified** in `Marche.montant_ht` (the retenue and the execution that paces the
  advance repayment follow it) and each avenant its own row, so the initial amount is always `montant_ht` − Σ avenants:
  the advance is computed on the initial part of each beneficiary and never moves with an avenant (R2191-7,
  R2191-10): `initial_parts` feeds the engine's `Beneficiary.initial_part_ht`;
- a part's amount in the chain moves with it: a groupement member's or a holder's part TTC, or a sous-traitant's
  acte spécial — then through a `Dc4Avenant` (the DC4's own record), which this avenant points at;
- the bordereau stays the marché: when it is complete (its lines add up to the marché amount) or the avenant touches
  it, the lines it changes and adds must add up to the avenant's amount;
- every rule of the chain is checked on the would-be rows (`graph.check`: a sous-traitance within its contractor's
  part, the groupement's parts within the marché) and a sous-traitant's lines within its DC4 ceiling; an avenant
  taking the marché (or the part) below the works already certified by the issued états is refused. Each refusal is
  French, field-level, and leaves everything as it was (nothing is flushed before every check passed).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select

from chorus_chain import graph
from chorus_chain.domain import dates as date_rules
from chorus_chain.domain.decimals import DecimalRefused, read_decimal
from chorus_chain.extensions import db
from chorus_chain.graph import Role, format_euros
from chorus_chain.models import Account, Dc4Avenant, Marche, MarcheAvenant, MarcheParty, Structure
from chorus_chain.models.marches import ttc_of
from chorus_chain.models.money import PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import marches as marche_ops

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
PART_ROLES = (Role.TITULAIRE, Role.MANDATAIRE, Role.COTRAITANT, Role.SOUS_TRAITANT)


def _cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _signed_amount(value: Any, field_name: str) -> Decimal:
    """A French amount that may be negative (« -12 000,00 »): an avenant adds or takes away."""
    text = str(value or "").strip().replace("−", "-")
    negative = text.startswith("-")
    try:
        number = read_decimal(text.lstrip("-+").strip(), 2)
    except DecimalRefused:
        raise OperationError("Indiquez un montant HT, positif pour une plus-value, négatif pour une moins-value "
                             "(par exemple -12 000,00).", field=field_name) from None
    if number is None or number == 0:
        raise OperationError("Indiquez le montant HT de l'avenant (différent de zéro).", field=field_name)
    return -number if negative else number


# ---------------------------------------------------------------------------------------------------------------------
# Reading


def avenants_of(marche: Marche) -> list[MarcheAvenant]:
    return list(db.session.scalars(select(MarcheAvenant).where(MarcheAvenant.marche_id == marche.id)
                                   .order_by(MarcheAvenant.number)))


def initial_amount_ht(marche: Marche, avenants: list[MarcheAvenant] | None = None) -> Decimal:
    """The marché's amount as signed: its amount as modified less every avenant."""
    avenants = avenants_of(marche) if avenants is None else avenants
    return Decimal(marche.montant_ht) - sum((Decimal(a.amount_ht) for a in avenants), ZERO)


def deltas_by_party(marche: Marche) -> dict[int | None, Decimal]:
    """Σ avenant amounts HT per party whose part they changed (None: the holder)."""
    totals: dict[int | None, Decimal] = {}
    for party_id, amount in db.session.execute(
            select(MarcheAvenant.party_id, func.sum(MarcheAvenant.amount_ht))
            .where(MarcheAvenant.marche_id == marche.id).group_by(MarcheAvenant.party_id)):
        totals[party_id] = Decimal(amount)
    return totals


@dataclass(frozen=True)
class ShownAvenant:
    avenant: MarcheAvenant
    party: MarcheParty | None
    readable: bool  # the reader reads that part's amounts (else: « part d'une autre entreprise »)


@dataclass(frozen=True)
class AvenantsPage:
    initial_ht: Decimal
    current_ht: Decimal
    avenants: list[ShownAvenant]
    parts: list[MarcheParty]  # the parts an avenant may change (MOA's form)
    lines: list[PriceLine]  # the bordereau's lines (MOA's form)


def page_of(access: marche_ops.MarcheAccess) -> AvenantsPage:
    """What the avenants page shows to this structure (three queries)."""
    marche = access.marche
    rows = {row.id: row for row in access.rows}
    avenants = avenants_of(marche)
    shown = [ShownAvenant(a, rows.get(a.party_id), a.party_id is None or access.full or a.party_id in access.amounts)
             for a in avenants]
    parts = [row for row in access.rows if row.is_active and row.role in PART_ROLES] if access.is_moa else []
    lines = list(db.session.scalars(select(PriceLine).where(PriceLine.marche_id == marche.id)
                                    .order_by(PriceLine.position, PriceLine.id))) if access.is_moa else []
    return AvenantsPage(initial_amount_ht(marche, avenants), Decimal(marche.montant_ht), shown, parts, lines)


# ---------------------------------------------------------------------------------------------------------------------
# Recording


@dataclass(frozen=True)
class LineChange:
    line: PriceLine
    new_quantity: Decimal | None
    new_amount: Decimal

    @property
    def delta(self) -> Decimal:
        return self.new_amount - Decimal(self.line.amount_ht)


def _signed_on(raw: Mapping[str, Any], marche: Marche, now: datetime) -> date:
    value = raw.get("signed_on")
    if not isinstance(value, date):
        try:
            value = date_rules.parse_iso_day(str(value or ""))
        except date_rules.ImplausibleDate as error:
            raise OperationError(str(error), field="signed_on") from None
        except ValueError:
            raise OperationError("Indiquez la date de signature de l'avenant, par exemple 2026-06-30.",
                                 field="signed_on") from None
    if value > marche_ops.today(now):
        raise OperationError("La date de signature ne peut pas être dans le futur.", field="signed_on")
    start = marche_ops.marche_start(marche)
    if start is not None and value < start:
        raise OperationError(f"Un avenant ({value:%d/%m/%Y}) ne peut précéder le marché (son mois zéro commence le "
                             f"{start:%d/%m/%Y}).", field="signed_on")
    return value


def _party(access: marche_ops.MarcheAccess, raw: Mapping[str, Any]) -> MarcheParty | None:
    """Whose part the avenant changes: a holder, a co-traitant or a sous-traitant of the marché (empty: the holder)."""
    value = str(raw.get("party_id") or "").strip()
    if not value:
        return None
    row = next((r for r in access.rows if str(r.id) == value and r.is_active and r.role in PART_ROLES), None)
    if row is None:
        raise OperationError("Choisissez l'entreprise dont la part est modifiée.", field="party_id")
    return row


def _line_changes(marche: Marche, raw: Mapping[str, Any]) -> list[LineChange]:
    """`line_<id>`: the new quantity of a unit-price line, or the new amount HT of a lump-sum line."""
    changes = []
    lines = {line.id: line for line in db.session.scalars(select(PriceLine).where(PriceLine.marche_id == marche.id))}
    for name, value in raw.items():
        if not name.startswith("line_") or str(value or "").strip() == "":
            continue
        try:
            line = lines[int(name.removeprefix("line_"))]
        except (ValueError, KeyError):
            raise OperationError("Cette ligne n'est pas au bordereau du marché.", field=name) from None
        if line.lump_sum:
            amount = marche_ops.parse_decimal(value, name)
            changes.append(LineChange(line, None, amount))
        else:
            quantity = marche_ops.parse_decimal(value, name, places=3)
            changes.append(LineChange(line, quantity, _cent(quantity * Decimal(line.unit_price_ht))))
    return [c for c in changes if c.delta != 0]


def _new_line(marche: Marche, raw: Mapping[str, Any], owner_id: int | None) -> PriceLine | None:
    reference = str(raw.get("new_reference") or "").strip()
    if not reference:
        return None
    if len(reference) > 30:
        raise OperationError("30 caractères au plus.", field="new_reference")
    if db.session.scalar(select(PriceLine.id).where(PriceLine.marche_id == marche.id,
                                                    PriceLine.reference == reference)) is not None:
        raise OperationError("Une ligne du bordereau porte déjà cette référence.", field="new_reference")
    designation = str(raw.get("new_designation") or "").strip()
    if not designation or len(designation) > 300:
        raise OperationError("Indiquez la désignation de la nouvelle ligne (300 caractères au plus).",
                             field="new_designation")
    unit = str(raw.get("new_unit") or "").strip()[:20]
    quantity = marche_ops.parse_decimal(raw.get("new_quantity"), "new_quantity", places=3, optional=True)
    unit_price = marche_ops.parse_decimal(raw.get("new_unit_price"), "new_unit_price", optional=True)
    if quantity is not None and unit_price is not None:
        amount = _cent(quantity * unit_price)
        lump_sum = False
    else:
        amount = marche_ops.parse_decimal(raw.get("new_amount"), "new_amount", optional=True)
        if amount is None:
            raise OperationError("Indiquez la quantité et le prix unitaire de la nouvelle ligne, ou son montant "
                                 "forfaitaire HT.", field="new_quantity")
        lump_sum, quantity, unit_price = True, None, None
    if amount <= 0:
        raise OperationError("Une ligne ajoutée a un montant positif.", field="new_amount")
    position = db.session.scalar(select(func.coalesce(func.max(PriceLine.position), 0))
                                 .where(PriceLine.marche_id == marche.id)) + 1
    return PriceLine(marche_id=marche.id, party_id=owner_id, position=position, reference=reference,
                     designation=designation, unit=unit, quantity=quantity, unit_price_ht=unit_price,
                     lump_sum=lump_sum, amount_ht=amount)


def _works_certified(marche: Marche) -> tuple[Decimal, dict[int, Decimal]]:
    """The works at base prices the issued états have certified, for the marché and per beneficiary."""
    from chorus_chain.operations import money as adapter

    state = adapter.previous_state(marche)
    if state is None:
        return ZERO, {}
    per = {int(key): state.of(key).works_ht for key in state.keys()}
    return sum(per.values(), ZERO), per


def record_avenant(account: Account, structure: Structure, access: marche_ops.MarcheAccess, raw: Mapping[str, Any],
                   *, now: datetime) -> MarcheAvenant:
    """The MOA records a signed modification of the marché (see the module docstring). Flushes; never commits."""
    from chorus_chain.operations import money as adapter

    if not access.is_moa:
        raise OperationError("Seul le maître d'ouvrage enregistre une modification du marché (avenant).")
    marche = access.marche
    signed_on = _signed_on(raw, marche, now)
    amount = _signed_amount(raw.get("amount_ht"), "amount_ht")
    objet = str(raw.get("objet") or "").strip()
    if not objet:
        raise OperationError("Indiquez l'objet de l'avenant.", field="objet")
    if len(objet) > 500:
        raise OperationError("500 caractères au plus.", field="objet")
    party = _party(access, raw)
    holder = next((r for r in access.rows if r.role in Role.HOLDERS and r.is_active), None)
    owner = party or holder
    changes = _line_changes(marche, raw)
    new_line = _new_line(marche, raw, party.id if party is not None else None)  # None: the holder's line

    before = Decimal(marche.montant_ht)
    after = before + amount
    if after <= 0:
        raise OperationError(f"Cet avenant ({format_euros(amount)} HT) annulerait le marché "
                             f"({format_euros(before)} HT).", field="amount_ht")

    # The bordereau is the marché: once complete, or when the avenant touches it, its changes make the avenant.
    whole = db.session.scalar(select(func.coalesce(func.sum(PriceLine.amount_ht), 0))
                              .where(PriceLine.marche_id == marche.id))
    lines_delta = sum((c.delta for c in changes), ZERO) + (Decimal(new_line.amount_ht) if new_line else ZERO)
    if (Decimal(whole) == before or changes or new_line) and lines_delta != amount:
        raise OperationError(
            f"Les lignes du bordereau modifiées et ajoutées font {format_euros(lines_delta)} HT, l'avenant "
            f"{format_euros(amount)} HT : le bordereau des prix doit rester égal au montant du marché.",
            field="amount_ht")

    # Never below what the issued états have already certified (and paid or put in payment).
    certified, per_key = _works_certified(marche)
    if after < certified:
        raise OperationError(
            f"Cet avenant porterait le marché à {format_euros(after)} HT, en dessous des {format_euros(certified)} HT "
            "de travaux déjà réglés par les états d'acompte émis : une modification ne reprend pas ce qui est payé.",
            field="amount_ht")

    # The part's amount in the chain moves with it (a holder's or member's part TTC; a sous-traitant's DC4).
    dc4_avenant = None
    tentative: dict[int, Decimal | None] = {}
    if owner is not None and owner.montant_ttc is not None:
        if owner.role == Role.SOUS_TRAITANT:
            if not raw.get("modifies_dc4"):
                _check_lines_within_dc4(marche, access, owner, changes, new_line)
            else:
                chain = access.chain
                reverse = graph.autoliquidation(chain, owner.id) if chain and owner.id in chain.parties else False
                delta = amount if reverse else ttc_of(amount, marche.tva_rate)
                tentative[owner.id] = Decimal(owner.montant_ttc) + delta
        else:
            tentative[owner.id] = Decimal(owner.montant_ttc) + ttc_of(amount, marche.tva_rate)
    if owner is not None and owner.role == Role.SOUS_TRAITANT:
        # A sous-traitant's part is carved out of its contractor's: a contractor whose part is an amount (a member
        # of a groupement) grows or shrinks with it; a titulaire without an amount holds the rest of the marché.
        contractor = next((r for r in access.rows if r.id == owner.parent_id), None)
        if contractor is not None and contractor.montant_ttc is not None and contractor.role != Role.SOUS_TRAITANT:
            tentative[contractor.id] = Decimal(contractor.montant_ttc) + ttc_of(amount, marche.tva_rate)
    for party_id, value in tentative.items():
        if value is not None and value < 0:
            raise OperationError("Cet avenant rendrait négative la part de l'entreprise.", field="amount_ht")

    _check_part_not_below_certified(marche, access, owner, amount, per_key)

    # Every rule of the chain on the would-be rows, with the marché at its new amount; nothing is left changed on a
    # refusal (the rows and the marché are put back before the error goes up).
    old_amounts = {row.id: row.montant_ttc for row in access.rows if row.id in tentative}
    old_version = marche.version
    chain_ops.touch(marche)  # a new version: no cached chain of the old amounts is read by the checks
    marche.montant_ht = after
    for row in access.rows:
        if row.id in tentative:
            row.montant_ttc = tentative[row.id]
    try:
        marche_ops._check_chain(marche, access.rows, chain_ops.to_info(marche), field_name="amount_ht")
        for change in changes:
            change.line.amount_ht = change.new_amount
            if change.new_quantity is not None:
                change.line.quantity = change.new_quantity
        if new_line is not None:
            db.session.add(new_line)
        try:
            adapter.beneficiaries_of(marche)  # the parts must still add up to the marché as modified
        except OperationError as error:
            raise OperationError(error.message, field="amount_ht") from None
    except OperationError:
        marche.montant_ht = before
        marche.version = old_version
        for row in access.rows:
            if row.id in old_amounts:
                row.montant_ttc = old_amounts[row.id]
        for change in changes:
            db.session.refresh(change.line)
        if new_line is not None and new_line in db.session:
            db.session.expunge(new_line)
        raise

    number = (db.session.scalar(select(func.max(MarcheAvenant.number))
                                .where(MarcheAvenant.marche_id == marche.id)) or 0) + 1
    if owner is not None and owner.role == Role.SOUS_TRAITANT and owner.id in tentative:
        dc4_avenant = Dc4Avenant(party_id=owner.id, old_montant_ttc=old_amounts[owner.id],
                                 new_montant_ttc=tentative[owner.id], signed_on=signed_on,
                                 reason=f"Avenant n° {number} au marché : {objet}"[:500], account_id=account.id,
                                 created_at=now)
        db.session.add(dc4_avenant)
        db.session.flush()
    avenant = MarcheAvenant(
        marche_id=marche.id, number=number, signed_on=signed_on, amount_ht=amount,
        party_id=party.id if party is not None else None, objet=objet,
        lines=[{"reference": c.line.reference, "old_amount_ht": str(_cent(Decimal(c.new_amount) - c.delta)),
                "new_amount_ht": str(c.new_amount)} for c in changes]
        + ([{"reference": new_line.reference, "old_amount_ht": None, "new_amount_ht": str(new_line.amount_ht)}]
           if new_line else []),
        dc4_avenant_id=dc4_avenant.id if dc4_avenant else None, montant_before_ht=before, montant_after_ht=after,
        account_id=account.id, created_at=now)
    db.session.add(avenant)
    db.session.flush()
    if new_line is not None:
        new_line.avenant_id = avenant.id
    db.session.flush()
    marche_ops.record(marche, "marche.avenant", account=account, structure=structure, party=party, number=number,
                      signed_on=signed_on, amount_ht=amount, montant_before_ht=before, montant_after_ht=after,
                      objet=objet, lines=avenant.lines,
                      dc4_new_montant_ttc=dc4_avenant.new_montant_ttc if dc4_avenant else None)
    return avenant


def _check_lines_within_dc4(marche: Marche, access: marche_ops.MarcheAccess, owner: MarcheParty,
                            changes: list[LineChange], new_line: PriceLine | None) -> None:
    """A sous-traitant's part changed without its acte spécial: its lines (TTC unless reverse-charged) must stay
    within its DC4 ceiling; with no bordereau its part *is* its DC4 amount, so the DC4 must change with it."""
    own = list(db.session.scalars(select(PriceLine).where(PriceLine.marche_id == marche.id,
                                                          PriceLine.party_id == owner.id)))
    if not own and not new_line:
        raise OperationError(
            f"La part de {owner.name} en paiement direct est le montant de son acte spécial (DC4) : cochez « l'acte "
            "spécial est modifié en conséquence » pour la changer.", field="modifies_dc4")
    changed = {c.line.id: c.new_amount for c in changes}
    total_ht = sum((changed.get(line.id, Decimal(line.amount_ht)) for line in own), ZERO)
    total_ht += Decimal(new_line.amount_ht) if new_line and new_line.party_id == owner.id else ZERO
    chain = access.chain
    reverse = graph.autoliquidation(chain, owner.id) if chain and owner.id in chain.parties else False
    total = total_ht if reverse else ttc_of(total_ht, marche.tva_rate)
    ceiling = Decimal(owner.montant_ttc)
    if total > ceiling:
        raise OperationError(
            f"Avec cet avenant, la part de {owner.name} ({format_euros(total)}"
            f"{'' if reverse else ' TTC'}) dépasserait le plafond de son acte spécial (DC4) de "
            f"{format_euros(ceiling)} : un sous-traitant n'est jamais payé directement au-delà (loi 75-1334, art. 6). "
            "Cochez « l'acte spécial est modifié en conséquence » si un acte spécial modificatif a été accepté.",
            field="modifies_dc4")


def _check_part_not_below_certified(marche: Marche, access: marche_ops.MarcheAccess, owner: MarcheParty | None,
                                    amount: Decimal, per_key: dict[int, Decimal]) -> None:
    """A part reduced below the works its beneficiary already had certified is refused (the marché's own check is
    the caller's)."""
    if owner is None or amount >= 0 or not per_key:
        return
    from chorus_chain.operations import money as adapter

    keys = [b.key for b in adapter.beneficiaries_of(marche, check=False)]
    chain = access.chain
    if chain is None or owner.id not in chain.parties:
        return
    key = adapter.paid_through(chain, owner.id, keys)
    if key is None or key not in per_key:
        return
    part = next(b.part_ht for b in adapter.beneficiaries_of(marche, check=False) if b.key == key)
    if part + amount < per_key[key]:
        raise OperationError(
            f"Cet avenant porterait la part de {owner.name} à {format_euros(part + amount)} HT, en dessous des "
            f"{format_euros(per_key[key])} HT de travaux déjà réglés par les états d'acompte émis.",
            field="amount_ht")
