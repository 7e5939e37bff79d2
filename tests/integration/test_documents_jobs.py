"""Generated documents end to end, jobs inline (no REDIS_URL): ask → the job renders → the page offers the file.

Golden checks: the text of each PDF (pypdf) carries the piece's figures; the Factur-X of a piece is read back by our
own importer with the same number, amounts, BT-10/12/13 and VAT category AE; every archive's MANIFEST.sha256 matches
its contents byte for byte.
"""
from __future__ import annotations

import hashlib
import html
import io
import json
import re
import zipfile
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from pypdf import PdfReader
from sqlalchemy import select, update

from chorus_chain import formatting
from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument, Piece
from chorus_chain.operations import documents as doc_ops
from tests.integration.pieces_world import NOW, PDF, count, deposit, piece, rows, system, world
from tests.integration.pieces_world import logged_in as pw_logged_in

HX = {"HX-Request": "true"}


@pytest.fixture
def w(app, db):
    """A works marché: projets de décompte (A4, A10), private invoices under autoliquidation (rang 2)."""
    return world(app)


@pytest.fixture
def ws(app, db):
    """A services marché: invoices with VAT (A9 for the sous-traitant in paiement direct)."""
    return world(app, kind="services")


def client_as(app, who):
    return pw_logged_in(app, who)


def pdf_text(content: bytes) -> str:
    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text)  # a line break in the layout is a space


def plain(value: str) -> str:
    return re.sub(r"[\u00a0\u202f\u2009 ]+", " ", value)


def ask(client, who, path: str):
    """POST the ask URL of a document as HTMX; returns the response (the status fragment)."""
    return client.post(f"/s/{who.siret}/documents/{path}", headers=HX)


def shown(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def only_row(app, **where) -> GeneratedDocument:
    found = rows(app, GeneratedDocument, *(getattr(GeneratedDocument, k) == v for k, v in where.items()))
    assert len(found) == 1, found
    return found[0]


def download(client, who, row: GeneratedDocument) -> bytes:
    response = client.get(f"/s/{who.siret}/documents/{row.id}/fichier")
    assert response.status_code == 200, response.status_code
    # RFC 6266: the accented name travels percent-encoded in filename*, an ASCII fallback in filename.
    disposition = response.headers["Content-Disposition"]
    assert f"filename={row.filename}" in disposition or f"filename*=UTF-8''{quote(row.filename)}" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return response.data


def verify_manifest(archive: zipfile.ZipFile) -> list[str]:
    """Every line of MANIFEST.sha256 matches the member it names, and every member but the manifest is listed."""
    lines = archive.read("MANIFEST.sha256").decode().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
    assert set(listed) == set(archive.namelist()) - {"MANIFEST.sha256"}
    return sorted(listed)


# --- A piece's PDF -----------------------------------------------------------------------------------------------

def test_piece_pdf_is_rendered_by_the_job_then_downloaded(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0042", ht="6570.00")
    client = client_as(app, w.st1)
    response = ask(client, w.st1, f"pieces/{piece_id}/pdf")
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in response.get_data(as_text=True)  # queued at answer time: the page polls
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    assert row.status == "done" and row.progress == 100 and row.structure_id == w.st1.structure_id

    status = client.get(f"/s/{w.st1.siret}/documents/{row.id}", headers=HX).get_data(as_text=True)
    assert "every 1s" not in status and f"/documents/{row.id}/fichier" in status

    content = download(client, w.st1, row)
    assert content.startswith(b"%PDF") and hashlib.sha256(content).hexdigest() == row.sha256
    text = pdf_text(content)
    assert "ST-0042" in text
    assert plain(formatting.money(Decimal("6570.00"))) in text  # HT
    assert plain(formatting.money(Decimal("1314.00"))) in text  # TVA 20 %
    assert plain(formatting.money(Decimal("7884.00"))) in text  # TTC
    assert "FACTURE" in text and "Indemnité forfaitaire pour frais de recouvrement" in text
    assert "empreinte SHA-256" in text and "Page 1 / 1" in text


def test_the_same_request_reuses_the_row_and_renders_once(app, ws, monkeypatch):
    w = ws
    calls = []
    original = doc_ops.RENDERERS["piece_pdf"]
    monkeypatch.setitem(doc_ops.RENDERERS, "piece_pdf", lambda prepared: calls.append(1) or original(prepared))
    piece_id = deposit(app, w, w.st1, "A9", "ST-0043", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    second = ask(client, w.st1, f"pieces/{piece_id}/pdf").get_data(as_text=True)
    assert len(calls) == 1
    assert count(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id) == 1
    row = only_row(app, piece_id=piece_id)
    assert f"/documents/{row.id}/fichier" in second  # offered at once the second time
    # Another structure that sees the piece gets its own row (a document shows what its asker may see).
    other = client_as(app, w.mandataire)
    ask(other, w.mandataire, f"pieces/{piece_id}/pdf")
    assert count(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id) == 2


def test_a_failed_render_is_retried_then_reported_and_can_be_asked_again(app, ws, monkeypatch):
    from chorus_chain.jobs.queue import dispatch_outbox
    from chorus_chain.models import OutboxJob

    w = ws
    def broken(prepared):
        raise RuntimeError("weasyprint exploded")

    monkeypatch.setitem(doc_ops.RENDERERS, "piece_pdf", broken)
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 2)
    monkeypatch.setitem(app.config, "OUTBOX_BACKOFF_SECONDS", 0)
    piece_id = deposit(app, w, w.st1, "A9", "ST-0044", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id)
    assert row.status == "queued" and row.attempts == 1  # the first try failed: the outbox tries again
    with app.app_context():
        assert dispatch_outbox() == 1
        # this document's row: earlier tests of the session leave render_document rows of their own (done)
        job = next(job for job in db.session.scalars(select(OutboxJob).where(OutboxJob.job == "render_document"))
                   if (job.payload or {}).get("document_id") == row.id)
        assert job.status == "failed" and job.attempts == 2 and "weasyprint exploded" in job.last_error
    row = only_row(app, piece_id=piece_id)
    assert row.status == "failed" and row.error == doc_ops.FAILED_MESSAGE and row.sha256 is None
    page = client.get(f"/s/{w.st1.siret}/documents/{row.id}", headers=HX).get_data(as_text=True)
    assert "La génération du document a échoué" in page and "Réessayer" in page
    assert client.get(f"/s/{w.st1.siret}/documents/{row.id}/fichier").status_code == 404

    monkeypatch.undo()
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    again = only_row(app, piece_id=piece_id)
    assert again.id == row.id and again.status == "done"


def test_a_document_unavailable_for_the_piece_says_why(app, w):
    piece_id = deposit(app, w, w.st1, "A10", "ST-0045", ht="1000.00")
    client = client_as(app, w.st1)
    response = ask(client, w.st1, f"pieces/{piece_id}/attestation")
    assert response.status_code == 200
    assert "n'a pas été validée tacitement" in shown(response)
    assert count(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id) == 0


def test_another_tenant_gets_404(app, w):
    piece_id = deposit(app, w, w.st1, "A10", "ST-0046", ht="1000.00")
    owner = client_as(app, w.st1)
    ask(owner, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id)
    sibling = client_as(app, w.sibling)  # a sibling sous-traitant never sees st1's pieces
    assert ask(sibling, w.sibling, f"pieces/{piece_id}/pdf").status_code == 404
    assert sibling.get(f"/s/{w.sibling.siret}/documents/{row.id}").status_code == 404
    assert sibling.get(f"/s/{w.sibling.siret}/documents/{row.id}/fichier").status_code == 404
    assert sibling.get(f"/s/{w.st1.siret}/documents/{row.id}/fichier").status_code == 404  # not its structure
    # The mandataire sees the piece, but st1's row is st1's.
    mandataire = client_as(app, w.mandataire)
    assert mandataire.get(f"/s/{w.mandataire.siret}/documents/{row.id}/fichier").status_code == 404
    # The whole-marché archive is for the full view only.
    assert ask(owner, w.st1, f"marches/{w.marche_id}/archive").status_code == 404


# --- Factur-X round trip -------------------------------------------------------------------------------------------

def test_facturx_of_a_piece_reads_back_with_the_same_data(app, ws):
    from chorus_chain.documents.einvoice_in import read_einvoice

    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0047", ht="6570.00")
    stored = piece(app, piece_id)
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/facturx")
    row = only_row(app, piece_id=piece_id, kind="facturx")
    assert row.status == "done", row.error
    read = read_einvoice(row.filename, download(client, w.st1, row), claims_facturx=True)
    assert read.xsd_valid is True and read.profile
    assert read.number == "ST-0047" and read.invoice_type == "FACTURE" and read.issue_date == stored.issue_date
    assert (read.total_ht, read.total_tva, read.total_ttc) == (Decimal("6570.00"), Decimal("1314.00"),
                                                             Decimal("7884.00"))
    assert read.service_code == stored.service_code == "FIN"  # BT-10: the paying office's code service
    assert read.contract_reference == f"M-{w.moa.siret}-services"  # BT-12: the marché
    assert read.purchase_order == stored.engagement_number == "EJ-2026-1"  # BT-13: the engagement juridique
    assert read.vat_category == "S" and [v.percent for v in read.vat_breakdown] == [Decimal("20")]
    assert read.seller.siret == w.st1.siret and read.buyer.siret == stored.recipient_siret
    assert read.business_process == "A9"


def test_facturx_of_a_reverse_charged_private_invoice_says_AE(app, w):
    from chorus_chain.documents.einvoice_in import read_einvoice

    piece_id = deposit(app, w, w.st2, None, "P-0001", ht="1800.00")  # rang 2: a private invoice to st1
    stored = piece(app, piece_id)
    assert stored.vat_regime == "autoliquidation"
    client = client_as(app, w.st2)
    ask(client, w.st2, f"pieces/{piece_id}/facturx")
    row = only_row(app, piece_id=piece_id, kind="facturx")
    assert row.status == "done", row.error
    content = download(client, w.st2, row)
    read = read_einvoice(row.filename, content, claims_facturx=True)
    assert read.xsd_valid is True
    assert read.number == "P-0001" and read.total_ttc == Decimal("1800.00") and read.total_tva == Decimal("0.00")
    assert read.vat_category == "AE" and all(v.category == "AE" for v in read.vat_breakdown)
    assert read.contract_reference == f"M-{w.moa.siret}-travaux"
    assert read.buyer.siret == w.st1.siret
    assert "Autoliquidation" in pdf_text(content)  # the mention the law asks for, on the PDF itself


def test_facturx_is_refused_for_a_projet_de_decompte(app, w):
    piece_id = deposit(app, w, w.st1, "A10", "PDM-0001", ht="1000.00")
    client = client_as(app, w.st1)
    response = ask(client, w.st1, f"pieces/{piece_id}/facturx")
    assert "Factur-X ne s'applique qu'aux factures" in shown(response)
    # …but its PDF exists, under its own heading.
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    text = pdf_text(download(client, w.st1, row))
    assert "PROJET DE DÉCOMPTE MENSUEL DE SOUS-TRAITANT" in text and "PDM-0001" in text


# --- Attestation, interest -----------------------------------------------------------------------------------------

def test_tacit_attestation_shows_the_dates_that_prove_it(app, w):
    from chorus_chain.operations.deadlines import sweep

    piece_id = deposit(app, w, w.st1, "A10", "PDM-0002", ht="2000.00")
    with app.test_request_context():
        sweep(NOW + timedelta(days=15, minutes=1))
        db.session.commit()
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/attestation")
    row = only_row(app, piece_id=piece_id, kind="attestation")
    assert row.status == "done", row.error
    text = pdf_text(download(client, w.st1, row))
    assert "PDM-0002" in text and "15 jours" in text
    assert plain(formatting.day(NOW, "long")) in text  # the deposit (arrival at the validator)
    assert plain(formatting.day(NOW + timedelta(days=15), "long")) in text  # the end of the silence
    assert w.mandataire.name in text  # the silent validator


def test_interest_claim_of_a_piece_paid_late(app, ws):
    from chorus_chain.domain.money import late_payment_interest
    from chorus_chain.operations.interest import rate_table

    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0048", ht="10000.00")
    paid_on = (NOW + timedelta(days=75)).date()
    with system(app):
        db.session.execute(update(Piece).where(Piece.id == piece_id).values(
            received_at=NOW, paid_on=paid_on, paid_amount=Decimal("12000.00")))
        expected = late_payment_interest(rate_table(), receipt=NOW.date(), dgp_days=30, payment=paid_on,
                                         net_payable_ttc=Decimal("12000.00"))
    assert expected.interest > 0
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/interets")
    row = only_row(app, piece_id=piece_id, kind="interets")
    assert row.status == "done", row.error
    text = pdf_text(download(client, w.st1, row))
    assert "IM-ST-0048" in text
    assert plain(formatting.money(expected.interest)) in text
    assert plain(formatting.money(expected.interest + expected.flat_fee)) in text
    assert str(expected.days) in text


# --- Marché documents ----------------------------------------------------------------------------------------------

def _issue_etat(app, w) -> tuple[int, Decimal]:
    from chorus_chain.domain.money import Beneficiary, DecompteMensuel, MarcheTerms, PartDecompte
    from chorus_chain.domain.money import compute_etat_acompte
    from chorus_chain.models.money import EtatAcompte

    terms = MarcheTerms(montant_ht=Decimal("1000000.00"), tva_rate=Decimal("0.20"), duration_months=12,
                        groupement="conjoint")
    beneficiaries = (Beneficiary("M", "Durand Test", "mandataire", Decimal("500000.00")),
                     Beneficiary("C", "Martin Test", "cotraitant", Decimal("500000.00")))
    decompte = DecompteMensuel(number=1, month="2026-02", parts=(
        PartDecompte("M", travaux=Decimal("42000.00")), PartDecompte("C", travaux=Decimal("13500.50"))))
    etat = compute_etat_acompte(terms, beneficiaries, decompte, None, None)
    with system(app):
        row = EtatAcompte(marche_id=w.marche_id, number=1, month="2026-02", status="issued", result=etat.to_dict(),
                          issued_at=NOW, created_by_id=w.moe.account_id)
        db.session.add(row)
        db.session.flush()
        return row.id, etat.marche.amount_due.this


def test_etat_acompte_pdf_carries_its_figures_and_the_split(app, w):
    etat_id, due = _issue_etat(app, w)
    client = client_as(app, w.moe)
    ask(client, w.moe, f"marches/{w.marche_id}/etats/{etat_id}/pdf")
    row = only_row(app, marche_id=w.marche_id, kind="etat")
    assert row.status == "done", row.error
    text = pdf_text(download(client, w.moe, row))
    assert "État d'acompte n° 1" in text and "février 2026" in text
    assert plain(formatting.money(due)) in text
    assert "Durand Test" in text and "Martin Test" in text and "Détail du calcul" in text
    # A company that does not see the whole chain has no état PDF.
    st1 = client_as(app, w.st1)
    assert ask(st1, w.st1, f"marches/{w.marche_id}/etats/{etat_id}/pdf").status_code == 404


def test_marche_archive_has_every_file_and_a_true_manifest(app, w):
    first = deposit(app, w, w.st1, "A10", "ST-0050", ht="1000.00")
    second = deposit(app, w, w.mandataire, "A4", "PDM-M-01", ht="50000.00")
    _issue_etat(app, w)
    client = client_as(app, w.mandataire)
    response = ask(client, w.mandataire, f"marches/{w.marche_id}/archive")
    assert response.status_code == 200
    row = only_row(app, marche_id=w.marche_id, kind="marche_zip")
    assert row.status == "done", row.error
    archive = zipfile.ZipFile(io.BytesIO(download(client, w.mandataire, row)))
    names = verify_manifest(archive)
    for piece_id, number in ((first, "ST-0050"), (second, "PDM-M-01")):
        folder = f"pieces/{number}-{piece_id}/"
        assert any(n.startswith(folder + "original-") for n in names)
        assert archive.read(next(n for n in names if n.startswith(folder + "original-"))) == PDF
        generated = next(n for n in names if n.startswith(folder) and not n.startswith(folder + "original-"))
        assert number in pdf_text(archive.read(generated))
    assert any(n.startswith("marché/fiche-marché-") for n in names)
    assert any(n.startswith("marché/état-acompte-01-") for n in names)
    export = json.loads(archive.read("export.json"))
    assert export["format"] == "chorus-chain/marche-export/v2"
    assert {p["number"] for p in export["pieces"]} == {"ST-0050", "PDM-M-01"}
    history = archive.read("historique.txt").decode()
    assert "ST-0050" in history and "PDM-M-01" in history and "envoyer la pièce" in history
    # The PDFs packed for the archive are kept: the piece page offers them without rendering again.
    assert count(app, GeneratedDocument, GeneratedDocument.structure_id == w.mandataire.structure_id,
                 GeneratedDocument.kind == "piece_pdf") == 2


def test_dossier_archive_holds_only_what_the_asker_sees(app, w):
    mine = deposit(app, w, w.st1, "A10", "ST-0051", ht="1000.00")
    deposit(app, w, w.sibling, "A10", "SIB-0001", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{mine}/dossier-zip")
    row = only_row(app, piece_id=mine, kind="dossier_zip")
    assert row.status == "done", row.error
    archive = zipfile.ZipFile(io.BytesIO(download(client, w.st1, row)))
    names = verify_manifest(archive)
    assert all("SIB-0001" not in n for n in names)
    export = json.loads(archive.read("export.json"))
    assert [p["number"] for p in export["pieces"]] == ["ST-0051"]
    assert "SIB-0001" not in archive.read("historique.txt").decode()


def test_fiche_pdf_of_the_marche(app, w):
    client = client_as(app, w.st1)
    response = ask(client, w.st1, f"marches/{w.marche_id}/fiche")
    assert response.status_code == 200
    row = only_row(app, marche_id=w.marche_id, kind="fiche")
    assert row.status == "done", row.error
    text = pdf_text(download(client, w.st1, row))
    assert f"M-{w.moa.siret}-travaux" in text and "Plâtrerie Test" in text
    assert "Carrelage Test" not in text  # st1's branch only: never its siblings


def test_piece_page_and_marche_page_offer_the_documents(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0052", ht="1000.00")
    client = client_as(app, w.st1)
    page = client.get(f"/s/{w.st1.siret}/pieces/{piece_id}").get_data(as_text=True)
    assert f"/documents/pieces/{piece_id}/pdf" in page and f"/documents/pieces/{piece_id}/facturx" in page
    marche_page = client.get(f"/s/{w.st1.siret}/marches/{w.marche_id}").get_data(as_text=True)
    assert f"/documents/marches/{w.marche_id}/fiche" in marche_page
    assert f"/documents/marches/{w.marche_id}/archive" not in marche_page  # not the full view
    full = client_as(app, w.mandataire).get(f"/s/{w.mandataire.siret}/marches/{w.marche_id}")
    assert f"/documents/marches/{w.marche_id}/archive" in full.get_data(as_text=True)


def test_without_htmx_the_ask_redirects_to_the_status_page(app, w):
    piece_id = deposit(app, w, w.st1, "A10", "ST-0053", ht="1000.00")
    client = client_as(app, w.st1)
    response = client.post(f"/s/{w.st1.siret}/documents/pieces/{piece_id}/pdf")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Télécharger" in page and "Retour à la pièce" in page
