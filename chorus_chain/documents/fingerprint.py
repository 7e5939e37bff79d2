"""The SHA-256 fingerprint of a document's data, printed in the footer of every PDF.

Why over the data and not over the PDF file:
- a PDF cannot contain its own hash;
- the same piece rendered twice gives different bytes (creation date, font subsets, WeasyPrint's version), while its
  data, hence its fingerprint, stays the same: the fingerprint identifies *what the document says*;
- anyone holding the export JSON can recompute it and compare it with the printed one, without our software.

The canonical form follows the audit chain's (`domain.audit_chain`): JSON with sorted keys, no spaces, UTF-8;
Decimals as plain strings with at least two decimals ("20.00", "5.50", "0.125"); dates "YYYY-MM-DD"; instants in UTC
with microseconds (naive datetimes refused); enums by value; tuples as lists; strings normalised to Unicode NFC (the
same name typed with a composed or a decomposed "é" is the same name). The document's class name and a version
number are hashed with its fields, so that an invoice and a fiche with the same fields never share a fingerprint and
a future change of the canonical form can be told apart.

    fingerprint = SHA-256(canonical_json({"type": <class name>, "version": 1, "data": <fields>})), lower-case hex
"""

from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from enum import Enum
from typing import Any

from chorus_chain.domain.audit_chain import canonical_json

VERSION = 1


def _plain(value: Any) -> Any:
    """The JSON-ready shape of a document's value; what `canonical_json` cannot hash stays as is (and is refused)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, str):
        return unicodedata.normalize("NFC", str(value))
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    return value


def canonical_document(doc: Any) -> str:
    """The one text that is hashed for `doc` (a dataclass of `documents.model`)."""
    if not dataclasses.is_dataclass(doc) or isinstance(doc, type):
        raise TypeError(f"a document is a dataclass instance, not {type(doc).__name__}")
    return canonical_json({"type": type(doc).__name__, "version": VERSION, "data": _plain(doc)})


def fingerprint(doc: Any) -> str:
    """SHA-256 of `canonical_document(doc)`, 64 lower-case hex digits."""
    return hashlib.sha256(canonical_document(doc).encode("utf-8")).hexdigest()
