"""Sample documents with valid identifiers and consistent figures: for the tests, the benchmark and the demo.

Why here and not in the tests: the benchmark (bench/pdf_render.py) and the golden tests must render the same pieces,
and a hand-computed sample is the quickest way to look at a template (`python -m chorus_chain.documents.samples`
writes the PDFs to a folder). Every figure below is computed by hand, cent by cent.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from chorus_chain.documents.model import (
    Address,
    AttestationTacitDoc,
    FicheMarcheDoc,
    FicheParty,
    FicheRoute,
    InterestClaimDoc,
    InterestLine,
    InvoiceDoc,
    InvoiceLine,
    InvoiceType,
    Party,
    VatRegime,
)
from chorus_chain.domain.amounts import round_cent

D = Decimal

SELLER = Party(
    name="Bâtiments Rhône-Alpes SAS",
    siret="44306184110004",
    address=Address(("12 rue de la Charité", "Bâtiment B"), "69002", "Lyon"),
    vat_number="FR64443061841",
    legal_info="SAS au capital de 150 000 € – RCS Lyon 443 061 841",
)
BUYER = Party(
    name="Commune de Villeurbanne",
    siret="21690123110002",
    address=Address(("Place Lazare-Goujon",), "69100", "Villeurbanne"),
    vat_number="FR60216901231",
)
SUBCONTRACTOR = Party(
    name="Électricité Dupont SARL",
    siret="83040512210002",
    address=Address(("4 impasse des Lilas",), "69300", "Caluire-et-Cuire"),
    vat_number="FR74830405122",
    legal_info="SARL au capital de 20 000 € – RCS Lyon 830 405 122",
)
MOE = Party(
    name="Atelier d'architecture Martin",
    siret="51234567910008",
    address=Address(("9 quai Saint-Vincent",), "69001", "Lyon"),
    vat_number="FR75512345679",
)

IBAN = "FR7630006000011234567890189"
BIC = "AGRIFRPP"


def invoice(*, autoliquidation: bool = False, credit_note: bool = False) -> InvoiceDoc:
    """An invoice of the titulaire to the commune (20 % and 10 % lines), or a sous-traitant's invoice to the
    titulaire under autoliquidation, or a credit note on the first."""
    if autoliquidation:
        lines = (
            InvoiceLine("Lot 05 – Électricité : tirage des câbles, niveau R+1", D("120"), "MTR", D("18.50"), D("0"),
                        D("2220.00")),
            InvoiceLine("Lot 05 – Tableaux divisionnaires", D("3"), "C62", D("1450.00"), D("0"), D("4350.00")),
        )
        return InvoiceDoc(
            number="ST-2026-0042", invoice_type=InvoiceType.FACTURE, issue_date=date(2026, 11, 28),
            due_date=date(2026, 12, 28), seller=SUBCONTRACTOR, buyer=SELLER, marche_reference="2026-VIL-014",
            service_code="TRAVAUX", engagement_number="EJ-2026-000731", lines=lines, total_ht=D("6570.00"),
            total_tva=D("0.00"), total_ttc=D("6570.00"), vat_regime=VatRegime.AUTOLIQUIDATION,
            payment_terms="Virement à 30 jours à compter de la réception de la demande de paiement",
            iban=IBAN, bic=BIC, delivery_date=date(2026, 11, 30), cadre="A9",
        )
    lines = (
        InvoiceLine("Gros œuvre – fondations, avancement de novembre", D("1"), "LS", D("10288.06"), D("20"),
                    D("10288.06")),
        InvoiceLine("Maçonnerie de façade", D("85.5"), "MTK", D("24.30"), D("20"), D("2077.65")),
        InvoiceLine("Rampe d'accès (travaux d'accessibilité)", D("1"), "LS", D("1200.00"), D("10"), D("1200.00")),
    )
    # 20 %: base 12 365,71 → TVA 2 473,142 → 2 473,14 ; 10 %: base 1 200,00 → 120,00. TVA 2 593,14.
    doc = InvoiceDoc(
        number="F-2026-0117", invoice_type=InvoiceType.FACTURE, issue_date=date(2026, 11, 28),
        due_date=date(2026, 12, 28), seller=SELLER, buyer=BUYER, marche_reference="2026-VIL-014",
        service_code="SERV-TECH-01", engagement_number="EJ-2026-000731", lines=lines, total_ht=D("13565.71"),
        total_tva=D("2593.14"), total_ttc=D("16158.85"),
        payment_terms="Virement à 30 jours à compter de la réception de la demande de paiement",
        iban=IBAN, bic=BIC, delivery_date=date(2026, 11, 30), cadre="A1",
    )
    if credit_note:
        credit_lines = (InvoiceLine("Maçonnerie de façade : métré corrigé", D("10"), "MTK", D("24.30"), D("20"),
                                    D("243.00")),)
        return replace(doc, number="AV-2026-0003", invoice_type=InvoiceType.AVOIR, issue_date=date(2026, 12, 5),
                       due_date=date(2026, 12, 5), lines=credit_lines, total_ht=D("243.00"),
                       total_tva=D("48.60"), total_ttc=D("291.60"), original_invoice_number="F-2026-0117",
                       original_invoice_date=date(2026, 11, 28))
    return doc


def etat_like_invoice(n_lines: int = 45) -> InvoiceDoc:
    """A long invoice shaped like an état d'acompte (one line per price of the bordereau, progress × price): three
    A4 pages with the default 45 lines, the benchmark's document."""
    lines = []
    for i in range(1, n_lines + 1):
        quantity = D(i % 17 + 1) * D("1.5")
        price = D(100 + (i * 37) % 900) + D("0.45")
        lines.append(InvoiceLine(f"Prix n° {i:03d} – ouvrage élémentaire du bordereau, avancement cumulé du mois",
                                 quantity, "MTK", price, D("20"), round_cent(quantity * price)))
    total_ht = sum((line.amount_ht for line in lines), D("0.00"))
    total_tva = round_cent(total_ht * D("0.20"))
    base = invoice()
    return replace(base, number="EA-2026-11", lines=tuple(lines), total_ht=total_ht, total_tva=total_tva,
                   total_ttc=total_ht + total_tva)


def attestation() -> AttestationTacitDoc:
    deposit = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
    return AttestationTacitDoc(
        piece_number="PDM-2026-11-ST04", piece_label="Projet de décompte mensuel",
        marche_reference="2026-VIL-014", emitter=SUBCONTRACTOR, validator=SELLER,
        deposit_date=deposit, deadline_date=deposit + timedelta(days=15), attested_on=date(2026, 11, 18),
        amount_ttc=D("6570.00"),
    )


def interest_claim() -> InterestClaimDoc:
    # 16 158,85 × 10,15 % × 21 / 365 = 94,364… → 94,36 ; 7 200,00 × 10,15 % × 8 / 365 = 16,017… → 16,02.
    lines = (
        InterestLine("F-2026-0117", D("16158.85"), date(2026, 12, 28), date(2027, 1, 18), 21, D("10.15"),
                     D("94.36")),
        InterestLine("F-2026-0121", D("7200.00"), date(2027, 1, 10), date(2027, 1, 18), 8, D("10.15"), D("16.02")),
    )
    return InterestClaimDoc(
        number="IM-2027-001", creditor=SELLER, debtor=BUYER, marche_reference="2026-VIL-014",
        letter_date=date(2027, 1, 25), lines=lines, total_interest=D("110.38"), total_fees=D("80.00"),
        total_claimed=D("190.38"), signatory="Claire Bernard, gérante",
    )


def fiche() -> FicheMarcheDoc:
    return FicheMarcheDoc(
        reference="2026-VIL-014", objet="Construction d'un groupe scolaire – lot 01 gros œuvre",
        issuer=SELLER, edited_on=date(2026, 11, 28), kind="Travaux", amount_ht=D("1250000.00"),
        parties=(
            FicheParty("Maître d'ouvrage", BUYER.name, BUYER.siret),
            FicheParty("Maître d'œuvre", MOE.name, MOE.siret),
            FicheParty("Titulaire", SELLER.name, SELLER.siret, amount_ttc=D("1500000.00")),
            FicheParty("Sous-traitant de rang 1", SUBCONTRACTOR.name, SUBCONTRACTOR.siret, "paiement direct",
                       D("96000.00")),
        ),
        routes=(
            FicheRoute("A4", "Projet de décompte mensuel du titulaire", ("Titulaire", "MOE", "MOA",
                                                                          "Service financier")),
            FicheRoute("A9", "Projet de décompte du sous-traitant", ("Sous-traitant", "Titulaire", "MOE", "MOA",
                                                                      "Service financier")),
        ),
        facts=(("Délai global de paiement", "30 jours"), ("Retenue de garantie", "5 %")),
    )


def main(folder: str) -> None:  # pragma: no cover - a developer's tool
    from chorus_chain.documents import templates
    from chorus_chain.documents.facturx_out import facturx_pdf

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    (out / "facture.pdf").write_bytes(templates.invoice_pdf(invoice()))
    (out / "facture-autoliquidation.pdf").write_bytes(templates.invoice_pdf(invoice(autoliquidation=True)))
    (out / "avoir.pdf").write_bytes(templates.invoice_pdf(invoice(credit_note=True)))
    (out / "facture-facturx.pdf").write_bytes(facturx_pdf(invoice()))
    (out / "état.pdf").write_bytes(templates.invoice_pdf(etat_like_invoice()))
    (out / "attestation.pdf").write_bytes(templates.tacit_acceptance_pdf(attestation()))
    (out / "intérêts.pdf").write_bytes(templates.interest_claim_pdf(interest_claim()))
    (out / "fiche.pdf").write_bytes(templates.fiche_marche_pdf(fiche()))
    print(f"PDFs written to {out}")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/chorus-documents")
