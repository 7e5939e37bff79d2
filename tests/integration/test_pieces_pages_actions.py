"""The piece page and its actions through the Flask test client: inline (HTMX fragments swapped in place) and as
plain pages; concurrent actions; bad input; the public side's whole route; the return branches (recycle, suspend,
reject); files; rights; CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from chorus_chain import access, demo, formatting
from chorus_chain.extensions import db
from chorus_chain.models import PieceEvent, PieceFile, Structure
from chorus_chain.models.base import utcnow
from tests import factories
# `app` and `world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_pieces_pages import (  # noqa: F401
    app,
    HX,
    PDF,
    SIRET,
    act,
    client_for,
    count_rows,
    make_piece,
    post_action,
    status_of,
    text,
    world,
)

MARC = "compta.durand@demo.chorus-chain.fr"  # Durand's accountant: "travaux" modification


def base_of(key: str) -> str:
    return f"/s/{SIRET[key]}/pieces"


# --- the page --------------------------------------------------------------------------------------------------------

def test_the_piece_page_shows_status_route_deadlines_files_and_timeline(app, world):
    piece_id = make_piece(app, world, "T-100")
    durand, base = client_for(app, "mandataire")
    page = text(durand.get(f"{base}/{piece_id}"))
    assert "Projet de décompte mensuel de sous-traitant" in page and ">A10<" in page
    assert "À valider par le donneur d'ordre" in page and "A_VALIDER_1" in page
    assert "15 jours, puis validation tacite" in page  # the status explained
    assert "Validation par le donneur d'ordre — Durand Bâtiment SAS" in page and "← agit maintenant" in page
    assert "À vous d'agir" in page
    assert "Délai de validation (le donneur d'ordre)" in page and "validation tacite dans 15 jours" in page
    assert "decompte.pdf" in page and "Document principal" in page
    assert "Envoyer la pièce" in page and "leroy@demo.chorus-chain.fr — Plâtrerie Leroy" in page  # the timeline
    assert "Brouillon (non envoyé) → À valider par le donneur d'ordre" in re.sub(r"<[^>]+>", "", page)
    for label in ("Valider", "Valider partiellement…", "Refuser…", "Signaler une erreur de valideur…"):
        assert label in page
    assert 'name="expected_status" value="A_VALIDER_1"' in page
    # The emitter sees the same piece without any action to take now.
    leroy, leroy_base = client_for(app, "st_platrerie")
    own = text(leroy.get(f"{leroy_base}/{piece_id}"))
    assert "Aucune action de votre structure n'est attendue" in own and "Rien à faire pour l'instant." in own


def test_the_validator_validates_inline_and_the_page_swaps_in_place(app, world):
    piece_id = make_piece(app, world, "T-101")
    durand, base = client_for(app, "mandataire")
    response = post_action(durand, base, piece_id, "validate", "A_VALIDER_1", headers=HX)
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<section class="card actions-panel" id="piece-actions"')
    assert "C'est fait : « valider »" in fragment
    assert re.search(r'id="piece-status"[^>]*hx-swap-oob="true"', fragment)
    assert re.search(r'id="piece-timeline"[^>]*hx-swap-oob="true"', fragment)
    assert "Chez le maître d'œuvre" in fragment
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"


def test_a_partial_validation_inline_refreshes_the_amounts(app, world):
    piece_id = make_piece(app, world, "T-112")
    durand, base = client_for(app, "mandataire")
    response = post_action(durand, base, piece_id, "validate_partially", "A_VALIDER_1", headers=HX,
                           amount="10 500,00", reason="Métré contradictoire : 10 500 € exécutés")
    assert response.status_code == 200
    amounts = re.search(r'<section class="card" id="piece-amounts"[^>]*hx-swap-oob="true">(.*?)</section>',
                        text(response), re.S)
    assert amounts and "Montant accepté" in amounts.group(1)
    assert "10 500,00" in amounts.group(1).replace("\u202f", " ").replace("\xa0", " ")


def test_without_javascript_an_action_answers_a_page(app, world):
    piece_id = make_piece(app, world, "T-102")
    durand, base = client_for(app, "mandataire")
    response = post_action(durand, base, piece_id, "validate_partially", "A_VALIDER_1", amount="11 000,00",
                           reason="Métré contradictoire : 11 000 € exécutés")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{base}/{piece_id}")
    page = text(durand.get(response.headers["Location"]))
    assert "C'est fait : « valider partiellement »" in page
    assert "Métré contradictoire : 11 000 € exécutés" in page  # the reason, on the piece's history
    assert "Montant accepté" in page and "11 000,00 €" in page.replace("\u202f", " ").replace("\xa0", " ")


def test_two_people_acting_at_once_the_second_is_told_it_was_already_processed(app, world):
    piece_id = make_piece(app, world, "T-103")
    durand, base = client_for(app, "mandataire")
    marc, _ = client_for(app, "mandataire", email=MARC)
    assert 'value="A_VALIDER_1"' in text(marc.get(f"{base}/{piece_id}"))  # Marc's page, before Durand acts
    assert post_action(durand, base, piece_id, "validate", "A_VALIDER_1", headers=HX).status_code == 200
    late = post_action(marc, base, piece_id, "refuse", "A_VALIDER_1", headers=HX, reason="non_conforme")
    assert late.status_code == 422
    message = text(late)
    assert "Cette pièce a déjà été traitée (statut actuel : Chez le maître d'œuvre)" in message
    assert "Aucune action de votre structure n'est attendue" in message  # the panel as it is now
    late_page = post_action(marc, base, piece_id, "validate", "A_VALIDER_1")  # without JavaScript
    assert late_page.status_code == 422 and "déjà été traitée" in text(late_page)
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
    assert count_rows(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "validate") == 1
    assert count_rows(app, PieceEvent, PieceEvent.piece_id == piece_id, PieceEvent.action == "refuse") == 0


@pytest.mark.parametrize("action, fields, field, message", [
    ("validate_partially", {"amount": "abc", "reason": "Métré"}, "amount", "montant"),
    ("validate_partially", {"amount": "20 000,00", "reason": "Métré"}, "amount", "montant"),
    ("validate_partially", {"amount": "", "reason": "Métré"}, "amount", "Indiquez le montant accepté."),
    ("validate_partially", {"amount": "9 000,00", "reason": ""}, "reason", "Indiquez le motif."),
    ("refuse", {"reason": ""}, "reason", "Indiquez le motif du refus."),
    ("refuse", {"reason": "montant"}, "reason", "19 février 2025"),
    ("refuse", {"reason": "autre", "comment": ""}, "comment", "Précisez le motif du refus en commentaire."),
])
def test_bad_action_input_gets_a_field_error_and_changes_nothing(app, world, action, fields, field, message):
    piece_id = make_piece(app, world, "T-104")
    durand, base = client_for(app, "mandataire")
    before = count_rows(app, PieceEvent, PieceEvent.piece_id == piece_id)
    for headers in (HX, None):
        response = post_action(durand, base, piece_id, action, "A_VALIDER_1", headers=headers, **fields)
        assert response.status_code == 422
        error = re.search(rf'id="{action}-{field}-error">([^<]*)<', text(response))
        assert error is not None and message.lower() in error.group(1).lower(), error and error.group(1)
        assert re.search(r"<details open>", text(response))  # the form stays open with what was typed
    assert status_of(app, piece_id) == "A_VALIDER_1"
    assert count_rows(app, PieceEvent, PieceEvent.piece_id == piece_id) == before


def test_the_whole_route_to_the_payment_through_the_forms(app, world):
    piece_id = make_piece(app, world, "T-105")
    paid_on = utcnow().astimezone(formatting.PARIS).date()
    steps = [
        ("mandataire", "validate", "A_VALIDER_1", {}),
        ("moe", "take", "A_ASSOCIER_MOE", {}),
        ("moe", "issue_etat_acompte", "PRISE_EN_COMPTE_MOE", {}),  # not on the page: through the état (below)
        ("moa", "moa_take", "A_ASSOCIER_MOA", {}),
        ("moa", "moa_validate", "PRISE_EN_COMPTE_MOA", {}),
        ("moa", "mark_service_fait", "MISE_A_DISPOSITION", {}),
        ("moa", "mark_mandatee", "SERVICE_FAIT", {}),
        # Paid today: a payment is never dated before the piece was deposited (just now).
        ("moa", "mark_paid", "MANDATEE", {"paid_on": paid_on.isoformat(), "amount": "12 000,00"}),
    ]
    for key, action, expected, fields in steps:
        client, base = client_for(app, key)
        page = text(client.get(f"{base}/{piece_id}"))
        if action == "issue_etat_acompte":
            # A projet de décompte reaches the MOA only inside the MOE's état d'acompte (issue 12): the piece page
            # offers no such button, and the action posted anyway is refused in French.
            assert f'name="action" value="{action}"' not in page
            refused = post_action(client, base, piece_id, action, expected)
            assert refused.status_code in (400, 422) and status_of(app, piece_id) == expected
            act(app, key, piece_id, action)
            continue
        assert f'name="action" value="{action}"' in page, (key, action, page[page.find("Vos actions"):][:1500])
        response = post_action(client, base, piece_id, action, expected, **fields)
        assert response.status_code == 303, (action, text(response)[-1500:])
    assert status_of(app, piece_id) == "MISE_EN_PAIEMENT"
    leroy, base = client_for(app, "st_platrerie")
    page = re.sub(r"<[^>]+>", "", text(leroy.get(f"{base}/{piece_id}"))).replace("\u202f", " ").replace("\xa0", " ")
    assert "Mise en paiement" in page and "Payé" in page and f"12 000,00 € le {formatting.day(paid_on)}".replace("\u202f", " ").replace("\xa0", " ") in page
    assert "Personne : le traitement de cette pièce est terminé." in page
    for line in ("Constater le service fait", "Mandater", "Mettre en paiement", "Émettre l'état d'acompte"):
        assert line in page


def test_recycled_piece_is_resent_with_only_its_routing_fields_under_the_same_number(app, world):
    piece_id = make_piece(app, world, "T-106")
    for key, action in (("mandataire", "validate"), ("moe", "take"), ("moe", "issue_etat_acompte"),
                        ("moa", "moa_take"), ("moa", "moa_validate")):
        act(app, key, piece_id, action)
    moa, moa_base = client_for(app, "moa")
    recycle = post_action(moa, moa_base, piece_id, "recycle", "MISE_A_DISPOSITION", reason="engagement_juridique")
    assert recycle.status_code == 303 and status_of(app, piece_id) == "A_RECYCLER"
    leroy, base = client_for(app, "st_platrerie")
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert "Numéro d'engagement juridique erroné ou manquant" in page  # the reason, in the timeline
    fields = re.findall(r'name="resend-([a-z_]+)"', page)
    assert sorted(set(fields) - {"csrf_token"}) == ["engagement_number", "recipient_siret", "service_code"]
    assert 'name="resend-engagement_number" type="text" value="EJ-2025-000418"' in page
    unchanged = post_action(leroy, base, piece_id, "resend", "A_RECYCLER", recipient_siret=SIRET["moa"],
                            service_code="FIN", engagement_number="EJ-2025-000418")
    assert unchanged.status_code == 422 and "Corrigez le champ signalé" in text(unchanged)
    wrong = post_action(leroy, base, piece_id, "resend", "A_RECYCLER", recipient_siret=SIRET["moa"],
                        service_code="NOPE", engagement_number="EJ-2025-000418")
    assert wrong.status_code == 422
    assert "n'a pas de service de code « NOPE »" in re.search(r'id="resend-service_code-error">([^<]*)<',
                                                              text(wrong)).group(1)
    resent = post_action(leroy, base, piece_id, "resend", "A_RECYCLER", headers=HX, recipient_siret=SIRET["moa"],
                         service_code="FIN", engagement_number="EJ-2025-000419")
    assert resent.status_code == 200, text(resent)[-1500:]
    assert status_of(app, piece_id) == "MISE_A_DISPOSITION"
    assert "T-106" in text(leroy.get(f"{base}/{piece_id}"))  # same number


def test_suspended_piece_is_completed_with_attachments(app, world):
    piece_id = make_piece(app, world, "T-107")
    for key, action in (("mandataire", "validate"), ("moe", "take"), ("moe", "issue_etat_acompte"),
                        ("moa", "moa_take"), ("moa", "moa_validate")):
        act(app, key, piece_id, action)
    moa, moa_base = client_for(app, "moa")
    missing = post_action(moa, moa_base, piece_id, "suspend", "MISE_A_DISPOSITION", headers=HX, reason="")
    assert missing.status_code == 422 and "Indiquez le motif." in text(missing)
    assert post_action(moa, moa_base, piece_id, "suspend", "MISE_A_DISPOSITION",
                       reason="Attestation d'assurance manquante.").status_code == 303
    leroy, base = client_for(app, "st_platrerie")
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert "Attestation d'assurance manquante." in page and 'enctype="multipart/form-data"' in page
    empty = post_action(leroy, base, piece_id, "complete", "SUSPENDUE", headers=HX)
    assert empty.status_code == 422 and "Joignez les pièces demandées" in text(empty)
    before = count_rows(app, PieceFile, PieceFile.piece_id == piece_id)
    import io

    done = leroy.post(f"{base}/{piece_id}/action", headers=HX, content_type="multipart/form-data", data={
        "action": "complete", "expected_status": "SUSPENDUE",
        "complete-files": [(io.BytesIO(PDF), "attestation.pdf")]})
    assert done.status_code == 200
    assert status_of(app, piece_id) == "COMPLETEE"
    assert count_rows(app, PieceFile, PieceFile.piece_id == piece_id) == before + 1
    assert re.search(r'id="piece-files"[^>]*hx-swap-oob="true"', text(done)) and "attestation.pdf" in text(done)


def test_rejected_piece_is_acknowledged_and_a_new_piece_starts_prefilled(app, world):
    piece_id = make_piece(app, world, "T-108")
    for key, action in (("mandataire", "validate"), ("moe", "take"), ("moe", "issue_etat_acompte"),
                        ("moa", "moa_take"), ("moa", "moa_validate")):
        act(app, key, piece_id, action)
    moa, moa_base = client_for(app, "moa")
    assert post_action(moa, moa_base, piece_id, "reject", "MISE_A_DISPOSITION", reason="doublon",
                       comment="Déjà payé.").status_code == 303
    leroy, base = client_for(app, "st_platrerie")
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert "Pièce déjà déposée (doublon)" in page and "« Déjà payé. »" in page
    assert "Prendre acte du refus" in page and "Émettre un avoir sur cette facture" in page
    assert post_action(leroy, base, piece_id, "acknowledge_rejection", "REJETEE").status_code == 303
    page = text(leroy.get(f"{base}/{piece_id}"))
    assert 'value="acknowledge_rejection"' not in page  # acknowledged once (the timeline says so)
    link = re.search(r'href="([^"]*avoir=1[^"]*)"', page).group(1)
    form = text(leroy.get(link.replace("&amp;", "&")))
    assert '<option selected value="AVOIR">' in form
    assert re.search(rf'<option selected value="{piece_id}">', form)
    assert 'name="number" placeholder="ex. F-2026-014" type="text" value=""' in form  # a new number to choose


def test_file_download_is_an_attachment_with_its_safe_name(app, world):
    piece_id = make_piece(app, world, "T-109")
    with app.app_context(), access.system_access("test"):
        file_id = db.session.scalar(select(PieceFile.id).where(PieceFile.piece_id == piece_id))
    moe, base = client_for(app, "moe")
    response = moe.get(f"{base}/{piece_id}/fichiers/{file_id}")
    assert response.status_code == 200 and response.data == PDF
    assert response.headers["Content-Disposition"] == "attachment; filename=decompte.pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    assert moe.get(f"{base}/{piece_id}/fichiers/{file_id + 1000}").status_code == 404


def test_who_sees_the_piece_and_who_may_act(app, world):
    piece_id = make_piece(app, world, "T-110")
    # A sibling sous-traitant, a sous-traitant of another branch and the rang 2 below the emitter do not see it.
    for key in ("st_nettoyage", "st_menuiserie", "st_peinture", "cotraitant"):
        other, base = client_for(app, key)
        assert other.get(f"{base}/{piece_id}").status_code == 404, key
        assert post_action(other, base, piece_id, "validate", "A_VALIDER_1").status_code in (403, 404), key
    # A member of the validator with consultation only sees it, is told what is missing, and may not act.
    with app.app_context():
        durand = db.session.scalar(select(Structure).where(Structure.siret == SIRET["mandataire"]))
        db.session.expunge(durand)
    client = factories.member_client(app, durand, emises="consultation", travaux="consultation", recues="consultation")
    base = f"/s/{SIRET['mandataire']}/pieces"
    page = text(client.get(f"{base}/{piece_id}"))
    assert "il vous faut le droit « Factures de travaux – modification »" in page
    assert 'name="action"' not in page
    assert post_action(client, base, piece_id, "validate", "A_VALIDER_1").status_code == 403
    # A member with rights on the other domains only (no "travaux") may not open a works piece.
    outsider = factories.quick_account(app)
    factories.member(app, durand, outsider, emises="modification", travaux="none", recues="modification")
    client = app.test_client()
    factories.login(client, outsider)
    assert client.get(f"{base}/{piece_id}").status_code == 403
    assert status_of(app, piece_id) == "A_VALIDER_1"


def test_an_action_without_csrf_token_is_refused(app, world, csrf):
    piece_id = make_piece(app, world, "T-111")
    with app.app_context():
        from chorus_chain.models import Account

        account = db.session.scalar(select(Account).where(Account.email == "durand@demo.chorus-chain.fr"))
        db.session.expunge(account)
    client = app.test_client()
    factories.login_with_csrf(client, account, password=demo.DEMO_PASSWORD)
    base = f"/s/{SIRET['mandataire']}/pieces"
    assert post_action(client, base, piece_id, "validate", "A_VALIDER_1").status_code == 400
    refused = post_action(client, base, piece_id, "validate", "A_VALIDER_1", headers=HX)
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#messages"
    assert status_of(app, piece_id) == "A_VALIDER_1"
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', text(client.get(f"{base}/{piece_id}"))).group(1)
    headers = dict(HX, **{"X-CSRFToken": token})
    assert post_action(client, base, piece_id, "validate", "A_VALIDER_1", headers=headers).status_code == 200
    assert status_of(app, piece_id) == "A_ASSOCIER_MOE"
