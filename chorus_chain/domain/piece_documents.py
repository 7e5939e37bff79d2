"""Which generated documents apply to a piece (pure: no Flask, no database). A document is offered only where it
means something, and refused with the same reason when asked anyway (by a stale page, the API, an archive):

- an invoice or a credit note (a private invoice, cadres A1, A2, A9, A12, any avoir): its PDF in the invoice layout
  and its Factur-X;
- a projet de décompte (A4, A10, A13; final A7, A14): its PDF laid out as a décompte; no Factur-X (a works document
  travels through Chorus Pro's own flows, not as an EN 16931 invoice);
- any other works piece (the MOE's état d'acompte A15, the MOA's A19, the décompte général's pieces…): its document
  is its main file (the état's PDF, stored when it was issued): no second, invoice-shaped PDF;
- the attestation of tacit acceptance: only for a piece a validator let through by its silence;
- the letter claiming late-payment interest: only for a piece paid late whose interest is not carried by an état's
  payment line, and only for its emitter (the creditor who signs the letter);
- the archive of the dossier: any piece sent.
A draft has no document at all.
"""
from __future__ import annotations

from dataclasses import dataclass

from chorus_chain.domain.cadres import CADRES, DECOMPTE_CADRES

PIECE_PDF = "piece_pdf"
FACTURX = "facturx"
ATTESTATION = "attestation"
INTERETS = "interets"
DOSSIER_ZIP = "dossier_zip"
KINDS = (PIECE_PDF, FACTURX, ATTESTATION, INTERETS, DOSSIER_ZIP)


@dataclass(frozen=True)
class PieceFacts:
    draft: bool
    cadre: str | None
    credit_note: bool
    tacit_validated: bool = False
    interest_claimable: bool = False
    """Paid late, its interest not carried by an état d'acompte's payment line."""
    viewer_is_emitter: bool = False


def is_invoice_like(cadre: str | None, credit_note: bool) -> bool:
    return credit_note or cadre is None or (cadre in CADRES and CADRES[cadre].kind == "facture")


def is_decompte(cadre: str | None, credit_note: bool) -> bool:
    return not credit_note and cadre in DECOMPTE_CADRES


def refusal(kind: str, facts: PieceFacts) -> str | None:
    """Why `kind` does not apply to the piece (French, for the page), or None when it does."""
    if facts.draft:
        return "Un brouillon n'a pas de document : envoyez d'abord la pièce."
    invoice = is_invoice_like(facts.cadre, facts.credit_note)
    if kind == PIECE_PDF:
        if invoice or is_decompte(facts.cadre, facts.credit_note):
            return None
        return ("Le document de cette pièce est son fichier principal, déposé avec elle : téléchargez-le dans la "
                "liste des fichiers de la pièce.")
    if kind == FACTURX:
        return None if invoice else "Factur-X ne s'applique qu'aux factures et aux avoirs."
    if kind == ATTESTATION:
        return None if facts.tacit_validated else (
            "Cette pièce n'a pas été validée tacitement : il n'y a pas d'attestation d'acceptation tacite à établir.")
    if kind == INTERETS:
        if not facts.interest_claimable:
            return ("Cette pièce n'a pas été payée en retard (ou ses intérêts sont portés par la ligne de paiement "
                    "de l'état d'acompte) : il n'y a pas d'intérêts moratoires à réclamer pour elle.")
        if not facts.viewer_is_emitter:
            return "Seule l'entreprise qui a émis la pièce réclame ses intérêts moratoires."
        return None
    if kind == DOSSIER_ZIP:
        return None
    raise ValueError(f"unknown piece document kind {kind!r}")


def applicable(facts: PieceFacts) -> tuple[str, ...]:
    """The kinds offered on the piece's page, in the order of the page."""
    return tuple(kind for kind in KINDS if refusal(kind, facts) is None)
