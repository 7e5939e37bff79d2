"""The people-facing help texts, in ONE place: what each status, cadre and deadline means, and what to do now.

Written for busy company managers, accountants and site engineers, not for lawyers. Pure data (no Flask): the
templates reach it through `chorus_chain.help_ui`, the help centre links to its articles by slug.

- `status_help(code)`: a short explanation of a status (the domain's explanation unless a plainer one is given here).
- `what_to_do(code, side)`: for a status that waits on someone, what to do now and why, for `side` "emitter" (the
  structure that sent the piece) or "actor" (the one who must act now). None when nothing is expected.
- `cadre_help(code)`, `deadline_help(kind)`: one or two sentences each.
- `STATUS_ARTICLES`: the help-centre article that goes further, by status.
"""
from __future__ import annotations

from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.deadlines import (
    CONTEST_MOE_CORRECTIONS,
    DC4,
    DEADLINE_KINDS,
    DG_SIGNATURE,
    INTERETS,
    MOE,
    PAIEMENT,
    TACIT_DGD,
    VALIDATION_1,
    VALIDATION_2,
)
from chorus_chain.domain.statuses import Status as S

EMITTER_SIDE = "emitter"
ACTOR_SIDE = "actor"
SIDES = (EMITTER_SIDE, ACTOR_SIDE)

# Plainer wordings where the domain's explanation is too terse or too technical (the others are reused as is).
_STATUS_OVERRIDES: dict[S, str] = {
    S.A_RECYCLER: "Le destinataire ne reconnaît pas l'adresse de la pièce (SIRET, code service ou numéro "
                  "d'engagement) : elle n'est pas rejetée, elle doit seulement être corrigée et renvoyée, sous le "
                  "même numéro.",
    S.SUSPENDUE: "Le service financier a mis la pièce en attente : il lui manque un document. Le paiement ne "
                 "reprendra qu'une fois le complément ajouté.",
    S.DEPOSEE: "La pièce est bien arrivée sur la plateforme et part au destinataire.",
    S.SERVICE_FAIT: "L'acheteur confirme que les travaux ou prestations facturés ont été réalisés : le paiement "
                    "se prépare.",
}

STATUS_HELP: dict[str, str] = {
    code.value: _STATUS_OVERRIDES.get(code, statuses.STATUS_INFO[code].explanation) for code in S
}

_WAIT = "Rien à faire pour l'instant : "

# What to do now, per status that waits on someone, for the emitter and for the one who must act.
WHAT_TO_DO: dict[str, dict[str, str]] = {
    S.BROUILLON: {
        EMITTER_SIDE: "Brouillon : complétez les champs signalés puis envoyez la pièce — tant qu'elle n'est pas "
                      "envoyée, personne ne la voit et aucun délai de paiement ne court.",
    },
    S.A_VALIDER_1: {
        EMITTER_SIDE: _WAIT + "votre donneur d'ordre a 15 jours pour valider. Sans réponse, la pièce est "
                      "validée tacitement et poursuit son circuit.",
        ACTOR_SIDE: "À valider : vérifiez les montants et validez, validez en partie ou refusez (avec un motif). "
                    "Au-delà de 15 jours sans réponse, la pièce est réputée acceptée.",
    },
    S.ERREUR_FOURNISSEUR_SUR_VALIDEUR: {
        EMITTER_SIDE: "Mauvais valideur : l'entreprise désignée dit ne pas être votre donneur d'ordre. Corrigez "
                      "le valideur puis renvoyez la pièce, sinon elle reste bloquée.",
    },
    S.A_VALIDER_2: {
        EMITTER_SIDE: _WAIT + "le mandataire du groupement a 15 jours pour valider ; sans réponse, la pièce "
                      "est validée tacitement.",
        ACTOR_SIDE: "À valider (mandataire) : vérifiez la pièce de votre co-traitant et validez, validez en partie "
                    "ou refusez. Au-delà de 15 jours sans réponse, elle est réputée acceptée.",
    },
    S.ERREUR_COTRAITANT_SUR_VALIDEUR: {
        EMITTER_SIDE: "Mauvais second valideur : corrigez le mandataire désigné puis renvoyez la pièce, sinon elle "
                      "reste bloquée.",
    },
    S.A_ASSOCIER_MOE: {
        EMITTER_SIDE: _WAIT + "le maître d'œuvre doit émettre son état d'acompte dans le délai du marché. "
                      "S'il tarde, vous serez alerté et pourrez saisir le maître d'ouvrage.",
        ACTOR_SIDE: "À prendre en compte : examinez le projet de décompte et émettez l'état d'acompte dans le "
                    "délai du marché — au-delà, l'entreprise peut saisir directement le maître d'ouvrage.",
    },
    S.PRISE_EN_COMPTE_MOE: {
        EMITTER_SIDE: _WAIT + "le maître d'œuvre examine votre projet de décompte.",
        ACTOR_SIDE: "En cours d'examen : émettez l'état d'acompte (ou refusez avec un motif) dans le délai du "
                    "marché.",
    },
    S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE: {
        EMITTER_SIDE: "Le maître d'œuvre est en retard : vous pouvez saisir directement le maître d'ouvrage pour "
                      "que le paiement ne soit pas retardé davantage.",
        ACTOR_SIDE: "Délai dépassé : émettez l'état d'acompte sans attendre — l'entreprise et le maître d'ouvrage "
                    "ont été alertés.",
    },
    S.A_ASSOCIER_MOA: {
        EMITTER_SIDE: _WAIT + "le maître d'ouvrage doit prendre en compte et valider la pièce.",
        ACTOR_SIDE: "À prendre en compte : examinez la pièce et validez-la (ou refusez avec un motif) ; le délai "
                    "de paiement de l'entreprise court.",
    },
    S.PRISE_EN_COMPTE_MOA: {
        EMITTER_SIDE: _WAIT + "le maître d'ouvrage examine la pièce.",
        ACTOR_SIDE: "En cours d'examen : validez la pièce ou refusez-la avec un motif.",
    },
    S.A_ASSOCIER_FOURNISSEUR: {
        EMITTER_SIDE: _WAIT + "le titulaire du marché doit signer le décompte général.",
        ACTOR_SIDE: "Décompte général à signer : signez-le, avec ou sans réserves, dans le délai indiqué. Sans "
                    "signature dans le délai, il devient définitif tel quel.",
    },
    S.MISE_A_DISPOSITION: {
        EMITTER_SIDE: _WAIT + "le service financier traite la pièce ; le délai global de paiement court.",
        ACTOR_SIDE: "À traiter : constatez le service fait, suspendez (pièce manquante), renvoyez à recycler "
                    "(mauvais code service) ou rejetez. Le délai global de paiement court.",
    },
    S.COMPLETEE: {
        EMITTER_SIDE: _WAIT + "le complément a été transmis, le service financier reprend le traitement.",
        ACTOR_SIDE: "Complément reçu : reprenez le traitement de la pièce.",
    },
    S.SERVICE_FAIT: {
        EMITTER_SIDE: _WAIT + "le service fait est constaté, le paiement se prépare.",
        ACTOR_SIDE: "Service fait constaté : mandatez la pièce pour que le paiement parte.",
    },
    S.MANDATEE: {
        EMITTER_SIDE: _WAIT + "le paiement est ordonnancé, le comptable public va le mettre en paiement.",
        ACTOR_SIDE: "Mandatée : indiquez la mise en paiement (date et montant) une fois le virement parti.",
    },
    S.A_RECYCLER: {
        EMITTER_SIDE: "À recycler : le code service indiqué n'existe pas chez le destinataire. Corrigez le code "
                      "service ou le numéro d'engagement puis renvoyez la pièce — son numéro reste le même.",
    },
    S.SUSPENDUE: {
        EMITTER_SIDE: "Suspendue : le service financier attend un document (voir le motif). Ajoutez-le en "
                      "complément — le traitement et le paiement reprennent dès qu'il est reçu.",
    },
    S.TRANSMISE_CONTRACTANT: {
        EMITTER_SIDE: _WAIT + "votre donneur d'ordre doit accepter ou refuser votre facture.",
        ACTOR_SIDE: "Facture de votre sous-traitant : acceptez-la (en tout ou partie) ou refusez-la avec un "
                    "motif.",
    },
    S.ACCEPTEE_CONTRACTANT: {
        EMITTER_SIDE: _WAIT + "votre facture est acceptée, votre donneur d'ordre doit la payer.",
        ACTOR_SIDE: "Facture acceptée : payez-la puis indiquez le paiement (date et montant).",
    },
}
WHAT_TO_DO = {str(code): texts for code, texts in WHAT_TO_DO.items()}

CADRE_HELP: dict[str, str] = {
    "A1": "Une facture ordinaire, envoyée à l'acheteur public qui la paie.",
    "A2": "Une facture déjà réglée (par exemple par carte d'achat), envoyée pour information et archivage.",
    "A4": "Chaque mois, l'entreprise titulaire déclare l'avancement des travaux : le maître d'œuvre en tire "
          "l'état d'acompte qui sera payé.",
    "A5": "L'état d'acompte, quand le maître d'œuvre travaille hors Chorus Pro : l'entreprise le dépose pour lui.",
    "A6": "L'état d'acompte déjà validé hors Chorus Pro, déposé par l'entreprise pour paiement.",
    "A7": "À la fin des travaux, l'entreprise déclare le montant total qu'elle estime dû : c'est la base du "
          "décompte général.",
    "A8": "Le décompte général signé par l'entreprise : il solde le marché et devient définitif.",
    "A9": "La facture d'un sous-traitant payé directement par l'acheteur public (paiement direct, DC4 accepté).",
    "A10": "Le projet de décompte mensuel d'un sous-traitant en paiement direct : l'entreprise titulaire le "
           "valide avant qu'il parte au maître d'œuvre.",
    "A12": "La facture d'un co-traitant du groupement, validée par le mandataire avant l'acheteur.",
    "A13": "Le projet de décompte mensuel d'un co-traitant, validé par le mandataire du groupement.",
    "A14": "Le projet de décompte final d'un co-traitant, en fin de travaux.",
    "A15": "L'état d'acompte établi par le maître d'œuvre à partir du projet de décompte de l'entreprise.",
    "A16": "L'état d'acompte du maître d'œuvre, avec l'accord du maître d'ouvrage obtenu hors Chorus Pro.",
    "A17": "Le projet de décompte général préparé par le maître d'œuvre en fin de marché.",
    "A18": "Le décompte général émis par le maître d'œuvre, que l'entreprise doit signer.",
    "A19": "L'état d'acompte validé par le maître d'ouvrage, transmis pour paiement.",
    "A20": "Le décompte général émis par le maître d'ouvrage, que l'entreprise doit signer.",
    "A22": "Faute de décompte général reçu à temps, l'entreprise envoie elle-même son projet de décompte "
           "général : c'est le début de la procédure tacite.",
    "A23": "Le maître d'ouvrage n'a pas répondu au projet tacite dans le délai : ce décompte devient définitif.",
    "A24": "Le décompte général et définitif tacite, émis par le maître d'œuvre.",
    "A25": "Le décompte général et définitif tacite, émis par le maître d'ouvrage.",
}
PRIVATE_HELP = ("Une facture privée d'un sous-traitant à son donneur d'ordre : elle ne passe pas par Chorus Pro. "
                "Depuis la réforme, elle passe par une plateforme agréée (PA).")

DEADLINE_HELP: dict[str, str] = {
    VALIDATION_1: "Le donneur d'ordre a 15 jours pour valider la pièce de son sous-traitant ; sans réponse, elle "
                  "est réputée acceptée.",
    VALIDATION_2: "Le mandataire a 15 jours pour valider la pièce de son co-traitant ; sans réponse, elle est "
                  "réputée acceptée.",
    MOE: "Le maître d'œuvre doit transformer le projet de décompte en état d'acompte dans le délai du marché "
         "(souvent 7 jours) ; au-delà, l'entreprise peut s'adresser au maître d'ouvrage.",
    PAIEMENT: "Le délai global de paiement : 30 jours pour l'État et les collectivités (50 pour les hôpitaux, 60 "
              "pour les entreprises publiques). Au-delà, des intérêts moratoires et une indemnité de 40 € sont dus "
              "automatiquement.",
    DC4: "L'acheteur a 21 jours pour accepter le sous-traitant déclaré (DC4) ; son silence vaut acceptation.",
    CONTEST_MOE_CORRECTIONS: "L'entreprise dispose d'un délai pour contester les corrections que le maître "
                             "d'œuvre a faites sur son projet de décompte ; passé ce délai, elles sont acquises.",
    TACIT_DGD: "Après le projet de décompte général tacite, le maître d'ouvrage a 10 jours pour réagir ; sans "
               "réponse, le décompte devient définitif (DGD tacite).",
    DG_SIGNATURE: "L'entreprise doit signer (ou contester) le décompte général dans le délai ; sans réponse, il "
                  "devient définitif tel quel.",
    INTERETS: "Après un paiement en retard, l'acheteur a 45 jours pour payer les intérêts moratoires et "
              "l'indemnité forfaitaire de 40 € (article R2192-36 du code de la commande publique) ; s'ils restent "
              "impayés, ils sont repris au projet de décompte final.",
}

STATUS_ARTICLES: dict[str, str] = {
    S.A_RECYCLER: "piece-a-recycler",
    S.SUSPENDUE: "piece-suspendue",
    S.REJETEE: "piece-rejetee",
    S.REFUSEE_1: "piece-rejetee", S.REFUSEE_2: "piece-rejetee", S.REFUSEE_MOE: "piece-rejetee",
    S.REFUSEE_MOA: "piece-rejetee", S.REFUSEE_CONTRACTANT: "piece-rejetee",
    S.A_VALIDER_1: "repondre-validation", S.A_VALIDER_2: "repondre-validation",
    S.TRANSMISE_CONTRACTANT: "repondre-validation",
    S.BROUILLON: "deposer-projet-decompte",
    S.MISE_A_DISPOSITION: "interets-moratoires", S.MANDATEE: "interets-moratoires",
    S.REMPLACEE_PAR_A22: "dgd-tacite", S.A_ASSOCIER_FOURNISSEUR: "dgd-tacite",
}
STATUS_ARTICLES = {str(code): slug for code, slug in STATUS_ARTICLES.items()}


def status_help(code: str) -> str:
    return STATUS_HELP[statuses.as_status(code).value]


def what_to_do(code: str, side: str) -> str | None:
    """What to do now and why, for `side` ("emitter" or "actor"); None when nothing is expected of that side. When
    the emitter itself must act (à recycler, suspendue...), the actor's text is the emitter's."""
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}")
    texts = WHAT_TO_DO.get(statuses.as_status(code).value)
    if not texts:
        return None
    if side == ACTOR_SIDE:
        return texts.get(ACTOR_SIDE) or texts.get(EMITTER_SIDE)
    return texts.get(EMITTER_SIDE)


def cadre_help(code: str | None) -> str:
    return CADRE_HELP.get(code or "", PRIVATE_HELP) if code else PRIVATE_HELP


def deadline_help(kind: str) -> str:
    return DEADLINE_HELP[kind]


def waiting_statuses() -> tuple[str, ...]:
    """The statuses in which someone (not the platform) is expected to act."""
    return tuple(code.value for code in S if T.current_step(code) not in (None, T.SYSTEM))


assert set(DEADLINE_HELP) >= set(DEADLINE_KINDS), "a deadline kind lacks its help text"
assert set(CADRE_HELP) >= set(CADRES), "a cadre lacks its help text"
