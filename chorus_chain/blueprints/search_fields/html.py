"""A filter of hundreds of choices written as an ARIA combobox (the marché filter of the Tableau de bord, of the
Synthèse and of the pieces' lists; the Tableau de bord's company filter): a text field whose typing asks the server
for a few suggestions, the id chosen in a hidden field beside it, and a live region saying what the page understood
of a text typed by hand. `static/app.js` moves through the suggestions with the arrow keys and chooses with Enter.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from chorus_chain.blueprints.search_fields import pages

# field name → (the suggestions' endpoint, the text's name, the help, the other fields the suggestions follow). One
# suggestion route per filter, whatever the page: the marché's is the Tableau de bord's (`dashboard.marche_suggestions`,
# the structure's marchés whose reference holds the text).
SEARCHES = {
    "marche_id": ("dashboard.marche_suggestions", "marche",
                  "Tapez une partie de la référence.", None),
    "party_id": ("dashboard.party_suggestions", "entreprise",
                 "Tapez une partie de son nom ou de son marché.", "#board-filters [name='marche_id']"),
}


def search_field(field_id: str, name: str, label: str, search) -> Markup:
    """The field `name` (a key of SEARCHES) as an ARIA combobox whose elements' ids start with `field_id`, `search`
    (`search.Search`) what it holds. Typing asks for suggestions (HTMX, `hx-sync` replacing the request in flight, so
    that an older answer never lands after a newer one; the answer fills the list, never the field typed in). Without
    JavaScript the text is sent as typed: the page reads a reference or a name typed whole and says what it
    understood. The suggestions' address names the page written (`pages`): opened as a page, it sends back there."""
    from flask import request, url_for

    endpoint, text_name, help, follows = SEARCHES[name]
    page = pages.page_name(request.endpoint)
    url = url_for(endpoint, **({pages.FROM: page} if page else {}))
    field_id = escape(field_id)
    include = f' hx-include="{escape(follows)}"' if follows else ""
    value = "" if search.value is None else str(search.value)
    return Markup(
        f'\n  <div class="field combobox" data-combobox>\n    <label for="{field_id}-texte">{escape(label)}'
        f'</label>\n    <small class="help" id="{field_id}-aide">{escape(help)}</small>\n    '
        f'<input type="hidden" id="{field_id}-valeur" name="{escape(name)}" value="{escape(value)}">\n    '
        f'<div class="typed"><input type="search" id="{field_id}-texte" name="{text_name}" '
        f'value="{escape(search.text)}" '
        f'role="combobox" aria-autocomplete="list" aria-expanded="false" aria-controls="{field_id}-suggestions" '
        f'aria-describedby="{field_id}-aide {field_id}-compris" autocomplete="off" spellcheck="false" '
        f'hx-get="{escape(url)}" hx-trigger="input changed delay:250ms, suggest" '
        f'hx-target="#{field_id}-suggestions" hx-swap="innerHTML" hx-sync="this:replace" hx-push-url="false"'
        f'{include}>\n    <ul class="suggestions" id="{field_id}-suggestions" role="listbox" '
        f'aria-label="{escape(label)} : suggestions" hidden></ul></div>\n    '
        f'{understood(field_id, name, search)}\n  </div>\n')


def understood(field_id: str, name: str, search, oob: bool = False) -> Markup:
    """The live region saying what the page understood of a text typed by hand; `oob`: sent with the list (HTMX),
    out of band, with the id the text was read as (the form sends it next time)."""
    swap = ' hx-swap-oob="true"' if oob else ""
    said = Markup(f'<small class="help understood" id="{escape(field_id)}-compris" role="status"{swap}>'
                  f'{escape(search.said)}</small>')
    if not oob:
        return said
    value = "" if search.value is None else str(search.value)
    return said + Markup(f'<input type="hidden" id="{escape(field_id)}-valeur" name="{escape(name)}" '
                         f'value="{escape(value)}" hx-swap-oob="true">')


def suggestions_html(field_id: str, choices, empty: str) -> Markup:
    """The suggestions of a search field: (id, label) pairs as the options of its listbox, or `empty` when none."""
    if not choices:
        return Markup(f'<li class="none" role="option" aria-disabled="true" aria-selected="false">'
                      f'{escape(empty)}</li>')
    return Markup("".join(
        f'<li role="option" id="{escape(field_id)}-choix-{index}" aria-selected="false" data-value="{value}" '
        f'data-label="{escape(label)}">{escape(label)}</li>' for index, (value, label) in enumerate(choices)))
