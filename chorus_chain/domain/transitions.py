"""THE transition table of a pièce de facturation, as data, and the few pure functions that read it.

Why one table: the database (CHECK constraint on the status), the operations (who may do what), the dashboards (who
must act now), the deadline sweep (which system action a clock triggers), the audit (`replay` of the events) and the
property tests all read the same rows, so they cannot drift apart (DESIGN.md §3 rule 5).

A row is (from_status, action, actor_step) → to_status:

- `actor_step` is who may act: a step of the piece's route as the chain graph names it ("validation_1",
  "validation_2", "moe", "moa", "paiement", "contractor"), or "emitter" (whoever deposited the piece), "titulaire"
  (the holder of the marché — titulaire or mandataire — who signs the décompte général; the operations layer finds
  it in the chain with `Role.HOLDERS`, since it is not a route step of the MOE's or MOA's pieces) or "system" (the
  platform: a deadline that expired, or an automatic move on).
- `to_status` is a status, or `Next(step)`: the status of the step that follows `step` on the piece's route
  (`next_status_after`), or `FIRST`: the status of the route's first step. That is how one table serves every route.
- `cadres`, when set, restricts a row to pieces of those cadres (the end-of-contract procedure only).

A row applies to a piece when its actor is on the route (or is emitter / titulaire / system), its cadre guard
matches, and its from_status can occur on that route (`reachable_statuses`). Nothing else is allowed: `apply`
refuses anything not in the table with a French message (`TransitionRefused`).

Conventions settled here (CHORUS.md leaves them open):
- A validator's decision and a tacit validation land on `VALIDEE_n` / `ABSENCE_VALIDATION_n_HORS_DELAI`, which are
  transit statuses: the system moves the piece on at once (`forward`) to the next step's status, as Chorus Pro's
  history shows. Likewise `DEPOSEE` → `MISE_A_DISPOSITION` (`make_available`). `settle` / `perform` apply these.
- Refusals are final for the piece (Chorus Pro: the supplier duplicates it under a new number); the emitter may
  acknowledge them (`acknowledge_rejection`, a row that keeps the status; the operations layer records the
  acknowledgement once).
- `A_RECYCLER` is set by the paying office only, and `resend` (same number, routing fields only) goes back to
  `DEPOSEE`: the validations already given still hold, since only the routing changed.
- Suspension and recycling happen before the service fait; a rejection may come until the mandat.
- A route that ends at the MOA (A17, A22, A24 in the graph) is an end-of-contract piece: the MOA's validation is the
  décompte général, which then waits for the titulaire's signature (`A_ASSOCIER_FOURNISSEUR`).
- "Wrong validator" at validator 2 uses Chorus's `ERREUR_COTRAITANT_SUR_VALIDEUR`; in both cases the emitter
  corrects the validator (`redirect_validator`) and the piece goes back to the same validation step.
- An amount disagreement is never a reason to refuse a works piece (CHORUS.md §4): the refusal reasons are a small
  enum and "montant" is refused on works routes, with a French explanation of what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.statuses import FINAL_STATUSES, INITIAL_STATUS, STATUS_INFO, Status, as_status

# ---------------------------------------------------------------------------------------------------------------------
# Vocabulary

# Route steps, exactly as the chain graph and the export contract name them.
STEP_VALIDATION_1 = "validation_1"
STEP_VALIDATION_2 = "validation_2"
STEP_MOE = "moe"
STEP_MOA = "moa"
STEP_PAIEMENT = "paiement"
STEP_CONTRACTOR = "contractor"
ROUTE_STEPS: tuple[str, ...] = (
    STEP_VALIDATION_1, STEP_VALIDATION_2, STEP_MOE, STEP_MOA, STEP_PAIEMENT, STEP_CONTRACTOR,
)

# Actors that are not route steps.
EMITTER = "emitter"
TITULAIRE = "titulaire"
SYSTEM = "system"
ACTORS: tuple[str, ...] = (EMITTER, *ROUTE_STEPS, TITULAIRE, SYSTEM)
OFF_ROUTE_ACTORS = frozenset({EMITTER, TITULAIRE, SYSTEM})

ACTOR_LABELS: dict[str, str] = {
    EMITTER: "l'émetteur de la pièce",
    STEP_VALIDATION_1: "le donneur d'ordre (valideur 1)",
    STEP_VALIDATION_2: "le mandataire (valideur 2)",
    STEP_MOE: "le maître d'œuvre",
    STEP_MOA: "le maître d'ouvrage",
    STEP_PAIEMENT: "le service financier",
    STEP_CONTRACTOR: "l'entreprise donneuse d'ordre",
    TITULAIRE: "le titulaire du marché",
    SYSTEM: "la plateforme (échéance)",
}

# The status a piece takes when it reaches a step.
ENTRY_STATUS: dict[str, Status] = {
    STEP_VALIDATION_1: Status.A_VALIDER_1,
    STEP_VALIDATION_2: Status.A_VALIDER_2,
    STEP_MOE: Status.A_ASSOCIER_MOE,
    STEP_MOA: Status.A_ASSOCIER_MOA,
    STEP_PAIEMENT: Status.DEPOSEE,
    STEP_CONTRACTOR: Status.TRANSMISE_CONTRACTANT,
}

# The status after the last step of a route that does not end with a payment: the MOA's answer to an
# end-of-contract piece is the décompte général, which waits for the titulaire's signature.
END_OF_ROUTE_STATUS: dict[str, Status] = {STEP_MOA: Status.A_ASSOCIER_FOURNISSEUR}

# Steps a route may end with (a validator or the MOE never closes a route).
_LAST_STEPS = frozenset({STEP_PAIEMENT, STEP_MOA, STEP_CONTRACTOR})
_ORDERED_PUBLIC = (STEP_VALIDATION_1, STEP_VALIDATION_2, STEP_MOE, STEP_MOA, STEP_PAIEMENT)


class Action:
    """The action identifiers (English), as stored in the events."""

    CREATE = "create"  # the draft is created: only ever the first event, never a row
    DEPOSIT = "deposit"
    VALIDATE = "validate"
    VALIDATE_PARTIALLY = "validate_partially"
    REFUSE = "refuse"
    WRONG_VALIDATOR = "wrong_validator"
    REDIRECT_VALIDATOR = "redirect_validator"
    TACIT_VALIDATION = "tacit_validation"
    FORWARD = "forward"
    TAKE = "take"
    ISSUE_ETAT_ACOMPTE = "issue_etat_acompte"
    MOE_LATE = "moe_late"
    REFER_TO_MOA = "refer_to_moa"
    MOA_TAKE = "moa_take"
    MOA_VALIDATE = "moa_validate"
    MOA_REFUSE = "moa_refuse"
    RETURN_ETAT = "return_etat"
    SIGN_DG = "sign_dg"
    SIGN_DG_WITH_RESERVATIONS = "sign_dg_with_reservations"
    REFUSE_DG = "refuse_dg"
    TACIT_DG_ACCEPTANCE = "tacit_dg_acceptance"
    REPLACE_BY_A22 = "replace_by_a22"
    ESTABLISH_DG = "establish_dg"
    TACIT_DGD = "tacit_dgd"
    MAKE_AVAILABLE = "make_available"
    MARK_SERVICE_FAIT = "mark_service_fait"
    MARK_MANDATEE = "mark_mandatee"
    MARK_PAID = "mark_paid"
    RECYCLE = "recycle"
    RESEND = "resend"
    SUSPEND = "suspend"
    COMPLETE = "complete"
    REJECT = "reject"
    ACKNOWLEDGE_REJECTION = "acknowledge_rejection"


# French labels of the actions (buttons, history lines).
ACTION_LABELS: dict[str, str] = {
    Action.CREATE: "créer le brouillon",
    Action.DEPOSIT: "envoyer la pièce",
    Action.VALIDATE: "valider",
    Action.VALIDATE_PARTIALLY: "valider partiellement",
    Action.REFUSE: "refuser",
    Action.WRONG_VALIDATOR: "signaler une erreur de valideur",
    Action.REDIRECT_VALIDATOR: "corriger le valideur et renvoyer",
    Action.TACIT_VALIDATION: "constater la validation tacite",
    Action.FORWARD: "transmettre à l'étape suivante",
    Action.TAKE: "prendre en compte",
    Action.ISSUE_ETAT_ACOMPTE: "émettre l'état d'acompte",
    Action.MOE_LATE: "constater le retard du maître d'œuvre",
    Action.REFER_TO_MOA: "saisir directement le maître d'ouvrage",
    Action.MOA_TAKE: "prendre en compte",
    Action.MOA_VALIDATE: "valider",
    Action.MOA_REFUSE: "refuser",
    Action.RETURN_ETAT: "renvoyer l'état d'acompte au maître d'œuvre",
    Action.SIGN_DG: "signer le décompte général sans réserve",
    Action.SIGN_DG_WITH_RESERVATIONS: "signer le décompte général avec réserves",
    Action.REFUSE_DG: "refuser le décompte général",
    Action.TACIT_DG_ACCEPTANCE: "constater l'acceptation tacite du décompte général",
    Action.ESTABLISH_DG: "établir le décompte général à partir du projet du maître d'œuvre",
    Action.REPLACE_BY_A22: "engager la procédure tacite (A22)",
    Action.TACIT_DGD: "constater le décompte général et définitif tacite",
    Action.MAKE_AVAILABLE: "mettre à disposition du destinataire",
    Action.MARK_SERVICE_FAIT: "constater le service fait",
    Action.MARK_MANDATEE: "mandater",
    Action.MARK_PAID: "mettre en paiement",
    Action.RECYCLE: "renvoyer à recycler",
    Action.RESEND: "corriger l'acheminement et renvoyer",
    Action.SUSPEND: "suspendre",
    Action.COMPLETE: "compléter",
    Action.REJECT: "rejeter",
    Action.ACKNOWLEDGE_REJECTION: "prendre acte du refus",
}
ALL_ACTIONS: tuple[str, ...] = tuple(a for a in ACTION_LABELS if a != Action.CREATE)


@dataclass(frozen=True)
class Next:
    """A route-dependent target: the status of whatever follows `after` on the piece's route."""

    after: str


@dataclass(frozen=True)
class _First:
    """A route-dependent target: the status of the route's first step (the deposit)."""


FIRST = _First()
Target = Status | Next | _First


@dataclass(frozen=True)
class Row:
    """One row of the table. `cadres` restricts it to pieces of those cadres (None: every cadre)."""

    from_status: Status
    action: str
    actor_step: str
    to: Target
    cadres: frozenset[str] | None = None
    except_cadres: frozenset[str] = frozenset()

    @property
    def keeps_status(self) -> bool:
        """An acknowledgement: recorded as an event, the status does not change."""
        return self.to == self.from_status


# The état d'acompte travelling as a piece (A15), and the projets de décompte it carries (issue 12).
ETAT_CADRES = frozenset({"A15"})
PDM_CADRES = frozenset({"A4", "A10", "A13", "A7", "A14"})


# ---------------------------------------------------------------------------------------------------------------------
# Inputs an action needs: reasons and amounts

@dataclass(frozen=True)
class RefusalReason:
    """One refusal or rejection reason. `amount` marks the amount disagreement that works pieces may not use."""

    code: str
    label: str
    amount: bool = False


REFUSAL_REASONS: dict[str, RefusalReason] = {
    r.code: r
    for r in (
        RefusalReason("montant", "Désaccord sur le montant", amount=True),
        RefusalReason("non_conforme", "Prestation ou travaux non conformes"),
        RefusalReason("non_realise", "Prestation ou travaux non réalisés"),
        RefusalReason("doublon", "Pièce déjà déposée (doublon)"),
        RefusalReason("hors_perimetre", "Hors du marché ou du contrat de sous-traitance"),
        RefusalReason("pieces_manquantes", "Pièces justificatives manquantes ou illisibles"),
        RefusalReason("autre", "Autre motif (à préciser en commentaire)"),
    )
}
REASON_NEEDING_COMMENT = "autre"

# Why a piece comes back "à recycler": exactly the fields the emitter may then change (CHORUS.md §4).
RECYCLE_REASONS: dict[str, str] = {
    "siret_destinataire": "SIRET du destinataire erroné",
    "code_service": "Code service erroné ou manquant",
    "engagement_juridique": "Numéro d'engagement juridique erroné ou manquant",
}

# Reason policy per action: "refusal" = a code of REFUSAL_REASONS, "recycle" = a code of RECYCLE_REASONS, "text" =
# a free French text, required; "optional" = free text, may be None. An action not listed takes no reason.
REASON_POLICY: dict[str, str] = {
    Action.REFUSE: "refusal",
    Action.MOA_REFUSE: "refusal",
    Action.REJECT: "refusal",
    Action.REFUSE_DG: "refusal",
    Action.RECYCLE: "recycle",
    Action.SUSPEND: "text",
    # Accepting less than asked: the depositor reads why (on the piece's history and in the notification).
    Action.VALIDATE_PARTIALLY: "text",
    Action.SIGN_DG_WITH_RESERVATIONS: "text",
    Action.RETURN_ETAT: "text",
    Action.WRONG_VALIDATOR: "optional",
    Action.TACIT_VALIDATION: "optional",
    Action.MOE_LATE: "optional",
    Action.TACIT_DG_ACCEPTANCE: "optional",
    Action.TACIT_DGD: "optional",
    Action.REPLACE_BY_A22: "optional",
}
REASON_MAX_LENGTH = 1000

# Amount policy: "required" or "optional" (an action not listed takes no amount). `paid_on` goes with mark_paid.
AMOUNT_POLICY: dict[str, str] = {
    Action.VALIDATE_PARTIALLY: "required",
    Action.MARK_PAID: "required",
    Action.ISSUE_ETAT_ACOMPTE: "optional",
}
PAID_ON_REQUIRED = frozenset({Action.MARK_PAID})
AMOUNT_MAX = Decimal("999999999999.99")  # what Numeric(14, 2) holds

# What to do instead of refusing a works piece for its amount, by actor.
_AMOUNT_ON_WORKS_ADVICE: dict[str, str] = {
    STEP_VALIDATION_1: "validez-la partiellement en indiquant le montant que vous acceptez",
    STEP_VALIDATION_2: "validez-la partiellement en indiquant le montant que vous acceptez",
    STEP_MOE: "corrigez les montants dans votre état d'acompte ; le titulaire dispose de 30 jours pour contester "
              "vos corrections",
    STEP_MOA: "les montants sont ceux de l'état d'acompte du maître d'œuvre, que le titulaire peut contester",
    STEP_PAIEMENT: "les montants sont ceux de l'état d'acompte validé par le maître d'ouvrage",
    TITULAIRE: "signez le décompte général avec réserves en exposant votre désaccord",
}


# ---------------------------------------------------------------------------------------------------------------------
# The table

def _rows() -> tuple[Row, ...]:
    S, A = Status, Action
    rows: list[Row] = [Row(S.BROUILLON, A.DEPOSIT, EMITTER, FIRST)]

    # Validation circuit, validators 1 and 2 (CHORUS.md §4).
    for step, waiting, validated, refused, tacit, wrong in (
        (STEP_VALIDATION_1, S.A_VALIDER_1, S.VALIDEE_1, S.REFUSEE_1, S.ABSENCE_VALIDATION_1_HORS_DELAI,
         S.ERREUR_FOURNISSEUR_SUR_VALIDEUR),
        (STEP_VALIDATION_2, S.A_VALIDER_2, S.VALIDEE_2, S.REFUSEE_2, S.ABSENCE_VALIDATION_2_HORS_DELAI,
         S.ERREUR_COTRAITANT_SUR_VALIDEUR),
    ):
        rows += [
            Row(waiting, A.VALIDATE, step, validated),
            Row(waiting, A.VALIDATE_PARTIALLY, step, validated),
            Row(waiting, A.REFUSE, step, refused),
            Row(waiting, A.WRONG_VALIDATOR, step, wrong),
            Row(waiting, A.TACIT_VALIDATION, SYSTEM, tacit),
            Row(wrong, A.REDIRECT_VALIDATOR, EMITTER, waiting),
            Row(validated, A.FORWARD, SYSTEM, Next(step)),
            Row(tacit, A.FORWARD, SYSTEM, Next(step)),
            Row(refused, A.ACKNOWLEDGE_REJECTION, EMITTER, refused),
        ]

    # Maître d'œuvre: takes the projet de décompte and issues its état d'acompte within the marché's deadline.
    rows += [
        Row(S.A_ASSOCIER_MOE, A.TAKE, STEP_MOE, S.PRISE_EN_COMPTE_MOE),
        Row(S.A_ASSOCIER_MOE, A.REFUSE, STEP_MOE, S.REFUSEE_MOE),
        Row(S.A_ASSOCIER_MOE, A.MOE_LATE, SYSTEM, S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE),
        Row(S.PRISE_EN_COMPTE_MOE, A.ISSUE_ETAT_ACOMPTE, STEP_MOE, Next(STEP_MOE)),
        Row(S.PRISE_EN_COMPTE_MOE, A.REFUSE, STEP_MOE, S.REFUSEE_MOE),
        Row(S.PRISE_EN_COMPTE_MOE, A.MOE_LATE, SYSTEM, S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE),
        # Late: the MOE may still answer, and the depositor (or the titulaire above it) may go to the MOA.
        Row(S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, A.ISSUE_ETAT_ACOMPTE, STEP_MOE, Next(STEP_MOE)),
        Row(S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, A.REFUSE, STEP_MOE, S.REFUSEE_MOE),
        Row(S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, A.REFER_TO_MOA, EMITTER, Next(STEP_MOE)),
        Row(S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, A.REFER_TO_MOA, TITULAIRE, Next(STEP_MOE)),
        Row(S.REFUSEE_MOE, A.ACKNOWLEDGE_REJECTION, EMITTER, S.REFUSEE_MOE),
    ]

    # Maître d'ouvrage.
    rows += [
        Row(S.A_ASSOCIER_MOA, A.MOA_TAKE, STEP_MOA, S.PRISE_EN_COMPTE_MOA),
        Row(S.A_ASSOCIER_MOA, A.MOA_REFUSE, STEP_MOA, S.REFUSEE_MOA),
        Row(S.PRISE_EN_COMPTE_MOA, A.MOA_VALIDATE, STEP_MOA, Next(STEP_MOA), except_cadres=ETAT_CADRES),
        # The état d'acompte (A15) travels as one document: validated, the MOA's A19 takes over (ASSOCIEE);
        # returned to the MOE with a reason, it is closed and the MOE issues it again under a new piece number
        # (« n° 4 bis »), while each projet de décompte it carried goes back to the MOE's desk (issue 12).
        Row(S.PRISE_EN_COMPTE_MOA, A.MOA_VALIDATE, STEP_MOA, S.ASSOCIEE, frozenset(ETAT_CADRES)),
        *(Row(status, A.RETURN_ETAT, STEP_MOA, S.REFUSEE_MOA, frozenset(ETAT_CADRES))
          for status in (S.A_ASSOCIER_MOA, S.PRISE_EN_COMPTE_MOA)),
        *(Row(status, A.RETURN_ETAT, STEP_MOA, S.PRISE_EN_COMPTE_MOE, frozenset(PDM_CADRES))
          for status in (S.A_ASSOCIER_MOA, S.PRISE_EN_COMPTE_MOA)),
        Row(S.PRISE_EN_COMPTE_MOA, A.MOA_REFUSE, STEP_MOA, S.REFUSEE_MOA),
        Row(S.REFUSEE_MOA, A.ACKNOWLEDGE_REJECTION, EMITTER, S.REFUSEE_MOA),
        # The MOE's projet de décompte général (A17) established from the final état: the MOA turns it into its own
        # décompte général (A20), which takes over and waits for the titulaire's signature (issue 12).
        Row(S.PRISE_EN_COMPTE_MOA, A.ESTABLISH_DG, STEP_MOA, S.ASSOCIEE, frozenset({"A17"})),
    ]

    # End of contract (CHORUS.md §3): the titulaire signs the décompte général with or without reservations (its
    # A8 follows), or refuses it; silent, it is deemed to accept [assumed: CCAG Travaux 2021, 30 days].
    rows += [
        Row(S.A_ASSOCIER_FOURNISSEUR, A.SIGN_DG, TITULAIRE, S.ASSOCIEE),
        Row(S.A_ASSOCIER_FOURNISSEUR, A.SIGN_DG_WITH_RESERVATIONS, TITULAIRE, S.ASSOCIEE),
        Row(S.A_ASSOCIER_FOURNISSEUR, A.REFUSE_DG, TITULAIRE, S.REFUSEE_FOURNISSEUR),
        Row(S.A_ASSOCIER_FOURNISSEUR, A.TACIT_DG_ACCEPTANCE, SYSTEM, S.ASSOCIEE),
        Row(S.REFUSEE_FOURNISSEUR, A.ACKNOWLEDGE_REJECTION, EMITTER, S.REFUSEE_FOURNISSEUR),
    ]
    # Tacit procedure: no DG notified in time → the titulaire's A22 replaces the pending A7 / A17; the MOA then has
    # 10 days on the A22, after which it is the tacit DGD (the titulaire deposits the A23) [sure].
    pending_end_of_contract = (
        (S.A_ASSOCIER_MOE, {"A7"}), (S.PRISE_EN_COMPTE_MOE, {"A7"}),
        (S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, {"A7"}),
        (S.A_ASSOCIER_MOA, {"A7", "A17"}), (S.PRISE_EN_COMPTE_MOA, {"A7", "A17"}),
    )
    rows += [
        Row(status, A.REPLACE_BY_A22, TITULAIRE, S.REMPLACEE_PAR_A22, frozenset(cadres))
        for status, cadres in pending_end_of_contract
    ]
    rows += [
        Row(S.A_ASSOCIER_MOA, A.TACIT_DGD, SYSTEM, S.ASSOCIEE, frozenset({"A22"})),
        Row(S.PRISE_EN_COMPTE_MOA, A.TACIT_DGD, SYSTEM, S.ASSOCIEE, frozenset({"A22"})),
    ]

    # Recipient side: the paying office (CHORUS.md §4).
    rows.append(Row(S.DEPOSEE, A.MAKE_AVAILABLE, SYSTEM, S.MISE_A_DISPOSITION))
    for processing in (S.MISE_A_DISPOSITION, S.COMPLETEE):
        rows += [
            Row(processing, A.MARK_SERVICE_FAIT, STEP_PAIEMENT, S.SERVICE_FAIT),
            Row(processing, A.RECYCLE, STEP_PAIEMENT, S.A_RECYCLER),
            Row(processing, A.SUSPEND, STEP_PAIEMENT, S.SUSPENDUE),
            Row(processing, A.REJECT, STEP_PAIEMENT, S.REJETEE),
        ]
    rows += [
        Row(S.SERVICE_FAIT, A.MARK_MANDATEE, STEP_PAIEMENT, S.MANDATEE),
        Row(S.SERVICE_FAIT, A.REJECT, STEP_PAIEMENT, S.REJETEE),
        Row(S.MANDATEE, A.MARK_PAID, STEP_PAIEMENT, S.MISE_EN_PAIEMENT),
        Row(S.A_RECYCLER, A.RESEND, EMITTER, S.DEPOSEE),
        Row(S.SUSPENDUE, A.COMPLETE, EMITTER, S.COMPLETEE),
        Row(S.SUSPENDUE, A.REJECT, STEP_PAIEMENT, S.REJETEE),
        Row(S.REJETEE, A.ACKNOWLEDGE_REJECTION, EMITTER, S.REJETEE),
    ]

    # Ours: the private invoice of a sous-traitant to its contractor.
    rows += [
        Row(S.TRANSMISE_CONTRACTANT, A.VALIDATE, STEP_CONTRACTOR, S.ACCEPTEE_CONTRACTANT),
        Row(S.TRANSMISE_CONTRACTANT, A.VALIDATE_PARTIALLY, STEP_CONTRACTOR, S.ACCEPTEE_CONTRACTANT),
        Row(S.TRANSMISE_CONTRACTANT, A.REFUSE, STEP_CONTRACTOR, S.REFUSEE_CONTRACTANT),
        Row(S.ACCEPTEE_CONTRACTANT, A.MARK_PAID, STEP_CONTRACTOR, S.PAYEE_CONTRACTANT),
        Row(S.REFUSEE_CONTRACTANT, A.ACKNOWLEDGE_REJECTION, EMITTER, S.REFUSEE_CONTRACTANT),
    ]
    return tuple(rows)


TRANSITIONS: tuple[Row, ...] = _rows()
"""Every row, in a stable order (the order of `allowed_actions`)."""

# Which action the platform applies at once to a transit status (see `settle`).
AUTOMATIC_ACTIONS: dict[Status, str] = {
    Status.VALIDEE_1: Action.FORWARD,
    Status.ABSENCE_VALIDATION_1_HORS_DELAI: Action.FORWARD,
    Status.VALIDEE_2: Action.FORWARD,
    Status.ABSENCE_VALIDATION_2_HORS_DELAI: Action.FORWARD,
    Status.DEPOSEE: Action.MAKE_AVAILABLE,
}

# Who is expected to act in a status, whatever the route (dashboards); None for a final status.
WAITING_ON: dict[Status, str | None] = {
    Status.BROUILLON: EMITTER,
    Status.A_VALIDER_1: STEP_VALIDATION_1,
    Status.ERREUR_FOURNISSEUR_SUR_VALIDEUR: EMITTER,
    Status.A_VALIDER_2: STEP_VALIDATION_2,
    Status.ERREUR_COTRAITANT_SUR_VALIDEUR: EMITTER,
    Status.A_ASSOCIER_MOE: STEP_MOE,
    Status.PRISE_EN_COMPTE_MOE: STEP_MOE,
    Status.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE: STEP_MOE,
    Status.A_ASSOCIER_MOA: STEP_MOA,
    Status.PRISE_EN_COMPTE_MOA: STEP_MOA,
    Status.A_ASSOCIER_FOURNISSEUR: TITULAIRE,
    Status.MISE_A_DISPOSITION: STEP_PAIEMENT,
    Status.COMPLETEE: STEP_PAIEMENT,
    Status.SERVICE_FAIT: STEP_PAIEMENT,
    Status.MANDATEE: STEP_PAIEMENT,
    Status.A_RECYCLER: EMITTER,
    Status.SUSPENDUE: EMITTER,
    Status.TRANSMISE_CONTRACTANT: STEP_CONTRACTOR,
    Status.ACCEPTEE_CONTRACTANT: STEP_CONTRACTOR,
    **{s: SYSTEM for s in AUTOMATIC_ACTIONS},
    **{s: None for s in FINAL_STATUSES},
}


# ---------------------------------------------------------------------------------------------------------------------
# Values returned and raised

@dataclass(frozen=True)
class Transition:
    """One accepted change, ready to be recorded as an event. `to_status == from_status` for an acknowledgement."""

    from_status: Status
    to_status: Status
    action: str
    actor_step: str
    reason: str | None = None
    comment: str | None = None
    amount: Decimal | None = None
    paid_on: date | None = None


class TransitionRefused(Exception):
    """An action the table (or its inputs) does not allow. `str(exc)` and `message_fr` are French sentences for the
    user; `field` names the form field at fault ("reason", "amount", "paid_on", "comment") or None."""

    def __init__(self, message_fr: str, *, code: str = "not_allowed", field: str | None = None) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.code = code
        self.field = field


class ReplayError(ValueError):
    """A recorded history that the table does not allow; `index` is the first bad event."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"event {index}: {message}")
        self.index = index


# ---------------------------------------------------------------------------------------------------------------------
# Routes

def check_route(route_steps: Sequence[str]) -> tuple[str, ...]:
    """The route as a tuple, or ValueError when it is not a shape the chain graph produces: a private route is the
    single step "contractor"; otherwise the steps come in the order validation_1, validation_2, moe, moa, paiement,
    each at most once, validation_2 only after validation_1, ending with moa or paiement. A bad route is a
    programming error, not a user's."""
    steps = tuple(route_steps)
    if not steps:
        raise ValueError("a route has at least one step")
    unknown = [s for s in steps if s not in ROUTE_STEPS]
    if unknown:
        raise ValueError(f"unknown route steps {unknown}")
    if STEP_CONTRACTOR in steps and steps != (STEP_CONTRACTOR,):
        raise ValueError("a private route is the single step 'contractor'")
    if len(set(steps)) != len(steps):
        raise ValueError(f"a step appears twice in {steps}")
    if list(steps) != sorted(steps, key=ROUTE_STEPS.index):
        raise ValueError(f"steps out of order in {steps}")
    if STEP_VALIDATION_2 in steps and STEP_VALIDATION_1 not in steps:
        raise ValueError("validation_2 needs validation_1")
    if steps[-1] not in _LAST_STEPS:
        raise ValueError(f"a route cannot end with {steps[-1]!r}")
    return steps


def first_status(route_steps: Sequence[str]) -> Status:
    """The status a piece takes when it is sent (`deposit`): that of the route's first step."""
    return ENTRY_STATUS[check_route(route_steps)[0]]


def next_status_after(route_steps: Sequence[str], current_step: str) -> Status:
    """The status after `current_step` is done: after validation_1 comes validation_2 if the route has it, else the
    MOE's A_ASSOCIER_MOE if it has "moe", else the MOA's, else DEPOSEE for the paying office; after the MOA on a
    route without payment comes the titulaire's signature of the décompte général."""
    steps = check_route(route_steps)
    if current_step not in steps:
        raise ValueError(f"{current_step!r} is not a step of the route {steps}")
    index = steps.index(current_step)
    if index + 1 < len(steps):
        return ENTRY_STATUS[steps[index + 1]]
    if current_step in END_OF_ROUTE_STATUS:
        return END_OF_ROUTE_STATUS[current_step]
    raise ValueError(f"nothing follows {current_step!r}: its own statuses end the route")


def is_works_route(route_steps: Sequence[str], cadre: str | None = None) -> bool:
    """A works piece: its route goes through the MOE or the MOA, or its cadre is a works cadre. Such a piece is
    never refused for an amount disagreement."""
    steps = check_route(route_steps)
    if STEP_MOE in steps or STEP_MOA in steps:
        return True
    return cadre is not None and cadre in CADRES and CADRES[cadre].kind == "travaux"


def _resolve(target: Target, steps: tuple[str, ...]) -> Status:
    if isinstance(target, Status):
        return target
    if isinstance(target, Next):
        return next_status_after(steps, target.after)
    return ENTRY_STATUS[steps[0]]


def _row_on_route(row: Row, steps: tuple[str, ...], cadre: str | None) -> bool:
    if row.actor_step not in OFF_ROUTE_ACTORS and row.actor_step not in steps:
        return False
    if isinstance(row.to, Next) and row.to.after not in steps:
        return False
    if cadre in row.except_cadres:
        return False
    return row.cadres is None or cadre in row.cadres


@dataclass(frozen=True)
class RouteRow:
    """A row resolved for one route: its target is a plain status."""

    from_status: Status
    action: str
    actor_step: str
    to_status: Status


@lru_cache(maxsize=256)
def _route_table(steps: tuple[str, ...], cadre: str | None) -> tuple[RouteRow, ...]:
    """The rows that can fire on this route: those whose actor and guard fit, and whose from_status is reachable
    from BROUILLON through such rows."""
    if cadre is not None and cadre not in CADRES:
        raise ValueError(f"unknown cadre {cadre!r}")
    candidates = [
        RouteRow(row.from_status, row.action, row.actor_step, _resolve(row.to, steps))
        for row in TRANSITIONS
        if _row_on_route(row, steps, cadre)
    ]
    reachable = {INITIAL_STATUS}
    frontier = [INITIAL_STATUS]
    while frontier:
        status = frontier.pop()
        for row in candidates:
            if row.from_status == status and row.to_status not in reachable:
                reachable.add(row.to_status)
                frontier.append(row.to_status)
    return tuple(row for row in candidates if row.from_status in reachable)


def rows_for_route(route_steps: Sequence[str], *, cadre: str | None = None) -> tuple[RouteRow, ...]:
    """Every row that can fire on a piece of this route (and cadre), targets resolved."""
    return _route_table(check_route(route_steps), cadre)


def reachable_statuses(route_steps: Sequence[str], *, cadre: str | None = None) -> frozenset[Status]:
    """The statuses a piece of this route can ever be in."""
    table = rows_for_route(route_steps, cadre=cadre)
    return frozenset({INITIAL_STATUS, *(r.to_status for r in table)})


# ---------------------------------------------------------------------------------------------------------------------
# Queries

def allowed_actions(
    status: str, route_steps: Sequence[str], actor_step: str, *, cadre: str | None = None
) -> list[str]:
    """The actions this actor may take on a piece in `status`, in table order (buttons to show)."""
    current = as_status(status)
    seen: list[str] = []
    for row in rows_for_route(route_steps, cadre=cadre):
        if row.from_status == current and row.actor_step == actor_step and row.action not in seen:
            seen.append(row.action)
    return seen


def current_step(status: str) -> str | None:
    """Who is expected to act in this status, whatever the route: a route step, "emitter", "titulaire", "system"
    (the platform moves it on) or None (final)."""
    return WAITING_ON[as_status(status)]


def waiting_on(status: str, route_steps: Sequence[str], *, cadre: str | None = None) -> tuple[str, ...]:
    """Everyone who may move the piece on now (dashboards: "waiting for you"), the main one first. The platform
    and mere acknowledgements are left out: a final piece waits on nobody."""
    current = as_status(status)
    actors: list[str] = []
    for row in rows_for_route(route_steps, cadre=cadre):
        if row.from_status == current and row.to_status != current and row.actor_step != SYSTEM:
            if row.actor_step not in actors:
                actors.append(row.actor_step)
    main = WAITING_ON[current]
    if main in actors:
        actors.remove(main)
        actors.insert(0, main)
    return tuple(actors)


def automatic_action(status: str) -> str | None:
    """The action the platform applies at once to this status (a transit status), or None."""
    return AUTOMATIC_ACTIONS.get(as_status(status))


# ---------------------------------------------------------------------------------------------------------------------
# Applying an action

def apply(
    status: str,
    action: str,
    actor_step: str,
    route_steps: Sequence[str],
    *,
    reason: str | None = None,
    amount: Decimal | None = None,
    paid_on: date | None = None,
    comment: str | None = None,
    cadre: str | None = None,
) -> Transition:
    """The transition `actor_step` makes by taking `action` on a piece in `status`, or TransitionRefused (French)
    when the table does not allow it or an input is missing or wrong:
    - reason: required for refuse / moa_refuse / reject / refuse_dg (a code of REFUSAL_REASONS; "autre" needs a
      comment; "montant" is refused on a works piece), recycle (a code of RECYCLE_REASONS), suspend and
      sign_dg_with_reservations (free text); optional for wrong_validator and the system's actions; refused
      elsewhere.
    - amount: a positive Decimal with at most 2 decimals, required for validate_partially and mark_paid, optional
      for issue_etat_acompte (the admitted amount), refused elsewhere; paid_on: required for mark_paid.
    Pure: the caller records the returned Transition as an event (and then `settle`s transit statuses)."""
    current = as_status(status)
    steps = check_route(route_steps)
    row = _find_row(current, action, actor_step, steps, cadre)
    reason = _check_reason(action, actor_step, steps, cadre, reason, comment)
    amount = _check_amount(action, amount)
    _check_paid_on(action, paid_on)
    comment = (comment.strip() or None) if comment is not None else None
    return Transition(current, row.to_status, action, actor_step, reason, comment, amount, paid_on)


def _find_row(current: Status, action: str, actor_step: str, steps: tuple[str, ...], cadre: str | None) -> RouteRow:
    if action not in ACTION_LABELS or action == Action.CREATE:
        raise TransitionRefused(f"Action inconnue : « {action} ».", code="unknown_action")
    if actor_step not in ACTORS:
        raise TransitionRefused(f"Intervenant inconnu : « {actor_step} ».", code="unknown_actor")
    table = _route_table(steps, cadre)
    for row in table:
        if row.from_status == current and row.action == action and row.actor_step == actor_step:
            return row
    status_label = STATUS_INFO[current].label
    action_label = ACTION_LABELS[action]
    if current not in {r.from_status for r in table} | {r.to_status for r in table} | {INITIAL_STATUS}:
        raise TransitionRefused(
            f"Le statut « {status_label} » n'existe pas sur le circuit de cette pièce.", code="status_off_route"
        )
    others = [r.actor_step for r in table if r.from_status == current and r.action == action]
    if others:
        who = " ou ".join(dict.fromkeys(_to(ACTOR_LABELS[a]) for a in others))
        raise TransitionRefused(
            f"Action « {action_label} » réservée {who} pour une pièce au statut « {status_label} ».",
            code="wrong_actor",
        )
    if current in FINAL_STATUSES:
        raise TransitionRefused(
            f"Cette pièce est au statut « {status_label} » : son traitement est terminé, l'action "
            f"« {action_label} » n'est plus possible.",
            code="final",
        )
    raise TransitionRefused(
        f"Action « {action_label} » impossible pour une pièce au statut « {status_label} » : elle a peut-être déjà "
        "été traitée. Rechargez la page.",
        code="not_allowed",
    )


def _to(actor_label: str) -> str:
    """"à" + an actor's label, contracted: "au maître d'œuvre", "à l'émetteur", "à la plateforme"."""
    return "au " + actor_label[3:] if actor_label.startswith("le ") else "à " + actor_label


def _check_reason(
    action: str, actor_step: str, steps: tuple[str, ...], cadre: str | None, reason: str | None,
    comment: str | None,
) -> str | None:
    policy = REASON_POLICY.get(action)
    text = reason.strip() if isinstance(reason, str) else reason
    if text is not None and not isinstance(text, str):
        raise TransitionRefused("Le motif doit être un texte.", code="reason_invalid", field="reason")
    if not text:
        text = None
    if policy is None:
        if text is not None:
            raise TransitionRefused(
                f"Aucun motif n'est attendu pour l'action « {ACTION_LABELS[action]} ».",
                code="unexpected_input", field="reason",
            )
        return None
    if policy == "optional":
        return _short(text)
    if text is None:
        raise TransitionRefused(_REASON_MISSING[policy], code="reason_required", field="reason")
    if policy == "text":
        return _short(text)
    if policy == "recycle":
        if text not in RECYCLE_REASONS:
            raise TransitionRefused(
                "Choisissez le champ d'acheminement erroné : SIRET du destinataire, code service ou engagement "
                "juridique.", code="reason_invalid", field="reason",
            )
        return text
    # policy == "refusal"
    if text not in REFUSAL_REASONS:
        raise TransitionRefused("Choisissez un motif de refus dans la liste.", code="reason_invalid", field="reason")
    if REFUSAL_REASONS[text].amount and is_works_route(steps, cadre):
        advice = _AMOUNT_ON_WORKS_ADVICE.get(actor_step, "seuls le maître d'œuvre et le titulaire ajustent les "
                                                         "montants")
        raise TransitionRefused(
            "Une pièce de travaux ne peut pas être refusée pour un désaccord sur le montant (règle en vigueur "
            f"depuis le 19 février 2025) : {advice}.",
            code="amount_refusal_on_works", field="reason",
        )
    if text == REASON_NEEDING_COMMENT and not (comment or "").strip():
        raise TransitionRefused("Précisez le motif du refus en commentaire.", code="comment_required",
                                field="comment")
    return text


_REASON_MISSING = {
    "refusal": "Indiquez le motif du refus.",
    "recycle": "Indiquez le champ d'acheminement à corriger (SIRET, code service ou engagement juridique).",
    "text": "Indiquez le motif.",
}


def _short(text: str | None) -> str | None:
    if text is not None and len(text) > REASON_MAX_LENGTH:
        raise TransitionRefused(
            f"Le motif est trop long ({len(text)} caractères, {REASON_MAX_LENGTH} au plus).",
            code="reason_invalid", field="reason",
        )
    return text


def _check_amount(action: str, amount: Any) -> Decimal | None:
    policy = AMOUNT_POLICY.get(action)
    if amount is None:
        if policy == "required":
            message = ("Indiquez le montant accepté." if action == Action.VALIDATE_PARTIALLY
                       else "Indiquez le montant payé.")
            raise TransitionRefused(message, code="amount_required", field="amount")
        return None
    if policy is None:
        raise TransitionRefused(
            f"Aucun montant n'est attendu pour l'action « {ACTION_LABELS[action]} ».",
            code="unexpected_input", field="amount",
        )
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TransitionRefused("Le montant n'est pas un nombre valide.", code="amount_invalid", field="amount")
    if amount <= 0:
        raise TransitionRefused("Le montant doit être supérieur à zéro.", code="amount_invalid", field="amount")
    if amount > AMOUNT_MAX:
        raise TransitionRefused("Le montant est trop élevé.", code="amount_invalid", field="amount")
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise TransitionRefused("Un montant a au plus deux décimales (les centimes).", code="amount_invalid",
                                field="amount")
    return amount.quantize(Decimal("0.01"))


def _check_paid_on(action: str, paid_on: Any) -> None:
    if paid_on is None:
        if action in PAID_ON_REQUIRED:
            raise TransitionRefused("Indiquez la date de paiement.", code="date_required", field="paid_on")
        return
    if action not in PAID_ON_REQUIRED:
        raise TransitionRefused(
            f"Aucune date de paiement n'est attendue pour l'action « {ACTION_LABELS[action]} ».",
            code="unexpected_input", field="paid_on",
        )
    if not isinstance(paid_on, date):
        raise TransitionRefused("La date de paiement n'est pas une date valide.", code="date_invalid",
                                field="paid_on")


def settle(status: str, route_steps: Sequence[str], *, cadre: str | None = None) -> list[Transition]:
    """The automatic moves the platform makes from a transit status until the piece rests (e.g. VALIDEE_1 → DEPOSEE
    → MISE_A_DISPOSITION). Each is a system Transition to record as its own event. Empty for a resting status."""
    transitions: list[Transition] = []
    current = as_status(status)
    while (action := AUTOMATIC_ACTIONS.get(current)) is not None:
        transition = apply(current, action, SYSTEM, route_steps, cadre=cadre)
        transitions.append(transition)
        current = transition.to_status
    return transitions


def perform(
    status: str,
    action: str,
    actor_step: str,
    route_steps: Sequence[str],
    **inputs: Any,
) -> list[Transition]:
    """`apply` then `settle`: every transition one user action causes, in order (the operations layer records one
    event per transition). Takes the same keyword inputs as `apply` (reason, amount, paid_on, comment, cadre)."""
    first = apply(status, action, actor_step, route_steps, **inputs)
    return [first, *settle(first.to_status, route_steps, cadre=inputs.get("cadre"))]


def replay(
    events: Iterable[Any], route_steps: Sequence[str], *, cadre: str | None = None
) -> Status:
    """The status a recorded history leads to, checking that every event is a row of the table for this route.

    `events` are (action, actor_step, to_status) triples, or objects with those attributes (a Transition, an event
    row). The first may be the draft's creation ("create", "emitter", "BROUILLON"); the history starts from
    BROUILLON either way. Raises ReplayError at the first event the table does not allow, or whose recorded
    to_status differs from the table's: the audit uses it to prove the status column tells the truth."""
    steps = check_route(route_steps)
    table = _route_table(steps, cadre)
    status = INITIAL_STATUS
    for index, event in enumerate(events):
        action, actor, to_status = _event_fields(event)
        if action == Action.CREATE:
            if index != 0 or to_status != INITIAL_STATUS:
                raise ReplayError(index, "creation must be the first event and lead to BROUILLON")
            continue
        matches = [r for r in table if r.from_status == status and r.action == action and r.actor_step == actor]
        if not matches:
            raise ReplayError(index, f"{action!r} by {actor!r} is not allowed from {status}")
        expected = matches[0].to_status
        if to_status != expected:
            raise ReplayError(index, f"{action!r} from {status} leads to {expected}, not {to_status}")
        status = expected
    return status


def _event_fields(event: Any) -> tuple[str, str, str]:
    if hasattr(event, "action"):
        return event.action, event.actor_step, getattr(event, "to_status")
    action, actor, to_status = event
    return action, actor, to_status
