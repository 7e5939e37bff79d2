"""Private invoices between companies follow commercial law (issue 15): the payment term within the L. 441-10
ceilings, penalties at the ECB rate + 10 points, the 40 € of D. 441-5 — and nothing of public procurement (no délai
global de paiement, no R. 2192-31) on their PDF or Factur-X; the seller's VAT number printed and carried (BT-31)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from chorus_chain.documents import from_pieces
from chorus_chain.documents.facturx_out import build_cii_xml
from chorus_chain.documents.templates import invoice_html
from chorus_chain.domain import commercial_terms as commercial

PUBLIC_ONLY = ("délai global de paiement", "2192", "commande publique", "8 points")


def test_due_dates_and_ceilings():
    assert commercial.due_date(date(2026, 3, 10)) == date(2026, 4, 9)  # 30 days by default
    assert commercial.due_date(date(2026, 3, 10), 60) == date(2026, 5, 9)
    assert commercial.due_date(date(2026, 3, 10), 45, end_of_month=True) == date(2026, 4, 30)
    with pytest.raises(commercial.TermsRefused, match="60 jours"):
        commercial.due_date(date(2026, 3, 10), 61)
    with pytest.raises(commercial.TermsRefused, match="45 jours fin de mois"):
        commercial.check_term(50, end_of_month=True)
    assert commercial.days_overdue(date(2026, 4, 9), date(2026, 4, 19), paid=False) == 10
    assert commercial.days_overdue(date(2026, 4, 9), date(2026, 4, 19), paid=True) == 0
    assert commercial.days_overdue(date(2026, 4, 9), date(2026, 4, 9), paid=False) == 0


def _structure(name, siret, vat):
    return SimpleNamespace(name=name, siret=siret, vat_number=vat, is_public=False, address_line="12 rue des Artisans",
                           postal_code="49300", city="Cholet", legal_form="SARL", share_capital=Decimal("10000"),
                           registration="RCS Angers 534 039 094")


def _piece(cadre):
    return SimpleNamespace(is_draft=False, vat_regime="normal", montant_ht=Decimal("3000.00"),
                           montant_tva=Decimal("600.00"), montant_ttc=Decimal("3600.00"), piece_type="FACTURE",
                           cadre=cadre, number="PP-2026-001", issue_date=date(2026, 3, 1), payment_mode="virement",
                           service_code=None, engagement_number=None)


MARCHE = SimpleNamespace(reference="DEMO-TRAVAUX-2026", objet="Réhabilitation", tva_rate=Decimal("20.00"),
                         dgp_days=30)
SELLER = _structure("Peinture Petit & Fils", "53403909400014", "FR13534039094")
BUYER = from_pieces.party_of(_structure("Plâtrerie Leroy", "51201318600014", "FR47512013186"))


def test_a_private_invoice_prints_and_carries_commercial_law_only():
    doc = from_pieces.invoice_of(_piece(None), marche=MARCHE, seller=SELLER, buyer=BUYER)
    assert doc.due_date == date(2026, 3, 31)
    html = invoice_html(doc)
    xml = build_cii_xml(doc).decode("utf-8")
    for text in (html, xml):
        assert "L. 441-10" in text and "10 points" in text and "40 €" in text
        for public in PUBLIC_ONLY:
            assert public not in text, public
    assert "FR13534039094" in html  # the seller's VAT number, printed…
    assert '<ram:ID schemeID="VA">FR13534039094</ram:ID>' in xml  # …and carried (BT-31)


def test_a_public_invoice_keeps_the_public_rules():
    doc = from_pieces.invoice_of(_piece("A9"), marche=MARCHE, seller=SELLER, buyer=BUYER)
    assert "délai global de paiement" in doc.payment_terms and "R. 2192-31" in doc.late_penalty_terms
