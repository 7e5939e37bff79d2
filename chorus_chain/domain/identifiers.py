"""Checks of legal identifiers (SIRET, IBAN, BIC, TVA intracommunautaire), with French messages.

python-stdnum implements the checksums, including La Poste's SIRET exception (SIREN 356000000: the digit sum is a
multiple of 5). Each function returns the compact form or raises InvalidIdentifier with a message for the user.
"""
from __future__ import annotations

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva


class InvalidIdentifier(ValueError):
    """A user-facing error: str(exc) is a French sentence."""


def _compact(value: str) -> str:
    """Strip what people type between digits: spaces (also no-break), dots, dashes."""
    return "".join(ch for ch in (value or "") if ch not in " .-\u00a0\u202f\t")


def clean_siret(value: str) -> str:
    compact = _compact(value)
    if not compact:
        raise InvalidIdentifier("Indiquez le numéro SIRET (14 chiffres).")
    if not compact.isdigit() or len(compact) != 14:
        raise InvalidIdentifier("Un SIRET compte exactement 14 chiffres.")
    try:
        return stdnum_siret.validate(compact)
    except ValidationError:
        raise InvalidIdentifier("Ce numéro SIRET n'est pas valide (la clé de contrôle ne correspond pas).") from None


def siren_of(siret: str) -> str:
    return siret[:9]


def clean_iban(value: str) -> str:
    compact = stdnum_iban.compact(value or "")
    if not compact:
        raise InvalidIdentifier("Indiquez l'IBAN.")
    try:
        return stdnum_iban.validate(compact)
    except ValidationError:
        raise InvalidIdentifier("Cet IBAN n'est pas valide : vérifiez chaque caractère.") from None


def clean_bic(value: str) -> str:
    compact = stdnum_bic.compact(value or "")
    if not compact:
        raise InvalidIdentifier("Indiquez le BIC.")
    try:
        return stdnum_bic.validate(compact)
    except ValidationError:
        raise InvalidIdentifier("Ce BIC n'est pas valide (8 ou 11 caractères, par exemple BNPAFRPPXXX).") from None


def clean_vat_number(value: str, siret: str | None = None) -> str:
    """A French VAT number (FR + key + SIREN); when a SIRET is given, it must belong to the same company."""
    compact = stdnum_tva.compact(value or "")
    if not compact:
        raise InvalidIdentifier("Indiquez le numéro de TVA intracommunautaire.")
    try:
        compact = stdnum_tva.validate(compact)
    except ValidationError:
        raise InvalidIdentifier("Ce numéro de TVA intracommunautaire n'est pas valide.") from None
    if siret and compact[-9:].isdigit() and compact[-9:] != siren_of(siret):
        raise InvalidIdentifier("Ce numéro de TVA ne correspond pas au SIREN de la structure.")
    return "FR" + compact if not compact.startswith("FR") else compact


# Postal codes of La Poste begin with the département (01 to 95; Corsica's 2A and 2B both use 20) or, overseas and in
# the collectivités of the Pacific, with three digits. Monaco (980) is served by La Poste too.
OVERSEAS_POSTAL_PREFIXES = frozenset({"971", "972", "973", "974", "975", "976", "977", "978",
                                      "980", "984", "986", "987", "988"})


def clean_postal_code(value: str) -> str:
    """A French postal code: five digits beginning with a département that exists (CEDEX codes included)."""
    compact = "".join(ch for ch in (value or "") if ch not in " \u00a0\u202f")
    if not compact:
        raise InvalidIdentifier("Indiquez le code postal.")
    if not compact.isascii() or not compact.isdigit() or len(compact) != 5:
        raise InvalidIdentifier("Un code postal compte exactement 5 chiffres (par exemple 49100).")
    if not (1 <= int(compact[:2]) <= 95 or compact[:3] in OVERSEAS_POSTAL_PREFIXES):
        raise InvalidIdentifier(f"Ce code postal ne commence pas par un numéro de département existant "
                                f"({compact[:2]}).")
    return compact
