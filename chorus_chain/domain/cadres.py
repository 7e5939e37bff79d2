"""The Chorus Pro cadres de facturation, as data.

A cadre says who deposits which kind of document; the route it takes is decided by the chain graph
(`chorus_chain.graph`). Keeping the cadres in one table lets the labels and depositor roles change in one place.
A3, A11 and A21 are deliberately absent: A11 was withdrawn, A3/A21 (justice memoranda, fuel-tax refunds) are out of
scope (CHORUS.md §2).

Roles are the plain strings of the export contract ("titulaire", "mandataire", "cotraitant", "sous_traitant",
"moe", "moa"); `kind` is "facture" for an ordinary invoice and "travaux" for a piece of a works billing chain.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cadre:
    """One cadre de facturation: its code, a French label for non-experts, who may deposit it, its kind."""

    code: str
    label: str
    depositor_roles: tuple[str, ...]
    kind: str


_CONTRACTOR = ("titulaire", "mandataire")

CADRES: dict[str, Cadre] = {
    cadre.code: cadre
    for cadre in (
        Cadre("A1", "Facture", _CONTRACTOR, "facture"),
        Cadre("A2", "Facture déjà payée", _CONTRACTOR, "facture"),
        Cadre("A4", "Projet de décompte mensuel", _CONTRACTOR, "travaux"),
        Cadre("A5", "État d'acompte (maître d'œuvre hors Chorus Pro)", _CONTRACTOR, "travaux"),
        Cadre("A6", "État d'acompte validé (maître d'œuvre hors Chorus Pro)", _CONTRACTOR, "travaux"),
        Cadre("A7", "Projet de décompte final", _CONTRACTOR, "travaux"),
        Cadre("A8", "Décompte général et définitif signé", _CONTRACTOR, "travaux"),
        Cadre("A9", "Facture de sous-traitant (paiement direct)", ("sous_traitant",), "facture"),
        Cadre("A10", "Projet de décompte mensuel de sous-traitant", ("sous_traitant",), "travaux"),
        Cadre("A12", "Facture de co-traitant", ("cotraitant",), "facture"),
        Cadre("A13", "Projet de décompte mensuel de co-traitant", ("cotraitant",), "travaux"),
        Cadre("A14", "Projet de décompte final de co-traitant", ("cotraitant",), "travaux"),
        Cadre("A15", "État d'acompte", ("moe",), "travaux"),
        Cadre("A16", "État d'acompte validé (accord du maître d'ouvrage obtenu hors Chorus Pro)", ("moe",), "travaux"),
        Cadre("A17", "Projet de décompte général", ("moe",), "travaux"),
        Cadre("A18", "Décompte général à signer par l'entreprise (émis par le maître d'œuvre)", ("moe",), "travaux"),
        Cadre("A19", "État d'acompte validé", ("moa",), "travaux"),
        Cadre("A20", "Décompte général à signer par l'entreprise", ("moa",), "travaux"),
        Cadre("A22", "Projet de décompte général (procédure tacite)", _CONTRACTOR, "travaux"),
        Cadre("A23", "Décompte général et définitif tacite", _CONTRACTOR, "travaux"),
        Cadre("A24", "Décompte général et définitif tacite (émis par le maître d'œuvre)", ("moe",), "travaux"),
        Cadre("A25", "Décompte général et définitif tacite (émis par le maître d'ouvrage)", ("moa",), "travaux"),
    )
}


# The projets de décompte (monthly and final): their amounts come from their décompte lines, cadre → final?
DECOMPTE_CADRES: dict[str, bool] = {"A4": False, "A10": False, "A13": False, "A7": True, "A14": True}


def is_works_piece(cadre: str | None, marche_kind: str) -> bool:
    """A works piece (rights domain "travaux"; never refused for an amount disagreement): a works cadre, or a
    private invoice (no cadre) on a works marché."""
    if cadre is not None:
        return CADRES[cadre].kind == "travaux"
    return marche_kind == "travaux"
