"""Members of a structure: overview, approvals, rights, detaching, the gestionnaire hand-over, the journal."""
from __future__ import annotations

import html

import pytest

from chorus_chain.models import Rattachement, Service, ServiceMember, Structure
from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def t(app, db):
    return factories.team(app)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _rights(**levels) -> dict:
    rights = {"right_emises": "consultation", "right_travaux": "consultation", "right_recues": "none",
              "right_organisation": "none"}
    rights.update({f"right_{k}": v for k, v in levels.items()})
    return rights


# --- Overview, members list, navigation ----------------------------------------------------------------------------

def test_overview_shows_counts_and_recent_events_to_those_who_may_see_them(app, client, t):
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/"))
    assert "Utilisateurs rattachés" in page and "Derniers événements" in page and "Structure créée" in page
    assert "Aucune exigence" in page

    client.post("/deconnexion")
    factories.login(client, t.powerless)
    page = _text(client.get(f"{t.base}/"))
    assert "Durand Bâtiment" in page
    assert "Utilisateurs rattachés" not in page and "Derniers événements" not in page


def test_navigation_shows_the_links_each_member_may_use(app, client, t):
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/"))
    for label in ("Utilisateurs", "Approbations", "Services", "Coordonnées bancaires", "Paramètres", "Journal"):
        assert f">{label}" in page
    assert 'class="count"' in page  # one pending request, and the GP may approve it

    client.post("/deconnexion")
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/"))
    assert ">Approbations" in page and 'class="count"' not in page  # may look, may not approve

    client.post("/deconnexion")
    factories.login(client, t.powerless)
    page = _text(client.get(f"{t.base}/"))
    assert ">Structure<" in page and ">Utilisateurs" not in page and ">Journal" not in page


def test_members_page_lists_rights_and_offers_actions_only_to_modifiers(app, client, t):
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/utilisateurs"))
    assert t.colleague.email in page and t.gp.email in page and "Gestionnaire principal" in page
    assert t.applicant.email not in page  # pending: listed under Approbations, not as a member
    assert "/droits" not in page and "/detacher" not in page

    client.post("/deconnexion")
    factories.login(client, t.admin)
    page = _text(client.get(f"{t.base}/utilisateurs"))
    assert f"/utilisateurs/{t.colleague_member.id}/droits" in page
    assert f"/utilisateurs/{t.admin_member.id}/droits" not in page  # not one's own rights


def test_members_pages_need_the_organisation_right(app, client, t):
    factories.login(client, t.powerless)
    for url in ("/utilisateurs", "/approbations", "/journal"):
        assert client.get(f"{t.base}{url}").status_code == 403
    factories.login(client, t.viewer)
    assert client.get(f"{t.base}/utilisateurs/{t.colleague_member.id}/droits").status_code == 403
    assert client.post(f"{t.base}/utilisateurs/{t.colleague_member.id}/detacher").status_code == 403
    assert client.post(f"{t.base}/approbations/{t.pending.id}/approuver", data=_rights(prefix="a")).status_code == 403
    assert factories.reload(app, Rattachement, t.pending.id).status == "pending"


# --- Approvals -----------------------------------------------------------------------------------------------------

def _approve_data(rattachement_id, **levels):
    return {f"a{rattachement_id}-{k}": v for k, v in _rights(**levels).items()}


def test_approvals_page_lists_pending_requests_with_a_rights_form(app, client, t):
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/approbations"))
    assert t.applicant.email in page and f'name="a{t.pending.id}-right_emises"' in page
    assert t.neighbour_pending.id != t.pending.id and f"/approbations/{t.neighbour_pending.id}/" not in page


def test_approving_grants_the_chosen_rights_records_and_mails_the_requester(app, client, t):
    factories.login(client, t.admin)  # organisation modification is enough to approve
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver",
                           data=_approve_data(t.pending.id, travaux="modification"))
    assert response.status_code == 302
    row = factories.reload(app, Rattachement, t.pending.id)
    assert row.status == "approved" and row.decided_by_id == t.admin.id and row.decided_at is not None
    assert row.rights() == {"emises": "consultation", "travaux": "modification", "recues": "none",
                            "organisation": "none"}
    [event] = factories.events(app, t.structure, "rattachement.approved")
    assert event.account_id == t.admin.id and event.detail["rights"]["travaux"] == "modification"
    mail = factories.outbox(app)[-1]
    assert mail.to_address == t.applicant.email and "accepté" in mail.subject
    assert "Factures de travaux : Modification" in mail.body
    # The new member works for the structure at once.
    client.post("/deconnexion")
    factories.login(client, t.applicant)
    assert client.get(f"{t.base}/").status_code == 200


def test_approving_inline_with_htmx_answers_the_row_only(app, client, t):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver", data=_approve_data(t.pending.id),
                           headers=HX)
    assert response.status_code == 200
    body = _text(response)
    assert "<html" not in body and f'id="request-{t.pending.id}"' in body and "est rattaché(e)" in body
    assert '<span id="pending-approvals" hx-swap-oob="true"></span>' in body  # the navigation's count, now none
    assert factories.reload(app, Rattachement, t.pending.id).status == "approved"


def test_refusing_records_the_reason_and_mails_the_requester(app, client, t):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/approbations/{t.pending.id}/refuser",
                           data={f"r{t.pending.id}-reason": "Inconnu au service"})
    assert response.status_code == 302
    assert factories.reload(app, Rattachement, t.pending.id).status == "refused"
    [event] = factories.events(app, t.structure, "rattachement.refused")
    assert event.detail["reason"] == "Inconnu au service"
    mail = factories.outbox(app)[-1]
    assert mail.to_address == t.applicant.email and "Inconnu au service" in mail.body


def test_a_decided_request_cannot_be_decided_again(app, client, t):
    factories.login(client, t.gp)
    client.post(f"{t.base}/approbations/{t.pending.id}/refuser", data={})
    mails = len(factories.outbox(app))
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver", data=_approve_data(t.pending.id))
    assert response.status_code == 422
    assert "Cette demande a déjà été traitée." in _text(response)
    assert factories.reload(app, Rattachement, t.pending.id).status == "refused"
    assert len(factories.outbox(app)) == mails


def test_an_inline_decision_that_fails_answers_the_row_with_the_reason(app, client, t):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver",
                           data=_approve_data(t.pending.id, emises="tout"), headers=HX)
    assert response.status_code == 422
    body = _text(response)
    assert "<html" not in body and f'id="a{t.pending.id}-right_emises-error"' in body
    client.post(f"{t.base}/approbations/{t.pending.id}/refuser", data={}, headers=HX)
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver", data=_approve_data(t.pending.id),
                           headers=HX)
    assert response.status_code == 422 and "Cette demande a déjà été traitée." in _text(response)
    assert factories.reload(app, Rattachement, t.pending.id).status == "refused"


def test_approving_with_a_tampered_level_is_refused_field_by_field(app, client, t):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/approbations/{t.pending.id}/approuver",
                           data=_approve_data(t.pending.id, organisation="superpouvoir"))
    assert response.status_code == 422
    assert "N'est pas un choix valide." in _text(response)
    assert factories.reload(app, Rattachement, t.pending.id).status == "pending"


def test_a_request_of_another_structure_is_not_found(app, client, t):
    factories.login(client, t.gp)
    for action in ("approuver", "refuser"):
        response = client.post(f"{t.base}/approbations/{t.neighbour_pending.id}/{action}",
                               data=_approve_data(t.neighbour_pending.id))
        assert response.status_code == 404
    assert factories.reload(app, Rattachement, t.neighbour_pending.id).status == "pending"


# --- Rights --------------------------------------------------------------------------------------------------------

def test_changing_rights_needs_a_recent_login(app, client, t):
    factories.login(client, t.gp)
    factories.stale_login(client)
    url = f"{t.base}/utilisateurs/{t.colleague_member.id}/droits"
    response = client.get(url)
    assert response.status_code == 302 and "/confirmation" in response.headers["Location"]
    response = client.post(url, data=_rights(organisation="modification"))
    assert response.status_code == 303 and "/confirmation" in response.headers["Location"]
    assert factories.reload(app, Rattachement, t.colleague_member.id).right_organisation == "none"


def test_changing_rights_records_old_and_new_and_tells_the_gestionnaire(app, client, t):
    factories.login(client, t.admin)
    url = f"{t.base}/utilisateurs/{t.colleague_member.id}/droits"
    page = _text(client.get(url))
    assert t.colleague.full_name in page and 'name="right_organisation"' in page
    response = client.post(url, data=_rights(emises="modification", organisation="consultation"))
    assert response.status_code == 302
    row = factories.reload(app, Rattachement, t.colleague_member.id)
    assert row.right_emises == "modification" and row.right_organisation == "consultation"
    [event] = factories.events(app, t.structure, "rights.changed")
    assert event.detail["old"]["emises"] == "consultation" and event.detail["new"]["emises"] == "modification"
    assert event.detail["old"]["organisation"] == "none" and event.account_id == t.admin.id
    mail = factories.outbox(app)[-1]
    assert mail.to_address == t.gp.email and "Droits modifiés" in mail.subject
    assert "Factures émises : Consultation → Modification" in mail.body


def test_the_gestionnaire_rights_and_ones_own_rights_do_not_change(app, client, t):
    gp_member = factories.rows(app, Rattachement, Rattachement.account_id == t.gp.id)[0]
    factories.login(client, t.admin)
    response = client.post(f"{t.base}/utilisateurs/{gp_member.id}/droits", data=_rights())
    assert response.status_code == 422 and "tous les droits" in _text(response)
    response = client.post(f"{t.base}/utilisateurs/{t.admin_member.id}/droits", data=_rights())
    assert response.status_code == 422 and "vos propres droits" in _text(response)
    assert factories.reload(app, Rattachement, gp_member.id).right_recues == "modification"
    assert factories.reload(app, Rattachement, t.admin_member.id).right_organisation == "modification"
    assert factories.events(app, t.structure, "rights.changed") == []


def test_rights_of_a_member_of_another_structure_are_not_found(app, client, t):
    factories.login(client, t.gp)
    url = f"{t.base}/utilisateurs/{t.neighbour_member.id}/droits"
    assert client.get(url).status_code == 404
    assert client.post(url, data=_rights(organisation="modification")).status_code == 404
    assert client.post(f"{t.base}/utilisateurs/{t.pending.id}/droits", data=_rights()).status_code == 404
    assert factories.reload(app, Rattachement, t.neighbour_member.id).right_organisation == "none"


# --- Detaching -----------------------------------------------------------------------------------------------------

def test_detaching_ends_access_at_once_and_leaves_the_services(app, client, t):
    svc = factories.service(app, t.structure, code="COMPTA")
    with app.app_context():
        from chorus_chain.extensions import db

        db.session.add(ServiceMember(service_id=svc.id, account_id=t.colleague.id))
        db.session.commit()
    factories.login(client, t.admin)
    page = _text(client.get(f"{t.base}/utilisateurs/{t.colleague_member.id}/detacher"))
    assert "Détacher" in page and t.colleague.email in page
    response = client.post(f"{t.base}/utilisateurs/{t.colleague_member.id}/detacher")
    assert response.status_code == 302
    assert factories.reload(app, Rattachement, t.colleague_member.id).status == "detached"
    assert factories.rows(app, ServiceMember, ServiceMember.service_id == svc.id) == []
    [event] = factories.events(app, t.structure, "member.detached")
    assert event.detail["email"] == t.colleague.email and event.detail["services"] == ["COMPTA"]
    assert factories.outbox(app)[-1].to_address == t.colleague.email

    client.post("/deconnexion")
    factories.login(client, t.colleague)
    assert client.get(f"{t.base}/").status_code == 404


def test_the_gestionnaire_principal_cannot_be_detached(app, client, t):
    gp_member = factories.rows(app, Rattachement, Rattachement.account_id == t.gp.id)[0]
    factories.login(client, t.admin)
    response = client.post(f"{t.base}/utilisateurs/{gp_member.id}/detacher")
    assert response.status_code == 422
    assert "Le gestionnaire principal ne peut pas être détaché" in _text(response)
    assert factories.reload(app, Rattachement, gp_member.id).status == "approved"
    assert factories.events(app, t.structure, "member.detached") == []


def test_detaching_a_member_of_another_structure_is_not_found(app, client, t):
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/utilisateurs/{t.neighbour_member.id}/detacher").status_code == 404
    assert factories.reload(app, Rattachement, t.neighbour_member.id).status == "approved"


def test_detaching_without_the_csrf_token_changes_nothing(app, client, t, csrf):
    factories.login_with_csrf(client, t.gp)
    response = client.post(f"{t.base}/utilisateurs/{t.colleague_member.id}/detacher")
    assert response.status_code == 400
    assert factories.reload(app, Rattachement, t.colleague_member.id).status == "approved"


# --- Gestionnaire hand-over ----------------------------------------------------------------------------------------

def test_handing_over_the_gestionnaire_role(app, client, t):
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/gestionnaire"))
    assert t.colleague.email in page
    response = client.post(f"{t.base}/gestionnaire", data={"member_id": t.colleague_member.id})
    assert response.status_code == 302
    assert factories.reload(app, Structure, t.structure.id).gestionnaire_id == t.colleague.id
    assert set(factories.reload(app, Rattachement, t.colleague_member.id).rights().values()) == {"modification"}
    [event] = factories.events(app, t.structure, "gestionnaire.transferred")
    assert event.detail["old"]["account_id"] == t.gp.id and event.detail["new"]["account_id"] == t.colleague.id
    recipients = {m.to_address for m in factories.outbox(app) if "gestionnaire principal" in m.subject}
    assert recipients == {t.gp.email, t.colleague.email}
    # The former gestionnaire stays a member, without the gestionnaire's page.
    assert client.get(f"{t.base}/gestionnaire").status_code == 403
    assert client.get(f"{t.base}/").status_code == 200


def test_hand_over_is_for_the_gestionnaire_only_with_a_recent_login(app, client, t):
    factories.login(client, t.admin)
    assert client.get(f"{t.base}/gestionnaire").status_code == 403
    assert client.post(f"{t.base}/gestionnaire", data={"member_id": t.admin_member.id}).status_code == 403
    client.post("/deconnexion")
    factories.login(client, t.gp)
    factories.stale_login(client)
    response = client.get(f"{t.base}/gestionnaire")
    assert response.status_code == 302 and "/confirmation" in response.headers["Location"]
    response = client.post(f"{t.base}/gestionnaire", data={"member_id": t.colleague_member.id})
    assert response.status_code == 303 and "/confirmation" in response.headers["Location"]
    assert factories.reload(app, Structure, t.structure.id).gestionnaire_id == t.gp.id


@pytest.mark.parametrize("who", ["neighbour_member", "pending", "nobody"])
def test_hand_over_only_to_an_approved_member_of_the_structure(app, client, t, who):
    factories.login(client, t.gp)
    member_id = {"neighbour_member": t.neighbour_member.id, "pending": t.pending.id, "nobody": ""}[who]
    response = client.post(f"{t.base}/gestionnaire", data={"member_id": member_id})
    assert response.status_code == 422
    assert "Choisissez un utilisateur rattaché à la structure." in _text(response)
    assert factories.reload(app, Structure, t.structure.id).gestionnaire_id == t.gp.id


# --- Journal -------------------------------------------------------------------------------------------------------

def test_journal_lists_events_newest_first_with_their_author(app, client, t):
    factories.login(client, t.gp)
    client.post(f"{t.base}/approbations/{t.pending.id}/refuser", data={})
    client.post("/deconnexion")
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/journal"))
    assert page.index("Rattachement refusé") < page.index("Structure créée")
    assert "Gaëlle Gérante" in page


def test_journal_pages(app, client, t):
    from chorus_chain.operations import organisation as ops

    with app.test_request_context():
        from chorus_chain.extensions import db
        from chorus_chain.models import Account

        structure = db.session.get(Structure, t.structure.id)
        gp = db.session.get(Account, t.gp.id)
        for n in range(ops.EVENTS_PER_PAGE + 1):
            ops.create_service(structure, gp, code=f"S{n}", name=f"Service {n}", valid_from=None, valid_to=None,
                               engagement_required=False)
        db.session.commit()
    assert len(factories.rows(app, Service, Service.structure_id == t.structure.id)) == ops.EVENTS_PER_PAGE + 1
    factories.login(client, t.viewer)
    first = _text(client.get(f"{t.base}/journal"))
    assert "Plus anciens" in first and "Structure créée" not in first
    second = _text(client.get(f"{t.base}/journal?page=2"))
    assert "Structure créée" in second and "Plus récents" in second


# --- No N+1 --------------------------------------------------------------------------------------------------------

def _statements(app, client, url) -> int:
    from sqlalchemy import event

    from chorus_chain.extensions import db

    with app.app_context():
        engine = db.engine
    seen = []

    def count(*args):
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


@pytest.mark.parametrize("url", ["/utilisateurs", "/journal", "/approbations", "/"])
def test_pages_do_not_query_once_per_member_or_event(app, client, t, url):
    factories.login(client, t.gp)
    before = _statements(app, client, t.base + url)
    for _ in range(4):
        person = factories.quick_account(app)
        factories.member(app, t.structure, person, status="pending")
        with app.test_request_context():
            from chorus_chain.extensions import db
            from chorus_chain.models import Account
            from chorus_chain.operations import organisation as ops

            structure = db.session.get(Structure, t.structure.id)
            row = db.session.scalar(db.select(Rattachement).where(Rattachement.account_id == person.id))
            ops.approve_rattachement(structure, db.session.get(Account, t.gp.id), row,
                                     {"emises": "none", "travaux": "none", "recues": "none", "organisation": "none"})
            db.session.commit()
        factories.member(app, t.structure, factories.quick_account(app), status="pending")
    assert _statements(app, client, t.base + url) == before
