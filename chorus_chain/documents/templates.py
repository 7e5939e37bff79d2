"""The documents' templates (templates/documents/) and the renderers: data → HTML → PDF.

Why a Jinja environment of our own rather than Flask's: the PDFs are rendered by rq jobs, in the tests without an
app, and must not depend on a request (no `url_for`, no `g`, no session). Autoescaping is on for everything and
undefined names raise: a value typed by a user can never become markup or a URL for WeasyPrint to fetch.

Every document has the same frame (`documents/base.html`): the identity block of the structure that issues it, the
title, and on every page a footer with the piece number, the SHA-256 fingerprint of the document's data
(`documents.fingerprint`, over the data, not the PDF: see there) and "Page X / Y" from CSS page counters.
The stylesheet is inlined from `documents/documents.css` so that a document needs no fetch at all.

French formats (Babel, `chorus_chain.formatting`): "12 345,67 €", "28 novembre 2026", "20 %", SIRET "123 456 789 00012".
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from chorus_chain import formatting
from chorus_chain.documents.fingerprint import fingerprint
from chorus_chain.documents.model import (
    AUTOLIQUIDATION_MENTION,
    FLAT_FEE_MENTION,
    UNIT_LABELS_FR,
    AttestationTacitDoc,
    FicheMarcheDoc,
    InterestClaimDoc,
    InvoiceDoc,
    vat_breakdown,
)
from chorus_chain.documents.render import render_pdf

TEMPLATES_ROOT = Path(__file__).resolve().parents[2] / "templates"


# ---------------------------------------------------------------------------------------------------------------------
# Filters


def money(value: Decimal | None) -> str:
    """"12 345,67 €" (narrow no-break space between thousands, no-break space before the sign)."""
    return formatting.money(value)


def long_date(value: date | datetime | None) -> str:
    """"28 novembre 2026"; an instant is shown in Paris time with its hour: "28 novembre 2026 à 14:05"."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        local = value.astimezone(formatting.PARIS)
        return f"{formatting.day(local.date(), 'long')} à {local:%H:%M}"
    return formatting.day(value, "long")


def percent(value: Decimal | None) -> str:
    """"20 %", "5,5 %", "10,15 %": as many decimals as the rate has, no trailing zeros."""
    if value is None:
        return "—"
    return format_decimal(value.normalize(), format="#,##0.####", locale=formatting.LOCALE) + "\u00a0%"


def quantity(value: Decimal) -> str:
    return format_decimal(value.normalize(), format="#,##0.######", locale=formatting.LOCALE)


def siret(value: str | None) -> str:
    """"123 456 789 00012": SIREN by threes, then the NIC (no-break spaces: a SIRET is never cut)."""
    if not value:
        return "—"
    if len(value) != 14:
        return value
    return "\u00a0".join((value[0:3], value[3:6], value[6:9], value[9:]))


def grouped(value: str | None) -> str:
    """An IBAN by groups of four, as printed on a RIB."""
    if not value:
        return "—"
    return "\u00a0".join(value[i:i + 4] for i in range(0, len(value), 4))


def unit_label(code: str) -> str:
    return UNIT_LABELS_FR.get(code, code)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_ROOT)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(money=money, long_date=long_date, percent=percent, quantity=quantity, siret=siret,
                       grouped=grouped, unit_label=unit_label, measure=formatting.measure,
                       bordereau_unit=formatting.unit)
    env.globals.update(AUTOLIQUIDATION_MENTION=AUTOLIQUIDATION_MENTION, FLAT_FEE_MENTION=FLAT_FEE_MENTION)
    return env


def render_html(template: str, **context: Any) -> str:
    """A template of templates/documents/ rendered with `context`."""
    return environment().get_template(f"documents/{template}").render(**context)


# ---------------------------------------------------------------------------------------------------------------------
# HTML of each document


def invoice_html(doc: InvoiceDoc) -> str:
    title = "Avoir" if doc.is_credit_note else "Facture"
    return render_html("invoice.html", doc=doc, issuer=doc.seller, title=title, piece_number=doc.number,
                       fingerprint=fingerprint(doc), vat=vat_breakdown(doc))


def tacit_acceptance_html(doc: AttestationTacitDoc) -> str:
    return render_html("tacit_acceptance.html", doc=doc, issuer=doc.emitter,
                       title="Attestation d'acceptation tacite", piece_number=doc.piece_number,
                       fingerprint=fingerprint(doc))


def interest_claim_html(doc: InterestClaimDoc) -> str:
    return render_html("interest_claim.html", doc=doc, issuer=doc.creditor,
                       title="Demande de paiement des intérêts moratoires", piece_number=doc.number,
                       fingerprint=fingerprint(doc))


def fiche_marche_html(doc: FicheMarcheDoc) -> str:
    return render_html("fiche_marche.html", doc=doc, issuer=doc.issuer, title="Fiche d'identité du marché",
                       piece_number=doc.reference, fingerprint=fingerprint(doc))


# ---------------------------------------------------------------------------------------------------------------------
# PDFs


def invoice_pdf(doc: InvoiceDoc, *, pdfa: bool = False) -> bytes:
    """The invoice or credit note, with every legal mention of a French invoice (see invoice.html)."""
    return render_pdf(invoice_html(doc), pdfa=pdfa)


def tacit_acceptance_pdf(doc: AttestationTacitDoc) -> bytes:
    return render_pdf(tacit_acceptance_html(doc))


def interest_claim_pdf(doc: InterestClaimDoc) -> bytes:
    return render_pdf(interest_claim_html(doc))


def fiche_marche_pdf(doc: FicheMarcheDoc) -> bytes:
    return render_pdf(fiche_marche_html(doc))
