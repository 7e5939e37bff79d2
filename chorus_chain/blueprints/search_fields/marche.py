"""The marché filter as a search field, on every page that filters by marché (the Tableau de bord, the Synthèse, the
pieces' lists): beyond `parties.OFFER_MAX` marchés a select is no way to find one, and was most of these pages'
options (819 for the busiest sous-traitant at a million pieces).

The field sends two values: the id chosen (a hidden field, set when a suggestion is chosen; a bookmark or a link
carries it alone) and the text shown (`marche`). The text governs when it is sent: left as the chosen marché's
reference, the id stands; emptied, there is no filter; typed by hand (no JavaScript, or no suggestion chosen), it must
be one of the structure's references whole (any case), and the page says what it understood or that nothing matched
— a filter never breaks the page.

The page reads at most OFFER_MAX + 1 of the structure's marchés (`marches.marche_choices`): enough to know which to
write. What the field names is looked up by one bounded query (`filter_lookups.marches_named`), never picked from
the structure's whole list.
"""
from __future__ import annotations

from chorus_chain.blueprints.search_fields.search import Search, number
from chorus_chain.operations.board_reading import filter_lookups, parties

MARCHE_TEXT = "marche"


def marche_is_search(marches) -> bool:
    """Whether the page writes the marché filter as a search field: `marches`, the structure's marchés as the page
    read them (at most OFFER_MAX + 1 suffice)."""
    return len(marches) > parties.OFFER_MAX


def read_marche(args, structure_id: int) -> Search:
    """The marché of the search field, among the structure's marchés: the id chosen, or the reference typed whole,
    looked up by one bounded query (`filter_lookups.marches_named`; none when the field is empty)."""
    chosen = number(args.get("marche_id"))
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


def marche_search(args, structure_id: int, marches) -> Search | None:
    """The marché filter of the Synthèse or of a pieces' list read as a search field, or None when it is a select
    (the `marche_id` sent stands). `marches`: the structure's marchés the page read (`marches.marche_choices`), or
    None for the HTMX request of its list, which reads none: then the field is a search field when its text comes
    (only a search field sends one)."""
    searching = MARCHE_TEXT in args if marches is None else marche_is_search(marches)
    return read_marche(args, structure_id) if searching else None
