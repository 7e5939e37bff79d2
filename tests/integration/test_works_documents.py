"""The works documents of the demo marché, read back with pypdf (issue 15): a projet de décompte's PDF is laid out
as a décompte — each line of the bordereau with its previous cumul, cumul to date and this month, then the engine's
figures of the état that included it — never as an invoice; the état d'acompte's PDF carries the claimed / admitted
table of every projet de décompte, the MOE's comments, and the signature blocks of the MOE and the MOA.

Companies never in an état d'acompte (a sous-traitant of rang 2, Petit under Leroy, or under the paiement direct
threshold, Moreau at 480 € TTC under Durand) are paid by their donneur d'ordre through private invoices: their finances
page says so and promises no chart « with the first état »; the états page never says « payé » of an amount only
certified."""
from __future__ import annotations

import html
import io
import re
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import select

from chorus_chain import access, formatting
from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument, Piece
from chorus_chain.models.money import EtatAcompte
# `app` and `demo_world` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_marches_visibility import SIRET, client_for, app, demo_world  # noqa: F401

HX = {"HX-Request": "true"}


def pdf_text(content: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text)


def euros(value: str | Decimal) -> str:
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", formatting.money(Decimal(value)))


def _piece_id(app, number: str) -> int:
    with app.app_context(), access.system_access("tests: a demo piece"):
        return db.session.scalar(select(Piece.id).where(Piece.number == number))


def _etat(app, marche_id: int, number: int) -> EtatAcompte:
    with app.app_context(), access.system_access("tests: a demo état"):
        etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche_id,
                                                           EtatAcompte.number == number))
        db.session.expunge(etat)
        return etat


def document(app, key: str, path: str) -> str:
    """Ask for a document as the demo company `key` (the job runs inline), download it, return its text."""
    client, _ = client_for(app, key)
    siret = SIRET[key]
    answer = client.post(f"/s/{siret}/documents/{path}", headers=HX).get_data(as_text=True)
    found = re.search(r"/documents/(\d+)", answer)
    assert found, answer[:500]
    with app.app_context(), access.system_access("tests: the document row"):
        row = db.session.get(GeneratedDocument, int(found.group(1)))
        assert row.status == "done", row.error
    response = client.get(f"/s/{siret}/documents/{row.id}/fichier")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return pdf_text(response.data)


def _a_projet_de_decompte_pdf_is_a_decompte_not_an_invoice(app, demo_world):
    text = document(app, "mandataire", f"pieces/{_piece_id(app, 'DB-PDM-02')}/pdf")
    assert "PROJET DE DÉCOMPTE MENSUEL" in text and "DB-PDM-02" in text
    for absent in ("Détail de la facture", "Net à payer", "forfait —", "FACTURE"):
        assert absent not in text
    # Each line of Durand's part: previous cumul, cumul to date, this month (quantity and amount).
    assert "GO-02 Béton armé de fondations m³ 200 " + euros("90000") + " 320 " + euros("144000") + " 120 " \
        + euros("54000") in text
    assert "GO-03 Maçonnerie de blocs béton m² 300 " + euros("36000") + " 900 " + euros("108000") + " 600 " \
        + euros("72000") in text
    assert "CH-01 Charpente bois et couverture zinc % du forfait 0 " + euros("0") + " 10 " + euros("30000") in text
    # The claim: works to date / previous / this month, and the piece's amounts as deposited.
    assert "Travaux " + euros("366000") + " " + euros("210000") + " " + euros("156000") in text
    assert "Montant HT demandé ce mois " + euros("156000") in text and "Montant TTC demandé " + euros("187200") in text
    # Then the engine's figures of the état that included it (n° 2), for Durand's part, as frozen at issue.
    etat = _etat(app, demo_world["marche_id"], 2)
    durand = next(b for b in etat.result["beneficiaries"] if b["name"] == "Durand Bâtiment SAS")
    assert "état d'acompte n° 2" in text
    for name in ("works_ht", "retenue", "avance_repayment", "amount_due"):
        column = durand["columns"][name]
        assert (f"{column['label']} {euros(column['to_date'])} {euros(column['previous'])} "
                f"{euros(column['this'])}") in text, name
    # What the MOE admitted (360 000) is the état's figure; the décompte keeps what was claimed (366 000).
    assert "Travaux HT aux prix de base " + euros("360000") in text


def _a_sous_traitant_decompte_with_its_own_part_of_the_etat_or_its_totals_only(app, demo_world):
    etat = _etat(app, demo_world["marche_id"], 2)
    leroy = next(b for b in etat.result["beneficiaries"] if b["name"] == "Plâtrerie Leroy")
    text = document(app, "st_platrerie", f"pieces/{_piece_id(app, 'PL-PDM-02')}/pdf")
    assert "PROJET DE DÉCOMPTE MENSUEL DE SOUS-TRAITANT" in text
    # Its first décompte: no previous cumul (—), 400 m² to date.
    assert "PL-01 Cloisons en plaques de plâtre m² — " + euros("0") + " 400 " + euros("12000") + " 400 " \
        + euros("12000") in text
    assert "Montant dû " + euros(leroy["columns"]["amount_due"]["to_date"]) in text
    assert "Autoliquidation" in text and "Montant TTC demandé " + euros("12000") in text  # reverse-charged: paid HT
    assert "Durand" not in text.split("Révision, retenue")[1]  # its contractor's figures are not its to see
    # PL-2026-002 (A10, month 4, at the mandataire's) is in no état yet: its lines from Leroy's previous décompte
    # (PL-2026-001, 800 m²), and no état's figures.
    text = document(app, "st_platrerie", f"pieces/{_piece_id(app, 'PL-2026-002')}/pdf")
    assert "PL-01 Cloisons en plaques de plâtre m² 800 " + euros("24000") + " 1 000 " + euros("30000") + " 200 " \
        + euros("6000") in text
    assert "Détail de la facture" not in text and "calculés par le maître d'œuvre dans l'état d'acompte" in text
    # A PDM deposited with an amount and no décompte (before the marché had a bordereau): its totals only, no
    # invented line. The demo has none: PL-2026-002's décompte is taken away for the test (rolled back).
    from chorus_chain.models.money import Decompte, DecompteLine

    with app.app_context(), access.system_access("tests: a PDM without its décompte"):
        decompte = db.session.scalar(select(Decompte).where(Decompte.piece_id == _piece_id(app, "PL-2026-002")))
        db.session.execute(DecompteLine.__table__.delete().where(DecompteLine.decompte_id == decompte.id))
        db.session.delete(decompte)
        db.session.commit()
    text = document(app, "st_platrerie", f"pieces/{_piece_id(app, 'PL-2026-002')}/pdf")
    assert "déposé avec son montant seul" in text and "Détail de la facture" not in text
    assert "calculés par le maître d'œuvre dans l'état d'acompte" in text


def _the_etat_pdf_has_claimed_and_admitted_per_line_and_the_signatures(app, demo_world):
    etat = _etat(app, demo_world["marche_id"], 2)
    text = document(app, "moe", f"marches/{demo_world['marche_id']}/etats/{etat.id}/pdf")
    assert "Projets de décompte : demandé et admis" in text
    assert "Durand Bâtiment SAS (Mandataire) — projet de décompte n° DB-PDM-02" in text
    assert "Plâtrerie Leroy (Sous-traitant) — projet de décompte n° PL-PDM-02" in text
    # The corrected line: claimed 900 m², admitted 850 m², the difference and the MOE's comment.
    assert ("GO-03 Maçonnerie de blocs béton 900 m² " + euros("108000") + " 850 m² " + euros("102000") + " "
            + euros("-6000") + " Métré contradictoire") in text
    assert "Total des travaux " + euros("366000") + " " + euros("360000") in text
    # Signature blocks: the MOE who drew it up, the MOA who validated it.
    assert "Le maître d'œuvre Atelier Lumen Architectes Établi le" in text
    assert "Le maître d'ouvrage Commune de Montreuil-sur-Loire Validé le" in text
    assert "Corrections du maître d'œuvre" in text and " travaux " not in text.split("Corrections")[1][:200]


def _first_of_cadre(app, cadre: str) -> str:
    with app.app_context(), access.system_access("tests: a demo piece"):
        return db.session.scalar(select(Piece.number).where(Piece.cadre == cadre).order_by(Piece.id).limit(1))


def _offered(app, key: str, number: str) -> set[str]:
    """The documents the piece page offers to the demo company `key`."""
    client, _ = client_for(app, key)
    piece_id = _piece_id(app, number)
    assert piece_id is not None, number
    page = client.get(f"/s/{SIRET[key]}/pieces/{piece_id}").get_data(as_text=True)
    assert 'id="piece-documents"' in page
    paths = {"pdf": "piece_pdf", "facturx": "facturx", "attestation": "attestation", "interets": "interets",
             "dossier-zip": "dossier_zip"}
    return {kind for path, kind in paths.items() if f"/documents/pieces/{piece_id}/{path}\"" in page}


def _only_the_documents_that_apply_to_each_piece_are_offered(app, demo_world):
    # A projet de décompte paid through the lines of its état: its décompte PDF and its dossier, no Factur-X, no
    # interest letter (the état's payment line carries the interest), no attestation (validated expressly).
    assert _offered(app, "mandataire", "DB-PDM-01") == {"piece_pdf", "dossier_zip"}
    # The MOE's état d'acompte (A15) and the MOA's validated état (A19): their document is their main file.
    a15, a19 = _first_of_cadre(app, "A15"), _first_of_cadre(app, "A19")
    assert _offered(app, "moe", a15) == {"dossier_zip"}
    assert _offered(app, "moa", a19) == {"dossier_zip"}
    # A private invoice between companies: its PDF and its Factur-X.
    assert _offered(app, "st_nettoyage", "NM-2026-001") == {"piece_pdf", "facturx", "dossier_zip"}
    # Asked anyway (a stale page, a hand-made request): refused with the reason, nothing rendered.
    client, _ = client_for(app, "moe")
    answer = client.post(f"/s/{SIRET['moe']}/documents/pieces/{_piece_id(app, a15)}/pdf", headers=HX)
    assert "fichier principal" in answer.get_data(as_text=True)


# --- Companies never in an état d'acompte (rang 2, or under the paiement direct threshold) -----------------------

def text(response) -> str:
    assert response.status_code == 200, response.status_code
    spaced = re.sub(r"[\s\u00a0\u202f]+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))
    return re.sub(r" (?=[,.])", "", spaced)  # « <strong>Durand</strong>, » reads « Durand, »


def _who_is_paid_by_its_donneur_d_ordre_is_told_so(app, demo_world):
    marche = demo_world["marche_id"]
    for key, payer in (("st_nettoyage", "Durand Bâtiment SAS"), ("st_peinture", "Plâtrerie Leroy")):
        client, base = client_for(app, key)
        page = text(client.get(f"{base}/{marche}/finances"))
        assert f"vous êtes payé par {payer}, votre donneur d'ordre" in page, key
        assert "apparaîtront avec le premier état d'acompte" not in page and "aucun état d'acompte" in page
        assert "Dernier état d'acompte" not in page
        etats = text(client.get(f"{base}/{marche}/etats/"))
        assert f"Vous n'apparaissez dans aucun état d'acompte : sur ce marché, {payer}" in etats, key
    # A sous-traitant in paiement direct is in the états: its own figures, no such message.
    client, base = client_for(app, "st_platrerie")
    page = text(client.get(f"{base}/{marche}/finances"))
    assert "votre donneur d'ordre" not in page and "Certifié à ce jour" in page


def _the_etats_page_says_paid_only_of_what_was_paid(app, demo_world):
    def rows_of(key: str) -> dict[str, str]:
        client, base = client_for(app, key)
        page = text(client.get(f"{base}/{demo_world['marche_id']}/etats/"))
        assert "Vous est payé" not in page and "Vous revient dans cet état" in page
        return {m.group(1): m.group(0) for m in re.finditer(r"n° (\d) .*?(?= n° \d |$)", page)}

    # État n° 2 was paid to Leroy line by line; n° 3 carries nothing of Leroy's (its décompte of that month was still
    # on its way: PL-2026-001), and Martin's part of it waits for the MOA: certified, not paid.
    leroy = rows_of("st_platrerie")
    assert re.search(r"11 400,00 € 11 400,00 € le ", leroy["2"]), leroy["2"]
    assert "payé" not in leroy["3"], leroy["3"]
    martin = rows_of("cotraitant")
    assert "pas encore payé" in martin["3"] and "payé le" not in martin["3"], martin["3"]


# The demo is seeded once per test (a few seconds each): the checks share two seeds rather than one each.

def test_the_works_documents_of_the_demo(app, demo_world):
    _a_projet_de_decompte_pdf_is_a_decompte_not_an_invoice(app, demo_world)
    _a_sous_traitant_decompte_with_its_own_part_of_the_etat_or_its_totals_only(app, demo_world)
    _the_etat_pdf_has_claimed_and_admitted_per_line_and_the_signatures(app, demo_world)


def _the_finances_count_each_payment_once(app, demo_world):
    """The buyer's A19 is no payment to the buyer: the marché's « Payé » is what the paying office paid on the états'
    lines (the demo read 938 448,00 €, twice 469 224,00 €, with the Commune among the beneficiaries)."""
    from chorus_chain.models.etat_pieces import LinePayment

    with app.app_context(), access.system_access("tests: the demo's payments"):
        paid = sum(db.session.scalars(select(LinePayment.amount)), Decimal("0"))
    assert paid > 0
    client, base = client_for(app, "moa")
    page = text(client.get(f"{base}/{demo_world['marche_id']}/finances"))
    assert f"Payé {euros(paid)}" in page, re.search(r"Payé [^A-Z]*", page).group(0)
    table = page[page.index("Bénéficiaire Part TTC"):]
    assert "Commune de Montreuil-sur-Loire" not in table[:table.index("Cumul mois par mois")]


def test_what_each_company_is_offered_and_told_of_its_money(app, demo_world):
    _only_the_documents_that_apply_to_each_piece_are_offered(app, demo_world)
    _the_finances_count_each_payment_once(app, demo_world)
    _who_is_paid_by_its_donneur_d_ordre_is_told_so(app, demo_world)
    _the_etats_page_says_paid_only_of_what_was_paid(app, demo_world)
