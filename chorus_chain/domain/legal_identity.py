"""The legal identity a company prints under its name: legal form, share capital, registration (RCS / RM).

Why: the code de commerce (art. R. 123-237) asks every registered company to show, on its invoices, order forms and
letters, its legal form and share capital and its registration ("RCS" + the city of the greffe + the SIREN, or "RM"
+ the département for a craftsman); the CGI (annexe II, art. 242 nonies A) lists the seller's identity among the
mentions of an invoice. The structure stores the three parts; this module checks what the gestionnaire types and
composes the one sentence every document prints ("SAS au capital de 50 000,00 € — RCS Angers 512 345 678"), the PDF
and the Factur-X XML (BT-33) alike, so that they never say two different things.

Pure: no Flask, no database. Refusals are `InvalidLegalIdentity`, whose text is a French sentence for the form.
"""
from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_currency

from chorus_chain.domain.decimals import DecimalRefused, read_decimal

LEGAL_FORM_MAX = 60
REGISTRATION_MAX = 120
SEPARATOR = " — "

LEGAL_FORMS = (
    "SAS", "SASU", "SARL", "EURL", "SA", "SNC", "SCOP", "SCIC", "EI", "Micro-entreprise", "GIE",
    "Association", "Établissement public", "Collectivité territoriale",
)
"""Suggestions offered by the form (a datalist): the field stays free text, forms are many (SCOP SA à capital
variable, SELARL…)."""

# A number as people type a SIREN inside a registration: digits, possibly grouped by spaces ("512 345 678").
_NUMBER = re.compile("\\d(?:[ \u00a0\u202f]?\\d)*")


class InvalidLegalIdentity(ValueError):
    """A refusal the user reads: str(exc) is a French sentence; `field` names the form field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())


def clean_legal_form(value: str | None) -> str | None:
    """The legal form on one line, or None when empty."""
    text = _one_line(value)
    if len(text) > LEGAL_FORM_MAX:
        raise InvalidLegalIdentity(f"La forme juridique compte {LEGAL_FORM_MAX} caractères au plus.", "legal_form")
    return text or None


def clean_share_capital(value: object) -> Decimal | None:
    """The share capital in euros with two decimals ("50 000", "1 500,50 €"), or None when empty; never negative."""
    try:
        amount = read_decimal(value, 2)
    except DecimalRefused as refused:
        raise InvalidLegalIdentity(f"Capital social {refused.reason_fr} : indiquez un montant en euros, par "
                                   "exemple 50 000 ou 1 500,50.", "share_capital") from None
    if amount is not None and amount < 0:
        raise InvalidLegalIdentity("Le capital social ne peut pas être négatif.", "share_capital")
    return amount


def clean_registration(value: str | None, siren: str) -> str | None:
    """The registration on one line ("RCS Angers 512 345 678", "RM 49"), or None when empty.

    The number of an RCS or RM registration is the company's SIREN (C. com. R. 123-237): a nine-digit number that is
    not this structure's SIREN is a typing slip (or another company's number) and is refused rather than printed on
    every invoice."""
    text = _one_line(value)
    if len(text) > REGISTRATION_MAX:
        raise InvalidLegalIdentity(f"L'immatriculation compte {REGISTRATION_MAX} caractères au plus.",
                                   "registration")
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(digits) == 9 and digits != siren:
            raise InvalidLegalIdentity(
                f"Le numéro d'immatriculation {match.group()} n'est pas le SIREN de la structure "
                f"({siren[:3]} {siren[3:6]} {siren[6:]}) : au RCS comme au RM, c'est le SIREN qui est inscrit.",
                "registration")
    return text or None


def legal_mention(legal_form: str | None, share_capital: Decimal | None, registration: str | None) -> str:
    """The sentence printed under the company's name, "" when nothing is known.

    "SAS au capital de 50 000,00 € — RCS Angers 512 345 678"; "EI — RM 49"; "Capital social : 1 000,00 €" when the
    form is missing (the capital is still worth saying)."""
    form = _one_line(legal_form)
    parts = []
    if share_capital is not None:
        # Babel's French currency format, as formatting.money prints every amount: "50 000,00 €".
        capital = format_currency(share_capital, "EUR", locale="fr_FR")
        parts.append(f"{form} au capital de {capital}" if form else f"Capital social : {capital}")
    elif form:
        parts.append(form)
    registration = _one_line(registration)
    if registration:
        parts.append(registration)
    return SEPARATOR.join(parts)
