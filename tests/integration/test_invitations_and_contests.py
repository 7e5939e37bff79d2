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
from chorus_chain.models import MarcheParty, Structure, StructureEvent, StructureContest
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
        assert kinds[-2:] == ["structure.contested", "structure.contest_decided"]
    mail = mails_to(app, "vraie@entreprise.fr")[-1]
    assert "retenue" in mail.subject
