"""The pages of the product an article may send its reader to, by a stable French key: `[texte](page:<clé>)`.

Why keys and not addresses: most pages live under a structure (`/s/<siret>/…`) and some under a marché, which the
article cannot know. The key says which page; the help centre builds the address for the reader:
- `PUBLIC`: a page outside any structure (sign-up, the account, the structures list);
- `STRUCTURE`: a page of the reader's structure — direct when the help was opened from a structure, otherwise
  through « Pour quelle structure ? » (`help.go`);
- `MARCHE`: a page of one of the structure's marchés — through « Pour quel marché ? » (`structure_help.go`),
  straight to the page when the structure has a single marché.
"""
from __future__ import annotations

from dataclasses import dataclass

PUBLIC = "public"
STRUCTURE = "structure"
MARCHE = "marche"


@dataclass(frozen=True)
class Page:
    endpoint: str
    label: str
    scope: str


PAGES: dict[str, Page] = {
    # The account, outside any structure
    "inscription": Page("auth.signup", "Créer un compte", PUBLIC),
    "connexion": Page("auth.login", "Se connecter", PUBLIC),
    "mot-de-passe-oublie": Page("auth.forgot_password", "Mot de passe oublié", PUBLIC),
    "mon-compte": Page("accounts.profile", "Mon compte", PUBLIC),
    "mes-structures": Page("accounts.structures", "Mes structures", PUBLIC),
    "creer-une-structure": Page("accounts.create_structure", "Créer une structure", PUBLIC),
    "rejoindre-une-structure": Page("accounts.search", "Rejoindre une structure", PUBLIC),
    "taux-bce": Page("rates.index", "Taux de la BCE", PUBLIC),
    # The structure
    "structure": Page("organisation.overview", "Structure", STRUCTURE),
    "utilisateurs": Page("organisation.members", "Utilisateurs", STRUCTURE),
    "approbations": Page("organisation.approvals", "Approbations", STRUCTURE),
    "gestionnaire": Page("organisation.handover", "Passer le rôle de gestionnaire principal", STRUCTURE),
    "services": Page("organisation.services", "Services", STRUCTURE),
    "coordonnees-bancaires": Page("organisation.bank_accounts", "Coordonnées bancaires", STRUCTURE),
    "nouvelles-coordonnees-bancaires": Page("organisation.bank_account_new", "Ajouter un compte bancaire",
                                            STRUCTURE),
    "parametres": Page("organisation.settings", "Paramètres", STRUCTURE),
    "journal": Page("organisation.journal", "Journal", STRUCTURE),
    "synthese": Page("dashboard.synthese", "Synthèse", STRUCTURE),
    "tableau-de-bord": Page("dashboard.tableau_de_bord", "Tableau de bord", STRUCTURE),
    "tresorerie": Page("tresorerie.index", "Trésorerie", STRUCTURE),
    "documents": Page("documents.index", "Mes documents", STRUCTURE),
    "notifications": Page("notifications.index", "Notifications", STRUCTURE),
    "preferences-notifications": Page("notifications.preferences", "Préférences de notification", STRUCTURE),
    "marches": Page("marches.index", "Marchés", STRUCTURE),
    "nouveau-marche": Page("marches.create", "Créer un marché", STRUCTURE),
    "pieces-a-traiter": Page("pieces.a_traiter", "Pièces à traiter", STRUCTURE),
    "pieces-emises": Page("pieces.emises", "Pièces émises", STRUCTURE),
    "pieces-recues": Page("pieces.recues", "Pièces reçues", STRUCTURE),
    "deposer-une-piece": Page("pieces.new", "Déposer une pièce", STRUCTURE),
    "importer-une-facture": Page("pieces_import.start", "Importer une facture électronique", STRUCTURE),
    "facturation-electronique": Page("reform.page", "Facturation électronique", STRUCTURE),
    "demandes-aide": Page("support.index", "Demandes d'aide", STRUCTURE),
    "nouvelle-demande-aide": Page("support.new", "Nouvelle demande d'aide", STRUCTURE),
    # A marché of the structure
    "marche": Page("marches.show", "Page du marché", MARCHE),
    "fiche-marche": Page("marches.fiche", "Fiche d'identité du marché", MARCHE),
    "declarer-sous-traitant": Page("marches.declare", "Déclarer un sous-traitant (DC4)", MARCHE),
    "ajouter-partie": Page("marches.add_party", "Ajouter une entreprise au marché", MARCHE),
    "bordereau": Page("bordereau.index", "Bordereau des prix", MARCHE),
    "etats-acompte": Page("etats.index", "États d'acompte", MARCHE),
    "indices": Page("etats.indices", "Indices de révision", MARCHE),
    "finances": Page("marches.finances", "Finances du marché", MARCHE),
    "interets": Page("marche_interest.show", "Intérêts moratoires du marché", MARCHE),
    "avenants": Page("avenants.index", "Avenants du marché", MARCHE),
    "retenue-et-avance": Page("money_clauses.show", "Retenue et avance du marché", MARCHE),
}
