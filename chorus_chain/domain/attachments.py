"""The Chorus Pro rules for attachments, as data, and the checks every uploaded file goes through before it is kept.

Why check the content: a file named "facture.pdf" that is really an executable, an HTML page or a ZIP would be handed
to the next company of the chain, who trusts the platform. So the name is checked (Chorus Pro's limits, no path
parts, no control characters that could disguise the extension), the size (Chorus Pro's limits), and the content
against the extension by its signature ("magic bytes"), or, for text formats, by decoding it (DESIGN.md §3 rule 9).
XML and SVG are parsed with defusedxml, refusing DTDs and entities (billion laughs, external entities).

Sizes: "10 Mo" and "120 Mo" are read as binary megabytes (10 × 1024 × 1024 bytes), the way operating systems show
file sizes to the people who pick them. A file must be strictly smaller than 10 Mo; all the files of a piece
together at most 120 Mo (CHORUS.md §5).

Whatever passes here is still served as a download (`Content-Disposition: attachment`, `X-Content-Type-Options:
nosniff`), never inline: an HTML or SVG attachment is only checked to be text, not sanitised.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from defusedxml import ElementTree as SafeElementTree
from defusedxml.common import DefusedXmlException

MB = 1024 * 1024
NAME_MAX_LENGTH = 50
FILE_MAX_BYTES = 10 * MB  # strictly less
TOTAL_MAX_BYTES = 120 * MB  # at most

# Windows device names: a file called so cannot be saved by whoever downloads it.
_RESERVED_STEMS = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
)


class AttachmentRefused(ValueError):
    """A user-facing refusal of one file (or of the set): `message_fr` and the file `name` concerned (None for the
    set as a whole)."""

    def __init__(self, message_fr: str, name: str | None = None) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.name = name


# ---------------------------------------------------------------------------------------------------------------------
# Content checks

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"
SIGNED_DATA_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"  # 1.2.840.113549.1.7.2 (PKCS #7 signedData)
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}
_TEXT_CONTROLS_ALLOWED = {"\t", "\n", "\r", "\f"}


def _is_pdf(content: bytes) -> bool:
    # Readers accept the header anywhere in the first 1024 bytes (PDF 1.7, implementation note 13).
    return b"%PDF-" in content[:1024]


def _is_png(content: bytes) -> bool:
    return content.startswith(b"\x89PNG\r\n\x1a\n")


def _is_jpeg(content: bytes) -> bool:
    return content.startswith(b"\xff\xd8\xff")


def _is_gif(content: bytes) -> bool:
    return content[:6] in (b"GIF87a", b"GIF89a")


def _is_bmp(content: bytes) -> bool:
    # "BM" alone is too weak (any text starting with "BM"): also require a known DIB header size at offset 14.
    return (len(content) >= 26 and content.startswith(b"BM")
            and int.from_bytes(content[14:18], "little") in _BMP_DIB_SIZES)


def _is_tiff(content: bytes) -> bool:
    return content[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _is_gzip(content: bytes) -> bool:
    return content.startswith(b"\x1f\x8b\x08")


def _is_bzip2(content: bytes) -> bool:
    return len(content) >= 4 and content.startswith(b"BZh") and content[3:4] in b"123456789"


def _is_ole2(content: bytes) -> bool:
    return content.startswith(OLE2)


def _is_rtf(content: bytes) -> bool:
    return content.startswith(b"{\\rtf")


def _is_p7s(content: bytes) -> bool:
    """A DER (or BER, indefinite length) PKCS #7 / CMS signature: a SEQUENCE whose first element is the signedData
    OID."""
    if len(content) < 15 or content[0] != 0x30:
        return False
    length_byte = content[1]
    header = 2 if length_byte < 0x80 or length_byte == 0x80 else 2 + (length_byte & 0x7F)
    return content[header:header + len(SIGNED_DATA_OID)] == SIGNED_DATA_OID


def _zip_names(content: bytes) -> list[str] | None:
    """The entry names of a ZIP archive, read from its central directory (nothing is decompressed), or None."""
    if not content.startswith(ZIP_LOCAL):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        return None


def _is_zip(content: bytes) -> bool:
    return content.startswith(ZIP_EMPTY) or _zip_names(content) is not None


def _ooxml(part: str) -> Callable[[bytes], bool]:
    """An Office Open XML document (docx, xlsx, pptx): a ZIP with its content types and its main part."""
    def check(content: bytes) -> bool:
        names = _zip_names(content)
        return names is not None and "[Content_Types].xml" in names and part in names
    return check


def _odf(mimetype: str) -> Callable[[bytes], bool]:
    """An OpenDocument file: a ZIP whose first entry is "mimetype", stored uncompressed, holding its media type —
    visible at a fixed offset of the first local header (ODF 1.2, part 3, §3.3)."""
    expected = mimetype.encode("ascii")

    def check(content: bytes) -> bool:
        if _zip_names(content) is None or len(content) < 30:
            return False
        name_length = int.from_bytes(content[26:28], "little")
        extra_length = int.from_bytes(content[28:30], "little")
        data = 30 + name_length + extra_length
        return content[30:30 + name_length] == b"mimetype" and content[data:data + len(expected)] == expected
    return check


def _decoded_text(content: bytes) -> str | None:
    """The text of a file that is UTF-8 (with or without BOM) or Latin-1 / Windows-1252, with no NUL and no control
    character other than tab, line feed, carriage return and form feed; None for anything else (binary, UTF-16)."""
    if b"\x00" in content:
        return None
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS_ALLOWED for ch in text):
            return None
        return text
    return None  # pragma: no cover - latin-1 decodes every byte


def _is_text(content: bytes) -> bool:
    return _decoded_text(content) is not None


def _xml_root(content: bytes) -> str | None:
    """The local name of the root element of a well-formed XML document without DTD or entity, or None."""
    if not _is_text(content):
        return None
    try:
        root = SafeElementTree.fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (SafeElementTree.ParseError, DefusedXmlException, ValueError):
        return None
    return root.tag.rsplit("}", 1)[-1]


def _is_xml(content: bytes) -> bool:
    return _xml_root(content) is not None


def _is_svg(content: bytes) -> bool:
    return _xml_root(content) == "svg"


def _is_html(content: bytes) -> bool:
    text = _decoded_text(content)
    return text is not None and "<" in text


@dataclass(frozen=True)
class FileKind:
    """An allowed extension: its French description and the check its content must pass."""

    extension: str
    description: str
    check: Callable[[bytes], bool]


_KINDS: tuple[FileKind, ...] = (
    FileKind("pdf", "un document PDF", _is_pdf),
    FileKind("xml", "un fichier XML bien formé, sans DTD", _is_xml),
    FileKind("csv", "un fichier texte (CSV)", _is_text),
    FileKind("txt", "un fichier texte", _is_text),
    FileKind("rtf", "un document RTF", _is_rtf),
    FileKind("doc", "un document Word 97-2003", _is_ole2),
    FileKind("docx", "un document Word", _ooxml("word/document.xml")),
    FileKind("odt", "un texte OpenDocument", _odf("application/vnd.oasis.opendocument.text")),
    FileKind("ods", "un classeur OpenDocument", _odf("application/vnd.oasis.opendocument.spreadsheet")),
    FileKind("odp", "une présentation OpenDocument", _odf("application/vnd.oasis.opendocument.presentation")),
    FileKind("xls", "un classeur Excel 97-2003", _is_ole2),
    FileKind("xlsx", "un classeur Excel", _ooxml("xl/workbook.xml")),
    FileKind("ppt", "une présentation PowerPoint 97-2003", _is_ole2),
    FileKind("pptx", "une présentation PowerPoint", _ooxml("ppt/presentation.xml")),
    FileKind("htm", "une page HTML (texte)", _is_html),
    FileKind("html", "une page HTML (texte)", _is_html),
    FileKind("jpg", "une image JPEG", _is_jpeg),
    FileKind("jpeg", "une image JPEG", _is_jpeg),
    FileKind("png", "une image PNG", _is_png),
    FileKind("gif", "une image GIF", _is_gif),
    FileKind("bmp", "une image BMP", _is_bmp),
    FileKind("tif", "une image TIFF", _is_tiff),
    FileKind("tiff", "une image TIFF", _is_tiff),
    FileKind("svg", "une image SVG (XML sans DTD)", _is_svg),
    FileKind("p7s", "une signature électronique PKCS #7 (DER)", _is_p7s),
    FileKind("zip", "une archive ZIP", _is_zip),
    FileKind("gz", "une archive gzip", _is_gzip),
    FileKind("tgz", "une archive tar.gz", _is_gzip),
    FileKind("bz2", "une archive bzip2", _is_bzip2),
)
FILE_KINDS: dict[str, FileKind] = {kind.extension: kind for kind in _KINDS}
ALLOWED_EXTENSIONS: tuple[str, ...] = tuple(FILE_KINDS)
_ALLOWED_LIST_FR = ", ".join(ext.upper() for ext in ALLOWED_EXTENSIONS)


# ---------------------------------------------------------------------------------------------------------------------
# Checks


def clean_name(name: str) -> str:
    """The file name to keep (Unicode NFC, surrounding spaces removed), or AttachmentRefused: empty, longer than 50
    characters, with a path part ("/", "\\", ":" — so "../x.pdf" too), a control or invisible formatting character
    (NUL, line breaks, right-to-left override…), a Windows device name, no name before the extension, or an
    extension not allowed."""
    if not isinstance(name, str):
        raise AttachmentRefused("Le nom du fichier est illisible.", None)
    shown = name
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise AttachmentRefused(
            "Le nom du fichier contient un caractère de contrôle ou invisible : renommez le fichier avec des "
            "lettres, des chiffres, des espaces, des tirets ou des points.", _printable(shown))
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise AttachmentRefused("Le fichier n'a pas de nom.", shown)
    if "/" in cleaned or "\\" in cleaned or ":" in cleaned:
        raise AttachmentRefused(
            f"Le nom « {cleaned} » contient un chemin (« / », « \\ » ou « : ») : indiquez seulement le nom du "
            "fichier.", shown)
    if len(cleaned) > NAME_MAX_LENGTH:
        raise AttachmentRefused(
            f"Le nom « {cleaned} » compte {len(cleaned)} caractères : Chorus Pro en accepte {NAME_MAX_LENGTH} au "
            "plus. Raccourcissez-le.", shown)
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or not extension:
        raise AttachmentRefused(
            f"Le nom « {cleaned} » n'a pas d'extension (.pdf, .xml…). Extensions acceptées : {_ALLOWED_LIST_FR}.",
            shown)
    if not stem.strip(" ."):
        raise AttachmentRefused(f"Le nom « {cleaned} » n'a rien avant l'extension.", shown)
    if extension.lower() not in FILE_KINDS:
        raise AttachmentRefused(
            f"Les fichiers .{extension} ne sont pas acceptés par Chorus Pro. Extensions acceptées : "
            f"{_ALLOWED_LIST_FR}.", shown)
    if stem.split(".")[0].strip().upper() in _RESERVED_STEMS:
        raise AttachmentRefused(f"« {cleaned} » est un nom réservé par Windows : renommez le fichier.", shown)
    return cleaned


def _printable(name: str) -> str:
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") else "?" for ch in name)


def extension_of(name: str) -> str:
    """The lower-case extension of a clean name."""
    return name.rpartition(".")[2].lower()


def _size_fr(size: int) -> str:
    return f"{size / MB:.1f}".replace(".", ",") + " Mo"


def check_attachment(name: str, content: bytes) -> str:
    """The clean name of an acceptable attachment, or AttachmentRefused (French) for its name, size or content."""
    cleaned = clean_name(name)
    if not isinstance(content, bytes | bytearray | memoryview):
        raise TypeError("content must be bytes")
    data = bytes(content)
    if not data:
        raise AttachmentRefused(f"Le fichier « {cleaned} » est vide.", cleaned)
    if len(data) >= FILE_MAX_BYTES:
        raise AttachmentRefused(
            f"Le fichier « {cleaned} » pèse {_size_fr(len(data))} : chaque fichier doit faire moins de "
            f"{FILE_MAX_BYTES // MB} Mo.", cleaned)
    kind = FILE_KINDS[extension_of(cleaned)]
    if not kind.check(data):
        raise AttachmentRefused(
            f"Le contenu de « {cleaned} » ne correspond pas à son extension : ce devrait être {kind.description}. "
            "Enregistrez le document dans ce format ou corrigez l'extension.", cleaned)
    return cleaned


def check_attachments(files: Sequence[tuple[str, bytes]]) -> list[str]:
    """The clean names of a piece's attachments, in order, once each file passes `check_attachment`, no two share a
    name (case ignored: they would overwrite each other once downloaded) and all together weigh at most 120 Mo."""
    names: list[str] = []
    seen: set[str] = set()
    total = 0
    for name, content in files:
        cleaned = check_attachment(name, content)
        key = cleaned.casefold()
        if key in seen:
            raise AttachmentRefused(f"Deux fichiers s'appellent « {cleaned} » : renommez l'un d'eux.", cleaned)
        seen.add(key)
        names.append(cleaned)
        total += len(content)
    if total > TOTAL_MAX_BYTES:
        raise AttachmentRefused(
            f"Les fichiers pèsent ensemble {_size_fr(total)} : Chorus Pro accepte {TOTAL_MAX_BYTES // MB} Mo au plus "
            "par pièce.", None)
    return names


def check_main_document(name: str, content: bytes) -> str:
    """The main document of a piece is a PDF (the invoice or décompte itself; Factur-X is a PDF too)."""
    cleaned = check_attachment(name, content)
    if extension_of(cleaned) != "pdf":
        raise AttachmentRefused(f"Le document principal doit être un PDF, pas « {cleaned} ».", cleaned)
    return cleaned
