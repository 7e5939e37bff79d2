"""HTML → PDF with WeasyPrint, through a locked URL fetcher: A4, French, local fonts, PDF/A-3b on demand.

Why a locked fetcher: WeasyPrint fetches whatever a document points at — stylesheets, images, fonts, SVG
references, `<a rel=attachment>` — by HTTP(S), FTP, `file://` or `data:`. A PDF job runs on a worker that can reach
the database and the internal network; one template bug or one unescaped value would let it read `/etc/passwd` into
a PDF or call an internal URL. So the fetcher serves **only regular files under the repository's `static/` folder**
and refuses everything else.

What `LockedFetcher` accepts:
- `file:` URLs with an empty or `localhost` host whose real path (symlinks resolved) lies inside the static root,
  names a regular file under `STATIC_FILE_MAX_BYTES`; a `..` segment (also percent-encoded) is refused outright, even
  when it would land back inside;
- `data:image/png|jpeg|gif;base64,…` up to `DATA_IMAGE_MAX_BYTES` decoded: a raster image inline (a structure's logo
  kept in the database) reads nothing and reaches nothing. SVG, CSS, HTML and any other `data:` type are refused:
  they can point at further resources.
What it refuses: `http`, `https`, `ftp` and every other scheme, absolute paths outside the root, symlinks leading
out, directories, devices, missing files.

Why refusals are fatal: WeasyPrint normally logs a failed fetch and renders without the resource. A refused URL is a
bug in a template or an injected value, and a legal document silently missing its logo or stylesheet is worse than
no document: `render_pdf` raises `ResourceRefused` (a plain `ValueError`) and no PDF is produced. The refusal stops
WeasyPrint at once (a `FatalURLFetchingError`); where WeasyPrint swallows even that (drawing an inline SVG), the
per-render fetcher remembers the refusal and `render_pdf` raises it after the layout.

Fonts: the templates name "DejaVu Sans" (Debian's fonts-dejavu-core, found by fontconfig); no `@font-face` URL is
needed, and one pointing anywhere but `static/` would be refused like any other URL.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pydyf
from weasyprint import HTML, Attachment
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

# fontTools stamps each embedded font subset with the current time (its `head.modified`) unless SOURCE_DATE_EPOCH is
# set: without this, the same document rendered a second later gives other bytes, and a PDF could not be cached nor
# fingerprinted by its content. A fixed epoch (the reproducible-builds convention) keeps renderings byte-identical.
os.environ.setdefault("SOURCE_DATE_EPOCH", "0")

REPO_ROOT = Path(__file__).resolve().parents[2]
STATIC_ROOT = REPO_ROOT / "static"
STATIC_BASE_URL = STATIC_ROOT.as_uri() + "/"

STATIC_FILE_MAX_BYTES = 5 * 1024 * 1024
DATA_IMAGE_MAX_BYTES = 256 * 1024
_DATA_IMAGE = re.compile(r"^data:(image/(?:png|jpeg|gif));base64,(.*)$", re.IGNORECASE | re.DOTALL)
_DATA_IMAGE_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
                     "image/gif": (b"GIF87a", b"GIF89a")}

PDFA_VARIANT = "pdf/a-3b"


class ResourceRefused(ValueError):
    """A URL the locked fetcher will not serve; `url` says which, `reason` why (English: a programming error)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused to fetch {url[:200]!r}: {reason}")
        self.url = url
        self.reason = reason


class _Refusal(FatalURLFetchingError):
    """Carries a ResourceRefused through WeasyPrint: a FatalURLFetchingError is the one kind it does not swallow."""

    def __init__(self, refused: ResourceRefused) -> None:
        super().__init__(str(refused))
        self.refused = refused


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF (PDF/A-3 allows any file, with its relationship to the document)."""

    name: str
    content: bytes
    description: str = ""
    relationship: str = "Data"
    """PDF 2.0 AFRelationship: Source, Data, Alternative, Supplement or Unspecified."""


def _read_regular_file(path: Path) -> bytes:
    """The bytes of `path`, opened without following a symlink (were it swapped after the check) and checked on the
    open descriptor: a regular file of at most STATIC_FILE_MAX_BYTES."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > STATIC_FILE_MAX_BYTES:
            raise ValueError("file too large")
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read(STATIC_FILE_MAX_BYTES + 1)


class LockedFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves the files of one folder and nothing else (see the module docstring).

    It subclasses `URLFetcher` only to be accepted by WeasyPrint; none of urllib's handlers is ever called."""

    def __init__(self, root: Path | str = STATIC_ROOT) -> None:
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False, fail_on_errors=True)
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise ValueError(f"static root {self.root} is not a directory")
        self.refused: list[ResourceRefused] = []

    def for_one_render(self) -> LockedFetcher:
        """A fresh fetcher on the same root, whose `refused` list belongs to one rendering."""
        return LockedFetcher(self.root)

    # WeasyPrint calls fetch(url) (or the instance itself); urllib's open() is never reached.
    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        try:
            return self.serve(url)
        except ResourceRefused as refused:
            self.refused.append(refused)
            raise _Refusal(refused) from None

    def open(self, url, data=None, timeout=None):  # noqa: ARG002 - urllib's signature
        raise _Refusal(ResourceRefused(str(url), "urllib access is disabled"))

    def serve(self, url: str) -> URLFetcherResponse:
        """The response for `url`, or ResourceRefused."""
        if not isinstance(url, str):
            raise ResourceRefused(repr(url), "not a string")
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return self._data_image(url)
        if scheme != "file":
            raise ResourceRefused(url, f"scheme {scheme or '(none)'!r} is not served")
        return self._static_file(url)

    def _static_file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ResourceRefused(url, "a file URL with a host")
        raw = unquote(parts.path)
        if "\x00" in raw or "\\" in raw:
            raise ResourceRefused(url, "NUL or backslash in the path")
        if any(segment == ".." for segment in raw.split("/")):
            raise ResourceRefused(url, "'..' in the path")
        if not raw.startswith("/"):
            raise ResourceRefused(url, "not an absolute file path")
        try:
            real = Path(raw).resolve(strict=True)
        except (OSError, RuntimeError):
            raise ResourceRefused(url, "no such file") from None
        if not real.is_relative_to(self.root):
            raise ResourceRefused(url, "outside the static folder")
        try:
            body = _read_regular_file(real)
        except OSError as error:
            raise ResourceRefused(url, f"unreadable ({error.strerror})") from None
        except ValueError as error:
            raise ResourceRefused(url, str(error)) from None
        mime = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        headers = {"Content-Type": f"{mime}; charset=utf-8" if mime.startswith("text/") else mime}
        return URLFetcherResponse(real.as_uri(), body, headers)

    def _data_image(self, url: str) -> URLFetcherResponse:
        match = _DATA_IMAGE.match(url)
        if match is None:
            raise ResourceRefused(url, "only base64 PNG, JPEG or GIF data: URLs are served")
        if len(match[2]) > DATA_IMAGE_MAX_BYTES * 4 // 3 + 4:
            raise ResourceRefused(url, "data: image too large")
        try:
            body = base64.b64decode(match[2], validate=True)
        except (binascii.Error, ValueError):
            raise ResourceRefused(url, "invalid base64") from None
        mime = match[1].lower()
        if not body.startswith(_DATA_IMAGE_MAGIC[mime]):
            raise ResourceRefused(url, f"content is not {mime}")
        return URLFetcherResponse("data:", body, {"Content-Type": mime})


_DEFAULT_FETCHER: LockedFetcher | None = None


def default_fetcher() -> LockedFetcher:
    """The fetcher locked on the repository's static/ folder, built once; `render_pdf` derives a fresh one per
    rendering from it (`for_one_render`), so that refusals never leak from one document into another."""
    global _DEFAULT_FETCHER
    if _DEFAULT_FETCHER is None:
        _DEFAULT_FETCHER = LockedFetcher(STATIC_ROOT)
    return _DEFAULT_FETCHER


def render_pdf(
    html: str,
    *,
    base_url: str = STATIC_BASE_URL,
    pdfa: bool = False,
    attachments: Sequence[PdfAttachment] = (),
    fetcher: LockedFetcher | None = None,
    producer: str | None = None,
) -> bytes:
    """The PDF of `html`. Relative URLs resolve against `base_url` (the static folder by default), but whatever the
    base, only what `fetcher` (locked on static/) serves is read. `pdfa=True` writes PDF/A-3b (the archival variant
    Factur-X requires), and `attachments` are embedded files. A4, margins and page numbers come from the templates'
    CSS (`@page`), not from here: this function adds nothing to the HTML, so the benchmark compares like with like.

    `producer` replaces WeasyPrint's name in the document information dictionary: PDF/A wants it to agree with the
    XMP metadata, which the factur-x library rewrites with its own producer (see `facturx_out.facturx_pdf`).

    Raises ResourceRefused when the document points at anything the fetcher refuses."""
    fetcher = (fetcher or default_fetcher()).for_one_render()
    options: dict[str, object] = {}
    if producer is not None:
        def set_producer(_document: object, pdf: pydyf.PDF) -> None:
            pdf.info["Producer"] = pydyf.String(producer)

        options["finisher"] = set_producer
    if pdfa:
        options["pdf_variant"] = PDFA_VARIANT
    if attachments:
        options["attachments"] = [
            Attachment(string=item.content, name=item.name, description=item.description or None,
                       relationship=item.relationship, url_fetcher=fetcher)
            for item in attachments
        ]
    try:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
        pdf = document.write_pdf(**options)
    except _Refusal as refusal:
        raise refusal.refused from None
    except FatalURLFetchingError as error:  # anything else failing inside the fetcher
        raise ResourceRefused("?", str(error)) from error.__cause__
    if fetcher.refused:  # a refusal WeasyPrint swallowed (it catches everything while drawing an SVG)
        raise fetcher.refused[0]
    return pdf
