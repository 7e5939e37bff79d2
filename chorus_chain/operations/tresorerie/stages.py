"""The stages a piece's money goes through before it is paid, and the legal figure each stage defaults to.

A works projet de décompte (A4, A10, A13, A7, A14) passes its validators (a sous-traitant's or a co-traitant's
contractor), the maître d'œuvre (taken and carried into an état d'acompte), the maître d'ouvrage (the état
validated) and the paying office (service fait, mandat, payment). An invoice (A1, A9, A12) goes from its validators
to the paying office. A private invoice (a rang 2 to its rang 1) goes to the contractor that pays it.

Each stage is entered on an event of the piece (its `to_status`) and left on another (its `action`): the history of
events measures how long each counterpart took (`habits`), and a piece's status says which stage its money is in now.

Legal defaults (CHORUS.md §5): 15 days for a validator; the marché's `moe_days` for the maître d'œuvre; the délai
global de paiement runs from the maître d'œuvre's receipt (works) or the paying office's (an invoice) to the
payment, so the maître d'ouvrage and the paying office share what the maître d'œuvre leaves of it. How they share it
is not written anywhere: we give the maître d'ouvrage 7 days [assumed] and the paying office the rest, so that with
no history at all the forecast is the legal date. A private invoice: 30 days from its date (C. com. L. 441-10).
Pure.
"""
from __future__ import annotations

from dataclasses import dataclass

from chorus_chain.domain import commercial_terms as commercial
from chorus_chain.domain.statuses import Status
from chorus_chain.domain.transitions import Action

VALIDATION_1 = "validation_1"
VALIDATION_2 = "validation_2"
MOE = "moe"
MOA = "moa"
PAIEMENT = "paiement"
CONTRACTOR = "contractor"
ORDER = (VALIDATION_1, VALIDATION_2, MOE, MOA, PAIEMENT, CONTRACTOR)

# Who acts on each stage, as the page names it (« le maître d'œuvre met habituellement 6 jours »).
WHO = {
    VALIDATION_1: "le donneur d'ordre",
    VALIDATION_2: "le mandataire",
    MOE: "le maître d'œuvre",
    MOA: "le maître d'ouvrage",
    PAIEMENT: "le comptable",
    CONTRACTOR: "l'entreprise donneuse d'ordre",
}
WHAT = {
    VALIDATION_1: "valider",
    VALIDATION_2: "valider",
    MOE: "émettre l'état d'acompte",
    MOA: "valider l'état d'acompte",
    PAIEMENT: "payer",
    CONTRACTOR: "payer",
}

MOA_SHARE_DAYS = 7  # [assumed] the maître d'ouvrage's share of the délai global de paiement
VALIDATION_DAYS = 15  # [sure] a validator's silence for 15 days is an acceptance

S = Status
# The event (its to_status) that starts each stage.
ENTRY: dict[str, frozenset[str]] = {
    VALIDATION_1: frozenset({S.A_VALIDER_1.value}),
    VALIDATION_2: frozenset({S.A_VALIDER_2.value}),
    MOE: frozenset({S.A_ASSOCIER_MOE.value}),
    MOA: frozenset({S.A_ASSOCIER_MOA.value}),
    PAIEMENT: frozenset({S.DEPOSEE.value, S.MISE_A_DISPOSITION.value}),
    CONTRACTOR: frozenset({S.TRANSMISE_CONTRACTANT.value}),
}
# The action that ends it (a refusal or a return ends nothing: the money did not move on).
EXIT: dict[str, frozenset[str]] = {
    VALIDATION_1: frozenset({Action.VALIDATE, Action.VALIDATE_PARTIALLY, Action.TACIT_VALIDATION}),
    VALIDATION_2: frozenset({Action.VALIDATE, Action.VALIDATE_PARTIALLY, Action.TACIT_VALIDATION}),
    MOE: frozenset({Action.ISSUE_ETAT_ACOMPTE, Action.REFER_TO_MOA}),
    MOA: frozenset({Action.MOA_VALIDATE}),
    PAIEMENT: frozenset({Action.MARK_PAID}),
    CONTRACTOR: frozenset({Action.MARK_PAID}),
}
# The status a piece in flight is in → the stage its money waits on.
STAGE_OF_STATUS: dict[str, str] = {
    S.A_VALIDER_1.value: VALIDATION_1,
    S.A_VALIDER_2.value: VALIDATION_2,
    S.A_ASSOCIER_MOE.value: MOE,
    S.PRISE_EN_COMPTE_MOE.value: MOE,
    S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE.value: MOE,
    S.A_ASSOCIER_MOA.value: MOA,
    S.PRISE_EN_COMPTE_MOA.value: MOA,
    S.DEPOSEE.value: PAIEMENT,
    S.MISE_A_DISPOSITION.value: PAIEMENT,
    S.SUSPENDUE.value: PAIEMENT,
    S.COMPLETEE.value: PAIEMENT,
    S.SERVICE_FAIT.value: PAIEMENT,
    S.MANDATEE.value: PAIEMENT,
    S.TRANSMISE_CONTRACTANT.value: CONTRACTOR,
    S.ACCEPTEE_CONTRACTANT.value: CONTRACTOR,
}
IN_FLIGHT = frozenset(STAGE_OF_STATUS)
# The route step whose structure acts on each stage.
STEP_OF_STAGE = {VALIDATION_1: "validation_1", VALIDATION_2: "validation_2", MOE: "moe", MOA: "moa",
                 PAIEMENT: "paiement", CONTRACTOR: "contractor"}


@dataclass(frozen=True)
class Terms:
    """The marché's figures the legal defaults need."""

    dgp_days: int = 30
    moe_days: int = 7
    # A private invoice: the days its emitter agreed with its contractor (L. 441-10), the legal 30 by default.
    contractor_days: int = commercial.DEFAULT_DAYS


def legal_days(stage: str, terms: Terms, *, works: bool) -> int:
    """How long the law (or its share of the délai global de paiement) gives a stage."""
    if stage in (VALIDATION_1, VALIDATION_2):
        return VALIDATION_DAYS
    if stage == MOE:
        return terms.moe_days
    if stage == MOA:
        return MOA_SHARE_DAYS
    if stage == PAIEMENT:
        return max(terms.dgp_days - terms.moe_days - MOA_SHARE_DAYS, 1) if works else terms.dgp_days
    return terms.contractor_days


def stages_ahead(route_steps: tuple[str, ...], current: str) -> tuple[str, ...]:
    """The stages from `current` (included) to the payment, in the order of the route."""
    present = [stage for stage in ORDER if STEP_OF_STAGE[stage] in route_steps]
    if current not in present:
        return (current,)
    return tuple(present[present.index(current):])
