"""E-invoice import through the web form: a Factur-X PDF, a UBL XML or a CII XML → preview (what was read, what is
missing, how it matches the marché) → a draft pre-filled with the original file kept → deposit; the deposit blocked
while the form and the file disagree; and a corpus of hostile or malformed files, each refused with its French
message and no side effect (no stored_file, piece, piece_file or piece_event row).

The world: tests/integration/pieces_world.py, a services marché; the depositor is the mandataire (cadre A1, routed to
the paying office: the commune, service FIN, engagement EJ-2026-1)."""
from __future__ import annotations

import html
import io
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pypdf
import pytest

from chorus_chain.documents import samples
from chorus_chain.documents.facturx_out import build_cii_xml, facturx_pdf
from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, Piece, PieceEvent, PieceFile, StoredFile
from chorus_chain.operations import einvoice_import
from tests import factories
from tests.integration.pieces_world import count, piece, rows, world
from tests.unit.test_documents_hostile import CORPUS, UBL_INVOICE, Hostile
from tests.integration.pieces_world import logged_in as pw_logged_in

D = Decimal
MISMATCH_TTC = ("Le montant TTC du fichier (16\u202f158,85\u00a0€) diffère de celui du formulaire "
                "(16\u202f800,00\u00a0€).")
TODAY = date.today()
ISSUED = TODAY - timedelta(days=1)


# --- the files -------------------------------------------------------------------------------------------------------

def _marche_reference(app, w) -> str:
    with app.app_context():
        return db.session.get(Marche, w.marche_id).reference


def invoice_doc(app, w, **changes):
    """The sample invoice as the mandataire would issue it on the world's marché."""
    seller = replace(samples.SELLER, name=w.mandataire.name, siret=w.mandataire.siret)
    buyer = replace(samples.BUYER, name=w.moa.name, siret=w.moa.siret)
    doc = replace(samples.invoice(), seller=seller, buyer=buyer, marche_reference=_marche_reference(app, w),
                  service_code="FIN", engagement_number="EJ-2026-1", issue_date=ISSUED,
                  due_date=ISSUED + timedelta(days=30), number="FX-2026-0117")
    return replace(doc, **changes)


def ubl_for(app, w, number: str = "UBL-2026-0007") -> bytes:
    """The UBL sample re-addressed to the world: seller the mandataire, buyer the commune, its marché and codes."""
    text = UBL_INVOICE
    for old, new in (("44306184110004", w.mandataire.siret), ("21690123110002", w.moa.siret),
                     ("FR64443061841", "FR00" + w.mandataire.siret[:9]), ("2026-11-20", ISSUED.isoformat()),
                     ("SERV-TECH-01", "FIN"), ("EJ-2026-000731", "EJ-2026-1"),
                     ("2026-VIL-014", _marche_reference(app, w)), ("UBL-2026-0007", number)):
        assert old in text
        text = text.replace(old, new)
    return text.encode()


# --- the web ----------------------------------------------------------------------------------------------------------

class _Forms(HTMLParser):
    """The fields each <form> of a page would post (inputs, selected options, textareas), as a browser would."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "class": a.get("class", ""), "fields": {}})
        elif not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "submit"):
            fields.setdefault(a["name"], a.get("value") or "")
        elif tag == "select":
            self._select = a.get("name")
            fields.setdefault(self._select, None)
        elif tag == "option" and self._select:
            if fields.get(self._select) is None or "selected" in a:
                if "selected" in a or fields.get(self._select) is None:
                    fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def page_forms(response) -> list[dict]:
    parser = _Forms()
    parser.feed(response.get_data(as_text=True))
    return parser.forms


def draft_form_of(response) -> dict:
    return next(form for form in page_forms(response) if "draft-form" in form["class"])


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def client_for(app, who):
    return pw_logged_in(app, who), f"/s/{who.siret}/pieces"


def upload(client, base, name: str, content: bytes, **data):
    return client.post(f"{base}/importer/", data={"fichier": (io.BytesIO(content), name), **data},
                       content_type="multipart/form-data")


def create_from(client, preview, **changes):
    form = draft_form_of(preview)
    fields = {**form["fields"], **changes}
    return client.post(form["action"], data=fields, content_type="multipart/form-data")


def side_rows(app) -> dict:
    return {model.__tablename__: count(app, model) for model in (StoredFile, Piece, PieceFile, PieceEvent)}


@pytest.fixture
def services(app, db):
    return world(app, kind="services")


def _draft_id(response) -> int:
    assert response.status_code == 303, text(response)[:2000]
    return int(re.search(r"/pieces/(\d+)$", response.headers["Location"]).group(1))


# --- happy paths -----------------------------------------------------------------------------------------------------

def test_a_factur_x_pdf_prefills_a_draft_kept_as_its_main_document_and_is_deposited(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    pdf = facturx_pdf(invoice_doc(app, w))
    assert client.get(f"{base}/importer/").status_code == 200
    before = side_rows(app)

    preview = upload(client, base, "FX-2026-0117.pdf", pdf)
    page = text(preview)
    assert preview.status_code == 200, page[:3000]
    assert side_rows(app) == before  # the preview writes nothing
    for shown in ("FX-2026-0117", "13\u202f565,71\u00a0€", "2\u202f593,14\u00a0€", "16\u202f158,85\u00a0€",
                  w.mandataire.siret, w.moa.siret, "FIN", "EJ-2026-1", "Factur-X (PDF avec XML CII)",
                  f"Marché trouvé par son numéro (BT-12) : <strong>{_marche_reference(app, w)}</strong>"):
        assert shown in page, shown
    assert "Diffère" not in page and page.count("Concorde") == 5  # seller, marché, recipient, service, EJ
    fields = draft_form_of(preview)["fields"]
    assert (fields["number"], fields["montant_ht"], fields["montant_tva"], fields["montant_ttc"]) == (
        "FX-2026-0117", "13565.71", "2593.14", "16158.85")
    assert (fields["issue_date"], fields["recipient_siret"], fields["service_code"], fields["cadre"]) == (
        ISSUED.isoformat(), w.moa.siret, "FIN", "A1")

    created = create_from(client, preview)
    piece_id = _draft_id(created)
    draft = piece(app, piece_id)
    assert (draft.status, draft.number, draft.montant_ttc, draft.cadre) == ("BROUILLON", "FX-2026-0117",
                                                                          D("16158.85"), "A1")
    files = rows(app, PieceFile, PieceFile.piece_id == piece_id)
    assert [(f.role, f.name) for f in files] == [("main", "FX-2026-0117.pdf")]
    assert draft.main_sha256 == files[0].sha256 == einvoice_import.read_upload(
        einvoice_import.drafts.UploadedFile("f.pdf", pdf)).content_sha256

    page = client.get(f"{base}/{piece_id}")
    assert "tout est en ordre" in text(page), text(page)[:4000]
    sent = client.post(f"{base}/{piece_id}/envoyer")
    assert sent.status_code == 303
    assert piece(app, piece_id).status != "BROUILLON"


def test_a_ubl_xml_is_kept_as_an_attachment_beside_the_pdf_given_on_the_preview(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    preview = upload(client, base, "ubl.xml", ubl_for(app, w))
    page = text(preview)
    assert preview.status_code == 200, page[:3000]
    assert "XML UBL 2.1" in page and "1\u202f310,00\u00a0€" in page
    assert "Joignez ici le PDF de cette facture" in page
    form = draft_form_of(preview)
    fields = {**form["fields"], "main_file": (io.BytesIO(factories.MINIMAL_PDF), "UBL-2026-0007.pdf")}
    piece_id = _draft_id(client.post(form["action"], data=fields, content_type="multipart/form-data"))
    files = rows(app, PieceFile, PieceFile.piece_id == piece_id)
    assert sorted((f.role, f.name) for f in files) == [("attachment", "ubl.xml"), ("main", "UBL-2026-0007.pdf")]
    draft = piece(app, piece_id)
    assert (draft.montant_ht, draft.montant_tva, draft.montant_ttc) == (D("1100.00"), D("210.00"), D("1310.00"))
    assert client.post(f"{base}/{piece_id}/envoyer").status_code == 303
    assert piece(app, piece_id).status != "BROUILLON"


def test_a_cii_xml_without_pdf_makes_a_draft_that_asks_for_its_pdf(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    preview = upload(client, base, "facture-cii.xml", build_cii_xml(invoice_doc(app, w, number="CII-1")))
    assert preview.status_code == 200
    assert "XML CII (Factur-X)" in text(preview)
    piece_id = _draft_id(create_from(client, preview))
    assert [(f.role, f.name) for f in rows(app, PieceFile, PieceFile.piece_id == piece_id)] == [
        ("attachment", "facture-cii.xml")]
    page = text(client.get(f"{base}/{piece_id}"))
    assert "Joignez le document principal de la pièce (PDF)." in page
    assert "diffère" not in page  # the XML agrees with the draft
    refused = client.post(f"{base}/{piece_id}/envoyer")
    assert refused.status_code == 422 and piece(app, piece_id).status == "BROUILLON"


def test_an_autoliquidation_invoice_sets_the_vat_regime(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    doc = invoice_doc(app, w)
    lines = tuple(replace(line, vat_percent=D("0")) for line in doc.lines)
    doc = replace(doc, lines=lines, total_tva=D("0.00"), total_ttc=doc.total_ht,
                  vat_regime=samples.VatRegime.AUTOLIQUIDATION)
    preview = upload(client, base, "al.xml", build_cii_xml(doc))
    assert preview.status_code == 200, text(preview)[:2000]
    assert "→ autoliquidation" in text(preview)
    assert draft_form_of(preview)["fields"]["vat_regime"] == "autoliquidation"


# --- matching --------------------------------------------------------------------------------------------------------

def test_a_marche_not_found_by_its_reference_is_chosen_by_the_user(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    preview = upload(client, base, "autre.xml", build_cii_xml(invoice_doc(app, w, marche_reference="INCONNU-1")))
    page = text(preview)
    assert preview.status_code == 200
    assert "Aucun de vos marchés n'a le numéro « INCONNU-1 »" in page
    assert not any("draft-form" in form["class"] for form in page_forms(preview))  # nothing to create yet
    choose = next(form for form in page_forms(preview) if "marche_id" in form["fields"])
    chosen = client.post(choose["action"], data={**choose["fields"], "marche_id": str(w.marche_id)})
    assert chosen.status_code == 200
    assert "Diffère" in text(chosen)  # BT-12 against the chosen marché's reference
    piece_id = _draft_id(create_from(client, chosen))
    page = text(client.get(f"{base}/{piece_id}"))
    assert "Le numéro de marché (BT-12) du fichier (« INCONNU-1 ») diffère de celui du marché de la pièce" in page


def test_an_invoice_of_another_company_is_not_imported(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    doc = invoice_doc(app, w)
    doc = replace(doc, seller=replace(doc.seller, siret=w.cotraitant.siret, name=w.cotraitant.name))
    before = side_rows(app)
    preview = upload(client, base, "autre.pdf", facturx_pdf(doc))
    assert preview.status_code == 200
    assert f"n'est pas votre structure ({w.mandataire.name}, SIRET {w.mandataire.siret})" in text(preview)
    assert not any("draft-form" in form["class"] for form in page_forms(preview))  # no "Créer le brouillon"
    content = facturx_pdf(doc)
    forced = client.post(f"{base}/importer/", data={
        "intent": "create", "einvoice_name": "autre.pdf", "marche_id": str(w.marche_id),
        "einvoice_data": einvoice_import.encode_upload(einvoice_import.drafts.UploadedFile("autre.pdf", content)),
        "party_id": str(w.mandataire.party_id), "cadre": "A1", "number": "X-1", "issue_date": ISSUED.isoformat(),
        "montant_ht": "13565.71", "montant_tva": "2593.14", "montant_ttc": "16158.85",
        "recipient_siret": w.moa.siret, "service_code": "FIN", "engagement_number": "EJ-2026-1"})
    assert forced.status_code == 422 and "n'est pas votre structure" in text(forced)
    assert side_rows(app) == before


# --- before sending: the file and the form agree --------------------------------------------------------------------

def test_a_disagreement_blocks_the_deposit_until_the_form_or_the_file_is_fixed(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    pdf = facturx_pdf(invoice_doc(app, w))
    piece_id = _draft_id(create_from(client, upload(client, base, "FX.pdf", pdf)))
    # The user changes the amounts on the draft page: the Factur-X still says 16 158,85 €.
    draft_page = client.get(f"{base}/{piece_id}")
    form = next(f for f in page_forms(draft_page) if f["action"].endswith("/brouillon"))
    saved = client.post(form["action"], data={**form["fields"], "montant_ht": "14000,00", "montant_tva": "2800,00",
                                              "montant_ttc": "16800,00", "intent": "save"},
                        content_type="multipart/form-data")
    assert saved.status_code == 303
    page = text(client.get(f"{base}/{piece_id}"))
    assert MISMATCH_TTC in page
    assert "Le montant HT du fichier (13\u202f565,71\u00a0€) diffère" in page
    refused = client.post(f"{base}/{piece_id}/envoyer")
    assert refused.status_code == 422 and piece(app, piece_id).status == "BROUILLON"
    assert "diffère de celui du formulaire" in text(refused)

    # Re-import the right file on the draft: the form takes the file's figures and the deposit goes through.
    start = client.get(f"{base}/importer/brouillon/{piece_id}")
    assert start.status_code == 200
    preview = client.post(f"{base}/importer/brouillon/{piece_id}", data={"fichier": (io.BytesIO(pdf), "FX.pdf")},
                          content_type="multipart/form-data")
    page = text(preview)
    assert preview.status_code == 200 and "Ce qui changera dans le brouillon" in page
    assert MISMATCH_TTC in page
    applied = create_from(client, preview)
    assert applied.status_code == 303, text(applied)[:3000]
    assert piece(app, piece_id).montant_ttc == D("16158.85")
    assert client.post(f"{base}/{piece_id}/envoyer").status_code == 303
    assert piece(app, piece_id).status != "BROUILLON"


def test_a_factur_x_attached_by_hand_is_checked_too(app, services):
    """The comparison reads the stored files, however they came: a Factur-X given as the main document of a draft
    typed by hand must agree with what was typed."""
    from tests.integration.pieces_world import create

    w = services
    pdf = facturx_pdf(invoice_doc(app, w, number="F-MAIN-1"))
    piece_id = create(app, w, w.mandataire, "A1", "F-MAIN-2", main=pdf)
    client, base = client_for(app, w.mandataire)
    page = text(client.get(f"{base}/{piece_id}"))
    assert "Le numéro de facture du fichier (« F-MAIN-1 ») diffère de celui du formulaire (« F-MAIN-2 »)." in page


def test_reimporting_an_xml_replaces_the_previous_xml(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    piece_id = _draft_id(create_from(client, upload(client, base, "facture.xml", ubl_for(app, w, "UBL-1"))))
    preview = client.post(f"{base}/importer/brouillon/{piece_id}",
                          data={"fichier": (io.BytesIO(ubl_for(app, w, "UBL-2")), "facture.xml")},
                          content_type="multipart/form-data")
    assert "Le numéro de facture du fichier (« UBL-2 ») diffère de celui du formulaire (« UBL-1 »)." in text(preview)
    assert create_from(client, preview).status_code == 303
    files = rows(app, PieceFile, PieceFile.piece_id == piece_id)
    assert [(f.role, f.name) for f in files] == [("attachment", "facture.xml")]
    assert piece(app, piece_id).number == "UBL-2"


def test_a_large_factur_x_travels_back_through_the_preview(app, services):
    """Above Flask's default 500 000-byte limit for a form field once in base64."""
    w = services
    client, base = client_for(app, w.mandataire)
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(facturx_pdf(invoice_doc(app, w)))))
    writer.add_attachment("plan.bin", bytes(range(256)) * 3000)
    out = io.BytesIO()
    writer.write(out)
    big = out.getvalue()
    assert len(big) > 700_000
    preview = upload(client, base, "gros.pdf", big)
    assert preview.status_code == 200, text(preview)[:2000]
    piece_id = _draft_id(create_from(client, preview))
    assert [f.size for f in rows(app, PieceFile, PieceFile.piece_id == piece_id)] == [len(big)]


def test_the_import_checks_its_csrf_token(app, services, csrf):
    w = services
    with app.app_context():
        account = db.session.get(Account, w.mandataire.account_id)
        db.session.expunge(account)
    client = app.test_client()
    factories.login_with_csrf(client, account)
    base = f"/s/{w.mandataire.siret}/pieces"
    pdf = facturx_pdf(invoice_doc(app, w))
    before = side_rows(app)
    refused = upload(client, base, "FX.pdf", pdf)
    assert refused.status_code == 400 and "Page expirée" in text(refused)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get(f"{base}/importer/").get_data(as_text=True)).group(1)
    preview = upload(client, base, "FX.pdf", pdf, csrf_token=token)
    assert preview.status_code == 200
    forged = create_from(client, preview, csrf_token="faux")
    assert forged.status_code == 400
    assert side_rows(app) == before
    assert _draft_id(create_from(client, preview)) > 0


# --- hostile and malformed files ------------------------------------------------------------------------------------

def _web_corpus() -> list[Hostile]:
    """The reader's corpus (tests/unit/test_documents_hostile.py), plus what only the web form can send."""
    extra = [
        Hostile("a name with a path", "../../etc/facture.xml", build_cii_xml(samples.invoice()), expect="chemin"),
        Hostile("a name longer than 50 characters", "f" * 60 + ".xml", build_cii_xml(samples.invoice()),
                expect="50 au plus"),
        Hostile("a name with a right-to-left override", "facture\u202efdp.xml", build_cii_xml(samples.invoice()),
                expect="contrôle ou invisible"),
        Hostile("a Windows device name", "CON.xml", build_cii_xml(samples.invoice()), expect="réservé"),
        Hostile("an image named .pdf", "facture.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, expect="PNG"),
    ]
    return CORPUS + extra


WEB_CORPUS = _web_corpus()


def test_the_web_corpus_has_at_least_twenty_files():
    assert len(WEB_CORPUS) >= 20


@pytest.mark.parametrize("hostile", WEB_CORPUS, ids=[item.name for item in WEB_CORPUS])
def test_a_hostile_file_is_refused_cleanly_with_no_side_effect(app, services, hostile):
    w = services
    client, base = client_for(app, w.mandataire)
    before = side_rows(app)
    response = upload(client, base, hostile.filename, hostile.content)
    page = text(response)
    assert response.status_code == 422, page[:2000]
    message = re.search(r'<p class="error" id="fichier-error">(.*?)</p>', page, re.S).group(1)
    assert hostile.expect in message, message
    assert "Traceback" not in page and "Error" not in message
    assert side_rows(app) == before


@pytest.mark.parametrize("hostile", [item for item in CORPUS if item.name in (
    "billion laughs", "external entity file:///etc/passwd in a CII", "a PDF named .xml", "XML nested 200 levels deep",
    "a plain PDF claimed as Factur-X")], ids=lambda item: item.name)
def test_a_hostile_file_posted_back_in_place_of_the_preview_is_refused(app, services, hostile):
    """The hidden field of the preview is no more trusted than an upload: a forged one is read again and refused."""
    w = services
    client, base = client_for(app, w.mandataire)
    preview = upload(client, base, "FX.pdf", facturx_pdf(invoice_doc(app, w)))
    before = side_rows(app)
    forged = create_from(client, preview, einvoice_name=hostile.filename,
                         einvoice_data=einvoice_import.encode_upload(
                             einvoice_import.drafts.UploadedFile(hostile.filename, hostile.content)))
    assert forged.status_code == 422
    assert hostile.expect in text(forged)
    assert side_rows(app) == before


def test_no_file_and_garbage_base64_are_refused(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    before = side_rows(app)
    empty = client.post(f"{base}/importer/", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choisissez le fichier de la facture électronique" in text(empty)
    garbage = client.post(f"{base}/importer/", data={"einvoice_name": "f.xml", "einvoice_data": "!!pas du base64!!",
                                                     "intent": "create"})
    assert garbage.status_code == 422 and "importez-le de nouveau" in text(garbage)
    assert side_rows(app) == before


def test_a_hostile_file_on_a_saved_draft_changes_nothing(app, services):
    w = services
    client, base = client_for(app, w.mandataire)
    piece_id = _draft_id(create_from(client, upload(client, base, "facture.xml", ubl_for(app, w))))
    before, draft_before = side_rows(app), piece(app, piece_id)
    for hostile in [item for item in CORPUS if item.name in ("billion laughs", "a PDF whose factur-x.xml reads "
                                                             "/etc/passwd", "an XML named .pdf")]:
        response = client.post(f"{base}/importer/brouillon/{piece_id}",
                               data={"fichier": (io.BytesIO(hostile.content), hostile.filename), "intent": "apply"},
                               content_type="multipart/form-data")
        assert response.status_code == 422 and hostile.expect in text(response)
    assert side_rows(app) == before
    after = piece(app, piece_id)
    assert (after.number, after.montant_ttc, after.updated_at) == (draft_before.number, draft_before.montant_ttc,
                                                                   draft_before.updated_at)
