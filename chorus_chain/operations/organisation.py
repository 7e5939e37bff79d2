"""The structure's own administration: approvals, members and their rights, the gestionnaire principal, settings,
services and bank details.

Every change records a StructureEvent (the structure's journal). Sensitive changes (rights, hand-over, bank details)
also mail the gestionnaire principal: a stolen session that changes an IBAN must not go unnoticed.
Callers load the rows through the tenant (404 for another structure's row); the operations re-check it anyway.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import current_app, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload

from chorus_chain import formatting
from chorus_chain.domain import identifiers
from chorus_chain.domain import legal_identity
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import (
    Account,
    BankAccount,
    Rattachement,
    Service,
    ServiceMember,
    Structure,
    StructureEvent,
)
from chorus_chain.models.base import utcnow
from chorus_chain.models.structures import ROUTING_REQUIREMENTS, SIZE_CLASSES
from chorus_chain.operations import OperationError
from chorus_chain.operations.mail import queue_mail
from chorus_chain.operations.structures import record

ROUTING_LABELS = {
    "none": "Aucune exigence",
    "code_service": "Code service obligatoire",
    "engagement": "Numéro d'engagement obligatoire",
    "one_of": "Code service ou numéro d'engagement obligatoire",
}
SIZE_LABELS = {
    "micro": "Microentreprise",
    "pme": "PME",
    "eti": "ETI",
    "ge": "Grande entreprise",
}
EVENTS_PER_PAGE = 50


# --- Reading --------------------------------------------------------------------------------------------------------

def approved_members(structure: Structure) -> list[Rattachement]:
    return list(db.session.scalars(
        select(Rattachement).join(Rattachement.account).options(joinedload(Rattachement.account))
        .where(Rattachement.structure_id == structure.id, Rattachement.status == "approved")
        .order_by(Account.last_name, Account.first_name, Account.id)))


def pending_requests(structure: Structure) -> list[Rattachement]:
    return list(db.session.scalars(
        select(Rattachement).options(joinedload(Rattachement.account))
        .where(Rattachement.structure_id == structure.id, Rattachement.status == "pending")
        .order_by(Rattachement.requested_at, Rattachement.id)))


def pending_count(structure: Structure) -> int:
    return db.session.scalar(select(pending_count_of(structure.id)))


def pending_count_of(structure_id):
    """The requests to join the structure still waiting, as a scalar subquery (the layout reads it with the bell's
    count, `layout_counts`); the id may be a bound parameter."""
    return select(func.count(Rattachement.id)).where(
        Rattachement.structure_id == structure_id, Rattachement.status == "pending").scalar_subquery()


def overview_counts(structure: Structure) -> dict[str, int]:
    def count(column, *where):
        return db.session.scalar(select(func.count(column)).where(*where))

    return {
        "members": count(Rattachement.id, Rattachement.structure_id == structure.id,
                         Rattachement.status == "approved"),
        "pending": pending_count(structure),
        "services": count(Service.id, Service.structure_id == structure.id, Service.active.is_(True)),
        "bank_accounts": count(BankAccount.id, BankAccount.structure_id == structure.id,
                               BankAccount.active.is_(True)),
    }


def events(structure: Structure, page: int = 1, per_page: int = EVENTS_PER_PAGE) -> tuple[list[StructureEvent], bool]:
    """One page of the journal, newest first, and whether an older page exists."""
    rows = list(db.session.scalars(
        select(StructureEvent).options(joinedload(StructureEvent.account))
        .where(StructureEvent.structure_id == structure.id)
        .order_by(StructureEvent.at.desc(), StructureEvent.id.desc())
        .offset((max(page, 1) - 1) * per_page).limit(per_page + 1)))
    return rows[:per_page], len(rows) > per_page


def services_of(structure: Structure) -> list[Service]:
    return list(db.session.scalars(select(Service).where(Service.structure_id == structure.id)
                                   .order_by(Service.active.desc(), Service.code)))


def service_members(service: Service) -> list[Account]:
    return list(db.session.scalars(
        select(Account).join(ServiceMember, ServiceMember.account_id == Account.id)
        .where(ServiceMember.service_id == service.id).order_by(Account.last_name, Account.first_name)))


def members_not_in_service(structure: Structure, service: Service) -> list[Account]:
    """The approved members one may still add to a service."""
    already = select(ServiceMember.account_id).where(ServiceMember.service_id == service.id)
    return list(db.session.scalars(
        select(Account).join(Rattachement, Rattachement.account_id == Account.id)
        .where(Rattachement.structure_id == structure.id, Rattachement.status == "approved",
               Account.id.not_in(already))
        .order_by(Account.last_name, Account.first_name)))


def bank_accounts_of(structure: Structure) -> list[BankAccount]:
    return list(db.session.scalars(select(BankAccount).where(BankAccount.structure_id == structure.id)
                                   .order_by(BankAccount.active.desc(), BankAccount.is_default.desc(),
                                             BankAccount.id)))


# --- Approvals and members ------------------------------------------------------------------------------------------

def approve_rattachement(structure: Structure, actor: Account, rattachement: Rattachement,
                         rights: dict[str, str]) -> None:
    """Accept a pending request with the rights chosen now; the requester is told by e-mail."""
    _ensure_belongs(structure, rattachement)
    _ensure_pending(rattachement)
    rights = _clean_rights(rights)
    rattachement.status = "approved"
    _decided(rattachement, actor)
    _set_rights(rattachement, rights)
    requester = db.session.get(Account, rattachement.account_id)
    record(structure, actor, "rattachement.approved", **_who(requester), member_id=rattachement.id, rights=rights)
    queue_mail(requester.notification_email, "rattachement_approved", account_id=requester.id, account=requester,
               structure=structure, actor=actor, rights_lines=rights_lines(rights),
               url=_external("organisation.overview", siret=structure.siret))


def refuse_rattachement(structure: Structure, actor: Account, rattachement: Rattachement, reason: str = "") -> None:
    _ensure_belongs(structure, rattachement)
    _ensure_pending(rattachement)
    reason = (reason or "").strip()[:500]
    rattachement.status = "refused"
    _decided(rattachement, actor)
    requester = db.session.get(Account, rattachement.account_id)
    record(structure, actor, "rattachement.refused", **_who(requester), member_id=rattachement.id, reason=reason)
    queue_mail(requester.notification_email, "rattachement_refused", account_id=requester.id, account=requester,
               structure=structure, reason=reason)


def detach_member(structure: Structure, actor: Account, member: Rattachement) -> None:
    """Remove a member: access ends on their next request (the tenant re-reads the status every time)."""
    _ensure_belongs(structure, member)
    if member.account_id == structure.gestionnaire_id:
        raise OperationError("Le gestionnaire principal ne peut pas être détaché : transmettez d'abord son rôle à "
                             "un autre membre.")
    if member.account_id == actor.id:
        raise OperationError("Vous ne pouvez pas vous détacher vous-même : demandez-le au gestionnaire principal.")
    if member.status != "approved":
        raise OperationError("Cet utilisateur n'est plus rattaché à la structure.")
    person = db.session.get(Account, member.account_id)
    # Service memberships end with the rattachement: a later re-approval starts from a clean slate.
    codes = list(db.session.scalars(
        select(Service.code).join(ServiceMember, ServiceMember.service_id == Service.id)
        .where(Service.structure_id == structure.id, ServiceMember.account_id == person.id)))
    db.session.execute(delete(ServiceMember).where(
        ServiceMember.account_id == person.id,
        ServiceMember.service_id.in_(select(Service.id).where(Service.structure_id == structure.id))))
    member.status = "detached"
    _decided(member, actor)
    record(structure, actor, "member.detached", **_who(person), member_id=member.id, rights=member.rights(),
           services=codes)
    queue_mail(person.notification_email, "rattachement_detached", account_id=person.id, account=person,
               structure=structure)


def change_rights(structure: Structure, actor: Account, member: Rattachement, rights: dict[str, str]) -> bool:
    """Set a member's rights; False when nothing changed (nothing recorded)."""
    _ensure_belongs(structure, member)
    if member.account_id == structure.gestionnaire_id:
        raise OperationError("Le gestionnaire principal a tous les droits, qui ne se modifient pas : transmettez "
                             "d'abord son rôle.")
    if member.account_id == actor.id:
        raise OperationError("Vous ne pouvez pas modifier vos propres droits : demandez-le au gestionnaire "
                             "principal.")
    if member.status != "approved":
        raise OperationError("Cet utilisateur n'est plus rattaché à la structure.")
    new = _clean_rights(rights)
    old = member.rights()
    if new == old:
        return False
    _set_rights(member, new)
    person = db.session.get(Account, member.account_id)
    event = record(structure, actor, "rights.changed", **_who(person), member_id=member.id, old=old, new=new)
    _notify_gestionnaire(structure, actor, "rights_changed", event, person=person)
    return True


def hand_over_gestionnaire(structure: Structure, actor: Account, member_id: int | None) -> Account:
    """Make another approved member the gestionnaire principal, with every right. The former one stays a member."""
    structure = _locked(structure)
    if structure.gestionnaire_id != actor.id:
        raise OperationError("Seul le gestionnaire principal peut transmettre son rôle.")
    member = db.session.scalar(select(Rattachement).where(
        Rattachement.id == (member_id or 0), Rattachement.structure_id == structure.id,
        Rattachement.status == "approved"))
    if member is None:
        raise OperationError("Choisissez un utilisateur rattaché à la structure.", field="member_id")
    if member.account_id == actor.id:
        raise OperationError("Vous êtes déjà le gestionnaire principal : choisissez un autre utilisateur.",
                             field="member_id")
    old_rights = member.rights()
    _set_rights(member, rights_rules.GESTIONNAIRE_RIGHTS)
    structure.gestionnaire_id = member.account_id
    former = db.session.get(Account, actor.id)
    successor = db.session.get(Account, member.account_id)
    record(structure, actor, "gestionnaire.transferred", old=_who(former), new=_who(successor),
           new_previous_rights=old_rights)
    for recipient in (former, successor):
        queue_mail(recipient.notification_email, "gestionnaire_transferred", account_id=recipient.id,
                   account=recipient, structure=structure, former=former, successor=successor,
                   url=_external("organisation.overview", siret=structure.siret))
    return successor


# --- Settings ------------------------------------------------------------------------------------------------------

STRUCTURE_FIELDS = {
    "name": "Raison sociale",
    "is_public": "Structure publique",
    "address_line": "Adresse",
    "postal_code": "Code postal",
    "city": "Commune",
    "vat_number": "N° de TVA intracommunautaire",
    "size_class": "Taille",
    "routing_requirement": "Exigence d'acheminement des factures",
    "legal_form": "Forme juridique",
    "share_capital": "Capital social",
    "registration": "Immatriculation (RCS / RM)",
}
_KEEP = object()  # a legal-identity argument left out keeps the stored value


def update_structure(structure: Structure, actor: Account, *, name: str, is_public: bool, address_line: str,
                     postal_code: str, city: str, vat_number: str | None, size_class: str,
                     routing_requirement: str, legal_form=_KEEP, share_capital=_KEEP, registration=_KEEP) -> dict:
    """Change identity and settings; the SIRET never changes. Returns {field: {old, new}} of what changed.
    The legal identity (form, capital as typed, RCS / RM) is printed on the structure's invoices: see
    `domain.legal_identity`; each of the three is changed only when given."""
    name = (name or "").strip()
    if not name:
        raise OperationError("Indiquez la raison sociale.", field="name")
    if size_class not in SIZE_CLASSES:
        raise OperationError("Choisissez la taille de l'entreprise dans la liste.", field="size_class")
    if routing_requirement not in ROUTING_REQUIREMENTS:
        raise OperationError("Choisissez une exigence dans la liste.", field="routing_requirement")
    try:
        postal_code = identifiers.clean_postal_code(postal_code)
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field="postal_code") from None
    vat_number = (vat_number or "").strip() or None
    if vat_number:
        try:
            vat_number = identifiers.clean_vat_number(vat_number, structure.siret)
        except identifiers.InvalidIdentifier as error:
            raise OperationError(str(error), field="vat_number") from None
    wanted = {"name": name, "is_public": bool(is_public), "address_line": (address_line or "").strip(),
              "postal_code": postal_code, "city": (city or "").strip(), "vat_number": vat_number,
              "size_class": size_class, "routing_requirement": routing_requirement}
    try:
        if legal_form is not _KEEP:
            wanted["legal_form"] = legal_identity.clean_legal_form(legal_form)
        if share_capital is not _KEEP:
            wanted["share_capital"] = legal_identity.clean_share_capital(share_capital)
        if registration is not _KEEP:
            wanted["registration"] = legal_identity.clean_registration(registration, structure.siret[:9])
    except legal_identity.InvalidLegalIdentity as error:
        raise OperationError(str(error), field=error.field) from None
    changes = _apply(structure, wanted)
    if changes:
        record(structure, actor, "structure.updated", changes=changes)
    return changes


# --- Services ------------------------------------------------------------------------------------------------------

SERVICE_FIELDS = {
    "name": "Nom",
    "valid_from": "Début de validité",
    "valid_to": "Fin de validité",
    "engagement_required": "Numéro d'engagement obligatoire",
    "active": "Actif",
}


def create_service(structure: Structure, actor: Account, *, code: str, name: str, valid_from: date | None,
                   valid_to: date | None, engagement_required: bool) -> Service:
    # Stored in capitals: the code a supplier types must match whatever case they use.
    code = " ".join((code or "").split()).upper()
    if not code:
        raise OperationError("Indiquez le code service.", field="code")
    if len(code) > 100:
        raise OperationError("Le code service compte 100 caractères au plus.", field="code")
    if db.session.scalar(select(Service.id).where(Service.structure_id == structure.id,
                                                  func.upper(Service.code) == code)) is not None:
        raise OperationError(f"Le code service « {code} » existe déjà dans cette structure.", field="code")
    name = _service_name(name)
    _check_validity(valid_from, valid_to)
    service = Service(structure_id=structure.id, code=code, name=name, valid_from=valid_from, valid_to=valid_to,
                      engagement_required=bool(engagement_required))
    db.session.add(service)
    db.session.flush()
    record(structure, actor, "service.created", service_id=service.id, code=code, name=name,
           valid_from=_json(valid_from), valid_to=_json(valid_to), engagement_required=service.engagement_required)
    return service


def update_service(structure: Structure, actor: Account, service: Service, *, name: str, valid_from: date | None,
                   valid_to: date | None, engagement_required: bool) -> dict:
    """Rename and change validity; the code stays (suppliers already print it on their invoices)."""
    _ensure_belongs(structure, service)
    name = _service_name(name)
    _check_validity(valid_from, valid_to)
    changes = _apply(service, {"name": name, "valid_from": valid_from, "valid_to": valid_to,
                               "engagement_required": bool(engagement_required)})
    if changes:
        record(structure, actor, "service.updated", service_id=service.id, code=service.code, changes=changes)
    return changes


def set_service_active(structure: Structure, actor: Account, service: Service, active: bool) -> None:
    _ensure_belongs(structure, service)
    if service.active == active:
        raise OperationError("Ce service est déjà actif." if active else "Ce service est déjà désactivé.")
    service.active = active
    record(structure, actor, "service.reactivated" if active else "service.deactivated", service_id=service.id,
           code=service.code, name=service.name)


def service_is_used(service: Service) -> bool:
    """Whether anything points at the service, so that it may only be deactivated, never deleted.

    The one place to extend when invoices, marchés... start referring to services.
    """
    return db.session.scalar(select(ServiceMember.id).where(ServiceMember.service_id == service.id)
                             .limit(1)) is not None


def delete_service(structure: Structure, actor: Account, service: Service) -> None:
    _ensure_belongs(structure, service)
    if service_is_used(service):
        raise OperationError(f"Le service « {service.code} » a déjà servi (utilisateurs rattachés, factures ou "
                             "marchés) : il ne peut pas être supprimé. Désactivez-le plutôt.")
    record(structure, actor, "service.deleted", service_id=service.id, code=service.code, name=service.name)
    db.session.delete(service)
    db.session.flush()


def add_service_member(structure: Structure, actor: Account, service: Service, account_id: int | None) -> None:
    _ensure_belongs(structure, service)
    member = db.session.scalar(select(Rattachement).where(
        Rattachement.account_id == (account_id or 0), Rattachement.structure_id == structure.id,
        Rattachement.status == "approved"))
    if member is None:
        raise OperationError("Choisissez un utilisateur rattaché à la structure.", field="account_id")
    if db.session.scalar(select(ServiceMember.id).where(ServiceMember.service_id == service.id,
                                                        ServiceMember.account_id == member.account_id)):
        raise OperationError("Cet utilisateur est déjà membre de ce service.", field="account_id")
    db.session.add(ServiceMember(service_id=service.id, account_id=member.account_id))
    db.session.flush()
    person = db.session.get(Account, member.account_id)
    record(structure, actor, "service.member_added", service_id=service.id, code=service.code, **_who(person))


def remove_service_member(structure: Structure, actor: Account, service: Service, row: ServiceMember) -> None:
    _ensure_belongs(structure, service)
    if row.service_id != service.id:
        raise ValueError("service member row of another service")
    person = db.session.get(Account, row.account_id)
    db.session.delete(row)
    db.session.flush()
    record(structure, actor, "service.member_removed", service_id=service.id, code=service.code, **_who(person))


# --- Bank details --------------------------------------------------------------------------------------------------
# Exactly one default among the active accounts (none when there is no active account). The structure row is
# locked first, so that two simultaneous changes cannot leave two defaults or none.

BANK_FIELDS = {
    "label": "Libellé",
    "iban": "IBAN",
    "bic": "BIC",
    "affactureur": "Compte d'affactureur",
    "is_default": "Compte par défaut",
    "active": "Actif",
}


def add_bank_account(structure: Structure, actor: Account, *, label: str, iban: str, bic: str, affactureur: bool,
                     make_default: bool) -> BankAccount:
    structure = _locked(structure)
    label = _bank_label(label)
    iban = _checked(identifiers.clean_iban, iban, "iban")
    bic = _checked(identifiers.clean_bic, bic, "bic")
    if db.session.scalar(select(BankAccount.id).where(BankAccount.structure_id == structure.id,
                                                      BankAccount.iban == iban, BankAccount.active.is_(True))):
        raise OperationError("Cet IBAN est déjà enregistré pour cette structure.", field="iban")
    previous = _current_default(structure)
    account = BankAccount(structure_id=structure.id, label=label, iban=iban, bic=bic,
                          affactureur=bool(affactureur), is_default=False)
    db.session.add(account)
    db.session.flush()
    if make_default or previous is None:
        _make_default(structure, account)
    new_default = account if account.is_default else previous
    event = record(structure, actor, "bank_account.added", bank_account_id=account.id, old=None,
                   new=_bank_snapshot(account), default=_default_change(previous, new_default))
    _notify_gestionnaire(structure, actor, "bank_details_changed", event)
    return account


def update_bank_account(structure: Structure, actor: Account, account: BankAccount, *, label: str,
                        affactureur: bool) -> bool:
    """Label and affactureur flag only: an IBAN never changes in place (add the new one, deactivate the old)."""
    structure = _locked(structure)
    _ensure_belongs(structure, account)
    if not account.active:
        raise OperationError("Ce compte est désactivé : il ne se modifie plus.")
    old = _bank_snapshot(account)
    account.label = _bank_label(label)
    account.affactureur = bool(affactureur)
    if _bank_snapshot(account) == old:
        return False
    event = record(structure, actor, "bank_account.updated", bank_account_id=account.id, old=old,
                   new=_bank_snapshot(account))
    _notify_gestionnaire(structure, actor, "bank_details_changed", event)
    return True


def set_default_bank_account(structure: Structure, actor: Account, account: BankAccount) -> bool:
    structure = _locked(structure)
    _ensure_belongs(structure, account)
    if not account.active:
        raise OperationError("Un compte désactivé ne peut pas être le compte par défaut.")
    previous = _current_default(structure)
    if previous is not None and previous.id == account.id:
        return False
    old = _bank_snapshot(account)
    _make_default(structure, account)
    event = record(structure, actor, "bank_account.default_changed", bank_account_id=account.id, old=old,
                   new=_bank_snapshot(account), default=_default_change(previous, account))
    _notify_gestionnaire(structure, actor, "bank_details_changed", event)
    return True


def deactivate_bank_account(structure: Structure, actor: Account, account: BankAccount) -> BankAccount | None:
    """Deactivate (never delete: past pieces point at it). A default hands over to the oldest other active account.

    Returns the default account afterwards, or None.
    """
    structure = _locked(structure)
    _ensure_belongs(structure, account)
    if not account.active:
        raise OperationError("Ce compte est déjà désactivé.")
    previous = _current_default(structure)
    old = _bank_snapshot(account)
    account.active = False
    account.is_default = False
    db.session.flush()
    new_default = previous if previous is not None and previous.id != account.id else None
    if new_default is None:
        new_default = db.session.scalar(select(BankAccount).where(
            BankAccount.structure_id == structure.id, BankAccount.active.is_(True)).order_by(BankAccount.id)
            .limit(1))
        if new_default is not None:
            _make_default(structure, new_default)
    event = record(structure, actor, "bank_account.deactivated", bank_account_id=account.id, old=old,
                   new=_bank_snapshot(account), default=_default_change(previous, new_default))
    _notify_gestionnaire(structure, actor, "bank_details_changed", event)
    return new_default


def mask_iban(iban: str | None) -> str:
    """The form shown on screen and in mails; the journal keeps the full IBAN (the fraud trail)."""
    if not iban:
        return "—"
    return f"{iban[:4]} •••• •••• {iban[-4:]}"


# --- The journal, in words -----------------------------------------------------------------------------------------

@dataclass
class EventText:
    title: str
    lines: list[str] = field(default_factory=list)


def rights_lines(rights: dict[str, str]) -> list[str]:
    return [f"{rights_rules.DOMAIN_LABELS[d]} : {rights_rules.LEVEL_LABELS[rights[d]]}"
            for d in rights_rules.DOMAINS if d in rights]


def describe_event(event: StructureEvent) -> EventText:
    """A French title and detail lines for the journal and the mails, IBANs masked."""
    d = event.detail or {}
    kind = event.kind
    who = d.get("name") or d.get("email") or ""
    if kind == "structure.created":
        return EventText("Structure créée", [f"SIRET {d.get('siret', '')} — {d.get('name', '')}"])
    if kind == "rattachement.approved":
        return EventText(f"Rattachement accepté : {who}", rights_lines(d.get("rights", {})))
    if kind == "rattachement.refused":
        return EventText(f"Rattachement refusé : {who}", [f"Motif : {d['reason']}"] if d.get("reason") else [])
    if kind == "member.detached":
        lines = [f"Services quittés : {', '.join(d['services'])}"] if d.get("services") else []
        return EventText(f"Utilisateur détaché : {who}", lines)
    if kind == "rights.changed":
        return EventText(f"Droits modifiés : {who}", _changed_lines(
            d.get("old", {}), d.get("new", {}), rights_rules.DOMAIN_LABELS, _level_label))
    if kind == "gestionnaire.transferred":
        old, new = d.get("old", {}), d.get("new", {})
        return EventText("Rôle de gestionnaire principal transmis",
                         [f"{old.get('name', '')} → {new.get('name', '')} ({new.get('email', '')})"])
    if kind == "gestionnaire.contest_handed_over":
        old, new = d.get("old") or {}, d.get("new") or {}
        return EventText("Rôle de gestionnaire principal remis après une contestation retenue",
                         [f"{old.get('name', '—')} → {new.get('name', '')} ({new.get('email', '')})",
                          f"{old.get('name', 'L’ancien gestionnaire')} n'est plus rattaché(e) à la structure."])
    if kind == "structure.updated":
        return EventText("Paramètres de la structure modifiés", _changes_lines(d.get("changes", {}),
                                                                               STRUCTURE_FIELDS, _setting_value))
    if kind.startswith("service."):
        return _describe_service_event(kind, d, who)
    if kind.startswith("bank_account."):
        return _describe_bank_event(kind, d)
    return EventText(kind)


def _describe_service_event(kind: str, d: dict, who: str) -> EventText:
    code = d.get("code", "")
    titles = {
        "service.created": f"Service créé : {code} — {d.get('name', '')}",
        "service.updated": f"Service modifié : {code}",
        "service.deactivated": f"Service désactivé : {code}",
        "service.reactivated": f"Service réactivé : {code}",
        "service.deleted": f"Service supprimé : {code} — {d.get('name', '')}",
        "service.member_added": f"{who} ajouté(e) au service {code}",
        "service.member_removed": f"{who} retiré(e) du service {code}",
    }
    lines = _changes_lines(d.get("changes", {}), SERVICE_FIELDS, _plain_value) if kind == "service.updated" else []
    return EventText(titles.get(kind, kind), lines)


def _describe_bank_event(kind: str, d: dict) -> EventText:
    old, new = d.get("old") or {}, d.get("new") or {}
    label = new.get("label") or old.get("label") or ""
    if kind == "bank_account.added":
        title = f"Coordonnées bancaires ajoutées : {label}"
        lines = [f"IBAN {mask_iban(new.get('iban'))}, BIC {new.get('bic', '')}"
                 + (" (affactureur)" if new.get("affactureur") else "")]
    elif kind == "bank_account.updated":
        title = f"Coordonnées bancaires modifiées : {label} ({mask_iban(new.get('iban'))})"
        lines = _changed_lines(old, new, BANK_FIELDS, _bank_value)
    elif kind == "bank_account.default_changed":
        title = f"Compte par défaut changé : {label}"
        lines = []
    elif kind == "bank_account.deactivated":
        title = f"Coordonnées bancaires désactivées : {label} ({mask_iban(old.get('iban'))})"
        lines = []
    else:
        return EventText(kind)
    default = d.get("default")
    if default:
        lines.append(f"Compte par défaut : {_default_text(default.get('old'))} → {_default_text(default.get('new'))}")
    return EventText(title, lines)


# --- Helpers -------------------------------------------------------------------------------------------------------

def _ensure_belongs(structure: Structure, row) -> None:
    # The views already answer 404 for another structure's row; this guards any other caller.
    if row.structure_id != structure.id:
        raise ValueError(f"{type(row).__name__} {row.id} does not belong to structure {structure.id}")


def _ensure_pending(rattachement: Rattachement) -> None:
    # Read under a row lock: two people deciding the same request at once must not both succeed.
    status = db.session.scalar(select(Rattachement.status).where(Rattachement.id == rattachement.id)
                               .with_for_update())
    if status != "pending":
        raise OperationError("Cette demande a déjà été traitée.")


def _decided(rattachement: Rattachement, actor: Account) -> None:
    rattachement.decided_at = utcnow()
    rattachement.decided_by_id = actor.id


def _clean_rights(rights: dict[str, str]) -> dict[str, str]:
    clean = {}
    for domain in rights_rules.DOMAINS:
        level = (rights or {}).get(domain)
        if level not in rights_rules.LEVELS:
            raise OperationError("Choisissez un niveau dans la liste.", field=f"right_{domain}")
        clean[domain] = level
    return clean


def _set_rights(rattachement: Rattachement, rights: dict[str, str]) -> None:
    for domain, level in rights.items():
        setattr(rattachement, f"right_{domain}", level)


def _who(account: Account) -> dict:
    return {"account_id": account.id, "email": account.email, "name": account.full_name}


def _locked(structure: Structure) -> Structure:
    """The structure row, locked until the end of the transaction (PostgreSQL; SQLite serialises writers anyway)."""
    return db.session.scalars(select(Structure).where(Structure.id == structure.id).with_for_update()
                              .execution_options(populate_existing=True)).one()


def _apply(row, wanted: dict) -> dict:
    """Set the wanted values on the row; return {field: {old, new}} (JSON-ready) of those that changed."""
    changes = {}
    for name, value in wanted.items():
        old = getattr(row, name)
        if old != value:
            changes[name] = {"old": _json(old), "new": _json(value)}
            setattr(row, name, value)
    return changes


def _json(value):
    if isinstance(value, Decimal):  # the share capital: "50000.00" in the journal's JSON
        return str(value)
    return value.isoformat() if isinstance(value, date) else value


def _service_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise OperationError("Indiquez le nom du service.", field="name")
    return name


def _check_validity(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from and valid_to and valid_to < valid_from:
        raise OperationError("La fin de validité ne peut pas précéder le début.", field="valid_to")


def _bank_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise OperationError("Donnez un libellé à ce compte (par exemple « Compte courant »).", field="label")
    return label


def _checked(clean, value: str, field_name: str) -> str:
    try:
        return clean(value)
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field=field_name) from None


def _current_default(structure: Structure) -> BankAccount | None:
    return db.session.scalar(select(BankAccount).where(BankAccount.structure_id == structure.id,
                                                       BankAccount.active.is_(True),
                                                       BankAccount.is_default.is_(True))
                             .order_by(BankAccount.id).limit(1))


def _make_default(structure: Structure, account: BankAccount) -> None:
    others = db.session.scalars(select(BankAccount).where(BankAccount.structure_id == structure.id,
                                                          BankAccount.is_default.is_(True),
                                                          BankAccount.id != account.id)).all()
    for other in others:
        other.is_default = False
    account.is_default = True
    db.session.flush()


def _bank_snapshot(account: BankAccount) -> dict:
    return {name: getattr(account, name) for name in BANK_FIELDS}


def _default_change(previous: BankAccount | None, current: BankAccount | None) -> dict | None:
    def short(acc):
        return None if acc is None else {"id": acc.id, "label": acc.label, "iban": acc.iban}

    if (previous.id if previous else None) == (current.id if current else None):
        return None
    return {"old": short(previous), "new": short(current)}


def _default_text(short: dict | None) -> str:
    return "aucun" if not short else f"{short.get('label', '')} ({mask_iban(short.get('iban'))})"


def _notify_gestionnaire(structure: Structure, actor: Account, template: str, event: StructureEvent, **context):
    gestionnaire = db.session.get(Account, structure.gestionnaire_id)
    queue_mail(gestionnaire.notification_email, template, account_id=gestionnaire.id, gestionnaire=gestionnaire,
               structure=structure, actor=actor, at=utcnow(), text=describe_event(event),
               url=_external("organisation.journal", siret=structure.siret), **context)


def _changed_lines(old: dict, new: dict, labels: dict, show) -> list[str]:
    return [f"{label} : {show(name, old.get(name))} → {show(name, new.get(name))}"
            for name, label in labels.items() if old.get(name) != new.get(name)]


def _changes_lines(changes: dict, labels: dict, show) -> list[str]:
    return [f"{labels.get(name, name)} : {show(name, c.get('old'))} → {show(name, c.get('new'))}"
            for name, c in changes.items()]


def _level_label(_name: str, level) -> str:
    return rights_rules.LEVEL_LABELS.get(level, str(level))


def _plain_value(_name: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    return str(value)


def _setting_value(name: str, value) -> str:
    if name == "routing_requirement":
        return ROUTING_LABELS.get(value, str(value))
    if name == "size_class":
        return SIZE_LABELS.get(value, str(value))
    if name == "share_capital" and value not in (None, ""):
        return formatting.money(Decimal(value))
    return _plain_value(name, value)


def _bank_value(name: str, value) -> str:
    return mask_iban(value) if name == "iban" else _plain_value(name, value)


def _external(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)
