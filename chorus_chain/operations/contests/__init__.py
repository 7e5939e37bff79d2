"""Contesting a structure's registration (issue 13): how a company proves who it is.

Chorus Pro's own answer, which we follow: the first account that registers a SIRET becomes the structure's
gestionnaire principal (the SIRET's checksum is all that can be checked on the spot); a company that says the
structure was registered by someone else contests it through support. The contest goes to the operators' queue
(`/operateur/demandes/contestations`); an operator decides — upheld or rejected, with the reason — after checking
the company's documents (Kbis, a letter on its letterhead, the INSEE notice); the decision is recorded on the
contest and in the structure's journal, and the contester is told by e-mail.

An upheld contest hands the structure over at once (`_hand_over`): the claimant's account becomes its gestionnaire
principal, with every right, and the account that registered it loses the role and its membership — the operator has
just found that it was not the company's to register. Both are told by e-mail; the journal keeps who, when and on
which contest. A rejected contest changes nothing, and until an operator upholds it a contest gives the contester no
access to the structure.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from chorus_chain.domain import identifiers
from chorus_chain.domain import rights as rights_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, Rattachement, Service, ServiceMember, Structure
from chorus_chain.models.contests import StructureContest
from chorus_chain.operations import OperationError
from chorus_chain.operations.mail import queue_mail
from chorus_chain.operations.structures import record as record_event

REASON_MIN = 20


def open_contest(account: Account, siret: str, reason: str, *, now: datetime) -> StructureContest:
    """File a contest about the structure registered for `siret`. Refused when there is no such structure, when the
    account already belongs to it, when the reason is too short, or when its previous contest is still open."""
    try:
        siret = identifiers.clean_siret(siret or "")
    except identifiers.InvalidIdentifier as error:
        raise OperationError(str(error), field="siret") from None
    structure = db.session.scalar(select(Structure).where(Structure.siret == siret))
    if structure is None:
        raise OperationError("Aucune structure n'est inscrite avec ce SIRET : vous pouvez la créer.", field="siret")
    if db.session.scalar(select(Rattachement.id).where(Rattachement.structure_id == structure.id,
                                                       Rattachement.account_id == account.id,
                                                       Rattachement.status == "approved")) is not None:
        raise OperationError("Vous êtes déjà rattaché(e) à cette structure : rien à contester.", field="siret")
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN:
        raise OperationError(f"Expliquez en {REASON_MIN} caractères au moins pourquoi cette structure est la vôtre "
                             "(qui vous êtes, votre fonction dans l'entreprise).", field="reason")
    if len(reason) > 4000:
        raise OperationError("4 000 caractères au plus.", field="reason")
    if db.session.scalar(select(StructureContest.id).where(StructureContest.structure_id == structure.id,
                                                           StructureContest.account_id == account.id,
                                                           StructureContest.status == "open")) is not None:
        raise OperationError("Votre contestation de cette structure attend déjà la décision du support.",
                             field="siret")
    contest = StructureContest(structure_id=structure.id, account_id=account.id, reason=reason, status="open",
                               created_at=now)
    db.session.add(contest)
    db.session.flush()
    record_event(structure, account, "structure.contested", contest_id=contest.id)
    return contest


def open_contests() -> list[StructureContest]:
    """The operators' queue: open contests first, the oldest first, then the decided ones."""
    return list(db.session.scalars(select(StructureContest).order_by(
        StructureContest.status != "open", StructureContest.created_at, StructureContest.id)))


def decide(contest: StructureContest, operator: Account, *, upheld: bool, decision: str,
           now: datetime) -> StructureContest:
    """An operator's decision, with its reason: recorded on the contest and in the structure's journal."""
    if not operator.is_operator:
        raise OperationError("Réservé aux opérateurs de la plateforme.")
    if contest.status != "open":
        raise OperationError("Cette contestation a déjà reçu une décision.")
    decision = (decision or "").strip()
    if len(decision) < 10:
        raise OperationError("Indiquez la raison de la décision (10 caractères au moins).", field="decision")
    contest.status = "upheld" if upheld else "rejected"
    contest.decided_at, contest.decided_by_id, contest.decision = now, operator.id, decision
    db.session.flush()
    record_event(contest.structure, operator, "structure.contest_decided", contest_id=contest.id,
                 upheld=upheld, decision=decision)
    queue_mail(contest.account.notification_email, "structure_contest_decided", account_id=contest.account_id,
               contest=contest, structure=contest.structure, upheld=upheld)
    if upheld:
        _hand_over(contest, operator, now=now)
    return contest


def _hand_over(contest: StructureContest, operator: Account, *, now: datetime) -> None:
    """The claimant becomes gestionnaire principal (every right); the former one is detached from the structure
    (its services left with it); journalled, both told by e-mail. The structure row is locked: two operators deciding
    two contests of one structure at once hand it over one after the other."""
    structure = db.session.scalar(select(Structure).where(Structure.id == contest.structure_id)
                                  .with_for_update(of=Structure))
    claimant = db.session.get(Account, contest.account_id)
    former = db.session.get(Account, structure.gestionnaire_id) if structure.gestionnaire_id else None
    membership = db.session.scalar(select(Rattachement).where(Rattachement.structure_id == structure.id,
                                                              Rattachement.account_id == claimant.id))
    if membership is None:
        membership = Rattachement(structure_id=structure.id, account_id=claimant.id, requested_at=now)
        db.session.add(membership)
    membership.status, membership.decided_at, membership.decided_by_id = "approved", now, operator.id
    for domain, level in rights_rules.GESTIONNAIRE_RIGHTS.items():
        setattr(membership, f"right_{domain}", level)
    structure.gestionnaire_id = claimant.id
    if former is not None and former.id != claimant.id:
        db.session.execute(delete(ServiceMember).where(
            ServiceMember.account_id == former.id,
            ServiceMember.service_id.in_(select(Service.id).where(Service.structure_id == structure.id))))
        for row in db.session.scalars(select(Rattachement).where(Rattachement.structure_id == structure.id,
                                                                 Rattachement.account_id == former.id)):
            row.status, row.decided_at, row.decided_by_id = "detached", now, operator.id
    db.session.flush()
    record_event(structure, operator, "gestionnaire.contest_handed_over", contest_id=contest.id,
                 old=_who(former) if former else None, new=_who(claimant))
    recipients = [claimant] + ([former] if former is not None and former.id != claimant.id else [])
    for recipient in recipients:
        queue_mail(recipient.notification_email, "structure_contest_handed_over", account_id=recipient.id,
                   account=recipient, structure=structure, former=former, successor=claimant,
                   decision=contest.decision)


def _who(account: Account) -> dict:
    return {"account_id": account.id, "name": account.full_name, "email": account.email}
