"""PDF rendering: the locked URL fetcher, the documents' data checks, the fingerprint, and golden tests on the text
extracted from each generated PDF (the figures of the piece must be in it, in French format)."""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from chorus_chain.documents import samples, templates
from chorus_chain.documents.fingerprint import canonical_document, fingerprint
from chorus_chain.documents.model import (
    AttestationTacitDoc,
    DocumentDataError,
    InterestLine,
    InvoiceLine,
    InvoiceType,
    VatRegime,
    vat_breakdown,
)
from chorus_chain.documents.render import (
    STATIC_ROOT,
    LockedFetcher,
    PdfAttachment,
    ResourceRefused,
    default_fetcher,
    render_pdf,
)

D = Decimal
PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


# ---------------------------------------------------------------------------------------------------------------------
# Watching the process: an audit hook records file opens and network calls while a test asks for it.

def _opened(events) -> list[str]:
    return [str(args[0]) for event, args in events if event == "open" and isinstance(args[0], str | bytes | Path)]


def _network(events) -> list[str]:
    return [event for event, _ in events if event.startswith(("socket.", "urllib."))]


# ---------------------------------------------------------------------------------------------------------------------
# Text of a PDF


def pdf_text(pdf: bytes) -> str:
    """The text of every page as one line: French spaces (no-break, narrow no-break) made plain, lines joined (a
    line that ends on a hyphen was cut after it: the templates never insert hyphens), runs of spaces collapsed."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return _normal("\n".join(page.extract_text() for page in reader.pages))


def _normal(text: str) -> str:
    text = re.sub(r"-\n", "-", text)
    return re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text)


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="module")
def invoice_pdf() -> bytes:
    return templates.invoice_pdf(samples.invoice())


# ---------------------------------------------------------------------------------------------------------------------
# The locked fetcher


@pytest.fixture
def static_root(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "img").mkdir(parents=True)
    (root / "img" / "logo.png").write_bytes(PNG_1PX)
    (root / "doc.css").write_text("p { color: #333; }", encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("mot de passe", encoding="utf-8")
    (root / "lien-sortant.txt").symlink_to(secret)
    (root / "lien-interne.png").symlink_to(root / "img" / "logo.png")
    return root


def test_fetcher_serves_a_file_of_its_root(static_root: Path) -> None:
    response = LockedFetcher(static_root).serve((static_root / "img" / "logo.png").as_uri())
    assert response.read() == PNG_1PX
    assert response.content_type == "image/png"
    css = LockedFetcher(static_root).serve((static_root / "doc.css").as_uri())
    assert css.content_type == "text/css" and css.charset == "utf-8"


def test_fetcher_follows_a_symlink_that_stays_inside(static_root: Path) -> None:
    assert LockedFetcher(static_root).serve((static_root / "lien-interne.png").as_uri()).read() == PNG_1PX


@pytest.mark.parametrize("url", [
    "http://example.com/logo.png",
    "https://example.com/style.css",
    "HTTP://127.0.0.1:6379/",
    "ftp://example.com/x.png",
    "file:///etc/passwd",
    "file://attacker.example/share/x.png",
    "file:etc/passwd",
    "javascript:alert(1)",
    "gopher://localhost:25/",
    "data:text/css,body{background:url(http://example.com/x)}",
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4=",
    "data:text/html,<h1>x</h1>",
    "data:image/png,notbase64",
    "data:image/png;base64,QUJD",  # valid base64, not a PNG
    "data:image/png;base64,@@@",
    "file:///proc/self/environ",
    "",
])
def test_fetcher_refuses_what_is_not_a_static_file(url: str, static_root: Path) -> None:
    with pytest.raises(ResourceRefused):
        LockedFetcher(static_root).serve(url)


def test_fetcher_refuses_dot_dot_even_encoded_and_even_when_landing_inside(static_root: Path) -> None:
    fetcher = LockedFetcher(static_root)
    base = static_root.as_uri()
    for url in (f"{base}/../secret.txt", f"{base}/%2e%2e/secret.txt", f"{base}/img/../img/logo.png",
                f"{base}/img/%2E%2E/doc.css", f"{base}/../../../../etc/passwd"):
        with pytest.raises(ResourceRefused, match=r"'\.\.'"):
            fetcher.serve(url)


def test_fetcher_refuses_symlinks_out_directories_missing_files_and_paths_outside(static_root: Path) -> None:
    fetcher = LockedFetcher(static_root)
    with pytest.raises(ResourceRefused, match="outside"):
        fetcher.serve((static_root / "lien-sortant.txt").as_uri())
    with pytest.raises(ResourceRefused, match="not a regular file"):
        fetcher.serve((static_root / "img").as_uri())
    with pytest.raises(ResourceRefused, match="no such file"):
        fetcher.serve((static_root / "absent.png").as_uri())
    with pytest.raises(ResourceRefused, match="outside"):
        fetcher.serve((static_root.parent / "secret.txt").as_uri())
    with pytest.raises(ResourceRefused):
        fetcher.serve(static_root.as_uri() + "/img/logo.png%00.css")


def test_fetcher_refuses_fifos_and_oversized_files_without_hanging(static_root: Path) -> None:
    os.mkfifo(static_root / "tube")
    (static_root / "gros.png").write_bytes(PNG_1PX + b"\0" * (6 * 1024 * 1024))
    fetcher = LockedFetcher(static_root)
    with pytest.raises(ResourceRefused, match="not a regular file"):
        fetcher.serve((static_root / "tube").as_uri())
    with pytest.raises(ResourceRefused, match="too large"):
        fetcher.serve((static_root / "gros.png").as_uri())


def test_fetcher_serves_a_small_inline_raster_image_and_refuses_a_big_one(static_root: Path) -> None:
    fetcher = LockedFetcher(static_root)
    small = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    assert fetcher.serve(small).read() == PNG_1PX
    big = "data:image/png;base64," + base64.b64encode(PNG_1PX + b"\0" * 300_000).decode()
    with pytest.raises(ResourceRefused, match="too large"):
        fetcher.serve(big)


def test_the_default_fetcher_is_locked_on_the_repository_static_folder() -> None:
    assert default_fetcher().root == STATIC_ROOT.resolve()
    assert (STATIC_ROOT.parent / "chorus_chain").is_dir()


HOSTILE_URLS = [
    "http://example.com/x.png",
    "https://example.com/x.png",
    "file:///etc/passwd",
    "/etc/passwd",
    "../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "ftp://example.com/x",
    "data:image/svg+xml;base64,PHN2Zy8+",
]
CARRIERS = [
    '<img src="{url}">',
    '<link rel="stylesheet" href="{url}">',
    '<style>@import url("{url}");</style>',
    '<p style="background: url(\'{url}\')">x</p>',
    '<style>@font-face {{ font-family: Piège; src: url("{url}"); }} p {{ font-family: Piège; }}</style><p>x</p>',
    '<a rel="attachment" href="{url}">pièce</a>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{url}" width="10" height="10"/></svg>',
    '<object data="{url}" type="image/png"></object>',
    '<embed src="{url}" type="image/png">',
]


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_render_refuses_every_outside_url_without_touching_file_or_network(url, carrier, io_events) -> None:
    html = f"<!DOCTYPE html><html lang='fr'><body>{carrier.format(url=url)}</body></html>"
    with pytest.raises(ResourceRefused):
        render_pdf(html)
    assert _network(io_events) == []
    assert not [path for path in _opened(io_events) if "passwd" in path]


def test_render_with_a_base_url_outside_static_still_serves_nothing_outside(io_events) -> None:
    with pytest.raises(ResourceRefused):
        render_pdf('<img src="passwd">', base_url="file:///etc/")
    with pytest.raises(ResourceRefused):
        render_pdf('<img src="x.png">', base_url="http://example.com/")
    assert _network(io_events) == []
    assert not [path for path in _opened(io_events) if "passwd" in path]


def test_render_uses_static_files_through_the_fetcher(static_root: Path) -> None:
    html = '<html><head><link rel="stylesheet" href="doc.css"></head><body><p>Logo</p><img src="img/logo.png">' \
           '</body></html>'
    pdf = render_pdf(html, base_url=static_root.as_uri() + "/", fetcher=LockedFetcher(static_root))
    assert pdf.startswith(b"%PDF-") and "Logo" in pdf_text(pdf)


def test_user_text_is_escaped_and_never_becomes_markup_or_a_fetch(io_events) -> None:
    evil = '<img src="http://example.com/x.png"> & <link rel="stylesheet" href="file:///etc/passwd">'
    doc = samples.invoice()
    doc = replace(doc, buyer=replace(doc.buyer, name=evil))
    text = _compact(pdf_text(templates.invoice_pdf(doc)))
    assert _compact(evil) in text
    assert _network(io_events) == []
    assert not [path for path in _opened(io_events) if "passwd" in path]


def test_the_documents_fetch_nothing_at_all(monkeypatch) -> None:
    fetched: list[str] = []
    monkeypatch.setattr(LockedFetcher, "serve", lambda self, url: fetched.append(url))
    templates.invoice_pdf(samples.invoice())
    templates.tacit_acceptance_pdf(samples.attestation())
    templates.interest_claim_pdf(samples.interest_claim())
    templates.fiche_marche_pdf(samples.fiche())
    assert fetched == []


def test_rendering_is_deterministic_so_a_pdf_can_be_cached_by_its_data(invoice_pdf: bytes) -> None:
    # Across a change of second: font subsets carry a timestamp unless SOURCE_DATE_EPOCH is fixed (render.py).
    time.sleep(1.05)
    assert templates.invoice_pdf(samples.invoice()) == invoice_pdf


# ---------------------------------------------------------------------------------------------------------------------
# render_pdf options


def test_pages_are_a4_and_fonts_are_the_local_dejavu(invoice_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(invoice_pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    fonts = {str(font.get_object()["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert fonts and all("DejaVu" in name for name in fonts)


def test_pdfa_output_declares_pdfa_3b_and_embeds_attachments() -> None:
    pdf = render_pdf("<p>Archive</p>", pdfa=True,
                     attachments=[PdfAttachment("note.txt", "pièce jointe".encode(), "Note")])
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]
    assert [(item.name, item.content) for item in reader.attachment_list] == [("note.txt", "pièce jointe".encode())]


# ---------------------------------------------------------------------------------------------------------------------
# The documents' data


def test_an_invoice_whose_figures_do_not_add_up_is_refused_before_printing() -> None:
    doc = samples.invoice()
    with pytest.raises(DocumentDataError, match="total_ht"):
        replace(doc, total_ht=D("13565.70"))
    with pytest.raises(DocumentDataError, match="total_tva"):
        replace(doc, total_tva=D("2593.15"), total_ttc=D("16158.86"))
    with pytest.raises(DocumentDataError, match="total_ttc"):
        replace(doc, total_ttc=D("16158.84"))
    with pytest.raises(DocumentDataError, match="quantity"):
        InvoiceLine("x", D("3"), "C62", D("1.10"), D("20"), D("3.31"))
    with pytest.raises(DocumentDataError, match="Decimal"):
        replace(doc, total_ht=13565.71)
    with pytest.raises(DocumentDataError, match="original"):
        replace(doc, invoice_type=InvoiceType.AVOIR)
    with pytest.raises(DocumentDataError, match="autoliquidation"):
        replace(doc, vat_regime=VatRegime.AUTOLIQUIDATION)
    with pytest.raises(DocumentDataError, match="SIRET"):
        replace(doc.seller, siret="44306184110005")


def test_vat_is_computed_per_rate_rounded_once() -> None:
    breakdown = vat_breakdown(samples.invoice())
    assert [(item.category, item.percent, item.base_ht, item.tax) for item in breakdown] == [
        ("S", D("20"), D("12365.71"), D("2473.14")), ("S", D("10"), D("1200.00"), D("120.00"))]
    assert [(item.category, item.tax) for item in vat_breakdown(samples.invoice(autoliquidation=True))] == [
        ("AE", D("0.00"))]


def test_an_attestation_must_prove_the_rule() -> None:
    doc = samples.attestation()
    with pytest.raises(DocumentDataError, match="15 days"):
        replace(doc, deadline_date=doc.deadline_date - timedelta(hours=1))
    with pytest.raises(DocumentDataError, match="on or after"):
        replace(doc, attested_on=date(2026, 11, 16))
    with pytest.raises(DocumentDataError, match="aware"):
        replace(doc, deposit_date=datetime(2026, 11, 2), deadline_date=datetime(2026, 11, 17))
    day = AttestationTacitDoc("P1", "Demande de paiement", "M1", samples.SUBCONTRACTOR, samples.SELLER,
                              date(2026, 11, 2), date(2026, 11, 17), date(2026, 11, 17))
    assert day.silence_days == 15


def test_interest_lines_and_totals_must_agree() -> None:
    doc = samples.interest_claim()
    with pytest.raises(DocumentDataError, match="days_late"):
        InterestLine("F1", D("100.00"), date(2027, 1, 1), date(2027, 1, 11), 9, D("10.15"), D("0.28"))
    with pytest.raises(DocumentDataError, match="total_claimed"):
        replace(doc, total_claimed=D("190.39"))


# ---------------------------------------------------------------------------------------------------------------------
# Fingerprint


def test_fingerprint_is_of_the_data_stable_and_sensitive_to_a_cent() -> None:
    doc = samples.invoice()
    print_ = fingerprint(doc)
    assert re.fullmatch(r"[0-9a-f]{64}", print_)
    assert fingerprint(samples.invoice()) == print_
    line = doc.lines[1]
    same_value = replace(line, quantity=D("85.50"), unit_price_ht=D("24.3"))  # same numbers, other exponents
    assert fingerprint(replace(doc, lines=(doc.lines[0], same_value, doc.lines[2]))) == print_
    assert fingerprint(replace(doc, number="F-2026-0118")) != print_
    cent_more = replace(doc.lines[2], unit_price_ht=D("1200.01"), amount_ht=D("1200.01"))
    changed = replace(doc, lines=(doc.lines[0], doc.lines[1], cent_more), total_ht=D("13565.72"),
                      total_ttc=D("16158.86"))
    assert fingerprint(changed) != print_


def test_fingerprint_normalises_unicode_and_names_the_document_type() -> None:
    doc = samples.invoice()
    decomposed = replace(doc, seller=replace(doc.seller, name="Ba\u0302timents Rho\u0302ne-Alpes SAS"))
    assert fingerprint(decomposed) == fingerprint(doc)
    text = canonical_document(doc)
    assert text.startswith('{"data":') and '"type":"InvoiceDoc"' in text and '"version":1' in text
    assert '"total_ttc":"16158.85"' in text and '"issue_date":"2026-11-28"' in text
    with pytest.raises(TypeError):
        canonical_document({"not": "a dataclass"})


def test_fingerprint_of_instants_is_in_utc() -> None:
    doc = samples.attestation()
    paris = timezone(timedelta(hours=1))
    moved = replace(doc, deposit_date=doc.deposit_date.astimezone(paris),
                    deadline_date=doc.deadline_date.astimezone(paris))
    assert fingerprint(moved) == fingerprint(doc)


# ---------------------------------------------------------------------------------------------------------------------
# Golden tests: the figures of each piece are in its PDF


def _assert_frame(text: str, doc, number: str) -> None:
    assert number in text
    assert fingerprint(doc) in _compact(text)
    assert "empreinte SHA-256" in text


def test_invoice_pdf_carries_every_legal_mention(invoice_pdf: bytes) -> None:
    doc = samples.invoice()
    text = pdf_text(invoice_pdf)
    compact = _compact(text)
    _assert_frame(text, doc, "F-2026-0117")
    for expected in (
        "FACTURE", "Bâtiments Rhône-Alpes SAS", "Commune de Villeurbanne",
        "SAS au capital de 150 000 € – RCS Lyon 443 061 841",
        "28 novembre 2026", "28 décembre 2026", "30 novembre 2026",  # issue, due (payment), works
        "2026-VIL-014", "SERV-TECH-01", "EJ-2026-000731",
        "10 288,06 €", "2 077,65 €", "85,5", "m²", "forfait",
        "20 %", "10 %", "12 365,71 €", "2 473,14 €", "1 200,00 €", "120,00 €",
        "13 565,71 €", "2 593,14 €", "16 158,85 €",
        "Virement à 30 jours", "IBAN FR76 3000 6000 0112 3456 7890 189", "BIC AGRIFRPP",
        "Pénalités de retard", "majoré de 8 points",
        "Indemnité forfaitaire pour frais de recouvrement", "40 €",
        "Pas d'escompte pour paiement anticipé",
        "Page 1 / 1",
    ):
        assert expected in text, expected
    for identifier in ("44306184110004", "21690123110002", "FR64443061841", "FR60216901231"):
        assert identifier in compact, identifier
    assert "Autoliquidation" not in text


def test_invoice_text_agrees_with_pdftotext(invoice_pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "facture.pdf"
    path.write_bytes(invoice_pdf)
    text = _normal(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout)
    for expected in ("F-2026-0117", "16 158,85 €", "28 novembre 2026", "Page 1 / 1", "40 €"):
        assert expected in text, expected
    assert "44306184110004" in _compact(text)


def test_autoliquidated_invoice_says_so_and_carries_no_vat() -> None:
    doc = samples.invoice(autoliquidation=True)
    text = pdf_text(templates.invoice_pdf(doc))
    _assert_frame(text, doc, "ST-2026-0042")
    assert "Autoliquidation : TVA due par le preneur (article 283, 2 nonies du code général des impôts)." in text
    assert "Facture émise hors TVA" in text
    for expected in ("2 220,00 €", "4 350,00 €", "6 570,00 €", "0,00 €", "Électricité Dupont SARL", "A9",
                     "Page 1 / 1", "40 €"):
        assert expected in text, expected
    assert "20 %" not in text
    assert "83040512210002" in _compact(text) and "44306184110004" in _compact(text)


def test_credit_note_references_its_original_invoice() -> None:
    doc = samples.invoice(credit_note=True)
    text = pdf_text(templates.invoice_pdf(doc))
    _assert_frame(text, doc, "AV-2026-0003")
    for expected in ("AVOIR", "Avoir sur la facture n° F-2026-0117 du 28 novembre 2026", "243,00 €", "48,60 €",
                     "291,60 €", "5 décembre 2026", "Page 1 / 1"):
        assert expected in text, expected


def test_tacit_acceptance_shows_the_dates_that_prove_it() -> None:
    doc = samples.attestation()
    text = pdf_text(templates.tacit_acceptance_pdf(doc))
    _assert_frame(text, doc, "PDM-2026-11-ST04")
    for expected in ("Attestation d'acceptation tacite", "2 novembre 2026 à 10:30", "17 novembre 2026 à 10:30",
                     "15 jours à compter du dépôt", "réputée acceptée", "18 novembre 2026", "2026-VIL-014",
                     "6 570,00 €", "Page 1 / 1"):
        assert expected in text, expected
    assert "83040512210002" in _compact(text) and "44306184110004" in _compact(text)


def test_interest_claim_lists_every_late_payment_and_the_40_euro_fee() -> None:
    doc = samples.interest_claim()
    text = pdf_text(templates.interest_claim_pdf(doc))
    _assert_frame(text, doc, "IM-2027-001")
    for expected in ("F-2026-0117", "F-2026-0121", "16 158,85 €", "7 200,00 €", "28 décembre 2026",
                     "18 janvier 2027", "10,15 %", "94,36 €", "16,02 €", "40,00 €", "110,38 €", "80,00 €",
                     "190,38 €", "Fait à Lyon, le 25 janvier 2027", "indemnité forfaitaire", "Page 1 / 1"):
        assert expected in text, expected
    assert " 21 " in text and " 8 " in text


def test_fiche_marche_lists_parties_and_routes() -> None:
    doc = samples.fiche()
    text = pdf_text(templates.fiche_marche_pdf(doc))
    _assert_frame(text, doc, "2026-VIL-014")
    for expected in ("Fiche d'identité du marché", "Construction d'un groupe scolaire", "1 250 000,00 €",
                     "Maître d'ouvrage", "Sous-traitant de rang 1", "paiement direct", "96 000,00 €",
                     "Sous-traitant → Titulaire → MOE → MOA → Service financier", "30 jours", "Page 1 / 1"):
        assert expected in text, expected
    for siret in ("21690123110002", "51234567910008", "44306184110004", "83040512210002"):
        assert siret in _compact(text)


def test_every_page_says_page_x_of_y_and_carries_the_footer() -> None:
    doc = samples.etat_like_invoice(60)
    pdf = templates.invoice_pdf(doc)
    pages = _pages(pdf)
    assert pages >= 2
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    for number, page in enumerate(reader.pages, start=1):
        text = _normal(page.extract_text())
        assert f"Page {number} / {pages}" in text
        assert "EA-2026-11" in text and fingerprint(doc) in _compact(text)


# ---------------------------------------------------------------------------------------------------------------------
# The état d'acompte's signature blocks stay with the totals they sign


def _engine_etat():
    """The benchmark's état n° 3, computed by the engine (bench/pdf_render.py, as test_bench_inputs reads it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pdf_render_bench",
                                                  Path(__file__).resolve().parents[2] / "bench" / "pdf_render.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.etat_document()


def test_the_signature_blocks_share_their_page_with_the_last_lines_and_the_total() -> None:
    """A many-line projet de décompte fills a page: the MOE's and the MOA's signature blocks must never stand alone at
    the top of the next one (a page of two empty boxes, signed apart from the figures). Four lengths one line apart
    move the end of the table over the end of page 1 (DejaVu, A4): on the former layout, 16, 17 and 18 lines left the
    blocks alone on page 2."""
    from chorus_chain.documents import etat_doc

    base = _engine_etat()
    signatories = (etat_doc.Signatory("Le maître d'œuvre", "Atelier d'architecture Martin", "Établi le",
                                      date(2025, 6, 6)),
                   etat_doc.Signatory("Le maître d'ouvrage", "Commune de Villeurbanne", "Validé le"))
    for count in range(15, 19):
        lines = tuple(etat_doc.EtatPdmLine(f"2.{i:03d}", f"Ouvrage élémentaire n° {i} du lot gros œuvre", "m2",
                                           False, D("10"), D("1000.00"), D("10"), D("1000.00"))
                      for i in range(1, count + 1))
        pdm = etat_doc.EtatPdm("Durand Bâtiment SAS", "Mandataire", "DB-PDM-03", lines)
        # One beneficiary's detail in the annex: the same layout up to the signatures, a shorter document to render.
        doc = replace(base, pdms=(pdm,), signatories=signatories, beneficiaries=base.beneficiaries[:1])
        pages = [_normal(page.extract_text())
                 for page in pypdf.PdfReader(io.BytesIO(etat_doc.etat_acompte_pdf(doc))).pages]
        [signed] = [index for index, text in enumerate(pages) if "Le maître d'ouvrage" in text]
        text = pages[signed]
        assert "Le maître d'œuvre" in text and text.count("Signature") == 2, count
        last = f"2.{count:03d} Ouvrage élémentaire n° {count}"
        assert last in text, (count, "the signatures went to a page without the last line of the décompte")
        total = f"Total des travaux {count} 000,00 € {count} 000,00 €"
        assert text.index(last) < text.index(total) < text.index("Le maître d'œuvre"), count


def test_a_split_projet_de_decompte_states_its_total_once_after_its_last_line() -> None:
    """A projet de décompte longer than a page is split: its column heads repeat on each page (to read the figures),
    its « Total des travaux » does not — a total at the foot of page 1 under half of the lines reads as the total of
    those lines. Once, after the last line."""
    from chorus_chain.documents import etat_doc

    count = 70  # three pages of lines (DejaVu, A4)
    lines = tuple(etat_doc.EtatPdmLine(f"2.{i:03d}", f"Ouvrage élémentaire n° {i} du lot gros œuvre", "m2",
                                       False, D("10"), D("1000.00"), D("10"), D("1000.00"))
                  for i in range(1, count + 1))
    pdm = etat_doc.EtatPdm("Durand Bâtiment SAS", "Mandataire", "DB-PDM-03", lines)
    base = _engine_etat()
    doc = replace(base, pdms=(pdm,), beneficiaries=base.beneficiaries[:1])
    pages = [_normal(page.extract_text())
             for page in pypdf.PdfReader(io.BytesIO(etat_doc.etat_acompte_pdf(doc))).pages]
    with_lines = [index for index, text in enumerate(pages) if "Ouvrage élémentaire n°" in text]
    assert len(with_lines) >= 2, "the table is not split: the test says nothing"
    assert all("Désignation" in pages[index] for index in with_lines)  # the heads repeat
    assert sum(text.count("Total des travaux") for text in pages) == 1
    last_page = pages[with_lines[-1]]
    last = f"2.{count:03d} Ouvrage élémentaire n° {count}"
    assert last_page.index(last) < last_page.index(f"Total des travaux {count} 000,00 € {count} 000,00 €")
