"""Documents of a works billing chain: PDFs (WeasyPrint), Factur-X out, e-invoices (Factur-X, CII, UBL) in.

Everything here takes plain frozen dataclasses (`documents.model`) and returns bytes or dataclasses: no Flask, no
database. The integration maps the pieces' models to these dataclasses and runs the renderers in rq jobs (DESIGN.md
§3 rule 8: a page takes 0.1–0.4 s to render).

Modules (import what you need; nothing is re-exported here so that importing the package does not load WeasyPrint):
- `model`        the documents' data (Party, InvoiceDoc, AttestationTacitDoc, InterestClaimDoc, FicheMarcheDoc).
- `fingerprint`  the canonical SHA-256 of a document's data, printed in every footer.
- `render`       `render_pdf`: HTML → PDF (A4, PDF/A-3b on demand) through a locked URL fetcher.
- `templates`    the Jinja templates and the renderers `invoice_pdf`, `tacit_acceptance_pdf`, `interest_claim_pdf`,
                 `fiche_marche_pdf`.
- `facturx_out`  `build_cii_xml`, `facturx_pdf` (EN 16931 CII embedded in a PDF/A-3b).
- `einvoice_in`  `read_einvoice`: what a deposited Factur-X PDF, CII or UBL file says, or `DocumentRefused`.
"""
