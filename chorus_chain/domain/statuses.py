"""The statuses of a pièce de facturation, with the Chorus Pro codes as values (CHORUS.md §4).

Why Chorus codes: users compare our screens with Chorus Pro's, support tickets quote the codes, and the export
(`marche-export.md`) carries them verbatim. Every status here is a real Chorus Pro code except the four
`*_CONTRACTANT` ones (see below), which are ours; `StatusInfo.chorus` says which is which.

Which transitions lead from one status to another is `chorus_chain.domain.transitions`; this module only says what
each status is: its French label, whether it is final, which side of the chain holds the piece, and (for dashboards)
a one-line French explanation.

Statuses that are ours (no Chorus cadre exists for them):
- A rang-2+ sous-traitant, or a rang-1 below the paiement-direct threshold, invoices its own contractor privately
  (CHORUS.md §3, route step "contractor"). Its piece goes `TRANSMISE_CONTRACTANT` → `ACCEPTEE_CONTRACTANT` (fully or
  partly) → `PAYEE_CONTRACTANT`, or `REFUSEE_CONTRACTANT`.

Two codes the issue does not list and that we use, both real Chorus codes:
- `ERREUR_COTRAITANT_SUR_VALIDEUR` is Chorus's "wrong validator" status at validator 2 (the `_2` counterpart of
  `ERREUR_FOURNISSEUR_SUR_VALIDEUR`). A separate code per step lets the status alone say where the piece goes back.
- `ASSOCIEE` closes an end-of-contract piece whose follow-up piece takes over: a décompte général signed by the
  titulaire (the A8 follows), or a tacit PDG (A22) that the MOA left unanswered for 10 days (the A23 follows).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A status code. A StrEnum, so `Status.DEPOSEE == "DEPOSEE"` and the value is what the database stores."""

    # Draft
    BROUILLON = "BROUILLON"
    # Validation circuit, validator 1 (the depositor's contractor)
    A_VALIDER_1 = "A_VALIDER_1"
    VALIDEE_1 = "VALIDEE_1"
    REFUSEE_1 = "REFUSEE_1"
    ABSENCE_VALIDATION_1_HORS_DELAI = "ABSENCE_VALIDATION_1_HORS_DELAI"
    ERREUR_FOURNISSEUR_SUR_VALIDEUR = "ERREUR_FOURNISSEUR_SUR_VALIDEUR"
    # Validation circuit, validator 2 (the mandataire above a co-traitant)
    A_VALIDER_2 = "A_VALIDER_2"
    VALIDEE_2 = "VALIDEE_2"
    REFUSEE_2 = "REFUSEE_2"
    ABSENCE_VALIDATION_2_HORS_DELAI = "ABSENCE_VALIDATION_2_HORS_DELAI"
    ERREUR_COTRAITANT_SUR_VALIDEUR = "ERREUR_COTRAITANT_SUR_VALIDEUR"
    # Works side: maître d'œuvre
    A_ASSOCIER_MOE = "A_ASSOCIER_MOE"
    PRISE_EN_COMPTE_MOE = "PRISE_EN_COMPTE_MOE"
    ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE = "ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE"
    REFUSEE_MOE = "REFUSEE_MOE"
    # Works side: maître d'ouvrage
    A_ASSOCIER_MOA = "A_ASSOCIER_MOA"
    PRISE_EN_COMPTE_MOA = "PRISE_EN_COMPTE_MOA"
    REFUSEE_MOA = "REFUSEE_MOA"
    # End of contract: the décompte général waiting for the titulaire's signature
    A_ASSOCIER_FOURNISSEUR = "A_ASSOCIER_FOURNISSEUR"
    REFUSEE_FOURNISSEUR = "REFUSEE_FOURNISSEUR"
    REMPLACEE_PAR_A22 = "REMPLACEE_PAR_A22"
    ASSOCIEE = "ASSOCIEE"
    # Recipient side: the paying office
    DEPOSEE = "DEPOSEE"
    MISE_A_DISPOSITION = "MISE_A_DISPOSITION"
    A_RECYCLER = "A_RECYCLER"
    SUSPENDUE = "SUSPENDUE"
    COMPLETEE = "COMPLETEE"
    REJETEE = "REJETEE"
    SERVICE_FAIT = "SERVICE_FAIT"
    MANDATEE = "MANDATEE"
    MISE_EN_PAIEMENT = "MISE_EN_PAIEMENT"
    # Ours: a private invoice of a sous-traitant to its contractor (no Chorus cadre)
    TRANSMISE_CONTRACTANT = "TRANSMISE_CONTRACTANT"
    ACCEPTEE_CONTRACTANT = "ACCEPTEE_CONTRACTANT"
    REFUSEE_CONTRACTANT = "REFUSEE_CONTRACTANT"
    PAYEE_CONTRACTANT = "PAYEE_CONTRACTANT"


# The side of the chain that holds a piece in a status, for grouping on dashboards.
SIDE_DRAFT = "brouillon"
SIDE_VALIDATION = "validation"
SIDE_MOE = "moe"
SIDE_MOA = "moa"
SIDE_END_OF_CONTRACT = "fin_de_marche"
SIDE_RECIPIENT = "destinataire"
SIDE_PRIVATE = "prive"


@dataclass(frozen=True)
class StatusInfo:
    """What a status means. `final`: no further processing (only an acknowledgement may follow). `transit`: the
    piece only passes through it — the platform moves it on at once (see `transitions.AUTOMATIC_ACTIONS`), but the
    event stays in the history, as in Chorus Pro. `chorus`: a real Chorus Pro code (False: ours)."""

    code: Status
    label: str
    explanation: str
    side: str
    final: bool = False
    transit: bool = False
    chorus: bool = True


_S = Status

STATUS_INFO: dict[Status, StatusInfo] = {
    info.code: info
    for info in (
        StatusInfo(_S.BROUILLON, "Brouillon (non envoyé)",
                   "Enregistré mais pas envoyé : personne d'autre ne le voit tant que vous ne l'avez pas envoyé.",
                   SIDE_DRAFT),
        StatusInfo(_S.A_VALIDER_1, "À valider par le donneur d'ordre",
                   "L'entreprise donneuse d'ordre doit valider, valider en partie ou refuser (15 jours, puis "
                   "validation tacite).", SIDE_VALIDATION),
        StatusInfo(_S.VALIDEE_1, "Validée par le donneur d'ordre",
                   "Le donneur d'ordre a validé ; la pièce passe à l'étape suivante.", SIDE_VALIDATION, transit=True),
        StatusInfo(_S.REFUSEE_1, "Refusée par le donneur d'ordre",
                   "Le donneur d'ordre a refusé la pièce (motif indiqué). Émettez une nouvelle pièce, avec un "
                   "nouveau numéro.", SIDE_VALIDATION, final=True),
        StatusInfo(_S.ABSENCE_VALIDATION_1_HORS_DELAI, "Validée tacitement (donneur d'ordre silencieux)",
                   "Le donneur d'ordre n'a pas répondu dans les 15 jours : la pièce est réputée acceptée et "
                   "poursuit son circuit.", SIDE_VALIDATION, transit=True),
        StatusInfo(_S.ERREUR_FOURNISSEUR_SUR_VALIDEUR, "Erreur de valideur signalée",
                   "Le valideur indique qu'il n'est pas le bon : corrigez le valideur puis renvoyez la pièce.",
                   SIDE_VALIDATION),
        StatusInfo(_S.A_VALIDER_2, "À valider par le mandataire",
                   "Le mandataire du groupement doit valider, valider en partie ou refuser (15 jours, puis "
                   "validation tacite).", SIDE_VALIDATION),
        StatusInfo(_S.VALIDEE_2, "Validée par le mandataire",
                   "Le mandataire a validé ; la pièce passe à l'étape suivante.", SIDE_VALIDATION, transit=True),
        StatusInfo(_S.REFUSEE_2, "Refusée par le mandataire",
                   "Le mandataire a refusé la pièce (motif indiqué). Émettez une nouvelle pièce, avec un nouveau "
                   "numéro.", SIDE_VALIDATION, final=True),
        StatusInfo(_S.ABSENCE_VALIDATION_2_HORS_DELAI, "Validée tacitement (mandataire silencieux)",
                   "Le mandataire n'a pas répondu dans les 15 jours : la pièce est réputée acceptée et poursuit son "
                   "circuit.", SIDE_VALIDATION, transit=True),
        StatusInfo(_S.ERREUR_COTRAITANT_SUR_VALIDEUR, "Erreur de second valideur signalée",
                   "Le mandataire indique qu'il n'est pas le bon valideur : corrigez le valideur puis renvoyez la "
                   "pièce.", SIDE_VALIDATION),
        StatusInfo(_S.A_ASSOCIER_MOE, "Chez le maître d'œuvre",
                   "Le maître d'œuvre doit prendre en compte le projet de décompte et émettre son état d'acompte "
                   "dans le délai du marché.", SIDE_MOE),
        StatusInfo(_S.PRISE_EN_COMPTE_MOE, "Prise en compte par le maître d'œuvre",
                   "Le maître d'œuvre examine le projet de décompte et prépare son état d'acompte.", SIDE_MOE),
        StatusInfo(_S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, "Maître d'œuvre en retard",
                   "Le maître d'œuvre n'a pas émis son état d'acompte dans le délai : le titulaire et le maître "
                   "d'ouvrage sont alertés ; le titulaire peut saisir directement le maître d'ouvrage.", SIDE_MOE),
        StatusInfo(_S.REFUSEE_MOE, "Refusée par le maître d'œuvre",
                   "Le maître d'œuvre a refusé la pièce (motif indiqué) : le circuit s'arrête. Émettez une nouvelle "
                   "pièce, avec un nouveau numéro.", SIDE_MOE, final=True),
        StatusInfo(_S.A_ASSOCIER_MOA, "Chez le maître d'ouvrage",
                   "Le maître d'ouvrage doit prendre en compte la pièce et la valider.", SIDE_MOA),
        StatusInfo(_S.PRISE_EN_COMPTE_MOA, "Prise en compte par le maître d'ouvrage",
                   "Le maître d'ouvrage examine la pièce.", SIDE_MOA),
        StatusInfo(_S.REFUSEE_MOA, "Refusée par le maître d'ouvrage",
                   "Le maître d'ouvrage a refusé la pièce (motif indiqué). Émettez une nouvelle pièce, avec un "
                   "nouveau numéro.", SIDE_MOA, final=True),
        StatusInfo(_S.A_ASSOCIER_FOURNISSEUR, "Décompte général à signer par le titulaire",
                   "Le maître d'ouvrage a notifié le décompte général : le titulaire le signe, avec ou sans "
                   "réserves.", SIDE_END_OF_CONTRACT),
        StatusInfo(_S.REFUSEE_FOURNISSEUR, "Décompte général refusé par le titulaire",
                   "Le titulaire a refusé le décompte général (motif indiqué).", SIDE_END_OF_CONTRACT, final=True),
        StatusInfo(_S.REMPLACEE_PAR_A22, "Remplacée par le projet de décompte général tacite (A22)",
                   "Faute de décompte général notifié à temps, le titulaire a engagé la procédure tacite : cette "
                   "pièce est remplacée par son projet de décompte général (A22).", SIDE_END_OF_CONTRACT, final=True),
        StatusInfo(_S.ASSOCIEE, "Close, suite donnée par la pièce suivante",
                   "La pièce suivante du dossier prend le relais (décompte général et définitif signé ou tacite).",
                   SIDE_END_OF_CONTRACT, final=True),
        StatusInfo(_S.DEPOSEE, "Déposée",
                   "La pièce est déposée et transmise au service destinataire.", SIDE_RECIPIENT, transit=True),
        StatusInfo(_S.MISE_A_DISPOSITION, "Mise à disposition du destinataire",
                   "Le service financier destinataire doit traiter la pièce.", SIDE_RECIPIENT),
        StatusInfo(_S.A_RECYCLER, "À recycler (erreur d'acheminement)",
                   "Le destinataire signale une erreur de SIRET, de code service ou d'engagement juridique : "
                   "corrigez seulement ces champs et renvoyez la pièce sous le même numéro.", SIDE_RECIPIENT),
        StatusInfo(_S.SUSPENDUE, "Suspendue (pièces manquantes)",
                   "Le destinataire attend des pièces complémentaires : ajoutez-les pour que le traitement "
                   "reprenne.", SIDE_RECIPIENT),
        StatusInfo(_S.COMPLETEE, "Complétée",
                   "Les pièces demandées ont été ajoutées : le service financier reprend le traitement.",
                   SIDE_RECIPIENT),
        StatusInfo(_S.REJETEE, "Rejetée",
                   "Le destinataire a rejeté la pièce (motif indiqué). Elle ne sera pas payée : émettez une "
                   "nouvelle pièce, avec un nouveau numéro (souvent un avoir).", SIDE_RECIPIENT, final=True),
        StatusInfo(_S.SERVICE_FAIT, "Service fait constaté",
                   "Le service financier a constaté le service fait.", SIDE_RECIPIENT),
        StatusInfo(_S.MANDATEE, "Mandatée",
                   "Le paiement est ordonnancé : il sera mis en paiement par le comptable public.", SIDE_RECIPIENT),
        StatusInfo(_S.MISE_EN_PAIEMENT, "Mise en paiement",
                   "Le paiement est parti (date et montant indiqués).", SIDE_RECIPIENT, final=True),
        StatusInfo(_S.TRANSMISE_CONTRACTANT, "Transmise à l'entreprise donneuse d'ordre",
                   "Facture privée adressée à l'entreprise donneuse d'ordre, qui doit l'accepter ou la refuser.",
                   SIDE_PRIVATE, chorus=False),
        StatusInfo(_S.ACCEPTEE_CONTRACTANT, "Acceptée par l'entreprise donneuse d'ordre",
                   "L'entreprise donneuse d'ordre a accepté la facture (en tout ou partie) et doit la payer.",
                   SIDE_PRIVATE, chorus=False),
        StatusInfo(_S.REFUSEE_CONTRACTANT, "Refusée par l'entreprise donneuse d'ordre",
                   "L'entreprise donneuse d'ordre a refusé la facture (motif indiqué).", SIDE_PRIVATE, final=True,
                   chorus=False),
        StatusInfo(_S.PAYEE_CONTRACTANT, "Payée par l'entreprise donneuse d'ordre",
                   "L'entreprise donneuse d'ordre a payé la facture (date et montant indiqués).", SIDE_PRIVATE,
                   final=True, chorus=False),
    )
}

ALL_STATUSES: tuple[str, ...] = tuple(status.value for status in Status)
"""Every status code, in declaration order: what the CHECK constraint on the status column allows."""

FINAL_STATUSES: frozenset[Status] = frozenset(s for s, info in STATUS_INFO.items() if info.final)
# Paid (or put in payment): the money came or is on its way.
PAID_STATUSES: tuple[str, ...] = (Status.MISE_EN_PAIEMENT.value, Status.PAYEE_CONTRACTANT.value)
# Refused or rejected for good: the money of such a piece will never come (a new piece is issued instead).
REFUSED_STATUSES: tuple[str, ...] = tuple(
    s.value for s in sorted(FINAL_STATUSES, key=list(Status).index)
    if s not in {Status.MISE_EN_PAIEMENT, Status.PAYEE_CONTRACTANT, Status.ASSOCIEE})
TRANSIT_STATUSES: frozenset[Status] = frozenset(s for s, info in STATUS_INFO.items() if info.transit)
OUR_STATUSES: frozenset[Status] = frozenset(s for s, info in STATUS_INFO.items() if not info.chorus)
INITIAL_STATUS = Status.BROUILLON
STATUS_MAX_LENGTH = max(len(code) for code in ALL_STATUSES)
"""The longest code (for the column length)."""


def as_status(code: str) -> Status:
    """The Status of a stored code; ValueError for a code that is not one (corrupt data, not a user error)."""
    try:
        return Status(code)
    except ValueError:
        raise ValueError(f"unknown status code {code!r}") from None


def label(code: str) -> str:
    """The French label of a status, for people."""
    return STATUS_INFO[as_status(code)].label


def explanation(code: str) -> str:
    """A French sentence saying what the status means and what happens next."""
    return STATUS_INFO[as_status(code)].explanation


def is_final(code: str) -> bool:
    """True when the piece will not be processed any further (paid, refused, rejected, replaced, closed)."""
    return as_status(code) in FINAL_STATUSES


def is_transit(code: str) -> bool:
    """True for the statuses the platform moves on from at once (kept in the history, never a resting status)."""
    return as_status(code) in TRANSIT_STATUSES
