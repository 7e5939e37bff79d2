"""The Tableau de bord's marché and company filters beyond `parties.OFFER_MAX` choices (issue 20), and the marché
filter of the Synthèse and of the pieces' lists, the same: search fields whose suggestions are what the selects
offered (the oracle: the selects, below the bound, for several structures), read through the same access predicate,
and a text typed whole without JavaScript read and said back."""
from __future__ import annotations

import html as html_lib
import re
from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.blueprints.dashboard import board_filters
from chorus_chain.blueprints.search_fields import marche as search_marche
from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.operations.board_reading import filter_lookups, parties
from tests.integration import pieces_world as pw

HX = {"HX-Request": "true"}


@pytest.fixture
def w(app, db):
    return pw.world(app)


def _options(page: str, name: str) -> list[tuple[str, str]]:
    select = page[page.index(f'name="{name}"'):]
    select = select[:select.index("</select>")]
    return [(value, label) for value, label in
            re.findall(r'<option (?:selected )?value="([^"]*)">([^<]*)</option>', select) if value]


def _suggested(client, url: str, **params) -> list[tuple[str, str]]:
    response = client.get(url, query_string=params, headers=HX)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    return re.findall(r'data-value="(\d+)" data-label="([^"]*)"', response.get_data(as_text=True))


def _board(page: str) -> str:
    return page[page.index('id="board"'):]


def _listed(client, base: str, params: dict) -> set[str]:
    """The piece numbers of the Tableau de bord's list (its HTMX fragment) under these filters."""
    fragment = client.get(base, query_string=params, headers=HX).get_data(as_text=True)
    return set(re.findall(r"\b(?:FIL|MFS)-\d\b", fragment))


def _more_marches(app, w, count: int) -> list[int]:
    """`count` more marchés of the same MOA where the mandataire holds the marché and the Plâtrerie works under it
    (references sorting before and after the world's own)."""
    ids = []
    with app.app_context():
        for n in range(count):
            marche = Marche(reference=f"{'A' if n % 2 else 'Z'}-EXTRA-{n}-{w.mandataire.siret}", objet="Extension",
                            kind="travaux", moa_service_code="TECH", engagement_number=f"EJ-X-{n}",
                            paying_service_code="FIN", montant_ht=Decimal("100000.00"), tva_rate=Decimal("20.00"),
                            dgp_days=30, moe_days=7, groupement="conjoint", created_by_id=w.moa.structure_id)
            db.session.add(marche)
            db.session.flush()
            holder = MarcheParty(marche_id=marche.id, structure_id=w.mandataire.structure_id,
                                 siret=w.mandataire.siret, name=w.mandataire.name, role="mandataire",
                                 montant_ttc=Decimal("100000.00"), status="confirmed")
            db.session.add(holder)
            db.session.flush()
            db.session.add(MarcheParty(marche_id=marche.id, structure_id=w.st1.structure_id, siret=w.st1.siret,
                                       name=w.st1.name, role="sous_traitant", parent_id=holder.id,
                                       montant_ttc=Decimal("10000.00"), status="confirmed", dc4_status="accepted",
                                       accepted_on=date(2026, 1, 15)))
            ids.append(marche.id)
        db.session.commit()
    return ids


def test_the_suggestions_are_what_the_selects_offered_for_every_structure(app, w, monkeypatch):
    """Below the bound the filters are selects: for each structure of the world, every marché and company they offer
    (and, a marché chosen, its companies) is what the suggestions give for an empty text, in the same order, and a
    part of a name or reference typed finds those holding it, and only those."""
    for who, number in ((w.st1, "ORA-1"), (w.sibling, "ORA-2"), (w.st_co, "ORA-3")):
        pw.deposit(app, w, who, "A10", number)
    _more_marches(app, w, 3)
    monkeypatch.setattr(filter_lookups, "SUGGESTIONS", 1000)
    most = (0, 0)
    for who in (w.moa, w.moe, w.mandataire, w.cotraitant, w.st1, w.sibling, w.st_co, w.st2):
        client = pw.logged_in(app, who)
        base = f"/s/{who.siret}/tableau-de-bord"
        page = client.get(base).get_data(as_text=True)
        assert 'role="combobox"' not in page, who.key
        marches, companies = _options(page, "marche_id"), _options(page, "party_id")
        most = (max(most[0], len(marches)), max(most[1], len(companies)))
        assert _suggested(client, f"{base}/filtres/marches", marche="") == marches, who.key
        assert _suggested(client, f"{base}/filtres/entreprises", entreprise="") == companies, who.key
        for marche_id, reference in marches:
            by_marche = client.get(f"{base}?marche_id={marche_id}").get_data(as_text=True)
            assert (_suggested(client, f"{base}/filtres/entreprises", entreprise="", marche_id=marche_id)
                    == _options(by_marche, "party_id")), (who.key, reference)
            part = html_lib.unescape(reference)[2:9].lower()
            assert _suggested(client, f"{base}/filtres/marches", marche=part) == [
                m for m in marches if part in html_lib.unescape(m[1]).lower()], (who.key, part)
        for party_id, label in companies:
            part = html_lib.unescape(label).split(" — ")[0][1:6].upper()
            found = _suggested(client, f"{base}/filtres/entreprises", entreprise=part)
            assert (party_id, label) in found and all(part.lower() in html_lib.unescape(lab).lower()
                                                     for _, lab in found), (who.key, part)
        assert _suggested(client, f"{base}/filtres/entreprises", entreprise="%") == [], who.key  # a wildcard is a text
    assert most[0] >= 4 and most[1] >= 4, most


def test_beyond_the_bound_the_company_filter_is_a_search_field(app, w, monkeypatch):
    pw.deposit(app, w, w.sibling, "A10", "FIL-1")
    pw.deposit(app, w, w.st1, "A10", "FIL-2")
    monkeypatch.setattr(parties, "OFFER_MAX", 1)
    client = pw.logged_in(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/tableau-de-bord"
    sibling_label = f"{w.sibling.name} — sous-traitant ({_reference(app, w)})"

    bare = client.get(base).get_data(as_text=True)
    assert 'name="entreprise"' in bare and 'role="combobox"' in bare and '<select id="party_id"' not in bare
    assert '<select id="marche_id"' in bare  # one marché: its select stays
    # A company chosen by its id (a bookmark, a panel's link): its label in the field, the id beside it.
    chosen = client.get(f"{base}?party_id={w.sibling.party_id}").get_data(as_text=True)
    assert f'name="party_id" value="{w.sibling.party_id}"' in chosen
    assert f'value="{html_lib.escape(sibling_label, quote=True)}"' in chosen
    # Without JavaScript: a name typed whole (any case) filters and the page says so; the links carry the id.
    typed = {"entreprise": w.sibling.name.upper(), "party_id": ""}
    page = client.get(base, query_string=typed).get_data(as_text=True)
    assert "Entreprise retenue" in page and f'name="party_id" value="{w.sibling.party_id}"' in page
    assert _listed(client, base, typed) == {"FIL-1"}
    assert f"party_id={w.sibling.party_id}" in _board(page)  # its links (sort, pages) carry the id read
    assert _listed(client, base, {"entreprise": sibling_label}) == {"FIL-1"}
    # Typed by hand and matching nothing: no filter, and the page says so; emptied: no filter, the id left aside.
    nothing = {"entreprise": "Personne", "party_id": w.sibling.party_id}
    assert "Aucune entreprise de vos pièces" in client.get(base, query_string=nothing).get_data(as_text=True)
    assert _listed(client, base, nothing) == {"FIL-1", "FIL-2"}
    assert _listed(client, base, {"entreprise": "", "party_id": w.sibling.party_id}) == {"FIL-1", "FIL-2"}
    assert _listed(client, base, {"party_id": w.sibling.party_id}) == {"FIL-1"}
    # Through HTMX: the list, and what was understood out of band; no select of companies comes with it.
    fragment = client.get(base, query_string={"entreprise": w.sibling.name}, headers=HX).get_data(as_text=True)
    assert "FIL-1" in fragment and "FIL-2" not in fragment and "<select" not in fragment
    assert 'id="party_id-compris" role="status" hx-swap-oob="true">Entreprise retenue' in fragment
    assert f'id="party_id-valeur" name="party_id" value="{w.sibling.party_id}" hx-swap-oob="true"' in fragment
    # The suggestions: what holds the text; opened as a page, the Tableau de bord reads the text.
    assert _suggested(client, f"{base}/filtres/entreprises", entreprise="carrel") == [
        (str(w.sibling.party_id), html_lib.escape(sibling_label))]
    redirect = client.get(f"{base}/filtres/entreprises?entreprise=Carrelage")
    assert redirect.status_code == 303 and "entreprise=Carrelage" in redirect.headers["Location"]


def test_beyond_the_bound_the_marche_filter_is_a_search_field(app, w, monkeypatch):
    pw.deposit(app, w, w.st1, "A10", "MFS-1")
    extra = _more_marches(app, w, 2)
    monkeypatch.setattr(parties, "OFFER_MAX", 2)
    client = pw.logged_in(app, w.st1)
    base = f"/s/{w.st1.siret}/tableau-de-bord"
    reference = _reference(app, w)
    bare = client.get(base).get_data(as_text=True)
    assert 'name="marche"' in bare and '<select id="marche_id"' not in bare and _listed(client, base, {}) == {"MFS-1"}
    typed = client.get(base, query_string={"marche": reference.lower(), "marche_id": extra[1]}).get_data(as_text=True)
    assert f"Marché retenu : {reference}" in typed and f'name="marche_id" value="{w.marche_id}"' in typed
    assert _listed(client, base, {"marche": reference.lower(), "marche_id": extra[1]}) == {"MFS-1"}
    assert _listed(client, base, {"marche": "", "marche_id": extra[0]}) == {"MFS-1"}  # emptied: no marché
    assert _listed(client, base, {"marche_id": extra[0]}) == set()  # a bookmark's id alone
    unknown = client.get(base, query_string={"marche": "M-NOWHERE"}).get_data(as_text=True)
    assert "Aucun de vos marchés n&#39;a pour référence « M-NOWHERE »" in unknown
    assert _listed(client, base, {"marche": "M-NOWHERE"}) == {"MFS-1"}
    found = _suggested(client, f"{base}/filtres/marches", marche="extra")
    assert [int(value) for value, _ in found] == sorted(extra, key=lambda i: _reference(app, w, i))


def test_the_marche_of_a_search_field_is_read_among_the_structures_marches_alone(app, w):
    """`read_marche` looks up the id chosen and the reference typed (one bounded query, through the tenant's
    access): the structure's marchés name themselves in any case; another structure's marché is not named, whether
    its id comes from a bookmark or its reference is typed whole."""
    extra = _more_marches(app, w, 2)  # the mandataire's and st1's, not the MOE's
    reference, other = _reference(app, w), _reference(app, w, extra[0])
    with pw.acting(app, w.moe):
        assert search_marche.read_marche({"marche_id": str(w.marche_id)}, w.moe.structure_id) == (
            board_filters.Search(reference, w.marche_id))
        assert search_marche.read_marche({"marche_id": str(extra[0])}, w.moe.structure_id) == (
            board_filters.Search("", extra[0]))  # as before: the id stands, no reference to show
        assert search_marche.read_marche({}, w.moe.structure_id) == board_filters.Search("", None)
        typed = search_marche.read_marche({"marche": f"  {reference.lower()} ", "marche_id": str(extra[0])},
                                          w.moe.structure_id)
        assert typed == board_filters.Search(reference, w.marche_id, f"Marché retenu : {reference}.")
        kept = search_marche.read_marche({"marche": reference.upper(), "marche_id": str(w.marche_id)},
                                         w.moe.structure_id)
        assert kept == board_filters.Search(reference, w.marche_id)
        refused = search_marche.read_marche({"marche": other, "marche_id": ""}, w.moe.structure_id)
        assert refused.value is None and "Aucun de vos marchés" in refused.said
        assert search_marche.read_marche({"marche": " ", "marche_id": str(w.marche_id)},
                                         w.moe.structure_id) == board_filters.Search("", None)
    with pw.acting(app, w.st1):
        assert search_marche.read_marche({"marche": other.lower()}, w.st1.structure_id) == board_filters.Search(
            other, extra[0], f"Marché retenu : {other}.")


def _beyond_the_bound(app, w, monkeypatch, path: str):
    """The mandataire's page at `path` with more marchés than OFFER_MAX (lowered to 2), a piece « MFS-1 » waiting on
    it on the world's marché: its client, the page's address, three more marchés, the world marché's reference and
    another's."""
    pw.deposit(app, w, w.st1, "A10", "MFS-1")  # waits on the mandataire, on the world's marché
    extra = _more_marches(app, w, 3)
    monkeypatch.setattr(parties, "OFFER_MAX", 2)
    client = pw.logged_in(app, w.mandataire)
    return (client, f"/s/{w.mandataire.siret}/{path}", extra, _reference(app, w), _reference(app, w, extra[0]))


@pytest.mark.parametrize("path, prefix", [("synthese", "synthese-marche"), ("pieces/", "marche_id"),
                                          ("pieces/recues", "marche_id")])
def test_beyond_the_bound_the_synthese_and_the_lists_marche_filter_is_the_same_search_field(app, w, monkeypatch,
                                                                                              path, prefix):
    """The Synthèse's and the pieces' lists' marché filter beyond OFFER_MAX marchés: the Tableau de bord's search
    field (its suggestions' route), read the same way — the id chosen, a reference typed whole without JavaScript
    and said back, a text matching none leaving the filter aside —, through HTMX with what was understood out of
    band. The page reads at most OFFER_MAX + 1 marchés."""
    client, base, extra, reference, other = _beyond_the_bound(app, w, monkeypatch, path)

    def page(headers=None, **params) -> str:
        response = client.get(base, query_string=params, headers=headers or {})
        assert response.status_code == 200
        return response.get_data(as_text=True)

    bare = page()
    assert f'id="{prefix}-texte" name="marche"' in bare and 'role="combobox"' in bare and "MFS-1" in bare
    assert f'<select id="{prefix}"' not in bare and other not in bare  # no marché written as an option
    assert f'hx-get="/s/{w.mandataire.siret}/tableau-de-bord/filtres/marches?depuis=' in bare  # the same suggestions
    chosen = page(marche_id=w.marche_id)
    assert f'id="{prefix}-valeur" name="marche_id" value="{w.marche_id}"' in chosen
    assert f'name="marche" value="{html_lib.escape(reference)}"' in chosen and "MFS-1" in chosen
    assert "MFS-1" not in page(marche_id=extra[0])  # a bookmark's id alone
    # Without JavaScript: a reference typed whole, in any case, over the id of another; one matching none.
    typed = page(marche=reference.lower(), marche_id=extra[1])
    assert f"Marché retenu : {reference}" in typed and f'name="marche_id" value="{w.marche_id}"' in typed
    assert "MFS-1" in typed and "MFS-1" not in page(marche=other.upper(), marche_id="")
    unknown = page(marche="M-NOWHERE", marche_id=extra[0])
    assert "Aucun de vos marchés n&#39;a pour référence « M-NOWHERE »" in unknown and "MFS-1" in unknown
    assert "MFS-1" in page(marche="", marche_id=extra[0])  # emptied: no marché
    # Through HTMX (the form's request): the list, and what was understood out of band.
    fragment = page(HX, marche=reference.lower(), marche_id="")
    assert "MFS-1" in fragment and "<select" not in fragment and 'role="combobox"' not in fragment
    assert f'id="{prefix}-compris" role="status" hx-swap-oob="true">Marché retenu : {reference}.' in fragment
    assert f'id="{prefix}-valeur" name="marche_id" value="{w.marche_id}" hx-swap-oob="true"' in fragment
    assert "MFS-1" not in page(HX, marche=other, marche_id="")
    assert "MFS-1" not in page(HX, marche_id=extra[2])  # a page link: the id alone
    # Below the bound, the select as before.
    monkeypatch.setattr(parties, "OFFER_MAX", 30)
    assert f'<select id="{prefix}"' in page() and 'role="combobox"' not in page()


@pytest.mark.parametrize("path, name", [("tableau-de-bord", "tableau-de-bord"), ("synthese", "synthese"),
                                        ("pieces/", "a-traiter"), ("pieces/recues", "recues")])
def test_the_marche_suggestions_opened_as_a_page_go_back_to_the_page_of_the_field(app, w, monkeypatch, path, name):
    """The suggestions' route opened as a page (a form sent without JavaScript, the address opened directly): back
    to the page the field was on — named in the address the field wrote —, with the text typed, which that page reads
    whole and says back."""
    client, base, extra, reference, other = _beyond_the_bound(app, w, monkeypatch, path)
    suggestions = html_lib.unescape(re.search(r'hx-get="([^"]*/filtres/marches[^"]*)"',
                                              client.get(base).get_data(as_text=True)).group(1))
    route = f"/s/{w.mandataire.siret}/tableau-de-bord/filtres/marches"
    assert suggestions == f"{route}?depuis={name}"
    back = client.get(route, query_string={"depuis": name, "marche": f" {reference.lower()} "})
    assert back.status_code == 303
    location = back.headers["Location"]
    assert location.split("?")[0] in (base, f"http://localhost{base}") and "marche=" in location
    page = client.get(location).get_data(as_text=True)
    assert f"Marché retenu : {reference}" in page and f'name="marche_id" value="{w.marche_id}"' in page
    assert "MFS-1" in page
    elsewhere = client.get(route, query_string={"depuis": name, "marche": other}).headers["Location"]
    assert f"Marché retenu : {other}" in client.get(elsewhere).get_data(as_text=True)  # another: read as well
    # Through HTMX the same address gives the suggestions, whatever page it names.
    assert _suggested(client, route, depuis=name, marche="extra") == _suggested(client, route, marche="extra")


def test_the_suggestions_opened_as_a_page_never_go_to_an_address_sent(app, w, monkeypatch):
    """The page to go back to is a name looked up among the structure's pages writing the field: an address (of
    another site, protocol-relative, another structure's page) or a page without that field is refused; no name
    (an older address), the Tableau de bord as before."""
    client = pw.logged_in(app, w.mandataire)
    base = f"/s/{w.mandataire.siret}/tableau-de-bord"
    foreign = ["https://evil.example/", "//evil.example/x", f"/s/{w.st1.siret}/synthese", "dashboard.synthese",
               "SYNTHESE", "../synthese"]
    for sent in foreign:
        for route, text in (("marches", "marche"), ("entreprises", "entreprise")):
            refused = client.get(f"{base}/filtres/{route}", query_string={"depuis": sent, text: "x"})
            assert refused.status_code == 400 and "Location" not in refused.headers, (route, sent)
    # The company field is the Tableau de bord's alone: no going back to the Synthèse with it.
    assert client.get(f"{base}/filtres/entreprises", query_string={"depuis": "synthese"}).status_code == 400
    company = client.get(f"{base}/filtres/entreprises", query_string={
        "depuis": "tableau-de-bord", "entreprise": "Carrelage", "marche_id": w.marche_id})
    assert company.status_code == 303 and company.headers["Location"].split("?")[0].endswith(base)
    assert "entreprise=Carrelage" in company.headers["Location"]
    assert f"marche_id={w.marche_id}" in company.headers["Location"]
    older = client.get(f"{base}/filtres/marches", query_string={"marche": "M-1"})
    assert older.status_code == 303 and older.headers["Location"].split("?")[0].endswith(base)
    # Through HTMX the name is not read: the suggestions, whatever it holds.
    assert client.get(f"{base}/filtres/marches", query_string={"depuis": "https://evil.example/", "marche": ""},
                      headers=HX).status_code == 200


def _reference(app, w, marche_id: int | None = None) -> str:
    with app.app_context():
        return db.session.get(Marche, marche_id or w.marche_id).reference
