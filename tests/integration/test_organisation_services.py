"""Services of a structure: list, create, edit, deactivate, delete, and their members (inline with HTMX)."""
from __future__ import annotations

import html
from datetime import date

import pytest

from chorus_chain.extensions import db
from chorus_chain.models import Service, ServiceMember
from tests import factories

HX = {"HX-Request": "true"}


@pytest.fixture
def t(app, db):
    return factories.team(app)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _services(app, t) -> list[Service]:
    return factories.rows(app, Service, Service.structure_id == t.structure.id)


def _members_of(app, service) -> set[int]:
    return {row.account_id for row in factories.rows(app, ServiceMember, ServiceMember.service_id == service.id)}


def _add_member(app, service, account) -> None:
    with app.app_context():
        db.session.add(ServiceMember(service_id=service.id, account_id=account.id))
        db.session.commit()


NEW = {"code": " dir-achats ", "name": "Direction des achats", "valid_from": "2026-01-01", "valid_to": "2026-12-31",
       "engagement_required": "y"}


# --- List and creation ---------------------------------------------------------------------------------------------

def test_services_list_and_create_form(app, client, t):
    factories.service(app, t.structure, code="COMPTA", name="Comptabilité", valid_from=date(2026, 3, 1))
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/services"))
    assert "COMPTA" in page and "Comptabilité" in page and "à partir du 1er mars 2026" in page
    assert "Créer un service" in page and "VOISIN" not in page


def test_consultation_sees_the_services_without_the_forms(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.viewer)
    assert "Créer un service" not in _text(client.get(f"{t.base}/services"))
    page = _text(client.get(f"{t.base}/services/{svc.id}"))
    assert "<fieldset disabled" in page and "Supprimer" not in page and "Ajouter au service" not in page
    assert client.post(f"{t.base}/services", data=NEW).status_code == 403
    for action in ("", "/desactiver", "/supprimer", "/membres"):
        assert client.post(f"{t.base}/services/{svc.id}{action}", data={"name": "X"}).status_code == 403
    assert [s.name for s in _services(app, t)] == ["Service technique"]


def test_services_need_the_organisation_right(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.powerless)
    assert client.get(f"{t.base}/services").status_code == 403
    assert client.get(f"{t.base}/services/{svc.id}").status_code == 403


def test_creating_a_service_records_it(app, client, t):
    factories.login(client, t.admin)
    response = client.post(f"{t.base}/services", data=NEW)
    assert response.status_code == 302
    [svc] = _services(app, t)
    assert response.headers["Location"].endswith(f"/services/{svc.id}")
    assert (svc.code, svc.name, svc.valid_from, svc.valid_to, svc.engagement_required, svc.active) == (
        "DIR-ACHATS", "Direction des achats", date(2026, 1, 1), date(2026, 12, 31), True, True)
    [event] = factories.events(app, t.structure, "service.created")
    assert event.detail["code"] == "DIR-ACHATS" and event.detail["valid_to"] == "2026-12-31"
    assert event.account_id == t.admin.id


def test_a_code_is_unique_in_the_structure_whatever_its_case(app, client, t):
    factories.service(app, t.structure, code="DIR-ACHATS")
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services", data=NEW)
    assert response.status_code == 422
    page = _text(response)
    assert 'id="code-error"' in page and "Le code service « DIR-ACHATS » existe déjà dans cette structure." in page
    assert len(_services(app, t)) == 1
    assert factories.events(app, t.structure, "service.created") == []


def test_the_same_code_in_another_structure_is_fine(app, client, t):
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/services", data=dict(NEW, code="voisin")).status_code == 302
    assert [s.code for s in _services(app, t)] == ["VOISIN"]


@pytest.mark.parametrize("changes, field, message", [
    ({"code": "  "}, "code", "Indiquez le code service."),
    ({"name": ""}, "name", "Ce champ est obligatoire."),
    ({"valid_from": "2026-06-01", "valid_to": "2026-05-31"}, "valid_to",
     "La fin de validité ne peut pas précéder le début."),
    ({"valid_from": "31/02/2026"}, "valid_from", "N'est pas une date valide."),
])
def test_bad_service_input_is_refused_field_by_field(app, client, t, changes, field, message):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services", data=dict(NEW, **changes))
    assert response.status_code == 422
    page = _text(response)
    assert f'id="{field}-error"' in page and message in page
    assert _services(app, t) == []


# --- Editing, deactivating, deleting -------------------------------------------------------------------------------

def test_editing_a_service_records_old_and_new_values(app, client, t):
    svc = factories.service(app, t.structure, code="COMPTA", name="Compta")
    factories.login(client, t.gp)
    assert "Compta" in _text(client.get(f"{t.base}/services/{svc.id}"))
    response = client.post(f"{t.base}/services/{svc.id}", data={"name": "Comptabilité", "valid_to": "2027-01-31",
                                                              "code": "HACK"})
    assert response.status_code == 302
    row = factories.reload(app, Service, svc.id)
    assert (row.code, row.name, row.valid_to, row.engagement_required) == ("COMPTA", "Comptabilité",
                                                                          date(2027, 1, 31), False)
    [event] = factories.events(app, t.structure, "service.updated")
    assert event.detail["changes"] == {"name": {"old": "Compta", "new": "Comptabilité"},
                                       "valid_to": {"old": None, "new": "2027-01-31"}}
    assert "Fin de validité : — → 2027-01-31" in _text(client.get(f"{t.base}/journal"))


def test_editing_with_bad_dates_changes_nothing(app, client, t):
    svc = factories.service(app, t.structure, valid_from=date(2026, 6, 1))
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services/{svc.id}", data={"name": "Autre", "valid_from": "2026-06-01",
                                                              "valid_to": "2026-01-01"})
    assert response.status_code == 422 and "ne peut pas précéder le début" in _text(response)
    assert factories.reload(app, Service, svc.id).name == "Service technique"


def test_deactivating_and_reactivating(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/services/{svc.id}/desactiver").status_code == 302
    assert factories.reload(app, Service, svc.id).active is False
    assert "Désactivé" in _text(client.get(f"{t.base}/services"))
    response = client.post(f"{t.base}/services/{svc.id}/desactiver")
    assert response.status_code == 422 and "Ce service est déjà désactivé." in _text(response)
    assert client.post(f"{t.base}/services/{svc.id}/reactiver").status_code == 302
    assert factories.reload(app, Service, svc.id).active is True
    assert [e.kind for e in factories.events(app, t.structure) if e.kind.startswith("service.")] == [
        "service.deactivated", "service.reactivated"]


def test_an_unused_service_can_be_deleted(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services/{svc.id}/supprimer")
    assert response.status_code == 302 and response.headers["Location"].endswith("/services")
    assert factories.reload(app, Service, svc.id) is None
    [event] = factories.events(app, t.structure, "service.deleted")
    assert event.detail["code"] == "SERV1"


def test_a_used_service_cannot_be_deleted(app, client, t):
    svc = factories.service(app, t.structure)
    _add_member(app, svc, t.colleague)
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services/{svc.id}/supprimer")
    assert response.status_code == 422
    assert "il ne peut pas être supprimé. Désactivez-le plutôt." in _text(response)
    assert factories.reload(app, Service, svc.id) is not None
    assert factories.events(app, t.structure, "service.deleted") == []


def test_service_is_used_looks_at_its_members(app, t, ctx):
    from chorus_chain.operations.organisation import service_is_used

    svc = db.session.get(Service, factories.service(app, t.structure).id)
    assert service_is_used(svc) is False
    db.session.add(ServiceMember(service_id=svc.id, account_id=t.colleague.id))
    db.session.flush()
    assert service_is_used(svc) is True


def test_a_service_of_another_structure_is_not_found(app, client, t):
    other = t.neighbour_service
    factories.login(client, t.gp)
    assert client.get(f"{t.base}/services/{other.id}").status_code == 404
    for action in ("", "/desactiver", "/supprimer", "/membres", f"/membres/{t.neighbour_person.id}/retirer"):
        response = client.post(f"{t.base}/services/{other.id}{action}",
                               data={"name": "Piraté", "account_id": t.colleague.id})
        assert response.status_code == 404, action
    row = factories.reload(app, Service, other.id)
    assert (row.name, row.active) == ("Service technique", True)
    assert _members_of(app, other) == set()


def test_creating_without_the_csrf_token_changes_nothing(app, client, t, csrf):
    factories.login_with_csrf(client, t.gp)
    assert client.post(f"{t.base}/services", data=NEW).status_code == 400
    assert _services(app, t) == []


# --- Members of a service ------------------------------------------------------------------------------------------

def test_adding_and_removing_a_member_without_javascript(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.admin)
    page = _text(client.get(f"{t.base}/services/{svc.id}"))
    assert t.colleague.email in page and t.applicant.email not in page  # only approved members are offered
    response = client.post(f"{t.base}/services/{svc.id}/membres", data={"account_id": t.colleague.id})
    assert response.status_code == 302
    assert _members_of(app, svc) == {t.colleague.id}
    response = client.post(f"{t.base}/services/{svc.id}/membres/{t.colleague.id}/retirer")
    assert response.status_code == 302
    assert _members_of(app, svc) == set()
    assert [e.kind for e in factories.events(app, t.structure) if e.kind.startswith("service.")] == [
        "service.member_added", "service.member_removed"]


def test_members_are_updated_in_place_with_htmx(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/services/{svc.id}/membres", data={"account_id": t.viewer.id}, headers=HX)
    assert response.status_code == 200
    fragment = _text(response)
    assert fragment.lstrip().startswith('<section class="card" id="service-members">') and "<html" not in fragment
    assert t.viewer.email in fragment and "L'utilisateur est ajouté au service." in fragment
    response = client.post(f"{t.base}/services/{svc.id}/membres/{t.viewer.id}/retirer", headers=HX)
    assert response.status_code == 200 and "Aucun utilisateur n'est rattaché à ce service." in _text(response)
    assert _members_of(app, svc) == set()


@pytest.mark.parametrize("who, message", [
    ("applicant", "Choisissez un utilisateur rattaché à la structure."),
    ("neighbour_person", "Choisissez un utilisateur rattaché à la structure."),
    ("nobody", "Choisissez un utilisateur rattaché à la structure."),
    ("colleague", "Cet utilisateur est déjà membre de ce service."),
])
def test_only_approved_members_join_a_service_once(app, client, t, who, message):
    svc = factories.service(app, t.structure)
    _add_member(app, svc, t.colleague)
    factories.login(client, t.gp)
    account_id = "" if who == "nobody" else getattr(t, who).id
    for headers in ({}, HX):
        response = client.post(f"{t.base}/services/{svc.id}/membres", data={"account_id": account_id},
                               headers=headers)
        assert response.status_code == 422
        page = _text(response)
        assert 'id="account_id-error"' in page and message in page
    assert _members_of(app, svc) == {t.colleague.id}


def test_removing_someone_who_is_not_in_the_service_is_not_found(app, client, t):
    svc = factories.service(app, t.structure)
    factories.login(client, t.gp)
    assert client.post(f"{t.base}/services/{svc.id}/membres/{t.colleague.id}/retirer").status_code == 404
