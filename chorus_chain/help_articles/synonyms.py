"""The help centre's thesaurus: the words people type for the same thing, as groups of equivalent expressions.

When an expression of a group is in a question, the search looks for every expression of the group ("mdp" finds
« mot de passe », « RIB » finds « coordonnées bancaires »); the expression the person typed counts more than its
synonyms (`SYNONYM_WEIGHT`). Expressions are matched word by word after stemming, so plurals and accents do not
matter. Keep each group to true equivalents for a user of the product: a group that mixes two notions sends people
to the wrong article. The same table serves the assistant (issue 18).
"""
from __future__ import annotations

SYNONYM_WEIGHT = 0.6

GROUPS: tuple[tuple[str, ...], ...] = (
    # The account
    ("mot de passe", "mdp", "password", "code d'accès"),
    ("connexion", "se connecter", "login", "s'identifier"),
    ("inscription", "s'inscrire", "créer un compte", "ouvrir un compte"),
    ("adresse e-mail", "mail", "courriel", "e-mail"),
    # The structure and its people
    ("gestionnaire principal", "GP", "administrateur", "admin"),
    ("rattachement", "rejoindre une structure", "adhésion"),
    ("droits", "habilitations", "permissions", "profil"),
    ("coordonnées bancaires", "RIB", "IBAN", "compte bancaire", "relevé d'identité bancaire"),
    ("SIRET", "numéro SIRET", "numéro d'établissement"),
    ("TVA intracommunautaire", "numéro de TVA"),
    ("code service", "service destinataire"),
    ("engagement juridique", "EJ", "bon de commande", "numéro d'engagement"),
    # The marché and its companies
    ("maître d'ouvrage", "MOA", "acheteur public", "pouvoir adjudicateur"),
    ("maître d'œuvre", "MOE", "architecte"),
    ("service financier", "comptable public", "trésorerie"),
    ("DC4", "acte spécial", "déclaration de sous-traitance", "agrément du sous-traitant"),
    ("autoliquidation", "TVA autoliquidée", "auto-liquidation"),
    ("paiement direct", "payé directement"),
    ("bordereau des prix", "BPU", "DPGF", "bordereau"),
    # The pieces: the product says « pièce », its users say « facture » for any of them
    ("pièce", "facture", "pièce de facturation"),
    ("projet de décompte mensuel", "PDM", "situation de travaux", "situation mensuelle"),
    ("état d'acompte", "EA", "certificat de paiement"),
    ("décompte général et définitif", "DGD"),
    ("projet de décompte général", "PDG"),
    ("pièce jointe", "justificatif", "annexe"),
    ("avoir", "note de crédit", "facture d'avoir"),
    ("à recycler", "recyclage", "erreur d'acheminement"),
    ("Factur-X", "facture électronique", "facture dématérialisée", "e-facture"),
    ("plateforme agréée", "PA", "PDP", "plateforme de dématérialisation partenaire"),
    ("réforme", "e-invoicing", "obligation de facturation électronique"),
    # Money and deadlines
    ("retenue de garantie", "RG"),
    ("délai global de paiement", "DGP", "délai de paiement"),
    ("intérêts moratoires", "IM", "intérêts de retard", "pénalités de retard de paiement"),
    ("révision des prix", "indexation", "formule de révision"),
    ("avance", "avance forfaitaire"),
    # The screens and the support
    ("tableau de bord", "dashboard"),
    ("notifications", "alertes", "cloche"),
    ("support", "assistance", "hotline", "ticket", "demande d'aide"),
)
