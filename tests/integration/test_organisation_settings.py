"""Structure identity and settings: name, address, VAT number checked against the SIRET, size, public flag and the
routing requirement of received invoices."""
from __future__ import annotations

import html

import pytest

from chorus_chain.models import Structure
from tests import factories


@pytest.fixture
def t(app, db):
    return factories.team(app)


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _vat_for(siret: str) -> str:
    siren = siret[:9]
    return f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"


def _settings(t, **changes) -> dict:
    data = {"name": "Durand Bâtiment SAS", "address_line": "12 quai des Carmes", "postal_code": "49000",
            "city": "Angers", "vat_number": "", "size_class": "eti", "routing_requirement": "one_of"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_settings_page_shows_the_form_with_french_labels(app, client, t):
    factories.login(client, t.gp)
    page = _text(client.get(f"{t.base}/parametres"))
    for label in ("Aucune exigence", "Code service obligatoire", "Numéro d'engagement obligatoire",
                  "Code service ou numéro d'engagement obligatoire"):
        assert label in page
    assert 'value="Durand Bâtiment"' in page and "<fieldset disabled" not in page
    assert "Transmettre le rôle de gestionnaire" in page  # the GP's way to the hand-over


def test_consultation_sees_the_settings_read_only(app, client, t):
    factories.login(client, t.viewer)
    page = _text(client.get(f"{t.base}/parametres"))
    assert "<fieldset disabled" in page and "Enregistrer" not in page
    assert "Transmettre le rôle" not in page
    assert client.post(f"{t.base}/parametres", data=_settings(t)).status_code == 403
    assert factories.reload(app, Structure, t.structure.id).name == "Durand Bâtiment"


def test_settings_need_the_organisation_right(app, client, t):
    factories.login(client, t.powerless)
    assert client.get(f"{t.base}/parametres").status_code == 403
    assert client.post(f"{t.base}/parametres", data=_settings(t)).status_code == 403


def test_saving_settings_changes_the_structure_and_records_old_and_new(app, client, t):
    factories.login(client, t.admin)
    vat = _vat_for(t.siret)
    spaced = f"{vat[:4]} {vat[4:7]} {vat[7:10]} {vat[10:]}".lower()
    response = client.post(f"{t.base}/parametres", data=_settings(t, vat_number=spaced, is_public="y"))
    assert response.status_code == 302
    s = factories.reload(app, Structure, t.structure.id)
    assert (s.name, s.address_line, s.postal_code, s.city, s.vat_number, s.size_class, s.routing_requirement,
            s.is_public, s.siret) == ("Durand Bâtiment SAS", "12 quai des Carmes", "49000", "Angers", vat, "eti",
                                      "one_of", True, t.siret)
    [event] = factories.events(app, t.structure, "structure.updated")
    assert event.account_id == t.admin.id
    assert event.detail["changes"]["routing_requirement"] == {"old": "none", "new": "one_of"}
    assert event.detail["changes"]["name"] == {"old": "Durand Bâtiment", "new": "Durand Bâtiment SAS"}
    assert event.detail["changes"]["vat_number"] == {"old": None, "new": vat}
    journal = _text(client.get(f"{t.base}/journal"))
    assert "Exigence d'acheminement des factures : Aucune exigence → Code service ou numéro d'engagement" in journal
    assert "Code service ou numéro d'engagement obligatoire" in _text(client.get(f"{t.base}/"))


def test_saving_the_same_values_records_nothing(app, client, t):
    factories.login(client, t.gp)
    same = _settings(t, name="Durand Bâtiment", address_line="1 rue du Test", postal_code="75001", city="Paris",
                     size_class="pme", routing_requirement="none")
    assert client.post(f"{t.base}/parametres", data=same).status_code == 302
    assert factories.events(app, t.structure, "structure.updated") == []


@pytest.mark.parametrize("changes, field, message", [
    ({"vat_number": "FR00123456789"}, "vat_number", "Ce numéro de TVA intracommunautaire n'est pas valide."),
    ({"vat_number": "FR40303265045"}, "vat_number", "Ce numéro de TVA ne correspond pas au SIREN de la structure."),
    ({"name": ""}, "name", "Ce champ est obligatoire."),
    ({"routing_requirement": "tout"}, "routing_requirement", "N'est pas un choix valide."),
    ({"size_class": "enorme"}, "size_class", "N'est pas un choix valide."),
])
def test_bad_settings_are_refused_field_by_field_and_change_nothing(app, client, t, changes, field, message):
    factories.login(client, t.gp)
    response = client.post(f"{t.base}/parametres", data=_settings(t, **changes))
    assert response.status_code == 422
    page = _text(response)
    assert f'id="{field}-error"' in page and message in page
    s = factories.reload(app, Structure, t.structure.id)
    assert (s.name, s.vat_number, s.routing_requirement, s.size_class) == ("Durand Bâtiment", None, "none", "pme")
    assert factories.events(app, t.structure, "structure.updated") == []


def test_saving_settings_without_the_csrf_token_changes_nothing(app, client, t, csrf):
    factories.login_with_csrf(client, t.gp)
    assert client.post(f"{t.base}/parametres", data=_settings(t)).status_code == 400
    assert factories.reload(app, Structure, t.structure.id).name == "Durand Bâtiment"


def test_the_settings_of_another_structure_are_out_of_reach(app, client, t):
    factories.login(client, t.gp)
    neighbour = f"/s/{t.neighbour.siret}/parametres"
    assert client.get(neighbour).status_code == 404
    assert client.post(neighbour, data=_settings(t)).status_code == 404
    assert factories.reload(app, Structure, t.neighbour.id).name == "Structure voisine"
