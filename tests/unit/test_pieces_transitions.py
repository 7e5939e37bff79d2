"""Example tests of the transition table: every route kind, every return branch, refusals, partial acceptance, the
works-amount rule, tacit validation, end of contract, and the table's own consistency."""

from datetime import date
from decimal import Decimal

import pytest

from chorus_chain.domain import transitions as T
from chorus_chain.domain.cadres import CADRES
from chorus_chain.domain.statuses import (
    ALL_STATUSES,
    FINAL_STATUSES,
    STATUS_INFO,
    TRANSIT_STATUSES,
    Status,
    is_final,
    label,
)
from chorus_chain.domain.transitions import (
    ACTORS,
    EMITTER,
    SYSTEM,
    TITULAIRE,
    Action,
    ReplayError,
    TransitionRefused,
    allowed_actions,
    apply,
    current_step,
    next_status_after,
    perform,
    replay,
    waiting_on,
)

S = Status
A1 = ("paiement",)
A9 = ("validation_1", "paiement")
A9_OF_COTRAITANT = ("validation_1", "validation_2", "paiement")
A10_OF_COTRAITANT = ("validation_1", "validation_2", "moe", "moa", "paiement")
A10 = ("validation_1", "moe", "moa", "paiement")
A4 = ("moe", "moa", "paiement")
A15 = ("moa", "paiement")
END_AT_MOA = ("moa",)  # A17, A22, A24
PRIVATE = ("contractor",)
ALL_ROUTES = (A1, A9, A9_OF_COTRAITANT, A10_OF_COTRAITANT, A10, A4, A15, END_AT_MOA, PRIVATE)
PAID = {"amount": Decimal("1200.00"), "paid_on": date(2026, 3, 31)}


class Piece:
    """A piece walking its route: each `do` performs an action (with the platform's automatic moves) and records
    the events, so that every walk also checks `replay`."""

    def __init__(self, route, cadre=None):
        self.route = route
        self.cadre = cadre
        self.status = S.BROUILLON
        self.events = [(Action.CREATE, EMITTER, S.BROUILLON)]
        self.transitions = []

    def do(self, action, actor, **inputs):
        done = perform(self.status, action, actor, self.route, cadre=self.cadre, **inputs)
        self.transitions += done
        self.events += [(t.action, t.actor_step, t.to_status) for t in done]
        self.status = done[-1].to_status
        assert replay(self.events, self.route, cadre=self.cadre) == self.status
        return done

    def refused(self, action, actor, **inputs):
        with pytest.raises(TransitionRefused) as caught:
            apply(self.status, action, actor, self.route, cadre=self.cadre, **inputs)
        return caught.value

    def pay(self):
        self.do("mark_service_fait", "paiement")
        self.do("mark_mandatee", "paiement")
        self.do("mark_paid", "paiement", **PAID)


# ---------------------------------------------------------------------------------------------------------------------
# Routes


def test_a1_goes_straight_to_the_paying_office_and_is_paid():
    piece = Piece(A1)
    done = piece.do("deposit", EMITTER)
    assert [t.to_status for t in done] == [S.DEPOSEE, S.MISE_A_DISPOSITION]
    assert [t.actor_step for t in done] == [EMITTER, SYSTEM]
    piece.pay()
    assert piece.status == S.MISE_EN_PAIEMENT and is_final(piece.status)
    assert piece.transitions[-1].amount == Decimal("1200.00")
    assert piece.transitions[-1].paid_on == date(2026, 3, 31)
    assert waiting_on(piece.status, A1) == ()


def test_a9_is_validated_by_the_contractor_then_paid():
    piece = Piece(A9)
    piece.do("deposit", EMITTER)
    assert piece.status == S.A_VALIDER_1
    assert waiting_on(piece.status, A9) == ("validation_1",)
    done = piece.do("validate", "validation_1")
    assert [t.to_status for t in done] == [S.VALIDEE_1, S.DEPOSEE, S.MISE_A_DISPOSITION]
    piece.pay()
    assert piece.status == S.MISE_EN_PAIEMENT


def test_a9_of_a_cotraitant_sous_traitant_has_two_validators():
    piece = Piece(A9_OF_COTRAITANT)
    piece.do("deposit", EMITTER)
    piece.do("validate", "validation_1")
    assert piece.status == S.A_VALIDER_2
    piece.do("validate", "validation_2")
    assert piece.status == S.MISE_A_DISPOSITION


def test_a10_of_a_cotraitant_sous_traitant_walks_the_whole_works_route():
    piece = Piece(A10_OF_COTRAITANT)
    piece.do("deposit", EMITTER)
    piece.do("validate", "validation_1")
    assert piece.status == S.A_VALIDER_2
    done = piece.do("validate_partially", "validation_2", amount=Decimal("8000.00"), reason="Métré")
    assert done[0].to_status == S.VALIDEE_2 and done[0].amount == Decimal("8000.00")
    assert piece.status == S.A_ASSOCIER_MOE
    piece.do("take", "moe")
    assert piece.status == S.PRISE_EN_COMPTE_MOE
    piece.do("issue_etat_acompte", "moe", amount=Decimal("7500.00"))
    assert piece.status == S.A_ASSOCIER_MOA
    piece.do("moa_take", "moa")
    piece.do("moa_validate", "moa")
    assert piece.status == S.MISE_A_DISPOSITION
    piece.pay()
    assert [e[2] for e in piece.events] == [
        S.BROUILLON, S.A_VALIDER_1, S.VALIDEE_1, S.A_VALIDER_2, S.VALIDEE_2, S.A_ASSOCIER_MOE,
        S.PRISE_EN_COMPTE_MOE, S.A_ASSOCIER_MOA, S.PRISE_EN_COMPTE_MOA, S.DEPOSEE, S.MISE_A_DISPOSITION,
        S.SERVICE_FAIT, S.MANDATEE, S.MISE_EN_PAIEMENT,
    ]


def test_a4_goes_moe_then_moa_then_paying_office():
    piece = Piece(A4, cadre="A4")
    piece.do("deposit", EMITTER)
    assert piece.status == S.A_ASSOCIER_MOE
    assert allowed_actions(piece.status, A4, "moe") == ["take", "refuse"]
    assert allowed_actions(piece.status, A4, EMITTER) == []
    piece.do("take", "moe")
    piece.do("issue_etat_acompte", "moe")
    piece.do("moa_take", "moa")
    piece.do("moa_validate", "moa")
    piece.pay()
    assert piece.status == S.MISE_EN_PAIEMENT


def test_private_rang_2_invoice_to_its_contractor():
    piece = Piece(PRIVATE)
    piece.do("deposit", EMITTER)
    assert piece.status == S.TRANSMISE_CONTRACTANT
    assert current_step(piece.status) == "contractor"
    assert allowed_actions(piece.status, PRIVATE, "contractor") == ["validate", "validate_partially", "refuse"]
    piece.do("validate_partially", "contractor", amount=Decimal("900.00"), reason="Métré")
    assert piece.status == S.ACCEPTEE_CONTRACTANT
    piece.refused("mark_paid", "contractor", amount=Decimal("900.00"))  # the date is missing
    piece.do("mark_paid", "contractor", amount=Decimal("900.00"), paid_on=date(2026, 4, 30))
    assert piece.status == S.PAYEE_CONTRACTANT and is_final(piece.status)
    assert not STATUS_INFO[S.PAYEE_CONTRACTANT].chorus


def test_private_invoice_may_be_refused_for_its_amount():
    """The works-amount rule concerns Chorus works pieces (MOE/MOA route), not a private invoice."""
    piece = Piece(PRIVATE)
    piece.do("deposit", EMITTER)
    piece.do("refuse", "contractor", reason="montant")
    assert piece.status == S.REFUSEE_CONTRACTANT


# ---------------------------------------------------------------------------------------------------------------------
# Return branches


def test_recycle_then_resend_under_the_same_number():
    piece = Piece(A9)
    piece.do("deposit", EMITTER)
    piece.do("validate", "validation_1")
    assert piece.refused("recycle", "paiement").field == "reason"
    assert piece.refused("recycle", "paiement", reason="adresse").code == "reason_invalid"
    piece.do("recycle", "paiement", reason="code_service")
    assert piece.status == S.A_RECYCLER
    assert waiting_on(piece.status, A9) == (EMITTER,)
    done = piece.do("resend", EMITTER)
    assert [t.to_status for t in done] == [S.DEPOSEE, S.MISE_A_DISPOSITION]  # validators are not asked again
    piece.pay()


def test_suspend_then_complete_then_processing_resumes():
    piece = Piece(A1)
    piece.do("deposit", EMITTER)
    assert piece.refused("suspend", "paiement").code == "reason_required"
    assert piece.refused("suspend", "paiement", reason="   ").code == "reason_required"
    piece.do("suspend", "paiement", reason="Attestation d'assurance manquante")
    assert piece.status == S.SUSPENDUE
    assert piece.refused("complete", "paiement").code == "wrong_actor"
    piece.do("complete", EMITTER, comment="Attestation jointe")
    assert piece.status == S.COMPLETEE
    assert set(allowed_actions(S.COMPLETEE, A1, "paiement")) == {"mark_service_fait", "recycle", "suspend", "reject"}
    piece.pay()


def test_reject_is_final_then_acknowledged():
    piece = Piece(A1)
    piece.do("deposit", EMITTER)
    piece.do("reject", "paiement", reason="doublon")
    assert piece.status == S.REJETEE and is_final(piece.status)
    assert waiting_on(piece.status, A1) == ()
    for actor in ACTORS:
        expected = ["acknowledge_rejection"] if actor == EMITTER else []
        assert allowed_actions(piece.status, A1, actor) == expected
    done = piece.do("acknowledge_rejection", EMITTER)
    assert done[0].from_status == done[0].to_status == S.REJETEE
    error = piece.refused("resend", EMITTER)
    assert error.code == "final" and "terminé" in error.message_fr


def test_suspended_piece_may_be_rejected_and_recycling_stops_at_service_fait():
    piece = Piece(A1)
    piece.do("deposit", EMITTER)
    piece.do("suspend", "paiement", reason="RIB manquant")
    piece.do("reject", "paiement", reason="pieces_manquantes")
    assert piece.status == S.REJETEE
    other = Piece(A1)
    other.do("deposit", EMITTER)
    other.do("mark_service_fait", "paiement")
    assert other.refused("recycle", "paiement", reason="code_service").code == "not_allowed"
    assert other.refused("suspend", "paiement", reason="x").code == "not_allowed"


# ---------------------------------------------------------------------------------------------------------------------
# Refusals, partial acceptance, the works-amount rule


def test_refusal_needs_a_reason_from_the_list():
    piece = Piece(A9)
    piece.do("deposit", EMITTER)
    error = piece.refused("refuse", "validation_1")
    assert (error.code, error.field) == ("reason_required", "reason")
    assert error.message_fr == "Indiquez le motif du refus."
    assert piece.refused("refuse", "validation_1", reason="pas content").code == "reason_invalid"
    assert piece.refused("refuse", "validation_1", reason="autre").field == "comment"
    done = piece.do("refuse", "validation_1", reason="autre", comment="Travaux d'un autre lot")
    assert done[0].reason == "autre" and done[0].comment == "Travaux d'un autre lot"
    assert piece.status == S.REFUSEE_1 and is_final(piece.status)
    piece.do("acknowledge_rejection", EMITTER)


def test_non_works_piece_may_be_refused_for_its_amount():
    piece = Piece(A9)
    piece.do("deposit", EMITTER)
    piece.do("refuse", "validation_1", reason="montant")
    assert piece.status == S.REFUSEE_1


@pytest.mark.parametrize(
    ("route", "actions", "actor", "action", "advice"),
    [
        (A10, [], "validation_1", "refuse", "validez-la partiellement"),
        (A10_OF_COTRAITANT, [("validate", "validation_1")], "validation_2", "refuse", "validez-la partiellement"),
        (A4, [], "moe", "refuse", "corrigez les montants dans votre état d'acompte"),
        (A4, [("take", "moe")], "moe", "refuse", "30 jours pour contester"),
        (A4, [("take", "moe"), ("issue_etat_acompte", "moe")], "moa", "moa_refuse", "état d'acompte"),
        (A4, [("take", "moe"), ("issue_etat_acompte", "moe"), ("moa_take", "moa"), ("moa_validate", "moa")],
         "paiement", "reject", "validé par le maître d'ouvrage"),
    ],
)
def test_works_piece_is_never_refused_for_an_amount_disagreement(route, actions, actor, action, advice):
    piece = Piece(route)
    piece.do("deposit", EMITTER)
    for done_action, done_actor in actions:
        piece.do(done_action, done_actor)
    before = piece.status
    error = piece.refused(action, actor, reason="montant")
    assert error.code == "amount_refusal_on_works" and error.field == "reason"
    assert "désaccord sur le montant" in error.message_fr and advice in error.message_fr
    assert piece.status == before
    piece.do(action, actor, reason="non_conforme")  # any other reason is fine


def test_works_rule_also_knows_works_cadres_by_their_code():
    """A19 (validated état d'acompte) only goes to the paying office, but it is a works piece."""
    assert CADRES["A19"].kind == "travaux"
    piece = Piece(A1, cadre="A19")
    piece.do("deposit", EMITTER)
    assert piece.refused("reject", "paiement", reason="montant").code == "amount_refusal_on_works"
    assert T.is_works_route(A1, "A1") is False


def test_partial_acceptance_needs_a_valid_amount():
    piece = Piece(A9)
    piece.do("deposit", EMITTER)
    assert piece.refused("validate_partially", "validation_1", reason="Métré").code == "amount_required"
    assert piece.refused("validate_partially", "validation_1", amount=Decimal("10.005"), reason="Métré").code == "amount_invalid"
    assert piece.refused("validate_partially", "validation_1", amount=Decimal("0"), reason="Métré").code == "amount_invalid"
    assert piece.refused("validate_partially", "validation_1", amount=Decimal("-5"), reason="Métré").code == "amount_invalid"
    assert piece.refused("validate_partially", "validation_1", amount=12.5, reason="Métré").code == "amount_invalid"
    assert piece.refused("validate_partially", "validation_1", amount=Decimal("NaN"), reason="Métré").code == "amount_invalid"
    assert piece.refused("validate", "validation_1", amount=Decimal("10")).code == "unexpected_input"
    done = piece.do("validate_partially", "validation_1", amount=Decimal("10.500"), reason="Métré")
    assert done[0].amount == Decimal("10.50") and str(done[0].amount) == "10.50"


def test_inputs_an_action_does_not_take_are_refused():
    piece = Piece(A1)
    assert piece.refused("deposit", EMITTER, reason="x").code == "unexpected_input"
    assert piece.refused("deposit", EMITTER, paid_on=date(2026, 1, 1)).field == "paid_on"
    piece.do("deposit", EMITTER, comment="  ")
    assert piece.transitions[0].comment is None


# ---------------------------------------------------------------------------------------------------------------------
# Validation circuit: tacit validation, wrong validator


def test_tacit_validation_by_the_system_moves_the_piece_on():
    piece = Piece(A10_OF_COTRAITANT)
    piece.do("deposit", EMITTER)
    assert piece.refused("tacit_validation", "validation_1").code == "wrong_actor"
    done = piece.do("tacit_validation", SYSTEM, reason="Délai de 15 jours expiré le 2026-03-16")
    assert [t.to_status for t in done] == [S.ABSENCE_VALIDATION_1_HORS_DELAI, S.A_VALIDER_2]
    assert done[0].reason.startswith("Délai")
    piece.do("tacit_validation", SYSTEM)
    assert piece.status == S.A_ASSOCIER_MOE
    assert S.ABSENCE_VALIDATION_2_HORS_DELAI in TRANSIT_STATUSES


def test_wrong_validator_then_redirect_goes_back_to_the_same_step():
    piece = Piece(A9_OF_COTRAITANT)
    piece.do("deposit", EMITTER)
    piece.do("wrong_validator", "validation_1")
    assert piece.status == S.ERREUR_FOURNISSEUR_SUR_VALIDEUR
    assert current_step(piece.status) == EMITTER
    piece.do("redirect_validator", EMITTER)
    assert piece.status == S.A_VALIDER_1
    piece.do("validate", "validation_1")
    piece.do("wrong_validator", "validation_2", reason="Nous ne sommes pas mandataire de ce groupement")
    assert piece.status == S.ERREUR_COTRAITANT_SUR_VALIDEUR
    piece.do("redirect_validator", EMITTER)
    assert piece.status == S.A_VALIDER_2


def test_validator_2_refusal_is_final():
    piece = Piece(A9_OF_COTRAITANT)
    piece.do("deposit", EMITTER)
    piece.do("validate", "validation_1")
    piece.do("refuse", "validation_2", reason="hors_perimetre")
    assert piece.status == S.REFUSEE_2 and is_final(piece.status)


# ---------------------------------------------------------------------------------------------------------------------
# Works side: MOE late, refusals


def test_moe_late_then_the_titulaire_goes_to_the_moa():
    piece = Piece(A10)
    piece.do("deposit", EMITTER)
    piece.do("validate", "validation_1")
    piece.do("take", "moe")
    piece.do("moe_late", SYSTEM)
    assert piece.status == S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE
    assert waiting_on(piece.status, A10) == ("moe", EMITTER, TITULAIRE)
    assert allowed_actions(piece.status, A10, TITULAIRE) == ["refer_to_moa"]
    piece.do("refer_to_moa", TITULAIRE)
    assert piece.status == S.A_ASSOCIER_MOA


def test_late_moe_may_still_issue_its_etat_acompte():
    piece = Piece(A4)
    piece.do("deposit", EMITTER)
    piece.do("moe_late", SYSTEM)
    piece.do("issue_etat_acompte", "moe")
    assert piece.status == S.A_ASSOCIER_MOA


def test_moe_and_moa_refusals_stop_the_circuit():
    piece = Piece(A4)
    piece.do("deposit", EMITTER)
    piece.do("refuse", "moe", reason="non_realise")
    assert piece.status == S.REFUSEE_MOE and is_final(piece.status)
    other = Piece(A15)
    other.do("deposit", EMITTER)
    assert other.refused("moa_refuse", "moa").code == "reason_required"
    other.do("moa_refuse", "moa", reason="non_conforme")
    assert other.status == S.REFUSEE_MOA


# ---------------------------------------------------------------------------------------------------------------------
# End of contract


def test_pdg_then_dg_signed_with_reservations():
    piece = Piece(END_AT_MOA, cadre="A17")
    piece.do("deposit", EMITTER)
    assert piece.status == S.A_ASSOCIER_MOA
    piece.do("moa_take", "moa")
    piece.do("moa_validate", "moa")
    assert piece.status == S.A_ASSOCIER_FOURNISSEUR
    assert current_step(piece.status) == TITULAIRE
    assert set(allowed_actions(piece.status, END_AT_MOA, TITULAIRE, cadre="A17")) == {
        "sign_dg", "sign_dg_with_reservations", "refuse_dg"}
    assert piece.refused("sign_dg_with_reservations", TITULAIRE).code == "reason_required"
    assert piece.refused("refuse_dg", TITULAIRE, reason="montant").code == "amount_refusal_on_works"
    piece.do("sign_dg_with_reservations", TITULAIRE, reason="Réserves sur la révision de prix")
    assert piece.status == S.ASSOCIEE and is_final(piece.status)


def test_dg_tacitly_accepted_when_the_titulaire_is_silent():
    piece = Piece(END_AT_MOA, cadre="A22")
    piece.do("deposit", EMITTER)
    piece.do("moa_take", "moa")
    piece.do("moa_validate", "moa")
    piece.do("tacit_dg_acceptance", SYSTEM)
    assert piece.status == S.ASSOCIEE


def test_tacit_dgd_only_on_an_a22():
    piece = Piece(END_AT_MOA, cadre="A22")
    piece.do("deposit", EMITTER)
    piece.do("tacit_dgd", SYSTEM, reason="Aucun décompte général notifié dans les 10 jours")
    assert piece.status == S.ASSOCIEE
    for cadre in ("A17", "A24", None):
        other = Piece(END_AT_MOA, cadre=cadre)
        other.do("deposit", EMITTER)
        assert other.refused("tacit_dgd", SYSTEM).code == "not_allowed"


@pytest.mark.parametrize(("route", "cadre", "before"), [
    (END_AT_MOA, "A17", []),
    (END_AT_MOA, "A17", [("moa_take", "moa")]),
    (A4, "A7", []),
    (A4, "A7", [("take", "moe"), ("moe_late", SYSTEM)]),
    (A4, "A7", [("take", "moe"), ("issue_etat_acompte", "moe")]),
])
def test_a22_replaces_a_pending_end_of_contract_piece(route, cadre, before):
    piece = Piece(route, cadre=cadre)
    piece.do("deposit", EMITTER)
    for action, actor in before:
        piece.do(action, actor)
    piece.do("replace_by_a22", TITULAIRE)
    assert piece.status == S.REMPLACEE_PAR_A22 and is_final(piece.status)


def test_a22_replacement_needs_an_end_of_contract_cadre():
    for cadre in ("A4", None):
        piece = Piece(A4, cadre=cadre)
        piece.do("deposit", EMITTER)
        assert piece.refused("replace_by_a22", TITULAIRE).code == "not_allowed"


# ---------------------------------------------------------------------------------------------------------------------
# Queries and messages


def test_next_status_after_follows_the_route():
    assert next_status_after(A9_OF_COTRAITANT, "validation_1") == S.A_VALIDER_2
    assert next_status_after(A10, "validation_1") == S.A_ASSOCIER_MOE
    assert next_status_after(A9, "validation_1") == S.DEPOSEE
    assert next_status_after(A4, "moe") == S.A_ASSOCIER_MOA
    assert next_status_after(A4, "moa") == S.DEPOSEE
    assert next_status_after(END_AT_MOA, "moa") == S.A_ASSOCIER_FOURNISSEUR
    with pytest.raises(ValueError):
        next_status_after(A9, "moe")
    with pytest.raises(ValueError):
        next_status_after(A1, "paiement")


@pytest.mark.parametrize("route", [
    (), ("validation_1",), ("paiement", "validation_1"), ("validation_2", "paiement"), ("moe",),
    ("contractor", "paiement"), ("paiement", "paiement"), ("caisse",),
])
def test_invalid_routes_are_programming_errors(route):
    with pytest.raises(ValueError):
        T.check_route(route)
    with pytest.raises(ValueError):
        apply(S.BROUILLON, "deposit", EMITTER, route)


def test_unknown_status_or_cadre_is_a_programming_error():
    with pytest.raises(ValueError):
        apply("PERDUE", "deposit", EMITTER, A1)
    with pytest.raises(ValueError):
        allowed_actions(S.BROUILLON, A1, EMITTER, cadre="A11")


def test_refusal_messages_are_french_and_precise():
    with pytest.raises(TransitionRefused) as caught:
        apply(S.A_VALIDER_1, "validate", "paiement", A9)
    assert caught.value.code == "wrong_actor"
    assert caught.value.message_fr == (
        "Action « valider » réservée au donneur d'ordre (valideur 1) pour une pièce au statut « À valider par le "
        "donneur d'ordre »."
    )
    with pytest.raises(TransitionRefused) as caught:
        apply(S.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE, "refer_to_moa", "moe", A4)
    assert "réservée à l'émetteur de la pièce ou au titulaire du marché" in caught.value.message_fr
    with pytest.raises(TransitionRefused) as caught:
        apply(S.MISE_A_DISPOSITION, "validate", "validation_1", A9)
    assert caught.value.code == "not_allowed" and "déjà été traitée" in caught.value.message_fr
    with pytest.raises(TransitionRefused) as caught:
        apply(S.A_VALIDER_2, "validate", "validation_2", A9)
    assert caught.value.code == "status_off_route"
    with pytest.raises(TransitionRefused) as caught:
        apply(S.BROUILLON, "fly", EMITTER, A1)
    assert caught.value.code == "unknown_action"
    with pytest.raises(TransitionRefused) as caught:
        apply(S.BROUILLON, "deposit", "voisin", A1)
    assert caught.value.code == "unknown_actor"
    with pytest.raises(TransitionRefused):
        apply(S.BROUILLON, "create", EMITTER, A1)


def test_actors_off_the_route_cannot_act():
    assert allowed_actions(S.A_VALIDER_1, A9, "moe") == []
    assert allowed_actions(S.MISE_A_DISPOSITION, PRIVATE, "paiement") == []
    with pytest.raises(TransitionRefused):
        apply(S.BROUILLON, "deposit", "validation_1", A9)


def test_waiting_on_and_current_step():
    assert current_step(S.BROUILLON) == EMITTER
    assert current_step(S.DEPOSEE) == SYSTEM
    assert current_step(S.MISE_EN_PAIEMENT) is None
    assert waiting_on(S.BROUILLON, A9) == (EMITTER,)
    assert waiting_on(S.MISE_A_DISPOSITION, A9) == ("paiement",)
    assert waiting_on(S.VALIDEE_1, A9) == ()  # the platform moves it on
    assert waiting_on(S.A_ASSOCIER_MOA, END_AT_MOA, cadre="A17") == ("moa", TITULAIRE)


# ---------------------------------------------------------------------------------------------------------------------
# Replay


def test_replay_rebuilds_the_status_and_catches_a_forged_history():
    events = [
        ("create", EMITTER, "BROUILLON"),
        ("deposit", EMITTER, "A_VALIDER_1"),
        ("validate", "validation_1", "VALIDEE_1"),
        ("forward", SYSTEM, "DEPOSEE"),
        ("make_available", SYSTEM, "MISE_A_DISPOSITION"),
    ]
    assert replay(events, A9) == S.MISE_A_DISPOSITION
    assert replay(events[1:], A9) == S.MISE_A_DISPOSITION
    assert replay([], A9) == S.BROUILLON
    forged_target = events[:2] + [("validate", "validation_1", "MISE_EN_PAIEMENT")]
    with pytest.raises(ReplayError) as caught:
        replay(forged_target, A9)
    assert caught.value.index == 2
    forged_actor = events[:2] + [("validate", "paiement", "VALIDEE_1")]
    with pytest.raises(ReplayError) as caught:
        replay(forged_actor, A9)
    assert caught.value.index == 2
    skipped = [events[0], events[2]]
    with pytest.raises(ReplayError):
        replay(skipped, A9)
    with pytest.raises(ReplayError):
        replay([events[1], events[0]], A9)  # creation must come first
    with pytest.raises(ReplayError):
        replay(events, A1)  # not this route's history


# ---------------------------------------------------------------------------------------------------------------------
# The table itself


GRAPH_ROUTES = [
    *[(route, None) for route in ALL_ROUTES],
    (A4, "A7"), (END_AT_MOA, "A17"), (END_AT_MOA, "A22"), (END_AT_MOA, "A24"), (A1, "A19"),
]


def test_every_status_is_reachable_on_some_route_and_every_row_fires_somewhere():
    reached = set()
    fired = set()
    for route, cadre in GRAPH_ROUTES:
        reached |= T.reachable_statuses(route, cadre=cadre)
        fired |= {(r.from_status, r.action, r.actor_step) for r in T.rows_for_route(route, cadre=cadre)}
    assert reached == set(Status)
    assert fired == {(r.from_status, r.action, r.actor_step) for r in T.TRANSITIONS}


def test_the_table_is_deterministic_on_every_route():
    for route, cadre in GRAPH_ROUTES:
        keys = [(r.from_status, r.action, r.actor_step) for r in T.rows_for_route(route, cadre=cadre)]
        assert len(keys) == len(set(keys)), route


def test_final_statuses_accept_only_acknowledgements():
    for row in T.TRANSITIONS:
        if row.from_status in FINAL_STATUSES:
            assert row.action == "acknowledge_rejection" and row.keeps_status and row.actor_step == EMITTER
    for status in (S.MISE_EN_PAIEMENT, S.PAYEE_CONTRACTANT, S.ASSOCIEE, S.REMPLACEE_PAR_A22):
        assert not [r for r in T.TRANSITIONS if r.from_status == status]


def test_every_transit_status_has_its_automatic_action_and_nothing_rests_there():
    assert set(T.AUTOMATIC_ACTIONS) == set(TRANSIT_STATUSES)
    for status, action in T.AUTOMATIC_ACTIONS.items():
        rows = [r for r in T.TRANSITIONS if r.from_status == status]
        assert rows and all(r.action == action and r.actor_step == SYSTEM for r in rows)


def test_statuses_labels_and_vocabulary_are_complete():
    assert ALL_STATUSES == tuple(s.value for s in Status)
    assert len(ALL_STATUSES) == len(set(ALL_STATUSES))
    assert set(STATUS_INFO) == set(Status) == set(T.WAITING_ON)
    assert all(label(s) and STATUS_INFO[s].explanation for s in Status)
    assert {s for s in Status if not STATUS_INFO[s].chorus} == {
        S.TRANSMISE_CONTRACTANT, S.ACCEPTEE_CONTRACTANT, S.REFUSEE_CONTRACTANT, S.PAYEE_CONTRACTANT}
    assert {r.action for r in T.TRANSITIONS} == set(T.ALL_ACTIONS)
    assert {r.actor_step for r in T.TRANSITIONS} == set(ACTORS)
    assert set(T.ACTOR_LABELS) == set(ACTORS)


def test_route_steps_are_the_graph_s():
    from chorus_chain.graph.chain import ROUTE_RULES, STEP_CONTRACTOR, STEP_MOA, STEP_MOE, STEP_PAIEMENT, VALIDATORS

    assert {STEP_MOE, STEP_MOA, STEP_PAIEMENT, STEP_CONTRACTOR} <= set(T.ROUTE_STEPS)
    for stages in ROUTE_RULES.values():
        for validators in ((), ("validation_1",), ("validation_1", "validation_2")):
            steps = []
            for stage in stages:
                steps.extend(validators if stage == VALIDATORS else (stage,))
            if VALIDATORS in stages and not validators:
                continue
            T.check_route(steps)
    T.check_route([STEP_CONTRACTOR])


def test_deadline_expiries_are_system_rows_of_the_table():
    from chorus_chain.domain.deadlines import DEADLINES, SUBJECT_PIECE

    system_actions = {r.action for r in T.TRANSITIONS if r.actor_step == SYSTEM}
    for spec in DEADLINES.values():
        if spec.subject == SUBJECT_PIECE and spec.expiry_action is not None:
            assert spec.expiry_action in system_actions, spec.kind
