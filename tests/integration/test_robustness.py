"""Request shapes that gave a 500 (issue 13), each answered with a French 4xx that stores nothing; free text shown
to other companies refuses control characters, bidirectional overrides and line breaks; postal codes are checked.
The fuzz test (test_fuzz_inputs.py) throws the same values at every form; these pin each behaviour down."""
from __future__ import annotations

import pytest

from tests import factories
from tests.integration.db_counts import changed, row_counts
from tests.integration.test_marches import text


@pytest.fixture
def member(app, db):
    account = factories.account(app)
    structure = factories.structure(app, account, name="Durand Bâtiment")
    client = app.test_client()
    factories.login(client, account)
    return client, structure


def _settings(structure, **changes) -> dict:
    return {"name": structure.name, "address_line": "12 quai des Carmes", "postal_code": "49000", "city": "Angers",
            "size_class": "pme", "routing_requirement": "none", **changes}


@pytest.mark.parametrize("field, value, words", [
    ("name", "Durand\u202e SAS", "sens d'affichage"),
    ("name", "Durand\x1b[31m", "caractère de contrôle"),
    ("city", "Angers\r\nSet-Cookie: x=1", "une ligne"),
    ("postal_code", "00100", "département"),
    ("postal_code", "4900", "5 chiffres"),
    ("postal_code", "ABCDE", "5 chiffres"),
])
def test_settings_refuse_hostile_text_and_impossible_postal_codes(app, member, field, value, words):
    client, structure = member
    before = row_counts(app)
    response = client.post(f"/s/{structure.siret}/parametres", data=_settings(structure, **{field: value}))
    assert response.status_code in (400, 422)
    assert words in text(response) or response.status_code == 400
    assert changed(before, row_counts(app)) == {}


def test_a_control_character_in_a_form_is_a_400_in_french(app, member):
    client, structure = member
    before = row_counts(app)
    response = client.post(f"/s/{structure.siret}/parametres", data=_settings(structure, name="Durand\x00SAS"))
    assert response.status_code == 400 and "caractère de contrôle invisible" in text(response)
    assert changed(before, row_counts(app)) == {}


@pytest.mark.parametrize("query", ["number=F%00", "page=99999999999999999999999", "marche_id=99999999999999999999",
                                   "du=9999-12-31&au=0001-01-01", "tri=%E2%80%AE", "party_id=-99999999999999999"])
def test_the_dashboard_filters_never_give_a_500(app, member, query):
    client, structure = member
    response = client.get(f"/s/{structure.siret}/tableau-de-bord?{query}")
    assert response.status_code in (200, 400), query


@pytest.mark.postgres
def test_the_error_page_renders_after_an_aborted_transaction(app, member):
    """An id beyond PostgreSQL's integer in a filter aborts the transaction: the page that says so still reads the
    user and the structure (its menu), after a rollback."""
    client, structure = member
    response = client.get(f"/s/{structure.siret}/pieces/emises?marche_id=99999999999999999999")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert "hors des limites" in text(response)
    assert client.get(f"/s/{structure.siret}/pieces/emises").status_code == 200  # the session is sound


def test_an_id_beyond_any_row_in_a_url_is_a_404(app, member):
    client, structure = member
    assert client.get(f"/s/{structure.siret}/pieces/99999999999999999999").status_code == 404
    assert client.post(f"/s/{structure.siret}/pieces/99999999999999999999/action").status_code == 404


@pytest.mark.parametrize("target", ["/a\r\nSet-Cookie: x=1", "/\\evil.example", "//evil.example", "/ok\x00"])
def test_next_never_forges_a_header_nor_leaves_the_site(app, member, target):
    client, _structure = member
    response = client.get("/connexion", query_string={"next": target})
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        location = response.headers["Location"]
        assert "\r" not in location and "\n" not in location and "evil" not in location


def test_a_huge_text_field_is_not_called_a_file(app, member):
    client, structure = member
    response = client.post(f"/s/{structure.siret}/parametres",
                           data=_settings(structure, address_line="x" * 600_000))
    assert response.status_code in (413, 422)
    if response.status_code == 413:
        assert "Formulaire trop volumineux" in text(response) and "Fichier" not in text(response)


def test_a_structure_is_created_only_with_a_french_postal_code(app, db):
    account = factories.account(app)
    client = app.test_client()
    factories.login(client, account)
    before = row_counts(app)
    response = client.post("/compte/structures/nouvelle", data={
        "siret": factories.valid_siret(), "name": "Atelier Nouveau", "address_line": "1 rue de la Paix",
        "postal_code": "96000", "city": "Nulle part", "size_class": "micro"})
    assert response.status_code == 422 and "département" in text(response)
    assert changed(before, row_counts(app)) == {}
