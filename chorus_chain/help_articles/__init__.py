"""The help centre's articles, as Python data: a slug, a title, keywords and a body of simple, trusted HTML (no
Markdown, no user input). Searched by `chorus_chain.help_articles.search` (PostgreSQL full-text search in French,
a scored word match elsewhere)."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    keywords: str
    body: str

    @property
    def text(self) -> str:
        """The body without its tags, for search."""
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", self.body)).strip()


ARTICLES: tuple[Article, ...] = (
    Article("creer-une-structure", "Créer une structure", "structure entreprise SIRET inscription compte gestionnaire",
            "<p>Une structure est votre entreprise (ou votre établissement), identifiée par son SIRET. Depuis "
            "« Mes structures », choisissez <strong>Créer une structure</strong> et saisissez le SIRET : vous en "
            "devenez le gestionnaire.</p><p>Si la structure existe déjà, demandez plutôt à vous y rattacher : le "
            "gestionnaire décidera.</p>"),
    Article("rattacher-des-collegues", "Rattacher des collègues à votre structure",
            "rattachement collègue utilisateur membre droits approbation gestionnaire inviter",
            "<p>Un collègue crée son compte puis recherche votre structure par SIRET et demande son "
            "<strong>rattachement</strong>. Le gestionnaire l'approuve (ou le refuse) dans « Approbations ».</p>"
            "<p>Donnez ensuite à chacun les droits utiles (factures émises, travaux, factures reçues, "
            "organisation), en consultation ou en modification.</p>"),
    Article("declarer-un-sous-traitant", "Déclarer un sous-traitant (DC4)",
            "sous-traitant sous-traitance DC4 paiement direct acceptation agrément marché",
            "<p>Sur la page du marché, le bouton <strong>Déclarer un sous-traitant (DC4)</strong> ouvre la "
            "déclaration : identité du sous-traitant, nature des prestations, montant et paiement direct.</p>"
            "<p>L'acheteur a 21 jours pour accepter ; son silence vaut acceptation. Un sous-traitant de rang 1 au-"
            "dessus de 600 € TTC est payé directement par l'acheteur : il dépose ses pièces (A9, A10) que vous "
            "validez sous 15 jours.</p>"),
    Article("deposer-projet-decompte", "Déposer un projet de décompte",
            "dépôt déposer projet de décompte mensuel A4 A10 A13 situation travaux envoyer pièce brouillon",
            "<p>Chaque mois, déclarez l'avancement de vos travaux avec un <strong>projet de décompte mensuel</strong> "
            "(A4 pour le titulaire, A10 pour un sous-traitant, A13 pour un co-traitant). Choisissez le marché, "
            "le cadre, saisissez les montants cumulés et joignez le PDF.</p><p>Tant qu'elle est en brouillon, "
            "personne ne voit la pièce. Une fois envoyée, elle part vers les valideurs puis le maître d'œuvre, qui "
            "émet l'état d'acompte.</p>"),
    Article("repondre-validation", "Répondre à une demande de validation",
            "valider validation refuser partiellement sous-traitant co-traitant mandataire 15 jours tacite",
            "<p>Quand un sous-traitant ou un co-traitant dépose une pièce, vous devez la <strong>valider</strong>, "
            "la valider en partie (montant corrigé) ou la <strong>refuser</strong> avec un motif.</p><p>Vous avez "
            "15 jours : sans réponse, la pièce est réputée acceptée et poursuit son circuit.</p>"),
    Article("piece-suspendue", "Que faire d'une pièce suspendue ?",
            "suspendue suspension pièce manquante complément justificatif paiement bloqué",
            "<p>Le service financier a mis la pièce en attente car il lui manque un document (le motif le dit). "
            "Ouvrez la pièce et ajoutez le <strong>complément</strong> demandé : le traitement reprend dès qu'il "
            "est reçu.</p>"),
    Article("piece-a-recycler", "Que faire d'une pièce à recycler ?",
            "recycler recyclage code service engagement juridique SIRET erreur acheminement renvoyer",
            "<p>À recycler : le destinataire ne reconnaît pas l'adresse de la pièce (SIRET, code service ou numéro "
            "d'engagement). Corrigez seulement ces champs et <strong>renvoyez la pièce</strong> : son numéro reste "
            "le même, ce n'est pas un rejet.</p>"),
    Article("piece-rejetee", "Que faire d'une pièce rejetée ou refusée ?",
            "rejetée rejet refusée refus avoir nouvelle pièce nouveau numéro motif",
            "<p>Une pièce rejetée ou refusée ne sera pas payée et ne peut plus être modifiée. Lisez le motif, puis "
            "émettez une <strong>nouvelle pièce</strong>, avec un nouveau numéro ; pour annuler une facture, émettez "
            "un <strong>avoir</strong>.</p>"),
    Article("interets-moratoires", "Paiement en retard : les intérêts moratoires",
            "retard paiement intérêts moratoires indemnité forfaitaire 40 euros délai global DGP",
            "<p>L'acheteur public doit payer dans le délai global de paiement : 30 jours (État, collectivités), 50 "
            "jours (hôpitaux), 60 jours (entreprises publiques). Au-delà, des <strong>intérêts moratoires</strong> "
            "et une indemnité forfaitaire de 40 € sont dus automatiquement, sans les demander.</p><p>chorus-chain "
            "calcule les intérêts et peut produire la demande correspondante.</p>"),
    Article("dgd-tacite", "Le décompte général et définitif tacite",
            "DGD tacite décompte général définitif A22 A23 fin de marché projet de décompte final",
            "<p>En fin de marché, si le maître d'ouvrage ne vous notifie pas le décompte général dans les délais, "
            "vous pouvez lui envoyer votre <strong>projet de décompte général</strong> (A22).</p><p>S'il ne répond "
            "pas dans les 10 jours, ce projet devient le <strong>décompte général et définitif tacite</strong> "
            "(A23) : le marché est soldé sur vos montants.</p>"),
    Article("facturation-electronique", "La réforme de la facturation électronique",
            "réforme facturation électronique 2026 2027 plateforme agréée PA Factur-X réception émission",
            "<p>Dès le 1<sup>er</sup> septembre 2026, toutes les entreprises doivent pouvoir <strong>recevoir</strong> "
            "des factures électroniques ; les grandes entreprises et ETI doivent aussi les <strong>émettre</strong>, "
            "les PME et micro-entreprises à partir du 1<sup>er</sup> septembre 2027.</p><p>Les factures entre "
            "entreprises passent par une plateforme agréée (PA) ; les pièces destinées aux acheteurs publics restent "
            "sur Chorus Pro.</p>"),
)

BY_SLUG: dict[str, Article] = {article.slug: article for article in ARTICLES}


def fold(text: str) -> str:
    """Lower case, without accents: "Décompte" → "decompte"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a au aux de des du d l la le les un une et ou en pour par que qui quoi se sa son sur est "
                  "je j on ma mon mes ne pas".split())


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in _STOP and len(w) > 1]


def simple_scores(query: str) -> list[tuple[Article, float]]:
    """The fallback ranking: accent-insensitive word matches; a word of the title counts 3, of the keywords 2, of
    the body 1 (a word matches a prefix of at least 4 letters, so "recycler" finds "recyclage")."""
    terms = words(query)
    if not terms:
        return []
    scored = []
    for article in ARTICLES:
        fields = ((words(article.title), 3.0), (words(article.keywords), 2.0), (words(article.text), 1.0))
        score = 0.0
        for term in terms:
            stem = term[:max(4, len(term) - 2)]
            for field_words, weight in fields:
                if any(w == term or (len(stem) >= 4 and w.startswith(stem)) for w in field_words):
                    score += weight
        if score:
            scored.append((article, score))
    scored.sort(key=lambda pair: (-pair[1], pair[0].title))
    return scored
