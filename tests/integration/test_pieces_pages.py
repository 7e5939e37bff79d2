"""The pages of the pièces through the Flask test client, on the demo marché (DEMO-TRAVAUX-2026): what to deposit,
the draft form (multipart uploads), draft versus sent, the pre-flight check, field-level errors (422, nothing kept),
file names with path parts, the deposit right. The helpers and the `world` fixture at the top are shared with
test_pieces_pages_actions.py (the piece page and its actions) and test_pieces_pages_lists.py (boxes, notifications).

The demo chain: Commune (MOA and paying office, service FIN), Atelier Lumen (MOE), Durand (mandataire), Martin
(co-traitant), Leroy (rang 1 under Durand, paiement direct, autoliquidation: deposits A10), Bernard (rang 1 under
Martin), Petit (rang 2 under Leroy), Moreau (rang 1 under Durand, below 600 €: private invoice).
"""
from __future__ import annotations

import html
import io
import re
from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import func, select

from chorus_chain import access, demo
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, MarcheParty, Piece, PieceEvent, PieceFile, StoredFile, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import pieces as ops
from tests import factories
from tests.conftest import ensure_demo

SIRET = {c.key: c.siret for c in demo.COMPANIES}
EMAIL = {c.key: c.email for c in demo.COMPANIES}
PDF = factories.MINIMAL_PDF
HX = {"HX-Request": "true"}


# --- helpers ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app(demo_app):
    """This module reads the demo: a database of its own holding it (tests/conftest.py `demo_app`)."""
    return demo_app


@pytest.fixture
def world(app, db):
    with app.app_context():
        ensure_demo()
        marche_id = db.session.scalar(select(Marche.id).where(Marche.reference == demo.DEMO_MARCHE))
        parties = {}
        for row in db.session.scalars(select(MarcheParty).where(MarcheParty.marche_id == marche_id)):
            key = next(c.key for c in demo.COMPANIES if c.siret == row.siret)
            parties[key if row.role != "paying_office" else "paying_office"] = row.id
    return {"marche_id": marche_id, "party": parties}


def client_for(app, key: str, email: str | None = None):
    """A client logged in as the gestionnaire of a demo company (or another of its members), and its pieces URL."""
    with app.app_context():
        account = db.session.scalar(select(Account).where(Account.email == (email or EMAIL[key])))
        db.session.expunge(account)
    client = app.test_client()
    factories.login(client, account, password=demo.DEMO_PASSWORD)
    return client, f"/s/{SIRET[key]}/pieces"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@contextmanager
def acting(app, key: str):
    """Operations as the gestionnaire of a demo company, for the set-up of a test (committed at the end)."""
    with app.test_request_context():
        structure = db.session.scalar(select(Structure).where(Structure.siret == SIRET[key]))
        account = db.session.get(Account, structure.gestionnaire_id)
        with access.tenant(structure.id):
            yield account, structure
            db.session.commit()


def draft_fields(world, number: str, **overrides) -> dict:
    """The form of Leroy's A10 (autoliquidation: no VAT), as the deposit page pre-fills it."""
    fields = {
        "party_id": str(world["party"]["st_platrerie"]), "cadre": "A10", "piece_type": "FACTURE", "number": number,
        "issue_date": "2026-01-05", "montant_ht": "12 000,00", "montant_tva": "0,00", "montant_ttc": "12 000,00",
        "vat_regime": "autoliquidation", "recipient_siret": SIRET["moa"], "service_code": "FIN",
        "engagement_number": "EJ-2025-000418", "payment_mode": "virement", "bank_account_id": "",
        "original_piece_id": "", "previous_piece_id": "",
    }
    fields.update(overrides)
    return fields


def without_bordereau_lines(app, world, key: str = "st_platrerie") -> None:
    """Give `key`'s price lines to the mandataire: its projets de décompte are then a PDF and a total (where the
    marché has a bordereau for it, a PDM is entered line by line before it is sent — test_decomptes.py)."""
    from sqlalchemy import update

    from chorus_chain.models.money import PriceLine

    with app.app_context(), access.system_access("tests: a company without bordereau lines"):
        db.session.execute(update(PriceLine).where(PriceLine.marche_id == world["marche_id"],
                                                   PriceLine.party_id == world["party"][key]).values(party_id=None))
        db.session.commit()


def bank_account_id(app, key: str) -> int:
    from chorus_chain.models import BankAccount

    with app.app_context():
        structure_id = db.session.scalar(select(Structure.id).where(Structure.siret == SIRET[key]))
        return db.session.scalar(select(BankAccount.id).where(BankAccount.structure_id == structure_id))


def make_piece(app, world, number: str, *, send: bool = True, **overrides) -> int:
    """Leroy's A10 through the operations (set-up), sent unless told; returns its id. A PDF-only projet de
    décompte: Leroy's part is taken off the bordereau first (see `without_bordereau_lines`)."""
    if send:
        without_bordereau_lines(app, world)
    raw = draft_fields(world, number, bank_account_id=str(bank_account_id(app, "st_platrerie")), **overrides)
    with acting(app, "st_platrerie") as (account, structure):
        piece = ops.create_draft(account, structure, world["marche_id"], raw,
                                 main_file=ops.UploadedFile("decompte.pdf", PDF), now=utcnow())
        if send:
            ops.deposit(piece.id, account, structure, now=utcnow())
        return piece.id


def act(app, key: str, piece_id: int, action: str, **inputs):
    """As pieces_world.act: `issue_etat_acompte` goes through the état (`pieces_world.issue_in_etat`)."""
    if action == "issue_etat_acompte":
        from tests.integration import pieces_world

        with app.app_context():
            structure = db.session.scalar(select(Structure).where(Structure.siret == SIRET[key]))
            moe = pieces_world.Actor(key, structure.id, structure.siret, structure.name, structure.gestionnaire_id,
                                     None)
        pieces_world.issue_in_etat(app, moe, piece_id, now=utcnow(), **inputs)
        return
    with acting(app, key) as (account, structure):
        piece = ops.piece_for(structure, piece_id)
        ops.act(piece_id, account, structure, action, expected_status=piece.status, now=utcnow(), **inputs)


def status_of(app, piece_id: int) -> str:
    with app.app_context(), access.system_access("test: read the status"):
        return db.session.scalar(select(Piece.status).where(Piece.id == piece_id))


def count_rows(app, model, *where) -> int:
    with app.app_context(), access.system_access("test: count rows"):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def upload(fields: dict, main: tuple[bytes, str] | None = (PDF, "decompte.pdf"), files=()) -> dict:
    data = dict(fields)
    if main is not None:
        data["main_file"] = (io.BytesIO(main[0]), main[1])
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return data


def post_action(client, base: str, piece_id: int, action: str, expected: str, headers=None, **fields):
    data = {"action": action, "expected_status": expected}
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return client.post(f"{base}/{piece_id}/action", data=data, headers=headers or {},
                       content_type="multipart/form-data")


def new_url(world, key: str = "st_platrerie", cadre: str = "A10") -> str:
    return f"/s/{SIRET[key]}/pieces/nouvelle/{world['marche_id']}?party_id={world['party'][key]}&cadre={cadre}"


def post_draft(client, world, fields: dict, intent: str = "save", **files):
    return client.post(f"/s/{SIRET['st_platrerie']}/pieces/nouvelle/{world['marche_id']}",
                       data=upload(fields, **files) | {"intent": intent}, content_type="multipart/form-data")


def piece_id_of(app, number: str) -> int | None:
    with app.app_context(), access.system_access("test: find a piece"):
        return db.session.scalar(select(Piece.id).where(Piece.number_key == number.upper()))


# --- depositing: what, and the draft form ---------------------------------------------------------------------------

def test_the_deposit_page_offers_what_the_chain_allows_in_plain_words(app, world):
    leroy, base = client_for(app, "st_platrerie")
    page = text(leroy.get(f"{base}/nouvelle?marche_id={world['marche_id']}"))
    assert "Projet de décompte mensuel de sous-traitant" in page and ">A10<" in page
    assert "Validation par le donneur d'ordre → Maître d'œuvre → Maître d'ouvrage → Service financier" in page
    assert ">A4<" not in page  # the titulaire's cadre is not offered to a sous-traitant
    # With HTMX (the marché select changed), only the choices come back.
    fragment = leroy.get(f"{base}/nouvelle?marche_id={world['marche_id']}", headers=HX)
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="deposit-choices"')


def test_the_draft_form_is_prefilled_from_the_marche(app, world):
    leroy, base = client_for(app, "st_platrerie")
    # A projet de décompte starts from its décompte (its month, its number), never from an amount form…
    started = leroy.get(new_url(world))
    assert started.status_code == 303 and "/projet-de-decompte" in started.headers["Location"]
    start = text(leroy.get(started.headers["Location"]))
    month = re.search(r'name="month"[^>]*value="(\d{4}-\d{2})"', start).group(1)
    created = leroy.post(started.headers["Location"].split("?")[0], data={
        "party_id": str(world["party"]["st_platrerie"]), "cadre": "A10", "month": month, "number": "T-PRE",
        "issue_date": date.today().isoformat()})
    assert created.status_code == 303, text(created)[-1500:]
    # …and its draft carries what the marché gives: recipient, service code, engagement, regime, bank account.
    page = text(leroy.get(f"{base}/{piece_id_of(app, 'T-PRE')}"))
    assert 'name="recipient_siret" type="text" value="21755260300011"' in page
    assert 'name="service_code" type="text" value="FIN"' in page
    assert 'value="EJ-2025-000418"' in page
    assert '<option selected value="autoliquidation">' in page  # a works sous-traitant: no VAT
    assert "Autoliquidation : TVA due par le preneur" in page
    assert "Compte principal — FR76 •••• •••• 0129" in page
    assert "Enregistrer le brouillon" in page and "Saisir le décompte et envoyer" in page


def test_save_a_draft_through_the_form_nobody_else_sees_it(app, world):
    without_bordereau_lines(app, world)
    leroy, base = client_for(app, "st_platrerie")
    fields = draft_fields(world, "T-001", bank_account_id=str(bank_account_id(app, "st_platrerie")))
    response = post_draft(leroy, world, fields, files=[(b"Situation de travaux de janvier", "situation.txt")])
    assert response.status_code == 303, text(response)[-2000:]
    piece_id = piece_id_of(app, "T-001")
    assert response.headers["Location"].endswith(f"{base}/{piece_id}")
    assert status_of(app, piece_id) == "BROUILLON"
    assert count_rows(app, PieceFile, PieceFile.piece_id == piece_id) == 2
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert "BROUILLON — non envoyé : personne d'autre ne le voit." in page
    assert "Contrôle avant envoi : tout est en ordre" in page
    assert re.search(r'<button type="submit" class="primary send" data-confirm="[^"]+"[^>]*>Envoyer la pièce</button>',
                     page)  # with what cannot be undone
    # The validator, the MOE, the MOA do not see a draft at all.
    for key in ("mandataire", "moe", "moa"):
        other, other_base = client_for(app, key)
        assert other.get(f"{other_base}/{piece_id}").status_code == 404
        assert "T-001" not in text(other.get(f"{other_base}/recues"))


def test_send_from_the_new_form_deposits_the_piece(app, world):
    without_bordereau_lines(app, world)
    leroy, base = client_for(app, "st_platrerie")
    fields = draft_fields(world, "T-002", bank_account_id=str(bank_account_id(app, "st_platrerie")))
    response = post_draft(leroy, world, fields, intent="send")
    assert response.status_code == 303
    piece_id = piece_id_of(app, "T-002")
    assert status_of(app, piece_id) == "A_VALIDER_1"
    page = text(leroy.get(response.headers["Location"]))
    assert "BROUILLON" not in page and "est envoyée" in page
    assert "À valider par le donneur d'ordre" in page
    # The validator finds it in its "à traiter" box with the countdown of its 15 days.
    durand, durand_base = client_for(app, "mandataire")
    box = text(durand.get(f"{durand_base}/"))
    assert "T-002" in box and "validation tacite dans 15 jours" in box


def test_send_refused_by_the_preflight_keeps_the_draft_and_says_why(app, world):
    without_bordereau_lines(app, world)
    leroy, base = client_for(app, "st_platrerie")
    fields = draft_fields(world, "T-003", service_code="NOPE", bank_account_id=str(bank_account_id(app,
                                                                                                   "st_platrerie")))
    response = post_draft(leroy, world, fields, intent="send", main=None)
    assert response.status_code == 303  # the draft is the user's work: it is kept, not sent
    piece_id = piece_id_of(app, "T-003")
    assert status_of(app, piece_id) == "BROUILLON"
    page = text(leroy.get(response.headers["Location"]))
    assert "PAS envoyé" in page and "BROUILLON — non envoyé" in page
    assert "Avant l'envoi : 2 points à corriger" in page
    assert "n'a pas de service de code « NOPE »" in page
    assert "Joignez le document principal de la pièce (PDF)." in page
    assert "Envoyer la pièce</button>" not in page  # not offered while it cannot be sent
    assert "« Envoyer la pièce » apparaîtra ici quand ces points seront corrigés" in page
    # Sending anyway (a stale page, a hand-made request) is refused the same way, and changes nothing.
    refused = leroy.post(f"{base}/{piece_id}/envoyer")
    assert refused.status_code == 422 and "NOPE" in text(refused)
    assert status_of(app, piece_id) == "BROUILLON"


def test_correct_a_draft_then_send_it_from_its_page(app, world):
    without_bordereau_lines(app, world)
    piece_id = make_piece(app, world, "T-004", send=False, service_code="NOPE")
    leroy, base = client_for(app, "st_platrerie")
    fields = draft_fields(world, "T-004", bank_account_id=str(bank_account_id(app, "st_platrerie")))
    response = leroy.post(f"{base}/{piece_id}/brouillon", data=upload(fields, main=None),
                          content_type="multipart/form-data")
    assert response.status_code == 303
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert "tout est en ordre" in page and "toujours PAS envoyé" in page
    assert leroy.post(f"{base}/{piece_id}/envoyer").status_code == 303
    assert status_of(app, piece_id) == "A_VALIDER_1"
    # Once sent, the draft's forms are gone for good.
    assert leroy.post(f"{base}/{piece_id}/brouillon", data=upload(fields, main=None),
                      content_type="multipart/form-data").status_code == 422


def test_remove_a_file_from_a_draft(app, world):
    piece_id = make_piece(app, world, "T-005", send=False)
    with app.app_context(), access.system_access("test"):
        file_id = db.session.scalar(select(PieceFile.id).where(PieceFile.piece_id == piece_id))
    leroy, base = client_for(app, "st_platrerie")
    assert leroy.post(f"{base}/{piece_id}/fichiers/{file_id}/retirer").status_code == 303
    assert count_rows(app, PieceFile, PieceFile.piece_id == piece_id) == 0
    assert "Joignez le document principal de la pièce (PDF)." in text(leroy.get(f"{base}/{piece_id}"))


@pytest.mark.parametrize("overrides, field, message", [
    ({"montant_ttc": "12 500,00"}, "montant_ttc", "HT"),
    ({"montant_ht": "12000,123", "montant_ttc": "12000,123"}, "montant_ht", "deux décimales"),
    ({"montant_ht": "douze mille"}, "montant_ht", "montant HT"),
    ({"montant_tva": "2 400,00", "montant_ttc": "14 400,00"}, "montant_tva", "autoliquidation"),
    ({"number": ""}, "number", "numéro"),
    ({"recipient_siret": "123"}, "recipient_siret", "SIRET"),
    ({"issue_date": "2026-13-45"}, "issue_date", "date"),
])
def test_bad_input_gets_a_field_error_422_and_leaves_nothing(app, world, overrides, field, message):
    leroy, _ = client_for(app, "st_platrerie")
    before = count_rows(app, Piece), count_rows(app, StoredFile), count_rows(app, PieceEvent)
    response = post_draft(leroy, world, draft_fields(world, "T-BAD") | overrides, intent="send")
    assert response.status_code == 422
    page = text(response)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert error is not None, page[page.find("<form"):][:3000]
    assert message.lower() in error.group(1).lower()
    assert (count_rows(app, Piece), count_rows(app, StoredFile), count_rows(app, PieceEvent)) == before


def test_a_number_already_used_is_refused_next_to_the_number(app, world):
    without_bordereau_lines(app, world)
    make_piece(app, world, "T-006")
    leroy, _ = client_for(app, "st_platrerie")
    response = post_draft(leroy, world, draft_fields(world, "t-006"))
    assert response.status_code == 422
    assert "jamais réutilisé" in re.search(r'id="number-error">([^<]*)<', text(response)).group(1)
    assert count_rows(app, Piece, Piece.number_key == "T-006") == 1


@pytest.mark.parametrize("name", ["../../etc/decompte.pdf", "C:\\Users\\leroy\\decompte.pdf", "dossier/decompte.pdf"])
def test_a_file_name_with_path_parts_is_refused(app, world, name):
    leroy, _ = client_for(app, "st_platrerie")
    before = count_rows(app, Piece), count_rows(app, StoredFile)
    response = post_draft(leroy, world, draft_fields(world, "T-PATH"), main=(PDF, name))
    assert response.status_code == 422
    error = re.search(r'id="main_file-error">([^<]*)<', text(response))
    assert error and "chemin" in error.group(1)
    assert (count_rows(app, Piece), count_rows(app, StoredFile)) == before


def test_a_mislabelled_attachment_is_refused(app, world):
    leroy, _ = client_for(app, "st_platrerie")
    response = post_draft(leroy, world, draft_fields(world, "T-MIS"), files=[(b"not a pdf at all", "faux.pdf")])
    assert response.status_code == 422
    assert "ne correspond pas à son extension" in re.search(r'id="files-error">([^<]*)<', text(response)).group(1)
    assert piece_id_of(app, "T-MIS") is None


def test_depositing_needs_the_modification_right_of_the_piece_domain(app, world):
    with app.app_context():
        structure = db.session.scalar(select(Structure).where(Structure.siret == SIRET["st_platrerie"]))
        db.session.expunge(structure)
    client = factories.member_client(app, structure, emises="modification", travaux="consultation",
                                     recues="consultation")
    assert client.get(new_url(world)).status_code == 403  # an A10 is a works piece: "travaux" modification
    assert client.post(f"/s/{SIRET['st_platrerie']}/pieces/nouvelle/{world['marche_id']}",
                       data=draft_fields(world, "T-RIGHT")).status_code == 403
    assert piece_id_of(app, "T-RIGHT") is None
