"""An invitation answered by another account than the one it was sent to, with the inviter's approval (issue 13).

The secret link answers only the invited address (`marches.check_invitee`). Whoever else opens it — a colleague of
the invited person, the company's accountant — may ask the inviter for the role, for the structure of the invited
SIRET of which it is an approved member: a pending request (`InvitationRequest`). The inviting structure's gestionnaire
principal decides. Approved: the invitation is linked to the requester's structure (to be confirmed there, as the
invited person's own claim would be; the link is spent). Refused: nothing changes. Either way the requester is told
by e-mail and the marché's journal keeps it.

So a structure registered for a SIRET already invited — or already registered — inherits nothing by itself: only the
invited address's own link, or the inviter's approval, links an invitation to it.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app, url_for
from sqlalchemy import select

from chorus_chain.domain import text as text_rules
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, MarcheParty, Rattachement, Structure
from chorus_chain.models.invitations import InvitationRequest
from chorus_chain.operations import OperationError
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations.mail import queue_mail

MESSAGE_MAX = 500


def _external(endpoint: str, **values) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + url_for(endpoint, **values)


def ask(account: Account, token: str, message: str, *, now: datetime) -> InvitationRequest:
    """Ask the inviter to let the requester's structure (the invited SIRET's, of which it is a member) take the
    invitation. Refused for the invited address itself (its link answers it directly), for an account that is no
    member of that structure, and when the same request already waits."""
    party = marche_ops.read_invitation(token)
    if party.invited_email and marche_ops.normalise_email(account.email) == marche_ops.normalise_email(
            party.invited_email):
        raise OperationError("Cette invitation vous est adressée : répondez-y directement depuis son lien.")
    if party.invited_by_id is None:
        raise OperationError("Cette invitation n'a pas d'entreprise invitante à qui demander.")
    structure, member = marche_ops.invitation_target(account, party)
    if structure is None:
        raise OperationError(f"Aucune structure n'est inscrite pour le SIRET {party.siret} : inscrivez-la (vous en "
                             "serez le gestionnaire principal), puis revenez sur ce lien pour demander le rôle.")
    if not member:
        raise OperationError(f"Vous n'êtes pas rattaché(e) à {structure.name} : demandez d'abord votre rattachement "
                             "à son gestionnaire principal.")
    message = (message or "").strip()
    problem = text_rules.text_problem(message, multiline=True) if message else None
    if problem:
        raise OperationError(problem, field="message")
    if len(message) > MESSAGE_MAX:
        raise OperationError(f"{MESSAGE_MAX} caractères au plus.", field="message")
    if db.session.scalar(select(InvitationRequest.id).where(
            InvitationRequest.party_id == party.id, InvitationRequest.account_id == account.id,
            InvitationRequest.status == "pending")) is not None:
        raise OperationError("Votre demande attend déjà la décision de l'entreprise invitante.")
    request = InvitationRequest(party_id=party.id, inviter_id=party.invited_by_id, account_id=account.id,
                                structure_id=structure.id, message=message, status="pending", created_at=now)
    db.session.add(request)
    db.session.flush()
    marche = db.session.get(Marche, party.marche_id)
    marche_ops.record(marche, "invitation.requested", account=account, structure=structure, party=party,
                      request_id=request.id)
    inviter = db.session.get(Structure, party.invited_by_id)
    gestionnaire = db.session.get(Account, inviter.gestionnaire_id) if inviter.gestionnaire_id else None
    if gestionnaire is not None:
        queue_mail(gestionnaire.notification_email, "invitation_request_received", account_id=gestionnaire.id,
                   account=gestionnaire, requester=account, structure=structure, party=party, marche=marche,
                   inviter=inviter, message=message,
                   url=_external("marches.index", siret=inviter.siret))
    return request


def pending_for(inviter: Structure) -> list[InvitationRequest]:
    """The requests the inviting structure's gestionnaire principal has to decide, the oldest first."""
    return list(db.session.scalars(select(InvitationRequest).where(
        InvitationRequest.inviter_id == inviter.id, InvitationRequest.status == "pending")
        .order_by(InvitationRequest.created_at, InvitationRequest.id)))


def decide(inviter: Structure, actor: Account, request_id: int, *, approve: bool, now: datetime) -> InvitationRequest:
    """The inviting structure's gestionnaire principal approves or refuses a request (checked by the view:
    `require_gestionnaire`). Approved: the invitation is linked to the requester's structure, still to be confirmed
    there; the other requests for it are refused. The party row is locked: two decisions at once cannot both link."""
    request = db.session.scalar(select(InvitationRequest).where(
        InvitationRequest.id == request_id, InvitationRequest.inviter_id == inviter.id)
        .with_for_update(of=InvitationRequest))
    if request is None:
        raise OperationError("Cette demande n'existe pas.")
    if request.status != "pending":
        raise OperationError("Cette demande a déjà reçu une réponse.")
    party = db.session.scalar(select(MarcheParty).where(MarcheParty.id == request.party_id)
                              .with_for_update(of=MarcheParty))
    if approve and (party.status != "invited" or party.structure_id is not None):
        raise OperationError("Cette invitation a déjà été rattachée ou a reçu une réponse : la demande est sans "
                             "objet.")
    if approve and db.session.scalar(select(Rattachement.id).where(
            Rattachement.structure_id == request.structure_id, Rattachement.account_id == request.account_id,
            Rattachement.status == "approved")) is None:
        raise OperationError("Le demandeur n'est plus rattaché à sa structure : la demande ne peut être acceptée.")
    decided = [request]
    if approve:
        marche_ops.link_invitation(party, request.structure)
        decided += [other for other in db.session.scalars(select(InvitationRequest).where(
            InvitationRequest.party_id == party.id, InvitationRequest.status == "pending",
            InvitationRequest.id != request.id))]
    for row in decided:
        row.status = "approved" if approve and row is request else "refused"
        row.decided_at, row.decided_by_id = now, actor.id
    db.session.flush()
    marche = db.session.get(Marche, party.marche_id)
    for row in decided:
        marche_ops.record(marche, f"invitation.request_{row.status}", account=actor, structure=inviter, party=party,
                          request_id=row.id, requester_structure_id=row.structure_id)
        queue_mail(row.account.notification_email, "invitation_request_decided", account_id=row.account_id,
                   account=row.account, approved=row.status == "approved", structure=row.structure, party=party,
                   marche=marche, inviter=inviter,
                   url=_external("marches.show", siret=row.structure.siret, marche_id=marche.id))
    return request
