"""Piece numbers and dossier numbers.

A piece number is chosen by its depositor (its own invoice numbering) and must pass Chorus Pro: 1 to 20 characters,
ASCII letters, digits and "-", "_", "/", "." only — no spaces, no accents [assumed: the strictest common reading of
Chorus Pro's rule]. It is unique per depositor and never reused, even after a rejection (CHORUS.md §7); uniqueness
ignores case (`number_key`), so "f-12" cannot sit beside "F-12" and confuse the paying office.

A dossier number ties together the pieces of one payment (projet de décompte, état d'acompte, validated état...):
"DOS-<year>-<at least 6 digits>", given by the platform (its sequence is the first piece's id: a platform past a
million pieces writes DOS-2026-1000001, up to the 20 characters of the column).
"""

from __future__ import annotations

import re

NUMBER_MAX_LENGTH = 20
NUMBER_ALLOWED = re.compile(r"^[A-Za-z0-9\-_/.]+$")
NUMBER_PUNCTUATION = "-_/."

DOSSIER_PREFIX = "DOS"
DOSSIER_SEQ_MAX = 99_999_999_999  # "DOS-YYYY-" + 11 digits = the 20 characters of piece.dossier_number
DOSSIER_PATTERN = re.compile(r"^DOS-(?P<year>\d{4})-(?P<seq>\d{6,11})$")


class NumberRefused(ValueError):
    """A user-facing refusal of a number: `message_fr` (also `str(exc)`) and the form `field`."""

    def __init__(self, message_fr: str, field: str = "number") -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.field = field


def clean_piece_number(value: str) -> str:
    """The piece number as typed, without surrounding spaces, or NumberRefused with a French message."""
    if not isinstance(value, str) or not value.strip():
        raise NumberRefused("Indiquez le numéro de la pièce.")
    number = value.strip()
    if len(number) > NUMBER_MAX_LENGTH:
        raise NumberRefused(
            f"Le numéro compte {len(number)} caractères : Chorus Pro en accepte {NUMBER_MAX_LENGTH} au plus."
        )
    if any(ch.isspace() for ch in number):
        raise NumberRefused("Le numéro ne doit pas contenir d'espace : utilisez un tiret (par exemple F-2026-001).")
    if not NUMBER_ALLOWED.match(number):
        bad = sorted({ch for ch in number if not (ch.isascii() and (ch.isalnum() or ch in NUMBER_PUNCTUATION))})
        shown = " ".join(f"« {ch} »" if ch.isprintable() else "un caractère invisible" for ch in bad)
        raise NumberRefused(
            f"Caractères non acceptés dans le numéro : {shown}. Utilisez des lettres sans accent, des chiffres et "
            "les signes - _ / ."
        )
    if not any(ch.isalnum() for ch in number):
        raise NumberRefused("Le numéro doit comporter au moins une lettre ou un chiffre.")
    return number


def number_key(number: str) -> str:
    """The key under which a depositor's numbers are unique (case ignored)."""
    return clean_piece_number(number).upper()


def number_for_filename(number: str) -> str:
    """The number as part of a file name (a PDF of the piece): "/" would be a directory, so it becomes "-"."""
    return clean_piece_number(number).replace("/", "-")


def format_dossier_number(year: int, seq: int) -> str:
    """"DOS-2026-000042" for the 42nd dossier of 2026; past 999 999 the number simply grows ("DOS-2026-1000001")."""
    if not 2000 <= year <= 9999 or not 1 <= seq <= DOSSIER_SEQ_MAX:
        raise ValueError(f"dossier number out of range: year={year}, seq={seq}")
    return f"{DOSSIER_PREFIX}-{year:04d}-{seq:06d}"


def parse_dossier_number(value: str) -> tuple[int, int]:
    """(year, seq) of a dossier number as typed in a search box, or NumberRefused."""
    match = DOSSIER_PATTERN.match(value.strip().upper()) if isinstance(value, str) else None
    if match is None or int(match["seq"]) == 0:
        raise NumberRefused("Un numéro de dossier s'écrit DOS-AAAA-NNNNNN, par exemple DOS-2026-000042.",
                            field="dossier")
    return int(match["year"]), int(match["seq"])
