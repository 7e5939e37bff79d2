"""Invitation takeover and the contest of a structure's registration (issue 13).

An invitation sent to a SIRET that has no structure yet is accepted only through its secret link (random, kept as a
hash, expiring), by the account it was sent to; a structure registered for that SIRET by anyone else inherits
nothing. A company that says its SIRET was registered by someone else contests it through support; an operator
decides; the decision is recorded and journalled."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Rattachement, Structure, StructureEvent, StructureContest
from tests import factories
from tests.integration.test_marches import MARCHE_FORM, company, count, mails_to, ops_call, party_row, text


def _invite_unknown(app):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    siret = factories.valid_siret()
    response = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle", data={
        "role": "moe", "siret": siret, "name": "Atelier Nouveau", "email": "archi@nouveau.fr"})
    assert response.status_code == 302
    link = re.search(r"http://localhost(/invitations/\S+)", mails_to(app, "archi@nouveau.fr")[-1].body).group(1)
    return moa, marche_id, siret, link


def _structure_form(siret: str) -> dict:
    return {"siret": siret, "name": "Atelier Usurpé", "address_line": "1 rue X", "postal_code": "49000",
            "city": "Angers", "size_class": "micro"}


def test_registering_the_invited_siret_inherits_nothing(app, db):
    moa, marche_id, siret, link = _invite_unknown(app)
    intruder = factories.account(app, email="intrus@ailleurs.fr")
    client = app.test_client()
    factories.login(client, intruder)
    assert client.post("/compte/structures/nouvelle", data=_structure_form(siret)).status_code == 302
    # The structure exists, but the invitation is not its: no role to confirm, no chain, no marché.
    assert client.get(f"/s/{siret}/marches/{marche_id}").status_code == 404
    assert "Villefranche" not in text(client.get(f"/s/{siret}/marches/"))
    row = party_row(app, marche_id, siret, "moe")
    assert row.structure_id is None and row.status == "invited"
    # The link itself (forwarded, leaked) gives nothing to an account it was not sent to.
    refused = client.get(link)
    assert refused.status_code == 403 and "a•••@nouveau.fr" in text(refused)
    assert client.post(link, data={}).status_code == 403
    assert party_row(app, marche_id, siret, "moe").structure_id is None


def test_the_invitee_joins_an_existing_structure_only_as_its_member_and_through_the_link(app, db):
    moa, marche_id, siret, link = _invite_unknown(app)
    owner = factories.account(app)
    structure = factories.structure(app, owner, siret=siret, name="Atelier Nouveau")
    invitee = factories.account(app, email="archi@nouveau.fr")
    client = app.test_client()
    factories.login(client, invitee)
    page = client.get(link)
    assert page.status_code == 200 and "Demander mon rattachement" in text(page)
    assert client.post(link, data={}).status_code == 200  # not a member: nothing linked
    assert party_row(app, marche_id, siret, "moe").structure_id is None
    factories.member(app, structure, invitee)
    assert "Rattacher l'invitation" in text(client.get(link))
    claimed = client.post(link, data={})
    assert claimed.status_code == 302 and claimed.headers["Location"].endswith(f"/s/{siret}/marches/{marche_id}")
    row = party_row(app, marche_id, siret, "moe")
    assert row.structure_id == structure.id and row.status == "invited"  # the structure confirms it, with its rights
    assert row.invitation_hash is None and client.get(link).status_code == 400  # the link is spent


def test_the_link_is_kept_as_a_hash_and_expires(app, db):
    moa, marche_id, siret, link = _invite_unknown(app)
    token = link.rsplit("/", 1)[1]
    row = party_row(app, marche_id, siret, "moe")
    assert row.invitation_hash and token not in row.invitation_hash and len(row.invitation_hash) == 64
    with app.app_context():
        stored = db.session.get(MarcheParty, row.id)
        stored.invitation_expires_at = stored.invitation_expires_at - timedelta(days=31)
        db.session.commit()
    expired = app.test_client().get(link)
    assert expired.status_code == 400 and "a expiré" in text(expired)


def test_a_contest_reaches_the_operators_who_decide_and_the_journal_keeps_it(app, db):
    owner = factories.account(app)
    structure = factories.structure(app, owner, name="Entreprise Contestée")
    claimant = factories.account(app, email="vraie@entreprise.fr")
    client = app.test_client()
    factories.login(client, claimant)
    page = text(client.get("/compte/structures/nouvelle"))
    assert "premier compte qui inscrit un" in page and "/compte/structures/contester" in page
    taken = client.post("/compte/structures/nouvelle", data=_structure_form(structure.siret))
    assert taken.status_code == 422 and "contestez son inscription" in text(taken)
    short = client.post("/compte/structures/contester", data={"siret": structure.siret, "reason": "C'est moi"})
    assert short.status_code == 422 and count(app, StructureContest) == 0
    filed = client.post("/compte/structures/contester", data={
        "siret": structure.siret, "reason": "Je suis la gérante de cette SARL ; je n'ai jamais inscrit ce compte."})
    assert filed.status_code == 302 and count(app, StructureContest) == 1
    again = client.post("/compte/structures/contester", data={
        "siret": structure.siret, "reason": "Je suis la gérante de cette SARL ; je n'ai jamais inscrit ce compte."})
    assert again.status_code == 422 and count(app, StructureContest) == 1
    assert client.get(f"/s/{structure.siret}/").status_code == 404  # a contest gives no access
    # Not for a mere user; the operators see it in their queue and decide.
    assert client.get("/operateur/demandes/contestations").status_code == 403
    operator = factories.account(app, is_operator=True)
    desk = app.test_client()
    factories.login(desk, operator)
    queue = text(desk.get("/operateur/demandes/contestations"))
    assert "Entreprise Contestée" in queue and "vraie@entreprise.fr" in queue
    assert "Contestations de structures" in text(desk.get("/operateur/demandes"))
    with app.app_context():
        contest_id = db.session.scalar(select(StructureContest.id))
    assert desk.post(f"/operateur/demandes/contestations/{contest_id}/decision",
                     data={"decision": "upheld", "reason": ""}).status_code == 303
    assert count(app, StructureContest, StructureContest.status == "open") == 1  # no reason: nothing decided
    decided = desk.post(f"/operateur/demandes/contestations/{contest_id}/decision",
                        data={"decision": "upheld", "reason": "Kbis reçu le 5 décembre : la demandeuse est gérante."})
    assert decided.status_code == 303
    with app.app_context():
        contest = db.session.get(StructureContest, contest_id)
        assert (contest.status, contest.decided_by_id) == ("upheld", operator.id) and "Kbis" in contest.decision
        kinds = [e.kind for e in db.session.scalars(select(StructureEvent).where(
            StructureEvent.structure_id == structure.id).order_by(StructureEvent.id))]
        assert kinds[-3:] == ["structure.contested", "structure.contest_decided",
                              "gestionnaire.contest_handed_over"]
    mail = mails_to(app, "vraie@entreprise.fr")[-1]
    assert "retenue" in mail.subject


def _contested(app, reason: str = "Je suis la gérante de cette SARL ; je n'ai jamais inscrit ce compte."):
    """A structure registered by `owner` (with a colleague), contested by `claimant`: (structure, owner, claimant,
    the operator's client, the contest's id)."""
    owner = factories.account(app, email="premier@usurpe.fr")
    structure = factories.structure(app, owner, name="Entreprise Contestée")
    factories.member(app, structure, factories.account(app, email="collegue@usurpe.fr"))
    claimant = factories.account(app, email="vraie@entreprise.fr")
    client = app.test_client()
    factories.login(client, claimant)
    assert client.post("/compte/structures/contester", data={"siret": structure.siret, "reason": reason}
                       ).status_code == 302
    operator = factories.account(app, is_operator=True)
    desk = app.test_client()
    factories.login(desk, operator)
    with app.app_context():
        contest_id = db.session.scalar(select(StructureContest.id))
    return structure, owner, claimant, client, desk, contest_id


def _state(app, structure_id: int) -> tuple:
    with app.app_context():
        gestionnaire = db.session.get(Structure, structure_id).gestionnaire_id
        members = dict(db.session.execute(select(Rattachement.account_id, Rattachement.status).where(
            Rattachement.structure_id == structure_id)).all())
    return gestionnaire, members


def test_an_upheld_contest_hands_the_structure_over(app, db):
    structure, owner, claimant, client, desk, contest_id = _contested(app)
    former_client = app.test_client()
    factories.login(former_client, owner)
    assert former_client.get(f"/s/{structure.siret}/").status_code == 200
    assert _state(app, structure.id)[0] == owner.id
    decided = desk.post(f"/operateur/demandes/contestations/{contest_id}/decision",
                        data={"decision": "upheld", "reason": "Kbis reçu le 5 décembre : la demandeuse est gérante."})
    assert decided.status_code == 303
    gestionnaire, members = _state(app, structure.id)
    assert gestionnaire == claimant.id
    assert members[claimant.id] == "approved" and members[owner.id] == "detached"
    assert sorted(members.values()).count("approved") == 2  # the colleague stays; the new gestionnaire decides
    with app.app_context():
        row = db.session.scalar(select(Rattachement).where(Rattachement.structure_id == structure.id,
                                                           Rattachement.account_id == claimant.id))
        assert set(row.rights().values()) == {"modification"}
        event = db.session.scalar(select(StructureEvent).where(
            StructureEvent.structure_id == structure.id, StructureEvent.kind == "gestionnaire.contest_handed_over"))
        assert event.detail["contest_id"] == contest_id
        assert (event.detail["old"]["account_id"], event.detail["new"]["account_id"]) == (owner.id, claimant.id)
    # The claimant manages the structure at once; the former registrant reads nothing of it any more.
    assert client.get(f"/s/{structure.siret}/").status_code == 200
    assert "remis après une contestation retenue" in text(client.get(f"/s/{structure.siret}/journal"))
    assert former_client.get(f"/s/{structure.siret}/").status_code == 404
    (handed,) = [m for m in mails_to(app, "vraie@entreprise.fr") if "gestion remise" in m.subject]
    assert "gestionnaire principal" in handed.body
    (lost,) = [m for m in mails_to(app, "premier@usurpe.fr") if "gestion remise" in m.subject]
    assert "n'est plus rattaché" in lost.body


def test_a_rejected_contest_changes_nothing(app, db):
    structure, owner, claimant, client, desk, contest_id = _contested(app)
    before = _state(app, structure.id)
    decided = desk.post(f"/operateur/demandes/contestations/{contest_id}/decision",
                        data={"decision": "rejected", "reason": "Aucun justificatif : la demande est écartée."})
    assert decided.status_code == 303
    assert count(app, StructureContest, StructureContest.status == "rejected") == 1
    assert _state(app, structure.id) == before
    assert client.get(f"/s/{structure.siret}/").status_code == 404
    assert not [m for m in mails_to(app, "premier@usurpe.fr") if "gestion remise" in m.subject]


# --- another account than the invited one: the inviter decides -------------------------------------------------------


def _asking(app):
    """An invitation sent to archi@nouveau.fr; a colleague (another address) registers the invited SIRET — which
    inherits nothing — and asks the inviter for the role through the link: (moa, marché id, SIRET, link, the
    colleague's client, its structure, the request id)."""
    from chorus_chain.models import InvitationRequest

    moa, marche_id, siret, link = _invite_unknown(app)
    colleague = factories.account(app, email="compta@nouveau.fr")
    client = app.test_client()
    factories.login(client, colleague)
    assert client.post("/compte/structures/nouvelle", data=_structure_form(siret)).status_code == 302
    assert party_row(app, marche_id, siret, "moe").structure_id is None  # registering inherits nothing
    page = client.get(link)
    assert page.status_code == 403 and "Demander le rôle pour Atelier Usurpé" in text(page)
    asked = client.post(f"{link}/demande", data={"message": "Je tiens la comptabilité de l'atelier."})
    assert asked.status_code == 303
    again = client.post(f"{link}/demande", data={"message": ""})
    assert again.status_code == 422 and "attend déjà" in text(again)
    assert count(app, InvitationRequest, InvitationRequest.status == "pending") == 1
    assert party_row(app, marche_id, siret, "moe").structure_id is None  # asked: still nothing linked
    (told,) = [m for m in mails_to(app, moa.gp.email) if "demande votre invitation" in m.subject]
    assert "compta@nouveau.fr" in told.body and "Je tiens la comptabilité" in told.body
    with app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.siret == siret))
        request_id = db.session.scalar(select(InvitationRequest.id))
    # The request gives the colleague's structure nothing to read yet.
    assert client.get(f"/s/{siret}/marches/{marche_id}").status_code == 404
    return moa, marche_id, siret, link, client, structure, request_id


def test_another_account_gets_the_role_only_when_the_inviter_approves(app, db):
    from chorus_chain.models import InvitationRequest
    from tests.integration.db_counts import changed, row_counts

    moa, marche_id, siret, link, client, structure, request_id = _asking(app)
    listed = text(moa.client.get(f"{moa.base}/"))
    assert "Demandes sur vos invitations" in listed and "compta@nouveau.fr" in listed
    # Another structure's gestionnaire cannot decide it (404), nor can a member of the inviter without the role.
    other = company(app, "Commune de Nulle-Part", public=True)
    assert other.client.post(f"{other.base}/invitations/demandes/{request_id}",
                             data={"decision": "approve"}).status_code == 404
    before = row_counts(app)
    approved = moa.client.post(f"{moa.base}/invitations/demandes/{request_id}", data={"decision": "approve"})
    assert approved.status_code == 303
    row = party_row(app, marche_id, siret, "moe")
    assert row.structure_id == structure.id and row.status == "invited"  # given, to be confirmed by the structure
    assert row.invitation_hash is None  # the link is spent
    assert count(app, InvitationRequest, InvitationRequest.status == "approved") == 1
    assert set(changed(before, row_counts(app))) <= {"marche_event", "outbox_job", "mail_message"}
    (answer,) = [m for m in mails_to(app, "compta@nouveau.fr") if "acceptée" in m.subject]
    assert "Confirmez" in answer.body
    assert client.get(f"/s/{siret}/marches/{marche_id}").status_code == 200  # the invitation, to confirm
    assert moa.client.post(f"{moa.base}/invitations/demandes/{request_id}",
                           data={"decision": "refuse"}).status_code == 404  # decided once


def test_a_refused_request_changes_nothing(app, db):
    from chorus_chain.models import InvitationRequest
    from tests.integration.db_counts import changed, row_counts

    moa, marche_id, siret, link, client, structure, request_id = _asking(app)
    before = row_counts(app)
    refused = moa.client.post(f"{moa.base}/invitations/demandes/{request_id}", data={"decision": "refuse"})
    assert refused.status_code == 303
    row = party_row(app, marche_id, siret, "moe")
    assert row.structure_id is None and row.invitation_hash  # nothing linked; the invited address may still answer
    assert count(app, InvitationRequest, InvitationRequest.status == "refused") == 1
    assert set(changed(before, row_counts(app))) <= {"marche_event", "outbox_job", "mail_message"}
    assert [m for m in mails_to(app, "compta@nouveau.fr") if "refusée" in m.subject]
    assert client.get(f"/s/{siret}/marches/{marche_id}").status_code == 404
    assert "Demandes sur vos invitations" not in text(moa.client.get(f"{moa.base}/"))


def test_only_a_member_of_the_invited_siret_may_ask_and_never_the_invited_address(app, db):
    from chorus_chain.models import InvitationRequest

    moa, marche_id, siret, link = _invite_unknown(app)
    stranger = factories.account(app, email="curieux@ailleurs.fr")
    client = app.test_client()
    factories.login(client, stranger)
    refused = client.post(f"{link}/demande", data={"message": ""})
    assert refused.status_code == 422 and "Aucune structure" in text(refused)
    owner = factories.account(app)
    factories.structure(app, owner, siret=siret, name="Atelier Nouveau")
    refused = client.post(f"{link}/demande", data={"message": ""})
    assert refused.status_code == 422 and "pas rattaché" in text(refused)
    invitee = factories.account(app, email="archi@nouveau.fr")
    client = app.test_client()
    factories.login(client, invitee)
    refused = client.post(f"{link}/demande", data={"message": ""})
    assert refused.status_code == 422 and "répondez-y directement" in text(refused)
    assert app.test_client().post(f"{link}/demande", data={}).status_code == 403  # anonymous
    assert count(app, InvitationRequest) == 0
