"""The pages a search field is written on, named in its suggestions' address (`depuis`): opened as a page (a form
sent without JavaScript, the address opened directly), the suggestions' route sends the browser back to the page the
field was on, with the text typed, which that page reads as its own field's (`marche`, `entreprise`).

Only the structure's pages named here, each field's own: the address is built from a name looked up in this table
(`url_for`), never taken from the request, so the route is no open redirect. No name (an older address): the
Tableau de bord, where the fields were first.
"""
from __future__ import annotations

FROM = "depuis"
DEFAULT = "tableau-de-bord"

# name in the address → the page's endpoint.
PAGES = {"tableau-de-bord": "dashboard.tableau_de_bord", "synthese": "dashboard.synthese",
         "a-traiter": "pieces.a_traiter", "emises": "pieces.emises", "recues": "pieces.recues"}
_NAMES = {endpoint: name for name, endpoint in PAGES.items()}

# field name (a key of `html.SEARCHES`) → the pages writing it: the company field is the Tableau de bord's alone.
FIELD_PAGES = {"marche_id": frozenset(PAGES), "party_id": frozenset({"tableau-de-bord"})}


def page_name(endpoint: str | None) -> str | None:
    """The name of the page `endpoint` in a suggestions' address, or None for a page not named here."""
    return _NAMES.get(endpoint)


def back_url(field: str, args, **values) -> str | None:
    """The address of the page the field `field` was on (`args[FROM]`, the Tableau de bord when none), `values` its
    query; None when the name is not one of that field's pages (a foreign address, a page without that field)."""
    from flask import url_for

    page = args.get(FROM) or DEFAULT
    if page not in FIELD_PAGES[field]:
        return None
    return url_for(PAGES[page], **values)
