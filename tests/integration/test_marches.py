"""Marchés through the Flask test client: creation, designation of parties, invitations (existing and new
structure), confirmation, and bad input refused with a French field-level message, 422 and nothing changed.

The helpers at the top are shared with test_marches_dc4.py and test_marches_visibility.py.
"""
from __future__ import annotations

import html
import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, MarcheEvent, MarcheParty, Structure
from chorus_chain.models.base import utcnow
from tests import factories

# --- helpers ---------------------------------------------------------------------------------------------------------


def company(app, name: str, *, public: bool = False, services: tuple[str, ...] = ()) -> SimpleNamespace:
    """A structure with its gestionnaire principal, and a logged-in test client for it."""
    gp = factories.account(app, first_name=name.split()[0])
    structure = factories.structure(app, gp, name=name, is_public=public)
    for code in services:
        factories.service(app, structure, code=code, name=f"Service {code}")
    client = app.test_client()
    factories.login(client, gp)
    return SimpleNamespace(gp=gp, structure=structure, siret=structure.siret, client=client,
                           base=f"/s/{structure.siret}/marches")


MARCHE_FORM = {
    "reference": "M-2026-001", "objet": "Réhabilitation de l'école", "kind": "travaux", "creator_role": "moa",
    "montant_ht": "1 000 000,00", "tva_rate": "20", "dgp_days": "30", "moe_days": "7", "retenue_rate": "5",
    "avance_rate": "5", "price_form": "revisable", "revision_a": "0,125", "revision_index": "BT01",
    "revision_base_month": "2025-01", "ccag_version": "2021", "groupement": "none", "cotraitance_circuit": "each",
    "moa_service_code": "TECH", "paying_service_code": "FIN", "engagement_number": "EJ-2026-1",
}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def party_row(app, marche_id: int, siret: str, role: str) -> MarcheParty:
    with app.app_context():
        row = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche_id,
                                                          MarcheParty.siret == siret, MarcheParty.role == role))
        if row is not None:
            db.session.expunge(row)
        return row


def marche_id_of(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Marche.id).where(Marche.reference == reference))


def text(response) -> str:
    """The page as a reader sees it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def mails_to(app, address: str) -> list:
    return [m for m in factories.outbox(app) if m.to_address == address]


def ops_call(app, fn, actor: SimpleNamespace, marche_id: int | None = None, *args, **kwargs):
    """Run an operation as `actor` (its gestionnaire) in a short request context, and commit."""
    from chorus_chain.operations import marches as ops

    with app.test_request_context():
        account = db.session.get(Account, actor.gp.id)
        structure = db.session.get(Structure, actor.structure.id)
        if marche_id is None:
            result = fn(account, structure, *args, now=utcnow(), **kwargs)
        else:
            result = fn(account, structure, ops.access_for(structure, marche_id), *args, now=utcnow(), **kwargs)
        db.session.commit()
        return getattr(result, "id", result)


def groupement(app) -> SimpleNamespace:
    """A works marché of a groupement conjoint, every role confirmed, no sous-traitant yet:
    MOA (public, services TECH and FIN, also the paying office), MOE, mandataire (600 000 € TTC of 1 200 000),
    co-traitant (600 000 €)."""
    from chorus_chain.operations import marches as ops

    w = SimpleNamespace(moa=company(app, "Commune de Test", public=True, services=("TECH", "FIN")),
                        moe=company(app, "Atelier Test Architectes"), mandataire=company(app, "Durand Test"),
                        cotraitant=company(app, "Martin Test"))
    w.marche_id = ops_call(app, ops.create_marche, w.moa, None,
                           {**MARCHE_FORM, "reference": f"GRP-{w.moa.siret}", "groupement": "conjoint"})
    for who, role, extra in ((w.moe, "moe", {}), (w.mandataire, "mandataire", {"montant_ttc": "600000"}),
                             (w.cotraitant, "cotraitant", {"montant_ttc": "600000"})):
        party_id = ops_call(app, ops.designate_party, w.moa, w.marche_id, {"role": role, "siret": who.siret, **extra})
        ops_call(app, ops.confirm_party, who, w.marche_id, party_id, accept=True)
        setattr(w, f"{role}_party", party_id)
    return w


# --- creation ------------------------------------------------------------------------------------------------------


def test_moa_creates_a_marche_and_sees_its_page(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    page = moa.client.get(f"{moa.base}/nouveau")
    assert page.status_code == 200 and "Créer un marché" in text(page)
    response = moa.client.post(f"{moa.base}/nouveau", data=MARCHE_FORM)
    assert response.status_code == 302, text(response)[:2000]
    marche_id = marche_id_of(app, "M-2026-001")
    assert response.headers["Location"].endswith(f"{moa.base}/{marche_id}")
    with app.app_context():
        marche = db.session.get(Marche, marche_id)
        assert str(marche.montant_ht) == "1000000.00" and marche.moe_days == 7 and marche.revision_index == "BT01"
        rows = db.session.scalars(select(MarcheParty).where(MarcheParty.marche_id == marche_id)
                                  .order_by(MarcheParty.id)).all()
        assert [(r.role, r.status, r.structure_id) for r in rows] == [
            ("moa", "confirmed", moa.structure.id), ("paying_office", "confirmed", moa.structure.id)]
        assert rows[1].service_code == "FIN"
        assert db.session.scalar(select(MarcheEvent.kind).where(MarcheEvent.marche_id == marche_id)) == \
            "marche.created"
    show = moa.client.get(f"{moa.base}/{marche_id}")
    assert show.status_code == 200
    body = text(show)
    assert "<svg" in body and "Commune de Villefranche" in body and "M-2026-001" in body
    assert "Ce marché de travaux n'a pas encore de maître d'œuvre." in body  # what is missing before a deposit
    listing = moa.client.get(f"{moa.base}/")
    assert "M-2026-001" in text(listing)


@pytest.mark.parametrize("field, value, message", [
    ("moe_days", "16", "15 jours au plus"),
    ("retenue_rate", "6", "La retenue de garantie ne peut dépasser 5 %"),
    ("dgp_days", "45", "Le délai global de paiement est de 30 jours"),
    ("montant_ht", "un million", "Indiquez un nombre"),
    ("revision_base_month", "janvier", "AAAA-MM"),
    ("avance_rate", "35", "doit être garantie par une garantie à première demande"),
    ("avance_repayment_end", "60", "commence à 65 % d'exécution"),
    ("duration_months", "0", "de 1 à 240"),
    ("penalty_daily_amount", "-5", "positif"),
])
def test_bad_terms_are_refused_with_a_field_level_message_and_nothing_is_created(app, db, field, value, message):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    response = moa.client.post(f"{moa.base}/nouveau", data={**MARCHE_FORM, field: value})
    assert response.status_code == 422
    body = text(response)
    match = re.search(rf'id="{field}-error">([^<]*)<', body)
    assert match, f"no field-level error for {field}"
    assert message in match.group(1)
    assert count(app, Marche) == 0 and count(app, MarcheParty) == 0


def test_money_settings_are_kept_and_shown(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    response = moa.client.post(f"{moa.base}/nouveau", data={
        **MARCHE_FORM, "avance_rate": "35", "avance_guarantee": "y", "avance_repayment_end": "100",
        "duration_months": "18", "guarantee_months": "24", "penalty_daily_amount": "250", "penalty_no_exemption": "y"})
    assert response.status_code == 302, text(response)[:2000]
    marche_id = marche_id_of(app, "M-2026-001")
    with app.app_context():
        marche = db.session.get(Marche, marche_id)
        assert (marche.avance_rate, marche.avance_guarantee, marche.avance_repayment_end) == (35, True, 100)
        assert (marche.duration_months, marche.guarantee_months) == (18, 24)
        assert (str(marche.penalty_daily_amount), marche.penalty_exemption) == ("250.00", False)
    body = text(moa.client.get(f"{moa.base}/{marche_id}"))
    assert "garantie à première demande" in body and "250,00" in body and "sans exonération" in body
    assert "18 mois" in body


def test_a_private_company_cannot_create_as_moa(app, db):
    titulaire = company(app, "Bâtiments Martin")
    response = titulaire.client.post(f"{titulaire.base}/nouveau", data=MARCHE_FORM)
    assert response.status_code == 422
    assert "Seule une structure publique peut être maître d'ouvrage" in text(response)
    assert count(app, Marche) == 0


def test_unknown_service_code_of_the_moa_is_refused(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH",))
    response = moa.client.post(f"{moa.base}/nouveau", data=MARCHE_FORM)
    assert response.status_code == 422
    assert "pas de service « FIN »" in text(response)
    assert count(app, Marche) == 0


# --- invitations ----------------------------------------------------------------------------------------------------


def test_titulaire_creates_and_invites_an_existing_moa_who_sees_nothing_before_confirming(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    titulaire = company(app, "Bâtiments Martin")
    response = titulaire.client.post(f"{titulaire.base}/nouveau", data={
        **MARCHE_FORM, "creator_role": "titulaire", "moa_siret": " ".join(re.findall(".{1,3}", moa.siret)),
        "moa_service_code": "", "paying_service_code": "FIN"})
    assert response.status_code == 302, text(response)[:3000]
    marche_id = marche_id_of(app, "M-2026-001")
    moa_row = party_row(app, marche_id, moa.siret, "moa")
    assert moa_row.status == "invited" and moa_row.structure_id == moa.structure.id
    assert party_row(app, marche_id, moa.siret, "paying_office").status == "invited"
    assert party_row(app, marche_id, titulaire.siret, "titulaire").status == "confirmed"
    mails = mails_to(app, moa.gp.email)
    assert mails and "Confirmez votre rôle sur le marché M-2026-001" in mails[-1].subject
    assert f"/s/{moa.siret}/marches/{marche_id}" in mails[-1].body

    # Before confirming: the invitation, and nothing else.
    listing = text(moa.client.get(f"{moa.base}/"))
    assert "Invitations à confirmer" in listing and "M-2026-001" in listing
    page = moa.client.get(f"{moa.base}/{marche_id}")
    assert page.status_code == 200
    assert "Confirmer notre rôle de maître d'ouvrage" in text(page) and "<svg" not in text(page)
    assert "Bâtiments Martin" not in text(page)
    assert "1 000 000" not in text(page)
    for url in (f"{moa.base}/{marche_id}/fiche", f"{moa.base}/{marche_id}/export.json",
                f"{moa.base}/{marche_id}/chaine.svg", f"{moa.base}/{marche_id}/parties/{moa_row.id}"):
        assert moa.client.get(url).status_code == 404, url

    confirmed = moa.client.post(f"{moa.base}/{marche_id}/parties/{moa_row.id}/confirmation",
                                data={"decision": "confirm"})
    assert confirmed.status_code == 302
    assert party_row(app, marche_id, moa.siret, "moa").status == "confirmed"
    page = text(moa.client.get(f"{moa.base}/{marche_id}"))
    assert "<svg" in page and "Bâtiments Martin" in page
    assert any("a confirmé son rôle" in m.subject for m in mails_to(app, titulaire.gp.email))


def test_invitation_of_a_company_that_has_no_structure_yet(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    marche_id = ops_call(app, __import__("chorus_chain.operations.marches", fromlist=["x"]).create_marche, moa,
                         None, MARCHE_FORM)
    new_siret = factories.valid_siret()
    response = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle", data={
        "role": "moe", "siret": new_siret, "name": "Atelier Nouveau", "email": "Archi@Nouveau.fr"})
    assert response.status_code == 302, text(response)[:3000]
    row = party_row(app, marche_id, new_siret, "moe")
    assert row.status == "invited" and row.structure_id is None and row.invited_email == "archi@nouveau.fr"
    mail = mails_to(app, "archi@nouveau.fr")[-1]
    assert "vous invite sur le marché M-2026-001" in mail.subject
    link = re.search(r"http://localhost(/invitations/\S+)", mail.body).group(1)

    anonymous = app.test_client()
    page = anonymous.get(link)
    assert page.status_code == 200 and "Créer un compte" in text(page) and "Atelier Nouveau" in text(page)
    assert anonymous.get(link[:-3] + "xyz").status_code == 400  # altered token

    person = factories.account(app, email="archi@nouveau.fr")
    client = app.test_client()
    factories.login(client, person)
    form = client.get(link)
    assert form.status_code == 200 and new_siret in text(form)
    bad = client.post(link, data={"name": "Atelier Nouveau", "address_line": "", "postal_code": "49000",
                                  "city": "Angers", "size_class": "micro"})
    assert bad.status_code == 422
    assert count(app, Structure, Structure.siret == new_siret) == 0
    created = client.post(link, data={"name": "Atelier Nouveau", "address_line": "3 rue Neuve",
                                      "postal_code": "49000", "city": "Angers", "size_class": "micro"})
    assert created.status_code == 302
    assert created.headers["Location"].endswith(f"/s/{new_siret}/marches/{marche_id}")
    with app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.siret == new_siret))
        assert structure.gestionnaire_id == person.id
    row = party_row(app, marche_id, new_siret, "moe")
    assert row.structure_id == structure.id and row.status == "invited"
    page = client.get(f"/s/{new_siret}/marches/{marche_id}")
    assert "Confirmer notre rôle de maître d'œuvre" in text(page) and "<svg" not in text(page)
    assert client.post(f"/s/{new_siret}/marches/{marche_id}/parties/{row.id}/confirmation",
                       data={"decision": "confirm"}).status_code == 302
    assert "<svg" in text(client.get(f"/s/{new_siret}/marches/{marche_id}"))
    assert client.get(link).status_code == 400  # the invitation has had its answer


def test_designating_an_unknown_company_needs_an_address(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    response = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle",
                               data={"role": "moe", "siret": factories.valid_siret(), "name": "Atelier"})
    assert response.status_code == 422
    assert re.search(r'id="email-error">Cette entreprise n\'est pas encore inscrite', text(response))
    assert count(app, MarcheParty, MarcheParty.marche_id == marche_id) == 2


def test_invalid_siret_is_refused_and_nothing_changes(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    before = count(app, MarcheParty)
    response = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle",
                               data={"role": "titulaire", "siret": "123 456 789 00012", "email": "a@b.fr",
                                     "name": "X"})
    assert response.status_code == 422
    assert 'id="siret-error">Ce numéro SIRET n' in text(response)
    assert count(app, MarcheParty) == before
    assert factories.outbox(app) == [] or all("titulaire" not in m.subject for m in factories.outbox(app))


def test_a_second_moa_is_refused_and_nothing_changes(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True)
    other = company(app, "Commune Voisine", public=True)
    titulaire = company(app, "Bâtiments Martin")
    marche_id = ops_call(app, ops.create_marche, titulaire, None, {
        **MARCHE_FORM, "creator_role": "titulaire", "moa_siret": moa.siret, "moa_service_code": ""})
    before = (count(app, MarcheParty), count(app, MarcheEvent), len(factories.outbox(app)))
    response = titulaire.client.post(f"{titulaire.base}/{marche_id}/parties/nouvelle",
                                     data={"role": "moa", "siret": other.siret})
    assert response.status_code == 422
    assert 'id="role-error">Ce marché a déjà un maître d\'ouvrage.' in text(response)
    assert (count(app, MarcheParty), count(app, MarcheEvent), len(factories.outbox(app))) == before


def test_only_the_right_roles_designate(app, db):
    w = groupement(app)
    # The MOE designates nobody; the co-traitant neither.
    assert w.moe.client.get(f"{w.moe.base}/{w.marche_id}/parties/nouvelle").status_code == 403
    assert w.cotraitant.client.post(f"{w.cotraitant.base}/{w.marche_id}/parties/nouvelle",
                                    data={"role": "cotraitant", "siret": factories.valid_siret()}).status_code == 403
    # The mandataire names a co-traitant, with its part; the sum of the parts cannot exceed the marché.
    newcomer = company(app, "Couverture Thomas")
    too_much = w.mandataire.client.post(f"{w.mandataire.base}/{w.marche_id}/parties/nouvelle",
                                        data={"role": "cotraitant", "siret": newcomer.siret, "montant_ttc": "1000"})
    assert too_much.status_code == 422 and "dépasse le montant du marché" in text(too_much)
    # … and may not designate the titulaire (the MOA's choice).
    refused = w.mandataire.client.post(f"{w.mandataire.base}/{w.marche_id}/parties/nouvelle",
                                       data={"role": "titulaire", "siret": newcomer.siret})
    assert refused.status_code == 422
    assert 'id="role-error">Seul le maître d\'ouvrage peut désigner le titulaire de ce marché.' in text(refused)


def test_declining_a_role_hides_the_marche_again(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    moe = company(app, "Atelier Lumen")
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    party_id = ops_call(app, ops.designate_party, moa, marche_id, {"role": "moe", "siret": moe.siret})
    response = moe.client.post(f"{moe.base}/{marche_id}/parties/{party_id}/confirmation",
                               data={"decision": "decline"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{moe.base}/")
    assert party_row(app, marche_id, moe.siret, "moe").status == "declined"
    assert moe.client.get(f"{moe.base}/{marche_id}").status_code == 404
    # The MOA may designate it again: the same row is invited anew.
    again = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle", data={"role": "moe", "siret": moe.siret})
    assert again.status_code == 302
    assert party_row(app, marche_id, moe.siret, "moe").status == "invited"
    assert count(app, MarcheParty, MarcheParty.marche_id == marche_id) == 3


def test_rights_consultation_views_modification_changes(app, db):
    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    reader = factories.account(app)
    factories.member(app, moa.structure, reader, travaux="consultation")
    client = app.test_client()
    factories.login(client, reader)
    assert client.get(f"{moa.base}/{marche_id}").status_code == 200
    assert client.get(f"{moa.base}/{marche_id}/fiche").status_code == 200
    assert client.get(f"{moa.base}/nouveau").status_code == 403
    assert client.post(f"{moa.base}/{marche_id}/parties/nouvelle",
                       data={"role": "moe", "siret": factories.valid_siret()}).status_code == 403
    stranger = company(app, "Entreprise Étrangère")
    assert stranger.client.get(f"{stranger.base}/{marche_id}").status_code == 404


@pytest.mark.postgres
def test_a_change_locks_the_marche_before_reading_its_parties(app, db):
    """Two concurrent changes of one chain are checked one after the other (FOR UPDATE on the marché row)."""
    from sqlalchemy import event

    from chorus_chain.operations import marches as ops

    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    moe = company(app, "Atelier Lumen")
    marche_id = ops_call(app, ops.create_marche, moa, None, MARCHE_FORM)
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = moa.client.post(f"{moa.base}/{marche_id}/parties/nouvelle", data={"role": "moe",
                                                                                     "siret": moe.siret})
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert response.status_code == 302
    lock = next(i for i, s in enumerate(statements) if s.startswith("SELECT marche.") and "FOR UPDATE" in s)
    rows = next(i for i, s in enumerate(statements) if "FROM marche_party" in s)
    assert lock < rows


def test_the_moa_records_the_reception_which_starts_the_guarantee_period(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    assert moa.client.post(f"{moa.base}/nouveau", data=MARCHE_FORM).status_code == 302
    marche_id = marche_id_of(app, "M-2026-001")
    future = moa.client.post(f"{moa.base}/{marche_id}/reception", data={"reception_on": "2099-01-01"})
    assert future.status_code == 422 and "dans le futur" in text(future)
    response = moa.client.post(f"{moa.base}/{marche_id}/reception", data={"reception_on": "2026-06-30"})
    assert response.status_code == 302
    page = text(moa.client.get(response.headers["Location"]))
    assert "Réception des travaux enregistrée au 30 juin 2026" in page
    assert "jusqu'au 30 juin 2027" in page
    with app.app_context():
        marche = db.session.get(Marche, marche_id)
        assert marche.reception_on == date(2026, 6, 30)
        kinds = db.session.scalars(select(MarcheEvent.kind).where(MarcheEvent.marche_id == marche_id)).all()
        assert "marche.reception" in kinds


def test_only_the_moa_records_the_reception(app, db):
    moa = company(app, "Commune de Villefranche", public=True, services=("TECH", "FIN"))
    titulaire = company(app, "Durand BTP")
    response = titulaire.client.post(f"{titulaire.base}/nouveau", data={
        **MARCHE_FORM, "creator_role": "titulaire", "moa_siret": moa.siret, "moa_service_code": ""})
    assert response.status_code == 302, text(response)[:1000]
    marche_id = marche_id_of(app, "M-2026-001")
    refused = titulaire.client.post(f"{titulaire.base}/{marche_id}/reception", data={"reception_on": "2026-06-30"})
    assert refused.status_code == 422 and "Seul le maître d'ouvrage" in text(refused)
    with app.app_context():
        assert db.session.get(Marche, marche_id).reception_on is None
