"""The pure rules of « Trésorerie » (issue 19): habits, the expected date and its range, the calendar, the words."""
from __future__ import annotations

from datetime import date, timedelta

from chorus_chain.operations.tresorerie import periods
from chorus_chain.operations.tresorerie import stages as st
from chorus_chain.operations.tresorerie.forecast import Expectation, Position, StageAhead, expect, naive, position_of, say
from chorus_chain.operations.tresorerie.habits import Event, Habit, Observation, learn, observe, quantile

TODAY = date(2027, 1, 4)  # a Monday


def test_quantiles_and_what_is_left_of_a_stage():
    habit = Habit((10, 20, 30, 40, 50))
    assert (habit.median, habit.low, habit.high) == (30, 20, 40)
    # 25 days gone by: only the longer past durations count (30, 40, 50 → 5, 15, 25 left).
    assert habit.beyond(25) == (15, 5, 25)
    # Later than ever: one more day at least, as much as its spread at most.
    assert habit.beyond(60) == (1, 1, 20)
    assert quantile([], 0.5) == 0


def test_learn_needs_three_past_pieces_per_counterpart_and_stage():
    observations = [Observation(7, st.PAIEMENT, d) for d in (40, 42, 38)] + [Observation(8, st.PAIEMENT, 10)] * 2
    habits = learn(observations)
    assert set(habits) == {(7, st.PAIEMENT)} and habits[(7, st.PAIEMENT)].median == 40


def test_observe_measures_each_stage_between_its_entry_and_its_exit():
    events = [Event("deposit", "A_VALIDER_1", date(2026, 3, 1), 1),
              Event("validate", "VALIDEE_1", date(2026, 3, 4), 2),
              Event("forward", "MISE_A_DISPOSITION", date(2026, 3, 4), 3),
              Event("mark_service_fait", "SERVICE_FAIT", date(2026, 3, 20), 4),
              Event("mark_paid", "MISE_EN_PAIEMENT", date(2026, 4, 10), 5)]
    found = observe(events, {"validation_1": 11, "paiement": 12})
    assert found == [Observation(11, st.VALIDATION_1, 3), Observation(12, st.PAIEMENT, 37)]
    # Replayed as on 1 April, the payment had not happened yet.
    assert observe(events, {"validation_1": 11, "paiement": 12}, before=date(2026, 4, 1)) == [
        Observation(11, st.VALIDATION_1, 3)]


def _works_position(entered: date) -> Position:
    route = [("validation_1", 1, "Durand"), ("moe", 2, "Atelier"), ("moa", 3, "Commune"), ("paiement", 3, "Commune")]
    return position_of(route, "A_VALIDER_1", entered, st.Terms(dgp_days=30, moe_days=7), works=True)


def test_without_history_the_forecast_is_the_legal_path():
    position = _works_position(TODAY)
    assert [s.stage for s in position.ahead] == [st.VALIDATION_1, st.MOE, st.MOA, st.PAIEMENT]
    assert [s.legal_days for s in position.ahead] == [15, 7, 7, 16]  # the DGP of 30 days from the MOE's receipt
    found = expect(position, {}, TODAY)
    assert found.expected == TODAY + timedelta(days=45) == naive(position, TODAY)
    assert found.low < found.expected < found.high
    assert "délai réglementaire (pas encore d'historique)" in found.explanation


def test_a_slow_maitre_d_oeuvre_and_a_fast_comptable_move_the_date():
    habits = {(2, st.MOE): Habit((12, 14, 15, 16, 20)), (3, st.PAIEMENT): Habit((5, 6, 6, 7, 9))}
    found = expect(_works_position(TODAY - timedelta(days=5)), habits, TODAY)
    # 10 days left of the validation (legal, 5 gone), 15 at the MOE, 7 at the MOA (legal), 6 at the paying office.
    assert found.expected == TODAY + timedelta(days=10 + 15 + 7 + 6)
    assert "Le donneur d'ordre (Durand) : 15 jours pour valider" in found.explanation
    assert "le maître d'œuvre (Atelier) met habituellement 15 jours pour émettre l'état d'acompte (médiane de 5 " \
           "pièces)" in found.explanation
    assert "le comptable (Commune) met habituellement 6 jours pour payer" in found.explanation


def test_the_calendar_is_13_weeks_then_months():
    found = periods.periods(date(2027, 1, 6))
    weekly = [p for p in found if p.weekly]
    assert len(weekly) == 13 and weekly[0].start == date(2027, 1, 4) and weekly[0].label == "semaine du 4 janvier"
    monthly = [p for p in found if not p.weekly]
    assert monthly[0].start == weekly[-1].end + timedelta(days=1) == date(2027, 4, 5)
    assert monthly[1].start == date(2027, 5, 1) and monthly[1].label == "mai 2027"
    assert all(a.end + timedelta(days=1) == b.start for a, b in zip(found, found[1:]))  # no day twice, none lost


def test_a_week_starting_on_the_first_says_1er():
    # French typography (issue 15): the demo seeded on 6 December 2026 read « semaine du 1 février ».
    found = periods.periods(date(2026, 12, 6))
    assert [p.label for p in found if p.start == date(2027, 2, 1)] == ["semaine du 1er février"]
    assert "semaine du 8 février" in [p.label for p in found]


def test_alerts_are_receipts_slipping_by_more_than_a_week():
    class F:
        def __init__(self, expected, legal, incoming=True):
            self.expected, self.legal_due, self.incoming = expected, legal, incoming

    late = F(date(2027, 2, 20), date(2027, 2, 10))
    assert periods.alerts([late, F(date(2027, 2, 17), date(2027, 2, 10)), F(date(2027, 3, 1), date(2027, 2, 1),
                                                                            incoming=False)], TODAY) == [late]


def test_the_words_of_the_payment_tracker():
    found = Expectation(date(2027, 1, 14), date(2027, 1, 10), date(2027, 1, 21), ())
    assert say(found, TODAY) == "attendu vers le 14 janvier, entre le 10 et le 21"
    across = Expectation(date(2027, 1, 30), date(2027, 1, 26), date(2027, 2, 8), ())
    assert say(across, TODAY) == "attendu vers le 30 janvier, entre le 26 janvier et le 8 février"
    assert say(Expectation(date(2028, 3, 1), date(2028, 3, 1), date(2028, 3, 1), ()), TODAY) == \
        "attendu vers le 1er mars 2028"


def test_stage_ahead_of_an_invoice_skips_the_works_stages():
    route = [("validation_1", 1, "Durand"), ("paiement", 3, "Commune")]
    position = position_of(route, "MANDATEE", TODAY, st.Terms(), works=False)
    assert position.ahead == (StageAhead(st.PAIEMENT, 3, "Commune", 30),)
    assert position_of(route, "MISE_EN_PAIEMENT", TODAY, st.Terms(), works=False) is None


def test_a_period_lists_its_largest_amounts_and_sums_the_others():
    from decimal import Decimal
    from types import SimpleNamespace

    flows = [SimpleNamespace(amount=Decimal(k * 100), incoming=k % 2 == 0) for k in range(1, 13)]
    shown = periods.shown_of(flows)
    assert len(shown) == periods.SHOWN_PER_PERIOD == 8
    assert [f.amount for f in shown] == [Decimal(k * 100) for k in range(5, 13)]  # the largest, in their order
    others = periods.others_of(flows)
    assert others.count == 4
    assert (others.receipts, others.payments) == (Decimal(200 + 400), Decimal(100 + 300))
    few = flows[:3]
    assert periods.shown_of(few) == few and periods.others_of(few).count == 0


def test_a_slip_is_more_than_a_week_later_than_the_reference():
    day = date(2026, 3, 2)
    assert not periods.slipped(day, day + timedelta(days=7))
    assert periods.slipped(day, day + timedelta(days=8))
    assert not periods.slipped(day, day - timedelta(days=30))
