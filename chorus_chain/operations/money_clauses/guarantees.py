"""Recording a guarantee that replaces the retenue de garantie of one beneficiary (R2191-36).

The maître d'ouvrage records it (it is the one who receives it): the beneficiary it covers (a company the buyer pays:
titulaire or mandataire, co-traitant, sous-traitant in paiement direct), its kind (garantie à première demande or
caution personnelle et solidaire), its date and the amount of retenue it replaces (empty: all of it). Refused in
French, nothing changed: a date before the marché (its mois zéro) or in the future, an amount above the retenue of
that company's part (R2191-36: "ne peut être supérieur à celui de la retenue de garantie qu'elle remplace").
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import money as engine
from chorus_chain.domain.money.rounding import fmt_euros, fmt_number
from chorus_chain.extensions import db
from chorus_chain.models import Account, RetenueGuarantee, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations import money as adapter
from chorus_chain.operations.marches import MarcheAccess, record

KIND_LABELS = engine.GUARANTEE_KINDS
EVENT = "retenue.guarantee"


def parse_day(value: Any, field: str, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date_rules.parse_iso_day(str(value or ""))
    except date_rules.ImplausibleDate as error:
        raise OperationError(str(error), field=field) from None
    except ValueError:
        raise OperationError(f"Indiquez {what}, par exemple 2026-03-15.", field=field) from None


def beneficiary(access: MarcheAccess, party_id: Any) -> engine.Beneficiary:
    """The beneficiary `party_id` names (a company the buyer pays on this marché), or a French refusal."""
    beneficiaries = adapter.beneficiaries_of(access.marche, check=False)
    try:
        key = int(party_id)
    except (TypeError, ValueError):
        key = None
    found = next((b for b in beneficiaries if b.key == key), None)
    if found is None:
        raise OperationError("Choisissez une entreprise payée par l'acheteur sur ce marché (titulaire, co-traitant "
                             "ou sous-traitant en paiement direct).", field="party_id")
    return found


def add_guarantee(account: Account, structure: Structure, access: MarcheAccess, raw: Mapping[str, Any], *,
                  now: datetime) -> RetenueGuarantee:
    if not access.is_moa:
        raise OperationError("Seul le maître d'ouvrage enregistre une garantie remplaçant la retenue de garantie.")
    marche = access.marche
    b = beneficiary(access, raw.get("party_id"))
    kind = raw.get("kind")
    if kind not in KIND_LABELS:
        raise OperationError("Choisissez une garantie à première demande ou une caution personnelle et solidaire.",
                             field="kind")
    given_on = parse_day(raw.get("given_on"), "given_on", "la date de la garantie")
    start = marche_ops.marche_start(marche)
    if start is not None and given_on < start:
        raise OperationError(f"La garantie ({given_on:%d/%m/%Y}) ne peut pas précéder le marché (son mois zéro "
                             f"commence le {start:%d/%m/%Y}).", field="given_on")
    if given_on > marche_ops.today(now):
        raise OperationError("La garantie ne peut pas être datée dans le futur : enregistrez-la une fois donnée.",
                             field="given_on")
    amount = marche_ops.parse_decimal(raw.get("amount"), "amount", optional=True)
    if amount is not None:
        if amount <= 0:
            raise OperationError("Le montant de la garantie doit être positif (laissez vide : toute la retenue).",
                                 field="amount")
        ceiling = retenue_ceiling(access, b)
        if amount > ceiling:
            raise OperationError(
                f"Le montant de la garantie ({fmt_euros(amount)}) dépasse la retenue de garantie qu'elle "
                f"remplace : {fmt_euros(ceiling)} au plus pour {b.name} (taux × sa part TTC, R2191-36).",
                field="amount")
    row = RetenueGuarantee(marche_id=marche.id, party_id=b.key, kind=kind, given_on=given_on, amount=amount,
                           account_id=account.id)
    db.session.add(row)
    db.session.flush()
    party = access.row(b.key)
    record(marche, EVENT, account=account, structure=structure, party=party, guarantee_id=row.id, guarantee_kind=kind,
           given_on=given_on, amount=amount if amount is not None else "toute la retenue")
    return row


def retenue_ceiling(access: MarcheAccess, b: engine.Beneficiary) -> Decimal:
    """The most retenue `b`'s part can bear: rate × its part TTC (HT when reverse-charged), to the cent. The
    contractor's share also bears the VAT it collects on its reverse-charged sous-traitants (domain.money.retenue)."""
    marche = access.marche
    rate = Decimal(marche.retenue_rate) / 100
    vat = Decimal(marche.tva_rate) / 100
    if b.autoliquidation:
        base = b.part_ht
    else:
        base = b.part_ht * (1 + vat)
    if not b.is_sous_traitant:
        base += sum((s.part_ht * vat for s in adapter.beneficiaries_of(marche, check=False)
                     if s.contractor_key == b.key and s.autoliquidation), Decimal(0))
    return engine.cent(rate * base)
