"""Attachment rules: names, sizes, and content checked against the extension, with a corpus of hostile cases."""

import bz2
import gzip
import io
import zipfile

import pytest

from chorus_chain.domain.attachments import (
    ALLOWED_EXTENSIONS,
    FILE_MAX_BYTES,
    MB,
    OLE2,
    SIGNED_DATA_OID,
    AttachmentRefused,
    check_attachment,
    check_attachments,
    check_main_document,
    clean_name,
)

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
BMP = b"BM" + (62).to_bytes(4, "little") + b"\x00" * 8 + (40).to_bytes(4, "little") + b"\x00" * 44
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x00" * 8
RTF = b"{\\rtf1\\ansi Bonjour}"
P7S = b"\x30\x82\x01\x00" + SIGNED_DATA_OID + b"\xa0\x82" + b"\x00" * 30
DOC = OLE2 + b"\x00" * 504
XML = b'<?xml version="1.0" encoding="UTF-8"?><Invoice xmlns="urn:x"><ID>F-1</ID></Invoice>'
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>'
HTML = "<html><body><p>Récapitulatif</p></body></html>".encode()
CSV_LATIN1 = "lot;montant\nGros œuvre;1 234,56\n".encode("cp1252")
TXT_BOM = "\ufeffDécompte n° 3\r\n".encode()


def zip_of(entries, first_stored=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first_stored:
            archive.writestr(zipfile.ZipInfo(first_stored[0]), first_stored[1], compress_type=zipfile.ZIP_STORED)
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


ZIP = zip_of([("a.txt", "bonjour")])
DOCX = zip_of([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<w:document/>")])
XLSX = zip_of([("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>")])
PPTX = zip_of([("[Content_Types].xml", "<Types/>"), ("ppt/presentation.xml", "<p/>")])
ODT = zip_of([("content.xml", "<office/>")], first_stored=("mimetype", "application/vnd.oasis.opendocument.text"))
ODS = zip_of([("content.xml", "<office/>")],
             first_stored=("mimetype", "application/vnd.oasis.opendocument.spreadsheet"))
ODP = zip_of([("content.xml", "<office/>")],
             first_stored=("mimetype", "application/vnd.oasis.opendocument.presentation"))
GZ = gzip.compress(b"tar contents")
BZ2 = bz2.compress(b"contents")

GOOD = [
    ("facture.pdf", PDF), ("Facture.PDF", PDF), ("plan.png", PNG), ("photo.jpg", JPEG), ("photo.jpeg", JPEG),
    ("logo.gif", GIF), ("scan.bmp", BMP), ("scan.tif", TIFF), ("scan.tiff", TIFF), ("note.rtf", RTF),
    ("signature.p7s", P7S), ("ancien.doc", DOC), ("ancien.xls", DOC), ("ancien.ppt", DOC),
    ("factur-x.xml", XML), ("logo.svg", SVG), ("page.html", HTML), ("page.htm", HTML), ("lots.csv", CSV_LATIN1),
    ("note.txt", TXT_BOM), ("pieces.zip", ZIP), ("vide.zip", b"PK\x05\x06" + b"\x00" * 18),
    ("memoire.docx", DOCX), ("situation.xlsx", XLSX), ("reunion.pptx", PPTX), ("cr.odt", ODT),
    ("metre.ods", ODS), ("reunion.odp", ODP), ("archive.gz", GZ), ("archive.tgz", GZ), ("archive.bz2", BZ2),
    ("Récapitulatif n°3 — lot 2.pdf", PDF),
]


@pytest.mark.parametrize(("name", "content"), GOOD, ids=[name for name, _ in GOOD])
def test_genuine_files_of_every_allowed_kind_pass(name, content):
    assert check_attachment(name, content) == name


def test_every_allowed_extension_has_a_genuine_sample():
    assert {name.rpartition(".")[2].lower() for name, _ in GOOD} >= set(ALLOWED_EXTENSIONS)


HOSTILE_NAMES = [
    ("../x.pdf", "chemin"),
    ("a/b.pdf", "chemin"),
    ("a\\b.pdf", "chemin"),
    ("..\\..\\windows\\x.pdf", "chemin"),
    ("/etc/passwd.txt", "chemin"),
    ("C:x.pdf", "chemin"),
    ("x.pdf:flux", "chemin"),
    ("x\x00.pdf", "contrôle"),
    ("x\n.pdf", "contrôle"),
    ("x\r\n.pdf", "contrôle"),
    ("x\x1b[31m.pdf", "contrôle"),
    ("x\x85.pdf", "contrôle"),
    ("facture\u202efdp.exe", "invisible"),  # displays as "factureexe.pdf"
    ("fac\u200bture.pdf", "invisible"),
    ("x\u2028.pdf", "invisible"),
    ("", "pas de nom"),
    ("   ", "pas de nom"),
    (".pdf", "rien avant"),
    ("..pdf", "rien avant"),
    ("facture", "pas d'extension"),
    ("facture.pdf.", "pas d'extension"),
    ("facture.exe", ".exe"),
    ("facture.pdf.exe", ".exe"),
    ("facture.php", ".php"),
    ("facture.svgz", ".svgz"),
    ("CON.pdf", "réservé"),
    ("lpt1.tar.gz", "réservé"),
    ("x" * 47 + ".pdf", "51 caractères"),
]


@pytest.mark.parametrize(("name", "words"), HOSTILE_NAMES, ids=[repr(n) for n, _ in HOSTILE_NAMES])
def test_hostile_names_are_refused(name, words):
    with pytest.raises(AttachmentRefused) as caught:
        check_attachment(name, PDF)
    assert words in caught.value.message_fr
    assert caught.value.name is None or "\x00" not in caught.value.name  # the name shown is printable


def test_names_are_cleaned_not_mangled():
    assert clean_name("  facture.pdf ") == "facture.pdf"
    assert clean_name("Re\u0301cap.pdf") == "R\u00e9cap.pdf"  # NFC
    assert clean_name("x" * 46 + ".pdf") == "x" * 46 + ".pdf"  # 50 characters: the limit
    assert clean_name("facture..v2.pdf") == "facture..v2.pdf"
    with pytest.raises(AttachmentRefused):
        clean_name(b"facture.pdf")


EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56 + b"This program cannot be run in DOS mode"
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                  b"<lolz>&lol2;</lolz>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
SVG_WITH_DTD = (b'<!DOCTYPE svg [<!ENTITY e "x">]><svg xmlns="http://www.w3.org/2000/svg">&e;</svg>')

HOSTILE_CONTENTS = [
    ("facture.pdf", PNG, "un document PDF"),
    ("facture.pdf", EXE, "un document PDF"),
    ("facture.pdf", HTML, "un document PDF"),
    ("facture.pdf", b"\x00" * 1100 + b"%PDF-1.7", "un document PDF"),  # header too far
    ("facture.pdf", DOC, "un document PDF"),
    ("photo.jpg", b"\xff\xd8", "une image JPEG"),
    ("photo.png", JPEG, "une image PNG"),
    ("scan.bmp", b"BM, voici du texte qui commence comme un BMP.", "une image BMP"),
    ("memoire.docx", ZIP, "un document Word"),
    ("situation.xlsx", DOCX, "un classeur Excel"),
    ("cr.odt", ODS, "un texte OpenDocument"),
    ("cr.odt", DOCX, "un texte OpenDocument"),
    ("pieces.zip", b"PK\x03\x04 pas vraiment une archive", "une archive ZIP"),
    ("archive.bz2", GZ, "une archive bzip2"),
    ("archive.gz", BZ2, "une archive gzip"),
    ("ancien.doc", DOCX, "Word 97-2003"),
    ("signature.p7s", b"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n", "PKCS #7"),
    ("signature.p7s", b"\x30\x82\x01\x00" + b"\x06\x03\x55\x04\x03" + b"\x00" * 20, "PKCS #7"),  # not signedData
    ("note.txt", PNG, "un fichier texte"),
    ("note.txt", b"texte\x00cache", "un fichier texte"),
    ("lots.csv", "lot;montant\n".encode("utf-16"), "un fichier texte (CSV)"),
    ("note.txt", b"bonjour\x07\x08", "un fichier texte"),
    ("factur-x.xml", BILLION_LAUGHS, "XML bien formé, sans DTD"),
    ("factur-x.xml", XXE, "XML bien formé, sans DTD"),
    ("factur-x.xml", b"<Invoice><ID>F-1</Invoice>", "XML bien formé"),
    ("factur-x.xml", b"pas du xml", "XML bien formé"),
    ("logo.svg", SVG_WITH_DTD, "SVG"),
    ("logo.svg", XML, "SVG"),
    ("page.html", EXE, "une page HTML"),
]


@pytest.mark.parametrize(("name", "content", "expected"), HOSTILE_CONTENTS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(HOSTILE_CONTENTS)])
def test_content_must_match_its_extension(name, content, expected):
    with pytest.raises(AttachmentRefused) as caught:
        check_attachment(name, content)
    assert caught.value.name == name
    assert "ne correspond pas à son extension" in caught.value.message_fr
    assert expected in caught.value.message_fr


def test_sizes():
    with pytest.raises(AttachmentRefused, match="est vide"):
        check_attachment("facture.pdf", b"")
    just_under = PDF + b"\x00" * (FILE_MAX_BYTES - 1 - len(PDF))
    assert check_attachment("facture.pdf", just_under) == "facture.pdf"
    with pytest.raises(AttachmentRefused, match="moins de 10 Mo"):
        check_attachment("facture.pdf", just_under + b"\x00")
    with pytest.raises(TypeError):
        check_attachment("facture.pdf", "texte")


def test_a_piece_s_attachments_together():
    nine_and_a_half = PDF + b"\x00" * (9 * MB + MB // 2)
    files = [(f"annexe-{i}.pdf", nine_and_a_half) for i in range(12)]
    assert check_attachments(files) == [f"annexe-{i}.pdf" for i in range(12)]  # 114 Mo
    with pytest.raises(AttachmentRefused, match="120 Mo") as caught:
        check_attachments(files + [("annexe-12.pdf", nine_and_a_half)])
    assert caught.value.name is None
    with pytest.raises(AttachmentRefused, match="Deux fichiers") as caught:
        check_attachments([("Plan.pdf", PDF), ("plan.PDF", PDF)])
    assert check_attachments([]) == []
    with pytest.raises(AttachmentRefused, match="chemin"):
        check_attachments([("ok.pdf", PDF), ("../ko.pdf", PDF)])


def test_main_document_is_a_pdf():
    assert check_main_document("facture.pdf", PDF) == "facture.pdf"
    with pytest.raises(AttachmentRefused, match="PDF"):
        check_main_document("facture.xml", XML)
