"""The Tableau de bord's marché and company filters beyond `parties.OFFER_MAX` choices: search fields instead of
selects (a select of hundreds of marchés or companies is no way to find one, and was most of the page's options).

A search field sends two values: the id chosen (a hidden field, set when a suggestion is chosen; a bookmark or a
panel's link carries it alone) and the text shown (`marche`, `entreprise`). The text governs when it is sent: left as
the chosen one's label, the id stands; emptied, there is no filter; typed by hand (no JavaScript, or no suggestion
chosen), it must name one marché (its reference) or one company (its name, or the label a suggestion shows) whole,
and the page says what it understood or that nothing matched — a filter never breaks the page.

The marché's field is the one every page filtering by marché writes (`search_fields.marche`); the company's, here,
is the Tableau de bord's own. Pure rules but for `read_party`, which names a company typed by hand (one query,
`filter_lookups.companies_named`).
"""
from __future__ import annotations

from chorus_chain.blueprints.search_fields.search import Search, number
from chorus_chain.graph import ROLE_LABELS
from chorus_chain.operations.board_reading import filter_lookups, parties

PARTY_TEXT = "entreprise"


def party_label(name: str, role: str, reference: str) -> str:
    """A company as the select and the suggestions name it: one party per marché, so its marché says which."""
    return f"{name} — {ROLE_LABELS.get(role, role)} ({reference})"


def party_is_search(args, offer: parties.Offer) -> bool:
    """A search field beyond OFFER_MAX companies; and, once the page wrote one, the field stays one (its text comes
    back): choosing a marché narrows the suggestions, it does not turn the field into a select under the cursor."""
    return PARTY_TEXT in args or not offer.complete or len(offer.parties) > parties.OFFER_MAX


def read_party(args, structure_id: int, offer: parties.Offer, marche_id: int | None) -> Search:
    """The company of the search field: the one chosen (the offer holds it when the structure may see it), or the
    one whose name — or label — is the text typed whole, of the marché chosen if any."""
    chosen = number(args.get("party_id"))
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
