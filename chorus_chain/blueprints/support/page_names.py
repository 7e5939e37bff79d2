"""The page a support request (or an assistant conversation) was opened from, named as the interface names it.

The form records the address of the page the user was on (`/s/<siret>/tableau-de-bord?statut=…`), and the ticket
showed that address raw, to the user and to the operators: an address is no name. Here it is matched against the
application's routes and named in French — « Tableau de bord », « Pièce n° PL-2026-001 », « Bordereau des prix —
marché 2026-VIL-014 » — with a link for the member who may open it.

Who reads what: a piece or a marché in the address is named only when the ticket's structure sees it (the one access
predicate: `pieces_queries.piece_for`, `marches.access_for`), and linked only then, and only for an address of that
structure. An operator reads no tenant's rows: the operator gets the kind of page (« Page d'une pièce »), never an
object's name, and no link (a tenant page answers 404 to a non-member). An address that is no page of the application
(an old or hand-typed one) is named « Page inconnue », without a link.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from chorus_chain.help_articles.pages import PAGES

# The pages the help centre names (`help_articles.pages`), by endpoint, then those it does not send readers to.
TITLES: dict[str, str] = {page.endpoint: page.label for page in PAGES.values()} | {
    "organisation.overview": "Structure",
    "organisation.bank_account": "Compte bancaire",
    "organisation.service": "Service",
    "organisation.member_rights": "Droits d'un utilisateur",
    "organisation.member_detach_confirm": "Détacher un utilisateur",
    "dashboard.entreprises": "Tableau de bord — entreprises",
    "dashboard.marches": "Tableau de bord — par marché",
    "pieces.show": "Page d'une pièce",
    "pieces.file_download": "Fichier d'une pièce",
    "pieces.draft_new": "Déposer une pièce",
    "pieces_import.draft_start": "Importer une facture électronique",
    "bordereau.decompte": "Décompte d'une pièce",
    "bordereau.decompte_start": "Projet de décompte",
    "bordereau.edit": "Bordereau des prix",
    "etats.show": "État d'acompte",
    "marches.party": "Entreprise du marché",
    "documents.status": "Mes documents",
    "support.show": "Demande d'aide",
    "structure_help.index": "Aide",
    "structure_help.article": "Aide",
    "help.index": "Aide",
    "help.article": "Aide",
    "assistant.panel": "Assistant",
    "api_clients.index": "Accès par API",
    "api_clients.webhooks_page": "Webhooks de l'API",
    "api_clients.batches": "Dépôts par lot",
    "api_clients.batch": "Dépôt par lot",
    "accounts.contest": "Contester une inscription",
    "core.home": "Accueil",
}
UNKNOWN = "Page inconnue"
# The pages of one piece: named by the piece's number (« Pièce n° … », « Décompte de la pièce n° … »).
PIECE_TITLES = {"pieces.show": "Pièce n° {number}", "bordereau.decompte": "Décompte de la pièce n° {number}"}


@dataclass(frozen=True)
class NamedPage:
    title: str
    url: str | None = None
    """The link, for a member of the structure whose page it is, when what it names is visible to it; else None."""


def name_page(address: str | None, structure=None) -> NamedPage | None:
    """The page of `address` (a path of this site, as the ticket keeps it) named in French, for a member of
    `structure` (then with its link, see the module), or for an operator (`structure` None: the kind of page only).
    None when there is no address."""
    if not address:
        return None
    matched = _match(address)
    if matched is None:
        return NamedPage(UNKNOWN)
    endpoint, args = matched
    title = TITLES.get(endpoint) or TITLES.get(f"{endpoint.split('.', 1)[0]}.index") or UNKNOWN
    own_page = structure is not None and args.get("siret") == structure.siret
    if not own_page:
        return NamedPage(title)
    if "piece_id" in args:
        piece = _piece(structure, args["piece_id"])
        if piece is None:
            return NamedPage(title)
        title = PIECE_TITLES.get(endpoint, title + " — pièce n° {number}").format(number=piece.number)
    elif "marche_id" in args:
        reference = _marche_reference(structure, args["marche_id"])
        if reference is None:
            return NamedPage(title)
        title = f"{title} — marché {reference}"
    return NamedPage(title, request.script_root + address)


def _match(address: str) -> tuple[str, dict] | None:
    """The endpoint and arguments of the page at `address` (a GET route of this application), or None."""
    path = urlsplit(address).path
    adapter = current_app.url_map.bind("localhost")
    for _ in range(2):  # once more after a redirect of the routes (« /marches » → « /marches/ »)
        try:
            return adapter.match(path, method="GET")
        except RequestRedirect as redirect:
            path = urlsplit(redirect.new_url).path
        except HTTPException:  # no such page (404), or not one that is read (405)
            return None
    return None


def _piece(structure, piece_id: int):
    from chorus_chain.operations.pieces_queries import piece_for

    return piece_for(structure, piece_id) if 0 < piece_id < 2**31 else None


def _marche_reference(structure, marche_id: int) -> str | None:
    from chorus_chain.operations.marches import access_for

    access = access_for(structure, marche_id) if 0 < marche_id < 2**31 else None
    return access.marche.reference if access is not None and access.own else None
