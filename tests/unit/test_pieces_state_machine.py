"""A hypothesis state machine over the transition table.

Each run picks a route the chain graph produces (and sometimes a cadre, for the end-of-contract rows), then drives
random actions by random actors with random inputs — half of them blind (any action, any actor: mostly refused), half
guided (an action `allowed_actions` offers, with valid inputs, so runs reach deep into the route) — plus the
platform's automatic moves. It checks that:
- apply() only ever accepts a row of the table (read straight from `TRANSITIONS`, independently of the per-route
  cache), with the target the route gives it;
- a refused action changes nothing, and is refused for a reason: no row, or a missing or wrong input;
- a final status accepts nothing but its acknowledgement rows;
- the status is always one the route can reach, and replay(events) gives back the current status;
- allowed_actions and apply agree: every offered action goes through with valid inputs.
"""

from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from chorus_chain.domain import transitions as T
from chorus_chain.domain.statuses import FINAL_STATUSES, TRANSIT_STATUSES, Status
from chorus_chain.domain.transitions import (
    ACTORS,
    ALL_ACTIONS,
    EMITTER,
    OFF_ROUTE_ACTORS,
    REFUSAL_REASONS,
    SYSTEM,
    Action,
    Next,
    TransitionRefused,
    allowed_actions,
    apply,
    replay,
)

# The routes the chain graph produces (chain.ROUTE_RULES with validators expanded), with the cadres that matter.
ROUTES = [
    (("paiement",), None),
    (("paiement",), "A19"),
    (("validation_1", "paiement"), None),
    (("validation_1", "validation_2", "paiement"), None),
    (("validation_1", "moe", "moa", "paiement"), None),
    (("validation_1", "validation_2", "moe", "moa", "paiement"), None),
    (("moe", "moa", "paiement"), None),
    (("moe", "moa", "paiement"), "A7"),
    (("moa", "paiement"), None),
    (("moa",), "A17"),
    (("moa",), "A22"),
    (("moa",), "A24"),
    (("contractor",), None),
]

REASONS = st.one_of(
    st.none(),
    st.sampled_from(sorted(REFUSAL_REASONS)),
    st.sampled_from(sorted(T.RECYCLE_REASONS)),
    st.sampled_from(["", "   ", "Pièce justificative manquante", "x" * 1001]),
)
AMOUNTS = st.one_of(
    st.none(),
    st.decimals(min_value=Decimal("-10"), max_value=Decimal("100000"), places=2, allow_nan=False),
    st.sampled_from([Decimal("0.001"), Decimal("NaN"), Decimal("1E+13"), 12.5]),
)
PAID_ON = st.one_of(st.none(), st.just(date(2026, 6, 30)), st.just("2026-06-30"))
COMMENTS = st.one_of(st.none(), st.just("Précision"))


def valid_inputs(action: str, route, cadre) -> dict:
    """Inputs that satisfy an action's policy (a reason allowed on this route, an amount, a date)."""
    inputs: dict = {}
    policy = T.REASON_POLICY.get(action)
    if policy == "refusal":
        inputs["reason"] = "non_conforme"
    elif policy == "recycle":
        inputs["reason"] = "engagement_juridique"
    elif policy == "text":
        inputs["reason"] = "Motif"
    if T.AMOUNT_POLICY.get(action) == "required":
        inputs["amount"] = Decimal("100.00")
    if action in T.PAID_ON_REQUIRED:
        inputs["paid_on"] = date(2026, 6, 30)
    return inputs


def inputs_are_valid(action, route, cadre, reason, amount, paid_on, comment) -> bool:
    """An independent statement of the input rules (not apply's code)."""
    policy = T.REASON_POLICY.get(action)
    text = reason.strip() if isinstance(reason, str) else reason
    text = text or None
    if text is not None and len(text) > T.REASON_MAX_LENGTH:
        return False
    if policy is None and text is not None:
        return False
    if policy in ("refusal", "recycle", "text") and text is None:
        return False
    if policy == "recycle" and text not in T.RECYCLE_REASONS:
        return False
    if policy == "refusal":
        if text not in REFUSAL_REASONS:
            return False
        if text == "montant" and T.is_works_route(route, cadre):
            return False
        if text == "autre" and not comment:
            return False
    amount_policy = T.AMOUNT_POLICY.get(action)
    if amount is None:
        if amount_policy == "required":
            return False
    else:
        if amount_policy is None or not isinstance(amount, Decimal) or not amount.is_finite():
            return False
        if amount <= 0 or amount > T.AMOUNT_MAX or amount != amount.quantize(Decimal("0.01")):
            return False
    if paid_on is None:
        return action not in T.PAID_ON_REQUIRED
    return action in T.PAID_ON_REQUIRED and isinstance(paid_on, date)


def table_targets(status, action, actor, route, cadre) -> set:
    """The targets the raw table gives (status, action, actor) on this route, ignoring reachability."""
    targets = set()
    for row in T.TRANSITIONS:
        if (row.from_status, row.action, row.actor_step) != (status, action, actor):
            continue
        if actor not in OFF_ROUTE_ACTORS and actor not in route:
            continue
        if row.cadres is not None and cadre not in row.cadres:
            continue
        if isinstance(row.to, Status):
            targets.add(row.to)
        elif isinstance(row.to, Next):
            if row.to.after in route:
                targets.add(T.next_status_after(route, row.to.after))
        else:
            targets.add(T.first_status(route))
    return targets


class PieceMachine(RuleBasedStateMachine):
    @initialize(choice=st.sampled_from(ROUTES))
    def start(self, choice):
        self.route, self.cadre = choice
        self.status = Status.BROUILLON
        self.events = [(Action.CREATE, EMITTER, Status.BROUILLON)]
        self.reachable = T.reachable_statuses(self.route, cadre=self.cadre)

    def _accepted(self, transition, action, actor):
        assert transition.from_status == self.status
        assert transition.action == action and transition.actor_step == actor
        assert transition.to_status in table_targets(self.status, action, actor, self.route, self.cadre)
        self.events.append((action, actor, transition.to_status))
        self.status = transition.to_status

    @rule(action=st.sampled_from(ALL_ACTIONS), actor=st.sampled_from(ACTORS), reason=REASONS, amount=AMOUNTS,
          paid_on=PAID_ON, comment=COMMENTS)
    def blind(self, action, actor, reason, amount, paid_on, comment):
        """Any action by any actor with any inputs: mostly refused."""
        self._try(action, actor, reason, amount, paid_on, comment)

    def _try(self, action, actor, reason=None, amount=None, paid_on=None, comment=None):
        """Apply, then check the answer against the raw table and the input rules."""
        before = self.status
        try:
            transition = apply(self.status, action, actor, self.route, reason=reason, amount=amount,
                               paid_on=paid_on, comment=comment, cadre=self.cadre)
        except TransitionRefused as refused:
            assert self.status == before
            assert refused.message_fr
            row_exists = bool(table_targets(self.status, action, actor, self.route, self.cadre))
            assert not row_exists or not inputs_are_valid(
                action, self.route, self.cadre, reason, amount, paid_on, comment), (action, actor, refused.code)
        else:
            assert inputs_are_valid(action, self.route, self.cadre, reason, amount, paid_on, comment)
            self._accepted(transition, action, actor)

    def _offers(self):
        return [(actor, action) for actor in ACTORS
                for action in allowed_actions(self.status, self.route, actor, cadre=self.cadre)]

    @rule(data=st.data(), reason=REASONS, amount=AMOUNTS, paid_on=PAID_ON, comment=COMMENTS)
    def offered_action_with_random_inputs(self, data, reason, amount, paid_on, comment):
        """An action someone may take now, with random inputs: accepted exactly when the inputs are valid."""
        offers = self._offers()
        if not offers:
            return
        actor, action = data.draw(st.sampled_from(offers))
        self._try(action, actor, reason, amount, paid_on, comment)

    @rule(data=st.data(), actor=st.sampled_from(ACTORS))
    def offered_action_by_anyone(self, data, actor):
        """An action someone may take now, tried by a random actor with valid inputs: accepted exactly when the
        table has the row for that actor."""
        offers = self._offers()
        if not offers:
            return
        _, action = data.draw(st.sampled_from(offers))
        self._try(action, actor, **valid_inputs(action, self.route, self.cadre))

    @rule(data=st.data())
    def guided(self, data):
        offers = self._offers()
        if not offers:
            return
        actor, action = data.draw(st.sampled_from(offers))
        transition = apply(self.status, action, actor, self.route, cadre=self.cadre,
                           **valid_inputs(action, self.route, self.cadre))
        self._accepted(transition, action, actor)

    @rule()
    def platform_moves_on(self):
        for transition in T.settle(self.status, self.route, cadre=self.cadre):
            self._accepted(transition, transition.action, SYSTEM)
        assert self.status not in TRANSIT_STATUSES

    @invariant()
    def status_is_reachable_and_replayable(self):
        assert self.status in self.reachable
        assert replay(self.events, self.route, cadre=self.cadre) == self.status

    @invariant()
    def final_statuses_only_take_acknowledgements(self):
        if self.status in FINAL_STATUSES:
            for actor in ACTORS:
                for action in allowed_actions(self.status, self.route, actor, cadre=self.cadre):
                    assert (action, actor) == ("acknowledge_rejection", EMITTER)
                    assert table_targets(self.status, action, actor, self.route, self.cadre) == {self.status}
            assert T.waiting_on(self.status, self.route, cadre=self.cadre) == ()

    @invariant()
    def someone_can_move_a_live_piece(self):
        if self.status not in FINAL_STATUSES:
            movers = [actor for actor in ACTORS
                      if any(action != "acknowledge_rejection"
                             for action in allowed_actions(self.status, self.route, actor, cadre=self.cadre))]
            assert movers, self.status


PieceMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestPieceStateMachine = PieceMachine.TestCase
