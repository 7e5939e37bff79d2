"""The adapter between the money rows of a marché and the pure money engine (`chorus_chain.domain.money`).

No Flask, no rule of its own: it reads rows and builds the engine's inputs, so that the figures on screen, in the
export and in the issued état come from one computation.

- `terms_of(marche)` → `MarcheTerms`: the DB stores rates in percent, the engine wants fractions;
- `beneficiaries_of(marche)` → the engine's `Beneficiary`s from the confirmed parties, through the chain graph: the
  titulaire or mandataire, each co-traitant, each sous-traitant in paiement direct (rang 1, ≥ 600 € TTC, DC4
  accepted) with its DC4 ceiling; their parts HT add up to the marché amount (the engine checks it);
- `index_table_of(marche)` → `IndexTable` from the `IndexValue` rows the MOE entered;
- `decompte_of(marche, number, month, decomptes, penalties)` → `DecompteMensuel` (claimed and admitted);
- `previous_state(marche)` → the `CumulState` frozen in the last issued état (None before the first).

Every refusal is an `OperationError` carrying the engine's French message.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from chorus_chain import graph
from chorus_chain.domain import money as engine
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Marche
from chorus_chain.models.money import Decompte, DecompteLine, EtatAcompte, IndexValue, MarchePenalty, PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import money_clauses

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def refusal(error: engine.MoneyError) -> OperationError:
    """The engine's French refusal as the operations' own."""
    return OperationError(error.message, field=error.field)


def _fraction(percent: Decimal) -> Decimal:
    """5.00 (%) → 0.05: the DB keeps what people type, the engine computes on fractions."""
    return (Decimal(percent) / HUNDRED).normalize() if percent else Decimal(0)


def _or(value, default):
    """A column's value, or its default on a marché not flushed yet (the ORM fills defaults at the flush)."""
    return default if value is None else value


def _cent(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------------------------------
# Terms


def terms_of(marche: Marche, beneficiaries: Sequence[engine.Beneficiary] | None = None) -> engine.MarcheTerms:
    """The marché's financial terms for the engine. `retenue_replaced_by_guarantee` is a marché-wide setting: the
    guarantee replaces the retenue of every beneficiary (the engine still shows what would have been held); the
    guarantees of one beneficiary, for an amount, and the pace of the advance repayment are the marché's money
    clauses (`operations.money_clauses`)."""
    try:
        replaced: frozenset = frozenset()
        if marche.retenue_replaced_by_guarantee:
            beneficiaries = beneficiaries if beneficiaries is not None else beneficiaries_of(marche)
            replaced = frozenset(b.key for b in beneficiaries)
        revision = None
        if marche.has_revision:
            if marche.revision_a is None or not marche.revision_base_month:
                raise engine.MoneyError(
                    f"Le marché est révisable sur l'indice {marche.revision_index} : indiquez la partie fixe a et le "
                    "mois zéro de la formule de révision dans les conditions du marché.", field="revision_a")
            revision = engine.RevisionTerms(a=Decimal(marche.revision_a), index=marche.revision_index,
                                            base_month=marche.revision_base_month)
        return engine.MarcheTerms(
            montant_ht=Decimal(marche.montant_ht),
            tva_rate=_fraction(marche.tva_rate),
            duration_months=marche.duration_months,
            groupement=marche.groupement,
            retenue=engine.RetenueSettings(rate=_fraction(marche.retenue_rate), replaced=replaced,
                                           guarantees=money_clauses.guarantees_of(marche)),
            avance=engine.AvanceSettings(
                rate=_fraction(marche.avance_rate), guarantee=bool(marche.avance_guarantee),
                schedule=engine.RepaymentSchedule.linear(end=_fraction(marche.avance_repayment_end),
                                                         start=_fraction(_or(marche.avance_repayment_start,
                                                                             Decimal("65.00")))),
                basis=engine.RepaymentBasis(_or(marche.avance_repayment_basis, "own_part")),
                fixed=money_clauses.fixed_repayments_of(marche)),
            revision=revision,
            penalties=engine.PenaltySettings(
                daily_amount=None if marche.penalty_daily_amount is None else Decimal(marche.penalty_daily_amount),
                exemption_threshold_ht=engine.CCAG_2021_EXEMPTION_HT if marche.penalty_exemption else None),
        )
    except engine.MoneyError as error:
        raise refusal(error) from None


# ---------------------------------------------------------------------------------------------------------------------
# Beneficiaries


def _ht_of_ttc(amount_ttc: Decimal, tva_percent: Decimal) -> Decimal:
    return _cent(Decimal(amount_ttc) / (1 + Decimal(tva_percent) / HUNDRED))


def beneficiary_keys(chain: graph.Chain) -> list[int]:
    """The parties the buyer pays, in the chain's order: the holder, the co-traitants, the sous-traitants in
    paiement direct. Only confirmed parties count (an invited company has not signed anything yet)."""
    keys = []
    for key in sorted(chain.parties):
        party = chain.party(key)
        if not party.confirmed:
            continue
        if party.role in Role.HOLDERS or party.role == Role.COTRAITANT:
            keys.append(key)
        elif party.role == Role.SOUS_TRAITANT and graph.paiement_direct(chain, key):
            keys.append(key)
    return keys


def paid_through(chain: graph.Chain, key: int, beneficiaries: Iterable[int]) -> int | None:
    """The beneficiary whose part covers party `key`: itself, or the nearest contractor above it that is paid by the
    buyer (a rang-2 sous-traitant's work is inside its rang-1's part, or its contractor's)."""
    paid = set(beneficiaries)
    if key in paid:
        return key
    for above in graph.contractors_above(chain, key):
        if above.key in paid:
            return above.key
    return None


def _price_line_totals(marche: Marche, chain: graph.Chain, keys: list[int]) -> dict[int, Decimal]:
    """Σ price lines per beneficiary (lines without a party belong to the holder; a line of a company that is not
    paid directly counts for the beneficiary above it). Only a complete schedule (its lines add up to the marché
    amount) decides the parts: a bordereau still being entered would make every part but the last look too small."""
    holder = next((k for k in keys if chain.party(k).role in Role.HOLDERS), None)
    totals: dict[int, Decimal] = {}
    whole = ZERO
    for party_id, amount in db.session.execute(
            select(PriceLine.party_id, PriceLine.amount_ht).where(PriceLine.marche_id == marche.id)):
        whole += Decimal(amount)
        owner = holder if party_id is None else (
            paid_through(chain, party_id, keys) if party_id in chain.parties else None)
        if owner is not None:
            totals[owner] = totals.get(owner, ZERO) + Decimal(amount)
    return totals if whole == Decimal(marche.montant_ht) else {}


def beneficiaries_of(marche: Marche, *, check: bool = True) -> list[engine.Beneficiary]:
    """The engine's beneficiaries of the marché (see the module docstring).

    Part HT: the sum of the party's price lines when the (complete) bordereau maps lines to it; else its amount in
    the chain
    (a groupement member's part TTC → HT at the marché's VAT rate; a sous-traitant's accepted DC4 amount, which is
    without VAT under autoliquidation; a titulaire without an amount holds the whole marché). A contractor whose part
    comes from the chain amount is given net of its sous-traitants in paiement direct (they are paid their own part);
    a contractor's price lines are its own already. `check`: the engine's consistency check (the parts add up to
    the marché amount), refused with its French message."""
    rows = chain_ops.rows_of(marche)
    row_of = {row.id: row for row in rows}
    chain = chain_ops.chain_of(marche, rows)
    keys = beneficiary_keys(chain)
    lines = _price_line_totals(marche, chain, keys)
    montant_ht = Decimal(marche.montant_ht)
    gross: dict[int, Decimal] = {}
    for key in keys:
        party = chain.party(key)
        if key in lines:
            gross[key] = lines[key]
        elif party.role == Role.TITULAIRE and party.montant_ttc is None:
            gross[key] = montant_ht
        elif party.montant_ttc is None:
            gross[key] = ZERO
        elif party.role == Role.SOUS_TRAITANT and graph.autoliquidation(chain, key):
            gross[key] = Decimal(party.montant_ttc)
        else:
            gross[key] = _ht_of_ttc(party.montant_ttc, marche.tva_rate)
    declined = money_clauses.avance_declined_keys(marche)
    result = []
    for key in keys:
        party = chain.party(key)
        part = gross[key]
        if party.role != Role.SOUS_TRAITANT and key not in lines:
            part -= sum((gross[k] for k in keys
                         if chain.party(k).role == Role.SOUS_TRAITANT and chain.party(k).parent_key == key), ZERO)
        try:
            if party.role == Role.SOUS_TRAITANT:
                autoliquidation = graph.autoliquidation(chain, key)
                result.append(engine.Beneficiary(
                    key=key, name=party.name, role=Role.SOUS_TRAITANT, part_ht=part, contractor_key=party.parent_key,
                    paiement_direct=True, autoliquidation=autoliquidation,
                    dc4_ceiling_ttc=Decimal(party.montant_ttc), takes_avance=key not in declined,
                    dc4_ceiling_base=engine.Dc4CeilingBase.TTC_INCLUDING_REVISION
                    if row_of[key].dc4_ceiling_includes_revision else engine.Dc4CeilingBase.TTC_EXCLUDING_REVISION))
            else:
                result.append(engine.Beneficiary(key=key, name=party.name, role=party.role, part_ht=part))
        except engine.MoneyError as error:
            raise refusal(error) from None
    result = _with_initial_parts(marche, chain, result)
    if check:
        try:
            engine.check_beneficiaries(terms_of(marche, result), result)
        except engine.MoneyError as error:
            raise refusal(error) from None
    return result


def _with_initial_parts(marche: Marche, chain: graph.Chain, result: list[engine.Beneficiary]
                        ) -> list[engine.Beneficiary]:
    """Each beneficiary's part as signed, before the avenants (issue 16): its part less the avenants that changed it
    (an avenant without a party changed the holder's). The engine computes the advance on it (R2191-7, R2191-10).
    A part moved through its TTC amount (a co-traitant's, a sous-traitant's DC4 with VAT) is converted back to HT at
    the cent, so its initial part may differ from the signed one by a cent of rounding."""
    from chorus_chain.operations import avenants

    deltas = avenants.deltas_by_party(marche)
    if not deltas:
        return result
    keys = [b.key for b in result]
    holder = next((b.key for b in result if b.role in Role.HOLDERS), None)
    by_key: dict[int, Decimal] = {}
    for party_id, delta in deltas.items():
        key = holder if party_id is None else (
            paid_through(chain, party_id, keys) if party_id in chain.parties else None)
        if key is not None:
            by_key[key] = by_key.get(key, ZERO) + delta
    try:
        return [replace(b, initial_part_ht=max(ZERO, b.part_ht - by_key[b.key])) if b.key in by_key else b
                for b in result]
    except engine.MoneyError as error:
        raise refusal(error) from None


# ---------------------------------------------------------------------------------------------------------------------
# Index, décompte, previous état


def index_table_of(marche: Marche) -> engine.IndexTable | None:
    """The values the MOE entered for the marché's revision index (None: prices are firm)."""
    if not marche.has_revision:
        return None
    values = db.session.scalars(select(IndexValue).where(IndexValue.marche_id == marche.id)
                                .order_by(IndexValue.month)).all()
    try:
        return engine.IndexTable(marche.revision_index, tuple(
            engine.IndexValue(v.month, Decimal(v.value),
                              engine.IndexStatus.DEFINITIVE if v.definitive else engine.IndexStatus.PROVISIONAL)
            for v in values))
    except engine.MoneyError as error:
        raise refusal(error) from None


def load_decomptes(ids: Iterable[int]) -> list[Decompte]:
    """Décomptes with their lines and price lines (one query each)."""
    ids = list(ids)
    if not ids:
        return []
    return list(db.session.scalars(
        select(Decompte).where(Decompte.id.in_(ids)).order_by(Decompte.id)
        .options(selectinload(Decompte.lines).selectinload(DecompteLine.price_line))))


def admitted_line_amount(line: DecompteLine) -> Decimal:
    return Decimal(line.admitted)


def _admitted(decompte: Decompte, name: str) -> Decimal:
    value = getattr(decompte, f"admitted_{name}")
    return Decimal(value if value is not None else getattr(decompte, name))


def claimed_part(decompte: Decompte, key: int) -> engine.PartDecompte:
    """What the depositor claims, cumulative HT at base prices; travaux = Σ its lines."""
    return engine.PartDecompte(
        key=key, travaux=sum((Decimal(line.amount_ht) for line in decompte.lines), ZERO),
        approvisionnements=Decimal(decompte.approvisionnements), primes=Decimal(decompte.primes),
        debours=Decimal(decompte.debours), refactions=Decimal(decompte.refactions))


def admitted_part(decompte: Decompte, key: int) -> engine.PartDecompte:
    """What the MOE admits: its figure where it entered one, the claimed one elsewhere."""
    return engine.PartDecompte(
        key=key, travaux=sum((admitted_line_amount(line) for line in decompte.lines), ZERO),
        approvisionnements=_admitted(decompte, "approvisionnements"), primes=_admitted(decompte, "primes"),
        debours=_admitted(decompte, "debours"), refactions=_admitted(decompte, "refactions"))


def carried_parts(marche: Marche, keys: Iterable[int], before_number: int | None = None
                  ) -> dict[int, engine.PartDecompte]:
    """The last admitted cumulative of each beneficiary, from the décomptes linked to issued états: a beneficiary
    that claims nothing this month keeps its cumulative (the décompte is cumulative since the start)."""
    keys = set(keys)
    query = (select(Decompte.id, Decompte.party_id).join(EtatAcompte, EtatAcompte.id == Decompte.etat_acompte_id)
             .where(Decompte.marche_id == marche.id, EtatAcompte.status == "issued")
             .order_by(EtatAcompte.number, Decompte.id))
    if before_number is not None:
        query = query.where(EtatAcompte.number < before_number)
    latest: dict[int, int] = {}
    for decompte_id, party_id in db.session.execute(query):
        latest[party_id] = decompte_id
    found = {d.party_id: d for d in load_decomptes(latest[k] for k in latest if k in keys)}
    return {key: admitted_part(found[key], key) for key in found}


def penalties_of(rows: Iterable[MarchePenalty]) -> tuple[engine.Penalty, ...]:
    try:
        return tuple(engine.Penalty(key=row.party_id, label=row.label, days=row.days,
                                    amount=None if row.amount is None else Decimal(row.amount)) for row in rows)
    except engine.MoneyError as error:
        raise refusal(error) from None


def decompte_of(marche: Marche, number: int, month: str, decomptes: Sequence[Decompte],
                penalties: Iterable[MarchePenalty], beneficiaries: Sequence[engine.Beneficiary]
                ) -> engine.DecompteMensuel:
    """The décompte mensuel n: for each beneficiary its projet de décompte of the month (claimed and admitted), or
    its last admitted cumulative when it claimed nothing; every penalty applied up to this état. Each décompte
    counts for the beneficiary that deposited it (or the one paid for its work, see `paid_through`)."""
    chain = chain_ops.chain_of(marche)
    keys = [b.key for b in beneficiaries]
    by_key: dict[int, Decompte] = {}
    for decompte in decomptes:
        owner = paid_through(chain, decompte.party_id, keys) if decompte.party_id in chain.parties else None
        if owner is None:
            raise OperationError(f"Le projet de décompte n° {decompte.id} n'est rattaché à aucun bénéficiaire payé "
                                 "par l'acheteur.")
        kept = by_key.get(owner)
        if kept is not None and kept.month == decompte.month:
            raise OperationError("Deux projets de décompte du même mois pour la même entreprise : le maître d'œuvre "
                                 "n'en retient qu'un par mois (le plus récent, cumulatif).")
        if kept is not None and kept.party_id != decompte.party_id:  # two companies paid as one: not cumulative
            raise OperationError("Deux projets de décompte de mois différents pour un même bénéficiaire, déposés par "
                                 "deux entreprises : le maître d'œuvre n'en retient qu'un (le plus récent, "
                                 "cumulatif) ; renvoyez l'autre à son entreprise.")
        # A projet of an earlier month that reached the état late, beside the same company's later one: the later,
        # cumulative, carries the figures (`etats_acompte.pdms_of`, `counted_pdms`).
        if kept is None or decompte.month > kept.month:
            by_key[owner] = decompte
    carried = carried_parts(marche, [k for k in keys if k not in by_key], before_number=number)
    parts, claimed = [], []
    for key in keys:
        if key in by_key:
            parts.append(admitted_part(by_key[key], key))
            claimed.append(claimed_part(by_key[key], key))
        else:
            parts.append(carried.get(key, engine.PartDecompte(key=key)))
    try:
        return engine.DecompteMensuel(number=number, month=month, parts=tuple(parts), claimed=tuple(claimed),
                                      penalties=penalties_of(penalties))
    except engine.MoneyError as error:
        raise refusal(error) from None


def last_issued(marche: Marche, before_number: int | None = None) -> EtatAcompte | None:
    query = select(EtatAcompte).where(EtatAcompte.marche_id == marche.id, EtatAcompte.status == "issued")
    if before_number is not None:
        query = query.where(EtatAcompte.number < before_number)
    return db.session.scalar(query.order_by(EtatAcompte.number.desc()).limit(1))


def previous_state(marche: Marche, before_number: int | None = None) -> engine.CumulState | None:
    """The cumulative state frozen in the last issued état (before état n° `before_number`), None before the first."""
    etat = last_issued(marche, before_number)
    if etat is None or not etat.result:
        return None
    return engine.CumulState.from_dict(etat.result["state"])
