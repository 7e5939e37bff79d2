"""Marchés and their chain: creation, designation of parties by SIRET (with invitations), confirmation of a role,
sous-traitance (DC4), the MOA's decision on a DC4 (or its silence, applied by the deadline sweep), DC4 avenants.

Every change of the chain builds the would-be list of party rows and runs `graph.check` on it before anything is
flushed: a refusal raises OperationError with the first violation's French message and changes nothing.
Operations flush, never commit; each records a MarcheEvent and bumps the marché's version.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, url_for
from sqlalchemy import Integer, bindparam, select

from chorus_chain import access, graph
from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain.decimals import NUMBER_MAX, DecimalRefused, read_decimal
from chorus_chain.domain.decimals import shown as shown_decimal
from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import commercial_terms
from chorus_chain.domain import deadlines as deadline_rules
from chorus_chain.domain import identifiers
from chorus_chain.domain.cadres import CADRES
from chorus_chain.extensions import db
from chorus_chain.graph import PAIEMENT_DIRECT_THRESHOLD_TTC, ROLE_LABELS, Chain, Role, format_euros
from chorus_chain.graph.chain import COTRAITANCE_CIRCUITS, GROUPEMENTS, KINDS
from chorus_chain.models import (
    Account,
    Dc4Avenant,
    Deadline,
    Marche,
    MarcheEvent,
    MarcheParty,
    Rattachement,
    Service,
    Structure,
)
from chorus_chain.models.marches import (
    AVANCE_RATE_MAX,
    AVANCE_WITHOUT_GUARANTEE_MAX,
    BUYER_CATEGORIES,
    CCAG_VERSIONS,
    MOE_DAYS_MAX,
    PRICE_FORMS,
    RETENUE_RATE_MAX,
)
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import structures as structure_ops
from chorus_chain.operations.accounts import normalise_email
from chorus_chain.operations.board_reading import parties
from chorus_chain.operations.mail import queue_mail

PARIS = ZoneInfo("Europe/Paris")
DC4_SILENCE_DAYS = 21  # the buyer's silence on a DC4 for 21 days after receipt = acceptance [sure]
INVITATION_MAX_AGE = 30 * 24 * 3600
CREATOR_ROLES = (Role.MOA, Role.TITULAIRE, Role.MANDATAIRE)

# Who may designate a party of each role (sous-traitants are declared by their contractor, see
# `declare_sous_traitant`). The MOA designates the public side and the holder; the holder of a marché it created
# invites the MOA and may name the MOE and paying office; the mandataire names its co-traitants.
DESIGNATORS: dict[str, tuple[str, ...]] = {
    Role.MOA: Role.HOLDERS,
    Role.MOE: (Role.MOA, *Role.HOLDERS),
    Role.PAYING_OFFICE: (Role.MOA, *Role.HOLDERS),
    Role.TITULAIRE: (Role.MOA,),
    Role.MANDATAIRE: (Role.MOA,),
    Role.COTRAITANT: (Role.MOA, Role.MANDATAIRE),
}
DESIGNABLE_ROLES = tuple(DESIGNATORS)
# Roles held by a public buyer: an existing structure designated for them must be a public structure.
PUBLIC_BUYER_ROLES = (Role.MOA, Role.PAYING_OFFICE)


def today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def marche_start(marche: Marche) -> date | None:
    """The first day of the marché when it is known (domain.dates.marche_start: its mois zéro)."""
    return date_rules.marche_start(marche.revision_base_month)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=PARIS)


# ---------------------------------------------------------------------------------------------------------------------
# Parsing the terms of a marché (French input: "1 200 000,00", "5 %")


@dataclass(frozen=True)
class MarcheTerms:
    reference: str
    objet: str
    kind: str
    moa_service_code: str | None
    engagement_number: str | None
    paying_service_code: str | None
    montant_ht: Decimal
    tva_rate: Decimal
    dgp_days: int
    moe_days: int
    retenue_rate: Decimal
    retenue_replaced_by_guarantee: bool
    avance_rate: Decimal
    price_form: str
    revision_a: Decimal | None
    revision_index: str | None
    revision_base_month: str | None
    ccag_version: str
    groupement: str
    cotraitance_circuit: str
    duration_months: int = 12
    avance_guarantee: bool = False
    avance_repayment_end: Decimal = Decimal("80.00")
    penalty_daily_amount: Decimal | None = None
    penalty_exemption: bool = True
    guarantee_months: int = 12
    buyer_category: str = "collectivite_territoriale"


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_decimal(value: Any, field_name: str, *, places: int = 2, optional: bool = False) -> Decimal | None:
    """A French decimal ("1 234,50", "5 %", "1234.5"), with at most `places` decimals, ≥ 0."""
    try:
        number = read_decimal(value, places)
    except DecimalRefused as refused:
        if "décimales" in refused.reason_fr:
            raise OperationError(f"{places} décimales au plus.", field=field_name) from None
        if "trop élevée" in refused.reason_fr:
            raise OperationError(f"Ce nombre est trop grand ({shown_decimal(NUMBER_MAX)} au plus).",
                                 field=field_name) from None
        raise OperationError("Indiquez un nombre, par exemple 1 234,50.", field=field_name) from None
    if number is None:
        if optional:
            return None
        raise OperationError("Ce champ est obligatoire.", field=field_name)
    if number < 0:
        raise OperationError("Le montant doit être positif ou nul.", field=field_name)
    return number


INT_MAX = 9999  # days and months of a marché's terms: four digits are more than any real one


def _parse_int(value: Any, field_name: str, unit: str = "jours") -> int:
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) > len(str(INT_MAX)):
        raise OperationError(f"Ce nombre de {unit} est trop grand.", field=field_name)
    try:
        return int(text)
    except (TypeError, ValueError):
        raise OperationError(f"Indiquez un nombre entier de {unit}.", field=field_name) from None


def _text(raw: Mapping[str, Any], name: str) -> str:
    return str(raw.get(name) or "").strip()


def _choice(raw: Mapping[str, Any], name: str, choices, message: str) -> str:
    value = _text(raw, name)
    if value not in choices:
        raise OperationError(message, field=name)
    return value


def parse_terms(raw: Mapping[str, Any]) -> MarcheTerms:
    """Check and convert the terms of a marché; the first problem is refused with a French field-level message."""
    reference = _text(raw, "reference")
    if not reference:
        raise OperationError("Indiquez la référence du marché.", field="reference")
    if len(reference) > 100:
        raise OperationError("100 caractères au plus.", field="reference")
    objet = _text(raw, "objet")
    if not objet:
        raise OperationError("Indiquez l'objet du marché.", field="objet")
    if len(objet) > 500:
        raise OperationError("500 caractères au plus.", field="objet")
    kind = _choice(raw, "kind", KINDS, "Choisissez travaux, services ou fournitures.")
    engagement = _text(raw, "engagement_number") or None
    if engagement and len(engagement) > 50:
        raise OperationError("Le numéro d'engagement juridique compte 50 caractères au plus.",
                             field="engagement_number")
    moa_service_code = _text(raw, "moa_service_code") or None
    paying_service_code = _text(raw, "paying_service_code") or None
    for name, code in (("moa_service_code", moa_service_code), ("paying_service_code", paying_service_code)):
        if code and len(code) > 100:
            raise OperationError("100 caractères au plus.", field=name)
    montant_ht = parse_decimal(raw.get("montant_ht"), "montant_ht")
    if montant_ht <= 0:
        raise OperationError("Indiquez le montant hors taxes du marché.", field="montant_ht")
    tva_rate = parse_decimal(raw.get("tva_rate"), "tva_rate")
    if tva_rate > 100:
        raise OperationError("Le taux de TVA est un pourcentage (par exemple 20).", field="tva_rate")
    try:
        amount_rules.check_vat_rate(tva_rate)
    except amount_rules.AmountRefused as error:
        raise OperationError(error.message_fr, field="tva_rate") from None
    buyer_category = _text(raw, "buyer_category") or "collectivite_territoriale"
    if buyer_category not in BUYER_CATEGORIES:
        raise OperationError("Choisissez le type d'acheteur : il fixe le délai global de paiement maximal.",
                             field="buyer_category")
    dgp_days = _parse_int(raw.get("dgp_days"), "dgp_days")
    try:  # any number of days up to the buyer's ceiling (30, 50 or 60), not only those three
        deadline_rules.check_dgp_days(dgp_days, buyer_category)
    except deadline_rules.DeadlineSettingError as error:
        raise OperationError(str(error), field="dgp_days") from None
    moe_days = _parse_int(raw.get("moe_days") if raw.get("moe_days") not in (None, "") else 7, "moe_days")
    if not 1 <= moe_days <= MOE_DAYS_MAX:
        raise OperationError(f"Le délai du maître d'œuvre va de 1 à {MOE_DAYS_MAX} jours au plus "
                             "(7 jours recommandés).", field="moe_days")
    retenue_rate = parse_decimal(raw.get("retenue_rate") or "0", "retenue_rate")
    if retenue_rate > RETENUE_RATE_MAX:
        raise OperationError("La retenue de garantie ne peut dépasser 5 % du montant du marché.",
                             field="retenue_rate")
    avance_rate = parse_decimal(raw.get("avance_rate") or "0", "avance_rate")
    if avance_rate > AVANCE_RATE_MAX:
        raise OperationError(f"Le taux de l'avance ne peut dépasser {AVANCE_RATE_MAX} %.", field="avance_rate")
    avance_guarantee = bool(raw.get("avance_guarantee"))
    if avance_rate > AVANCE_WITHOUT_GUARANTEE_MAX and not avance_guarantee:
        raise OperationError(f"Une avance de plus de {AVANCE_WITHOUT_GUARANTEE_MAX} % doit être garantie par une "
                             "garantie à première demande : cochez-la ou réduisez le taux.", field="avance_rate")
    avance_repayment_end = parse_decimal(raw.get("avance_repayment_end") or "80", "avance_repayment_end")
    if not Decimal("65") < avance_repayment_end <= Decimal("100"):
        raise OperationError("Le remboursement de l'avance commence à 65 % d'exécution : il s'achève entre 65 % "
                             "(exclu) et 100 %.", field="avance_repayment_end")
    duration_months = _parse_int(raw.get("duration_months") or 12, "duration_months", unit="mois")
    if not 1 <= duration_months <= 240:
        raise OperationError("La durée du marché s'exprime en mois, de 1 à 240.", field="duration_months")
    guarantee_months = _parse_int(raw.get("guarantee_months") if raw.get("guarantee_months") not in (None, "")
                                  else 12, "guarantee_months", unit="mois")
    if not 0 <= guarantee_months <= 120:
        raise OperationError("Le délai de garantie s'exprime en mois (12 en général).", field="guarantee_months")
    penalty_daily_amount = parse_decimal(raw.get("penalty_daily_amount"), "penalty_daily_amount", optional=True)
    price_form = _choice(raw, "price_form", PRICE_FORMS, "Choisissez la forme du prix.")
    revision_a = revision_index = revision_base_month = None
    if price_form != "ferme":
        revision_index = _text(raw, "revision_index").upper() or None
        if not revision_index:
            raise OperationError("Indiquez l'index de référence (par exemple BT01).", field="revision_index")
        if len(revision_index) > 20:
            raise OperationError("20 caractères au plus.", field="revision_index")
        revision_base_month = _text(raw, "revision_base_month") or None
        if not revision_base_month or not _MONTH.match(revision_base_month):
            raise OperationError("Indiquez le mois de base (mois zéro) sous la forme AAAA-MM, par exemple 2025-01.",
                                 field="revision_base_month")
        revision_a = parse_decimal(raw.get("revision_a"), "revision_a", places=4,
                                   optional=price_form == "actualisable")
        if price_form == "revisable" and revision_a is None:
            raise OperationError("Indiquez la partie fixe a de la formule (souvent 0,125 ou 0,15).",
                                 field="revision_a")
        if revision_a is not None and revision_a > 1:
            raise OperationError("La partie fixe a est comprise entre 0 et 1 (a + b = 1).", field="revision_a")
    ccag_version = _choice(raw, "ccag_version", CCAG_VERSIONS, "Choisissez le CCAG applicable (2021 ou 2009).")
    groupement = _choice(raw, "groupement", GROUPEMENTS, "Choisissez : titulaire seul, groupement conjoint ou "
                                                          "solidaire.")
    circuit = _text(raw, "cotraitance_circuit") or "each"
    if circuit not in COTRAITANCE_CIRCUITS:
        raise OperationError("Choisissez le circuit de facturation des co-traitants.", field="cotraitance_circuit")
    if groupement == "none":
        circuit = "each"
    return MarcheTerms(
        reference=reference, objet=objet, kind=kind, moa_service_code=moa_service_code,
        engagement_number=engagement, paying_service_code=paying_service_code, montant_ht=montant_ht,
        tva_rate=tva_rate, dgp_days=dgp_days, moe_days=moe_days, retenue_rate=retenue_rate,
        retenue_replaced_by_guarantee=bool(raw.get("retenue_replaced_by_guarantee")), avance_rate=avance_rate,
        price_form=price_form, revision_a=revision_a, revision_index=revision_index,
        revision_base_month=revision_base_month, ccag_version=ccag_version, groupement=groupement,
        cotraitance_circuit=circuit, duration_months=duration_months, avance_guarantee=avance_guarantee,
        avance_repayment_end=avance_repayment_end, penalty_daily_amount=penalty_daily_amount,
        penalty_exemption=not raw.get("penalty_no_exemption"), guarantee_months=guarantee_months,
        buyer_category=buyer_category,
    )


def _clean_siret(value: str, field_name: str = "siret") -> str:
    try:
        return identifiers.clean_siret(value)
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field=field_name) from None


def _clean_email(value: str | None, field_name: str) -> str | None:
    email = normalise_email(value or "")
    if not email:
        return None
    if len(email) > 254 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise OperationError("Indiquez une adresse e-mail valide (par exemple nom@entreprise.fr).", field=field_name)
    return email


# ---------------------------------------------------------------------------------------------------------------------
# Reading: what a structure may see


@dataclass
class MarcheAccess:
    """A marché as one structure sees it: its own rows, the chain, and the keys it may see."""

    marche: Marche
    rows: list[MarcheParty]
    own: list[MarcheParty]  # the structure's confirmed rows
    invited: list[MarcheParty]  # the structure's rows waiting for its confirmation
    chain: Chain | None
    visible: set[int] = field(default_factory=set)
    amounts: set[int] = field(default_factory=set)  # the parties whose amounts it reads (chain_ops.amount_keys)

    @property
    def confirmed(self) -> bool:
        return bool(self.own)

    @property
    def full(self) -> bool:
        """Sees the whole chain (and may download the export): the MOA, the MOE, the titulaire or mandataire."""
        return chain_ops.sees_whole_chain(self.own)

    def own_roles(self) -> set[str]:
        return {row.role for row in self.own}

    @property
    def is_moa(self) -> bool:
        return Role.MOA in self.own_roles()

    def row(self, party_id: int) -> MarcheParty | None:
        """A party row this structure may see (None otherwise: the caller answers 404)."""
        for row in self.rows:
            if row.id == party_id and (row.id in self.visible or row in self.invited):
                return row
        return None

    def visible_rows(self) -> list[MarcheParty]:
        return [row for row in self.rows if row.id in self.visible]

    def amount_of(self, row: MarcheParty) -> Decimal | None:
        """The party's amount (its part, its DC4's montant) when this structure may read it, else None: a
        sous-traitant sees who its contractors are, not what they are paid (`chain_ops.amount_keys`)."""
        return row.montant_ttc if row.id in self.amounts else None

    def sees_amount(self, row: MarcheParty) -> bool:
        return row.id in self.amounts

    def designable_roles(self) -> list[str]:
        roles = self.own_roles()
        return [role for role in DESIGNABLE_ROLES if roles & set(DESIGNATORS[role])]

    def contractor_rows(self) -> list[MarcheParty]:
        """The structure's rows that may declare a sous-traitant."""
        return [row for row in self.own if row.role in Role.CONTRACTORS and row.dc4_status != "refused"]

    def sees_bank_details(self, row: MarcheParty) -> bool:
        """Full bank details for the buyer and its paying office (they pay it), and for the company itself."""
        return bool(self.own_roles() & {Role.MOA, Role.PAYING_OFFICE}) or row in self.own


def access_for(structure: Structure, marche_id: int, *, lock: bool = False) -> MarcheAccess | None:
    """The marché as this structure may see it, or None when it has neither a confirmed nor an invited row on it.

    `lock` (for a change): the marché row is locked (SELECT ... FOR UPDATE on PostgreSQL) before its party rows are
    read, so that two concurrent changes of one chain are checked one after the other, each against the rows the
    other committed (two "first" MOAs could otherwise both pass the check)."""
    marche = db.session.get(Marche, marche_id, with_for_update=lock or None, populate_existing=lock)
    if marche is None:
        return None
    rows = chain_ops.rows_of(marche)
    own = chain_ops.own_rows(rows, structure.id, structure.siret)
    invited = chain_ops.own_rows(rows, structure.id, structure.siret, status="invited")
    if not own and not invited:
        return None
    if not own:  # an invitation only: nothing of the chain yet
        return MarcheAccess(marche, rows, own, invited, None, set())
    chain = chain_ops.chain_of(marche, rows)
    return MarcheAccess(marche, rows, own, invited, chain, chain_ops.visible_keys(chain, own),
                        chain_ops.amount_keys(chain, own))


def marches_of(structure: Structure) -> list[tuple[Marche, list[MarcheParty]]]:
    """The marchés where the structure has a confirmed row, with those rows, by reference."""
    rows = db.session.execute(
        select(Marche, MarcheParty).join(MarcheParty, MarcheParty.marche_id == Marche.id)
        .where(MarcheParty.structure_id == structure.id, MarcheParty.status == "confirmed")
        .order_by(Marche.reference, MarcheParty.id)
    ).all()
    return _grouped(rows)


def marche_choices(structure: Structure) -> list:
    """The marchés of `marches_of` as the filters offer them: rows of (id, reference), in the same order, at most
    `parties.OFFER_MAX` + 1 — beyond OFFER_MAX the filter is a search field (`blueprints.search_fields`), and which
    marchés those are no longer matters (any OFFER_MAX + 1 of them, by reference): a structure of 819 marchés (the busiest sous-traitant at a million pieces)
    no longer has them all read and written as options on every Synthèse and pieces' list. The filters of the
    Synthèse and the pieces' lists show no more; loading each marché and each of the structure's rows on it as
    objects was a few milliseconds of CPU on every one of these pages (bench/page_cpu.py)."""
    return db.session.execute(_choices_statement(),
                              {"structure_id": structure.id, "limit": parties.OFFER_MAX + 1}).all()


@lru_cache(maxsize=1)
def _choices_statement():
    """Built once per process, the structure bound at execution: building it was most of its CPU. `built_once`: the
    tenant's criteria (none of its tables carries any) are added once per tenant, not on every page.

    Cut before it is sorted, as the Tableau de bord's own read (`parties.own_branches`): the structure's confirmed rows
    of parties read by their index (structure, status) — a CTE kept apart (MATERIALIZED): grouped and cut straight
    from the table, the planner walked the marché index through every party of the platform —, their marchés grouped
    and cut at `limit` in no order (the limit hidden from the planner, `opaque_limit`), and only those named (each
    reference by primary key) and sorted by reference. Sorted first, the 819 marchés of the busiest sous-traitant at a
    million pieces were joined and sorted to keep 31."""
    mine = (select(MarcheParty.marche_id)
            .where(MarcheParty.structure_id == bindparam("structure_id", type_=Integer),
                   MarcheParty.status == "confirmed")
            .cte("mine").prefix_with("MATERIALIZED"))
    marche_id, reference = parties.cut_marches(mine, bindparam("limit", type_=Integer), "cut")
    return access.built_once(select(marche_id.label("id"), reference.label("reference"))
                             .order_by("reference", "id"))  # a reference is unique


def invitations_of(structure: Structure) -> list[tuple[Marche, list[MarcheParty]]]:
    """The roles waiting for the structure's confirmation: the rows linked to it (an invitation sent to its SIRET
    before it existed only once claimed through its link, never by SIRET alone)."""
    rows = db.session.execute(
        select(Marche, MarcheParty).join(MarcheParty, MarcheParty.marche_id == Marche.id)
        .where(MarcheParty.status == "invited", MarcheParty.structure_id == structure.id)
        .order_by(Marche.reference, MarcheParty.id)
    ).all()
    return _grouped(rows)


def _grouped(rows) -> list[tuple[Marche, list[MarcheParty]]]:
    grouped: dict[int, tuple[Marche, list[MarcheParty]]] = {}
    for marche, party in rows:
        grouped.setdefault(marche.id, (marche, []))[1].append(party)
    return list(grouped.values())


def party_facts(access: MarcheAccess, row: MarcheParty) -> dict[str, Any]:
    """What the page shows of a visible party: rang, flags, cadres (with labels), its contractor."""
    chain = access.chain
    cadres = graph.allowed_cadres(chain, row.id)
    parent = graph.parent(chain, row.id)
    return {
        "row": row,
        "role_label": ROLE_LABELS[row.role],
        "rang": graph.rang(chain, row.id),
        "paiement_direct": graph.paiement_direct(chain, row.id),
        "autoliquidation": graph.autoliquidation(chain, row.id),
        "cadres": [(code, CADRES[code].label) for code in cadres],
        "parent": access_row(access, parent.key) if parent else None,
    }


def visible_tree(access: MarcheAccess) -> dict:
    """`graph.to_tree` of the chain, restricted to what this structure sees."""
    return chain_ops.prune_tree(graph.to_tree(access.chain), access.visible, access.amounts)


def ordered_rows(access: MarcheAccess, tree: dict) -> list[MarcheParty]:
    """The rows of a (visible) tree in the order of the picture: the public side, then the companies depth first."""
    keys: list[int] = [node["key"] for node in tree["public"]]

    def walk(nodes: list[dict]) -> None:
        for node in nodes:
            keys.append(node["key"])
            walk(node["children"])

    walk(tree["contractors"])
    return [access_row(access, key) for key in keys]


PARTY_NOTES = {
    "invited": "invitation en attente de confirmation",
    "pending": "DC4 en attente de la décision du maître d'ouvrage",
    "refused": "DC4 refusé par le maître d'ouvrage",
    "tacit": "DC4 accepté tacitement (silence de 21 jours)",
}


def party_note(row: MarcheParty) -> str | None:
    """A short French note on a party's state, for the picture and the tables."""
    if row.role == Role.PAYING_OFFICE and row.service_code and row.status != "invited":
        return f"code service {row.service_code}"
    if row.status == "invited":
        note = PARTY_NOTES["invited"]
        if row.dc4_status == "pending":
            note += " ; " + PARTY_NOTES["pending"]
        return note
    return PARTY_NOTES.get(row.dc4_status or "")


def access_row(access: MarcheAccess, key: int) -> MarcheParty | None:
    return next((row for row in access.rows if row.id == key), None)


def missing_parties(access: MarcheAccess) -> list[str]:
    """What the marché still lacks before anyone can deposit (graph.check_complete), in French."""
    violations = graph.check_complete(chain_ops.to_info(access.marche), chain_ops.to_parties(access.rows))
    return [v.message_fr for v in violations]


def identity_sheet(access: MarcheAccess) -> list[dict[str, Any]]:
    """The "fiche d'identité du marché": for each visible party and each cadre it may deposit, where the piece
    goes (recipient SIRET, service code, engagement number) and who acts on it, in order. Routes that need a party
    the marché does not have yet are listed with the reason."""
    chain, marche = access.chain, access.marche
    paying = [p for p in chain.parties.values() if p.role == Role.PAYING_OFFICE]
    recipient = access_row(access, paying[0].key) if paying else None
    sheet = []
    for key in sorted(access.visible):
        row = access_row(access, key)
        for cadre in chain_ops.deposit_cadres(chain, key):
            entry = {"row": row, "role_label": ROLE_LABELS[row.role], "rang": graph.rang(chain, key),
                     "cadre": cadre,
                     "cadre_label": CADRES[cadre].label if cadre else "Facture privée (hors Chorus Pro)",
                     "recipient": recipient if cadre else access_row(access, row.parent_id),
                     "service_code": (recipient.service_code or marche.paying_service_code) if cadre and recipient
                     else None,
                     "engagement_number": marche.engagement_number if cadre else None,
                     "steps": [], "problem": None}
            try:
                steps = graph.route(chain, key, cadre)
            except graph.IncompleteChainError as error:
                entry["problem"] = str(error)
            else:
                entry["steps"] = [{"step": s.step, "row": access_row(access, s.party_key),
                                   "role_label": ROLE_LABELS[s.role]} for s in steps]
            sheet.append(entry)
    return sheet


# ---------------------------------------------------------------------------------------------------------------------
# Events, mails, invitations


def record(marche: Marche, kind: str, *, account: Account | None, structure: Structure | None,
           party: MarcheParty | None = None, **detail) -> MarcheEvent:
    event = MarcheEvent(marche_id=marche.id, party_id=party.id if party else None,
                        account_id=account.id if account else None, structure_id=structure.id if structure else None,
                        kind=kind, detail=_jsonable(detail))
    db.session.add(event)
    return event


def _jsonable(detail: dict) -> dict:
    return {k: (str(v) if isinstance(v, (Decimal, date)) else v) for k, v in detail.items()}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def invitation_token(party: MarcheParty, now: datetime | None = None) -> str:
    """A new secret link for the invitation: random, only its SHA-256 kept on the row, valid INVITATION_MAX_AGE
    from now; the previous link of the row stops working."""
    token = secrets.token_urlsafe(32)
    party.invitation_hash = _token_hash(token)
    party.invitation_expires_at = (now or datetime.now(PARIS)) + timedelta(seconds=INVITATION_MAX_AGE)
    return token


def read_invitation(token: str, now: datetime | None = None) -> MarcheParty:
    """The party row an invitation link is for; refused when the link is expired, unknown or no longer open."""
    party = db.session.scalar(select(MarcheParty).where(MarcheParty.invitation_hash == _token_hash(token or "")))
    if party is None:
        raise OperationError("Ce lien d'invitation n'est pas valide.")
    if party.status != "invited":
        raise OperationError("Cette invitation a déjà reçu une réponse.")
    if party.invitation_expires_at is None or party.invitation_expires_at <= (now or datetime.now(PARIS)):
        raise OperationError("Ce lien d'invitation a expiré. Demandez à l'entreprise qui vous a invité de vous "
                             "inviter à nouveau.")
    return party


def check_invitee(account: Account, party: MarcheParty) -> None:
    """Only the account the invitation was sent to answers it through its link (issue 13): a link forwarded or
    guessed gives nothing to anyone else, who asks the inviter to invite its own address."""
    if not party.invited_email or normalise_email(account.email) != normalise_email(party.invited_email):
        raise OperationError(f"Cette invitation a été envoyée à {_masked_email(party.invited_email)} : connectez-vous "
                             "avec ce compte, ou demandez à l'entreprise qui vous a invité de vous inviter à votre "
                             "adresse.")


def _masked_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "une autre adresse"
    local, domain = email.split("@", 1)
    return f"{local[:1]}•••@{domain}"


def _external(endpoint: str, **values) -> str:
    """An absolute link for an e-mail, in a request or not (the sweep runs from the command line)."""
    base = current_app.config["BASE_URL"].rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values)
    with current_app.test_request_context("/", base_url=base):
        return base + url_for(endpoint, **values)


def _gestionnaire(structure_id: int) -> tuple[Structure, Account]:
    structure = db.session.get(Structure, structure_id)
    return structure, db.session.get(Account, structure.gestionnaire_id)


def _marche_url(marche: Marche, structure: Structure) -> str:
    return _external("marches.show", siret=structure.siret, marche_id=marche.id)


def _notify_party(marche: Marche, party: MarcheParty, inviter: Structure) -> None:
    """Ask the designated company to confirm its role: its gestionnaire, or the address given for a company that
    has no structure yet (with a signed link to create it)."""
    context = dict(marche=marche, party=party, inviter=inviter, role_label=ROLE_LABELS[party.role])
    if party.structure_id is not None:
        structure, gestionnaire = _gestionnaire(party.structure_id)
        queue_mail(gestionnaire.notification_email, "marche_role_requested", account_id=gestionnaire.id,
                   url=_marche_url(marche, structure), **context)
    else:
        queue_mail(party.invited_email, "marche_invitation",
                   url=_external("marches_invitation.show", token=invitation_token(party, party.invited_at)),
                   **context)


# ---------------------------------------------------------------------------------------------------------------------
# Changes


def _new_party(marche_id: int | None, role: str, *, siret: str, structure: Structure | None, name: str | None,
               email: str | None, inviter: Structure, status: str = "invited", now: datetime,
               **fields) -> MarcheParty:
    return MarcheParty(
        marche_id=marche_id, structure_id=structure.id if structure else None, siret=siret,
        name=structure.name if structure else (name or "").strip(), role=role, status=status,
        invited_email=email, invited_by_id=inviter.id, invited_at=now,
        decided_at=now if status == "confirmed" else None, **fields,
    )


def _designated(siret_value: str, email_value: str | None, name_value: str | None, *, role: str,
                field_prefix: str = "") -> tuple[str, Structure | None, str | None, str | None]:
    """A company designated by SIRET: its structure if it exists, otherwise the name and address to invite."""
    siret = _clean_siret(siret_value, f"{field_prefix}siret")
    structure = db.session.scalar(select(Structure).where(Structure.siret == siret))
    email = _clean_email(email_value, f"{field_prefix}email")
    name = (name_value or "").strip()
    if structure is None:
        if not email:
            raise OperationError("Cette entreprise n'est pas encore inscrite sur chorus-chain : indiquez l'adresse "
                                 "e-mail de la personne à inviter.", field=f"{field_prefix}email")
        if not name:
            raise OperationError("Indiquez la raison sociale de l'entreprise à inviter.", field=f"{field_prefix}name")
        if len(name) > 200:
            raise OperationError("200 caractères au plus.", field=f"{field_prefix}name")
    elif role in PUBLIC_BUYER_ROLES and not structure.is_public:
        raise OperationError(f"{structure.name} n'est pas une structure publique : elle ne peut pas être "
                             f"{ROLE_LABELS[role]}.", field=f"{field_prefix}siret")
    return siret, structure, email, name


def _check_groupement_parts(marche: Marche, rows: list[MarcheParty], info: graph.MarcheInfo | None = None,
                            field_name: str = "montant_ttc") -> None:
    """The parts of the titulaire or of the groupement's members never exceed the marché's amount TTC."""
    total_ttc = info.montant_ttc if info else marche.montant_ttc
    parts = [row.montant_ttc for row in rows
             if row.is_active and row.role in (*Role.HOLDERS, Role.COTRAITANT) and row.montant_ttc is not None]
    total = sum(parts, Decimal(0))
    if total > total_ttc:
        raise OperationError(f"La somme des parts du titulaire ou des membres du groupement ({format_euros(total)} "
                             f"TTC) dépasse le montant du marché ({format_euros(total_ttc)} TTC).", field=field_name)


def _check_chain(marche: Marche, rows: list[MarcheParty], info: graph.MarcheInfo | None = None,
                 field_name: str | None = None) -> None:
    chain_ops.check_or_refuse(marche, rows, info, field=field_name)
    _check_groupement_parts(marche, rows, info)


def create_marche(account: Account, structure: Structure, raw: Mapping[str, Any], *, now: datetime) -> Marche:
    """Create a marché from the form's raw values. The creator is the MOA (then also the paying office unless
    another SIRET is given) or the titulaire / mandataire (then it invites the MOA by SIRET)."""
    terms = parse_terms(raw)
    creator_role = _choice(raw, "creator_role", CREATOR_ROLES, "Choisissez votre rôle sur ce marché.")
    if creator_role == Role.MOA and not structure.is_public:
        raise OperationError("Seule une structure publique peut être maître d'ouvrage. Si vous êtes le titulaire, "
                             "choisissez ce rôle et indiquez le SIRET du maître d'ouvrage.", field="creator_role")
    if creator_role == Role.TITULAIRE and terms.groupement != "none":
        raise OperationError("Un marché attribué à un groupement est tenu par son mandataire : choisissez le rôle "
                             "« mandataire ».", field="creator_role")
    if creator_role == Role.MANDATAIRE and terms.groupement == "none":
        raise OperationError("Un mandataire représente un groupement : choisissez « groupement conjoint » ou "
                             "« groupement solidaire ».", field="groupement")
    if db.session.scalar(select(Marche.id).where(Marche.reference == terms.reference)) is not None:
        raise OperationError("Un marché porte déjà cette référence.", field="reference")
    holder_part = parse_decimal(raw.get("holder_montant_ttc"), "holder_montant_ttc", optional=True)
    if creator_role == Role.MANDATAIRE and holder_part is None:
        raise OperationError("Indiquez la part TTC du mandataire dans le groupement.", field="holder_montant_ttc")

    rows: list[MarcheParty] = []
    creator = _new_party(None, creator_role, siret=structure.siret, structure=structure, name=None, email=None,
                         inviter=structure, status="confirmed", now=now,
                         montant_ttc=holder_part if creator_role != Role.MOA else None)
    rows.append(creator)
    if creator_role == Role.MOA:
        moa_structure, moa_siret = structure, structure.siret
    else:
        moa_siret, moa_structure, moa_email, moa_name = _designated(
            raw.get("moa_siret"), raw.get("moa_email"), raw.get("moa_name"), role=Role.MOA, field_prefix="moa_")
        if moa_siret == structure.siret:
            raise OperationError("Le maître d'ouvrage est l'acheteur public : indiquez son SIRET, pas le vôtre.",
                                 field="moa_siret")
        rows.append(_new_party(None, Role.MOA, siret=moa_siret, structure=moa_structure, name=moa_name,
                               email=moa_email, inviter=structure, now=now))
    paying_siret_value = (raw.get("paying_office_siret") or "").strip()
    if paying_siret_value and _clean_siret(paying_siret_value, "paying_office_siret") != moa_siret:
        paying_siret, paying_structure, paying_email, paying_name = _designated(
            paying_siret_value, raw.get("paying_office_email"), raw.get("paying_office_name"),
            role=Role.PAYING_OFFICE, field_prefix="paying_office_")
    else:  # usually a service of the MOA's own structure
        paying_siret, paying_structure = moa_siret, moa_structure
        paying_email, paying_name = rows[-1].invited_email, rows[-1].name
    if paying_structure is not None and paying_structure.id == structure.id:
        _check_service(structure, terms.paying_service_code, "paying_service_code")
    rows.append(_new_party(None, Role.PAYING_OFFICE, siret=paying_siret, structure=paying_structure,
                           name=paying_name, email=paying_email, inviter=structure,
                           status="confirmed" if paying_structure is not None and paying_structure.id == structure.id
                           else "invited", now=now, service_code=terms.paying_service_code))
    if creator_role == Role.MOA:
        _check_service(structure, terms.moa_service_code, "moa_service_code")

    marche = Marche(**{k: getattr(terms, k) for k in MarcheTerms.__dataclass_fields__},
                    created_by_id=structure.id, created_at=now, version=1)
    _check_chain(marche, rows, chain_ops.to_info(marche), field_name=None)
    db.session.add(marche)
    db.session.flush()
    for row in rows:
        row.marche_id = marche.id
        db.session.add(row)
    db.session.flush()
    record(marche, "marche.created", account=account, structure=structure, reference=marche.reference,
           creator_role=creator_role)
    for row in rows:
        if row.status == "invited":
            record(marche, "party.invited", account=account, structure=structure, party=row, role=row.role,
                   siret=row.siret)
            _notify_party(marche, row, structure)
    return marche


def _check_service(structure: Structure, code: str | None, field_name: str) -> None:
    """A code service of one's own structure must exist (the buyer knows its services)."""
    if not code:
        return
    if db.session.scalar(select(Service.id).where(Service.structure_id == structure.id,
                                                  Service.code == code)) is None:
        raise OperationError(f"Votre structure n'a pas de service « {code} ». Créez-le d'abord, ou corrigez le code.",
                             field=field_name)


@contextmanager
def _tentatively(row: MarcheParty, **changes):
    """Apply changes to a row for a check; put them back if the check refuses (nothing changed)."""
    before = {name: getattr(row, name) for name in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    try:
        yield row
    except OperationError:
        for name, value in before.items():
            setattr(row, name, value)
        raise


def _refuse_unless(access: MarcheAccess, roles: tuple[str, ...], message: str, field_name: str | None = None):
    if not access.own_roles() & set(roles):
        raise OperationError(message, field=field_name)


def _same_siret_role(rows: list[MarcheParty], siret: str, role: str) -> MarcheParty | None:
    return next((row for row in rows if row.siret == siret and row.role == role), None)


# The buyer's side validates and pays the sous-traitants' work: it cannot be one of them on the same marché.
CONTROLLING_ROLES = (Role.MOA, Role.MOE)


def _check_not_controller_and_sous_traitant(rows: list[MarcheParty], siret: str, role: str) -> None:
    """The MOA or the MOE of a marché is never its sous-traitant (nor the reverse): it would accept its own DC4
    and validate its own projets de décompte."""
    if role == Role.SOUS_TRAITANT:
        clash = next((row for row in rows if row.siret == siret and row.role in CONTROLLING_ROLES
                      and row.is_active), None)
        if clash is not None:
            raise OperationError(f"{clash.name} est le {ROLE_LABELS[clash.role]} de ce marché : il ne peut pas en "
                                 "être sous-traitant (il accepterait son propre DC4 et validerait ses propres "
                                 "décomptes).", field="siret")
    elif role in CONTROLLING_ROLES:
        clash = next((row for row in rows if row.siret == siret and row.role == Role.SOUS_TRAITANT
                      and row.is_active), None)
        if clash is not None:
            raise OperationError(f"{clash.name} est sous-traitant sur ce marché : il ne peut pas en être le "
                                 f"{ROLE_LABELS[role]}.", field="siret")


def designate_party(account: Account, structure: Structure, access: MarcheAccess, raw: Mapping[str, Any], *,
                    now: datetime) -> MarcheParty:
    """Designate the MOE, the paying office, the titulaire or mandataire, a co-traitant (or the MOA of a marché
    its holder created) by SIRET; the company is then asked to confirm."""
    marche = access.marche
    role = _choice(raw, "role", DESIGNABLE_ROLES, "Choisissez le rôle de l'entreprise.")
    if not access.own_roles() & set(DESIGNATORS[role]):
        names = [f"le {ROLE_LABELS[r]}" for r in DESIGNATORS[role]]
        allowed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " ou " + names[-1]
        raise OperationError(f"Seul {allowed} peut désigner le {ROLE_LABELS[role]} de ce marché.", field="role")
    siret, target, email, name = _designated(raw.get("siret"), raw.get("email"), raw.get("name"), role=role)
    montant = parse_decimal(raw.get("montant_ttc"), "montant_ttc", optional=True)
    if role in (Role.MANDATAIRE, Role.COTRAITANT) and montant is None:
        raise OperationError("Indiquez la part TTC de cette entreprise dans le groupement.", field="montant_ttc")
    if role in Role.PUBLIC and montant is not None:
        montant = None  # the public side holds no part of the works
    parent_id = None
    if role == Role.COTRAITANT:
        mandataire = next((r for r in access.rows if r.role == Role.MANDATAIRE and r.is_active), None)
        if mandataire is None and marche.groupement != "none":
            raise OperationError("Désignez d'abord le mandataire du groupement.", field="role")
        parent_id = mandataire.id if mandataire else None
    service_code = (raw.get("service_code") or "").strip() or None
    if role == Role.PAYING_OFFICE:
        service_code = service_code or marche.paying_service_code
    _check_not_controller_and_sous_traitant(access.rows, siret, role)
    existing = _same_siret_role(access.rows, siret, role)
    if existing is not None and existing.is_active:
        raise OperationError(f"{existing.name} figure déjà sur ce marché en tant que {ROLE_LABELS[role]}.",
                             field="siret")
    own_structure = target is not None and target.id == structure.id
    if existing is not None:  # declined earlier: invited again on the same row
        party = existing
        with _tentatively(party, structure_id=target.id if target else None, name=target.name if target else name,
                          status="confirmed" if own_structure else "invited", invited_email=email,
                          montant_ttc=montant, parent_id=parent_id, service_code=service_code,
                          invited_by_id=structure.id, invited_at=now, decided_at=now if own_structure else None,
                          decided_by_id=account.id if own_structure else None):
            _check_chain(marche, access.rows)
    else:
        party = _new_party(marche.id, role, siret=siret, structure=target, name=name, email=email, inviter=structure,
                           status="confirmed" if own_structure else "invited", now=now, montant_ttc=montant,
                           parent_id=parent_id, service_code=service_code)
        if own_structure:
            party.decided_by_id = account.id
        _check_chain(marche, [*access.rows, party])
        db.session.add(party)
    if role == Role.PAYING_OFFICE and service_code != marche.paying_service_code:
        marche.paying_service_code = service_code
    chain_ops.touch(marche)
    db.session.flush()
    record(marche, "party.invited" if party.status == "invited" else "party.designated", account=account,
           structure=structure, party=party, role=role, siret=siret,
           montant_ttc=montant)
    if party.status == "invited":
        _notify_party(marche, party, structure)
    return party


def _structure_cycle(access: MarcheAccess, parent: MarcheParty, siret: str) -> list[MarcheParty] | None:
    """The contractors from `parent` up whose company is the would-be sous-traitant: subcontracting to oneself,
    even indirectly (the graph's nodes are (structure, role) pairs, so this is checked on SIRETs here)."""
    path = [parent, *[access_row(access, p.key) for p in graph.contractors_above(access.chain, parent.id)]]
    for i, row in enumerate(path):
        if row.siret == siret:
            return path[: i + 1]
    return None


def declare_sous_traitant(account: Account, structure: Structure, access: MarcheAccess, raw: Mapping[str, Any], *,
                          now: datetime) -> MarcheParty:
    """A contractor of the marché declares a sous-traitant with its DC4; the MOA then has 21 days to accept or
    refuse it (silence = acceptance)."""
    marche = access.marche
    try:
        parent_id = int(raw.get("parent_id") or 0)
    except (TypeError, ValueError):
        parent_id = 0
    parent = next((row for row in access.contractor_rows() if row.id == parent_id), None)
    if parent is None:
        raise OperationError("Choisissez l'entreprise donneuse d'ordre parmi vos rôles d'entreprise sur ce marché "
                             "(titulaire, mandataire, co-traitant ou sous-traitant).", field="parent_id")
    siret, target, email, name = _designated(raw.get("siret"), raw.get("email"), raw.get("name"),
                                             role=Role.SOUS_TRAITANT)
    _check_not_controller_and_sous_traitant(access.rows, siret, Role.SOUS_TRAITANT)
    loop = _structure_cycle(access, parent, siret)
    if loop is not None:
        names = ", ".join(row.name for row in loop)
        raise OperationError(f"Boucle de sous-traitance ({names}) : une entreprise ne peut pas être sa propre "
                             "sous-traitante, même indirectement.", field="siret")
    montant = parse_decimal(raw.get("montant_ttc"), "montant_ttc")
    if montant <= 0:
        raise OperationError("Indiquez le montant TTC de la part sous-traitée.", field="montant_ttc")
    nature = (raw.get("dc4_nature") or "").strip()
    if not nature:
        raise OperationError("Décrivez la nature des prestations sous-traitées.", field="dc4_nature")
    payment_terms = (raw.get("dc4_payment_terms") or "").strip() or None
    term_days, term_end_of_month = _commercial_term(raw)
    iban = bic = None
    if (raw.get("iban") or "").strip():
        try:
            iban = identifiers.clean_iban(raw.get("iban"))
        except identifiers.InvalidIdentifier as error:
            raise OperationError(str(error), field="iban") from None
    if (raw.get("bic") or "").strip():
        try:
            bic = identifiers.clean_bic(raw.get("bic"))
        except identifiers.InvalidIdentifier as error:
            raise OperationError(str(error), field="bic") from None
    rang_1 = parent.role != Role.SOUS_TRAITANT
    if rang_1 and montant >= PAIEMENT_DIRECT_THRESHOLD_TTC and not (iban and bic):
        raise OperationError("Un sous-traitant de rang 1 dont la part atteint 600 € TTC est payé directement par "
                             "l'acheteur : indiquez son IBAN et son BIC.", field="iban" if not iban else "bic")
    existing = _same_siret_role(access.rows, siret, Role.SOUS_TRAITANT)
    if existing is not None and existing.is_active:
        raise OperationError(f"{existing.name} figure déjà sur ce marché en tant que sous-traitant.", field="siret")
    if existing is not None:
        raise OperationError(f"{existing.name} a décliné son rôle de sous-traitant sur ce marché ; un nouveau DC4 "
                             "ne peut pas être déclaré pour elle ici. Contactez le maître d'ouvrage.", field="siret")
    party = _new_party(marche.id, Role.SOUS_TRAITANT, siret=siret, structure=target, name=name, email=email,
                       inviter=structure, now=now, parent_id=parent.id, montant_ttc=montant, dc4_nature=nature,
                       dc4_payment_terms=payment_terms, iban=iban, bic=bic, dc4_status="pending",
                       # the acte spécial says whether its ceiling covers the revision (default) or base prices only
                       dc4_ceiling_includes_revision=not raw.get("dc4_excludes_revision"),
                       commercial_term_days=term_days, commercial_term_end_of_month=term_end_of_month)
    _check_chain(marche, [*access.rows, party])
    db.session.add(party)
    chain_ops.touch(marche)
    db.session.flush()
    record(marche, "dc4.declared", account=account, structure=structure, party=party, siret=siret,
           parent_id=parent.id, montant_ttc=montant,
           ceiling_includes_revision=party.dc4_ceiling_includes_revision)
    _notify_party(marche, party, structure)
    moa = next((row for row in access.rows if row.role == Role.MOA and row.status == "confirmed"), None)
    if moa is not None:
        _start_dc4_clock(marche, party, moa, now)
    return party


def _commercial_term(raw) -> tuple[int | None, bool]:
    """The payment term of the sous-traitant's private invoices agreed with its contractor, checked against the
    ceilings of L. 441-10 (None: nothing agreed, the legal 30 days)."""
    text_days = str(raw.get("commercial_term_days") or "").strip()
    end_of_month = bool(raw.get("commercial_term_end_of_month"))
    if not text_days:
        if end_of_month:
            raise OperationError("Indiquez le nombre de jours « fin de mois » convenu.", field="commercial_term_days")
        return None, False
    if not text_days.isdigit():
        raise OperationError("Indiquez le délai de paiement en jours, par exemple 45.", field="commercial_term_days")
    try:
        days = commercial_terms.check_term(int(text_days), end_of_month=end_of_month)
    except commercial_terms.TermsRefused as refused:
        raise OperationError(refused.message_fr, field="commercial_term_days") from None
    return days, end_of_month


def _start_dc4_clock(marche: Marche, party: MarcheParty, moa: MarcheParty, now: datetime) -> Deadline:
    """The MOA receives the DC4 today: it has until the end of the 21st day to answer; then silence = acceptance."""
    received = today(now)
    party.dc4_received_at = received
    deadline = Deadline(kind="dc4_acceptance", due_at=start_of_day(received + timedelta(days=DC4_SILENCE_DAYS + 1)),
                        marche_party_id=party.id, created_at=now)
    db.session.add(deadline)
    _, gestionnaire = _gestionnaire(moa.structure_id)
    moa_structure = db.session.get(Structure, moa.structure_id)
    contractor = db.session.get(MarcheParty, party.parent_id)
    queue_mail(gestionnaire.notification_email, "dc4_to_review", account_id=gestionnaire.id, marche=marche,
               party=party, contractor=contractor, tacit_on=received + timedelta(days=DC4_SILENCE_DAYS + 1),
               url=_external("marches.party", siret=moa_structure.siret, marche_id=marche.id, party_id=party.id))
    return deadline


def _close_deadlines(party: MarcheParty, now: datetime) -> None:
    for deadline in db.session.scalars(select(Deadline).where(Deadline.marche_party_id == party.id,
                                                              Deadline.done_at.is_(None))):
        deadline.done_at = now


def confirm_party(account: Account, structure: Structure, access: MarcheAccess, party_id: int, *, accept: bool,
                  now: datetime) -> MarcheParty:
    """The designated company confirms (or declines) its role on the marché."""
    marche = access.marche
    party = next((row for row in access.invited if row.id == party_id), None)
    if party is None:
        raise OperationError("Ce rôle n'attend pas de réponse de votre structure.")
    with _tentatively(party, structure_id=structure.id, name=structure.name,
                      status="confirmed" if accept else "declined", decided_at=now, decided_by_id=account.id):
        _check_chain(marche, access.rows)  # linking the structure may meet a row it already holds in this role
    if not accept:
        _close_deadlines(party, now)
    chain_ops.touch(marche)
    db.session.flush()
    record(marche, "party.confirmed" if accept else "party.declined", account=account, structure=structure,
           party=party, role=party.role)
    if accept and party.role == Role.MOA:  # the DC4s waiting for a buyer reach it now
        for row in access.rows:
            if row.role == Role.SOUS_TRAITANT and row.dc4_status == "pending" and row.dc4_received_at is None \
                    and row.is_active:
                _start_dc4_clock(marche, row, party, now)
    if party.invited_by_id is not None and party.invited_by_id != structure.id:
        inviter, gestionnaire = _gestionnaire(party.invited_by_id)
        queue_mail(gestionnaire.notification_email, "marche_role_decided", account_id=gestionnaire.id,
                   marche=marche, party=party, accepted=accept, role_label=ROLE_LABELS[party.role],
                   url=_marche_url(marche, inviter))
    return party


def _moa_sous_traitant(access: MarcheAccess, party_id: int) -> MarcheParty:
    _refuse_unless(access, (Role.MOA,), "Seul le maître d'ouvrage accepte les sous-traitants et agrée leurs "
                                        "conditions de paiement.")
    party = access.row(party_id)
    if party is None or party.role != Role.SOUS_TRAITANT or not party.is_active:
        raise OperationError("Cette entreprise n'est pas un sous-traitant de ce marché.")
    return party


def decide_dc4(account: Account, structure: Structure, access: MarcheAccess, party_id: int, *, accept: bool,
               reason: str | None, now: datetime) -> MarcheParty:
    """The MOA accepts or refuses a sous-traitant's DC4 (before the 21 days of silence run out)."""
    party = _moa_sous_traitant(access, party_id)
    if party.dc4_status != "pending":
        raise OperationError("Ce DC4 a déjà été " + ("refusé." if party.dc4_status == "refused" else "accepté."))
    reason = (reason or "").strip()
    if not accept and not reason:
        raise OperationError("Indiquez le motif du refus : il est transmis à l'entreprise.", field="reason")
    if len(reason) > 500:
        raise OperationError("500 caractères au plus.", field="reason")
    with _tentatively(party, dc4_status="accepted" if accept else "refused",
                      accepted_on=today(now) if accept else None, dc4_refusal_reason=None if accept else reason):
        _check_chain(access.marche, access.rows)
    _close_deadlines(party, now)
    chain_ops.touch(access.marche)
    db.session.flush()
    record(access.marche, "dc4.accepted" if accept else "dc4.refused", account=account, structure=structure,
           party=party, reason=reason or None)
    _notify_dc4_decision(access.marche, party)
    return party


def apply_tacit_dc4(party: MarcheParty, deadline: Deadline, now: datetime) -> bool:
    """The sweep's action on a due DC4 deadline: a DC4 still pending is accepted by the buyer's silence.
    Returns whether anything changed (False when the MOA answered in time or the company declined)."""
    if party.dc4_status != "pending" or not party.is_active:
        return False
    marche = db.session.get(Marche, party.marche_id)
    party.dc4_status = "tacit"
    party.accepted_on = deadline.due_at.astimezone(PARIS).date()
    chain_ops.touch(marche)
    record(marche, "dc4.tacit", account=None, structure=None, party=party,
           received=party.dc4_received_at, due_at=deadline.due_at.isoformat())
    _notify_dc4_decision(marche, party)
    return True


def _notify_dc4_decision(marche: Marche, party: MarcheParty) -> None:
    contractor = db.session.get(MarcheParty, party.parent_id)
    for row in (contractor, party):
        if row is None or row.structure_id is None:
            continue
        target, gestionnaire = _gestionnaire(row.structure_id)
        queue_mail(gestionnaire.notification_email, "dc4_decided", account_id=gestionnaire.id, marche=marche,
                   party=party, url=_marche_url(marche, target))


def record_dc4_avenant(account: Account, structure: Structure, access: MarcheAccess, party_id: int,
                       raw: Mapping[str, Any], *, now: datetime) -> Dc4Avenant:
    """The MOA records an avenant to a sous-traitant's acte spécial changing its amount (signed by the contractor,
    the sous-traitant and the buyer). The new amount is checked against the contractor's part."""
    party = _moa_sous_traitant(access, party_id)
    if not party.dc4_accepted:
        raise OperationError("Un avenant ne modifie qu'un DC4 accepté : acceptez ou refusez d'abord celui-ci.")
    new = parse_decimal(raw.get("new_montant_ttc"), "new_montant_ttc")
    if new <= 0:
        raise OperationError("Indiquez le nouveau montant TTC de la part sous-traitée.", field="new_montant_ttc")
    if new == party.montant_ttc:
        raise OperationError("Le nouveau montant est égal au montant actuel.", field="new_montant_ttc")
    signed_on = raw.get("signed_on") or today(now)
    if not isinstance(signed_on, date):
        try:
            signed_on = date_rules.parse_iso_day(str(signed_on))
        except date_rules.ImplausibleDate as error:
            raise OperationError(str(error), field="signed_on") from None
        except ValueError:
            raise OperationError("Indiquez la date de signature de l'avenant.", field="signed_on") from None
    if signed_on > today(now):
        raise OperationError("La date de signature ne peut pas être dans le futur.", field="signed_on")
    reason = (raw.get("reason") or "").strip()[:500]
    old = party.montant_ttc
    with _tentatively(party, montant_ttc=new):
        _check_chain(access.marche, access.rows, field_name="new_montant_ttc")
    avenant = Dc4Avenant(party_id=party.id, old_montant_ttc=old, new_montant_ttc=new, signed_on=signed_on,
                         reason=reason, account_id=account.id, created_at=now)
    db.session.add(avenant)
    chain_ops.touch(access.marche)
    db.session.flush()
    record(access.marche, "dc4.avenant", account=account, structure=structure, party=party, old=old, new=new,
           signed_on=signed_on)
    return avenant


def record_reception(account: Account, structure: Structure, access: MarcheAccess, raw: Mapping[str, Any], *,
                     now: datetime) -> date:
    """The MOA records the réception des travaux: it starts the délai de garantie (the retenue de garantie is released
    at its end) and the 30 days of the projet de décompte final. Works marchés only; not in the future; it may be
    corrected (the event log keeps every value)."""
    if not access.is_moa:
        raise OperationError("Seul le maître d'ouvrage prononce la réception des travaux.")
    marche = access.marche
    if marche.kind != "travaux":
        raise OperationError("La réception concerne les marchés de travaux.")
    value = raw.get("reception_on")
    if not isinstance(value, date):
        try:
            value = date_rules.parse_iso_day(str(value or ""))
        except date_rules.ImplausibleDate as error:
            raise OperationError(str(error), field="reception_on") from None
        except ValueError:
            raise OperationError("Indiquez la date de la réception, par exemple 2026-06-30.",
                                 field="reception_on") from None
    if value > today(now):
        raise OperationError("La réception ne peut pas être datée dans le futur.", field="reception_on")
    start = marche_start(marche)
    if start is not None and value < start:
        raise OperationError(f"La réception ({value:%d/%m/%Y}) ne peut pas précéder le marché (son mois zéro "
                             f"commence le {start:%d/%m/%Y}).", field="reception_on")
    previous = marche.reception_on
    marche.reception_on = value
    db.session.flush()
    record(marche, "marche.reception", account=account, structure=structure, reception_on=value, previous=previous)
    return value


def avenants_of(party: MarcheParty) -> list[Dc4Avenant]:
    return list(db.session.scalars(select(Dc4Avenant).where(Dc4Avenant.party_id == party.id)
                                   .order_by(Dc4Avenant.id)))


def open_deadline(party: MarcheParty) -> Deadline | None:
    return db.session.scalar(select(Deadline).where(Deadline.marche_party_id == party.id,
                                                    Deadline.done_at.is_(None)).order_by(Deadline.due_at))


# ---------------------------------------------------------------------------------------------------------------------
# Invitations of companies that have no structure yet


def create_invited_structure(account: Account, token: str, raw: Mapping[str, Any]) -> Structure:
    """The invited person creates the structure the invitation names (its SIRET is the invitation's); every open
    invitation to that SIRET is linked to it, to be confirmed on the marché page."""
    party = read_invitation(token)
    check_invitee(account, party)
    structure = structure_ops.create_structure(
        account, siret=party.siret, name=raw.get("name") or party.name, is_public=bool(raw.get("is_public")),
        address_line=raw.get("address_line") or "", postal_code=raw.get("postal_code") or "",
        city=raw.get("city") or "", vat_number=raw.get("vat_number") or None,
        size_class=raw.get("size_class") or "pme")
    link_invitation(party, structure)
    return structure


def claim_invitation(account: Account, token: str) -> tuple[MarcheParty, Structure]:
    """The invited person links the invitation to the structure of the invited SIRET that exists by now: only the
    account the invitation was sent to, and only as an approved member of that structure (the structure then
    confirms or declines the role on its own page, with its own rights). Nothing else links a structure to an
    invitation."""
    party = read_invitation(token)
    check_invitee(account, party)
    structure, member = invitation_target(account, party)
    if structure is None or not member:
        raise OperationError("Vous n'êtes pas rattaché(e) à la structure de ce SIRET : demandez votre rattachement à "
                             "son gestionnaire principal, puis revenez sur ce lien.")
    link_invitation(party, structure)
    return party, structure


def link_invitation(party: MarcheParty, structure: Structure) -> None:
    """The invitation belongs to this structure from now on, still to be confirmed; its link is spent."""
    party.structure_id = structure.id
    party.invitation_hash = None
    db.session.flush()


def invitation_target(account: Account, party: MarcheParty) -> tuple[Structure | None, bool]:
    """Where an invitation link leads: the structure of the invited SIRET if it exists by now, and whether this
    account is one of its (approved) members."""
    structure = db.session.scalar(select(Structure).where(Structure.siret == party.siret))
    if structure is None:
        return None, False
    member = db.session.scalar(select(Rattachement.id).where(
        Rattachement.structure_id == structure.id, Rattachement.account_id == account.id,
        Rattachement.status == "approved"))
    return structure, member is not None


