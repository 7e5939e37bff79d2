"""Structures: creation, search, and requests to join (rattachements)."""
from __future__ import annotations

from sqlalchemy import or_, select

from chorus_chain.domain import identifiers
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, Rattachement, Structure, StructureEvent
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations.mail import queue_mail

SEARCH_MIN_CHARS = 3
SEARCH_LIMIT = 20


def record(structure: Structure, actor: Account | None, kind: str, **detail) -> StructureEvent:
    event = StructureEvent(structure_id=structure.id, account_id=actor.id if actor else None, kind=kind,
                           detail=detail)
    db.session.add(event)
    return event


def create_structure(creator: Account, *, siret: str, name: str, is_public: bool, address_line: str,
                     postal_code: str, city: str, vat_number: str | None, size_class: str) -> Structure:
    """Create a structure; its creator becomes its gestionnaire principal with every right."""
    try:
        siret = identifiers.clean_siret(siret)
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field="siret") from None
    if vat_number:
        try:
            vat_number = identifiers.clean_vat_number(vat_number, siret)
        except identifiers.InvalidIdentifier as error:
            raise OperationError(str(error), field="vat_number") from None
    try:
        postal_code = identifiers.clean_postal_code(postal_code)
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field="postal_code") from None
    if db.session.scalar(select(Structure.id).where(Structure.siret == siret)) is not None:
        raise OperationError("Une structure existe déjà avec ce SIRET. Demandez à vous y rattacher, ou contestez son inscription si elle a été faite sans droit (lien ci-dessous).", field="siret")
    structure = Structure(siret=siret, name=name.strip(), is_public=is_public, address_line=address_line.strip(),
                          postal_code=postal_code, city=city.strip(), vat_number=vat_number or None,
                          size_class=size_class, gestionnaire_id=creator.id)
    db.session.add(structure)
    db.session.flush()
    db.session.add(Rattachement(account_id=creator.id, structure_id=structure.id, status="approved",
                                decided_at=utcnow(), decided_by_id=creator.id,
                                **{f"right_{d}": lvl for d, lvl in rights_rules.GESTIONNAIRE_RIGHTS.items()}))
    record(structure, creator, "structure.created", siret=siret, name=structure.name)
    return structure


def search_structures(query: str) -> list[Structure]:
    """By SIRET (at least 3 digits, prefix) or by exact company name (case-insensitive), as Chorus Pro does."""
    query = (query or "").strip()
    digits = "".join(ch for ch in query if ch.isdigit())
    conditions = []
    if len(digits) >= SEARCH_MIN_CHARS and len(digits) == len(query.replace(" ", "")):
        conditions.append(Structure.siret.startswith(digits))
    if len(query) >= SEARCH_MIN_CHARS:
        conditions.append(db.func.lower(Structure.name) == query.lower())
    if not conditions:
        raise OperationError(f"Saisissez au moins {SEARCH_MIN_CHARS} caractères : le début du SIRET ou le nom exact.",
                             field="q")
    return list(db.session.scalars(select(Structure).where(or_(*conditions)).order_by(Structure.name)
                                   .limit(SEARCH_LIMIT)))


def request_rattachement(account: Account, structure: Structure, message: str = "") -> Rattachement:
    """Ask to join a structure; its gestionnaire principal approves or refuses in "Approbations"."""
    membership = db.session.scalar(select(Rattachement).where(Rattachement.account_id == account.id,
                                                              Rattachement.structure_id == structure.id))
    if membership is not None and membership.status == "approved":
        raise OperationError("Vous êtes déjà rattaché à cette structure.")
    if membership is not None and membership.status == "pending":
        raise OperationError("Votre demande est déjà en attente auprès du gestionnaire principal.")
    if membership is None:
        membership = Rattachement(account_id=account.id, structure_id=structure.id)
        db.session.add(membership)
    membership.status = "pending"
    membership.message = (message or "").strip()[:500]
    membership.requested_at = utcnow()
    membership.decided_at = None
    membership.decided_by_id = None
    for domain, level in rights_rules.DEFAULT_MEMBER_RIGHTS.items():
        setattr(membership, f"right_{domain}", level)
    db.session.flush()
    gestionnaire = db.session.get(Account, structure.gestionnaire_id)
    queue_mail(gestionnaire.notification_email, "rattachement_requested", account_id=gestionnaire.id,
               structure=structure, requester=account, message=membership.message)
    return membership


def memberships_of(account: Account) -> list[tuple[Structure, Rattachement]]:
    rows = db.session.execute(
        select(Structure, Rattachement).join(Rattachement, Rattachement.structure_id == Structure.id)
        .where(Rattachement.account_id == account.id, Rattachement.status.in_(("approved", "pending", "refused")))
        .order_by(Rattachement.status, Structure.name)
    ).all()
    return [(s, r) for s, r in rows]


def names_of(structure_ids) -> dict[int, str]:
    """structure id → its name, for the ids given (None and duplicates ignored): one query, none for no id. The
    pages that name the companies of a route (the payment tracker, the Trésorerie) read them here."""
    ids = {i for i in structure_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Structure.id, Structure.name).where(Structure.id.in_(ids))).all())
