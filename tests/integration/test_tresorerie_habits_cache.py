"""The payment habits kept a short while per structure (issue 20, `tresorerie.habits_cache`): learnt once within the
TTL, learnt again after it, and never handed to another structure."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chorus_chain.operations.marches import today as paris_day
from chorus_chain.operations.tresorerie import habits_cache, reading
from tests.integration.pieces_world import act, acting, deposit, later, world
from tests.integration.test_tresorerie import _forecast, _paid_invoice


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def kept(app, monkeypatch):
    """The app with a habits cache on a clock the test moves, and a count of the habits read from the events."""
    clock = Clock()
    cache = habits_cache.HabitsCache(600, clock=clock)
    reads = []
    original = reading._history_read

    def counted(structure_id, today):
        reads.append(structure_id)
        return original(structure_id, today)

    monkeypatch.setattr(reading, "_history_read", counted)
    habits_cache.install(app, cache)
    try:
        yield clock, cache, reads
    finally:
        habits_cache.install(app, None)


def _waiting_world(app):
    w = world(app, kind="services")
    for k in range(3):  # the paying office paid st1's invoices 40 days after receiving them
        _paid_invoice(app, w, w.st1, f"F-{k}", start=k)
    waiting = deposit(app, w, w.st1, "A9", "F-9", now=later(10))
    act(app, w.mandataire, waiting, "validate", now=later(12))
    return w, waiting


def test_the_habits_are_learnt_once_within_the_ttl_and_again_after_it(app, db, kept):
    clock, cache, reads = kept
    w, waiting = _waiting_world(app)
    on = paris_day(later(20))
    first = _forecast(app, w.st1, on)
    [flow] = first.flows
    assert flow.expected == paris_day(later(12)) + timedelta(days=40)
    with acting(app, w.st1) as (_, structure):
        assert cache.get((structure.id, on)) is not None
        st1_id = structure.id
    assert reads == [st1_id]
    # A fourth invoice paid after 100 days: within the TTL the kept habits stand, and nothing is read again.
    _paid_invoice(app, w, w.st1, "F-4", start=3, paying=100)
    clock.now += 599
    [again] = _forecast(app, w.st1, on).flows
    assert reads == [st1_id]
    assert again.expected == flow.expected and again.explanation == flow.explanation
    assert again.amount == flow.amount and again.interest == flow.interest  # the engine's figures, read fresh
    # Another day is another key: learnt for that day.
    _forecast(app, w.st1, on + timedelta(days=1))
    assert reads == [st1_id, st1_id]
    # After the TTL: learnt again, the fourth invoice counts (median of 4 pieces).
    clock.now += 2
    [after] = _forecast(app, w.st1, on).flows
    assert reads == [st1_id, st1_id, st1_id]
    assert "médiane de 4 pièces" in after.explanation


def test_the_day_a_piece_entered_its_stage_is_read_fresh_on_a_kept_habit(app, db, kept):
    clock, cache, reads = kept
    w, waiting = _waiting_world(app)
    on = paris_day(later(20))
    _forecast(app, w.st1, on)
    # The waiting piece moves on after the habits were kept: its stage and the day it entered it are read fresh —
    # the page says what it says without the cache.
    act(app, w.moa, waiting, "mark_service_fait", now=later(15))
    [flow] = _forecast(app, w.st1, on).flows
    assert len(reads) == 1
    habits_cache.install(app, None)
    [fresh] = _forecast(app, w.st1, on).flows
    assert len(reads) == 2
    assert flow.expected == fresh.expected and flow.explanation == fresh.explanation


def test_a_structure_never_gets_another_structure_s_habits(app, db, kept):
    clock, cache, reads = kept
    w = world(app, kind="services")
    for k in range(3):
        _paid_invoice(app, w, w.st1, f"F-{k}", start=k)
    theirs = deposit(app, w, w.st1, "A9", "F-9", now=later(10))
    act(app, w.mandataire, theirs, "validate", now=later(12))
    mine = deposit(app, w, w.sibling, "A9", "S-1", now=later(10))
    act(app, w.mandataire, mine, "validate", now=later(12))
    on = paris_day(later(20))
    [st1_flow] = _forecast(app, w.st1, on).flows  # st1's habits kept first: 40 days at the paying office
    assert st1_flow.expected == paris_day(later(12)) + timedelta(days=40)
    [flow] = _forecast(app, w.sibling, on).flows
    # The sibling never saw st1's invoices: its own (empty) habits, learnt under its own tenant — the legal délai.
    assert flow.piece_id == mine and flow.expected == paris_day(later(12)) + timedelta(days=30)
    assert "pas encore d'historique" in flow.explanation and "Plâtrerie" not in flow.explanation
    with acting(app, w.st1) as (_, st1):
        with acting(app, w.sibling) as (_, sibling):
            assert cache.get((st1.id, on)) != cache.get((sibling.id, on))
            assert reads == [st1.id, sibling.id]
            # Asked for st1 while working for the sibling: the kept entry is neither read nor written.
            before = cache.get((st1.id, on))
            history = reading.history_for(st1.id, on, [theirs])
            assert reads == [st1.id, sibling.id, st1.id]
            assert history.habits == {} and cache.get((st1.id, on)) is before
