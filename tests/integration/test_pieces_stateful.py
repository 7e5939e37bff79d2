"""A hypothesis state machine at the operations level, on the real database: random actions by every structure of
the chain (half guided by `allowed_actions_for`, with valid inputs; half blind), and time passing (the deadline
sweep). After every step: a refused action changed nothing; replaying the piece's events through the transition
table gives its status; the status is one its route can reach; every open clock is one that runs in that status;
`flask audit verify` finds the chains whole; at the end of each run, the dashboards' read model equals its
recompute from the pieces (`flask board recompute --check`). (The pure layer has its own machine: tests/unit.)"""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.models import Deadline, PieceEvent
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from tests.integration.pieces_world import NOW, PDF, acting, assert_board_exact, count, deposit, piece, rows, world

DEPOSITS = [("st1", "A10"), ("st_co", "A10"), ("mandataire", "A4"), ("st2", None), ("moe", "A17"),
            ("cotraitant", "A13")]
ACTORS = ["moa", "moe", "mandataire", "cotraitant", "st1", "sibling", "st_co", "st2"]


def _inputs(choice: ops.ActionChoice, piece_row, now) -> dict:
    """Valid inputs for an offered action."""
    inputs: dict = {}
    if choice.reason in ("refusal", "recycle"):
        inputs["reason"] = choice.reasons[0][0]
    elif choice.reason == "text":
        inputs["reason"] = "Pièce justificative manquante"
    if choice.amount == "required":
        # 1,00: never above what is due, even after a partial validation at 1,00 (a payment of 10,00 then was
        # rightly refused, and the machine failed on its own input).
        inputs["amount"] = "1,00"
    if choice.paid_on:
        inputs["paid_on"] = now.date().isoformat()  # the action's own day: never before the deposit (refused)
    if choice.files == "required":
        stamp = now.strftime("%Y%m%d%H%M")  # a new name (and content) each time
        inputs["files"] = [ops.UploadedFile(f"complement-{stamp}.pdf", PDF + stamp.encode())]
    if choice.changes:
        inputs["changes"] = {"service_code": "TECH" if piece_row.service_code == "FIN" else "FIN"}
    return inputs


def test_random_actions_by_every_structure_keep_the_piece_consistent(app, db):
    from chorus_chain.extensions import db as database
    from chorus_chain.operations.audit import verify_pieces

    # The chain is built once, and each example starts from it inside a savepoint of the test's connection, rolled
    # back at its end: every example sees the chain as built and nothing of another's (when each built its own, the
    # worlds piled up and every sweep and every teardown's recompute read all of them).
    chain = world(app)
    with app.app_context():
        connection = database.session().bind  # the test's connection (conftest `db`): every session's savepoints

    class PieceMachine(RuleBasedStateMachine):
        @initialize(which=st.sampled_from(DEPOSITS))
        def deposit_a_piece(self, which):
            self.example = connection.begin_nested()
            self.w = chain
            who, cadre = which
            self.now = NOW
            self.piece_id = deposit(app, self.w, getattr(self.w, who), cadre, "F-1", ht="1000.00")
            self.cadre = cadre

        def _state(self):
            return piece(app, self.piece_id).status, count(app, PieceEvent, PieceEvent.piece_id == self.piece_id)

        @rule(first=st.integers(0, len(ACTORS) - 1), pick=st.integers(0, 10))
        def guided_action(self, first, pick):
            """The first structure (from a random one on) that is offered an action takes one of them."""
            choices, who, row = [], None, None
            for actor in ACTORS[first:] + ACTORS[:first]:
                who = getattr(self.w, actor)
                with acting(app, who) as (_, structure):
                    found = ops.piece_for(structure, self.piece_id)
                    choices = ops.allowed_actions_for(found, structure) if found is not None else []
                if choices:
                    row = piece(app, self.piece_id)
                    break
            if not choices:
                return
            choice = choices[0] if pick < 7 else choices[pick % len(choices)]  # mostly the way forward
            self.now += timedelta(hours=1)
            before = self._state()
            with acting(app, who) as (account, structure):
                try:
                    ops.act(self.piece_id, account, structure, choice.action, expected_status=before[0],
                            now=self.now, **_inputs(choice, row, self.now))
                    accepted = True
                except OperationError as error:
                    # An offered action with valid inputs goes through, but for the pre-flight of a resend or a
                    # redirect, which re-check the routing.
                    assert choice.action in ("resend", "redirect_validator"), (choice.action, error.message)
                    accepted = False
            after = self._state()
            assert after[1] > before[1] if accepted else after == before  # every change is an event

        @rule(actor=st.sampled_from(ACTORS), action=st.sampled_from(T.ALL_ACTIONS))
        def blind_action(self, actor, action):
            who = getattr(self.w, actor)
            before = self._state()
            with acting(app, who) as (account, structure):
                try:
                    ops.act(self.piece_id, account, structure, action, expected_status=before[0],
                            now=self.now + timedelta(minutes=1))
                    accepted = True
                except OperationError:
                    accepted = False
            if not accepted:
                assert self._state() == before  # a refusal changes nothing

        @rule(days=st.sampled_from([1, 8, 16, 31]))
        def time_passes(self, days):
            from chorus_chain.extensions import db as database
            from chorus_chain.operations.deadlines import remind, sweep

            self.now += timedelta(days=days)
            with app.test_request_context():
                sweep(self.now)
                remind(self.now)
                database.session.commit()

        @invariant()
        def history_gives_the_status(self):
            if not hasattr(self, "piece_id"):
                return
            row = piece(app, self.piece_id)
            events = rows(app, PieceEvent, PieceEvent.piece_id == self.piece_id, order_by=PieceEvent.seq)
            assert T.replay(events, row.route_steps, cadre=row.cadre) == row.status
            assert row.status in T.reachable_statuses(row.route_steps, cadre=row.cadre)
            assert row.head_hash == events[-1].hash

        @invariant()
        def open_clocks_run_in_the_status(self):
            if not hasattr(self, "piece_id"):
                return
            row = piece(app, self.piece_id)
            for deadline in rows(app, Deadline, Deadline.piece_id == self.piece_id, Deadline.done_at.is_(None)):
                running = clocks.running_in(deadline.kind, row.route_steps, cadre=row.cadre)
                if running:  # (contest_moe_corrections is opened by the operations, whatever the status)
                    assert row.status in {s.value for s in running}, (deadline.kind, row.status)

        def teardown(self):
            if not hasattr(self, "example"):
                return
            try:
                # The dashboards' read model followed every step, the sweep's included (issue 20).
                assert_board_exact(app)
                with app.test_request_context():
                    assert verify_pieces().ok  # `flask audit verify`: the hash chains are whole
            finally:
                self.example.rollback()  # back to the chain as built, for the next example

    PieceMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=25, deadline=None,
                                              suppress_health_check=list(HealthCheck))
    run_state_machine_as_test(PieceMachine, settings=PieceMachine.TestCase.settings)
