"""The Tableau de bord's marché and company filters beyond `parties.OFFER_MAX` choices: search fields instead of
selects (a select of hundreds of marchés or companies is no way to find one, and was most of the page's options).

A search field sends two values: the id chosen (a hidden field, set when a suggestion is chosen; a bookmark or a
panel's link carries it alone) and the text shown (`marche`, `entreprise`). The text governs when it is sent: left as
the chosen one's label, the id stands; emptied, there is no filter; typed by hand (no JavaScript, or no suggestion
chosen), it must name one marché (its reference) or one company (its name, or the label a suggestion shows) whole,
and the page says what it understood or that nothing matched — a filter never breaks the page.

Pure rules but for the readings: `read_marche` looks the marché up (one query, `filter_lookups.marches_named`) and
`read_party` names a company typed by hand (one query, `filter_lookups.companies_named`).
"""
from __future__ import annotations

from dataclasses import dataclass

from chorus_chain.graph import ROLE_LABELS
from chorus_chain.operations.board_reading import filter_lookups, parties

MARCHE_TEXT = "marche"
PARTY_TEXT = "entreprise"


@dataclass(frozen=True)
class Search:
    """A filter written as a search field: the text it shows, the id it holds and what the page understood of a
    text typed by hand (empty when nothing needs saying)."""

    text: str
    value: int | None
    said: str = ""


def party_label(name: str, role: str, reference: str) -> str:
    """A company as the select and the suggestions name it: one party per marché, so its marché says which."""
    return f"{name} — {ROLE_LABELS.get(role, role)} ({reference})"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def marche_is_search(marches) -> bool:
    return len(marches) > parties.OFFER_MAX


def party_is_search(args, offer: parties.Offer) -> bool:
    """A search field beyond OFFER_MAX companies; and, once the page wrote one, the field stays one (its text comes
    back): choosing a marché narrows the suggestions, it does not turn the field into a select under the cursor."""
    return PARTY_TEXT in args or not offer.complete or len(offer.parties) > parties.OFFER_MAX


def read_marche(args, structure_id: int) -> Search:
    """The marché of the search field, among the structure's marchés: the id chosen, or the reference typed whole,
    looked up by one bounded query (`filter_lookups.marches_named`; none when the field is empty)."""
    chosen = _int(args.get("marche_id"))
    if MARCHE_TEXT not in args:
        named = dict(filter_lookups.marches_named(structure_id, None, chosen))
        return Search(named.get(chosen, ""), chosen)
    text = args.get(MARCHE_TEXT, "").strip()
    if not text:
        return Search("", None)
    named = filter_lookups.marches_named(structure_id, text, chosen)
    references = dict(named)
    if chosen in references and references[chosen].casefold() == text.casefold():
        return Search(references[chosen], chosen)
    found = [(marche_id, reference) for marche_id, reference in named if reference.casefold() == text.casefold()]
    if len(found) == 1:
        return Search(found[0][1], found[0][0], f"Marché retenu : {found[0][1]}.")
    return Search(text, None, f"Aucun de vos marchés n'a pour référence « {text} » : le filtre par marché n'est pas "
                              "appliqué. Tapez une partie de la référence et choisissez dans la liste.")


def read_party(args, structure_id: int, offer: parties.Offer, marche_id: int | None) -> Search:
    """The company of the search field: the one chosen (the offer holds it when the structure may see it), or the
    one whose name — or label — is the text typed whole, of the marché chosen if any."""
    chosen = _int(args.get("party_id"))
    labels = {party_id: party_label(name, role, reference) for party_id, name, role, reference in offer.parties}
    if PARTY_TEXT not in args:
        return Search(labels.get(chosen, ""), chosen if chosen in labels else None)
    text = args.get(PARTY_TEXT, "").strip()
    if not text:
        return Search("", None)
    if chosen in labels and labels[chosen].casefold() == text.casefold():
        return Search(labels[chosen], chosen)
    named = filter_lookups.companies_named(structure_id, text.split(" — ")[0], marche_id)
    found = ([row for row in named if party_label(*row[1:]).casefold() == text.casefold()]
             or [row for row in named if row[1].casefold() == text.strip().casefold()])
    if len(found) == 1:
        label = party_label(*found[0][1:])
        return Search(label, found[0][0], f"Entreprise retenue : {label}.")
    if found:
        return Search(text, None, f"« {text} » travaille sur {len(found)} marchés : le filtre par entreprise n'est pas "
                                  "appliqué. Choisissez l'une d'elles dans la liste, ou un marché d'abord.")
    return Search(text, None, f"Aucune entreprise de vos pièces ne s'appelle « {text} » : le filtre par entreprise "
                              "n'est pas appliqué. Tapez une partie du nom et choisissez dans la liste.")
