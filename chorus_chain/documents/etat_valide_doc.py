"""The état d'acompte validé (A19) as a document: the état the MOE issued, exactly as frozen, under the maître
d'ouvrage's validation — who validated it, when, and that it goes to the paying office, which pays the amounts it
names line by line.

Why a document of its own and not the A15's PDF again: the A19 is the MOA's piece. The paying office pays on the
validated état; its PDF must say that the MOA validated it (the MOA's signature block dated, the A15 it validates
named) — the A15's PDF, rendered when the MOE issued it, cannot. The figures are the same frozen `result`
(`documents.etat_doc.etat_from_result`): a validation never changes an amount.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chorus_chain.documents.etat_doc import EtatAcompteDoc
from chorus_chain.documents.fingerprint import fingerprint
from chorus_chain.documents.model import DocumentDataError, Party


@dataclass(frozen=True)
class EtatValideDoc:
    """The validated état: the état's document (`etat`), the MOA that validated it (its identity block heads the
    document) and when, the A19's number and the A15's it validates."""

    etat: EtatAcompteDoc
    validator: Party
    validated_on: date
    piece_number: str
    etat_piece_number: str | None = None

    def __post_init__(self) -> None:
        if self.etat.final:
            raise DocumentDataError("the décompte général is not validated as an état d'acompte (A19)")
        if not any(s.done_on == self.validated_on for s in self.etat.signatories if s.done_label == "Validé le"):
            raise DocumentDataError("an état d'acompte validé shows the MOA's validation in its signature block")

    @property
    def title(self) -> str:
        return "État d'acompte validé"


def etat_valide_html(doc: EtatValideDoc) -> str:
    from chorus_chain.documents.templates import render_html

    return render_html("etat_acompte_valide.html", doc=doc.etat, validation=doc, issuer=doc.validator,
                       title=doc.title, piece_number=doc.piece_number, fingerprint=fingerprint(doc))


def etat_valide_pdf(doc: EtatValideDoc) -> bytes:
    from chorus_chain.documents.render import render_pdf

    return render_pdf(etat_valide_html(doc))
